package tlscert

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenCreatesAndKeeps(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "multimeter-abcd")
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	leaf := s.Leaf()
	if leaf == nil || leaf.Subject.CommonName != "multimeter-abcd" {
		t.Fatalf("Leaf = %+v; want CN multimeter-abcd", leaf)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi, err)
	}
	again, err := Open(dir, "other-name")
	if err != nil {
		t.Fatalf("second Open = %v", err)
	}
	if !bytes.Equal(again.Leaf().Raw, leaf.Raw) {
		t.Error("second Open made a new certificate; want the stored one")
	}
}

func TestReplaceRejectsMismatch(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, "mm")
	if err != nil {
		t.Fatal(err)
	}
	before := s.Leaf().Raw
	c1, _, _ := SelfSigned("a", time.Now())
	_, k2, _ := SelfSigned("b", time.Now())
	if err := s.Replace(c1, k2); err == nil {
		t.Fatal("Replace(mismatched pair) = nil; want error")
	}
	if err := s.Replace([]byte("junk"), []byte("junk")); err == nil {
		t.Fatal("Replace(junk) = nil; want error")
	}
	if !bytes.Equal(s.Leaf().Raw, before) {
		t.Error("a rejected Replace changed the served certificate")
	}
	c3, k3, _ := SelfSigned("c", time.Now())
	if err := s.Replace(c3, k3); err != nil {
		t.Fatalf("Replace(valid) = %v", err)
	}
	if s.Leaf().Subject.CommonName != "c" {
		t.Errorf("after Replace CN = %q; want c", s.Leaf().Subject.CommonName)
	}
}
