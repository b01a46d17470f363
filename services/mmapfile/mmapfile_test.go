package mmapfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestMapsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	want := bytes.Repeat([]byte("multimeter"), 1000)
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m.Sequential()
	if !bytes.Equal(m.Data(), want) {
		t.Fatalf("mapped %d bytes that differ from the file's %d", len(m.Data()), len(want))
	}
	if err := m.Close(); err != nil || m.Data() != nil {
		t.Fatalf("Close = %v, Data after it %d bytes", err, len(m.Data()))
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestRefusesWhatDoesNotMap(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]error{
		empty:                         ErrUnmappable,
		dir:                           ErrUnmappable,
		filepath.Join(dir, "missing"): os.ErrNotExist,
	} {
		if m, err := Open(path); !errors.Is(err, want) {
			t.Errorf("Open(%s) = %v, %v; want %v", path, m, err, want)
		}
	}
}
