package trafficgen

import (
	"github.com/multimeter-fw/multimeter/tools/peertest"

	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

func TestDeterministic(t *testing.T) {
	var a, b bytes.Buffer
	if err := WritePcap(&a, New(Config{Seed: 9}), 5000); err != nil {
		t.Fatal(err)
	}
	if err := WritePcap(&b, New(Config{Seed: 9}), 5000); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed produced different captures")
	}
}

// The first of WritePasses' passes is WritePcap's capture; the next
// starts the gap after it, in conversations of its own (another seed).
func TestPassesFollowOneAnother(t *testing.T) {
	var one, three bytes.Buffer
	cfg := Config{Seed: 3}
	if err := WritePcap(&one, New(cfg), 4000); err != nil {
		t.Fatal(err)
	}
	if err := WritePasses(&three, cfg, 4000, 3, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if three.Len() < 2*one.Len() || !bytes.Equal(one.Bytes(), three.Bytes()[:one.Len()]) {
		t.Fatalf("the first pass (%d of %d bytes) is not WritePcap's capture", one.Len(), three.Len())
	}
	r, err := pcapgo.NewReader(&three)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for i := range 3 * 4000 {
		_, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if i%4000 == 0 && i > 0 && ci.Timestamp.Sub(last) < 5*time.Second {
			t.Fatalf("pass %d starts %v after the one before ends; want the 5 s gap", i/4000, ci.Timestamp.Sub(last))
		}
		last = ci.Timestamp
	}
}

// TestTsharkAgrees has tshark check what we generate: valid checksums,
// no malformed headers, and every kind of traffic the mix promises.
func TestTsharkAgrees(t *testing.T) {
	peertest.Need(t, "tshark")
	p := filepath.Join(t.TempDir(), "mix.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePcap(f, New(Config{Seed: 4}), 20000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	count := func(filter string) int {
		out, err := exec.Command("tshark", "-r", p,
			"-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
			"-Y", filter).Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", filter, err)
		}
		return strings.Count(string(out), "\n")
	}
	bad := "ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 || icmp.checksum.status==0 || icmpv6.checksum.status==0"
	if n := count(bad); n != 0 {
		t.Errorf("%d frames with bad checksums", n)
	}
	for _, filter := range []string{
		"tcp.flags.syn==1 && tcp.flags.ack==0", "tcp.flags.syn==1 && tcp.flags.ack==1", "tcp.flags.fin==1", "tcp.flags.reset==1",
		"tcp.analysis.retransmission", "tcp.analysis.zero_window",
		"dns.flags.response==0", "dns.flags.rcode==0 && dns.a", "dns.flags.rcode==3", "dns.aaaa",
		"dhcp.option.hostname", "arp.opcode==1", "arp.opcode==2", "icmp.type==8", "icmpv6.type==129",
		"vlan.id==100", "ipv6", "http.request", "tls.handshake.extensions_server_name", "ssh",
	} {
		if count(filter) == 0 {
			t.Errorf("no frame matches %q", filter)
		}
	}
}

// TestEnterpriseMix has tshark and capinfos check the enterprise mix: valid
// checksums, full-size segments, and an average frame of 700 to 900 bytes.
func TestEnterpriseMix(t *testing.T) {
	peertest.Need(t, "tshark", "capinfos")
	p := filepath.Join(t.TempDir(), "enterprise.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePcap(f, New(Config{Seed: 4, BulkShare: EnterpriseBulkShare}), 20000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	count := func(filter string) int {
		out, err := exec.Command("tshark", "-r", p, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
			"-Y", filter).Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", filter, err)
		}
		return strings.Count(string(out), "\n")
	}
	if n := count("ip.checksum.status==0 || tcp.checksum.status==0"); n != 0 {
		t.Errorf("%d frames with bad checksums", n)
	}
	if n := count("frame.len==1514 && tcp.len==1460"); n == 0 {
		t.Error("no full-size TCP segment")
	}
	out, err := exec.Command("capinfos", "-M", "-z", p).Output()
	if err != nil {
		t.Fatalf("capinfos -z: %v", err)
	}
	_, avg, _ := strings.Cut(string(out), "Average packet size:")
	var size float64
	if _, err := fmt.Sscan(avg, &size); err != nil || size < 700 || size > 900 {
		t.Errorf("capinfos average packet size = %q; want 700 to 900 bytes", strings.TrimSpace(avg))
	}
}
