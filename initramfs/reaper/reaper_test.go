package reaper

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// asInit makes the test process collect orphans the way PID 1 does.
func asInit(t *testing.T) *Reaper {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	r := New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	})
	return r
}

func TestStartReportsExitStatus(t *testing.T) {
	r := asInit(t)
	for _, code := range []int{0, 3, 42} {
		exited, err := r.Start(exec.Command("sh", "-c", "exit "+strconv.Itoa(code)))
		if err != nil {
			t.Fatal(err)
		}
		if st := <-exited; st.ExitStatus() != code {
			t.Errorf("exit status of `exit %d` = %d", code, st.ExitStatus())
		}
	}
}

func TestReapsOrphans(t *testing.T) {
	r := asInit(t)
	out, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	// The inner sleep outlives its parent and is re-parented to us.
	cmd := exec.Command("sh", "-c", "sleep 0.2 & echo $!")
	cmd.Stdout = out
	exited, err := r.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	<-exited
	data, _ := os.ReadFile(out.Name())
	orphan, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("orphan pid %q: %v", data, err)
	}
	// A zombie keeps its /proc entry until it is reaped.
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(orphan)); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartRejectsPipes(t *testing.T) {
	r := New()
	cmd := exec.Command("true")
	cmd.Stdout = &strings.Builder{}
	if _, err := r.Start(cmd); err == nil {
		t.Error("Start(cmd with a non-file stdout) = nil error; want an error")
	}
}
