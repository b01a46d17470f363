// Package qemu runs the appliance image in a QEMU virtual machine, for
// `make run` and for the QEMU tests: software emulation (TCG, one CPU),
// the serial console collected in memory and in a log file, the
// management port on QEMU's user-mode network with HTTPS forwarded to the
// host, a monitor port fed through a Unix datagram socket, an i6300esb
// watchdog, and optionally extra NVMe/AHCI disks and a swtpm TPM 2.0.
//
// Two ways to boot: the fast path hands kernel, initramfs and command
// line to QEMU directly (-kernel/-initrd); the UEFI path boots the
// factory disk image through OVMF and systemd-boot, like hardware.
//
//	vm, err := qemu.Start(ctx, qemu.Config{Kernel: k, Initrd: i, Cmdline: c, Disk: img, WorkDir: dir}, log)
//	defer vm.Close()
//	_, err = vm.Console().Expect(ctx, regexp.MustCompile(`URL: https://`))
package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Default firmware of Debian's ovmf package.
const (
	DefaultOVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	DefaultOVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// MACs of the VM's ports: the management port's ends in 34:56, so the
// default host name is multimeter-3456.
const (
	ManagementMAC = "52:54:00:12:34:56"
	MonitorMAC    = "52:54:00:12:34:57"
)

// Disk is an extra disk.
type Disk struct {
	Path string
	Kind string // "nvme" or "ahci"
}

// Config describes one VM. Zero values mean the defaults.
type Config struct {
	Binary    string // default qemu-system-x86_64
	MemoryMiB int    // default 1024

	// Fast path: set Kernel (and Initrd, Cmdline).
	Kernel, Initrd, Cmdline string
	// UEFI path (when Kernel is empty): OVMF firmware; the variable
	// store template is copied into WorkDir.
	OVMFCode, OVMFVars string

	// Disk is the boot disk image, used in place (copy it first to keep
	// the original).
	Disk       string
	ExtraDisks []Disk

	// HTTPSPort on 127.0.0.1 forwards to GuestAddr:443; 0 picks a free
	// port. GuestAddr defaults to QEMU's first DHCP address (10.0.2.15).
	HTTPSPort int
	GuestAddr string

	// MonitorPort adds a second NIC whose frames are read from the Unix
	// datagram socket WorkDir/monitor.sock (see MonitorSocket).
	MonitorPort bool
	TPM         bool
	NoWatchdog  bool

	// WorkDir holds sockets, the serial log and firmware variables.
	WorkDir string
	// Output, if set, gets a live copy of the serial console.
	Output io.Writer
	// Input, if set, is copied to the serial console.
	Input io.Reader
}

// VM is a running virtual machine.
type VM struct {
	cfg     Config
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	console *Console
	swtpm   *exec.Cmd
	done    chan struct{}
	waitErr error
	log     *slog.Logger
}

// Paths inside WorkDir.
const (
	qmpSocket         = "qmp.sock"
	monitorSocket     = "monitor.sock"
	monitorPeerSocket = "monitor-peer.sock"
	serialLog         = "serial.log"
)

// QMPSocket is the QMP socket of a VM started with workDir.
func QMPSocket(workDir string) string { return filepath.Join(workDir, qmpSocket) }

// MonitorSocket is the Unix datagram socket that a VM started with
// workDir and MonitorPort reads monitor-port frames from (one frame per
// datagram).
func MonitorSocket(workDir string) string { return filepath.Join(workDir, monitorSocket) }

// MonitorPeerSocket is where QEMU sends the frames the guest transmits on
// its monitor port; a feeder binds it as its own address (and may ignore
// what arrives).
func MonitorPeerSocket(workDir string) string { return filepath.Join(workDir, monitorPeerSocket) }

// Available reports whether QEMU is installed.
func Available() error {
	_, err := exec.LookPath("qemu-system-x86_64")
	return err
}

// Start boots a VM.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*VM, error) {
	if cfg.Binary == "" {
		cfg.Binary = "qemu-system-x86_64"
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 1024
	}
	if cfg.OVMFCode == "" {
		cfg.OVMFCode = DefaultOVMFCode
	}
	if cfg.OVMFVars == "" {
		cfg.OVMFVars = DefaultOVMFVars
	}
	if cfg.WorkDir == "" {
		return nil, errors.New("qemu: no work directory")
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	for _, s := range []string{qmpSocket, monitorSocket} {
		os.Remove(filepath.Join(cfg.WorkDir, s))
	}
	if cfg.HTTPSPort == 0 {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cfg.HTTPSPort = port
	}
	vm := &VM{cfg: cfg, console: newConsole(), done: make(chan struct{}), log: log}
	if cfg.TPM {
		if err := vm.startSwtpm(); err != nil {
			return nil, err
		}
	}
	args, err := vm.args()
	if err != nil {
		vm.stopSwtpm()
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(cfg.WorkDir, serialLog))
	if err != nil {
		vm.stopSwtpm()
		return nil, fmt.Errorf("qemu: %w", err)
	}
	cmd := exec.Command(cfg.Binary, args...)
	// Its own process group: a Ctrl-C in the terminal reaches the
	// runner, which shuts the guest down, instead of killing QEMU. If the
	// runner dies, QEMU goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	if vm.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	log.Info("starting qemu", "args", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		vm.stopSwtpm()
		return nil, fmt.Errorf("qemu: start %s: %w", cfg.Binary, err)
	}
	vm.cmd = cmd
	extra := []io.Writer{logFile}
	if cfg.Output != nil {
		extra = append(extra, cfg.Output)
	}
	pumped := make(chan struct{})
	go func() {
		defer close(pumped)
		vm.console.pump(stdout, extra...)
	}()
	if cfg.Input != nil {
		go io.Copy(vm.stdin, cfg.Input)
	}
	go func() {
		<-pumped
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("qemu: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		vm.waitErr = err
		logFile.Close()
		vm.stopSwtpm()
		close(vm.done)
	}()
	return vm, nil
}

func (vm *VM) args() ([]string, error) {
	cfg := vm.cfg
	args := []string{
		"-machine", "q35", "-accel", "tcg", "-cpu", "qemu64", "-smp", "1", "-m", strconv.Itoa(cfg.MemoryMiB),
		"-display", "none", "-vga", "none", "-nodefaults",
		"-chardev", "stdio,id=ser0,signal=off", "-serial", "chardev:ser0",
		"-qmp", "unix:" + QMPSocket(cfg.WorkDir) + ",server=on,wait=off",
		// Without a hardware RNG the emulated guest can wait minutes
		// for the kernel's random pool (TLS keys, DHCP transaction IDs).
		"-device", "virtio-rng-pci,addr=0x5",
	}
	if cfg.Kernel != "" {
		args = append(args, "-kernel", cfg.Kernel, "-append", cfg.Cmdline)
		if cfg.Initrd != "" {
			args = append(args, "-initrd", cfg.Initrd)
		}
	} else {
		vars := filepath.Join(cfg.WorkDir, "OVMF_VARS.fd")
		data, err := os.ReadFile(cfg.OVMFVars)
		if err != nil {
			return nil, fmt.Errorf("qemu: firmware variables: %w", err)
		}
		if err := os.WriteFile(vars, data, 0o644); err != nil {
			return nil, fmt.Errorf("qemu: %w", err)
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+cfg.OVMFCode,
			"-drive", "if=pflash,format=raw,unit=1,file="+vars)
	}
	if cfg.Disk != "" {
		dev := "virtio-blk-pci,drive=boot,addr=0x4"
		if cfg.Kernel == "" {
			dev += ",bootindex=0" // -kernel takes the first boot index itself
		}
		args = append(args, "-drive", "if=none,id=boot,format=raw,file="+cfg.Disk, "-device", dev)
	}
	for i, d := range cfg.ExtraDisks {
		id := fmt.Sprintf("disk%d", i)
		args = append(args, "-drive", fmt.Sprintf("if=none,id=%s,format=raw,file=%s", id, d.Path))
		switch d.Kind {
		case "nvme":
			args = append(args, "-device", fmt.Sprintf("nvme,drive=%s,serial=MMNVME%d,addr=%#x", id, i, 0x10+i))
		case "ahci":
			args = append(args, "-device", fmt.Sprintf("ide-hd,drive=%s,bus=ide.%d", id, i%6))
		default:
			return nil, fmt.Errorf("qemu: disk %s: kind %q: want nvme or ahci", d.Path, d.Kind)
		}
	}
	// Fixed PCI slots: the management port comes first on the bus, so
	// it is eth0; then the monitor port, the boot disk, the RNG, the
	// watchdog, extra NVMe disks from 0x10.
	fwd := fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-%s:443", cfg.HTTPSPort, cfg.GuestAddr)
	args = append(args,
		"-netdev", "user,id=mgmt,"+fwd,
		"-device", "virtio-net-pci,netdev=mgmt,mac="+ManagementMAC+",addr=0x2")
	if cfg.MonitorPort {
		args = append(args,
			"-netdev", "dgram,id=mon0,local.type=unix,local.path="+MonitorSocket(cfg.WorkDir)+
				",remote.type=unix,remote.path="+MonitorPeerSocket(cfg.WorkDir),
			"-device", "virtio-net-pci,netdev=mon0,mac="+MonitorMAC+",addr=0x3")
	}
	if !cfg.NoWatchdog {
		args = append(args, "-device", "i6300esb,addr=0x6", "-action", "watchdog=reset")
	}
	if cfg.TPM {
		args = append(args,
			"-chardev", "socket,id=chrtpm,path="+filepath.Join(cfg.WorkDir, "swtpm.sock"),
			"-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0")
	}
	return args, nil
}

func (vm *VM) startSwtpm() error {
	state := filepath.Join(vm.cfg.WorkDir, "tpm")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	sock := filepath.Join(vm.cfg.WorkDir, "swtpm.sock")
	os.Remove(sock)
	cmd := exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+state,
		"--ctrl", "type=unixio,path="+sock, "--flags", "startup-clear")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("qemu: start swtpm: %w", err)
	}
	vm.swtpm = cmd
	// QEMU connects at start: wait for the socket.
	for range 50 {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	vm.stopSwtpm()
	return errors.New("qemu: swtpm did not create its socket")
}

func (vm *VM) stopSwtpm() {
	if vm.swtpm != nil {
		vm.swtpm.Process.Kill()
		vm.swtpm.Wait()
		vm.swtpm = nil
	}
}

// Console is the VM's serial console output.
func (vm *VM) Console() *Console { return vm.console }

// Type writes s to the serial console, as if typed.
func (vm *VM) Type(s string) error {
	_, err := io.WriteString(vm.stdin, s)
	return err
}

// HTTPSAddr is the host address forwarded to the appliance's HTTPS port.
func (vm *VM) HTTPSAddr() string { return "127.0.0.1:" + strconv.Itoa(vm.cfg.HTTPSPort) }

// WorkDir is the VM's work directory.
func (vm *VM) WorkDir() string { return vm.cfg.WorkDir }

// Powerdown presses the ACPI power button.
func (vm *VM) Powerdown() error {
	_, err := QMP(QMPSocket(vm.cfg.WorkDir), "system_powerdown", nil)
	return err
}

// CtrlAltDel presses Ctrl-Alt-Del on the VM's keyboard (the appliance
// reboots cleanly).
func (vm *VM) CtrlAltDel() error {
	type key struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	keys := []key{{"qcode", "ctrl"}, {"qcode", "alt"}, {"qcode", "delete"}}
	_, err := QMP(QMPSocket(vm.cfg.WorkDir), "send-key", map[string]any{"keys": keys})
	return err
}

// Done is closed when QEMU has exited.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Wait waits for QEMU to exit and returns its error, if any.
func (vm *VM) Wait() error {
	<-vm.done
	return vm.waitErr
}

// Shutdown asks the guest to power off (ACPI power button) and waits up
// to timeout for it; then it ends QEMU. It reports whether the guest
// powered off by itself.
func (vm *VM) Shutdown(timeout time.Duration) (clean bool) {
	select {
	case <-vm.done:
		return true
	default:
	}
	if err := vm.Powerdown(); err != nil {
		vm.log.Warn("powerdown", "err", err)
	} else {
		select {
		case <-vm.done:
			return true
		case <-time.After(timeout):
			vm.log.Warn("guest did not power off; stopping qemu", "timeout", timeout)
		}
	}
	vm.Kill()
	return false
}

// Kill ends QEMU at once (the guest gets no chance to shut down).
func (vm *VM) Kill() {
	if _, err := QMP(QMPSocket(vm.cfg.WorkDir), "quit", nil); err != nil {
		vm.cmd.Process.Kill()
	}
	select {
	case <-vm.done:
	case <-time.After(10 * time.Second):
		vm.cmd.Process.Kill()
		<-vm.done
	}
}

// CreateDisk makes an empty (sparse) raw disk image of size bytes,
// replacing any file at path.
func CreateDisk(path string, size int64) error {
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	if err := os.Truncate(path, size); err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("qemu: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
