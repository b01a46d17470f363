package powerbutton

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Devices returns the event device nodes (under dev) of the input devices
// (under sys) named "Power Button".
func Devices(sys, dev string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(sys, "class", "input", "event*", "device", "name"))
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil || strings.TrimSpace(string(data)) != "Power Button" {
			continue
		}
		event := filepath.Base(filepath.Dir(filepath.Dir(n)))
		nodes = append(nodes, filepath.Join(dev, "input", event))
	}
	return nodes, nil
}

// Watch calls pressed each time a power button is pressed, until ctx is
// cancelled. It returns an error at once if there is no power button.
func Watch(ctx context.Context, sys, dev string, pressed func()) error {
	nodes, err := Devices(sys, dev)
	if err != nil {
		return fmt.Errorf("powerbutton: %w", err)
	}
	if len(nodes) == 0 {
		return errors.New("powerbutton: no power button input device")
	}
	var files []*os.File
	for _, n := range nodes {
		f, err := os.Open(n)
		if err != nil {
			return fmt.Errorf("powerbutton: %w", err)
		}
		files = append(files, f)
	}
	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64*eventSize)
			for {
				n, err := f.Read(buf)
				if err != nil {
					return
				}
				if Pressed(buf[:n]) {
					pressed()
				}
			}
		}()
	}
	<-ctx.Done()
	for _, f := range files {
		f.Close() // ends the blocked reads
	}
	wg.Wait()
	return nil
}
