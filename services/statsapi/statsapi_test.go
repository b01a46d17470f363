package statsapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/analysis/pktsize"
	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// page is the JSON of a list answer.
type page struct {
	DisplayedItems []map[string]any `json:"displayedItems"`
	TotalItems     int              `json:"totalItems"`
	Page, Count    int
	Sort           string
	Reverse        bool
}

// routeSamples give every parameterised statistics route a path that
// names a real entity; routes whose module saw no traffic in the test
// capture (MPLS, SIP) answer 404.
var routeSamples = []struct {
	pattern, path string
	status        int
}{
	{"/API/stats/modules/ip/ips/:ip", "/API/stats/modules/ip/ips/{ip}", 200},
	{"/API/stats/modules/ip/ips/protocol/:protocol", "/API/stats/modules/ip/ips/protocol/HTTP", 200},
	{"/API/stats/modules/dpi/protocols/:protocol", "/API/stats/modules/dpi/protocols/DNS", 200},
	{"/API/stats/modules/dpi/protocols/:protocol/ips", "/API/stats/modules/dpi/protocols/tls/ips", 200},
	{"/API/stats/modules/mac/macs/:mac", "/API/stats/modules/mac/macs/ff:ff:ff:ff:ff:ff", 200},
	{"/API/stats/modules/mac_protocols/protocols/:etherType", "/API/stats/modules/mac_protocols/protocols/0x0800", 200},
	{"/API/stats/modules/mac_protocols/protocols/:etherType/macs", "/API/stats/modules/mac_protocols/protocols/0x0806/macs", 200},
	{"/API/stats/modules/interfaces/ports/:port", "/API/stats/modules/interfaces/ports/0", 200},
	{"/API/stats/modules/l4_ports/ports/:port", "/API/stats/modules/l4_ports/ports/tcp:443", 200},
	{"/API/stats/modules/vlan/vlans/:vlan", "/API/stats/modules/vlan/vlans/20", 200},
	{"/API/stats/modules/mpls/labels/:label", "/API/stats/modules/mpls/labels/16", 404},
	{"/API/stats/modules/qos/markings/:marking", "/API/stats/modules/qos/markings/dscp:0", 200},
	{"/API/stats/modules/packet_size/sizes/:size", "/API/stats/modules/packet_size/sizes/65", 200},
	{"/API/stats/modules/icmp/messages/:message", "/API/stats/modules/icmp/messages/icmp:8:0", 200},
	{"/API/stats/modules/arp/ips/:ip", "/API/stats/modules/arp/ips/{arp}", 200},
	{"/API/stats/modules/dns/servers/:ip", "/API/stats/modules/dns/servers/{dns}", 200},
	{"/API/stats/modules/dhcp/servers/:ip", "/API/stats/modules/dhcp/servers/{dhcp}", 200},
	{"/API/stats/modules/dhcp/clients/:mac", "/API/stats/modules/dhcp/clients/{dhcpClient}", 200},
	{"/API/stats/modules/sip/calls/:call", "/API/stats/modules/sip/calls/0123456789abcdef", 404},
}

// firstItem returns a field of the first item of a list.
func (f *fixture) firstItem(t *testing.T, path, field string) string {
	t.Helper()
	var p page
	f.getJSON(t, path, &p)
	if len(p.DisplayedItems) == 0 {
		t.Fatalf("GET %s: empty list", path)
	}
	return fmt.Sprint(p.DisplayedItems[0][field])
}

// TestEveryRouteAnswers calls every GET route of the statistics tree as a
// stats user: each answers JSON, and every list also CSV.
func TestEveryRouteAnswers(t *testing.T) {
	f := newFixture(t)
	ids := strings.NewReplacer(
		"{ip}", f.firstItem(t, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true", "ip"),
		"{arp}", f.firstItem(t, "/API/stats/modules/arp/ips_paged?sort=bytes&reverse=true", "ip"),
		"{dns}", f.firstItem(t, "/API/stats/modules/dns/servers_paged?sort=bytes&reverse=true", "server"),
		"{dhcp}", f.firstItem(t, "/API/stats/modules/dhcp/servers_paged", "server"),
		"{dhcpClient}", f.firstItem(t, "/API/stats/modules/dhcp/clients_paged", "mac"),
	)
	ip := f.firstItem(t, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true", "ip")
	n := 0
	for _, r := range f.rt.Routes() {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.Pattern, Prefix) {
			continue
		}
		path, status := r.Pattern, http.StatusOK
		if strings.Contains(path, "/:") {
			i := slices.IndexFunc(routeSamples, func(s struct {
				pattern, path string
				status        int
			}) bool {
				return s.pattern == r.Pattern
			})
			switch {
			case strings.HasPrefix(r.Pattern, "/API/stats/modules/ip/ips/:ip/"):
				path = strings.Replace(r.Pattern, ":ip", ip, 1)
			case strings.HasPrefix(r.Pattern, "/API/stats/modules/mac/macs/:mac/"):
				path = strings.Replace(r.Pattern, ":mac", "ff:ff:ff:ff:ff:ff", 1)
			case i < 0:
				t.Errorf("route %s has no sample path in routeSamples", r.Pattern)
				continue
			default:
				path, status = ids.Replace(routeSamples[i].path), routeSamples[i].status
			}
		}
		n++
		t.Run(path, func(t *testing.T) {
			resp := f.get(t, path, "viewer")
			var body map[string]any
			if resp.status != status || json.Unmarshal(resp.body, &body) != nil {
				t.Fatalf("GET %s = %d %.300s; want %d and JSON", path, resp.status, resp.body, status)
			}
			if _, isList := body["displayedItems"]; !isList {
				return
			}
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			resp = f.get(t, path+sep+"csv=true", "viewer")
			recs, err := csv.NewReader(strings.NewReader(string(resp.body))).ReadAll()
			if resp.status != http.StatusOK || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/csv") || err != nil || len(recs) != int(body["totalItems"].(float64))+1 {
				t.Errorf("GET %s csv=true = %d %s, %d records (%v); want the header and %v rows", path, resp.status, resp.header.Get("Content-Type"), len(recs), err, body["totalItems"])
			}
		})
	}
	if n < 60 {
		t.Errorf("only %d GET routes under %s", n, Prefix)
	}
}

func TestModulesAreTheEngines(t *testing.T) {
	f := newFixture(t)
	main, _ := f.reg.Get(0)
	var opts struct{ SubResources []string }
	r := f.do(t, http.MethodOptions, "/API/stats/modules", "viewer")
	if err := json.Unmarshal(r.body, &opts); err != nil {
		t.Fatal(err)
	}
	want := main.Stats().Modules()
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(opts.SubResources))); diff != "" {
		t.Errorf("OPTIONS /API/stats/modules differs from the engine's modules (-engine +API):\n%s", diff)
	}
	var get struct{ Modules []string }
	f.getJSON(t, "/API/stats/modules", &get)
	if !slices.Equal(get.Modules, want) {
		t.Errorf("GET /API/stats/modules = %v; want %v", get.Modules, want)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	ip := f.firstItem(t, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true", "ip")
	tests := []struct {
		name, method, path, user string
		header                   []string
		status                   int
		param                    string // the parameter the error names
	}{
		{"malformed IP", "GET", "/API/stats/modules/ip/ips/10.1.2", "viewer", nil, 400, "ip"},
		{"IP with a zone", "GET", "/API/stats/modules/ip/ips/fe80::1%25eth0", "viewer", nil, 400, "ip"},
		{"unknown IP", "GET", "/API/stats/modules/ip/ips/192.0.2.99", "viewer", nil, 404, ""},
		{"peers of an unknown IP", "GET", "/API/stats/modules/ip/ips/192.0.2.99/peers", "viewer", nil, 404, ""},
		{"unknown sort key", "GET", "/API/stats/modules/ip/ips_paged?sort=loudness", "viewer", nil, 400, "sort"},
		{"count over 100", "GET", "/API/stats/modules/ip/ips_paged?count=101", "viewer", nil, 400, "count"},
		{"count 0", "GET", "/API/stats/modules/ip/ips_paged?count=0", "viewer", nil, 400, "count"},
		{"negative page", "GET", "/API/stats/modules/ip/ips_paged?page=-1", "viewer", nil, 400, "page"},
		{"reverse not a boolean", "GET", "/API/stats/modules/ip/ips_paged?reverse=yes", "viewer", nil, 400, "reverse"},
		{"sub-lists have no limit", "GET", "/API/stats/modules/ip/ips/" + ip + "/peers?count=9999", "viewer", nil, 200, ""},
		{"group not configured", "GET", "/API/stats/modules/ip/ips_paged?group=2", "viewer", nil, 400, "group"},
		{"group configured", "GET", "/API/stats/modules/ip/ips_paged?group=1", "viewer", nil, 200, ""},
		{"end before start", "GET", "/API/stats/modules/ip/ips/" + ip + "?starttime=1772366410&endtime=1772366400", "viewer", nil, 400, "endtime"},
		{"starttime not a number", "GET", "/API/stats/modules/ip/ips/" + ip + "?starttime=yesterday", "viewer", nil, 400, "starttime"},
		{"timespan 0", "GET", "/API/stats/modules/ip/ips/" + ip + "?timespan=0", "viewer", nil, 400, "timespan"},
		{"CSV of one IP", "GET", "/API/stats/modules/ip/ips/" + ip + "?csv=true", "viewer", nil, 400, "csv"},
		{"directed sort of connections", "GET", "/API/stats/modules/ip/globalConnections?sort=rxbytes", "viewer", nil, 400, "sort"},
		{"unknown parameters are ignored", "GET", "/API/stats/modules/ip/ips/" + ip + "?foo=bar&Sort=bytes&x", "viewer", nil, 200, ""},
		{"names match in any case", "GET", "/API/stats/modules/ip/ips_paged?SORT=BPS&Reverse=TRUE&COUNT=5", "viewer", nil, 200, ""},
		{"bad mm-id", "GET", "/API/stats/modules/ip/ips_paged?mm-id=:x", "viewer", nil, 400, "mm-id"},
		{"unknown slot", "GET", "/API/stats/modules/ip/ips_paged?mm-id=:3", "viewer", nil, 404, ""},
		{"unknown slot in the header", "GET", "/API/stats/modules/ip/ips_paged", "viewer", []string{"X-AllegroPackets-Multimeter-ID", ":2"}, 404, ""},
		{"other device", "GET", "/API/stats/modules/ip/ips_paged?mm-id=other:1", "viewer", nil, 404, ""},
		{"this device", "GET", "/API/stats/modules/ip/ips_paged?mm-id=MM-TEST:1", "viewer", nil, 200, ""},
		{"bad VLAN", "GET", "/API/stats/modules/vlan/vlans/4096", "viewer", nil, 400, "vlan"},
		{"bad port", "GET", "/API/stats/modules/l4_ports/ports/icmp:80", "viewer", nil, 400, "port"},
		{"bad marking", "GET", "/API/stats/modules/qos/markings/dscp:64", "viewer", nil, 400, "marking"},
		{"bad MAC", "GET", "/API/stats/modules/mac/macs/ff:ff", "viewer", nil, 400, "mac"},
		{"unknown protocol", "GET", "/API/stats/modules/dpi/protocols/gopher", "viewer", nil, 404, ""},
		{"wrong method", "POST", "/API/stats/modules/ip/ips_paged", "viewer", nil, 405, ""},
		{"reset is POST", "GET", "/API/stats/reset", "admin", nil, 405, ""},
		{"reset needs admin", "POST", "/API/stats/reset", "viewer", nil, 403, ""},
		{"stats need the stats role", "GET", "/API/stats/modules/ip/ips_paged", "capturer", nil, 403, ""},
		{"no credentials", "GET", "/API/stats/modules/ip/ips_paged", "nobody", nil, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.user, tt.header...)
			var e struct {
				Error  string
				Status int
				Param  string
			}
			json.Unmarshal(r.body, &e)
			if r.status != tt.status || e.Param != tt.param || (tt.status >= 400 && (e.Status != tt.status || e.Error == "")) {
				t.Errorf("%s %s = %d %s; want %d naming %q", tt.method, tt.path, r.status, r.body, tt.status, tt.param)
			}
			if tt.param != "" && !strings.Contains(e.Error, tt.param) {
				t.Errorf("error %q does not name %s", e.Error, tt.param)
			}
		})
	}
}

func TestPagingAndSorting(t *testing.T) {
	f := newFixture(t)
	var all page
	f.getJSON(t, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true&count=100&skiphistorydata=true", &all)
	if all.TotalItems < 100 || len(all.DisplayedItems) != 100 {
		t.Fatalf("ips_paged count=100: %d of %d items", len(all.DisplayedItems), all.TotalItems)
	}
	bytesOf := func(it map[string]any) float64 {
		c := it["allTime"].([]any)
		return c[1].(float64) + c[3].(float64)
	}
	for i := 1; i < len(all.DisplayedItems); i++ {
		if bytesOf(all.DisplayedItems[i]) > bytesOf(all.DisplayedItems[i-1]) {
			t.Fatalf("sort=bytes&reverse=true: item %d has more bytes than item %d", i, i-1)
		}
	}
	var seen []any
	for p := range 10 {
		var pg page
		f.getJSON(t, fmt.Sprintf("/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true&count=10&page=%d&skiphistorydata=true", p), &pg)
		if pg.TotalItems != all.TotalItems || pg.Page != p || pg.Count != 10 || pg.Sort != "bytes" || !pg.Reverse {
			t.Errorf("page %d: %+v", p, pg)
		}
		for _, it := range pg.DisplayedItems {
			seen = append(seen, it["ip"])
		}
	}
	want := make([]any, 100)
	for i, it := range all.DisplayedItems {
		want[i] = it["ip"]
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("ten pages of ten differ from one page of 100 (-want +got):\n%s", diff)
	}
	var def page
	f.getJSON(t, "/API/stats/modules/ip/ips_paged", &def)
	if def.Count != defaultPaged || len(def.DisplayedItems) != defaultPaged {
		t.Errorf("ips_paged without count: count %d, %d items; want %d", def.Count, len(def.DisplayedItems), defaultPaged)
	}
}

// TestAnalysisSlot reads pcap slot 1 with mm-id and the header and checks
// its IPs against tshark's endpoints of the capture it analysed.
func TestAnalysisSlot(t *testing.T) {
	peertest.Need(t, "tshark")
	f := newFixture(t)
	want := map[string][4]uint64{}
	for _, table := range []string{"endpoints,ip", "endpoints,ipv6"} {
		out := tsharkStat(t, f.pcaps[1], table)
		for line := range splitLines(out) {
			fl := strings.Fields(line)
			if len(fl) != 7 {
				continue
			}
			if _, err := netip.ParseAddr(fl[0]); err != nil {
				continue
			}
			var v [6]uint64
			for i := range v {
				v[i], _ = strconv.ParseUint(fl[i+1], 10, 64)
			}
			want[fl[0]] = [4]uint64{v[4], v[5], v[2], v[3]}
		}
	}
	for _, how := range []struct {
		name, query string
		header      []string
	}{
		{"mm-id", "&mm-id=:1", nil},
		{"header", "", []string{"X-AllegroPackets-Multimeter-ID", ":1"}},
	} {
		t.Run(how.name, func(t *testing.T) {
			r := f.get(t, "/API/stats/modules/ip/ips_paged?csv=true"+how.query, "viewer", how.header...)
			recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
			if r.status != 200 || err != nil {
				t.Fatalf("slot 1 CSV = %d %v %.200s", r.status, err, r.body)
			}
			got := map[string][4]uint64{}
			for _, rec := range recs[1:] {
				var c [4]uint64
				for i := range c {
					c[i], _ = strconv.ParseUint(rec[4+i], 10, 64) // ip, names, firstSeen, lastSeen, allTime...
				}
				got[rec[0]] = c
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("slot 1 IPs differ from tshark's endpoints of its capture (-tshark +API):\n%s", diff)
			}
		})
	}
	var main, slot page
	f.getJSON(t, "/API/stats/modules/ip/ips_paged", &main)
	f.getJSON(t, "/API/stats/modules/ip/ips_paged?mm-id=:1", &slot)
	if main.TotalItems == slot.TotalItems {
		t.Errorf("main and slot 1 both have %d IPs; they analysed different captures", main.TotalItems)
	}

	// The instances and their virtual link groups, as the UI's selectors
	// offer them: the main instance has the fixture's group vlan10.
	var pcap Pcap
	f.getJSON(t, "/API/stats/pcap", &pcap)
	groups := map[int][]string{}
	for _, s := range pcap.Slots {
		groups[s.Slot] = s.Groups
	}
	if diff := cmp.Diff(map[int][]string{0: {"default", "vlan10"}, 1: {"default"}}, groups); diff != "" {
		t.Errorf("groups of the analysis slots (-want +got):\n%s", diff)
	}
}

// TestModulesAgainstTshark checks each module's figures, read through the
// API, against tshark's count of the same frames: group 0 is everything
// but VLAN 10, which is group 1.
func TestModulesAgainstTshark(t *testing.T) {
	peertest.Need(t, "tshark")
	f := newFixture(t)
	pcap := f.pcaps[0]
	const g0, g1 = "!(vlan.id == 10)", "vlan.id == 10"
	count := func(filter string) (packets, bytes uint64) {
		for _, row := range tsharkFields(t, pcap, filter, "frame.len") {
			n, _ := strconv.ParseUint(row[0], 10, 64)
			packets++
			bytes += n
		}
		return packets, bytes
	}
	// byField counts the frames per value of a field.
	byField := func(filter string, fields ...string) map[string]uint64 {
		m := map[string]uint64{}
		for _, row := range tsharkFields(t, pcap, filter, fields...) {
			m[strings.Join(row, ":")]++
		}
		return m
	}
	rx := func(path string) [2]uint64 {
		var e struct{ AllTime [4]uint64 }
		f.getJSON(t, path, &e)
		return [2]uint64{e.AllTime[0], e.AllTime[1]}
	}

	t.Run("interfaces", func(t *testing.T) {
		for g, filter := range []string{g0, g1} {
			var p page
			f.getJSON(t, fmt.Sprintf("/API/stats/interfaces?group=%d&skiphistorydata=true", g), &p)
			packets, bytes := count(filter)
			c := p.DisplayedItems[0]["allTime"].([]any)
			if got := [2]uint64{uint64(c[0].(float64)), uint64(c[1].(float64))}; got != [2]uint64{packets, bytes} {
				t.Errorf("group %d: interface 0 received %v; tshark (%s): %d frames, %d bytes", g, got, filter, packets, bytes)
			}
		}
	})
	t.Run("packet sizes", func(t *testing.T) {
		want := map[pktsize.Class]uint64{}
		for _, row := range tsharkFields(t, pcap, g0, "frame.len") {
			n, _ := strconv.ParseUint(row[0], 10, 32)
			want[pktsize.ClassOf(uint32(n))]++
		}
		for _, c := range pktsize.Classes {
			var got [2]uint64
			if want[c] > 0 {
				got = rx(fmt.Sprintf("/API/stats/modules/packet_size/sizes/%d?skiphistorydata=true", c))
			}
			if got[0] != want[c] {
				t.Errorf("size class %s: %d packets; tshark %d", sizeRange(c), got[0], want[c])
			}
		}
	})
	t.Run("VLANs", func(t *testing.T) {
		want := byField("vlan", "vlan.id")
		for id, n := range want {
			g := 0
			if id == "10" {
				g = 1
			}
			if got := rx(fmt.Sprintf("/API/stats/modules/vlan/vlans/%s?group=%d&skiphistorydata=true", id, g)); got[0] != n {
				t.Errorf("VLAN %s: %d packets; tshark %d", id, got[0], n)
			}
		}
		if len(want) < 2 {
			t.Errorf("tshark saw VLANs %v; the capture should have several", want)
		}
	})
	t.Run("ICMP", func(t *testing.T) {
		for proto, fields := range map[string][]string{"icmp": {"icmp.type", "icmp.code"}, "icmpv6": {"icmpv6.type", "icmpv6.code"}} {
			want := byField(g0+" && "+proto, fields...)
			for tc, n := range want {
				if got := rx("/API/stats/modules/icmp/messages/" + proto + ":" + tc + "?skiphistorydata=true"); got[0] != n {
					t.Errorf("%s %s: %d packets; tshark %d", proto, tc, got[0], n)
				}
			}
			if len(want) == 0 {
				t.Errorf("no %s in the capture", proto)
			}
		}
	})
	t.Run("DNS", func(t *testing.T) {
		var tot DNSServer
		f.getJSON(t, "/API/stats/modules/dns/totals", &tot)
		q := byField(g0+" && dns", "dns.flags.response")
		if tot.Requests != q["0"] || tot.Responses != q["1"] {
			t.Errorf("DNS totals %d requests, %d responses; tshark %d, %d", tot.Requests, tot.Responses, q["0"], q["1"])
		}
		codes := byField(g0+" && dns.flags.response == 1", "dns.flags.rcode")
		for code, n := range codes {
			i, _ := strconv.Atoi(code)
			if tot.ReplyCodes[rcodeNames[i]] != n {
				t.Errorf("DNS reply code %s: %d; tshark %d", rcodeNames[i], tot.ReplyCodes[rcodeNames[i]], n)
			}
		}
	})
	t.Run("ARP", func(t *testing.T) {
		var tot ARPEntry
		f.getJSON(t, "/API/stats/modules/arp/totals", &tot)
		ops := byField(g0+" && arp", "arp.opcode")
		if tot.Requests != ops["1"] || tot.Replies != ops["2"] {
			t.Errorf("ARP totals %d requests, %d replies; tshark %v", tot.Requests, tot.Replies, ops)
		}
	})
	t.Run("DHCP", func(t *testing.T) {
		var tot DHCPServer
		f.getJSON(t, "/API/stats/modules/dhcp/totals", &tot)
		want := DHCPMessages{}
		for typ, n := range byField(g0+" && dhcp", "dhcp.option.dhcp") {
			i, _ := strconv.Atoi(typ)
			want[dhcpTypeNames[i]] = n
		}
		if diff := cmp.Diff(want, tot.Messages); diff != "" {
			t.Errorf("DHCP messages differ from tshark's (-tshark +API):\n%s", diff)
		}
	})
	t.Run("MACs", func(t *testing.T) {
		var p page
		f.getJSON(t, "/API/stats/modules/mac/macs_paged", &p)
		want := 0
		for line := range splitLines(tsharkStat(t, pcap, "endpoints,eth,"+g0)) {
			if fl := strings.Fields(line); len(fl) == 7 && strings.Count(fl[0], ":") == 5 {
				want++
			}
		}
		if p.TotalItems != want {
			t.Errorf("macs_paged: %d MACs; tshark %d Ethernet endpoints", p.TotalItems, want)
		}
	})
	t.Run("server port", func(t *testing.T) {
		var p ServerPort
		f.getJSON(t, "/API/stats/modules/l4_ports/ports/tcp:443?skiphistorydata=true", &p)
		packets, bytes := count(g0 + " && tcp.port == 443")
		if got := [2]uint64{p.AllTime[0] + p.AllTime[2], p.AllTime[1] + p.AllTime[3]}; got != [2]uint64{packets, bytes} {
			t.Errorf("tcp:443 carried %v; tshark: %d frames, %d bytes", got, packets, bytes)
		}
	})
	t.Run("DSCP", func(t *testing.T) {
		want := map[string]uint64{}
		for dscp, n := range byField(g0+" && (ip || ipv6)", "ip.dsfield.dscp", "ipv6.tclass.dscp") {
			want[strings.Trim(dscp, ":")] += n // one of the two fields is empty
		}
		for v, n := range want {
			if got := rx("/API/stats/modules/qos/markings/dscp:" + v + "?skiphistorydata=true"); got[0] != n {
				t.Errorf("DSCP %s: %d packets; tshark %d", v, got[0], n)
			}
		}
	})
}

// tsharkStat runs one of tshark's statistics (-z) over a capture.
func tsharkStat(t testing.TB, pcap, stat string) string {
	t.Helper()
	return string(peertest.Tshark(t, "-n", "-r", pcap, "-q", "-z", stat))
}

// TestReset restarts processing with cleared statistics in the addressed
// instance only.
func TestReset(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "a.pcap")
	if err := writePcap(pcap, trafficgen.Config{Seed: 3}, 3000); err != nil {
		t.Fatal(err)
	}
	main, err := engine.New(smallConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := engine.NewRegistry(main, smallConfig(), 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	slot, _ := reg.Open(1, true)
	for _, e := range []*engine.Engine{main, slot} {
		src, err := filesource.Open(pcap, filesource.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Run(context.Background(), src); err != nil {
			t.Fatal(err)
		}
	}
	a, err := newAuth(dir)
	if err != nil {
		t.Fatal(err)
	}
	rt := api.New(api.Config{Instances: slotsOf{reg}}, a, slog.New(slog.DiscardHandler))
	Register(rt, nil, Config{Instances: reg})
	f := &fixture{srv: httptest.NewTLSServer(rt), rt: rt, reg: reg}
	defer f.srv.Close()

	ips := func(slot string) int {
		var p page
		f.getJSON(t, "/API/stats/modules/ip/ips_paged?mm-id="+slot, &p)
		return p.TotalItems
	}
	before := ips(":1")
	if before == 0 || ips(":0") != before {
		t.Fatalf("before the reset: %d IPs in slot 0, %d in slot 1", ips(":0"), before)
	}
	if r := f.do(t, "POST", "/API/stats/reset?mm-id=:0", "admin"); r.status != http.StatusNoContent {
		t.Fatalf("POST /API/stats/reset = %d %s", r.status, r.body)
	}
	if n := ips(":0"); n != 0 {
		t.Errorf("after the reset slot 0 has %d IPs; want none", n)
	}
	if n := ips(":1"); n != before {
		t.Errorf("after slot 0's reset slot 1 has %d IPs; want %d", n, before)
	}
	var tm Time
	f.getJSON(t, "/API/stats/time", &tm)
	if tm.LastSecond != 0 {
		t.Errorf("after the reset lastSecond = %d; want 0", tm.LastSecond)
	}
}
