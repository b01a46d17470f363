//go:build !linux

package filesource

import "errors"

// mapFile is not available here: files are streamed.
func mapFile(string) ([]byte, func(), error) {
	return nil, nil, errors.New("memory-mapped replay needs Linux")
}
