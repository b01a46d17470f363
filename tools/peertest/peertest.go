// Package peertest runs the real tools that tests compare our output
// with (tshark, capinfos, tcpdump, mkfs, ...). A missing tool skips the
// test on a developer's machine and fails it under CI, where .ci/run
// installs every one, so a comparison is never silently left out.
//
//	peertest.Need(t, "tshark")
//	out := peertest.Tshark(t, "-r", pcap, "-q", "-z", "conv,tcp")
package peertest

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Need skips t unless every tool is installed; under CI it fails instead.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing under CI: %v", tool, err)
			}
			t.Skipf("%s not installed (make deps installs it)", tool)
		}
	}
}

// Tshark runs tshark with args and returns its standard output; a failure
// fails t with tshark's standard error.
func Tshark(t testing.TB, args ...string) []byte {
	t.Helper()
	Need(t, "tshark")
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TsharkSelect writes to out the packets of capture in that tshark's
// display filter selects.
func TsharkSelect(t testing.TB, in, display, out string) {
	t.Helper()
	Tshark(t, "-r", in, "-Y", display, "-w", out)
}

// TsharkFrames counts the frames of a capture and their bytes (frame.len)
// as tshark reads them.
func TsharkFrames(t testing.TB, path string) (n int, bytes uint64) {
	t.Helper()
	for _, f := range strings.Fields(string(Tshark(t, "-r", path, "-T", "fields", "-e", "frame.len"))) {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			t.Fatalf("tshark frame.len %q: %v", f, err)
		}
		n++
		bytes += v
	}
	return n, bytes
}
