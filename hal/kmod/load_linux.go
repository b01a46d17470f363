package kmod

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Load inserts the module file at path with the given parameters
// ("key=value key2=value2" or empty). A module that is already loaded is
// not an error.
func Load(path, params string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kmod: load %s: %w", path, err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), params, 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("kmod: load %s: %w", path, err)
	}
	return nil
}
