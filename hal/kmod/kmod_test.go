package kmod

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeModule writes a minimal ELF64 relocatable object whose only
// content is a .modinfo section, which is all the tree reads.
func writeModule(t *testing.T, dir, rel string, modinfo ...string) {
	t.Helper()
	info := []byte(strings.Join(modinfo, "\x00") + "\x00")
	shstrtab := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	infoOff := ehsize
	strOff := infoOff + len(info)
	shOff := (strOff + len(shstrtab) + 7) &^ 7

	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(1))  // ET_REL
	binary.Write(&b, le, uint16(62)) // EM_X86_64
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(0)) // entry
	binary.Write(&b, le, uint64(0)) // phoff
	binary.Write(&b, le, uint64(shOff))
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(0))
	binary.Write(&b, le, uint16(0))
	binary.Write(&b, le, uint16(shentsize))
	binary.Write(&b, le, uint16(3)) // null, .modinfo, .shstrtab
	binary.Write(&b, le, uint16(2)) // shstrndx
	b.Write(info)
	b.Write(shstrtab)
	b.Write(make([]byte, shOff-b.Len()))
	section := func(name, typ uint32, off, size int) {
		binary.Write(&b, le, name)
		binary.Write(&b, le, typ)
		binary.Write(&b, le, uint64(0)) // flags
		binary.Write(&b, le, uint64(0)) // addr
		binary.Write(&b, le, uint64(off))
		binary.Write(&b, le, uint64(size))
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, uint64(1))
		binary.Write(&b, le, uint64(0))
	}
	section(0, 0, 0, 0)
	section(1, 1, infoOff, len(info))     // SHT_PROGBITS
	section(10, 3, strOff, len(shstrtab)) // SHT_STRTAB
	path := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseModinfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Info
	}{
		{"plain", "license=GPL\x00depends=virtio_ring,virtio,net_failover\x00name=virtio_net\x00", Info{Name: "virtio_net", Depends: []string{"virtio_ring", "virtio", "net_failover"}}},
		{"no depends", "depends=\x00name=virtio\x00", Info{Name: "virtio"}},
		{"dashes normalised", "name=crc32c-intel\x00depends=crypto-simd\x00", Info{Name: "crc32c_intel", Depends: []string{"crypto_simd"}}},
		{"padding and junk", "\x00\x00garbage\x00name=x\x00\x00", Info{Name: "x"}},
		{"empty", "", Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseModinfo([]byte(tt.in))); diff != "" {
				t.Errorf("ParseModinfo(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("depends=a,b\x00name=c\x00"))
	f.Add([]byte("name=\x00depends=,,\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info := ParseModinfo(data)
		for _, d := range info.Depends {
			if d == "" || strings.Contains(d, "-") {
				t.Fatalf("ParseModinfo(%q).Depends has %q", data, d)
			}
		}
	})
}

func testTree(t *testing.T) *Tree {
	t.Helper()
	dir := t.TempDir()
	writeModule(t, dir, "kernel/fs/ext4/ext4.ko", "name=ext4", "depends=jbd2,mbcache,crc16")
	writeModule(t, dir, "kernel/fs/jbd2/jbd2.ko", "name=jbd2", "depends=")
	writeModule(t, dir, "kernel/fs/mbcache.ko", "name=mbcache", "depends=")
	writeModule(t, dir, "kernel/net/virtio_net.ko", "name=virtio_net", "depends=virtio_ring,virtio,net_failover")
	writeModule(t, dir, "kernel/virtio/virtio_ring.ko", "name=virtio_ring", "depends=virtio")
	writeModule(t, dir, "kernel/virtio/virtio.ko", "name=virtio", "depends=")
	writeModule(t, dir, "kernel/net/net_failover.ko", "name=net_failover", "depends=failover")
	writeModule(t, dir, "kernel/net/failover.ko", "name=failover", "depends=")
	writeModule(t, dir, "kernel/crypto/crc32c-intel.ko", "name=crc32c_intel", "depends=")
	writeModule(t, dir, "kernel/a.ko", "name=a", "depends=b")
	writeModule(t, dir, "kernel/b.ko", "name=b", "depends=a")
	writeModule(t, dir, "kernel/lost.ko", "name=lost", "depends=ghost")
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/lib/crc16.ko\nkernel/drivers/tty/serial/8250.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestClosure(t *testing.T) {
	tree := testTree(t)
	names := func(mods []Module) []string {
		var out []string
		for _, m := range mods {
			out = append(out, m.Name)
		}
		return out
	}
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{"ext4"}, []string{"jbd2", "mbcache", "ext4"}},
		{[]string{"virtio_net", "ext4"}, []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net", "jbd2", "mbcache", "ext4"}},
		{[]string{"virtio", "virtio_net", "virtio"}, []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}},
		{[]string{"crc32c-intel"}, []string{"crc32c_intel"}},
		{[]string{"8250", "crc16"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, ","), func(t *testing.T) {
			got, err := tree.Closure(tt.in)
			if err != nil {
				t.Fatalf("Closure(%q) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, names(got)); diff != "" {
				t.Errorf("Closure(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
	got, err := tree.Closure([]string{"ext4"})
	if err != nil || got[2].Path != filepath.Join("kernel", "fs", "ext4", "ext4.ko") {
		t.Errorf("Closure(ext4)[2] = %+v, %v; want path kernel/fs/ext4/ext4.ko", got, err)
	}
}

func TestClosureErrors(t *testing.T) {
	tree := testTree(t)
	tests := []struct {
		in       string
		want     string
		notFound bool
	}{
		{"nosuch", "nosuch", true},
		{"lost", "ghost (needed by lost)", true},
		{"a", "cycle", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := tree.Closure([]string{tt.in})
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrNotFound) != tt.notFound {
				t.Errorf("Closure(%q) = %v; want an error mentioning %q (ErrNotFound: %v)", tt.in, err, tt.want, tt.notFound)
			}
		})
	}
}
