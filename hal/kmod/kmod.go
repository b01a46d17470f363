// Package kmod reads the metadata of Linux kernel modules and resolves the
// set of modules a model needs into a load order.
//
// The Debian kernel the image uses ships its drivers as modules but the
// image carries no modules.dep, so the order is worked out at build time
// from each module's own .modinfo section (its depends= field) and loaded
// at boot in that order:
//
//	tree, err := kmod.OpenTree("/lib/modules/6.1.0-56-amd64")
//	mods, err := tree.Closure([]string{"virtio_net", "ext4"})
//	// mods lists every dependency before the modules that need it.
package kmod

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Info is what a module says about itself in its .modinfo section.
type Info struct {
	Name    string
	Depends []string // names of modules that must be loaded first
}

// Module is one module of a tree, ready to be copied and loaded.
type Module struct {
	Name    string
	Path    string // relative to the tree's directory, e.g. kernel/fs/ext4/ext4.ko
	Depends []string
}

// ErrNotFound is returned for a module name that is neither a module file
// nor built into the kernel.
var ErrNotFound = errors.New("module not found")

// Normalize returns the canonical form of a module name: the kernel treats
// '-' and '_' in module names as the same character.
func Normalize(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// ReadInfo reads the .modinfo section of the module file at path.
func ReadInfo(path string) (Info, error) {
	f, err := elf.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("kmod: open %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return Info{}, fmt.Errorf("kmod: %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return Info{}, fmt.Errorf("kmod: read .modinfo of %s: %w", path, err)
	}
	return ParseModinfo(data), nil
}

// ParseModinfo decodes a .modinfo section: NUL-separated key=value
// strings. Unknown keys are ignored.
func ParseModinfo(data []byte) Info {
	var info Info
	for _, field := range bytes.Split(data, []byte{0}) {
		key, value, ok := strings.Cut(string(field), "=")
		if !ok {
			continue
		}
		switch key {
		case "name":
			info.Name = Normalize(value)
		case "depends":
			for _, dep := range strings.Split(value, ",") {
				if dep = strings.TrimSpace(dep); dep != "" {
					info.Depends = append(info.Depends, Normalize(dep))
				}
			}
		}
	}
	return info
}

// Tree is an unpacked /lib/modules/<version> directory.
type Tree struct {
	dir     string
	paths   map[string]string // module name -> path relative to dir
	builtin map[string]bool
}

// OpenTree indexes the module files below dir by name and reads the list of
// modules built into the kernel (modules.builtin).
func OpenTree(dir string) (*Tree, error) {
	t := &Tree{dir: dir, paths: map[string]string{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".ko") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		t.paths[Normalize(strings.TrimSuffix(d.Name(), ".ko"))] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kmod: index %s: %w", dir, err)
	}
	if err := t.readBuiltin(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Tree) readBuiltin() error {
	f, err := os.Open(filepath.Join(t.dir, "modules.builtin"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kmod: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		base := filepath.Base(strings.TrimSpace(sc.Text()))
		if name, ok := strings.CutSuffix(base, ".ko"); ok {
			t.builtin[Normalize(name)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("kmod: read modules.builtin: %w", err)
	}
	return nil
}

// Dir is the directory the tree was opened from.
func (t *Tree) Dir() string { return t.dir }

// Builtin reports whether name is compiled into the kernel.
func (t *Tree) Builtin(name string) bool { return t.builtin[Normalize(name)] }

// Closure returns the modules named and everything they depend on, each
// module after all of its dependencies, each once. Names built into the
// kernel are skipped; a name that is neither a module nor built in is an
// error, as is a dependency cycle.
func (t *Tree) Closure(names []string) ([]Module, error) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []Module
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = Normalize(name)
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("kmod: dependency cycle: %s -> %s", strings.Join(chain, " -> "), name)
		}
		rel, ok := t.paths[name]
		if !ok {
			if t.builtin[name] {
				state[name] = done
				return nil
			}
			if len(chain) > 0 {
				return fmt.Errorf("kmod: %s (needed by %s): %w", name, chain[len(chain)-1], ErrNotFound)
			}
			return fmt.Errorf("kmod: %s: %w", name, ErrNotFound)
		}
		state[name] = visiting
		info, err := ReadInfo(filepath.Join(t.dir, rel))
		if err != nil {
			return err
		}
		for _, dep := range info.Depends {
			if err := visit(dep, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = done
		order = append(order, Module{Name: name, Path: rel, Depends: info.Depends})
		return nil
	}
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
