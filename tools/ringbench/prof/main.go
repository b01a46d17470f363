package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/tools/ringbench"
)

func main() {
	pl, err := ringbench.Preload(os.Args[1], 2)
	if err != nil {
		panic(err)
	}
	dir := os.Args[2]
	f, _ := os.Create("/tmp/cpu.prof")
	pprof.StartCPUProfile(f)
	buf, err := ringbuf.OpenBuffer(ringbuf.BufferConfig{IO: os.Args[3], QueueBytes: 1 << 30, SegmentBytes: 512 << 20,
		Devices: []ringbuf.DeviceConfig{{Path: dir, MaxBytes: 8 << 30}}}, slog.Default())
	if err != nil {
		panic(err)
	}
	start := time.Now()
	pl.Feed(buf)
	fmt.Println("fed", time.Since(start), buf.Stats().BytesInFlight>>20, "MiB in flight")
	buf.Close()
	d := time.Since(start)
	pprof.StopCPUProfile()
	st := buf.Stats()
	fmt.Printf("%.0f MB/s written, dropped %d\n", float64(st.BytesWritten)/d.Seconds()/1e6, st.DroppedPackets)
}
