package rbl_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/rbldnsd"
	"github.com/mailrep/mailrep/rbl"
)

// These tests run the checker against Debian's rbldnsd, the server most
// DNSBLs run, serving temporary zones on 127.0.0.1 (issue #3, "What it must
// show", first bullet). The lists are the built-in catalog's entries with
// the zone renamed, so the catalog's codes, meanings, severities and delist
// URLs are what is checked against real answers.

// Zone names of the fixtures.
const (
	zenZone   = "zen.mailrep.test"   // spamhaus-zen: SBL, XBL, PBL, CSS (IPv6), open-resolver error
	wlZone    = "wl.mailrep.test"    // dnswl: an allow list, good codes
	dblZone   = "dbl.mailrep.test"   // spamhaus-dbl: a domain list
	deadZone  = "dead.mailrep.test"  // answers "listed" for everything, like the dead spamcannibal
	staleZone = "stale.mailrep.test" // lost its RFC 5782 test point 127.0.0.2
	pubZone   = "pub.mailrep.test"   // spamhaus-zen as seen through a public resolver: 127.255.255.254 for everything
)

// fixtureZones are the datasets of the fixtures. ZEN is one zone from
// several datasets, so an address in two of them gets both codes, as from
// the real combined zone.
func fixtureZones() []rbldnsd.Zone {
	return []rbldnsd.Zone{
		{Name: zenZone, Type: "ip4set", File: "zen-sbl", Data: `
$1 https://check.spamhaus.org/sbl/query/
:127.0.0.2:Listed in SBL, see $1$
127.0.0.2
192.0.2.10
192.0.2.11
`},
		{Name: zenZone, Type: "ip4set", File: "zen-xbl", Data: `
:127.0.0.4:$ is an exploited host
127.0.0.2
192.0.2.11
`},
		// A PBL listing without TXT (the second colon).
		{Name: zenZone, Type: "ip4set", File: "zen-pbl", Data: `
192.0.2.12 :127.0.0.10:
`},
		// Spamhaus's answer to queries through a public resolver.
		{Name: zenZone, Type: "ip4set", File: "zen-errors", Data: `
192.0.2.99 :127.255.255.254:Error: open resolver; see https://check.spamhaus.org/returnc/pub/
`},
		{Name: zenZone, Type: "ip6tset", File: "zen-v6", Data: `
:127.0.0.3:CSS listing $
2001:db8:1:2
`},
		{Name: wlZone, Type: "ip4set", Data: `
:127.0.15.2:https://dnswl.org/s/?s=$
127.0.0.2
192.0.2.20
`},
		{Name: dblZone, Type: "dnset", Data: `
:127.0.1.2:$ is a spam domain
test
spam.example
phish.example :127.0.1.4:$ is a phishing domain
.abused.example :127.0.1.102:abused legitimate domain $
`},
		{Name: deadZone, Type: "ip4set", Data: `
:127.0.0.2:listed
0.0.0.0-255.255.255.255
`},
		{Name: staleZone, Type: "ip4set", Data: `
:127.0.0.2:listed
192.0.2.10
`},
		{Name: pubZone, Type: "ip4set", Data: `
:127.255.255.254:Error: open resolver; see https://check.spamhaus.org/returnc/pub/
0.0.0.0-255.255.255.255
`},
	}
}

// fixtureLists returns the lists of the fixtures: catalog entries with the
// zone renamed, and two custom lists for the broken zones.
func fixtureLists(t testing.TB) (zen, wl, dbl, dead, stale, pub *rbl.List) {
	t.Helper()
	cat, err := rbl.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	renamed := func(name, zone string) *rbl.List {
		l, ok := cat.Lookup(name)
		if !ok {
			t.Fatalf("catalog has no %s", name)
		}
		c := *l
		c.Zone = zone
		if err := c.Compile(); err != nil {
			t.Fatalf("%s renamed to %s: %v", name, zone, err)
		}
		return &c
	}
	custom := func(name, zone string) *rbl.List {
		l := &rbl.List{Name: name, Zone: zone, Kind: rbl.KindIP,
			Codes: []rbl.Code{{Match: "127.0.0.2", Meaning: "listed", Severity: rbl.SeverityHigh}}}
		if err := l.Compile(); err != nil {
			t.Fatal(err)
		}
		return l
	}
	return renamed("spamhaus-zen", zenZone), renamed("dnswl", wlZone), renamed("spamhaus-dbl", dblZone),
		custom("dead", deadZone), custom("stale", staleZone), renamed("spamhaus-zen", pubZone)
}

// meaning returns the catalog meaning of code in l.
func meaning(t testing.TB, l *rbl.List, code string) string {
	t.Helper()
	for _, c := range l.Codes {
		if c.Match == code {
			return c.Meaning
		}
	}
	t.Fatalf("%s defines no code %s", l.Name, code)
	return ""
}

func newClient(t testing.TB, addr string, cacheSize int) *rbl.Client {
	t.Helper()
	c, err := rbl.NewClient(rbl.ClientConfig{
		Servers:   []string{addr},
		Timeout:   300 * time.Millisecond,
		Attempts:  2,
		Backoff:   10 * time.Millisecond,
		CacheSize: cacheSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustTargets(t testing.TB, args ...string) []rbl.Target {
	t.Helper()
	targets, err := rbl.ParseTargets(args)
	if err != nil {
		t.Fatal(err)
	}
	return targets
}

// want is the expected typed result of one (target, zone) lookup.
type want struct {
	status   rbl.Status
	codes    []string
	meanings []string
	severity rbl.Severity
	txt      string
	errKind  rbl.ErrorKind
	delist   string
}

func TestRbldnsdTypedResults(t *testing.T) {
	srv := rbldnsd.Start(t, fixtureZones()...)
	zen, wl, dbl, dead, stale, pub := fixtureLists(t)
	lists := []*rbl.List{zen, wl, dbl, dead, stale, pub}
	targets := mustTargets(t,
		"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.20", "192.0.2.99",
		"2001:db8:1:2::25", "2001:db8:ffff::1",
		"spam.example", "phish.example", "www.abused.example", "clean.example")

	checker := rbl.NewChecker(rbl.CheckerConfig{Resolver: newClient(t, srv.Addr, 0), Concurrency: 8})
	rep := checker.Check(context.Background(), lists, targets)

	clean := want{status: rbl.StatusClean}
	unhealthy := want{status: rbl.StatusError, errKind: rbl.ErrZoneUnhealthy}
	sbl, xbl := meaning(t, zen, "127.0.0.2"), meaning(t, zen, "127.0.0.4")
	wants := map[[2]string]want{
		{"192.0.2.10", zenZone}: {status: rbl.StatusListed, codes: []string{"127.0.0.2"}, meanings: []string{sbl},
			severity: rbl.SeverityCritical, txt: "Listed in SBL, see https://check.spamhaus.org/sbl/query/192.0.2.10",
			delist: zen.DelistURL},
		// Two datasets list .11: both codes, both TXT records, the worse
		// severity.
		{"192.0.2.11", zenZone}: {status: rbl.StatusListed, codes: []string{"127.0.0.2", "127.0.0.4"}, meanings: []string{sbl, xbl},
			severity: rbl.SeverityCritical,
			txt:      "Listed in SBL, see https://check.spamhaus.org/sbl/query/192.0.2.11; 192.0.2.11 is an exploited host",
			delist:   zen.DelistURL},
		{"192.0.2.12", zenZone}: {status: rbl.StatusListed, codes: []string{"127.0.0.10"}, meanings: []string{meaning(t, zen, "127.0.0.10")},
			severity: rbl.SeverityInfo, delist: zen.DelistURL},
		{"192.0.2.13", zenZone}: clean,
		{"192.0.2.20", zenZone}: clean,
		// 127.255.255.254 is an error, never a listing.
		{"192.0.2.99", zenZone}: {status: rbl.StatusError, errKind: rbl.ErrPublicResolver,
			txt: "Error: open resolver; see https://check.spamhaus.org/returnc/pub/"},
		{"2001:db8:1:2::25", zenZone}: {status: rbl.StatusListed, codes: []string{"127.0.0.3"}, meanings: []string{meaning(t, zen, "127.0.0.3")},
			severity: rbl.SeverityHigh, txt: "CSS listing 2001:db8:1:2::25", delist: zen.DelistURL},
		{"2001:db8:ffff::1", zenZone}: clean,

		{"192.0.2.10", wlZone}: clean,
		{"192.0.2.11", wlZone}: clean,
		{"192.0.2.12", wlZone}: clean,
		{"192.0.2.13", wlZone}: clean,
		// The allow list's answer is good news.
		{"192.0.2.20", wlZone}: {status: rbl.StatusListed, codes: []string{"127.0.15.2"}, meanings: []string{"code not in the catalog"},
			severity: rbl.SeverityGood, txt: "https://dnswl.org/s/?s=192.0.2.20", delist: wl.DelistURL},
		{"192.0.2.99", wlZone}: clean,

		{"spam.example", dblZone}: {status: rbl.StatusListed, codes: []string{"127.0.1.2"}, meanings: []string{meaning(t, dbl, "127.0.1.2")},
			severity: rbl.SeverityHigh, txt: "spam.example is a spam domain", delist: dbl.DelistURL},
		{"phish.example", dblZone}: {status: rbl.StatusListed, codes: []string{"127.0.1.4"}, meanings: []string{meaning(t, dbl, "127.0.1.4")},
			severity: rbl.SeverityCritical, txt: "phish.example is a phishing domain", delist: dbl.DelistURL},
		// A wildcard entry; rbldnsd's $ is the entry, not the query.
		{"www.abused.example", dblZone}: {status: rbl.StatusListed, codes: []string{"127.0.1.102"},
			meanings: []string{meaning(t, dbl, "127.0.1.102-127.0.1.106")},
			severity: rbl.SeverityMedium, txt: "abused legitimate domain abused.example", delist: dbl.DelistURL},
		{"clean.example", dblZone}: clean,
	}
	// The broken zones' answers, even the plausible ones, are errors.
	for _, ip := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.20", "192.0.2.99"} {
		wants[[2]string{ip, deadZone}] = unhealthy
		wants[[2]string{ip, staleZone}] = unhealthy
		wants[[2]string{ip, pubZone}] = unhealthy
	}
	wants[[2]string{"2001:db8:1:2::25", pubZone}] = unhealthy
	wants[[2]string{"2001:db8:ffff::1", pubZone}] = unhealthy

	got := map[[2]string]rbl.Result{}
	for _, r := range rep.Results {
		k := [2]string{r.Target, r.Zone}
		if _, dup := got[k]; dup {
			t.Errorf("two results for %s in %s", r.Target, r.Zone)
		}
		got[k] = r
	}
	for k, w := range wants {
		r, ok := got[k]
		if !ok {
			t.Errorf("no result for %s in %s", k[0], k[1])
			continue
		}
		checkResult(t, r, w)
	}
	for k := range got {
		if _, ok := wants[k]; !ok {
			t.Errorf("unexpected result for %s in %s: %v", k[0], k[1], got[k])
		}
	}

	health := map[string]rbl.ZoneHealth{}
	for _, z := range rep.Zones {
		health[z.Zone] = z
	}
	for _, zone := range []string{zenZone, wlZone, dblZone} {
		if z := health[zone]; z.Health != rbl.HealthOK {
			t.Errorf("zone %s health %+v, want ok", zone, z)
		}
	}
	// Each failed probe says what failed and what to do.
	for zone, detail := range map[string][]string{
		deadZone:  {"127.0.0.1 is listed"},
		staleZone: {"127.0.0.2 is not listed"},
		pubZone:   {"open resolver", "local recursive resolver", "DQS key"},
	} {
		z := health[zone]
		if z.Health != rbl.HealthFailed {
			t.Errorf("zone %s health %+v, want failed", zone, z)
		}
		for _, d := range detail {
			if !strings.Contains(z.Detail, d) {
				t.Errorf("zone %s health detail %q does not say %q", zone, z.Detail, d)
			}
		}
	}
	if z := health[pubZone]; z.Error != rbl.ErrPublicResolver {
		t.Errorf("zone %s health error %q, want %s", pubZone, z.Error, rbl.ErrPublicResolver)
	}
	if len(rep.Zones) != len(lists) {
		t.Errorf("%d zone health entries, want %d", len(rep.Zones), len(lists))
	}

	wantSum := rbl.Summary{Targets: len(targets), Zones: len(lists), Listed: 7, Allowed: 1, Clean: 9, Errors: 21, UnhealthyZones: 3}
	if rep.Summary != wantSum {
		t.Errorf("summary %+v, want %+v", rep.Summary, wantSum)
	}
	if code := rep.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1 (listed)", code)
	}
	if t.Failed() {
		for _, r := range rep.Results {
			t.Log(r)
		}
	}
}

// checkResult compares one result with what is expected of it.
func checkResult(t *testing.T, r rbl.Result, w want) {
	t.Helper()
	var diffs []string
	if r.Status != w.status {
		diffs = append(diffs, fmt.Sprintf("status %s, want %s", r.Status, w.status))
	}
	if r.Error != w.errKind {
		diffs = append(diffs, fmt.Sprintf("error %q, want %q", r.Error, w.errKind))
	}
	if w.status == rbl.StatusListed {
		if !slices.Equal(r.Codes, w.codes) {
			diffs = append(diffs, fmt.Sprintf("codes %q, want %q", r.Codes, w.codes))
		}
		if !slices.Equal(r.Meanings, w.meanings) {
			diffs = append(diffs, fmt.Sprintf("meanings %q, want %q", r.Meanings, w.meanings))
		}
	} else if len(r.Codes) > 0 && w.status == rbl.StatusClean {
		diffs = append(diffs, fmt.Sprintf("codes %q on a clean result", r.Codes))
	}
	if r.Severity != w.severity {
		diffs = append(diffs, fmt.Sprintf("severity %q, want %q", r.Severity, w.severity))
	}
	if r.TXT != w.txt {
		diffs = append(diffs, fmt.Sprintf("TXT %q, want %q", r.TXT, w.txt))
	}
	if r.DelistURL != w.delist {
		diffs = append(diffs, fmt.Sprintf("delist URL %q, want %q", r.DelistURL, w.delist))
	}
	if r.Status == rbl.StatusError && r.Detail == "" {
		diffs = append(diffs, "error without a detail")
	}
	if r.Checked.IsZero() {
		diffs = append(diffs, "Checked not set")
	}
	if diffs != nil {
		t.Errorf("%s in %s: %s", r.Target, r.Zone, strings.Join(diffs, "; "))
	}
}

// TestRbldnsdHistoryDamping runs cycles against rbldnsd while the zone
// changes and checks that the history changes state only after two
// agreeing cycles, and never on errors: neither a server that does not
// answer nor a zone that fails its health probe flips a state.
func TestRbldnsdHistoryDamping(t *testing.T) {
	const zone = "bl.mailrep.test"
	const testPoint = "127.0.0.2\n"
	listedData := testPoint + "192.0.2.50 :127.0.0.2:listed $\n"
	srv := rbldnsd.Start(t, rbldnsd.Zone{Name: zone, Type: "ip4set", Data: testPoint})
	list := &rbl.List{Name: "bl", Zone: zone, Kind: rbl.KindIP,
		Codes: []rbl.Code{{Match: "127.0.0.2", Meaning: "listed", Severity: rbl.SeverityHigh}}}
	if err := list.Compile(); err != nil {
		t.Fatal(err)
	}
	target := netip.MustParseAddr("192.0.2.50")
	targets := []rbl.Target{rbl.IPTarget(target)}
	// No cache: every cycle must see the zone as it is now.
	checker := rbl.NewChecker(rbl.CheckerConfig{Resolver: newClient(t, srv.Addr, -1)})
	hist := rbl.NewHistory(2, 100)

	cycleNo := 0
	// cycle runs one check, feeds the history and checks the cycle's
	// result status, the transition it completed (none when to is "")
	// and the state afterwards.
	cycle := func(what string, status rbl.Status, from, to, state rbl.Status) {
		t.Helper()
		cycleNo++
		rep := checker.Check(context.Background(), []*rbl.List{list}, targets)
		if len(rep.Results) != 1 {
			t.Fatalf("cycle %d (%s): %d results, want 1", cycleNo, what, len(rep.Results))
		}
		r := rep.Results[0]
		if r.Status != status {
			t.Errorf("cycle %d (%s): result %v, want %s", cycleNo, what, r, status)
		}
		tr, changed := hist.Observe(r)
		switch {
		case to == "" && changed:
			t.Errorf("cycle %d (%s): transition %s→%s, want none", cycleNo, what, tr.From, tr.To)
		case to != "" && !changed:
			t.Errorf("cycle %d (%s): no transition, want %s→%s", cycleNo, what, from, to)
		case to != "" && (tr.From != from || tr.To != to || tr.Target != target.String() || tr.Zone != zone):
			t.Errorf("cycle %d (%s): transition %+v, want %s→%s of %s in %s", cycleNo, what, tr, from, to, target, zone)
		}
		st, ok := hist.State(target.String(), zone)
		if !ok || st.Status != state {
			t.Errorf("cycle %d (%s): state %+v, want %s", cycleNo, what, st, state)
		}
	}
	clean, listed, errored, unknown := rbl.StatusClean, rbl.StatusListed, rbl.StatusError, rbl.StatusUnknown

	cycle("clean once", clean, "", "", unknown)
	cycle("clean twice: established silently", clean, "", "", clean)

	srv.SetZone(t, zone, listedData)
	cycle("listed once", listed, "", "", clean)
	cycle("listed twice", listed, clean, listed, listed)

	// A server that does not answer: timeouts, the state stands.
	srv.Pause(t)
	cycle("server paused", errored, "", "", listed)
	srv.Resume(t)
	cycle("answering again", listed, "", "", listed)

	// A blip: one clean answer between listed ones changes nothing.
	srv.SetZone(t, zone, testPoint)
	cycle("clean once", clean, "", "", listed)
	srv.SetZone(t, zone, listedData)
	cycle("listed again", listed, "", "", listed)

	// The zone loses its test point: its answers cannot be trusted.
	srv.SetZone(t, zone, "192.0.2.50 :127.0.0.2:listed $\n")
	cycle("zone unhealthy", errored, "", "", listed)

	// Delisting, with an error cycle in between that neither breaks nor
	// extends the streak.
	srv.SetZone(t, zone, testPoint)
	cycle("delisted once", clean, "", "", listed)
	srv.Pause(t)
	cycle("server paused", errored, "", "", listed)
	srv.Resume(t)
	cycle("delisted twice", clean, listed, clean, clean)

	st, _ := hist.State(target.String(), zone)
	if st.ListedSince.IsZero() && st.DelistedAt.IsZero() {
		t.Errorf("state %+v: no listing or delisting time recorded", st)
	}
}

// BenchmarkCheckerRbldnsd measures check cycles of a /22 (1,024 IPs)
// against four zones served by rbldnsd, through the real client without a
// cache, at several concurrency bounds: the checks/s metric counts
// (target, zone) results. Beyond about 128 lookups in flight, bursts
// overflow rbldnsd's socket receive buffer (net.core.rmem_default) and
// lost queries wait for the client's retry. .ci/bench-rbl runs the full
// /16 through the command line.
func BenchmarkCheckerRbldnsd(b *testing.B) {
	var zones []rbldnsd.Zone
	var lists []*rbl.List
	for i, code := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10"} {
		zone := fmt.Sprintf("bl%d.mailrep.test", i)
		var data strings.Builder
		fmt.Fprintf(&data, ":%s:listed $\n127.0.0.2\n", code)
		// Every (7+i)th address of 10.1.0.0/22 is listed.
		for n := 0; n < 1024; n += 7 + i {
			fmt.Fprintf(&data, "10.1.%d.%d\n", n/256, n%256)
		}
		zones = append(zones, rbldnsd.Zone{Name: zone, Type: "ip4set", Data: data.String()})
		l := &rbl.List{Name: zone, Zone: zone, Kind: rbl.KindIP,
			Codes: []rbl.Code{{Match: "127.0.0.0-127.0.0.255", Meaning: "listed", Severity: rbl.SeverityHigh}}}
		if err := l.Compile(); err != nil {
			b.Fatal(err)
		}
		lists = append(lists, l)
	}
	srv := rbldnsd.Start(b, zones...)
	targets := mustTargets(b, "10.1.0.0/22")
	for _, concurrency := range []int{32, 64, 128, 256} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			client, err := rbl.NewClient(rbl.ClientConfig{Servers: []string{srv.Addr}, CacheSize: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer client.Close()
			checker := rbl.NewChecker(rbl.CheckerConfig{Resolver: client, Concurrency: concurrency})
			ctx := context.Background()
			b.ReportAllocs()
			checks := 0
			for b.Loop() {
				rep := checker.Check(ctx, lists, targets)
				if rep.Summary.Errors > 0 {
					b.Fatalf("%d errors in a cycle, first: %v", rep.Summary.Errors, firstError(rep))
				}
				if want := len(targets) * len(lists); len(rep.Results) != want {
					b.Fatalf("%d results, want %d", len(rep.Results), want)
				}
				checks += len(rep.Results)
			}
			b.ReportMetric(float64(checks)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}

func firstError(rep *rbl.Report) rbl.Result {
	for _, r := range rep.Results {
		if r.Status == rbl.StatusError {
			return r
		}
	}
	return rbl.Result{}
}
