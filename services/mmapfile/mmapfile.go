// Package mmapfile maps a whole regular file into memory, read-only, for
// readers that touch only the pages they need (a capture index) or read a
// file once without copying it into a buffer first (a replayed capture).
//
//	m, err := mmapfile.Open(path)
//	defer m.Close()
//	use(m.Data())
package mmapfile

import (
	"errors"
	"fmt"
	"os"
)

// ErrUnmappable reports a file that cannot be mapped: not a regular file,
// empty, or larger than the address space.
var ErrUnmappable = errors.New("mmapfile: not a regular file of a size that maps")

// Mapping is a file mapped into memory. Its bytes fault if the file is cut
// short while it is mapped (see runtime/debug.SetPanicOnFault).
type Mapping struct{ data []byte }

// Open maps the file at path. An error wraps the one of os.Open or Stat,
// so errors.Is(err, os.ErrNotExist) tells a missing file.
func Open(path string) (*Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return nil, fmt.Errorf("%w: %s, %d bytes", ErrUnmappable, path, st.Size())
	}
	data, err := mapFile(f, int(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("mmapfile: map %s: %w", path, err)
	}
	return &Mapping{data: data}, nil
}

// Data is the file's content; it is valid until Close.
func (m *Mapping) Data() []byte { return m.data }

// Close unmaps the file.
func (m *Mapping) Close() error {
	if m.data == nil {
		return nil
	}
	err := unmap(m.data)
	m.data = nil
	return err
}
