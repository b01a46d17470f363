package qemu

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConsoleExpect(t *testing.T) {
	c := newConsole()
	pr, pw := io.Pipe()
	go c.pump(pr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	go func() {
		for _, chunk := range []string{"boot ", "pid=1", "2 run=1\nURL: https://", "10.0.2.15/\npid=34 run=2\n"} {
			pw.Write([]byte(chunk))
		}
	}()
	// Matches that span writes are found whole.
	m, err := c.Expect(ctx, regexp.MustCompile(`pid=(\d+) run=1`))
	if err != nil || !cmp.Equal(m, []string{"pid=12 run=1", "12"}) {
		t.Fatalf("Expect(pid run=1) = %q, %v", m, err)
	}
	if m, err = c.Expect(ctx, regexp.MustCompile(`URL: https://(\S+)/`)); err != nil || m[1] != "10.0.2.15" {
		t.Fatalf("Expect(URL) = %q, %v", m, err)
	}
	// Expect moves on; Find looks from the start.
	if m, err = c.Expect(ctx, regexp.MustCompile(`pid=(\d+)`)); err != nil || m[1] != "34" {
		t.Errorf("Expect(pid) after the first match = %q, %v; want 34", m, err)
	}
	if m, err = c.Find(ctx, regexp.MustCompile(`pid=(\d+)`)); err != nil || m[1] != "12" {
		t.Errorf("Find(pid) = %q, %v; want 12, the first", m, err)
	}
	pw.Close()
	if _, err := c.Expect(ctx, regexp.MustCompile(`never`)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Expect after the VM ended = %v; want a closed-console error", err)
	}
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if _, err := newConsole().Expect(short, regexp.MustCompile(`x`)); err == nil {
		t.Error("Expect with a cancelled context = nil error")
	}
}
