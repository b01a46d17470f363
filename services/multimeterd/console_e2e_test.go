package main

import (
	"github.com/multimeter-fw/multimeter/tools/peertest"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSetAdminPasswordAtTheConsole sets the admin password the way the
// console does (multimeterd set-admin-password over --admin-socket),
// without knowing the old one, and checks what the API then accepts.
func TestSetAdminPasswordAtTheConsole(t *testing.T) {
	peertest.Need(t, "curl", "bash")
	bin := buildBinary(t)
	dir := t.TempDir()
	socket := filepath.Join(dir, "admin.sock")
	d := start(t, bin, filepath.Join(dir, "data"), "--admin-socket", socket)
	if d.password == "" {
		t.Fatalf("no first-boot password on the console:\n%s", d.log())
	}
	fi, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v; want 0600 (root only)", fi.Mode().Perm())
	}
	status := func(user, password string) string {
		return sh(t, `curl --silent -k -o /dev/null -w '%{http_code}' -u '`+user+`:`+password+`' 'https://`+d.https+`/API/info/system'`)
	}
	console := func(input string) (string, error) {
		cmd := exec.Command(bin, "set-admin-password", "--socket", socket)
		cmd.Stdin = strings.NewReader(input)
		// No controlling terminal: the password comes from stdin.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	if out, err := console("console-password-1\nconsole-password-2\n"); err == nil || !strings.Contains(out, "differ") {
		t.Errorf("two different passwords: %v %q; want a refusal", err, out)
	}
	if out, err := console("short\nshort\n"); err == nil {
		t.Errorf("a too short password: %q; want a refusal", out)
	}
	if got := status("admin", d.password); got != "200" {
		t.Errorf("after refused changes the first-boot password = %s; want 200", got)
	}
	if out, err := console("console-password-1\nconsole-password-1\n"); err != nil || !strings.Contains(out, "is set") {
		t.Fatalf("set-admin-password: %v %q", err, out)
	}
	if got := status("admin", "console-password-1"); got != "200" {
		t.Errorf("the password set at the console = %s; want 200", got)
	}
	if got := status("admin", d.password); got != "401" {
		t.Errorf("the first-boot password after the change = %s; want 401", got)
	}
	if strings.Contains(d.log(), "console-password-1") {
		t.Errorf("the password reached the log")
	}
	d.stop(t)
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("the socket outlives the daemon: %v", err)
	}
}
