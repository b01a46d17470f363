package monitorfeed

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

func TestRunSendsGeneratorFrames(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "monitor.sock")
	// What QEMU does: bind the local socket, read one frame per datagram.
	rx, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	const n = 50
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{Socket: sock, Peer: filepath.Join(dir, "peer.sock"), Rate: 10000, Seed: 7, Count: n}, slog.New(slog.DiscardHandler))
	}()
	want := trafficgen.New(trafficgen.Config{Seed: 7})
	buf := make([]byte, 65536)
	for i := range n {
		m, from, err := rx.ReadFromUnix(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from == nil || filepath.Base(from.Name) != "peer.sock" {
			t.Fatalf("frame %d came from %v; want the peer address QEMU filters on", i, from)
		}
		frame, _ := want.Next(nil)
		if !bytes.Equal(buf[:m], frame) {
			t.Fatalf("frame %d = %x; want the generator's %x", i, buf[:m], frame)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
