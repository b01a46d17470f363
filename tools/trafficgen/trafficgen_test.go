package trafficgen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// TestTsharkAgrees has tshark check what we generate: valid checksums,
// no malformed headers, and every kind of traffic the mix promises.
func TestTsharkAgrees(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark missing under CI")
		}
		t.Skip("tshark not installed")
	}
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
