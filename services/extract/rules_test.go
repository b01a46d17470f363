package extract

import (
	"encoding/xml"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// headerEnds asks tshark (PDML) where each packet's L3 and L4 headers
// end: the end of its ip/ipv6 and tcp/udp protocol items.
func headerEnds(t *testing.T, in string) (l3, l4 []int) {
	t.Helper()
	cmd := exec.Command("tshark", "-r", in, "-T", "pdml", "-j", "frame")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(out)
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("tshark pdml: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			if tok.Name.Local == "packet" {
				l3, l4 = append(l3, 0), append(l4, 0)
			}
			if tok.Name.Local != "proto" || depth != 3 {
				continue
			}
			var name string
			var pos, size int
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "name":
					name = a.Value
				case "pos":
					pos, _ = strconv.Atoi(a.Value)
				case "size":
					size, _ = strconv.Atoi(a.Value)
				}
			}
			i := len(l3) - 1
			switch name {
			case "ip", "ipv6":
				if l3[i] == 0 {
					l3[i] = pos + size
				}
			case "tcp", "udp":
				if l4[i] == 0 {
					l4[i] = pos + size
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tshark pdml: %v", err)
	}
	return l3, l4
}

// tsharkFrames returns the (0-based) numbers of the frames a display
// filter selects.
func tsharkFrames(t *testing.T, in, filter string) map[int]bool {
	t.Helper()
	out := peertest.Tshark(t, "-r", in, "-Y", filter, "-T", "fields", "-e", "frame.number")
	set := map[int]bool{}
	for _, l := range strings.Fields(string(out)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("tshark frame number %q", l)
		}
		set[n-1] = true
	}
	return set
}

// TestRulesMatchTshark records through a rule list and checks every kept
// packet's length against the headers tshark finds, and what is dropped
// against tshark's selection of each rule's condition.
func TestRulesMatchTshark(t *testing.T) {
	peertest.Need(t, "tshark")
	dir := t.TempDir()
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 23, Clients: 40, Servers: 10, VLANShare: 0.3}, 6000)
	in := filepath.Join(dir, "in.pcap")
	if err := ringbuftest.WritePcap(in, pkts); err != nil {
		t.Fatal(err)
	}
	type rule struct {
		r       ringbuf.Rule
		display string
	}
	rules := []rule{
		{ringbuf.Rule{Condition: ringbuf.CondIP, Value: "10.1.0.5", Action: ringbuf.ActionDiscard}, "ip.addr==10.1.0.5"},
		{ringbuf.Rule{Condition: ringbuf.CondPort, Value: "53", Action: ringbuf.ActionL4Data, Length: 12}, "tcp.port==53 || udp.port==53"},
		{ringbuf.Rule{Condition: ringbuf.CondVLAN, Value: "100", Action: ringbuf.ActionL3}, "vlan.id==100"},
		{ringbuf.Rule{Condition: ringbuf.CondPort, Value: "443", Action: ringbuf.ActionL4}, "tcp.port==443 || udp.port==443"},
		{ringbuf.Rule{Condition: ringbuf.CondIP, Value: "10.2.0.0/24", Negate: true, Action: ringbuf.ActionSnap, Length: 64}, "!(ip.addr==10.2.0.0/24)"},
	}
	cfg := smallBuffer(t, 1)
	for _, r := range rules {
		cfg.Rules = append(cfg.Rules, r.r)
	}
	b := openBuffer(t, cfg)
	defer b.Close()
	ringbuftest.Replay(b, pkts, 2)
	b.WriteOut()
	got := filepath.Join(dir, "got.pcap")
	searchToFile(t, b.Snapshot(), Query{}, FormatPcap, got, WholePacket)

	l3, l4 := headerEnds(t, in)
	sel := make([]map[int]bool, len(rules))
	for i, r := range rules {
		sel[i] = tsharkFrames(t, in, r.display)
	}
	var want []ringbuftest.Packet
	for i, p := range pkts {
		n := len(p.Frame)
		keep := true
		for j, r := range rules {
			if !sel[j][i] {
				continue
			}
			switch r.r.Action {
			case ringbuf.ActionDiscard:
				keep = false
			// A cut at a header the packet lacks (ARP has no L3 header
			// for tshark's ip) keeps it whole.
			case ringbuf.ActionL4Data:
				if l4[i] > 0 {
					n = min(n, l4[i]+r.r.Length)
				}
			case ringbuf.ActionL3:
				if l3[i] > 0 {
					n = min(n, l3[i])
				}
			case ringbuf.ActionL4:
				if l4[i] > 0 {
					n = min(n, l4[i])
				}
			case ringbuf.ActionSnap:
				n = min(n, r.r.Length)
			}
			break
		}
		if keep {
			want = append(want, ringbuftest.Packet{Frame: p.Frame[:n], Timestamp: p.Timestamp, OrigLen: p.OrigLen})
		}
	}
	samePackets(t, "rules", want, readPcap(t, got))
	st := b.Stats()
	if st.IgnoredPackets != uint64(len(pkts)-len(want)) || st.TruncatedPackets == 0 {
		t.Errorf("Stats() = %+v; want %d ignored and some truncated", st, len(pkts)-len(want))
	}

	// snapPacketLength of an extraction is editcap -s.
	peertest.Need(t, "editcap")
	snapped := filepath.Join(dir, "snapped.pcap")
	if out, err := exec.Command("editcap", "-s", "100", got, snapped).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v\n%s", err, out)
	}
	got100 := filepath.Join(dir, "got100.pcap")
	searchToFile(t, b.Snapshot(), Query{}, FormatPcap, got100, 100)
	samePackets(t, "snapPacketLength=100", readPcap(t, snapped), readPcap(t, got100))
}
