package livetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Tcpdump is a tcpdump process capturing incoming frames on an interface
// of a namespace.
type Tcpdump struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer // the rest of tcpdump's stderr, after "listening on"
	copied sync.WaitGroup
}

// TcpdumpStats are the counts tcpdump prints when it stops.
type TcpdumpStats struct {
	Captured, Received, KernelDrops uint64
}

// StartTcpdump runs tcpdump on iface in n, writing nanosecond pcap to
// file (/dev/null to only count), and returns once it is capturing. With
// count > 0 tcpdump exits after that many packets (see Wait); it sees the
// last ones when its ring's one-second block timeout expires.
func (n *Netns) StartTcpdump(ctx context.Context, iface, file string, count int) (*Tcpdump, error) {
	args := []string{"-i", iface, "-Q", "in", "-n", "-p", "-Z", "root", "--time-stamp-precision=nano", "-w", file}
	if count > 0 {
		args = append(args, "-c", strconv.Itoa(count))
	}
	t := &Tcpdump{cmd: n.Command(ctx, "tcpdump", args...)}
	stderr, err := t.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tcpdump: %w", err)
	}
	br := bufio.NewReader(stderr)
	for {
		line, err := br.ReadString('\n')
		if strings.Contains(line, "listening on") {
			break
		}
		if err != nil {
			t.cmd.Wait()
			return nil, fmt.Errorf("tcpdump on %s did not start: %s", iface, line)
		}
	}
	t.copied.Add(1)
	go func() {
		defer t.copied.Done()
		io.Copy(&t.stderr, br)
	}()
	return t, nil
}

var tcpdumpCount = regexp.MustCompile(`(?m)^(\d+) packets? (captured|received by filter|dropped by kernel)$`)

// Stop interrupts tcpdump, waits for it and returns its counts. Packets
// still in its ring are lost; to capture a known number use a count and
// Wait.
func (t *Tcpdump) Stop() (TcpdumpStats, error) {
	t.cmd.Process.Signal(syscall.SIGINT)
	return t.Wait()
}

// Wait waits for tcpdump to exit and returns its counts.
func (t *Tcpdump) Wait() (TcpdumpStats, error) {
	err := t.cmd.Wait()
	t.copied.Wait()
	out := t.stderr.String()
	if err != nil {
		return TcpdumpStats{}, fmt.Errorf("tcpdump: %w: %s", err, out)
	}
	var st TcpdumpStats
	found := 0
	for _, m := range tcpdumpCount.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseUint(m[1], 10, 64)
		switch m[2] {
		case "captured":
			st.Captured = v
		case "received by filter":
			st.Received = v
		case "dropped by kernel":
			st.KernelDrops = v
		}
		found++
	}
	if found != 3 {
		return st, fmt.Errorf("tcpdump: no statistics in %q", out)
	}
	return st, nil
}
