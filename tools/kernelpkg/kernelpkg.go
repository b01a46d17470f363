// Package kernelpkg fetches the Debian kernel package the image is built
// from and unpacks it; the package is never installed on the build host.
//
// The kernel is pinned per build, not in the source: the version is
// resolved from the dependency of the linux-image-amd64 metapackage at
// build time, so the build never names a version the archive has dropped,
// and each image records the exact package it was built from.
//
//	k, err := kernelpkg.Fetch(ctx, kernelpkg.Config{CacheDir: ".cache/kernel"}, log)
//	// k.Vmlinuz(), k.ModulesDir(), k.Package, k.Version
package kernelpkg

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
)

// DefaultMeta is the Debian metapackage that names the current kernel.
const DefaultMeta = "linux-image-amd64"

// currentFile records the kernel the last Fetch settled on, so tests and
// offline builds use the same one.
const currentFile = "current.json"

// Kernel is an unpacked kernel package.
type Kernel struct {
	Package string `json:"package"` // e.g. linux-image-6.1.0-56-amd64
	Version string `json:"version"` // Debian package version, e.g. 6.1.192-2
	Release string `json:"release"` // kernel release (uname -r), e.g. 6.1.0-56-amd64
	Dir     string `json:"dir"`     // root of the unpacked package
}

// Vmlinuz is the path of the kernel image.
func (k Kernel) Vmlinuz() string {
	return filepath.Join(k.Dir, "boot", "vmlinuz-"+k.Release)
}

// ModulesDir is the path of /lib/modules/<release> in the unpacked package.
func (k Kernel) ModulesDir() string {
	return filepath.Join(k.Dir, "lib", "modules", k.Release)
}

// String names the package and version, as recorded in images.
func (k Kernel) String() string { return k.Package + " " + k.Version }

// Config says where to cache packages and which metapackage to follow.
// The zero Meta means DefaultMeta.
type Config struct {
	CacheDir string
	Meta     string
}

// Fetch resolves the kernel package, downloads it into the cache unless
// it is there already, unpacks it, and records it as the current kernel.
// If the package lists are stale (the archive dropped the version they
// name) it refreshes them once with apt-get update.
func Fetch(ctx context.Context, cfg Config, log *slog.Logger) (Kernel, error) {
	if cfg.Meta == "" {
		cfg.Meta = DefaultMeta
	}
	// Recorded paths must work from any directory (tests run in theirs).
	abs, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return Kernel{}, fmt.Errorf("kernelpkg: cache: %w", err)
	}
	cfg.CacheDir = abs
	if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("kernelpkg: cache: %w", err)
	}
	k, deb, err := download(ctx, cfg, log)
	if err != nil {
		log.Warn("kernel download failed; refreshing package lists", "err", err)
		if uerr := run(ctx, "", "apt-get", "update", "-qq"); uerr != nil {
			return Kernel{}, errors.Join(err, uerr)
		}
		if k, deb, err = download(ctx, cfg, log); err != nil {
			return Kernel{}, err
		}
	}
	if err := unpack(ctx, deb, &k); err != nil {
		return Kernel{}, err
	}
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return Kernel{}, err
	}
	if err := atomicfile.WriteFile(filepath.Join(cfg.CacheDir, currentFile), data, 0o644); err != nil {
		return Kernel{}, err
	}
	return k, nil
}

// Cached returns the kernel the last Fetch into cacheDir settled on.
func Cached(cacheDir string) (Kernel, error) {
	data, err := os.ReadFile(filepath.Join(cacheDir, currentFile))
	if err != nil {
		return Kernel{}, fmt.Errorf("kernelpkg: no fetched kernel in %s: %w", cacheDir, err)
	}
	var k Kernel
	if err := json.Unmarshal(data, &k); err != nil {
		return Kernel{}, fmt.Errorf("kernelpkg: %s: %w", filepath.Join(cacheDir, currentFile), err)
	}
	if _, err := os.Stat(k.Vmlinuz()); err != nil {
		return Kernel{}, fmt.Errorf("kernelpkg: cached kernel: %w", err)
	}
	return k, nil
}

func download(ctx context.Context, cfg Config, log *slog.Logger) (Kernel, string, error) {
	out, err := output(ctx, "apt-cache", "depends", "--no-recommends", "--no-suggests", cfg.Meta)
	if err != nil {
		return Kernel{}, "", err
	}
	pkg, err := ParseDepends(out)
	if err != nil {
		return Kernel{}, "", fmt.Errorf("kernelpkg: %s: %w", cfg.Meta, err)
	}
	out, err = output(ctx, "apt-cache", "show", "--no-all-versions", pkg)
	if err != nil {
		return Kernel{}, "", err
	}
	version, err := ParseVersion(out)
	if err != nil {
		return Kernel{}, "", fmt.Errorf("kernelpkg: %s: %w", pkg, err)
	}
	k := Kernel{Package: pkg, Version: version}
	// apt-get download escapes an epoch's colon in the file name.
	deb := filepath.Join(cfg.CacheDir, fmt.Sprintf("%s_%s_amd64.deb", pkg, strings.ReplaceAll(version, ":", "%3a")))
	if _, err := os.Stat(deb); err == nil {
		return k, deb, nil
	}
	log.Info("downloading kernel package", "package", pkg, "version", version)
	if err := run(ctx, cfg.CacheDir, "apt-get", "download", "-q", pkg+"="+version); err != nil {
		return Kernel{}, "", err
	}
	if _, err := os.Stat(deb); err != nil {
		return Kernel{}, "", fmt.Errorf("kernelpkg: apt-get download left no %s: %w", deb, err)
	}
	return k, deb, nil
}

// unpack extracts deb next to it unless an earlier run finished doing so,
// and fills in the directory and kernel release.
func unpack(ctx context.Context, deb string, k *Kernel) error {
	k.Dir = strings.TrimSuffix(deb, ".deb")
	done := filepath.Join(k.Dir, ".unpacked")
	if _, err := os.Stat(done); errors.Is(err, fs.ErrNotExist) {
		if err := os.RemoveAll(k.Dir); err != nil {
			return fmt.Errorf("kernelpkg: %w", err)
		}
		if err := run(ctx, "", "dpkg-deb", "-x", deb, k.Dir); err != nil {
			return err
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			return fmt.Errorf("kernelpkg: %w", err)
		}
	}
	releases, err := os.ReadDir(filepath.Join(k.Dir, "lib", "modules"))
	if err != nil || len(releases) != 1 {
		return fmt.Errorf("kernelpkg: %s: want one lib/modules/<release> directory: %v", deb, err)
	}
	k.Release = releases[0].Name()
	return nil
}

// ParseDepends picks the kernel image package out of `apt-cache depends`
// output for the metapackage.
func ParseDepends(out string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
		if !ok {
			continue
		}
		if strings.HasPrefix(dep, "linux-image-") && !strings.ContainsAny(dep, "<> ") {
			return dep, nil
		}
	}
	return "", errors.New("no linux-image-* dependency")
}

// ParseVersion reads the Version field of `apt-cache show` output.
func ParseVersion(out string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Version: "); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("no Version field")
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kernelpkg: %s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}

func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kernelpkg: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
