//go:build !unix

package mmapfile

import (
	"errors"
	"os"
)

func mapFile(*os.File, int) ([]byte, error) {
	return nil, errors.New("memory-mapped files need a Unix system")
}

func unmap([]byte) error { return nil }

// Sequential is advice the system here does not take.
func (m *Mapping) Sequential() {}
