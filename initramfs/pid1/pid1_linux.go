// Package pid1 is the appliance's init: it brings the system up (pseudo
// file systems, kernel modules in dependency order, watchdog, data
// partition, management network), runs multimeterd and, in the debug
// profile, a shell on the serial console, keeping both alive, and brings
// the system down cleanly when asked.
//
// Requests to PID 1: SIGTERM, SIGPWR, SIGUSR2 and the ACPI power button
// power off; SIGINT (also Ctrl-Alt-Del) and SIGUSR1 reboot.
//
//	action := pid1.Run(pid1.Config{Console: os.Stderr})
//	pid1.Halt(action) // never returns
package pid1

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/multimeter-fw/multimeter/firmware/disklayout"
	"github.com/multimeter-fw/multimeter/hal/kmod"
	"github.com/multimeter-fw/multimeter/hal/mgmtnet"
	"github.com/multimeter-fw/multimeter/hal/powerbutton"
	"github.com/multimeter-fw/multimeter/hal/watchdog"
	"github.com/multimeter-fw/multimeter/initramfs/banner"
	"github.com/multimeter-fw/multimeter/initramfs/manifest"
	"github.com/multimeter-fw/multimeter/initramfs/mounts"
	"github.com/multimeter-fw/multimeter/initramfs/reaper"
	"github.com/multimeter-fw/multimeter/initramfs/supervise"
	"golang.org/x/sys/unix"
)

// Action is how the system ends.
type Action int

// Actions.
const (
	PowerOff Action = iota
	Reboot
)

func (a Action) String() string {
	if a == Reboot {
		return "reboot"
	}
	return "poweroff"
}

// Config says where the init finds its inputs. Zero values mean the
// paths of the image.
type Config struct {
	Manifest string   // default manifest.Path
	Cmdline  string   // default /proc/cmdline
	DataDir  string   // default disklayout.DataMountPoint
	Console  *os.File // where logs, the banner and the daemon's output go
}

func (c *Config) fillDefaults() {
	if c.Manifest == "" {
		c.Manifest = manifest.Path
	}
	if c.Cmdline == "" {
		c.Cmdline = "/proc/cmdline"
	}
	if c.DataDir == "" {
		c.DataDir = disklayout.DataMountPoint
	}
}

// system is the state of one boot.
type system struct {
	cfg      Config
	log      *slog.Logger
	manifest manifest.Manifest
	slot     string
	warnings []string

	bannerMu sync.Mutex // one banner at a time on the console
}

// Run boots the system and serves until a poweroff or reboot is
// requested; it returns the action once services are stopped and the
// data partition is unmounted.
func Run(cfg Config) Action {
	cfg.fillDefaults()
	// Seconds since the init started, rather than the wall clock (not set
	// yet early in boot): what boot timing needs.
	started := time.Now()
	log := slog.New(slog.NewTextHandler(cfg.Console, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.String("t", fmt.Sprintf("%.3f", time.Since(started).Seconds()))
			}
			return a
		},
	})).With("src", "init")
	if err := mounts.Early(); err != nil {
		log.Error("early mounts", "err", err)
	}
	// Ctrl-Alt-Del becomes SIGINT to us instead of an instant reset.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		log.Warn("ctrl-alt-del", "err", err)
	}
	requests := make(chan Action, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGPWR, unix.SIGUSR2, unix.SIGINT, unix.SIGUSR1)
	go func() {
		for s := range sigs {
			if s == unix.SIGINT || s == unix.SIGUSR1 {
				request(requests, Reboot)
			} else {
				request(requests, PowerOff)
			}
		}
	}()

	m, err := manifest.Read(cfg.Manifest)
	if err != nil {
		log.Error("no usable image manifest; rebooting in 30 s", "err", err)
		time.Sleep(30 * time.Second)
		return Reboot
	}
	s := &system{cfg: cfg, log: log, manifest: m}
	s.slot = parseCmdline(readFile(cfg.Cmdline))[disklayout.SlotCmdlineKey]
	log.Info("booting", "product", m.Product, "version", m.Version, "profile", m.Profile, "model", m.Model.Name, "slot", s.slot, "kernel", m.Kernel.Release)
	return s.run(requests)
}

func (s *system) run(requests chan Action) Action {
	s.loadModules()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	goRun := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				s.log.Error(name, "err", err)
			}
		}()
	}
	// The reaper outlives the services: stopping them needs it.
	r := reaper.New()
	go r.Run(context.Background())

	dog := s.openWatchdog()
	dogCtx, stopDog := context.WithCancel(context.Background())
	dogDone := make(chan struct{})
	go func() {
		defer close(dogDone)
		if dog != nil {
			dog.Run(dogCtx)
		}
	}()

	s.mountData()

	netReady := make(chan struct{})
	var readyOnce sync.Once
	netCfg, err := mgmtnet.Load(filepath.Join(s.cfg.DataDir, mgmtnet.FileName))
	if err != nil {
		s.warn("network configuration ignored (using DHCP): %v", err)
		netCfg = mgmtnet.Config{}
	}
	goRun("management network", func(ctx context.Context) error {
		defer readyOnce.Do(func() { close(netReady) })
		return mgmtnet.Run(ctx, mgmtnet.Options{
			Interface: s.manifest.Model.ManagementInterface,
			Config:    netCfg,
			OnChange: func(st mgmtnet.State) {
				readyOnce.Do(func() { close(netReady) })
				s.showBanner(st)
			},
		}, s.log)
	})
	goRun("power button", func(ctx context.Context) error {
		return powerbutton.Watch(ctx, "/sys", "/dev", func() {
			s.log.Info("power button pressed")
			request(requests, PowerOff)
		})
	})
	// The daemon reads the host name at start: wait until it is set.
	select {
	case <-netReady:
	case <-time.After(15 * time.Second):
	}
	goRun("multimeterd", func(ctx context.Context) error {
		return s.daemon().Run(ctx, r, s.log)
	})
	if s.manifest.Shell != "" {
		goRun("shell", func(ctx context.Context) error {
			return s.onConsole("shell", s.manifest.Shell).Run(ctx, r, s.log)
		})
	} else {
		// Without a shell the console offers to set the admin password.
		goRun("console", func(ctx context.Context) error {
			return s.onConsole("console", s.manifest.Daemon, "console", "--socket", adminSocket).Run(ctx, r, s.log)
		})
	}

	action := <-requests
	s.log.Info("shutting down", "action", action)
	cancel()
	waitTimeout(&wg, 20*time.Second)
	killAll()
	if err := mounts.Unmount(s.cfg.DataDir); err != nil {
		s.log.Error("unmount data partition", "err", err)
	}
	stopDog()
	<-dogDone
	if dog != nil {
		if err := dog.Disarm(); err != nil {
			s.log.Warn("watchdog", "err", err)
		}
	}
	return action
}

// request queues a poweroff or reboot; once one is under way further
// requests are dropped rather than blocking their sender.
func request(requests chan<- Action, a Action) {
	select {
	case requests <- a:
	default:
	}
}

func (s *system) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.log.Warn(msg)
	s.warnings = append(s.warnings, msg)
}

func (s *system) loadModules() {
	start := time.Now()
	failed := 0
	for _, path := range s.manifest.Modules {
		if err := kmod.Load(path, ""); err != nil {
			// A driver whose hardware is absent may refuse to load;
			// the boot goes on without it.
			s.log.Warn("module", "err", err)
			failed++
		}
	}
	s.log.Info("modules loaded", "count", len(s.manifest.Modules)-failed, "failed", failed, "took", time.Since(start).Round(time.Millisecond))
}

func (s *system) openWatchdog() *watchdog.Feeder {
	path := s.manifest.Model.Watchdog
	if path == "" {
		return nil
	}
	// The device node appears when the driver has probed the hardware.
	for range 20 {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	dog, err := watchdog.Open(watchdog.Config{Path: path}, s.log)
	if err != nil {
		s.warn("no hardware watchdog: %v", err)
		return nil
	}
	s.log.Info("watchdog armed", "dev", path)
	return dog
}

func (s *system) mountData() {
	dev, err := mounts.FindPartition(context.Background(), disklayout.DataLabel, disklayout.DataType, 10*time.Second)
	if err == nil {
		err = mounts.MountData(dev, s.cfg.DataDir)
	}
	if err != nil {
		s.warn("data partition not mounted, settings will not persist: %v", err)
		os.MkdirAll(s.cfg.DataDir, 0o700)
		if err := unix.Mount("tmpfs", s.cfg.DataDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
			s.log.Error("tmpfs for data", "err", err)
		}
		return
	}
	s.log.Info("data partition mounted", "dev", dev, "on", s.cfg.DataDir)
}

func (s *system) showBanner(st mgmtnet.State) {
	s.bannerMu.Lock()
	defer s.bannerMu.Unlock()
	m := s.manifest
	fmt.Fprint(s.cfg.Console, banner.Render(banner.Info{
		Product: m.Product, Version: m.Version, Model: m.Model.Name, ModelTitle: m.Model.Title,
		Slot: s.slot, Kernel: m.Kernel.Release,
		Hostname: st.Hostname, Interface: st.Interface, Mode: st.Mode,
		Addresses: st.Addresses, Warnings: s.warnings,
	}))
}

var serviceEnv = []string{"PATH=/bbin:/bin:/ubin", "HOME=/", "TERM=vt100"}

func (s *system) daemon() supervise.Service {
	args := []string{
		"--data", s.cfg.DataDir,
		"--listen", ":443",
		"--http-redirect-listen", ":80",
		"--model", s.manifest.Model.Name,
		"--admin-socket", adminSocket,
	}
	if s.slot != "" {
		args = append(args, "--boot-slot", s.slot)
	}
	// The model's monitor ports that this box has: a virtual appliance
	// may run without them.
	for _, name := range s.manifest.Model.MonitorInterfaces {
		if _, err := os.Stat(filepath.Join("/sys/class/net", name)); err == nil {
			args = append(args, "--iface", name)
		} else {
			s.log.Warn("monitor port missing", "port", name)
		}
	}
	return supervise.Service{Name: "multimeterd", Path: s.manifest.Daemon, Args: args, Env: serviceEnv, Output: s.cfg.Console}
}

// adminSocket is where the daemon takes an admin password from the
// console (package consoleadmin).
const adminSocket = "/run/multimeterd.sock"

// onConsole runs an interactive program (the debug shell, or the console
// menu of the production image) on the serial console as its controlling
// terminal, so Ctrl-C reaches its foreground job.
func (s *system) onConsole(name, path string, args ...string) supervise.Service {
	tty := "/dev/" + s.manifest.Model.Console
	return supervise.Service{
		Name: name, Path: path, Args: args, Env: serviceEnv, Output: s.cfg.Console,
		MinUptime: time.Second,
		// An interactive shell ignores SIGTERM; a hangup ends it.
		StopSignal: unix.SIGHUP,
		Setup: func(cmd *exec.Cmd) {
			f, err := os.OpenFile(tty, os.O_RDWR, 0)
			if err != nil {
				s.log.Error("console tty", "service", name, "err", err)
				return
			}
			cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		},
	}
}

// killAll ends whatever is still running after the services stopped.
func killAll() {
	unix.Kill(-1, unix.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	unix.Kill(-1, unix.SIGKILL)
}

// Halt flushes the disks and powers off or reboots; it does not return.
func Halt(a Action) {
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	if a == Reboot {
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	}
	err := unix.Reboot(cmd)
	fmt.Fprintf(os.Stderr, "init: reboot(%s): %v\n", a, err)
	select {}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func readFile(path string) string {
	data, _ := os.ReadFile(path) // a missing file reads as empty
	return strings.TrimSpace(string(data))
}
