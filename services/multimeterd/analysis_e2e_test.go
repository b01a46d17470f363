package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/tools/peertest"
)

// TestAnalysisSettingsWithCurl changes the processing configuration the
// way the manual's global and expert settings do, through the API:
// processing restarts with it (a virtual link group counts what tshark
// counts), a bad configuration changes nothing, and the daemon comes
// back with the saved one.
func TestAnalysisSettingsWithCurl(t *testing.T) {
	peertest.Need(t, "curl", "jq", "bash", "tshark")
	bin := buildBinary(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "mix.pcap")
	writePcap(t, pcap, 20000)
	data := filepath.Join(dir, "data")
	// At a hundredth of its pace the 0.1 s capture replays for 10 s:
	// processing is still running when the settings change, and a
	// restart replays the file from its start.
	d := start(t, bin, data, "--admin-password", "admin-password-1", "--replay", pcap, "--replay-speed", "0.01")
	base := "https://" + d.https
	curl := "curl --silent --show-error -k -u admin:admin-password-1 "
	processing := curl + `'` + base + `/API/stats/processing' | jq -c '[.config.analyzerShards, .config.analysisLevel, .config.loadBalancing, (.config.groups // [] | length)]'`
	expectSh(t, "defaults", curl+`'`+base+`/API/system/analysis' | jq -c '[.config, .effective.analysisLevel, .atNextStart]'`,
		`[{"capacities":{},"stats":{}},"all",[]]`)

	expectSh(t, "running", curl+`'`+base+`/API/stats/processing' | jq .running`, "true")
	expectSh(t, "memory", curl+`'`+base+`/API/system/analysis' | jq '.memoryBytes > 1000000 and .machineMemoryBytes > .memoryBytes / 100'`, "true")
	settings := `{"analyzerShards": 2, "loadBalancing": "flow", "groups": [{"name": "vlan10", "vlans": [10]}]}`
	expectSh(t, "change", curl+`-X PUT '`+base+`/API/system/analysis?clear=true' -d '`+settings+`' | jq -c '[.effective.analyzerShards, .effective.loadBalancing, .atNextStart]'`,
		`[2,"flow",[]]`)
	expectSh(t, "processing with it", processing, `[2,"all","flow",1]`)
	waitFinished(t, func(string) string { return sh(t, curl+`'`+base+`/API/stats/processing' | jq .finished`) })
	vlan10 := len(tsharkFrames(t, pcap, "vlan.id==10"))
	if vlan10 == 0 {
		t.Fatal("the capture has no VLAN 10")
	}
	expectSh(t, "group vlan10 against tshark", curl+`'`+base+`/API/stats/modules/interfaces/ports_paged?group=1&skiphistorydata=true' | jq '[.displayedItems[].allTime[0]] | add'`,
		strconv.Itoa(vlan10))

	saved, err := os.ReadFile(filepath.Join(data, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ body, status string }{
		{`{"analyzerShards": 999}`, "400"},
		{`{"shards": 2}`, "400"},
		{`{"analysisLevel": "l9"}`, "400"},
		{`{"groups": [{"name": "everything"}]}`, "400"},
		{`not json`, "400"},
		// Tables larger than the machine: refused, where reserving them
		// would have killed the daemon.
		{`{"analyzerShards": 2, "loadBalancing": "flow", "groups": [{"name": "vlan10", "vlans": [10]}], "capacities": {"connections": 17179869184}}`, "400"},
	} {
		expectSh(t, "refused: "+bad.body, curl+`-X PUT '`+base+`/API/system/analysis' -d '`+bad.body+`' | jq .status`, bad.status)
	}
	if now, err := os.ReadFile(filepath.Join(data, "analysis.json")); err != nil || string(now) != string(saved) {
		t.Errorf("a refused configuration changed the saved one:\n%s\nwas\n%s", now, saved)
	}
	expectSh(t, "processing unchanged", processing, `[2,"all","flow",1]`)
	expectSh(t, "I/O workers wait for the next start", curl+`-X PUT '`+base+`/API/system/analysis' -d '{"ioWorkers": 2, "analyzerShards": 2, "analysisLevel": "l3"}' | jq -c .atNextStart`,
		`["ioWorkers"]`)
	d.stop(t)

	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatal(err)
	}
	d = start(t, bin, data, "--replay", pcap, "--storage", storage)
	base = "https://" + d.https
	processing = curl + `'` + base + `/API/stats/processing' | jq -c '[.config.ioWorkers, .config.analyzerShards, .config.analysisLevel]'`
	expectSh(t, "after a restart of the daemon", processing, `[2,2,"l3"]`)
	expectSh(t, "nothing waits any more", curl+`'`+base+`/API/system/analysis' | jq -c .atNextStart`, `[]`)

	// Settings that start the statistics over analyse the finished replay
	// again with them, each packet once.
	finishedWith := func() string {
		return sh(t, curl+`'`+base+`/API/stats/processing' | jq -c '[.finished, .config.analysisLevel]'`) + " " +
			sh(t, curl+`'`+base+`/API/stats/interfaces?skiphistorydata=true' | jq '.displayedItems[0].allTime[0]'`)
	}
	waitFor := func(what, want string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); finishedWith() != want; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: [finished, level] packets = %s; want %s", what, finishedWith(), want)
			}
		}
	}
	waitFor("the replay", `[true,"l3"] 20000`)
	expectSh(t, "cleared", curl+`-X PUT -o /dev/null -w '%{http_code}' '`+base+`/API/system/analysis?clear=true' -d '{"ioWorkers": 2, "analyzerShards": 2, "analysisLevel": "l2"}'`, "200")
	waitFor("the replay analysed again", `[true,"l2"] 20000`)
	// The ring buffer recorded the file once, not again with the rerun.
	window := sh(t, curl+`'`+base+`/API/stats/time' | jq -r '"starttime=\(.firstSecond * 1000000)&endtime=\((.lastSecond + 2) * 1000000)"'`)
	out := filepath.Join(dir, "all.pcap")
	sh(t, curl+`-o `+out+` '`+base+`/API/data/modules/capture?fromCaptureBuffer=true&`+window+`'`)
	sameFrames(t, "the ring buffer after the replay was analysed twice", readFrames(t, pcap), readFrames(t, out))
	d.stop(t)
}
