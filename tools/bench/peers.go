package bench

import (
	"context"
	"fmt"
	"os/exec"
	"time"
)

// peer runs another analyser on the capture and times it.
func peer(ctx context.Context, name string, args ...string) (Throughput, error) {
	if _, err := exec.LookPath(name); err != nil {
		return Throughput{}, fmt.Errorf("bench: %s: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return Throughput{}, fmt.Errorf("bench: %s: %w", name, err)
	}
	wall := time.Since(start)
	return Throughput{Wall: wall, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}
