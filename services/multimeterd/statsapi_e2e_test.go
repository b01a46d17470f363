package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// The addresses the manual's examples name. The generated capture has
// two busy hosts renamed to them, so that every example runs as printed.
var (
	wikiClient = netip.MustParseAddr("10.1.2.3")    // was client 10.1.0.1
	wikiServer = netip.MustParseAddr("10.54.0.254") // was server 10.2.0.1
)

// The virtual link group the test configures: VLAN 10 is group 1,
// everything else the default group 0.
const (
	group1Filter = "vlan.id == 10"
	group0Filter = "!(vlan.id == 10)"
)

// TestWikiExamplesAgainstTshark runs every statistics example of the
// manual's REST API page (reference/rest-api-description.wiki) with curl
// and jq, exactly as printed but for host, user and password, against
// multimeterd replaying a generated capture, and checks each answer
// against tshark's figures for the same capture.
func TestWikiExamplesAgainstTshark(t *testing.T) {
	peertest.Need(t, "curl", "jq", "bash", "tshark")
	if testing.Short() {
		t.Skip("builds the daemon and runs tshark")
	}
	dir := t.TempDir()
	// The capture ran in the last half hour, so that the example asking
	// for the last 24 hours (with date) selects all of it.
	capStart := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	pcap := filepath.Join(dir, "mix.pcap")
	writeWikiCapture(t, pcap, capStart)
	if err := os.Mkdir(filepath.Join(dir, "path_to"), 0o700); err != nil {
		t.Fatal(err)
	}
	analysis := filepath.Join(dir, "analysis.json")
	if err := os.WriteFile(analysis, []byte(`{"groups":[{"name":"vlan10","vlans":[10]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	bin := buildBinary(t)
	d := start(t, bin, filepath.Join(dir, "data"), "--admin-password", "wiki-password", "--replay", pcap, "--analysis", analysis)
	defer d.stop(t)
	host := d.https
	// As in the manual; only host, user and password differ.
	curl := func(cmd string) string {
		t.Helper()
		cmd = strings.ReplaceAll(cmd, "USER:PASSWORD", "admin:wiki-password")
		cmd = strings.ReplaceAll(cmd, "https://allegro-mm-XXXX/", "https://"+host+"/")
		cmd = strings.ReplaceAll(cmd, "https://allegro-mm/", "https://"+host+"/")
		return sh(t, "cd "+dir+" && "+cmd)
	}
	waitFinished(t, curl)
	lastSecond := parseInt(t, curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/time' | jq .lastSecond`))
	if lastSecond < capStart.Unix() {
		t.Fatalf("lastSecond %d is before the capture's start %d", lastSecond, capStart.Unix())
	}
	inLastSecond := fmt.Sprintf("frame.time_epoch >= %d && frame.time_epoch < %d", lastSecond, lastSecond+1)

	ts := newTshark(pcap)
	all0 := ts.endpoints(t, group0Filter)
	last0 := ts.endpoints(t, group0Filter+" && "+inLastSecond)
	last1 := ts.endpoints(t, group1Filter+" && "+inLastSecond)
	all1 := ts.endpoints(t, group1Filter)
	t.Logf("tshark: 10.1.2.3 %+v, last second %+v; 10.54.0.254 %+v, last second %+v; group 1: %+v, last second %+v",
		all0[wikiClient], last0[wikiClient], all0[wikiServer], last0[wikiServer], all1[wikiServer], last1[wikiServer])
	if all0[wikiClient].packets() == 0 || all0[wikiServer].packets() == 0 || all1[wikiServer].packets() == 0 {
		t.Fatalf("the capture lacks the example hosts: %v %v, group 1: %v", all0[wikiClient], all0[wikiServer], all1[wikiServer])
	}

	t.Run("OPTIONS", func(t *testing.T) {
		got := jsonList(t, curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats' -X OPTIONS | jq -c .subResources`))
		for _, want := range []string{"modules", "time", "pcap", "reset", "interfacesError", "interfaces", "load", "processing"} {
			if !slices.Contains(got, want) {
				t.Errorf("OPTIONS /API/stats = %v; want %q among them", got, want)
			}
		}
		got = jsonList(t, curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules' -X OPTIONS | jq -c .subResources`))
		for _, want := range []string{"ip", "mac", "l4_ports", "dpi", "dns", "dhcp", "arp", "icmp", "vlan", "mpls", "qos", "packet_size", "mac_protocols", "sip", "tcp", "interfaces"} {
			if !slices.Contains(got, want) {
				t.Errorf("OPTIONS /API/stats/modules = %v; want %q among them", got, want)
			}
		}
		if got := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips' -X OPTIONS | jq -c .subResources`); got != `["protocol",":ip"]` {
			t.Errorf("OPTIONS .../ip/ips = %s; want [\"protocol\",\":ip\"]", got)
		}
		got = jsonList(t, curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.0.54.254' -X OPTIONS | jq -c .subResources`))
		for _, want := range []string{"peers", "ports", "connections", "protocols", "macs", "tcpStats", "peers_ports"} {
			if !slices.Contains(got, want) {
				t.Errorf("OPTIONS .../ips/10.0.54.254 = %v; want %q among them", got, want)
			}
		}
	})

	t.Run("counters of the last second", func(t *testing.T) {
		want := last0[wikiClient]
		if got := parseInt(t, curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3' | jq .lastSecond[1]`)); got != int64(want.rxBytes) {
			t.Errorf(".lastSecond[1] of 10.1.2.3 = %d; tshark: %d received bytes in second %d", got, want.rxBytes, lastSecond)
		}
		if got := parseInt(t, curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3' | jq '.lastSecond[1] + .lastSecond[3]'`)); got != int64(want.rxBytes+want.txBytes) {
			t.Errorf(".lastSecond[1] + .lastSecond[3] of 10.1.2.3 = %d; tshark: %d", got, want.rxBytes+want.txBytes)
		}
		want = last0[wikiServer]
		if got := parseInt(t, curl(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254" | jq '.interval[1] + .interval[3]'`)); got != int64(want.rxBytes+want.txBytes) {
			t.Errorf("no interval: .interval[1] + .interval[3] of 10.54.0.254 = %d; tshark: %d bytes in the last second", got, want.rxBytes+want.txBytes)
		}
	})

	t.Run("last 24 hours", func(t *testing.T) {
		want := all0[wikiServer]
		got := parseInt(t, curl(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254?starttime=$(date --date="1 day ago" +%s)&endtime=$(date +%s)&skiphistorydata=true" | jq '.interval[1] + .interval[3]'`))
		if got != int64(want.rxBytes+want.txBytes) {
			t.Errorf("24 h interval of 10.54.0.254 = %d bytes; tshark: %d", got, want.rxBytes+want.txBytes)
		}
		// An interval inside the capture, picked from its clock.
		from, to := capStart.Unix()+3, capStart.Unix()+7
		part := ts.endpoints(t, fmt.Sprintf("%s && frame.time_epoch >= %d && frame.time_epoch < %d", group0Filter, from, to))[wikiServer]
		got = parseInt(t, curl(fmt.Sprintf(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254?starttime=%d&endtime=%d" | jq '.interval[1] + .interval[3]'`, from, to)))
		if got != int64(part.rxBytes+part.txBytes) {
			t.Errorf("interval [%d, %d) of 10.54.0.254 = %d bytes; tshark: %d", from, to, got, part.rxBytes+part.txBytes)
		}
		perSecond := parseInt(t, curl(fmt.Sprintf(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254?starttime=%d&endtime=%d" | jq '.intervalPerSecond[1] + .intervalPerSecond[3]'`, from, to)))
		if lo, hi := int64(part.rxBytes+part.txBytes)/(to-from)-1, int64(part.rxBytes+part.txBytes)/(to-from); perSecond < lo || perSecond > hi {
			t.Errorf("intervalPerSecond bytes = %d; want %d / %d s", perSecond, part.rxBytes+part.txBytes, to-from)
		}
	})

	t.Run("top talker", func(t *testing.T) {
		got := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&page=0&count=1' | jq .displayedItems[0].ip`)
		addr, err := netip.ParseAddr(strings.Trim(got, `"`))
		if err != nil {
			t.Fatalf("top talker = %s: %v", got, err)
		}
		var best uint64
		for _, e := range last0 {
			best = max(best, e.rxBytes+e.txBytes)
		}
		if b := last0[addr].rxBytes + last0[addr].txBytes; b != best || best == 0 {
			t.Errorf("top talker %s moved %d bytes in the last second; tshark's top talker moved %d", addr, b, best)
		}
	})

	t.Run("peers", func(t *testing.T) {
		out := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3/peers?sort=bytes&reverse=true&page=0&count=9999&timespan=60&values=100' | jq '.displayedItems[].ip'`)
		var got []string
		for _, l := range strings.Fields(out) {
			got = append(got, strings.Trim(l, `"`))
		}
		want := ts.peers(t, group0Filter, wikiClient)
		slices.Sort(want)
		t.Logf("%d peers", len(want))
		gotSorted := slices.Sorted(slices.Values(got))
		if !slices.Equal(gotSorted, want) {
			t.Errorf("peers of 10.1.2.3 = %v; tshark's conversations: %v", gotSorted, want)
		}
		// sort=bytes&reverse=true: the biggest conversation first.
		if len(got) > 1 {
			first, _ := netip.ParseAddr(got[0])
			bytesWith := ts.pairBytes(t, group0Filter, wikiClient)
			for peer, b := range bytesWith {
				if b > bytesWith[first] {
					t.Errorf("first peer %s exchanged %d bytes, but %s exchanged %d", first, bytesWith[first], peer, b)
				}
			}
		}
	})

	t.Run("virtual link group", func(t *testing.T) {
		want := last1[wikiServer]
		got := parseInt(t, curl(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254?group=1" | jq '.interval[1] + .interval[3]'`))
		if got != int64(want.rxBytes+want.txBytes) {
			t.Errorf("group 1, last second: 10.54.0.254 = %d bytes; tshark (%s): %d", got, group1Filter, want.rxBytes+want.txBytes)
		}
		whole := all1[wikiServer]
		got = parseInt(t, curl(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254?group=1" | jq '.allTime[1] + .allTime[3]'`))
		if got != int64(whole.rxBytes+whole.txBytes) {
			t.Errorf("group 1, all time: 10.54.0.254 = %d bytes; tshark (%s): %d", got, group1Filter, whole.rxBytes+whole.txBytes)
		}
		if got := curl(`curl --silent -k -u USER:PASSWORD "https://allegro-mm/API/stats/modules/ip/ips/10.54.0.254?group=2" | jq -c '[.status, .param]'`); got != `[400,"group"]` {
			t.Errorf("group=2 (not configured) = %s; want a 400 naming group", got)
		}
	})

	t.Run("MAC broadcast", func(t *testing.T) {
		out := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/mac/macs/ff:ff:ff:ff:ff:ff'`)
		var m struct {
			MAC     string
			AllTime [4]uint64
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		packets, bytes := ts.frames(t, group0Filter+" && eth.dst == ff:ff:ff:ff:ff:ff")
		if want := [4]uint64{packets, bytes, 0, 0}; m.MAC != "ff:ff:ff:ff:ff:ff" || m.AllTime != want {
			t.Errorf("broadcast MAC %s allTime = %v; tshark: %v", m.MAC, m.AllTime, want)
		}
	})

	t.Run("IP statistics and pretty printing", func(t *testing.T) {
		out := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3'`)
		var ip struct {
			IP      string
			AllTime [4]uint64
			History struct{ Datasets [][4]uint64 }
		}
		if err := json.Unmarshal([]byte(out), &ip); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		w := all0[wikiClient]
		if want := [4]uint64{w.rxPackets, w.rxBytes, w.txPackets, w.txBytes}; ip.IP != "10.1.2.3" || ip.AllTime != want {
			t.Errorf("10.1.2.3: ip %q allTime %v; tshark %v", ip.IP, ip.AllTime, want)
		}
		var sum [4]uint64
		for _, d := range ip.History.Datasets {
			for i := range sum {
				sum[i] += d[i]
			}
		}
		if sum != ip.AllTime {
			t.Errorf("history datasets of 10.1.2.3 add up to %v; allTime %v", sum, ip.AllTime)
		}
		if pretty := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm-XXXX/API/stats/modules/ip/ips/10.1.2.3' | jq`); !strings.Contains(pretty, `"ip": "10.1.2.3"`) {
			t.Errorf("| jq: %.200s", pretty)
		}
	})

	t.Run("IP table as CSV", func(t *testing.T) {
		curl(`curl -k -u USER:PASSWORD 'https://allegro-mm-XXXX/API/stats/modules/ip/ips_paged?csv=true' > path_to/file.csv`)
		rows := readCSV(t, filepath.Join(dir, "path_to", "file.csv"))
		t.Logf("%d IPs", len(rows))
		if len(rows) != len(all0) {
			t.Errorf("ips_paged?csv=true has %d rows; tshark counts %d IP endpoints", len(rows), len(all0))
		}
		for _, r := range rows {
			addr, err := netip.ParseAddr(r["ip"])
			if err != nil {
				t.Fatalf("row %v: %v", r, err)
			}
			w := all0[addr]
			got := [4]string{r["allTimeRxPackets"], r["allTimeRxBytes"], r["allTimeTxPackets"], r["allTimeTxBytes"]}
			want := [4]string{u(w.rxPackets), u(w.rxBytes), u(w.txPackets), u(w.txBytes)}
			if got != want {
				t.Errorf("CSV row %s: %v; tshark %v", addr, got, want)
			}
		}
	})

	t.Run("connection table as CSV", func(t *testing.T) {
		curl(`curl -k -u USER:PASSWORD 'https://allegro-mm-XXXX/API/stats/modules/ip/globalConnections/csv?csv=true' > path_to/file.csv`)
		rows := readCSV(t, filepath.Join(dir, "path_to", "file.csv"))
		got := map[string]conv{}
		for _, r := range rows {
			if r["protocol"] != "tcp" && r["protocol"] != "udp" {
				continue
			}
			cli := netip.AddrPortFrom(netip.MustParseAddr(r["clientIp"]), uint16(parseInt(t, r["clientPort"])))
			srv := netip.AddrPortFrom(netip.MustParseAddr(r["serverIp"]), uint16(parseInt(t, r["serverPort"])))
			c := newConv(r["protocol"], cli, srv, uint64(parseInt(t, r["allTimeTxPackets"])), uint64(parseInt(t, r["allTimeRxPackets"])))
			got[c.key] = c
		}
		want := ts.conversations(t, group0Filter)
		t.Logf("%d TCP and UDP connections", len(want))
		if len(got) != len(want) {
			t.Errorf("globalConnections CSV has %d TCP/UDP connections; tshark %d", len(got), len(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("connection %s = %+v; tshark %+v", k, g, w)
			}
		}
	})

	t.Run("analysis instance", func(t *testing.T) {
		plain := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3?skiphistorydata=true' | jq -c .allTime`)
		for _, cmd := range []string{
			`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3?skiphistorydata=true&mm-id=:0' | jq -c .allTime`,
			`curl --silent -k -u USER:PASSWORD -H "X-AllegroPackets-Multimeter-ID: :0" 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3?skiphistorydata=true' | jq -c .allTime`,
		} {
			if got := curl(cmd); got != plain {
				t.Errorf("%s = %s; want the main instance's %s", cmd, got, plain)
			}
		}
		for _, cmd := range []string{
			`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3?mm-id=:1' | jq -c '[.status, .error]'`,
			`curl --silent -k -u USER:PASSWORD -H "X-AllegroPackets-Multimeter-ID: :1" 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3' | jq -c '[.status, .error]'`,
		} {
			if got := curl(cmd); got != `[404,"no analysis instance in slot 1"]` {
				t.Errorf("%s = %s; want a 404: no pcap analysis runs in slot 1", cmd, got)
			}
		}
	})

	t.Run("reset", func(t *testing.T) {
		if got := curl(`curl --silent -k -o /dev/null -w '%{http_code}' -u USER:PASSWORD -X POST 'https://allegro-mm/API/stats/reset'`); got != "204" {
			t.Fatalf("POST /API/stats/reset = %s; want 204", got)
		}
		if got := curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/modules/ip/ips/10.1.2.3' | jq .status`); got != "404" {
			t.Errorf("10.1.2.3 after the reset: status %s; want 404 (statistics cleared)", got)
		}
	})
}

// waitFinished polls until the replay is analysed completely.
func waitFinished(t *testing.T, curl func(string) string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for curl(`curl --silent -k -u USER:PASSWORD 'https://allegro-mm/API/stats/processing' | jq .finished`) != "true" {
		if time.Now().After(deadline) {
			t.Fatal("the replay did not finish within 2 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeWikiCapture writes a generated mix starting at start, with
// 10.1.0.1 renamed to 10.1.2.3 and 10.2.0.1 to 10.54.0.254.
func writeWikiCapture(t *testing.T, path string, start time.Time) {
	t.Helper()
	var raw bytes.Buffer
	g := trafficgen.New(trafficgen.Config{Seed: 4, Start: start, PacketsPerSecond: 2000})
	if err := trafficgen.WritePcap(&raw, g, 30000); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&raw)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	rename := map[[4]byte][4]byte{{10, 1, 0, 1}: wikiClient.As4(), {10, 2, 0, 1}: wikiServer.As4()}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		renameIPv4(data, rename)
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
}

// renameIPv4 replaces IPv4 addresses in an Ethernet frame's IP header
// (fixing the IP, TCP and UDP checksums) and in ARP.
func renameIPv4(frame []byte, rename map[[4]byte][4]byte) {
	off, etype := 12, uint16(0)
	for {
		if len(frame) < off+2 {
			return
		}
		etype = binary.BigEndian.Uint16(frame[off:])
		if etype != 0x8100 {
			break
		}
		off += 4
	}
	l3 := frame[off+2:]
	swap := func(b []byte) {
		if to, ok := rename[[4]byte(b)]; ok {
			copy(b, to[:])
		}
	}
	switch etype {
	case 0x0806:
		if len(l3) >= 28 {
			swap(l3[14:18])
			swap(l3[24:28])
		}
	case 0x0800:
		if len(l3) < 20 {
			return
		}
		ihl := int(l3[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(l3[2:]))
		swap(l3[12:16])
		swap(l3[16:20])
		binary.BigEndian.PutUint16(l3[10:], 0)
		binary.BigEndian.PutUint16(l3[10:], checksum(0, l3[:ihl]))
		seg := l3[ihl:min(total, len(l3))]
		ck := map[byte]int{6: 16, 17: 6}[l3[9]]
		if ck == 0 || len(seg) < ck+2 || (l3[9] == 17 && binary.BigEndian.Uint16(seg[6:]) == 0) {
			return
		}
		binary.BigEndian.PutUint16(seg[ck:], 0)
		var pseudo [12]byte
		copy(pseudo[0:], l3[12:20])
		pseudo[9] = l3[9]
		binary.BigEndian.PutUint16(pseudo[10:], uint16(len(seg)))
		sum := checksum(sum16(0, pseudo[:]), seg)
		if sum == 0 && l3[9] == 17 {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(seg[ck:], sum)
	}
}

func sum16(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func checksum(sum uint32, b []byte) uint16 {
	sum = sum16(sum, b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// tsharkRun answers from tshark's statistics of one capture.
type tsharkRun struct{ pcap string }

func newTshark(pcap string) *tsharkRun { return &tsharkRun{pcap: pcap} }

func (r *tsharkRun) run(t *testing.T, args ...string) []byte {
	t.Helper()
	return peertest.Tshark(t, append([]string{"-n", "-r", r.pcap}, args...)...)
}

type endpoint struct{ txPackets, txBytes, rxPackets, rxBytes uint64 }

func (e endpoint) packets() uint64 { return e.rxPackets + e.txPackets }

// endpoints is tshark's IPv4 and IPv6 endpoint table over the frames the
// display filter selects.
func (r *tsharkRun) endpoints(t *testing.T, filter string) map[netip.Addr]endpoint {
	out := r.run(t, "-q", "-z", "endpoints,ip,"+filter, "-z", "endpoints,ipv6,"+filter)
	eps := map[netip.Addr]endpoint{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 7 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		var v [6]uint64
		for i := range v {
			v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
		}
		eps[a] = endpoint{txPackets: v[2], txBytes: v[3], rxPackets: v[4], rxBytes: v[5]}
	}
	return eps
}

// pairBytes is the bytes of addr's IP conversations by peer (from the
// frames: tshark prints conversation bytes rounded).
func (r *tsharkRun) pairBytes(t *testing.T, filter string, addr netip.Addr) map[netip.Addr]uint64 {
	field := "ip.addr"
	if addr.Is6() {
		field = "ipv6.addr"
	}
	out := r.run(t, "-Y", fmt.Sprintf("(%s) && %s == %s", filter, field, addr),
		"-T", "fields", "-E", "separator=/t", "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst")
	peers := map[netip.Addr]uint64{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) < 5 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		src, dst := f[1]+f[3], f[2]+f[4]
		// ICMP errors quote another packet: the first occurrence is the
		// outer header.
		src, _, _ = strings.Cut(src, ",")
		dst, _, _ = strings.Cut(dst, ",")
		peer := dst
		if dst == addr.String() {
			peer = src
		}
		if p, err := netip.ParseAddr(peer); err == nil && p != addr {
			peers[p] += n
		}
	}
	return peers
}

// peers are the addresses addr had IP conversations with.
func (r *tsharkRun) peers(t *testing.T, filter string, addr netip.Addr) []string {
	var out []string
	for p := range r.pairBytes(t, filter, addr) {
		out = append(out, p.String())
	}
	return out
}

// frames counts the frames a display filter selects and their bytes.
func (r *tsharkRun) frames(t *testing.T, filter string) (packets, bytes uint64) {
	out := r.run(t, "-Y", filter, "-T", "fields", "-e", "frame.len")
	for _, f := range strings.Fields(string(out)) {
		n, _ := strconv.ParseUint(f, 10, 64)
		packets++
		bytes += n
	}
	return packets, bytes
}

// conv is a TCP or UDP conversation: frames each end sent.
type conv struct {
	key                  string // protocol and the two ends, in order
	loPackets, hiPackets uint64
}

func newConv(proto string, a, b netip.AddrPort, aPackets, bPackets uint64) conv {
	if b.Compare(a) < 0 {
		a, b, aPackets, bPackets = b, a, bPackets, aPackets
	}
	return conv{key: proto + " " + a.String() + " " + b.String(), loPackets: aPackets, hiPackets: bPackets}
}

// conversations is tshark's TCP and UDP conversation table; tshark
// splits one address and port pair into several conversations (a reused
// port after a FIN): they add up, as in the connection table.
func (r *tsharkRun) conversations(t *testing.T, filter string) map[string]conv {
	convs := map[string]conv{}
	for _, proto := range []string{"tcp", "udp"} {
		sc := bufio.NewScanner(bytes.NewReader(r.run(t, "-q", "-z", "conv,"+proto+","+filter)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 12 || f[1] != "<->" {
				continue
			}
			a, err1 := netip.ParseAddrPort(bracket(f[0]))
			b, err2 := netip.ParseAddrPort(bracket(f[2]))
			if err1 != nil || err2 != nil {
				t.Fatalf("conversation row %q: %v %v", sc.Text(), err1, err2)
			}
			// A <-> B | <- frames bytes unit | -> frames bytes unit | ...
			bFrames, _ := strconv.ParseUint(f[3], 10, 64)
			aFrames, _ := strconv.ParseUint(f[6], 10, 64)
			c := newConv(proto, a, b, aFrames, bFrames)
			if old, ok := convs[c.key]; ok {
				c.loPackets += old.loPackets
				c.hiPackets += old.hiPackets
			}
			convs[c.key] = c
		}
	}
	return convs
}

// bracket turns tshark's "2001:db8::1:443" into "[2001:db8::1]:443".
func bracket(s string) string {
	i := strings.LastIndexByte(s, ':')
	if strings.Count(s, ":") > 1 {
		return "[" + s[:i] + "]" + s[i:]
	}
	return s
}

func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV %s: %v", path, err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, name := range recs[0] {
			row[name] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func parseInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		t.Fatalf("want a number, got %q", s)
	}
	return n
}

func jsonList(t *testing.T, s string) []string {
	t.Helper()
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("want a JSON list, got %q", s)
	}
	return l
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }
