// Package imagebuild is the image build driver: it builds the appliance's
// Go userland (our init, multimeterd and, in the debug profile, a u-root
// shell) into an initramfs with the mkuimage Go API, adds the model's
// kernel modules from the pinned Debian kernel package and a manifest,
// and wraps kernel and initramfs into slot A's unified kernel image and
// the factory disk image.
//
//	res, err := imagebuild.Build(ctx, imagebuild.Config{Profile: "debug", RepoDir: "."}, log)
//	// res.Dir = images/out/debug: vmlinuz, initramfs.cpio.zst, multimeter-a.efi, disk.img, kernel-version
//
// Go code is built with CGO_ENABLED=0; the caller sets GOAMD64=v1 in the
// environment (QEMU's default CPU has no AVX).
package imagebuild

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/mkuimage/uimage/builder"
	"github.com/u-root/uio/llog"

	"github.com/multimeter-fw/multimeter/firmware/disklayout"
	"github.com/multimeter-fw/multimeter/hal/kmod"
	"github.com/multimeter-fw/multimeter/hal/model"
	"github.com/multimeter-fw/multimeter/initramfs/manifest"
	"github.com/multimeter-fw/multimeter/services/version"
	"github.com/multimeter-fw/multimeter/tools/diskimage"
	"github.com/multimeter-fw/multimeter/tools/kernelpkg"
	"github.com/multimeter-fw/multimeter/tools/uki"
)

const module = "github.com/multimeter-fw/multimeter"

// Our commands, as package paths of this module.
const (
	initPkg   = module + "/initramfs/init"
	daemonPkg = module + "/services/multimeterd"
)

// debugCommands are the u-root commands of the debug profile, built into
// one busybox-style binary.
var debugCommands = []string{
	"gosh", "ls", "cat", "cp", "mv", "rm", "mkdir", "ln", "ps", "kill", "pidof",
	"ip", "ping", "netstat", "dmesg", "mount", "umount", "df", "free", "grep",
	"more", "tail", "hexdump", "uname", "uptime", "sync", "echo", "date", "lsmod",
	"find", "wget", "sleep", "touch", "wc",
}

// Names of the outputs in Result.Dir.
const (
	VmlinuzFile   = "vmlinuz"
	InitramfsFile = "initramfs.cpio.zst"
	UKIFile       = "multimeter-a.efi"
	DiskFile      = "disk.img"
	KernelFile    = "kernel-version"
	CmdlineFile   = "cmdline"
	ManifestFile  = "image.json"
)

// Cmdline is the kernel command line of slot A (and of the fast boot path).
const Cmdline = "console=ttyS0,115200 loglevel=4 panic=10 " + disklayout.SlotCmdlineKey + "=a"

// Config chooses what to build. Zero values mean the production profile
// of the virtual model, version "dev", outputs in RepoDir/images/out and
// the cache in RepoDir/.cache.
type Config struct {
	Profile  string
	Model    string
	Version  string
	RepoDir  string // the module root (where go.mod is)
	OutDir   string
	CacheDir string
	Stub     string // EFI stub; default uki.DefaultStub
}

func (c *Config) fillDefaults() error {
	if c.Profile == "" {
		c.Profile = manifest.ProfileProduction
	}
	if c.Profile != manifest.ProfileProduction && c.Profile != manifest.ProfileDebug {
		return fmt.Errorf("imagebuild: profile %q: want %s or %s", c.Profile, manifest.ProfileProduction, manifest.ProfileDebug)
	}
	if c.Model == "" {
		c.Model = "virtual"
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.RepoDir == "" {
		c.RepoDir = "."
	}
	abs, err := filepath.Abs(c.RepoDir)
	if err != nil {
		return fmt.Errorf("imagebuild: %w", err)
	}
	c.RepoDir = abs
	if c.OutDir == "" {
		c.OutDir = filepath.Join(c.RepoDir, "images", "out")
	}
	if c.CacheDir == "" {
		c.CacheDir = filepath.Join(c.RepoDir, ".cache")
	}
	return nil
}

// Result says where the outputs are and what went into them.
type Result struct {
	Dir           string
	Kernel        kernelpkg.Kernel
	Modules       int
	InitramfsSize int64 // compressed
	CPIOSize      int64 // uncompressed
	Took          time.Duration
}

// Path returns the path of one of the output files.
func (r Result) Path(name string) string { return filepath.Join(r.Dir, name) }

// Build builds every output of one profile.
func Build(ctx context.Context, cfg Config, log *slog.Logger) (Result, error) {
	start := time.Now()
	if err := cfg.fillDefaults(); err != nil {
		return Result{}, err
	}
	prof, err := model.Lookup(cfg.Model)
	if err != nil {
		return Result{}, err
	}
	k, err := kernelpkg.Fetch(ctx, kernelpkg.Config{CacheDir: filepath.Join(cfg.CacheDir, "kernel")}, log)
	if err != nil {
		return Result{}, err
	}
	log.Info("kernel", "package", k.Package, "version", k.Version, "release", k.Release)
	tree, err := kmod.OpenTree(k.ModulesDir())
	if err != nil {
		return Result{}, err
	}
	mods, err := tree.Closure(prof.Modules)
	if err != nil {
		return Result{}, fmt.Errorf("imagebuild: modules of model %s: %w", prof.Name, err)
	}

	res := Result{Dir: filepath.Join(cfg.OutDir, cfg.Profile), Kernel: k, Modules: len(mods)}
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("imagebuild: %w", err)
	}
	work, err := os.MkdirTemp(cfg.CacheDir, "imagebuild")
	if err != nil {
		return Result{}, fmt.Errorf("imagebuild: %w", err)
	}
	defer os.RemoveAll(work)

	m := manifest.Manifest{
		Product: version.Product,
		Version: cfg.Version,
		Profile: cfg.Profile,
		Model:   prof,
		Kernel:  manifest.Kernel{Package: k.Package, Version: k.Version, Release: k.Release},
		Daemon:  "/bin/multimeterd",
	}
	var files []string
	for _, mod := range mods {
		dst := path.Join("lib/modules", k.Release, filepath.ToSlash(mod.Path))
		files = append(files, filepath.Join(k.ModulesDir(), mod.Path)+":"+dst)
		m.Modules = append(m.Modules, "/"+dst)
	}
	if cfg.Profile == manifest.ProfileDebug {
		m.Shell = "/bbin/gosh"
	}
	if err := m.Validate(); err != nil {
		return Result{}, err
	}
	manifestJSON, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Result{}, err
	}
	manifestFile := filepath.Join(res.Dir, ManifestFile)
	if err := os.WriteFile(manifestFile, manifestJSON, 0o644); err != nil {
		return Result{}, fmt.Errorf("imagebuild: %w", err)
	}
	files = append(files, manifestFile+":"+strings.TrimPrefix(manifest.Path, "/"))

	cpio := filepath.Join(work, "initramfs.cpio")
	if err := buildInitramfs(cfg, files, cpio, work, log); err != nil {
		return Result{}, err
	}
	if res.CPIOSize, res.InitramfsSize, err = compress(cpio, res.Path(InitramfsFile)); err != nil {
		return Result{}, err
	}
	if err := copyFile(k.Vmlinuz(), res.Path(VmlinuzFile)); err != nil {
		return Result{}, err
	}
	kernelInfo := fmt.Sprintf("%s %s %s\n", k.Package, k.Version, k.Release)
	if err := os.WriteFile(res.Path(KernelFile), []byte(kernelInfo), 0o644); err != nil {
		return Result{}, fmt.Errorf("imagebuild: %w", err)
	}
	if err := os.WriteFile(res.Path(CmdlineFile), []byte(Cmdline+"\n"), 0o644); err != nil {
		return Result{}, fmt.Errorf("imagebuild: %w", err)
	}
	err = uki.Build(ctx, uki.Config{
		Stub: cfg.Stub, Kernel: res.Path(VmlinuzFile), Initrd: res.Path(InitramfsFile),
		Cmdline: Cmdline, OSRelease: osRelease(cfg), Output: res.Path(UKIFile),
	})
	if err != nil {
		return Result{}, err
	}
	if err := buildDisk(ctx, cfg, res, work); err != nil {
		return Result{}, err
	}
	res.Took = time.Since(start)
	return res, nil
}

func buildInitramfs(cfg Config, files []string, out, work string, log *slog.Logger) error {
	env := golang.Default(golang.DisableCGO(), golang.WithGOOS("linux"), golang.WithGOARCH("amd64"), golang.WithWorkingDir(cfg.RepoDir))
	ldflags := "-ldflags=-s -w -buildid= -X " + module + "/services/version.Version=" + cfg.Version
	ours := &golang.BuildOpts{ExtraArgs: []string{ldflags}}
	mods := []uimage.Modifier{
		uimage.WithReplaceEnv(env),
		uimage.WithBaseArchive(uimage.DefaultRamfs()),
		uimage.WithCommands(ours, builder.Binary, initPkg, daemonPkg),
		uimage.WithInit("init"),
		uimage.WithFiles(files...),
		uimage.WithSkipLDD(),
		uimage.WithTempDir(work),
		uimage.WithCPIOOutput(out),
	}
	if cfg.Profile == manifest.ProfileDebug {
		// gosh's plain line editor: the fancy one queries the terminal,
		// which a serial console (and a test typing into it) does not
		// answer.
		env.Apply(golang.WithBuildTag("goshsmall"))
		var pkgs []string
		for _, c := range debugCommands {
			pkgs = append(pkgs, "github.com/u-root/u-root/cmds/core/"+c)
		}
		mods = append(mods, uimage.WithBusyboxCommands(pkgs...), uimage.WithShell("gosh"))
	}
	l := llog.New(slog.LevelWarn, func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) })
	if err := uimage.Create(l, mods...); err != nil {
		return fmt.Errorf("imagebuild: initramfs: %w", err)
	}
	return nil
}

// compress writes src zstd-compressed to dst and returns both sizes.
func compress(src, dst string) (raw, packed int64, err error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, 0, fmt.Errorf("imagebuild: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return 0, 0, fmt.Errorf("imagebuild: %w", err)
	}
	defer out.Close()
	// The kernel's decompressor needs a bounded window.
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(1<<20))
	if err != nil {
		return 0, 0, fmt.Errorf("imagebuild: %w", err)
	}
	if raw, err = io.Copy(zw, in); err != nil {
		return 0, 0, fmt.Errorf("imagebuild: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return 0, 0, fmt.Errorf("imagebuild: compress: %w", err)
	}
	fi, err := out.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("imagebuild: %w", err)
	}
	return raw, fi.Size(), out.Close()
}

func osRelease(cfg Config) string {
	return fmt.Sprintf("NAME=%q\nID=multimeter\nVERSION_ID=%q\nPRETTY_NAME=%q\nVARIANT_ID=%s\n",
		version.Product, cfg.Version, fmt.Sprintf("%s %s (%s, %s)", version.Product, cfg.Version, cfg.Model, cfg.Profile), cfg.Profile)
}

// loaderConf boots the newest good slot at once; a key press during boot
// still shows the menu.
const loaderConf = "timeout 0\ndefault multimeter-*\neditor no\n"

// SystemdBoot is where Debian's systemd-boot-efi package installs the
// bootloader.
const SystemdBoot = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

func buildDisk(ctx context.Context, cfg Config, res Result, work string) error {
	conf := filepath.Join(work, "loader.conf")
	if err := os.WriteFile(conf, []byte(loaderConf), 0o644); err != nil {
		return fmt.Errorf("imagebuild: %w", err)
	}
	return diskimage.Build(ctx, diskimage.Config{
		Output: res.Path(DiskFile),
		ESP: []diskimage.File{
			{Src: SystemdBoot, Dst: "EFI/BOOT/BOOTX64.EFI"},
			{Src: SystemdBoot, Dst: "EFI/systemd/systemd-bootx64.efi"},
			{Src: conf, Dst: "loader/loader.conf"},
			{Src: res.Path(UKIFile), Dst: "EFI/Linux/" + disklayout.UKIName("a", disklayout.BootTries)},
		},
	})
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("imagebuild: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("imagebuild: %w", err)
	}
	return nil
}
