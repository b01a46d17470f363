//go:build unix

package mmapfile

import (
	"os"

	"golang.org/x/sys/unix"
)

func mapFile(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
}

func unmap(data []byte) error { return unix.Munmap(data) }

// Sequential tells the kernel the mapping is read once from start to end:
// read ahead far, drop pages behind early. It is advice only.
func (m *Mapping) Sequential() { _ = unix.Madvise(m.data, unix.MADV_SEQUENTIAL) }
