package dns

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file     string
		response bool
		rcode    uint8
		name     string
		addrs    []string
	}{
		{"msg1.bin", true, 0, "www.l.google.com", nil},
		{"answer.bin", true, 0, "", nil}, // name and addresses checked below
		{"nxdomain.bin", true, 3, "", nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var m Message
			if err := Parse(&m, b); err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if m.Response != tc.response || m.RCode != tc.rcode {
				t.Errorf("Parse: response %v rcode %d; want %v %d", m.Response, m.RCode, tc.response, tc.rcode)
			}
			if tc.name != "" && string(m.Name()) != tc.name {
				t.Errorf("Parse: name %q; want %q", m.Name(), tc.name)
			}
			if tc.file == "answer.bin" && (m.NAddrs == 0 || len(m.Name()) == 0) {
				t.Errorf("Parse: %d addresses for %q; want some", m.NAddrs, m.Name())
			}
		})
	}
}

func TestParseCompressionLoop(t *testing.T) {
	// A question whose name points at itself.
	b := []byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}
	var m Message
	if err := Parse(&m, b); err != ErrBadName {
		t.Errorf("Parse(self-pointing name) = %v; want ErrBadName", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.bin")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := Parse(&m, b)
		if int(m.NAddrs) > MaxAnswers {
			t.Fatalf("%d addresses", m.NAddrs)
		}
		for _, c := range m.Name() {
			if c <= ' ' || c >= 0x7f {
				t.Fatalf("unprintable name %q", m.Name())
			}
		}
		if err == nil && len(b) < headerLen {
			t.Fatal("short message accepted")
		}
	})
}
