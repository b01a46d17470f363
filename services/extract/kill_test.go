package extract

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

const killChildEnv = "EXTRACT_KILL_TEST_DIR"

func killTestConfig(dir string) ringbuf.BufferConfig {
	return ringbuf.BufferConfig{SegmentBytes: 1 << 20, QueueBytes: 32 << 20, FlushMillis: 100,
		Devices: []ringbuf.DeviceConfig{{Path: dir, MaxBytes: 1 << 30}}}
}

func killTestPackets() []ringbuftest.Packet {
	return ringbuftest.Generate(trafficgen.Config{Seed: 31, Clients: 80}, 200000)
}

// TestKillChild is the writer the kill test runs in a child process: it
// records packets in chunks, reports each Flush on stdout, and goes on
// until it is killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("runs as the child of TestSIGKILL")
	}
	b, err := ringbuf.OpenBuffer(killTestConfig(dir), testLog())
	if err != nil {
		t.Fatal(err)
	}
	pkts := killTestPackets()
	const chunk = 15000
	for i := 0; i < len(pkts); i += chunk {
		ringbuftest.Replay(b, pkts[i:i+chunk], 2)
		if i/chunk%2 == 1 {
			// Written, not fsynced: a process crash keeps it, a power loss
			// may not.
			if err := b.WriteOut(); err != nil {
				t.Fatal(err)
			}
			fmt.Printf("written %d\n", i+chunk)
			continue
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("flushed %d\n", i+chunk)
	}
	select {} // wait for the kill
}

// TestSIGKILL kills a writing process with SIGKILL and checks that the
// reopened buffer is consistent: every packet acknowledged as flushed is
// extractable, byte for byte, and nothing else is damaged.
func TestSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flushed, written := 0, 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "flushed "); ok {
			flushed, _ = strconv.Atoi(n)
		}
		if n, ok := strings.CutPrefix(sc.Text(), "written "); ok && flushed >= 60000 {
			written, _ = strconv.Atoi(n)
			break // the child is writing, nothing flushed since
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if flushed < 60000 {
		t.Fatalf("child stopped after %d packets: %v", flushed, sc.Err())
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "*", "*.part"))
	if len(parts) == 0 {
		t.Fatalf("no segment was being written when the child was killed")
	}

	b := openBuffer(t, killTestConfig(dir))
	defer b.Close()
	pkts := killTestPackets()
	seen := map[uint64]bool{}
	var last Packet
	_, err = Search(t.Context(), b.Snapshot(), Query{Filter: filter.MustParse("")}, func(p *Packet) error {
		if p.Seq >= uint64(len(pkts)) || seen[p.Seq] {
			return fmt.Errorf("packet seq %d unknown or twice", p.Seq)
		}
		seen[p.Seq] = true
		in := pkts[p.Seq]
		if string(in.Frame) != string(p.Data) || in.Timestamp != p.Timestamp || in.OrigLen != p.OrigLen {
			return fmt.Errorf("packet seq %d damaged", p.Seq)
		}
		if p.Timestamp < last.Timestamp {
			return fmt.Errorf("packet seq %d out of order", p.Seq)
		}
		last = *p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range flushed {
		if !seen[uint64(i)] {
			t.Fatalf("flushed packet %d lost (of %d flushed, %d recovered)", i, flushed, len(seen))
		}
	}
	t.Logf("%d packets flushed and %d written before the kill, %d recovered", flushed, written, len(seen))
	for i := range written {
		if !seen[uint64(i)] {
			t.Fatalf("written packet %d lost: a process crash keeps what was written", i)
		}
	}
	if parts, _ := filepath.Glob(filepath.Join(dir, "*", "*.part")); len(parts) != 0 {
		t.Errorf("after recovery: %v left", parts)
	}
	if _, err := exec.LookPath("capinfos"); err == nil {
		segs, _ := filepath.Glob(filepath.Join(dir, "*", "*.pcapng"))
		if out, err := exec.Command("capinfos", append([]string{"-c"}, segs...)...).CombinedOutput(); err != nil {
			t.Errorf("capinfos on recovered segments: %v\n%s", err, out)
		}
	}
}
