package rbl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// CheckerConfig configures a Checker.
type CheckerConfig struct {
	// Resolver answers the lookups (normally a *Client).
	Resolver Resolver
	// Concurrency bounds the lookups in flight across all zones
	// (default 64).
	Concurrency int
	// Rate is the default per-zone limit in queries per second for lists
	// whose catalog entry sets none (0: no per-zone limit).
	Rate float64
	// Spread paces a cycle's lookups evenly over this duration instead of
	// sending them as fast as the bounds allow (0: no pacing).
	Spread time.Duration
	// NoTXT skips the TXT lookup that explains a listing.
	NoTXT bool
	// RDNS adds a reverse-DNS check (CheckRDNS) of every IP target.
	RDNS bool
	// Logger receives a line per failed zone; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Checker runs check cycles: zone-health probes, then every applicable
// (target, zone) lookup, bounded in concurrency and per-zone rate. It is
// safe for concurrent use, though cycles are normally run one at a time
// by the Scheduler.
type Checker struct {
	cfg CheckerConfig

	mu       sync.Mutex
	limiters map[string]*rate.Limiter // per query zone
}

// NewChecker returns a Checker; cfg.Resolver must be set.
func NewChecker(cfg CheckerConfig) *Checker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{cfg: cfg, limiters: map[string]*rate.Limiter{}}
}

// Report is the outcome of one cycle.
type Report struct {
	// Results holds one entry per applicable (target, zone), in target
	// order and, per target, in list order.
	Results []Result `json:"results"`
	// Zones holds each list's health probe.
	Zones []ZoneHealth `json:"zones"`
	// RDNS holds the reverse-DNS checks of IP targets, when enabled.
	RDNS []RDNS `json:"rdns,omitempty"`
	// Summary counts the results.
	Summary Summary `json:"summary"`
	// Started and Finished bracket the cycle.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
}

// Summary counts a cycle's results.
type Summary struct {
	// Targets and Zones are the numbers of targets and lists checked.
	Targets int `json:"targets"`
	Zones   int `json:"zones"`
	// Listed counts listings that are bad news (Result.Listed).
	Listed int `json:"listed"`
	// Allowed counts listings on allow lists and good reputation codes.
	Allowed int `json:"allowed"`
	// Clean counts clean results.
	Clean int `json:"clean"`
	// Errors counts results that could not be determined.
	Errors int `json:"errors"`
	// UnhealthyZones counts zones that failed their probe.
	UnhealthyZones int `json:"unhealthy_zones"`
	// RDNSProblems counts IP targets whose reverse DNS was checked and
	// found wanting (no PTR, not forward-confirmed, generic name);
	// RDNSErrors those whose check failed. Neither changes ExitCode:
	// the exit code answers "is it listed?".
	RDNSProblems int `json:"rdns_problems"`
	RDNSErrors   int `json:"rdns_errors"`
}

// Exit codes of a check, the Nagios plugin convention (DESIGN §5).
const (
	ExitClean   = 0 // everything determined and clean
	ExitListed  = 1 // something is listed (bad news)
	ExitUnknown = 3 // nothing listed, but some result could not be determined
)

// ExitCode is ExitListed if any target is listed, else ExitUnknown if
// any result is an error, else ExitClean. A listing wins over errors:
// it is a fact even when other lookups failed.
func (r *Report) ExitCode() int {
	switch {
	case r.Summary.Listed > 0:
		return ExitListed
	case r.Summary.Errors > 0:
		return ExitUnknown
	}
	return ExitClean
}

// AdHocList is a list for a zone the catalog does not know: every answer
// in 127.0.0.0/8 is a listing of medium severity.
func AdHocList(zone string, kind Kind) (*List, error) {
	l := &List{
		Name: zone, Zone: zone, Kind: kind, IPv6: true,
		Description: "zone not in the catalog",
		Codes: []Code{{Match: "127.0.0.0-127.255.255.255", Meaning: "listed (zone not in the catalog: code meaning unknown)",
			Severity: SeverityMedium}},
	}
	if err := l.Compile(); err != nil {
		return nil, err
	}
	return l, nil
}

// job is one lookup of a cycle: results[idx] = lookup of target in list.
type job struct {
	idx    int
	target Target
	name   string // target.String(), shared by the target's results
	list   *List
}

// Check runs one cycle over lists and targets: every list's health probe
// first, then every (target, list) pair the target applies to (see
// Target.Applies). A list whose probe failed is not queried; its results
// are errors of kind ErrZoneUnhealthy carrying the probe's finding. If ctx
// ends, lookups not yet done are errors (timeout), never clean.
func (c *Checker) Check(ctx context.Context, lists []*List, targets []Target) *Report {
	rep := &Report{Started: c.cfg.Now()}

	// Probes, concurrently (two lookups per zone).
	rep.Zones = make([]ZoneHealth, len(lists))
	healthy := make([]bool, len(lists))
	var wg sync.WaitGroup
	sem := make(chan struct{}, c.cfg.Concurrency)
	for i, l := range lists {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rep.Zones[i] = c.Probe(ctx, l)
			healthy[i] = rep.Zones[i].Health == HealthOK
		})
	}
	wg.Wait()
	for i, z := range rep.Zones {
		if !healthy[i] {
			rep.Summary.UnhealthyZones++
			c.cfg.Logger.Warn("blocklist zone failed its health probe", "zone", z.Zone, "error", z.Error, "detail", z.Detail)
		}
	}

	// Results in target-major order, so consecutive lookups go to
	// different zones. Lookups are fed to the workers as they are
	// generated: no job list the size of the cycle.
	n, queries := 0, 0
	for _, t := range targets {
		for li, l := range lists {
			if t.Applies(l) {
				n++
				if healthy[li] {
					queries++
				}
			}
		}
	}
	rep.Results = make([]Result, n)

	var pace *rate.Limiter
	if c.cfg.Spread > 0 && queries > 0 {
		pace = rate.NewLimiter(rate.Limit(float64(queries)/c.cfg.Spread.Seconds()), 1)
	}
	workers := min(c.cfg.Concurrency, queries)
	ch := make(chan job, workers)
	for range workers {
		wg.Go(func() {
			for j := range ch {
				rep.Results[j.idx] = c.lookup(ctx, pace, j.target, j.name, j.list)
			}
		})
	}
	n = 0
	for _, t := range targets {
		name := t.String()
		for li, l := range lists {
			if !t.Applies(l) {
				continue
			}
			if healthy[li] {
				ch <- job{idx: n, target: t, name: name, list: l}
			} else {
				z := rep.Zones[li]
				rep.Results[n] = Result{Target: name, Zone: l.Zone, List: l.Name, Status: StatusError,
					Error: ErrZoneUnhealthy, Detail: "zone failed its health probe: " + z.Detail, Checked: rep.Started}
			}
			n++
		}
	}
	close(ch)

	if c.cfg.RDNS {
		rep.RDNS = c.rdns(ctx, targets)
	}
	wg.Wait()

	seen := map[string]bool{}
	for i := range rep.Results {
		r := &rep.Results[i]
		seen[r.Target] = true
		switch {
		case r.Status == StatusError:
			rep.Summary.Errors++
		case r.Listed():
			rep.Summary.Listed++
		case r.Status == StatusListed:
			rep.Summary.Allowed++
		default:
			rep.Summary.Clean++
		}
	}
	for i := range rep.RDNS {
		d := &rep.RDNS[i]
		switch {
		case d.Status == StatusError:
			rep.Summary.RDNSErrors++
		case !d.OK():
			rep.Summary.RDNSProblems++
		}
	}
	rep.Summary.Targets = len(seen)
	rep.Summary.Zones = len(lists)
	rep.Finished = c.cfg.Now()
	return rep
}

// rdns checks every IP target's reverse DNS, a quarter of the lookup
// concurrency at a time (each check is several lookups).
func (c *Checker) rdns(ctx context.Context, targets []Target) []RDNS {
	var ips []Target
	for _, t := range targets {
		if t.IsIP() {
			ips = append(ips, t)
		}
	}
	out := make([]RDNS, len(ips))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, c.cfg.Concurrency/4))
	for i, t := range ips {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i] = CheckRDNS(ctx, c.cfg.Resolver, t.Addr)
		})
	}
	wg.Wait()
	return out
}

// limiter returns the per-zone rate limiter of l, or nil.
func (c *Checker) limiter(l *List) *rate.Limiter {
	qps := l.Rate
	if qps == 0 {
		qps = c.cfg.Rate
	}
	if qps <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := l.QueryZone()
	lim := c.limiters[key]
	if lim == nil || float64(lim.Limit()) != qps {
		lim = rate.NewLimiter(rate.Limit(qps), max(1, int(qps)))
		c.limiters[key] = lim
	}
	return lim
}

// lookup does one (target, list) lookup: A records, interpretation and,
// for listings and explained errors, the TXT record.
func (c *Checker) lookup(ctx context.Context, pace *rate.Limiter, t Target, name string, l *List) Result {
	res := c.query(ctx, pace, t, l)
	res.Target = name
	res.Checked = c.cfg.Now()
	return res
}

func (c *Checker) query(ctx context.Context, pace *rate.Limiter, t Target, l *List) Result {
	if err := c.wait(ctx, pace, l); err != nil {
		return lookupFailed(l, t.QueryName(l.Zone), err)
	}
	name := t.QueryName(l.QueryZone())
	ans, err := c.cfg.Resolver.Lookup(ctx, name, dns.TypeA)
	if err != nil {
		return lookupFailed(l, t.QueryName(l.Zone), err)
	}
	res := l.Interpret(ans.Rcode, ans.A)
	if c.cfg.NoTXT || len(res.Codes) == 0 {
		return res
	}
	if err := c.wait(ctx, nil, l); err != nil {
		return res
	}
	// The TXT record only explains; a failed TXT lookup leaves the
	// typed result as it is.
	if txt, err := c.cfg.Resolver.Lookup(ctx, name, dns.TypeTXT); err == nil && txt.Rcode == dns.RcodeSuccess {
		res.TXT = strings.Join(txt.TXT, "; ")
	}
	return res
}

// wait blocks for the cycle's pacing and the zone's rate limit.
func (c *Checker) wait(ctx context.Context, pace *rate.Limiter, l *List) error {
	if pace != nil {
		if err := pace.Wait(ctx); err != nil {
			return fmt.Errorf("waiting for the cycle's pacing: %w", err)
		}
	}
	if lim := c.limiter(l); lim != nil {
		if err := lim.Wait(ctx); err != nil {
			return fmt.Errorf("waiting for %s's rate limit: %w", l.Zone, err)
		}
	}
	return ctx.Err()
}

// lookupFailed is the result of a lookup that got no usable response.
// The error text is rewritten to name the public zone, so a keyed
// zone's key never appears in output.
func lookupFailed(l *List, publicName string, err error) Result {
	kind := lookupErrorKind(err)
	msg := err.Error()
	if q := l.QueryZone(); q != l.Zone {
		msg = strings.ReplaceAll(msg, q, l.Zone)
	}
	return errorResult(Result{Zone: l.Zone, List: l.Name}, kind, fmt.Sprintf("no answer for %s: %s", publicName, msg))
}

// Probe runs l's RFC 5782 health probe: its listed test point must be
// listed and its clean test point must not be. The finding says what an
// operator should do about a failure.
func (c *Checker) Probe(ctx context.Context, l *List) ZoneHealth {
	z := ZoneHealth{Zone: l.Zone, List: l.Name, Health: HealthOK}
	if l.NoHealthProbe {
		z.Detail = "not probed: the zone does not implement the RFC 5782 test points"
		return z
	}
	fail := func(kind ErrorKind, detail string) ZoneHealth {
		z.Health, z.Error, z.Detail = HealthFailed, kind, detail
		return z
	}
	tp := l.TestPoints()
	listed := c.query(ctx, nil, probeTarget(tp.Listed), l)
	switch {
	case listed.Status == StatusError:
		return fail(listed.Error, fmt.Sprintf("test point %s: %s", tp.Listed, probeAdvice(l, listed)))
	case listed.Status == StatusClean:
		return fail(ErrBadAnswer, fmt.Sprintf("test point %s is not listed: the zone is dead, not served by this resolver, or the name is wrong; remove it or check rbl.resolvers", tp.Listed))
	}
	clean := c.query(ctx, nil, probeTarget(tp.Clean), l)
	switch {
	case clean.Status == StatusError:
		return fail(clean.Error, fmt.Sprintf("test point %s: %s", tp.Clean, probeAdvice(l, clean)))
	case clean.Status == StatusListed:
		return fail(ErrBadAnswer, fmt.Sprintf("test point %s is listed (%s): the zone answers \"listed\" for everything; it is dead or broken, remove it", tp.Clean, strings.Join(clean.Codes, ", ")))
	}
	return z
}

// probeAdvice is the finding of a probe that got an error.
func probeAdvice(l *List, r Result) string {
	switch r.Error {
	case ErrTimeout, ErrNetwork:
		return r.Detail + "; check that rbl.resolvers are reachable and recursive"
	case ErrServfail:
		return "SERVFAIL: the resolver cannot reach the list's servers, or the list refuses it (lists often block public resolvers: use a local recursive resolver such as unbound without forwarding)"
	case ErrRewrittenNXDOMAIN:
		return r.Detail
	}
	if r.Detail != "" {
		return r.Detail
	}
	return string(r.Error)
}
