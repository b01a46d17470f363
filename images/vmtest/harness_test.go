package vmtest

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/initramfs/manifest"
	"github.com/multimeter-fw/multimeter/tools/diskimage"
	"github.com/multimeter-fw/multimeter/tools/imagebuild"
	"github.com/multimeter-fw/multimeter/tools/qemu"
)

// Generous limits for software emulation on a busy machine; they only
// turn a hang into a failure.
const (
	bootLimit = 4 * time.Minute
	stepLimit = 2 * time.Minute
)

// image is a built image the tests boot (the debug profile unless said).
type image struct {
	dir      string
	manifest manifest.Manifest
}

// needImage returns the built debug image, or skips (fails under CI) when
// QEMU or the image is missing.
func needImage(t *testing.T) image {
	t.Helper()
	return needProfile(t, manifest.ProfileDebug)
}

// needProfile is needImage for the image of a profile.
func needProfile(t *testing.T, profile string) image {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (make test installs and builds what is needed)")
	}
	if err := qemu.Available(); err != nil {
		missing("qemu-system-x86_64 not installed: %v", err)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "images", "out", profile)
	m, err := manifest.Read(filepath.Join(dir, imagebuild.ManifestFile))
	if err != nil {
		missing("no %s image in %s: %v", profile, dir, err)
	}
	return image{dir: dir, manifest: m}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test directory")
		}
		dir = parent
	}
}

// diskCopy copies the factory disk image for one test.
func (img image) diskCopy(t *testing.T) string {
	t.Helper()
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := diskimage.CopySparse(filepath.Join(img.dir, imagebuild.DiskFile), disk); err != nil {
		t.Fatal(err)
	}
	return disk
}

type bootOpts struct {
	disk       string
	uefi       bool
	guestAddr  string
	extraDisks []qemu.Disk
	tpm        bool
}

// boot starts a VM on the image and stops it when the test ends.
func (img image) boot(t *testing.T, o bootOpts) *qemu.VM {
	t.Helper()
	cfg := qemu.Config{Disk: o.disk, GuestAddr: o.guestAddr, WorkDir: t.TempDir(), MonitorPort: true,
		ExtraDisks: o.extraDisks, TPM: o.tpm}
	if !o.uefi {
		cmdline, err := os.ReadFile(filepath.Join(img.dir, imagebuild.CmdlineFile))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Kernel = filepath.Join(img.dir, imagebuild.VmlinuzFile)
		cfg.Initrd = filepath.Join(img.dir, imagebuild.InitramfsFile)
		cfg.Cmdline = strings.TrimSpace(string(cmdline))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	vm, err := qemu.Start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Shutdown(time.Minute)
		if t.Failed() {
			t.Logf("serial console:\n%s", vm.Console().String())
		}
	})
	return vm
}

// expect waits for re on the console, after the previous expect's match,
// and returns its submatches.
func expect(t *testing.T, vm *qemu.VM, limit time.Duration, re string) []string {
	t.Helper()
	return expectWith(t, vm, limit, re, vm.Console().Expect)
}

// find waits for re anywhere on the console, for lines whose order
// against others is not fixed.
func find(t *testing.T, vm *qemu.VM, limit time.Duration, re string) []string {
	t.Helper()
	return expectWith(t, vm, limit, re, vm.Console().Find)
}

func expectWith(t *testing.T, vm *qemu.VM, limit time.Duration, re string, wait func(context.Context, *regexp.Regexp) ([]string, error)) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	m, err := wait(ctx, regexp.MustCompile(re))
	if err != nil {
		select {
		case <-vm.Done():
			t.Fatalf("%v (qemu ended: %v)", err, vm.Wait())
		case <-time.After(5 * time.Second):
			t.Fatal(err)
		}
	}
	return m
}

// systemInfo is the part of GET /API/info/system the tests check.
type systemInfo struct {
	Product  string `json:"product"`
	Version  string `json:"version"`
	Model    string `json:"model"`
	Hostname string `json:"hostname"`
	BootSlot string `json:"bootSlot"`
}

// adminPassword reads the admin password the daemon shows once on the
// console on its first boot.
func adminPassword(t *testing.T, vm *qemu.VM) string {
	t.Helper()
	// Up to the line end: the console may have only part of the line.
	return find(t, vm, bootLimit, `the password of user "admin" is (\S+)\r?\n`)[1]
}

// apiGet polls the forwarded HTTPS port until GET path answers, checks
// for 200 and returns the body and the SHA-256 of the server's
// certificate.
func apiGet(t *testing.T, vm *qemu.VM, password, path string) ([]byte, string) {
	t.Helper()
	client := &http.Client{
		Timeout: 20 * time.Second,
		// The appliance's certificate is self-signed; the tests check
		// it by fingerprint instead.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	deadline := time.Now().Add(stepLimit)
	url := "https://" + vm.HTTPSAddr() + path
	for {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", password)
		resp, err := client.Do(req)
		if err == nil {
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %s %s, %v; want 200", url, resp.Status, body, err)
			}
			sum := sha256.Sum256(resp.TLS.PeerCertificates[0].Raw)
			return body, hex.EncodeToString(sum[:])
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(time.Second)
	}
}

// getSystemInfo returns GET /API/info/system and the SHA-256 of the
// server's certificate.
func getSystemInfo(t *testing.T, vm *qemu.VM, password string) (systemInfo, string) {
	t.Helper()
	body, cert := apiGet(t, vm, password, "/API/info/system")
	var info systemInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("GET /API/info/system = %s: %v", body, err)
	}
	return info, cert
}
