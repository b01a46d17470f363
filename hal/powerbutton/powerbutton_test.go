package powerbutton

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func event(typ, code uint16, value int32) []byte {
	b := make([]byte, eventSize)
	binary.LittleEndian.PutUint16(b[16:], typ)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	return b
}

func TestPressed(t *testing.T) {
	syn := event(0, 0, 0)
	tests := []struct {
		name string
		buf  []byte
		want bool
	}{
		{"press then syn", append(event(evKey, keyPower, 1), syn...), true},
		{"release only", append(event(evKey, keyPower, 0), syn...), false},
		{"other key", event(evKey, 28, 1), false},
		{"press after others", append(append(syn, event(evKey, 28, 1)...), event(evKey, keyPower, 1)...), true},
		{"truncated", event(evKey, keyPower, 1)[:eventSize-1], false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Pressed(tt.buf); got != tt.want {
				t.Errorf("Pressed(%x) = %v; want %v", tt.buf, got, tt.want)
			}
		})
	}
}

func FuzzPressed(f *testing.F) {
	f.Add(event(evKey, keyPower, 1))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, buf []byte) { Pressed(buf) })
}

func TestDevices(t *testing.T) {
	sys := t.TempDir()
	for ev, name := range map[string]string{"event0": "AT Translated Set 2 keyboard", "event1": "Power Button", "event3": "Power Button"} {
		dir := filepath.Join(sys, "class", "input", ev, "device")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "name"), []byte(name+"\n"), 0o644)
	}
	got, err := Devices(sys, "/dev")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/dev/input/event1", "/dev/input/event3"}, got); diff != "" {
		t.Errorf("Devices mismatch (-want +got):\n%s", diff)
	}
}
