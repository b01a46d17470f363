package ringbuf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

func TestValidate(t *testing.T) {
	dev := func(p string) []DeviceConfig { return []DeviceConfig{{Path: p}} }
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{"empty", Config{}, ""},
		{"single", Config{Mode: ModeSingle, Buffers: []BufferConfig{{Devices: dev("/a")}}}, ""},
		{"single two devices", Config{Mode: ModeSingle, Buffers: []BufferConfig{{Devices: []DeviceConfig{{Path: "/a"}, {Path: "/b"}}}}}, "exactly one"},
		{"cluster", Config{Mode: ModeCluster, PcapDevice: "/c", Buffers: []BufferConfig{{ID: 0, Devices: dev("/a")}, {ID: 1, Devices: dev("/b")}}}, ""},
		{"device twice", Config{Mode: ModeCluster, Buffers: []BufferConfig{{ID: 0, Devices: dev("/a")}, {ID: 1, Devices: dev("/a/")}}}, "in ring buffers 0 and 1"},
		{"id twice", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a")}, {Devices: dev("/b")}}}, "used twice"},
		{"pcap device in buffer", Config{Mode: ModeCluster, PcapDevice: "/a", Buffers: []BufferConfig{{Devices: dev("/a")}}}, "belongs to ring buffer 0"},
		{"relative path", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("a")}}}, "must be absolute"},
		{"share and bytes", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: []DeviceConfig{{Path: "/a", SharePercent: 5, MaxBytes: 9}}}}}, "not both"},
		{"share range", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: []DeviceConfig{{Path: "/a", SharePercent: 101}}}}}, "out of range"},
		{"small segments", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), SegmentBytes: 1000}}}, "segmentBytes"},
		{"small batch", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), BatchBytes: 4096}}}, "batchBytes"},
		{"small queue", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), QueueBytes: 1 << 20}}}, "queueBytes"},
		{"slow flush", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), FlushMillis: 5000}}}, "within 2 s"},
		{"io", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), IO: "mmap"}}}, "io"},
		{"mode", Config{Mode: "raid", Buffers: []BufferConfig{{Devices: dev("/a")}}}, "unknown mode"},
		{"rule action", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), Rules: []Rule{{Condition: CondAll, Action: "zip"}}}}}, "rule 1: unknown action"},
		{"rule condition", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), Rules: []Rule{{Condition: "color", Action: ActionFull}}}}}, "unknown condition"},
		{"rule ip", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), Rules: []Rule{{Condition: CondIP, Value: "10.0.0.1:80", Action: ActionFull}}}}}, "not an address or subnet"},
		{"rule snap", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), Rules: []Rule{{Condition: CondAll, Action: ActionSnap}}}}}, "length 0 out of range"},
		{"rule l7", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), Rules: []Rule{{Condition: CondL7, Value: "Nope", Action: ActionDiscard}}}}}, "unknown L7 protocol"},
		{"rule sip", Config{Mode: ModeCluster, Buffers: []BufferConfig{{Devices: dev("/a"), Rules: []Rule{{Condition: CondSIPNumber, Value: "+49 (30) 1234", Negate: true, Action: ActionL4Data, Length: 12}}}}}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v; want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestManagerApply(t *testing.T) {
	devA, devB, devC := t.TempDir(), t.TempDir(), t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "ringbuffer.json")
	m, err := OpenManager(Options{ConfigPath: cfgPath, Storage: []string{devA, devB, devC}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if c := m.Config(); c.Mode != ModeCluster || len(c.Buffers) != 1 || len(c.Buffers[0].Devices) != 3 {
		t.Fatalf("default config = %+v; want one cluster buffer over the three devices", c)
	}
	if _, err := m.PcapDir(); err == nil {
		t.Errorf("PcapDir() with no pcap device = nil error")
	}

	// Two cluster buffers, a pcap device.
	cfg := Config{Mode: ModeCluster, PcapDevice: devC, Buffers: []BufferConfig{
		small(devA), small(devB)}}
	cfg.Buffers[1].ID = 1
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	b0, _ := m.Buffer(0)
	b1, ok := m.Buffer(1)
	if !ok || len(m.Buffers()) != 2 {
		t.Fatalf("Buffers() = %d; want 2", len(m.Buffers()))
	}
	if dir, err := m.PcapDir(); err != nil || dir != filepath.Join(devC, "pcap") {
		t.Errorf("PcapDir() = %q, %v; want %s/pcap", dir, err, devC)
	}
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 12}, 2000)
	ringbuftest.Replay(m, pkts, 2)
	m.Flush()
	if s0, s1 := b0.Stats(), b1.Stats(); s0.Packets != 2000 || s1.Packets != 2000 {
		t.Errorf("each buffer records every packet: %d, %d; want 2000", s0.Packets, s1.Packets)
	}

	// A rule change applies live: same buffer, new rules.
	cfg.Buffers[1].Rules = []Rule{{Condition: CondAll, Action: ActionDiscard}}
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if b, _ := m.Buffer(1); b != b1 {
		t.Errorf("rule change reopened the buffer; want it kept")
	}
	ringbuftest.Replay(m, pkts, 2)
	m.Flush()
	if s := b1.Stats(); s.Packets != 2000 || s.IgnoredPackets != 2000 {
		t.Errorf("after discard-all rule: %d recorded, %d ignored; want 2000, 2000", s.Packets, s.IgnoredPackets)
	}

	// A layout change reopens; the segments stay.
	cfg.Buffers[0].SegmentBytes = 4 << 20
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	nb0, _ := m.Buffer(0)
	if nb0 == b0 || len(nb0.Snapshot().Segments) == 0 {
		t.Errorf("layout change: buffer kept or segments lost")
	}

	// A bad configuration changes nothing.
	bad := cfg
	bad.Buffers = append([]BufferConfig(nil), cfg.Buffers...)
	bad.Buffers[1].Devices = []DeviceConfig{{Path: "/etc"}}
	if err := m.Apply(bad); err == nil || !strings.Contains(err.Error(), "not a storage device") {
		t.Errorf("Apply(device outside storage) = %v; want an error", err)
	}
	if b, _ := m.Buffer(1); b != b1 {
		t.Errorf("failed Apply changed the buffers")
	}

	// Persisted atomically; a new manager loads it.
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var saved Config
	if err := json.Unmarshal(data, &saved); err != nil || len(saved.Buffers) != 2 || saved.Buffers[0].SegmentBytes != 4<<20 {
		t.Errorf("saved config = %s; want the applied one", data)
	}
	m.Close()
	m2, err := OpenManager(Options{ConfigPath: cfgPath, Storage: []string{devA, devB, devC}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if len(m2.Buffers()) != 2 || len(m2.Stats()) != 2 {
		t.Errorf("reopened manager has %d buffers; want 2", len(m2.Buffers()))
	}
}

func TestSingleModeShare(t *testing.T) {
	dev := t.TempDir()
	m, err := OpenManager(Options{Storage: []string{dev}}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, _ := m.Buffer(0)
	st := b.Stats()
	if st.DiskLimit <= 0 {
		t.Fatalf("DiskLimit = %d", st.DiskLimit)
	}
	dir, err := m.PcapDir()
	if err != nil || dir != filepath.Join(dev, "pcap") {
		t.Errorf("PcapDir() = %q, %v; want the device's pcap area", dir, err)
	}
}
