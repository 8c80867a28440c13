package rbl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tableResolver answers from a table keyed by "name/type"; names missing
// from it are NXDOMAIN. It counts lookups and the most in flight at once.
// It exercises the checker's logic; the DNS path itself is tested against
// real servers (client_test.go, rbldnsd_test.go).
type tableResolver struct {
	mu       sync.Mutex
	answers  map[string]Answer
	errs     map[string]error
	delay    time.Duration
	calls    atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
	names    []string
}

func (r *tableResolver) Lookup(ctx context.Context, name string, qtype uint16) (Answer, error) {
	r.calls.Add(1)
	n := r.inflight.Add(1)
	defer r.inflight.Add(-1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			break
		}
	}
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return Answer{}, &LookupError{Name: name, Kind: ErrTimeout, Err: ctx.Err()}
		}
	}
	key := dns.Fqdn(name) + "/" + dns.TypeToString[qtype]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names = append(r.names, key)
	if err := r.errs[key]; err != nil {
		return Answer{}, err
	}
	if a, ok := r.answers[key]; ok {
		return a, nil
	}
	return Answer{Rcode: dns.RcodeNameError}, nil
}

func testList(t testing.TB, name, zone string, kind Kind) *List {
	t.Helper()
	l := &List{Name: name, Zone: zone, Kind: kind, IPv6: true, DelistURL: "https://delist.example/" + name,
		KeyedZone: "{key}." + zone, Key: KeySpamhausDQS, KeyOptional: true,
		Codes: []Code{
			{Match: "127.0.0.2", Meaning: "spam source", Severity: SeverityCritical},
			{Match: "127.0.0.4", Meaning: "exploited host", Severity: SeverityHigh},
			{Match: "127.0.0.10", Meaning: "end-user range", Severity: SeverityInfo},
			{Match: "127.0.1.2", Meaning: "spam domain", Severity: SeverityCritical},
		},
		Errors: []Code{{Match: "127.255.255.254", Error: ErrPublicResolver, Meaning: "query via a public resolver"}},
	}
	if err := l.Compile(); err != nil {
		t.Fatal(err)
	}
	return l
}

// healthy adds the RFC 5782 test points of zone to the table.
func (r *tableResolver) healthy(zone string, kind Kind) {
	if kind == KindIP {
		r.answers["2.0.0.127."+zone+"./A"] = Answer{A: addrs("127.0.0.2")}
	} else {
		r.answers["test."+zone+"./A"] = Answer{A: addrs("127.0.1.2")}
	}
}

func newTable() *tableResolver {
	return &tableResolver{answers: map[string]Answer{}, errs: map[string]error{}}
}

func TestCheckTypedResults(t *testing.T) {
	r := newTable()
	ipl := testList(t, "bl", "bl.example", KindIP)
	dl := testList(t, "dbl", "dbl.example", KindDomain)
	r.healthy("bl.example", KindIP)
	r.healthy("dbl.example", KindDomain)
	r.answers["7.113.0.203.bl.example./A"] = Answer{A: addrs("127.0.0.2", "127.0.0.4")}
	r.answers["7.113.0.203.bl.example./TXT"] = Answer{TXT: []string{"listed, see https://delist.example/203.0.113.7"}}
	r.answers["8.113.0.203.bl.example./A"] = Answer{A: addrs("127.255.255.254")}
	r.answers["spam.example.dbl.example./A"] = Answer{A: addrs("127.0.1.2")}
	r.errs["9.113.0.203.bl.example./A"] = &LookupError{Name: "9.113.0.203.bl.example.", Kind: ErrTimeout, Err: errors.New("i/o timeout")}
	// IPv6 in nibble order.
	r.answers["1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example./A"] = Answer{A: addrs("127.0.0.10")}

	targets, err := ParseTargets([]string{"203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.10", "2001:db8::1", "spam.example", "ok.example"})
	if err != nil {
		t.Fatal(err)
	}
	rep := NewChecker(CheckerConfig{Resolver: r}).Check(context.Background(), []*List{ipl, dl}, targets)
	for _, z := range rep.Zones {
		if z.Health != HealthOK {
			t.Errorf("zone %s: %s %s", z.Zone, z.Health, z.Detail)
		}
	}
	want := map[string]string{
		"203.0.113.7 bl.example":   "listed critical [127.0.0.2 127.0.0.4] txt=listed, see https://delist.example/203.0.113.7",
		"203.0.113.8 bl.example":   "error public-resolver",
		"203.0.113.9 bl.example":   "error timeout",
		"203.0.113.10 bl.example":  "clean",
		"2001:db8::1 bl.example":   "listed info [127.0.0.10]",
		"spam.example dbl.example": "listed critical [127.0.1.2]",
		"ok.example dbl.example":   "clean",
	}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d: %v", len(rep.Results), len(want), rep.Results)
	}
	for _, res := range rep.Results {
		got := string(res.Status)
		switch res.Status {
		case StatusListed:
			got += " " + string(res.Severity) + " [" + strings.Join(res.Codes, " ") + "]"
			if res.TXT != "" {
				got += " txt=" + res.TXT
			}
			if res.DelistURL == "" || len(res.Meanings) != len(res.Codes) {
				t.Errorf("%v: delist %q meanings %q", res, res.DelistURL, res.Meanings)
			}
		case StatusError:
			got += " " + string(res.Error)
			if len(res.Codes) > 0 && res.Error != ErrPublicResolver {
				t.Errorf("%v: error with codes", res)
			}
		}
		key := res.Target + " " + res.Zone
		if want[key] != got {
			t.Errorf("%s: got %q, want %q", key, got, want[key])
		}
		if res.Checked.IsZero() {
			t.Errorf("%s: Checked not set", key)
		}
	}
	s := rep.Summary
	if s.Targets != 7 || s.Zones != 2 || s.Listed != 3 || s.Errors != 2 || s.Clean != 2 {
		t.Errorf("summary %+v", s)
	}
	if rep.ExitCode() != ExitListed {
		t.Errorf("exit %d, want %d", rep.ExitCode(), ExitListed)
	}
}

func TestCheckExitUnknownWhenOnlyErrors(t *testing.T) {
	r := newTable()
	l := testList(t, "bl", "bl.example", KindIP)
	r.healthy("bl.example", KindIP)
	r.answers["1.113.0.203.bl.example./A"] = Answer{Rcode: dns.RcodeServerFailure}
	targets, _ := ParseTargets([]string{"203.0.113.1", "203.0.113.2"})
	rep := NewChecker(CheckerConfig{Resolver: r}).Check(context.Background(), []*List{l}, targets)
	if rep.ExitCode() != ExitUnknown || rep.Summary.Errors != 1 || rep.Summary.Clean != 1 {
		t.Fatalf("exit %d summary %+v", rep.ExitCode(), rep.Summary)
	}
	r2 := newTable()
	r2.healthy("bl.example", KindIP)
	rep = NewChecker(CheckerConfig{Resolver: r2}).Check(context.Background(), []*List{l}, targets)
	if rep.ExitCode() != ExitClean {
		t.Fatalf("exit %d summary %+v", rep.ExitCode(), rep.Summary)
	}
}

func TestProbeFailures(t *testing.T) {
	l := testList(t, "bl", "bl.example", KindIP)
	cases := []struct {
		name   string
		setup  func(r *tableResolver)
		kind   ErrorKind
		detail string
	}{
		{"dead", func(r *tableResolver) {}, ErrBadAnswer, "is not listed"},
		{"lists everything", func(r *tableResolver) {
			r.healthy("bl.example", KindIP)
			r.answers["1.0.0.127.bl.example./A"] = Answer{A: addrs("127.0.0.2")}
		}, ErrBadAnswer, "listed\" for everything"},
		{"public resolver", func(r *tableResolver) {
			r.answers["2.0.0.127.bl.example./A"] = Answer{A: addrs("127.255.255.254")}
		}, ErrPublicResolver, "local recursive resolver"},
		{"servfail", func(r *tableResolver) {
			r.answers["2.0.0.127.bl.example./A"] = Answer{Rcode: dns.RcodeServerFailure}
		}, ErrServfail, "local recursive resolver"},
		{"rewritten", func(r *tableResolver) {
			r.healthy("bl.example", KindIP)
			r.answers["1.0.0.127.bl.example./A"] = Answer{A: addrs("198.51.100.7")}
		}, ErrRewrittenNXDOMAIN, "rewrites NXDOMAIN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newTable()
			c.setup(r)
			targets, _ := ParseTargets([]string{"203.0.113.7"})
			r.answers["7.113.0.203.bl.example./A"] = Answer{A: addrs("127.0.0.2")}
			rep := NewChecker(CheckerConfig{Resolver: r}).Check(context.Background(), []*List{l}, targets)
			z := rep.Zones[0]
			if z.Health != HealthFailed || z.Error != c.kind || !strings.Contains(z.Detail, c.detail) {
				t.Fatalf("probe: %+v, want failed %s containing %q", z, c.kind, c.detail)
			}
			res := rep.Results[0]
			if res.Status != StatusError || res.Error != ErrZoneUnhealthy || !strings.Contains(res.Detail, c.detail) {
				t.Fatalf("result of an unhealthy zone: %+v", res)
			}
			for _, n := range r.names {
				if strings.HasPrefix(n, "7.113.0.203.") {
					t.Errorf("unhealthy zone was queried: %s", n)
				}
			}
			if rep.ExitCode() != ExitUnknown {
				t.Errorf("exit %d", rep.ExitCode())
			}
		})
	}
}

func TestCheckConcurrencyBound(t *testing.T) {
	r := newTable()
	r.delay = 2 * time.Millisecond
	l := testList(t, "bl", "bl.example", KindIP)
	r.healthy("bl.example", KindIP)
	targets, _ := ParseTargets([]string{"10.0.0.0/24"})
	rep := NewChecker(CheckerConfig{Resolver: r, Concurrency: 8}).Check(context.Background(), []*List{l}, targets)
	if rep.Summary.Clean != 256 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	if p := r.peak.Load(); p > 8 || p < 2 {
		t.Errorf("peak in flight %d, want 2..8", p)
	}
}

func TestCheckSpreadAndRate(t *testing.T) {
	r := newTable()
	l := testList(t, "bl", "bl.example", KindIP)
	r.healthy("bl.example", KindIP)
	targets, _ := ParseTargets([]string{"10.0.0.0/28"}) // 16 lookups
	start := time.Now()
	NewChecker(CheckerConfig{Resolver: r, Spread: 400 * time.Millisecond}).Check(context.Background(), []*List{l}, targets)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("16 lookups spread over 400ms took %v", d)
	}
	l.Rate = 40 // 16 lookups at 40/s with a burst of 40: immediate; 80 lookups: ≥ 1s
	targets, _ = ParseTargets([]string{"10.0.1.0/26", "10.0.2.0/28"})
	start = time.Now()
	NewChecker(CheckerConfig{Resolver: r}).Check(context.Background(), []*List{l}, targets)
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("80 lookups at 40/s took %v", d)
	}
}

func TestCheckCancelledIsNeverClean(t *testing.T) {
	r := newTable()
	r.delay = 50 * time.Millisecond
	l := testList(t, "bl", "bl.example", KindIP)
	r.healthy("bl.example", KindIP)
	targets, _ := ParseTargets([]string{"10.0.0.0/26"})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	rep := NewChecker(CheckerConfig{Resolver: r, Concurrency: 4}).Check(ctx, []*List{l}, targets)
	if rep.Summary.Errors == 0 || rep.Summary.Clean+rep.Summary.Errors != 64 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	for _, res := range rep.Results {
		if res.Status == StatusError && res.Error != ErrTimeout {
			t.Errorf("%v: want timeout", res)
		}
	}
}

func TestKeyNeverInResults(t *testing.T) {
	r := newTable()
	l := testList(t, "bl", "bl.example", KindIP).WithKey("s3cr3tkey")
	r.answers["2.0.0.127.s3cr3tkey.bl.example./A"] = Answer{A: addrs("127.0.0.2")}
	r.errs["7.113.0.203.s3cr3tkey.bl.example./A"] = &LookupError{Name: "7.113.0.203.s3cr3tkey.bl.example.", Kind: ErrTimeout, Err: errors.New("i/o timeout")}
	targets, _ := ParseTargets([]string{"203.0.113.7"})
	rep := NewChecker(CheckerConfig{Resolver: r}).Check(context.Background(), []*List{l}, targets)
	if rep.Zones[0].Health != HealthOK {
		t.Fatalf("keyed zone probe: %+v (queries %v)", rep.Zones[0], r.names)
	}
	res := rep.Results[0]
	if res.Error != ErrTimeout || strings.Contains(res.Detail, "s3cr3t") || res.Zone != "bl.example" {
		t.Fatalf("%+v", res)
	}
}

func BenchmarkCheckTable(b *testing.B) {
	r := newTable()
	l := testList(b, "bl", "bl.example", KindIP)
	r.healthy("bl.example", KindIP)
	targets, _ := ParseTargets([]string{"10.0.0.0/22"})
	c := NewChecker(CheckerConfig{Resolver: r, Concurrency: 64})
	b.ReportAllocs()
	for b.Loop() {
		r.names = r.names[:0]
		c.Check(context.Background(), []*List{l}, targets)
	}
	b.ReportMetric(float64(b.N*len(targets))/b.Elapsed().Seconds(), "checks/s")
}

func TestCheckerRDNS(t *testing.T) {
	r := newTable()
	l := testList(t, "bl", "bl.example", KindIP)
	r.healthy("bl.example", KindIP)
	r.answers["7.113.0.203.in-addr.arpa./PTR"] = Answer{Names: []string{"mail.example.net"}}
	r.answers["mail.example.net./A"] = Answer{A: addrs("203.0.113.7")}
	r.answers["8.113.0.203.in-addr.arpa./PTR"] = Answer{Names: []string{"203-0-113-8.dyn.example.net"}}
	r.answers["203-0-113-8.dyn.example.net./A"] = Answer{A: addrs("203.0.113.8")}
	r.answers["9.113.0.203.in-addr.arpa./PTR"] = Answer{Rcode: dns.RcodeServerFailure}
	targets, _ := ParseTargets([]string{"203.0.113.7", "203.0.113.8", "203.0.113.9", "203.0.113.10", "example.org"})
	rep := NewChecker(CheckerConfig{Resolver: r, RDNS: true}).Check(context.Background(), []*List{l}, targets)
	if len(rep.RDNS) != 4 {
		t.Fatalf("%d rDNS checks, want one per IP target (4): %+v", len(rep.RDNS), rep.RDNS)
	}
	got := map[string]string{}
	for _, d := range rep.RDNS {
		got[d.Addr.String()] = fmt.Sprintf("%s ok=%v generic=%v fcrdns=%v", d.Status, d.OK(), d.Generic, d.FCrDNS)
	}
	want := map[string]string{
		"203.0.113.7":  "clean ok=true generic=false fcrdns=true",
		"203.0.113.8":  "clean ok=false generic=true fcrdns=true",
		"203.0.113.9":  "error ok=false generic=false fcrdns=false",
		"203.0.113.10": "clean ok=false generic=false fcrdns=false",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rDNS\n got %v\nwant %v", got, want)
	}
	if rep.Summary.RDNSProblems != 2 || rep.Summary.RDNSErrors != 1 || rep.ExitCode() != ExitClean {
		t.Errorf("summary %+v exit %d", rep.Summary, rep.ExitCode())
	}
}
