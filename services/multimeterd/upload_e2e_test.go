package main

import (
	"github.com/multimeter-fw/multimeter/tools/peertest"

	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPcapUploadWithCurl uploads a capture the way the reference manual's
// three curl commands do, reads its statistics from the analysis slot
// while and after it streams, extracts packets from its replay buffer,
// and checks the refusals: a capture over the upload limit, a broken one.
// tshark's reading of the same file is the reference.
func TestPcapUploadWithCurl(t *testing.T) {
	peertest.Need(t, "curl", "jq", "bash", "tshark")
	bin := buildBinary(t)
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "upload.pcap")
	pkts := writePcap(t, in, 20000)
	fi, err := os.Stat(in)
	if err != nil {
		t.Fatal(err)
	}
	limit := fi.Size() + 1<<20
	d := start(t, bin, filepath.Join(dir, "data"), "--admin-password", "admin-password-1",
		"--storage", storage, "--upload-limit", strconv.FormatInt(limit, 10))
	base := "https://" + d.https
	curl := "curl --silent --show-error -k -u admin:admin-password-1 "
	announce := func(slot int, name string, size int64) string {
		return sh(t, curl+fmt.Sprintf(`'%s/API/system/replay/upload' -d '{"fileName": "%s", "fileSize": %d, "replaySlotID": %d, "forceSlotID": true, "useReplayBuffer": true}' | jq -c '[.status // 200, .state]'`,
			base, name, size, slot))
	}

	// The manual's three commands.
	if got := announce(1, "upload.pcap", fi.Size()); got != `[200,"prepared"]` {
		t.Fatalf("announce: %s", got)
	}
	expectSh(t, "start", curl+`'`+base+`/API/data/pcap?mm-id=:1' -d '{"command":"start"}' | jq -r .state`, "started")
	expectSh(t, "analyze-pcap", curl+`-F 'name=file' -F 'filename=upload.pcap' -F 'file=@`+in+`' '`+base+`/API/system/analyze-pcap?replaySlotID=1' | jq -c '[.state, .packetsRead, .analysis.packets, .replayBuffer.packets]'`,
		fmt.Sprintf(`["done",%d,%d,%d]`, len(pkts), len(pkts), len(pkts)))

	// Its statistics are the slot's, by parameter or header; the live
	// instance saw none of it.
	host := tsharkFrames(t, in, "ip.addr==10.2.0.1")
	expectSh(t, "slot :1 by mm-id", curl+`'`+base+`/API/stats/modules/ip/ips/10.2.0.1?mm-id=:1&skiphistorydata=true' | jq '.allTime[0] + .allTime[2]'`, strconv.Itoa(len(host)))
	expectSh(t, "slot :1 by header", curl+`-H 'X-AllegroPackets-Multimeter-ID: :1' '`+base+`/API/stats/modules/ip/ips/10.2.0.1?skiphistorydata=true' | jq '.allTime[0] + .allTime[2]'`, strconv.Itoa(len(host)))
	expectSh(t, "live instance", curl+`-o /dev/null -w '%{http_code}' '`+base+`/API/stats/modules/ip/ips/10.2.0.1'`, "404")

	// The replay buffer holds the packets with their recorded times:
	// extraction by the capture's clock returns exactly tshark's selection.
	first, last := pkts[0].Timestamp, pkts[len(pkts)-1].Timestamp
	mid := first + (last-first)/2
	out := filepath.Join(dir, "extracted.pcapng")
	sh(t, curl+`-o `+out+fmt.Sprintf(` '%s/API/data/modules/capture?mm-id=:1&fromCaptureBuffer=true&format=pcapng&startTime=%d&endTime=%d&expression=ip==10.2.0.1'`,
		base, first/1000, mid/1000))
	want := tsharkFrames(t, in, fmt.Sprintf("ip.addr==10.2.0.1 && frame.time_epoch < %d.%06d", mid/1e9, mid%1e9/1000))
	got := readFrames(t, out)
	sameFrames(t, "replay buffer extraction", want, got)
	for i := range min(len(want), len(got)) {
		if got[i].Timestamp != want[i].Timestamp {
			t.Errorf("extracted packet %d at %d; recorded at %d", i, got[i].Timestamp, want[i].Timestamp)
			break
		}
	}

	// Over the limit: refused when announced and when sent anyway.
	if got := announce(2, "big.pcap", limit+1); got != `[413,null]` {
		t.Errorf("announcing a capture over the limit: %s; want [413,null]", got)
	}
	big := filepath.Join(dir, "big.pcap")
	writePcap(t, big, 80000)
	if got := announce(2, "big.pcap", 1000); got != `[200,"prepared"]` {
		t.Fatalf("announce: %s", got)
	}
	sh(t, curl+`-o /dev/null '`+base+`/API/data/pcap?mm-id=:2' -d '{"command":"start"}'`)
	// Refused while curl is still sending: curl (HTTP/2) must get the
	// answer every time, not one time in five.
	for i := range 20 {
		if got := sh(t, curl+`-F 'file=@`+big+`' '`+base+`/API/system/analyze-pcap?replaySlotID=2' | jq -c .status`); got != "413" {
			t.Fatalf("upload over the limit, attempt %d: %q; want 413", i+1, got)
		}
	}

	// A broken capture: a clear error, and the slot keeps what it read.
	broken := filepath.Join(dir, "broken.pcap")
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, data[:len(data)/2+7], 0o644); err != nil {
		t.Fatal(err)
	}
	announce(3, "broken.pcap", int64(len(data)/2+7))
	sh(t, curl+`-o /dev/null '`+base+`/API/data/pcap?mm-id=:3' -d '{"command":"start"}'`)
	expectSh(t, "broken capture", curl+`-F 'file=@`+broken+`' '`+base+`/API/system/analyze-pcap?replaySlotID=3' | jq -c '[.status, (.error | test("ends inside a packet"))]'`, `[400,true]`)
	announce(4, "notes.txt", 5)
	sh(t, curl+`-o /dev/null '`+base+`/API/data/pcap?mm-id=:4' -d '{"command":"start"}'`)
	expectSh(t, "not a capture", `printf hello | `+curl+`-F 'file=@-;filename=notes.txt' '`+base+`/API/system/analyze-pcap?replaySlotID=4' | jq -c .status`, "400")
	if t.Failed() {
		t.Logf("slots: %s", sh(t, curl+`'`+base+`/API/system/replay'`))
	}
	d.stop(t)
}
