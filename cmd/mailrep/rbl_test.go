package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/internal/rbldnsd"
)

const testZone = "bl.mailrep.test"

// testBlocklist serves testZone: the RFC 5782 test point, 192.0.2.10
// listed with 127.0.0.2 and TXT, the domain zone dbl.mailrep.test.
func testBlocklist(t *testing.T) *rbldnsd.Server {
	return rbldnsd.Start(t,
		rbldnsd.Zone{Name: testZone, Type: "ip4set", File: "bl", Data: `
:127.0.0.2:Listed for spam, see https://bl.mailrep.test/lookup?ip=$
127.0.0.2
192.0.2.10
`},
		rbldnsd.Zone{Name: "dbl.mailrep.test", Type: "dnset", Data: `
:127.0.1.2:$ is a spam domain
test
spam.example
`})
}

// rblCheckJSON is the documented JSON of "mailrep rbl check".
type rblCheckJSON struct {
	Results []struct {
		Target    string   `json:"target"`
		Zone      string   `json:"zone"`
		List      string   `json:"list"`
		Status    string   `json:"status"`
		Codes     []string `json:"codes"`
		Meanings  []string `json:"meanings"`
		Severity  string   `json:"severity"`
		TXT       string   `json:"txt"`
		Error     string   `json:"error"`
		DelistURL string   `json:"delist_url"`
	} `json:"results"`
	Zones []struct {
		Zone   string `json:"zone"`
		Health string `json:"health"`
		Detail string `json:"detail"`
	} `json:"zones"`
	Summary struct {
		Targets, Zones, Listed, Errors int
	} `json:"summary"`
}

// noConfig makes loadConfig use the built-in defaults, whatever the
// environment says.
func noConfig(t *testing.T) {
	t.Setenv("MAILREP_CONFIG", "")
	if _, err := os.Stat(systemConfig); err == nil {
		t.Skipf("%s exists and would be read", systemConfig)
	}
}

func TestRBLCheckCommand(t *testing.T) {
	noConfig(t)
	srv := testBlocklist(t)
	check := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"rbl", "check", "--resolver", srv.Addr, "--no-rdns"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errOut := check("--list", testZone, "--list", "domain:dbl.mailrep.test", "--format", "json", "192.0.2.10", "192.0.2.11", "spam.example")
	if code != exitFinding {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFinding, errOut)
	}
	var rep rblCheckJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range rep.Results {
		s := r.Status
		if r.Status == "listed" {
			s += " " + strings.Join(r.Codes, ",") + " " + r.TXT
		}
		got[r.Target+" "+r.Zone] = s
	}
	want := map[string]string{
		"192.0.2.10 " + testZone:        "listed 127.0.0.2 Listed for spam, see https://bl.mailrep.test/lookup?ip=192.0.2.10",
		"192.0.2.11 " + testZone:        "clean",
		"spam.example dbl.mailrep.test": "listed 127.0.1.2 spam.example is a spam domain",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results\n got %v\nwant %v", got, want)
	}
	if rep.Summary.Targets != 3 || rep.Summary.Zones != 2 || rep.Summary.Listed != 2 || rep.Summary.Errors != 0 {
		t.Errorf("summary %+v", rep.Summary)
	}
	for _, z := range rep.Zones {
		if z.Health != "ok" {
			t.Errorf("zone %s: %s %s", z.Zone, z.Health, z.Detail)
		}
	}

	if code, out, _ := check("--list", testZone, "192.0.2.11"); code != exitOK || !strings.Contains(out, "192.0.2.11  clean on 1 lists") {
		t.Errorf("clean target: exit %d\n%s", code, out)
	}
	if code, out, _ := check("--list", testZone, "192.0.2.10"); code != exitFinding ||
		!strings.Contains(out, "192.0.2.10  LISTED on 1 of 1 lists") || !strings.Contains(out, "txt: Listed for spam") {
		t.Errorf("text of a listing: exit %d\n%s", code, out)
	}
	if code, _, errOut := check("--list", testZone, "not an address!"); code != exitUsage || !strings.Contains(errOut, "not an IP address") {
		t.Errorf("bad target: exit %d, stderr %s", code, errOut)
	}
	if code, _, errOut := check("--list", "spamhaus-zne", "192.0.2.10"); code != exitUsage || !strings.Contains(errOut, "spamhaus-zen") {
		t.Errorf("misspelt list: exit %d, stderr %s", code, errOut)
	}

	// A resolver that does not answer: nothing can be determined.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var outb, errb bytes.Buffer
	code = run([]string{"rbl", "check", "--resolver", pc.LocalAddr().String(), "--timeout", "100ms", "--no-rdns",
		"--list", testZone, "--format", "json", "192.0.2.10"}, &outb, &errb)
	if code != exitUnknown {
		t.Fatalf("silent resolver: exit %d, want %d\n%s", code, exitUnknown, errb.String())
	}
	rep = rblCheckJSON{}
	if err := json.Unmarshal(outb.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Errors != 1 || rep.Results[0].Status != "error" || rep.Zones[0].Health != "failed" {
		t.Errorf("silent resolver: %+v", rep)
	}
}

// TestRunRBLHistory runs the daemon's blocklist cycles against rbldnsd:
// a listing appears in GET /api/v1/rbl only after rbl.damping agreeing
// cycles, a delisting likewise, and the history survives a restart.
func TestRunRBLHistory(t *testing.T) {
	srv := testBlocklist(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(logPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`state_dir: %q
sources:
  - path: %q
    host: mx1
http:
  listen: %s
rbl:
  resolvers: [%q]
  lists: [testbl]
  custom:
    - name: testbl
      zone: %s
      kind: ip
      delist_url: https://bl.mailrep.test/remove
      codes:
        - match: 127.0.0.2
          meaning: spam source
          severity: critical
  schedule: "@every 1s"
  targets:
    ips: [192.0.2.10, 192.0.2.11]
    from_logs: false
  damping: 2
  rdns: false
`, filepath.Join(dir, "state"), logPath, freeAddr(t), srv.Addr, testZone)
	cfgPath := filepath.Join(dir, "mailrep.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}

	start := func() (base string, stop func()) {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		}
		d, err := newDaemon(cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan string, 1)
		done := make(chan error, 1)
		go func() { done <- d.run(ctx, ready) }()
		addr := <-ready
		return "http://" + addr, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
			d.close()
		}
	}
	get := func(base string) RBLResponse {
		t.Helper()
		resp, err := http.Get(base + "/api/v1/rbl")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r RBLResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// waitCycles waits until the daemon has finished n more cycles.
	waitCycles := func(base string, from, n int) RBLResponse {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := get(base)
			if r.Cycles >= from+n {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 30s for %d cycles, have %d", from+n, r.Cycles)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stateOf := func(r RBLResponse, target string) string {
		for _, s := range r.States {
			if s.Target == target && s.Zone == testZone {
				return string(s.Status)
			}
		}
		return "absent"
	}

	base, stop := start()
	r := waitCycles(base, 0, 1)
	if st := stateOf(r, "192.0.2.10"); st == "listed" {
		t.Fatalf("listed after one cycle with damping 2: %+v", r.States)
	}
	r = waitCycles(base, r.Cycles, 1)
	if st := stateOf(r, "192.0.2.10"); st != "listed" {
		t.Fatalf("192.0.2.10 after two cycles: %s (%+v)", st, r.States)
	}
	if st := stateOf(r, "192.0.2.11"); st != "clean" {
		t.Errorf("192.0.2.11: %s", st)
	}
	if len(r.Transitions) == 0 || r.Transitions[0].To != "listed" || r.Transitions[0].Target != "192.0.2.10" {
		t.Errorf("transitions %+v", r.Transitions)
	}
	if r.LastCycle == nil || r.LastCycle.Summary.Listed != 1 || r.NextCycle.IsZero() {
		t.Errorf("last cycle %+v next %v", r.LastCycle, r.NextCycle)
	}
	stop()

	// Delist while the daemon is down; the saved history says listed
	// until two clean cycles agree.
	srv.SetZone(t, "bl", ":127.0.0.2:Listed\n127.0.0.2\n")
	base, stop = start()
	defer stop()
	r = waitCycles(base, 0, 1)
	if st := stateOf(r, "192.0.2.10"); st != "listed" {
		t.Fatalf("after restart and one clean cycle: %s, want still listed", st)
	}
	r = waitCycles(base, r.Cycles, 1)
	if st := stateOf(r, "192.0.2.10"); st != "clean" {
		t.Fatalf("after two clean cycles: %s, want clean", st)
	}
	if len(r.Transitions) < 2 || r.Transitions[0].From != "listed" || r.Transitions[0].To != "clean" {
		t.Errorf("transitions after delisting %+v", r.Transitions)
	}
}

// freeAddr returns a loopback TCP address that was free a moment ago.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRBLCheckNothingApplies(t *testing.T) {
	noConfig(t)
	var out, errb bytes.Buffer
	code := run([]string{"rbl", "check", "--resolver", "127.0.0.1:1", "--no-rdns", "--list", "ip:bl.mailrep.test", "example.org"}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "none of the lists applies") {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
	code = run([]string{"rbl", "check", "--resolver", "127.0.0.1:1", "--list", "ip:bl.mailrep.test", "300.1.1.1"}, &out, &errb)
	if code != exitUsage {
		t.Errorf("300.1.1.1: exit %d", code)
	}
}
