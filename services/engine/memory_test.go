package engine

import (
	"context"
	"reflect"
	"runtime"
	"testing"

	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// reserved is what creating an instance and starting its processing
// allocate: the tables (store and shards), not yet the queues' batches
// or history, which come as traffic does.
func reserved(t *testing.T, c Config) int64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, err := New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newPushSource(genFrames(10, trafficgen.Config{Seed: 1}), true)
	done := make(chan error)
	go func() { done <- e.Run(context.Background(), src) }()
	src.c <- span(0, 10)
	close(src.c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc - before.TotalAlloc)
}

// TestMemoryBytesBoundsTheTables keeps the sizing model honest: for
// configurations of different shapes it is at least what the tables
// take, and not so far above that it refuses what would fit.
func TestMemoryBytesBoundsTheTables(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred MiB")
	}
	small := Capacities{}.withDefaults()
	rv := reflect.ValueOf(&small).Elem()
	for i := range rv.NumField() {
		rv.Field(i).SetInt(rv.Field(i).Int() / 16)
	}
	conns := small
	conns.Connections *= 4
	flows := small
	flows.FlowsPerShard *= 4
	for name, c := range map[string]Config{
		"a sixteenth of the defaults": {Shards: 1, Capacities: small},
		"four times the connections":  {Shards: 1, Capacities: conns},
		"three shards, more flows":    {Shards: 3, Capacities: flows},
	} {
		got := reserved(t, c)
		model := c.WithDefaults().tableBytes()
		if model < got || model > got+got/3 {
			t.Errorf("%s: the model says %d MiB, creating it took %d MiB; want at least that and at most a third more",
				name, model>>20, got>>20)
		}
	}
}
