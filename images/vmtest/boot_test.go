package vmtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/firmware/disklayout"
	"github.com/multimeter-fw/multimeter/initramfs/manifest"
	"github.com/multimeter-fw/multimeter/tools/diskimage"
	"github.com/multimeter-fw/multimeter/tools/monitorfeed"
	"github.com/multimeter-fw/multimeter/tools/qemu"
)

// The QEMU user network hands out 10.0.2.15 to the first DHCP client.
const dhcpAddr = `10\.0\.2\.15/24`

func TestBootToBanner(t *testing.T) {
	img := needImage(t)
	vm := img.boot(t, bootOpts{disk: img.diskCopy(t)})
	m := img.manifest
	expect(t, vm, bootLimit, regexp.QuoteMeta(m.Product+" "+m.Version+" - "+m.Model.Title+" (model "+m.Model.Name+")"))
	expect(t, vm, stepLimit, `Management address: `+dhcpAddr+` on eth0 \(dhcp\)`)
	expect(t, vm, stepLimit, `URL: https://10\.0\.2\.15/`)
	password := adminPassword(t, vm)
	info, _ := getSystemInfo(t, vm, password)
	want := systemInfo{Product: m.Product, Version: m.Version, Model: m.Model.Name, Hostname: "multimeter-3456", BootSlot: "a"}
	if info != want {
		t.Errorf("GET /API/info/system = %+v; want %+v", info, want)
	}
	// The daemon's structured log is on the console and in the API.
	find(t, vm, stepLimit, `"msg":"https listening"`)
	if logs, _ := apiGet(t, vm, password, "/API/system/log"); !bytes.Contains(logs, []byte(`https listening`)) {
		t.Errorf("GET /API/system/log = %s; want the daemon's start-up line", logs)
	}
	if !vm.Shutdown(stepLimit) {
		t.Error("the appliance did not power off on the power button")
	}
	if !strings.Contains(vm.Console().String(), "reboot: Power down") {
		t.Error("console shows no kernel power-down; the init did not end cleanly")
	}
}

func TestDataPersistsAcrossReboot(t *testing.T) {
	img := needImage(t)
	disk := img.diskCopy(t)
	vm := img.boot(t, bootOpts{disk: disk})
	expect(t, vm, bootLimit, `URL: https://`)
	password := adminPassword(t, vm)
	_, first := getSystemInfo(t, vm, password)

	// Ctrl-Alt-Del: the init stops the services, unmounts the data
	// partition and reboots; the users and the certificate made on the
	// first boot must come back from the data partition (the admin
	// password is shown only on the first boot).
	if err := vm.CtrlAltDel(); err != nil {
		t.Fatal(err)
	}
	expect(t, vm, stepLimit, `shutting down.*action=reboot`)
	expect(t, vm, bootLimit, `msg=booting`)
	expect(t, vm, bootLimit, `URL: https://`)
	_, second := getSystemInfo(t, vm, password)
	if first != second {
		t.Errorf("certificate after reboot = %s; want the first boot's %s", second, first)
	}
	if !vm.Shutdown(stepLimit) {
		t.Fatal("the appliance did not power off")
	}
	// The certificate served is the one stored on the data partition.
	stored, err := diskimage.ReadDataFile(context.Background(), disk, "tls/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(stored)
	if block == nil {
		t.Fatalf("tls/cert.pem on the data partition = %q; want a PEM certificate", stored)
	}
	sum := sha256.Sum256(block.Bytes)
	if got := hex.EncodeToString(sum[:]); got != first {
		t.Errorf("certificate on the data partition = %s; want the served %s", got, first)
	}
}

func TestDaemonRespawn(t *testing.T) {
	img := needImage(t)
	vm := img.boot(t, bootOpts{disk: img.diskCopy(t)})
	m := find(t, vm, bootLimit, `service started.*service=multimeterd pid=(\d+) run=1`)
	pid, _ := strconv.Atoi(m[1])
	password := adminPassword(t, vm)
	getSystemInfo(t, vm, password)
	// The debug profile's shell is on the serial console.
	find(t, vm, stepLimit, `\$ `)
	if err := vm.Type("kill -9 " + strconv.Itoa(pid) + "\r"); err != nil {
		t.Fatal(err)
	}
	find(t, vm, stepLimit, `service exited.*service=multimeterd pid=`+strconv.Itoa(pid)+` status="killed by SIGKILL"`)
	m = find(t, vm, stepLimit, `service started.*service=multimeterd pid=(\d+) run=2`)
	if m[1] == strconv.Itoa(pid) {
		t.Errorf("respawned daemon has the old pid %s", m[1])
	}
	if info, _ := getSystemInfo(t, vm, password); info.Product != img.manifest.Product {
		t.Errorf("API after respawn answers %+v", info)
	}

	// Whoever is at the console sets a new admin password without the old
	// one (the production image's console menu runs the same program).
	if err := vm.Type("/bin/multimeterd set-admin-password\r"); err != nil {
		t.Fatal(err)
	}
	for _, prompt := range []string{`New admin password: `, `Repeat it: `} {
		find(t, vm, stepLimit, prompt)
		if err := vm.Type("console-password-1\r"); err != nil {
			t.Fatal(err)
		}
	}
	find(t, vm, stepLimit, `The admin password is set\.`)
	if info, _ := getSystemInfo(t, vm, "console-password-1"); info.Product != img.manifest.Product {
		t.Errorf("API with the console's password answers %+v", info)
	}
	if strings.Contains(vm.Console().String(), "console-password-1") {
		t.Errorf("the password was echoed on the console")
	}
}

func TestStaticAddress(t *testing.T) {
	img := needImage(t)
	disk := img.diskCopy(t)
	cfg := `{"mode":"static","address":"10.0.2.50/24","gateway":"10.0.2.2","dns":["10.0.2.3"],"hostname":"mm-static"}`
	if err := diskimage.WriteDataFile(context.Background(), disk, "network.json", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	// HTTPS is forwarded to the static address: the API answering
	// proves the address is really on the port.
	vm := img.boot(t, bootOpts{disk: disk, guestAddr: "10.0.2.50"})
	expect(t, vm, bootLimit, `Hostname: mm-static`)
	expect(t, vm, stepLimit, `Management address: 10\.0\.2\.50/24 on eth0 \(static\)`)
	expect(t, vm, stepLimit, `URL: https://10\.0\.2\.50/`)
	info, _ := getSystemInfo(t, vm, adminPassword(t, vm))
	if info.Hostname != "mm-static" {
		t.Errorf("API hostname = %q; want mm-static from the configuration", info.Hostname)
	}
	if strings.Contains(vm.Console().String(), "10.0.2.15") {
		t.Error("console shows the DHCP address although the configuration is static")
	}
}

func TestUEFIBootThroughSystemdBoot(t *testing.T) {
	img := needImage(t)
	disk := img.diskCopy(t)
	vm := img.boot(t, bootOpts{disk: disk, uefi: true})
	expect(t, vm, bootLimit, `EFI stub`)
	expect(t, vm, bootLimit, `URL: https://10\.0\.2\.15/`)
	info, _ := getSystemInfo(t, vm, adminPassword(t, vm))
	if info.BootSlot != "a" {
		t.Errorf("API bootSlot = %q; want a", info.BootSlot)
	}
	if !vm.Shutdown(stepLimit) {
		t.Fatal("the appliance did not power off")
	}
	// systemd-boot counted the boot attempt in the slot image's name.
	parts, err := diskimage.Partitions(context.Background(), disk)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, p := range parts {
		if p.Name == disklayout.ESPLabel {
			out, err = exec.Command("mdir", "-b", "-i", disk+"@@"+strconv.FormatInt(p.Start, 10), "::/EFI/Linux").CombinedOutput()
		}
	}
	want := strings.Replace(disklayout.UKIName("a", disklayout.BootTries), "+3", "+2-1", 1)
	if err != nil || !bytes.Contains(out, []byte(want)) {
		t.Errorf("ESP EFI/Linux = %q, %v; want %s after one counted boot", out, err, want)
	}
}

// TestDevices boots with everything the runner can attach: the monitor
// port fed by the traffic generator, an NVMe and a SATA disk, and a TPM.
func TestDevices(t *testing.T) {
	img := needImage(t)
	dir := t.TempDir()
	var disks []qemu.Disk
	for _, kind := range []string{"nvme", "ahci"} {
		d := qemu.Disk{Path: filepath.Join(dir, kind+".img"), Kind: kind}
		if err := qemu.CreateDisk(d.Path, 64<<20); err != nil {
			t.Fatal(err)
		}
		disks = append(disks, d)
	}
	vm := img.boot(t, bootOpts{disk: img.diskCopy(t), extraDisks: disks, tpm: true})
	find(t, vm, bootLimit, `service started.*service=shell`)
	find(t, vm, stepLimit, `\$ `)
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan error, 1)
	go func() {
		fed <- monitorfeed.Run(ctx, monitorfeed.Config{
			Socket: qemu.MonitorSocket(vm.WorkDir()), Peer: qemu.MonitorPeerSocket(vm.WorkDir()), Rate: 500},
			slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		if err := <-fed; err != nil {
			t.Error(err)
		}
	}()
	// The guest counts what arrives on its monitor port (eth1).
	rx := func() int {
		t.Helper()
		if err := vm.Type("echo rx-$(cat /sys/class/net/eth1/statistics/rx_packets)-end\r"); err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(expect(t, vm, stepLimit, `rx-(\d+)-end`)[1])
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := vm.Type("ip link set eth1 up\r"); err != nil {
		t.Fatal(err)
	}
	first := rx()
	for second := rx(); second <= first; second = rx() {
		// rx_packets grows as frames arrive; a test timeout ends a
		// port that receives nothing.
	}

	// The daemon captures the model's monitor port and analyses what the
	// generator sends: the port counts frames, the IP table fills.
	password := adminPassword(t, vm)
	for deadline := time.Now().Add(stepLimit); ; time.Sleep(time.Second) {
		body, _ := apiGet(t, vm, password, "/API/system/interfaces")
		var ports struct {
			Interfaces []struct {
				Name            string
				CapturedPackets uint64
			}
		}
		if err := json.Unmarshal(body, &ports); err != nil {
			t.Fatalf("GET /API/system/interfaces: %v\n%s", err, body)
		}
		if len(ports.Interfaces) == 1 && ports.Interfaces[0].Name == "eth1" && ports.Interfaces[0].CapturedPackets > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /API/system/interfaces = %s; want eth1 capturing the generator's frames", body)
		}
	}
	// The store gets a second's figures once the second has closed, a
	// little after the port counted its frames.
	for deadline := time.Now().Add(stepLimit); ; time.Sleep(time.Second) {
		body, _ := apiGet(t, vm, password, "/API/stats/modules/ip/ips_paged?sort=packets&reverse=true&count=5&skiphistorydata=true")
		var ips struct{ DisplayedItems []struct{ IP string } }
		err := json.Unmarshal(body, &ips)
		if err == nil && len(ips.DisplayedItems) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("GET ips_paged = %s, %v; want the generator's hosts", body, err)
			break
		}
	}

	// The drivers of the model found the disks and the TPM.
	if err := vm.Type("echo dev-$(ls /sys/block /sys/class/tpm)-end\r"); err != nil {
		t.Fatal(err)
	}
	devs := strings.Fields(expect(t, vm, stepLimit, `dev-([^$]*?)-end`)[1])
	for _, want := range []string{"nvme0n1", "sda", "vda", "tpm0"} {
		if !slices.Contains(devs, want) {
			t.Errorf("guest devices = %q; want %s among them", devs, want)
		}
	}
	find(t, vm, stepLimit, `watchdog armed`)
}

// TestProductionConsole boots the production image: no shell anywhere,
// and the serial console offers to set the admin password.
func TestProductionConsole(t *testing.T) {
	img := needProfile(t, manifest.ProfileProduction)
	vm := img.boot(t, bootOpts{disk: img.diskCopy(t)})
	password := adminPassword(t, vm)
	getSystemInfo(t, vm, password)
	find(t, vm, stepLimit, `Press Enter to set the admin password\.`)
	if err := vm.Type("\r"); err != nil {
		t.Fatal(err)
	}
	for _, prompt := range []string{`New admin password: `, `Repeat it: `} {
		find(t, vm, stepLimit, prompt)
		if err := vm.Type("console-password-2\r"); err != nil {
			t.Fatal(err)
		}
	}
	find(t, vm, stepLimit, `The admin password is set\.`)
	if info, _ := getSystemInfo(t, vm, "console-password-2"); info.Product != img.manifest.Product {
		t.Errorf("API with the console's password answers %+v", info)
	}
	console := vm.Console().String()
	if strings.Contains(console, "console-password-2") {
		t.Errorf("the password was echoed on the console")
	}
	if strings.Contains(console, "service=shell") {
		t.Errorf("the production image started a shell")
	}
	if !vm.Shutdown(stepLimit) {
		t.Error("the appliance did not power off on the power button")
	}
}
