package webui_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/multimeter-fw/multimeter/services/daemon"
	"github.com/multimeter-fw/multimeter/services/logring"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// The browser tests drive Debian's chromium (headless) against a real
// daemon running in-process on a generated capture. Set
// WEBUI_SCREENSHOTS=DIR to keep a screenshot of every page visited; on a
// failure the test saves one anyway and names the directory.

const adminPassword = "admin-password-1"

// needTool skips (or, under CI, fails) when a peer program is missing.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; make deps installs it", name)
		}
		t.Skipf("%s is not installed (apt-get install %s); skipping the browser tests", name, name)
	}
	return path
}

// server is a daemon serving a replayed capture.
type server struct {
	base string // https://127.0.0.1:port
	pcap string // the replayed capture
	hc   *http.Client
	logs *logBuffer
}

// logBuffer keeps the daemon's log for failure messages and reports the
// address it listens on.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
	addr  chan string
	ring  *logring.Ring // what GET /API/system/log serves
}

func (l *logBuffer) Enabled(context.Context, slog.Level) bool { return true }
func (l *logBuffer) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logBuffer) WithGroup(string) slog.Handler            { return l }
func (l *logBuffer) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	entry := map[string]any{"time": r.Time, "level": r.Level.String(), "msg": r.Message}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		if _, taken := entry[a.Key]; !taken {
			entry[a.Key] = a.Value.String()
		}
		if r.Message == "https listening" && a.Key == "addr" {
			select {
			case l.addr <- a.Value.String():
			default:
			}
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	line, err := json.Marshal(entry)
	if err != nil {
		return err
	}
	_, err = l.ring.Write(append(line, '\n'))
	return err
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startServer generates a capture of 30 s of traffic, and runs the daemon
// on it with a ring buffer, until the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	pcap := filepath.Join(dir, "mix.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(trafficgen.Config{Seed: 7, PacketsPerSecond: 1000}), 30000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o700); err != nil {
		t.Fatal(err)
	}
	// Virtual link group 1 from the start, so that the ring buffer records
	// its packets as the group's.
	analysisFile := filepath.Join(dir, "analysis.json")
	if err := os.WriteFile(analysisFile, []byte(`{"groups": [{"name": "vlan20", "vlans": [20]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{addr: make(chan string, 1), ring: logring.New(0)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Config{
			DataDir: filepath.Join(dir, "data"), Listen: "127.0.0.1:0", AdminPassword: adminPassword,
			Replay: []string{pcap}, Storage: []string{storage}, AnalysisFile: analysisFile, Hostname: "mm-browser-test", Console: io.Discard,
			Logs: logs.ring,
		}, slog.New(logs))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon.Run() = %v", err)
		}
	})
	s := &server{pcap: pcap, logs: logs, hc: &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		Timeout:   30 * time.Second,
	}}
	select {
	case addr := <-logs.addr:
		s.base = "https://" + addr
	case err := <-done:
		t.Fatalf("daemon.Run() = %v before listening\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not listen within 30 s\n%s", logs)
	}
	// Wait until the whole capture is analysed: the figures stay put
	// from then on, so the page and the API can be compared.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var p struct{ Finished bool }
		s.get(t, "/API/stats/processing", &p)
		if p.Finished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replay was not analysed within 60 s\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// get reads an API answer as admin (Basic auth, as scripts do).
func (s *server) get(t *testing.T, path string, out any) {
	t.Helper()
	if err := s.call("GET", path, "admin", adminPassword, nil, out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func (s *server) call(method, path, user, password string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// tab is a browser tab with its console and downloads.
type tab struct {
	ctx       context.Context
	downloads string
	shots     string // screenshot directory, "" until needed

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	checked int // console messages already judged
}

// newTab starts chromium with the flags the brief asks for and a fresh
// profile.
func newTab(t *testing.T) *tab {
	t.Helper()
	exe := needTool(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		// The daemon's certificate is self-signed, as on a new appliance.
		chromedp.IgnoreCertErrors,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	tb := &tab{ctx: ctx, downloads: t.TempDir(), shots: os.Getenv("WEBUI_SCREENSHOTS")}
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: tb.downloads, EventsEnabled: ptr(true),
		})
		return err
	})); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m)
			tb.mu.Unlock()
		}
	}()
	return tb
}

func ptr[T any](v T) *T { return &v }

// do runs actions with a timeout, saving a screenshot if they fail.
func (tb *tab) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.screenshot(t, "failed-"+what)
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates JavaScript in the page.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.screenshot(t, "failed-eval")
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitJS polls a JavaScript condition until it is true.
func (tb *tab) waitJS(t *testing.T, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond)); err != nil {
		tb.screenshot(t, "failed-"+what)
		t.Fatalf("waiting for %s (%s): %v", what, cond, err)
	}
}

// screenshot saves the page; on failures into a kept directory.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	if tb.shots == "" {
		dir, err := os.MkdirTemp("", "webui-screenshots-")
		if err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
		tb.shots = dir
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	// The page scrolls inside its main column: show all of it on a screen
	// as tall as it needs, then go back to 1366x768.
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Math.max(768, (document.querySelector('#view') || document.body).scrollHeight + 60)`))
	if err != nil {
		height = 768
	}
	png, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		if _, err := chromedp.EmulateViewport(1366, height)(ctx, tg); err != nil {
			return nil, err
		}
		defer chromedp.EmulateViewport(1366, 768)(ctx, tg)
		return chromedp.FullScreenshot(100)(ctx, tg)
	})
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(tb.shots, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if strings.HasPrefix(name, "failed") {
		t.Logf("screenshot saved to %s", path)
	}
}

// noConsoleErrors fails on console errors and uncaught exceptions since
// the last check, except browser log entries for the URLs in expected
// (a 401 the UI asks for on purpose, such as the session probe before
// the login).
func (tb *tab) noConsoleErrors(t *testing.T, where string, expected ...string) {
	t.Helper()
	// Let messages of the last step arrive.
	time.Sleep(300 * time.Millisecond)
	tb.mu.Lock()
	msgs := tb.console[tb.checked:]
	tb.checked = len(tb.console)
	tb.mu.Unlock()
	for _, m := range msgs {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException && m.Type != chromedp.ConsoleWarning {
			continue
		}
		allowed := false
		for _, e := range expected {
			if m.Source == "network" && strings.Contains(m.URL, e) {
				allowed = true
			}
		}
		if !allowed {
			t.Errorf("%s: console %s: %s (%s:%d, source %q)", where, m.Type, m.Text, m.URL, m.Line+1, m.Source)
		}
	}
}

// download waits for the next finished download and returns its path.
func (tb *tab) download(t *testing.T, start func()) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	start()
	for ev, err := range progress {
		if err != nil {
			tb.screenshot(t, "failed-download")
			t.Fatalf("waiting for the download: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(tb.downloads, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("the download was cancelled")
		}
	}
	t.Fatalf("no download finished")
	return ""
}

func (tb *tab) login(t *testing.T, base, user, password string) {
	t.Helper()
	tb.do(t, "login form",
		chromedp.WaitVisible(chromedp.CSS(`input[name=username]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form.login-card button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.sidebar`)),
	)
}

// visit opens a page by its hash route and waits until it has rendered.
// Going from one page to another changes only the hash, and the app
// renders the new page some time later: until #view says which route it
// shows, it may still show the page before.
func (tb *tab) visit(t *testing.T, base, route string) {
	t.Helper()
	tb.do(t, "open "+route, chromedp.Navigate(base+"/"+route))
	tb.waitJS(t, route+" rendered", `document.querySelector('#view').dataset.route === `+strconv.Quote(route))
	tb.waitJS(t, route+" loaded", `document.querySelector('#view h1') && !document.querySelector('#view .loading, #view [aria-busy=true]')`)
	if os.Getenv("WEBUI_SCREENSHOTS") != "" {
		tb.screenshot(t, strings.TrimPrefix(route, "#/"))
	}
}

type page[T any] struct {
	DisplayedItems []T `json:"displayedItems"`
	TotalItems     int `json:"totalItems"`
}

// selectTime picks an entry of the time selector.
func selectTime(t *testing.T, tb *tab, value string) {
	t.Helper()
	eval[bool](t, tb, `(() => { const s = document.querySelector('.time-select select'); s.value = '`+value+`'; s.dispatchEvent(new Event('change')); return true; })()`)
}

// setDialogInterval fills the open dialog's from and to fields (local
// time, as the browser shows them) with Unix seconds.
func setDialogInterval(t *testing.T, tb *tab, from, to int64) {
	t.Helper()
	eval[bool](t, tb, fmt.Sprintf(`(() => {
		const [from, to] = document.querySelectorAll('dialog input[type=datetime-local]');
		const local = (s) => { const d = new Date(s * 1000); const p = (n) => String(n).padStart(2, '0');
			return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()); };
		from.value = local(%d); to.value = local(%d);
		return true;
	})()`, from, to))
}

// linksShown returns the texts of the first-column links of the tables
// in scope, top to bottom.
func linksShown(t *testing.T, tb *tab, scope string) []string {
	t.Helper()
	return eval[[]string](t, tb, `[...document.querySelectorAll('`+scope+` tbody tr td:first-child a')].map(a => a.textContent)`)
}

// waitLinks waits until the first-column links of the tables in scope are
// want, in order, and no table is loading. A view renders again some time
// after its URL changed, so a single look could catch the rows of the
// selection before, or the new table before its rows arrived.
func waitLinks(t *testing.T, tb *tab, what, scope string, want []string) {
	t.Helper()
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	cond := `!document.querySelector('#view .loading, .data-table[aria-busy=true]') && JSON.stringify([...document.querySelectorAll('` + scope + ` tbody tr td:first-child a')].map(a => a.textContent)) === ` + strconv.Quote(string(js))
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond)); err != nil {
		t.Errorf("%s: IPs shown = %v; the API says %v", what, linksShown(t, tb, scope), want)
	}
}

// ips returns the IPs of the list the API answers at path, in order.
func (s *server) ips(t *testing.T, path string) []string {
	t.Helper()
	var p page[ipItem]
	s.get(t, path, &p)
	var out []string
	for _, it := range p.DisplayedItems {
		out = append(out, it.IP)
	}
	return out
}

type ipItem struct {
	IP         string    `json:"ip"`
	AllTime    [4]uint64 `json:"allTime"`
	LastSecond [4]uint64 `json:"lastSecond"`
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	tshark := needTool(t, "tshark")
	srv := startServer(t)
	tb := newTab(t)
	base := srv.base

	t.Run("login", func(t *testing.T) {
		tb.do(t, "open the UI", chromedp.Navigate(base+"/#/dashboard"), chromedp.WaitVisible(chromedp.CSS(`form.login-card`)))
		tb.login(t, base, "admin", adminPassword)
		// Before the login the UI asks whether a session exists: 401.
		tb.noConsoleErrors(t, "login", "/API/auth/session")
	})

	t.Run("dashboard matches the API", func(t *testing.T) {
		tb.visit(t, base, "#/dashboard")
		tb.waitJS(t, "live figures", `document.querySelector('#fig-ips').dataset.value !== undefined && document.querySelectorAll('#top-talkers li').length > 0`)
		var ipSum struct{ Entities map[string]int }
		srv.get(t, "/API/stats/modules/ip", &ipSum)
		var ifs page[struct{ AllTime [4]uint64 }]
		srv.get(t, "/API/stats/interfaces", &ifs)
		var total uint64
		for _, it := range ifs.DisplayedItems {
			total += it.AllTime[1] + it.AllTime[3]
		}
		var top page[ipItem]
		srv.get(t, "/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&page=0&count=10", &top)
		got := eval[map[string]string](t, tb, `({
			ips: document.querySelector('#fig-ips').dataset.value,
			bytes: document.querySelector('#fig-bytes').dataset.value,
			top: decodeURIComponent(document.querySelector('#top-talkers a').getAttribute('href').split('?')[0].replace('#/ips/', '')),
			talkers: String(document.querySelectorAll('#top-talkers li').length),
		})`)
		want := map[string]string{
			"ips": fmt.Sprint(ipSum.Entities["ips"]), "bytes": fmt.Sprint(total),
			"top": top.DisplayedItems[0].IP, "talkers": fmt.Sprint(len(top.DisplayedItems)),
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("dashboard %s = %q; the API says %q", k, got[k], w)
			}
		}
		tb.noConsoleErrors(t, "dashboard")
	})

	var talker string
	t.Run("top talker and its peers", func(t *testing.T) {
		var top page[ipItem]
		srv.get(t, "/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&page=0&count=1", &top)
		talker = top.DisplayedItems[0].IP
		tb.do(t, "click the top talker", chromedp.Click(chromedp.CSS(`#top-talkers a`)), chromedp.WaitVisible(chromedp.CSS(`[role=tab]`)))
		tb.waitJS(t, "peers", `document.querySelectorAll('.tab-panel tbody tr td a').length > 0`)
		if h1 := eval[string](t, tb, `document.querySelector('#view h1').textContent`); h1 != talker {
			t.Errorf("IP page title = %q; want the top talker %s", h1, talker)
		}
		want := srv.ips(t, "/API/stats/modules/ip/ips/"+url.PathEscape(talker)+"/peers?sort=bytes&reverse=true&page=0&count=20")
		waitLinks(t, tb, "peers of "+talker, ".tab-panel", want)
		tb.noConsoleErrors(t, "IP page")
	})

	t.Run("sort the IP table", func(t *testing.T) {
		tb.visit(t, base, "#/ips")
		for _, reverse := range []bool{true, false} {
			// The first click sorts by bytes descending, the second ascending.
			tb.do(t, "sort by bytes", chromedp.Click(chromedp.CSS(`th button[data-sort=bytes]`)))
			order := "descending"
			if !reverse {
				order = "ascending"
			}
			tb.waitJS(t, "sorted "+order, `document.querySelector('th[aria-sort=`+order+`] button[data-sort=bytes]') !== null && !document.querySelector('.data-table[aria-busy=true]')`)
			ips := srv.ips(t, fmt.Sprintf("/API/stats/modules/ip/ips_paged?sort=bytes&reverse=%v&page=0&count=25", reverse))
			waitLinks(t, tb, "IPs sorted by bytes "+order, ".data-table", ips)
		}
		tb.noConsoleErrors(t, "IP table")
	})

	t.Run("filter the IP table", func(t *testing.T) {
		const term = "10.2.0."
		tb.visit(t, base, "#/ips")
		tb.do(t, "type a filter", chromedp.SendKeys(chromedp.CSS(`input.table-filter`), term))
		tb.waitJS(t, "filtered", `/filter=10.2.0./.test(location.hash) && !document.querySelector('.data-table[aria-busy=true]')`)
		// The whole list as CSV, filtered here, is what the table must hold.
		req, err := http.NewRequest("GET", base+"/API/stats/modules/ip/ips_paged?csv=true", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", adminPassword)
		resp, err := srv.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n")[1:] {
			if ip, _, _ := strings.Cut(line, ","); strings.Contains(ip, term) {
				want++
			}
		}
		shown := linksShown(t, tb, ".data-table")
		status := eval[string](t, tb, `document.querySelector('.table-status').textContent`)
		for _, ip := range shown {
			if !strings.Contains(ip, term) {
				t.Errorf("filter %q shows %s", term, ip)
			}
		}
		if want == 0 || !strings.HasSuffix(status, fmt.Sprintf("of %d", want)) {
			t.Errorf("filter %q: table says %q; the full list has %d such IPs", term, status, want)
		}
		tb.noConsoleErrors(t, "IP filter")
	})

	t.Run("time selector", func(t *testing.T) {
		var tm struct{ FirstSecond, LastSecond int64 }
		srv.get(t, "/API/stats/time", &tm)
		tb.visit(t, base, "#/ips")
		check := func(what string, start, end int64) {
			t.Helper()
			ips := srv.ips(t, fmt.Sprintf("/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&page=0&count=25&starttime=%d&endtime=%d", start, end))
			if len(ips) == 0 {
				t.Fatalf("%s: the API lists no IPs", what)
			}
			waitLinks(t, tb, what, ".data-table", ips)
		}
		// "Last 5 minutes" counts back from the analysis' own clock.
		selectTime(t, tb, "5m")
		tb.waitJS(t, "t=5m in the URL", `/t=5m/.test(location.hash)`)
		check("last 5 minutes", tm.LastSecond-300, tm.LastSecond)
		// A custom interval through its dialog.
		start, end := tm.FirstSecond+5, tm.FirstSecond+15
		selectTime(t, tb, "custom")
		tb.do(t, "custom interval dialog", chromedp.WaitVisible(chromedp.CSS(`dialog input[type=datetime-local]`)))
		setDialogInterval(t, tb, start, end)
		tb.do(t, "apply", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
		tb.waitJS(t, "custom interval in the URL", fmt.Sprintf(`/t=%d-%d/.test(location.hash)`, start, end))
		check("custom interval", start, end)
		// It applies to every page: the links keep it.
		if links := eval[int](t, tb, fmt.Sprintf(`[...document.querySelectorAll('nav.sidebar a')].filter(a => !/t=%d-%d/.test(a.getAttribute('href'))).length`, start, end)); links != 0 {
			t.Errorf("%d navigation links drop the time selection", links)
		}
		selectTime(t, tb, "live")
		tb.waitJS(t, "live again", `!/t=/.test(location.hash)`)
		tb.noConsoleErrors(t, "time selector")
	})

	t.Run("capture dialog downloads a pcap", func(t *testing.T) {
		var tm struct{ FirstSecond, LastSecond int64 }
		srv.get(t, "/API/stats/time", &tm)
		tb.visit(t, base, "#/ips/"+url.PathEscape(talker))
		tb.do(t, "open the capture dialog", chromedp.Click(chromedp.CSS(`.page-header .pcap-button`)), chromedp.WaitVisible(chromedp.CSS(`dialog .capture-dialog`)))
		expr := eval[string](t, tb, `document.querySelector('dialog .capture-dialog input.mono').value`)
		if want := "ip==" + talker; expr != want {
			t.Errorf("capture dialog expression = %q; want %q", expr, want)
		}
		// The whole capture, from the ring buffer.
		setDialogInterval(t, tb, tm.FirstSecond, tm.LastSecond+2)
		file := tb.download(t, func() {
			tb.do(t, "download", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
		})
		tb.waitJS(t, "saved message", `/Saved/.test(document.querySelector('dialog .progress').textContent)`)
		filter := fmt.Sprintf("ip.addr==%s", talker)
		if strings.Contains(talker, ":") {
			filter = fmt.Sprintf("ipv6.addr==%s", talker)
		}
		got := tsharkCount(t, tshark, file, "")
		matching := tsharkCount(t, tshark, file, filter)
		want := tsharkCount(t, tshark, srv.pcap, filter)
		if got == 0 || got != want || matching != got {
			t.Errorf("downloaded pcap: %d packets, %d of them %s; tshark finds %d such packets in the replayed capture", got, matching, filter, want)
		}
		tb.do(t, "close the dialog", chromedp.Click(chromedp.CSS(`dialog .dialog-close`)))
		tb.noConsoleErrors(t, "capture dialog")
	})

	t.Run("upload a pcap and switch the UI to its slot", func(t *testing.T) {
		upload := filepath.Join(t.TempDir(), "upload.pcap")
		f, err := os.Create(upload)
		if err != nil {
			t.Fatal(err)
		}
		if err := trafficgen.WritePcap(f, trafficgen.New(trafficgen.Config{Seed: 9, Clients: 50, Servers: 5, PacketsPerSecond: 500}), 5000); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		tb.visit(t, base, "#/analysis")
		tb.do(t, "upload", chromedp.SetUploadFiles(chromedp.CSS(`input[type=file]`), []string{upload}),
			chromedp.Click(chromedp.CSS(`#view form button[type=submit]`)))
		tb.waitJS(t, "analysed", `/Analysed upload.pcap in slot :1/.test(document.querySelector('#view .progress').textContent)`)
		tb.waitJS(t, "slot in the selector", `[...document.querySelectorAll('.topbar select option')].some(o => o.value === '1')`)
		eval[bool](t, tb, `(() => { const s = document.querySelector('.topbar select'); s.value = '1'; s.dispatchEvent(new Event('change')); return true; })()`)
		tb.waitJS(t, "slot dashboard", `/mm=1/.test(location.hash) && /#\/analysis/.test(location.hash)`)
		tb.visit(t, base, "#/dashboard?mm=1")
		tb.waitJS(t, "slot figures", `document.querySelector('#fig-ips').dataset.value !== undefined`)
		var slot, main struct{ Entities map[string]int }
		srv.get(t, "/API/stats/modules/ip?mm-id=:1", &slot)
		srv.get(t, "/API/stats/modules/ip", &main)
		got := eval[string](t, tb, `document.querySelector('#fig-ips').dataset.value`)
		if want := fmt.Sprint(slot.Entities["ips"]); got != want || slot.Entities["ips"] == main.Entities["ips"] {
			t.Errorf("dashboard of slot 1 shows %s IPs; the API says %s for slot 1 (and %d for the main analysis)", got, want, main.Entities["ips"])
		}
		if links := eval[int](t, tb, `[...document.querySelectorAll('nav.sidebar a')].filter(a => !/mm=1/.test(a.getAttribute('href'))).length`); links != 0 {
			t.Errorf("%d navigation links leave slot 1", links)
		}
		tb.noConsoleErrors(t, "pcap upload")
	})

	t.Run("every page renders without console errors", func(t *testing.T) {
		routes := []string{"#/dashboard", "#/interfaces", "#/ips", "#/ips/" + url.PathEscape(talker), "#/macs", "#/connections",
			"#/captures", "#/ringbuffer", "#/analysis", "#/settings", "#/system", "#/users", "#/account", "#/dashboard?t=15m", "#/ips?t=5m"}
		for _, m := range []string{"l4_ports", "dpi", "dns", "tcp", "arp", "dhcp", "icmp", "vlan", "mpls", "qos", "packet_size", "mac_protocols", "sip"} {
			routes = append(routes, "#/modules/"+m)
		}
		var macs page[struct{ MAC string }]
		srv.get(t, "/API/stats/modules/mac/macs_paged?sort=bytes&reverse=true&count=1", &macs)
		routes = append(routes, "#/macs/"+url.PathEscape(macs.DisplayedItems[0].MAC))
		for _, r := range routes {
			tb.visit(t, base, r)
			if txt := eval[string](t, tb, `[...document.querySelectorAll('#view .error-box')].map(e => e.textContent).join('; ')`); txt != "" {
				t.Errorf("%s shows errors: %s", r, txt)
			}
			tb.noConsoleErrors(t, r)
		}
	})

	t.Run("processing settings restart processing", func(t *testing.T) {
		tb.visit(t, base, "#/settings")
		tb.waitJS(t, "settings form", `!!document.querySelector('#view form select')`)
		if txt := eval[string](t, tb, `document.querySelector('#view form').textContent`); !strings.Contains(txt, "Memory once the tables, queues and history are full") {
			t.Errorf("the settings page does not show the memory the configuration needs")
		}
		eval[bool](t, tb, `(() => {
			const form = document.querySelector('#view form');
			const [level] = form.querySelectorAll('select');
			level.value = 'l3';
			const shards = form.querySelector('input[type=number]');
			shards.value = '2';
			[...form.querySelectorAll('button')].find(b => b.textContent === 'Add group').click();
			[...form.querySelectorAll('input[aria-label="Group name"]')].at(-1).value = 'vlan10';
			[...form.querySelectorAll('input[aria-label="VLANs"]')].at(-1).value = '10, 11';
			return true;
		})()`)
		tb.do(t, "apply", chromedp.Click(chromedp.CSS(`#view form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`dialog button.danger`)), chromedp.Click(chromedp.CSS(`dialog button.danger`)))
		tb.waitJS(t, "restarted", `/Processing restarted/.test(document.querySelector('#toasts')?.textContent || '')`)
		var p struct {
			Config struct {
				Shards int    `json:"analyzerShards"`
				Level  string `json:"analysisLevel"`
				Groups []struct {
					Name  string
					VLANs []int `json:"vlans"`
				}
			}
		}
		srv.get(t, "/API/stats/processing", &p)
		if c := p.Config; c.Shards != 2 || c.Level != "l3" || len(c.Groups) != 2 || c.Groups[0].Name != "vlan20" || c.Groups[1].Name != "vlan10" || fmt.Sprint(c.Groups[1].VLANs) != "[10 11]" {
			t.Errorf("processing after the settings page applied them: %+v; want 2 shards, l3, groups vlan20 and vlan10 of VLANs 10, 11", c)
		}
		tb.noConsoleErrors(t, "processing settings")
	})

	t.Run("virtual link group selector", func(t *testing.T) {
		// Group 1 (VLAN 20) is configured from the start.
		var g0, g1 struct{ Entities map[string]int }
		srv.get(t, "/API/stats/modules/ip", &g0)
		srv.get(t, "/API/stats/modules/ip?group=1", &g1)
		if g1.Entities["ips"] == 0 || g1.Entities["ips"] == g0.Entities["ips"] {
			t.Fatalf("group 1 has %d IPs, group 0 %d: the test shows nothing", g1.Entities["ips"], g0.Entities["ips"])
		}
		tb.visit(t, base, "#/dashboard")
		const sel = `document.querySelector('.topbar select[aria-label="Virtual link group"]')`
		tb.waitJS(t, "group in the selector", `!`+sel+`.hidden && [...`+sel+`.options].some(o => o.value === '1' && /vlan20/.test(o.textContent))`)
		eval[bool](t, tb, `(() => { const s = `+sel+`; s.value = '1'; s.dispatchEvent(new Event('change')); return true; })()`)
		tb.waitJS(t, "group 1 dashboard", `/g=1/.test(location.hash) && document.querySelector('#view').dataset.route === location.hash && document.querySelector('#fig-ips').dataset.value !== undefined`)
		if got, want := eval[string](t, tb, `document.querySelector('#fig-ips').dataset.value`), fmt.Sprint(g1.Entities["ips"]); got != want {
			t.Errorf("dashboard of group 1 shows %s IPs; the API says %s for group 1 (%d for group 0)", got, want, g0.Entities["ips"])
		}
		if links := eval[int](t, tb, `[...document.querySelectorAll('nav.sidebar a')].filter(a => !/g=1/.test(a.getAttribute('href'))).length`); links != 0 {
			t.Errorf("%d navigation links leave group 1", links)
		}
		// A table of the group, loaded over REST with a time range.
		var tm struct{ FirstSecond, LastSecond int64 }
		srv.get(t, "/API/stats/time", &tm)
		route := fmt.Sprintf("#/ips?g=1&t=%d-%d", tm.FirstSecond, tm.LastSecond+1)
		tb.visit(t, base, route)
		ips := srv.ips(t, fmt.Sprintf("/API/stats/modules/ip/ips_paged?group=1&sort=bps&reverse=true&page=0&count=25&starttime=%d&endtime=%d", tm.FirstSecond, tm.LastSecond+1))
		waitLinks(t, tb, "IPs of group 1", ".data-table", ips)
		// Its packets are the group's too.
		tb.visit(t, base, "#/ips/"+url.PathEscape(ips[0])+"?g=1")
		tb.do(t, "open the capture dialog", chromedp.Click(chromedp.CSS(`.page-header .pcap-button`)), chromedp.WaitVisible(chromedp.CSS(`dialog .capture-dialog`)))
		if expr, want := eval[string](t, tb, `document.querySelector('dialog .capture-dialog input.mono').value`), "ip=="+ips[0]+" and group==1"; expr != want {
			t.Errorf("capture dialog of an IP in group 1: expression %q; want %q", expr, want)
		}
		setDialogInterval(t, tb, tm.FirstSecond, tm.LastSecond+2)
		file := tb.download(t, func() {
			tb.do(t, "download", chromedp.Click(chromedp.CSS(`dialog button[type=submit]`)))
		})
		tb.waitJS(t, "saved message", `/Saved/.test(document.querySelector('dialog .progress').textContent)`)
		filter := "ip.addr==" + ips[0] + " && vlan.id==20"
		if strings.Contains(ips[0], ":") {
			filter = "ipv6.addr==" + ips[0] + " && vlan.id==20"
		}
		if got, want := tsharkCount(t, tshark, file, ""), tsharkCount(t, tshark, srv.pcap, filter); got == 0 || got != want {
			t.Errorf("pcap of %s in group 1: %d packets; tshark finds %d packets with %s in the replayed capture", ips[0], got, want, filter)
		}
		tb.do(t, "close the dialog", chromedp.Click(chromedp.CSS(`dialog .dialog-close`)))
		// A group the instance does not have (a stale link, or removed by
		// new settings) shows its default group.
		tb.do(t, "open a missing group", chromedp.Navigate(base+"/#/ips?g=7"))
		tb.waitJS(t, "default group", `location.hash === '#/ips' && document.querySelector('#view').dataset.route === '#/ips' && !document.querySelector('#view .loading, .data-table[aria-busy=true]')`)
		if txt := eval[string](t, tb, `[...document.querySelectorAll('#view .error-box')].map(e => e.textContent).join('; ')`); txt != "" {
			t.Errorf("#/ips?g=7 shows errors: %s", txt)
		}
		tb.noConsoleErrors(t, "group selector")
	})

	t.Run("a stats-only user sees no admin pages", func(t *testing.T) {
		if err := srv.call("POST", "/API/system/users", "admin", adminPassword,
			map[string]any{"name": "viewer", "password": "viewer-password-1", "roles": []string{"stats"}}, nil); err != nil {
			t.Fatalf("creating the user: %v", err)
		}
		tb.do(t, "log out", chromedp.Click(chromedp.CSS(`button.logout`)), chromedp.WaitVisible(chromedp.CSS(`form.login-card`)))
		tb.login(t, base, "viewer", "viewer-password-1")
		tb.visit(t, base, "#/dashboard")
		nav := eval[[]string](t, tb, `[...document.querySelectorAll('nav.sidebar a')].map(a => a.textContent)`)
		for _, hidden := range []string{"Users", "Ring buffer", "Pcap analysis", "Captures", "Processing settings"} {
			for _, n := range nav {
				if n == hidden {
					t.Errorf("stats-only user's navigation has %q: %v", hidden, nav)
				}
			}
		}
		tb.visit(t, base, "#/ips/"+url.PathEscape(talker))
		if n := eval[int](t, tb, `document.querySelectorAll('.pcap-button').length`); n != 0 {
			t.Errorf("stats-only user sees %d pcap buttons; want none", n)
		}
		tb.visit(t, base, "#/users")
		if h1 := eval[string](t, tb, `document.querySelector('#view h1').textContent`); h1 != "Not allowed" {
			t.Errorf("stats-only user on #/users sees %q; want Not allowed", h1)
		}
		tb.noConsoleErrors(t, "stats-only user")
	})

	t.Run("logout", func(t *testing.T) {
		tb.do(t, "log out", chromedp.Click(chromedp.CSS(`button.logout`)), chromedp.WaitVisible(chromedp.CSS(`form.login-card`)))
		// The session is gone on the server too: a reload shows the login.
		tb.do(t, "reload", chromedp.Navigate(base+"/#/dashboard"), chromedp.WaitVisible(chromedp.CSS(`form.login-card`)))
		tb.noConsoleErrors(t, "logout", "/API/auth/session")
	})
}

// tsharkCount counts the packets of a capture (matching a display filter).
func tsharkCount(t *testing.T, tshark, file, filter string) int {
	t.Helper()
	args := []string{"-n", "-r", file, "-T", "fields", "-e", "frame.number"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tshark %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("tshark %v: %v", args, err)
	}
	return strings.Count(string(out), "\n")
}
