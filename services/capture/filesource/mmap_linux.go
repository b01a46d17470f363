package filesource

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the regular file at path into memory, read-only. Frames
// are then read where the page cache holds them: read(2) would copy every
// byte into a buffer first, which costs more than decoding the packet.
func mapFile(path string) (mem []byte, unmap func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() || st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return nil, nil, fmt.Errorf("not a regular file of a size that maps")
	}
	mem, err = unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	// Read once from start to end: read ahead far, drop behind early.
	_ = unix.Madvise(mem, unix.MADV_SEQUENTIAL)
	return mem, func() { unix.Munmap(mem) }, nil
}
