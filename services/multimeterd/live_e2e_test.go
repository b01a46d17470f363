package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/capture/live/livetest"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// netns is a network namespace (package livetest) with veth pairs whose
// one end is a monitor port of the daemon and whose other end the test
// sends into (tcpreplay) or listens on (tcpdump).
type netns struct{ *livetest.Netns }

func newNetns(t *testing.T, pairs ...[2]string) netns {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the monitor port tests need root (network namespaces)")
		}
		t.Skip("not root: no network namespaces")
	}
	ln, err := livetest.NewNetns("mmtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n := netns{ln}
	// The daemon and curl talk over the namespace's loopback.
	if err := n.SetUp(true, "lo"); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		if err := n.AddVeth(p[0], p[1], 9000); err != nil {
			t.Fatal(err)
		}
		// The daemon brings its end up itself, as on the appliance.
		if err := n.SetUp(false, p[1]); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// exec is the command prefix that runs a program inside the namespace.
func (n netns) exec() []string { return []string{"ip", "netns", "exec", n.Name} }

// sh runs a shell pipeline inside the namespace.
func (n netns) sh(t *testing.T, script string) string {
	t.Helper()
	return sh(t, "ip netns exec "+n.Name+" bash -o pipefail -c '"+strings.ReplaceAll(script, "'", `'\''`)+"'")
}

// replay sends a pcap into ifname with tcpreplay at rate (such as
// "--topspeed" or "--pps=20000").
func (n netns) replay(t *testing.T, ifname, pcap, rate string) {
	t.Helper()
	if out, err := n.Command(context.Background(), "tcpreplay", "--quiet", rate, "-i", ifname, pcap).CombinedOutput(); err != nil {
		t.Fatalf("tcpreplay into %s: %v\n%s", ifname, err, out)
	}
}

// writePcap writes n generated frames to path and returns them.
func writePcap(t *testing.T, path string, n int) []ringbuftest.Packet {
	t.Helper()
	pkts := ringbuftest.Generate(trafficgen.Config{Clients: 50, Servers: 8}, n)
	if err := ringbuftest.WritePcap(path, pkts); err != nil {
		t.Fatal(err)
	}
	return pkts
}

// tsharkFrames returns the frames of in that tshark's display filter
// selects.
func tsharkFrames(t *testing.T, in, display string) []ringbuftest.Packet {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tshark.pcap")
	peertest.TsharkSelect(t, in, display, out)
	return readFrames(t, out)
}

func readFrames(t *testing.T, path string) []ringbuftest.Packet {
	t.Helper()
	p, err := ringbuftest.ReadPcap(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// sameFrames compares frames byte for byte and in order, with their
// original lengths; timestamps are the receiving port's, not the file's.
func sameFrames(t *testing.T, what string, want, got []ringbuftest.Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d packets; want %d", what, len(got), len(want))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		if string(w.Frame) != string(g.Frame) || w.OrigLen != g.OrigLen {
			t.Errorf("%s: packet %d is %d/%d bytes %x...; want %d/%d bytes %x...", what, i,
				len(g.Frame), g.OrigLen, g.Frame[:min(16, len(g.Frame))], len(w.Frame), w.OrigLen, w.Frame[:min(16, len(w.Frame))])
			return
		}
	}
}

// cutFrames is what a snap-length rule of n bytes records.
func cutFrames(pkts []ringbuftest.Packet, n int) []ringbuftest.Packet {
	out := make([]ringbuftest.Packet, len(pkts))
	for i, p := range pkts {
		p.OrigLen = uint32(len(p.Frame))
		p.Frame = p.Frame[:min(n, len(p.Frame))]
		out[i] = p
	}
	return out
}

// TestMonitorPorts runs the binary on veth monitor ports in a network
// namespace, as the appliance runs on its ports: a sink port feeding the
// statistics and the ring buffer, and a bridged pair forwarding frames.
// An operator then pulls pcaps with curl (from the ring buffer, live, to
// the storage device), changes the ring buffer's rules and the bridge
// mode at run time; tshark and tcpdump judge the results.
func TestMonitorPorts(t *testing.T) {
	peertest.Need(t, "ip", "tcpreplay", "tcpdump", "tshark", "curl", "jq", "bash")
	ns := newNetns(t, [2]string{"a0", "a1"}, [2]string{"p0", "p1"}, [2]string{"q0", "q1"})
	bin := buildBinary(t)
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.pcap")
	const nPackets = 3000
	writePcap(t, in, nPackets)

	d := startWith(t, ns.exec(), bin, filepath.Join(dir, "data"),
		"--admin-password", "admin-password-1", "--iface", "a1", "--bridge", "p1,q1", "--storage", storage)
	base := "https://" + d.https
	admin := "curl --silent --show-error -k -u admin:admin-password-1 "
	analyst := "curl --silent --show-error -k -u analyst:analyst-password "
	ns.sh(t, admin+`'`+base+`/API/system/users' -d '{"name":"analyst","password":"analyst-password","roles":["stats","pcap"]}' -o /dev/null`)
	ns.sh(t, admin+`'`+base+`/API/system/users' -d '{"name":"viewer","password":"viewer-password","roles":["stats"]}' -o /dev/null`)

	recorded := func() int {
		n, _ := strconv.Atoi(ns.sh(t, admin+`'`+base+`/API/system/ringbuffer/stats' | jq '.buffers[0].packets + .buffers[0].ignoredPackets'`))
		return n
	}
	// waitRecorded waits until the ring buffer has seen want packets.
	waitRecorded := func(want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for recorded() < want {
			if time.Now().After(deadline) {
				t.Fatalf("the ring buffer saw %d packets; want %d\n%s", recorded(), want, d.log())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	nowMicros := func() int64 { return time.Now().UnixMicro() }
	// fromBuffer extracts from the ring buffer until the answer has want
	// packets (the open segment is searchable within 2 s) or 10 s passed.
	fromBuffer := func(name, query string, want int) []ringbuftest.Packet {
		t.Helper()
		out := filepath.Join(dir, name+".pcap")
		deadline := time.Now().Add(10 * time.Second)
		for {
			ns.sh(t, analyst+`-o `+out+` '`+base+`/API/data/modules/capture?fromCaptureBuffer=true&`+query+`'`)
			got := readFrames(t, out)
			if len(got) >= want || time.Now().After(deadline) {
				return got
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	var firstWindow string // the first replay's, with what tshark selects in it
	var firstHost []ringbuftest.Packet
	t.Run("sink port: statistics, ring buffer and extraction", func(t *testing.T) {
		// A live capture of one host, running while the traffic comes.
		liveOut := filepath.Join(dir, "live.pcap")
		live := exec.Command("ip", append(ns.exec()[1:], "curl", "--silent", "-k", "-u", "analyst:analyst-password", "-o", liveOut,
			base+"/API/data/modules/capture?expression=ip==10.2.0.1&endTime="+strconv.FormatInt(nowMicros()+120e6, 10))...)
		if err := live.Start(); err != nil {
			t.Fatal(err)
		}
		var liveID string
		for range 100 {
			liveID = ns.sh(t, analyst+`'`+base+`/API/data/modules/capture/captures' | jq -r '[.captures[] | select(.state == "running")][0].id // empty'`)
			if liveID != "" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if liveID == "" {
			t.Fatalf("the live capture is not listed as running:\n%s", ns.sh(t, analyst+`'`+base+`/API/data/modules/capture/captures'`))
		}

		start := nowMicros()
		ns.replay(t, "a0", in, "--topspeed")
		waitRecorded(nPackets)
		end := nowMicros() + 1

		// Every packet counted on its port, none dropped.
		port := ns.sh(t, admin+`'`+base+`/API/system/interfaces' | jq -c '.interfaces[] | select(.name == "a1")'`)
		if !strings.Contains(port, `"name":"a1"`) {
			t.Errorf("/API/system/interfaces has no a1: %s", port)
		}
		// The same keys as /API/stats/interfaces, which the UI reads too.
		if !regexp.MustCompile(`"notProcessedDueToOverload":\{"packets":\d+,"bytes":\d+\}`).MatchString(port) {
			t.Errorf("/API/system/interfaces: a1 has no notProcessedDueToOverload {packets, bytes}: %s", port)
		}
		if got := ns.sh(t, admin+`'`+base+`/API/system/ringbuffer/stats' | jq -c '.buffers[0] | [.packets, .droppedPackets]'`); got != fmt.Sprintf("[%d,0]", nPackets) {
			t.Errorf("ring buffer [packets, dropped] = %s; want [%d,0]", got, nPackets)
		}
		stats := ns.sh(t, analyst+`'`+base+`/API/stats/modules/ip/ips/10.2.0.1?skiphistorydata=true' | jq -c '.allTime[0] + .allTime[2]'`)
		wantHost := tsharkFrames(t, in, "ip.addr==10.2.0.1")
		if stats != strconv.Itoa(len(wantHost)) {
			t.Errorf("statistics of 10.2.0.1: %s packets; tshark %d", stats, len(wantHost))
		}

		window := fmt.Sprintf("startTime=%d&endTime=%d", start, end)
		firstWindow, firstHost = window, wantHost
		sameFrames(t, "ring buffer, ip==10.2.0.1", wantHost, fromBuffer("host", window+"&expression=ip==10.2.0.1", len(wantHost)))
		wantTCP := tsharkFrames(t, in, "tcp && ip.addr==10.2.0.1 && tcp.port==443")
		sameFrames(t, "ring buffer, host, TCP and port", wantTCP,
			fromBuffer("tcp443", window+"&expression=ip==10.2.0.1%20and%20l4Protocol==TCP%20and%20port==443", len(wantTCP)))
		sameFrames(t, "ring buffer, everything", readFrames(t, in), fromBuffer("all", window, nPackets))
		sameFrames(t, "ring buffer, snapPacketLength=100", cutFrames(wantHost, 100),
			fromBuffer("snap", window+"&expression=ip==10.2.0.1&snapPacketLength=100", len(wantHost)))
		if got := fromBuffer("before", fmt.Sprintf("startTime=%d&endTime=%d", start-60e6, start), 0); len(got) != 0 {
			t.Errorf("the minute before the traffic: %d packets; want none", len(got))
		}

		// The live capture has the same packets; stopping it ends the download.
		ns.sh(t, analyst+`-X POST -o /dev/null '`+base+`/API/data/modules/capture/captures/`+liveID+`/stop'`)
		if err := live.Wait(); err != nil {
			t.Errorf("live capture download: %v", err)
		}
		sameFrames(t, "live capture, ip==10.2.0.1", wantHost, readFrames(t, liveOut))
		capture := ns.sh(t, analyst+`'`+base+`/API/data/modules/capture/captures' | jq -c '.captures[] | select(.id == `+liveID+`) | [.state, .captured]'`)
		if want := fmt.Sprintf(`["stopped",%d]`, len(wantHost)); capture != want {
			t.Errorf("the live capture in the list = %s; want %s", capture, want)
		}

		// captureToMedia writes the pcap to the storage device instead.
		name := ns.sh(t, analyst+`'`+base+`/API/data/modules/capture?fromCaptureBuffer=true&captureToMedia=true&`+window+`&expression=ip==10.2.0.1' | jq -r .fileName`)
		media := filepath.Join(dir, "media.pcap")
		ns.sh(t, analyst+`-o `+media+` '`+base+`/API/data/modules/capture/files/`+name+`'`)
		sameFrames(t, "captureToMedia "+name, wantHost, readFrames(t, media))

		// Bad requests change nothing and say what is wrong.
		if got := ns.sh(t, analyst+`'`+base+`/API/data/modules/capture?fromCaptureBuffer=true&expression=ip==10.2.0.1%20and' | jq -c .status`); got != "400" {
			t.Errorf("a broken expression: status %s; want 400", got)
		}
		viewer := "curl --silent -k -o /dev/null -w '%{http_code}' -u viewer:viewer-password "
		for _, path := range []string{"/API/data/modules/capture?fromCaptureBuffer=true", "/API/data/modules/capture/captures", "/API/system/ringbuffer"} {
			if got := ns.sh(t, viewer+`'`+base+path+`'`); got != "403" {
				t.Errorf("a statistics-only user GET %s = %s; want 403", path, got)
			}
		}
	})

	t.Run("ring buffer rules change at run time", func(t *testing.T) {
		before := recorded()
		ns.sh(t, admin+`-X PUT -o /dev/null '`+base+`/API/system/ringbuffer/buffers/0/rules' -d '{"rules":[`+
			`{"condition":"port","value":"53","action":"discard"},{"condition":"all","action":"snap","length":64}]}'`)
		if got := ns.sh(t, admin+`'`+base+`/API/system/ringbuffer' | jq -c '.buffers[0].rules | length'`); got != "2" {
			t.Errorf("rules after PUT: %s; want 2", got)
		}
		start := nowMicros()
		ns.replay(t, "a0", in, "--topspeed")
		waitRecorded(before + nPackets)
		window := fmt.Sprintf("startTime=%d&endTime=%d", start, nowMicros()+1)
		if got := fromBuffer("dns", window+"&expression=port==53", 0); len(got) != 0 {
			t.Errorf("port 53 after the discard rule: %d packets; want none", len(got))
		}
		want := cutFrames(tsharkFrames(t, in, "ip.addr==10.2.0.1 && !(udp.port==53 || tcp.port==53)"), 64)
		sameFrames(t, "ring buffer after the rules, ip==10.2.0.1", want, fromBuffer("cut", window+"&expression=ip==10.2.0.1", len(want)))
		// A rule with a mistake is refused and the rules stay.
		if got := ns.sh(t, admin+`-X PUT '`+base+`/API/system/ringbuffer/buffers/0/rules' -d '{"rules":[{"condition":"ip","value":"10.1.2.300","action":"full"}]}' | jq -c .status`); got != "400" {
			t.Errorf("a rule with a bad address: status %s; want 400", got)
		}
		if got := ns.sh(t, admin+`'`+base+`/API/system/ringbuffer' | jq -c '[.buffers[0].rules[].action]'`); got != `["discard","snap"]` {
			t.Errorf("rules after a refused PUT: %s; want the previous ones", got)
		}
	})

	t.Run("bridged pair forwards every frame, sink mode does not", func(t *testing.T) {
		if got := ns.sh(t, admin+`'`+base+`/API/system/interfaces/mode' | jq -r .mode`); got != "bridge" {
			t.Errorf("mode with --bridge = %s; want bridge", got)
		}
		// A pace tcpdump keeps up with: forwarding speed is make bench-live's.
		fwd := filepath.Join(dir, "forwarded.pcap")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		td, err := ns.StartTcpdump(ctx, "q0", fwd, nPackets)
		if err != nil {
			t.Fatal(err)
		}
		ns.replay(t, "p0", in, "--pps=20000")
		td.Wait() // it exits after nPackets, or at the timeout with fewer
		sameFrames(t, "frames out of q1", readFrames(t, in), readFrames(t, fwd))
		if t.Failed() {
			t.Logf("ports: %s", ns.sh(t, admin+`'`+base+`/API/system/interfaces'`))
		}

		ns.sh(t, admin+`-X PUT -o /dev/null '`+base+`/API/system/interfaces/mode' -d '{"mode":"sink"}'`)
		if td, err = ns.StartTcpdump(ctx, "q0", fwd, 0); err != nil {
			t.Fatal(err)
		}
		before := recorded()
		ns.replay(t, "p0", in, "--pps=20000")
		waitRecorded(before + nPackets)
		time.Sleep(1500 * time.Millisecond) // tcpdump's ring hands over a block after a second
		td.Stop()
		if got := readFrames(t, fwd); len(got) != 0 {
			t.Errorf("sink mode forwarded %d frames; want none", len(got))
		}
	})
	outer := t // the restarted daemon outlives the subtest
	t.Run("a restart keeps the recorded packets, the rules and the mode", func(t *testing.T) {
		d.stop(t)
		d = startWith(outer, ns.exec(), bin, filepath.Join(dir, "data"),
			"--iface", "a1", "--bridge", "p1,q1", "--storage", storage)
		base = "https://" + d.https
		if got := ns.sh(t, admin+`'`+base+`/API/system/ringbuffer' | jq -c '[.buffers[0].rules[].action]'`); got != `["discard","snap"]` {
			t.Errorf("rules after a restart: %s; want the ones set before", got)
		}
		if got := ns.sh(t, admin+`'`+base+`/API/system/interfaces/mode' | jq -r .mode`); got != "sink" {
			t.Errorf("mode after a restart = %s; want sink, as set before", got)
		}
		sameFrames(t, "the first replay's host from the buffer after a restart", firstHost,
			fromBuffer("restarted", firstWindow+"&expression=ip==10.2.0.1", len(firstHost)))
	})
	t.Run("SIGKILL while recording loses no flushed packet", func(t *testing.T) {
		ns.sh(t, admin+`-X PUT -o /dev/null '`+base+`/API/system/ringbuffer/buffers/0/rules' -d '{"rules":[]}'`)
		start := nowMicros()
		replay := ns.Command(context.Background(), "tcpreplay", "--quiet", "--pps=1000", "-i", "a0", in)
		if err := replay.Start(); err != nil {
			t.Fatal(err)
		}
		defer replay.Wait()
		var flushed int
		for deadline := time.Now().Add(30 * time.Second); flushed < nPackets/3; time.Sleep(50 * time.Millisecond) {
			flushed, _ = strconv.Atoi(ns.sh(t, admin+`'`+base+`/API/system/ringbuffer/stats' | jq '.buffers[0].flushedPackets'`))
			if time.Now().After(deadline) {
				t.Fatalf("%d packets flushed after 30 s", flushed)
			}
		}
		d.cmd.Process.Kill()
		<-d.exited
		replay.Wait()
		d = startWith(outer, ns.exec(), bin, filepath.Join(dir, "data"),
			"--iface", "a1", "--bridge", "p1,q1", "--storage", storage)
		base = "https://" + d.https
		got := fromBuffer("killed", fmt.Sprintf("startTime=%d&endTime=%d", start, nowMicros()), flushed)
		if len(got) < flushed {
			t.Errorf("after SIGKILL the buffer has %d packets of the replay; %d were acknowledged as flushed", len(got), flushed)
		}
		t.Logf("%d of %d packets acknowledged as flushed before SIGKILL; %d recovered", flushed, nPackets, len(got))
		// What survived is the replay's beginning, whole and in order.
		sameFrames(t, "packets recorded before SIGKILL", readFrames(t, in)[:min(len(got), nPackets)], got)
	})
	d.stop(t)
}
