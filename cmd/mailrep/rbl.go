package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/rbl"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// undeterminedError makes a command exit 3 after printing its result.
type undeterminedError struct{ what string }

func (u undeterminedError) Error() string { return u.what }

const rblCheckArgs = "[-c FILE] [--resolver HOST:PORT]… [--list NAME|ZONE]… [--format text|json] [--concurrency N] [--timeout D] [--no-rdns] [IP|CIDR|DOMAIN…]"

const rblCheckDoc = `Look up IP addresses, CIDR prefixes (up to a /16) and domains on DNS blocklists
and print a typed result per (target, list): listed (codes, meanings, severity,
TXT, delisting URL), clean, or error (timeout, servfail, refused, public-resolver,
over-quota, ...). Every zone is first probed with its RFC 5782 test points; a zone
that fails is not trusted and its results are errors. With no targets, the
configured rbl.targets are checked.

Exit codes (check_rbl's convention, for Nagios/Icinga): 0 all clean,
1 something listed, 2 usage or configuration error, 3 could not determine
(some lookups failed and nothing is listed).`

func cmdRBL(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing subcommand: mailrep rbl check %s", rblCheckArgs)
	}
	switch args[0] {
	case "check":
		return cmdRBLCheck(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintf(stdout, "Usage: mailrep rbl check %s\n\n%s\n", rblCheckArgs, rblCheckDoc)
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q: mailrep rbl check %s", args[0], rblCheckArgs)
}

func cmdRBLCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rbl check", rblCheckArgs, rblCheckDoc, stdout)
	cfgPath := fs.String("c", "", "configuration `file` (default: $MAILREP_CONFIG, "+systemConfig+", built-in defaults)")
	var resolvers, lists listFlag
	fs.Var(&resolvers, "resolver", "DNS resolver `HOST:PORT` to ask (repeatable; default: rbl.resolvers, else /etc/resolv.conf)")
	fs.Var(&lists, "list", "check only this list, by catalog `NAME` or zone (repeatable); a zone not in the catalog is checked as an ad hoc list where any 127.x answer is a listing, of domains when every target is a domain, else of IPs; \"domain:ZONE\" or \"ip:ZONE\" says which")
	format := fs.String("format", "text", "output `format`: text or json")
	concurrency := fs.Int("concurrency", 0, "lookups in flight at most (default: rbl.concurrency)")
	timeout := fs.Duration("timeout", 0, "per-attempt DNS `timeout` (default: rbl.timeout)")
	noRDNS := fs.Bool("no-rdns", false, "skip the reverse-DNS check of IP targets")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: want text or json", *format)
	}
	if *concurrency < 0 || *concurrency > 4096 {
		return usagef("--concurrency %d: want 1 to 4096", *concurrency)
	}
	if *timeout < 0 {
		return usagef("--timeout %v: must be positive", *timeout)
	}
	cfg, _, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *concurrency > 0 {
		cfg.RBL.Concurrency = *concurrency
	}
	if *timeout > 0 {
		cfg.RBL.Timeout = *timeout
	}
	if len(resolvers) > 0 {
		cfg.RBL.Resolvers = resolvers
	}
	var targets []rbl.Target
	if len(rest) > 0 {
		if targets, err = rbl.ParseTargets(rest); err != nil {
			return usageError{err}
		}
	} else {
		targets, err = configuredTargets(cfg)
		if err != nil {
			return usageError{err}
		}
		if len(targets) == 0 {
			return usagef("no targets: give IPs, CIDRs or domains, or configure rbl.targets")
		}
	}
	// One run asks each name once: a cache the size of the run would
	// only hold memory. Keep enough for the probes and TXT follow-ups.
	setup, err := newRBLSetup(cfg, lists, targets, oneShotCache)
	if err != nil {
		return err
	}
	for _, f := range setup.findings {
		fmt.Fprintf(stderr, "mailrep rbl check: %s: %s: %s\n", f.Severity, f.List, f.Message)
	}
	if len(setup.lists) == 0 {
		return usagef("no usable lists (see the findings above)")
	}
	if !slices.ContainsFunc(targets, func(t rbl.Target) bool {
		return slices.ContainsFunc(setup.lists, t.Applies)
	}) {
		return usagef("none of the lists applies to the targets: IP lists take IP addresses, domain lists domains (--list domain:ZONE or ip:ZONE for a zone not in the catalog)")
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A check of a /16 × several lists holds a few hundred thousand
		// results at once, next to the MTA on the same machine: collect
		// garbage harder near this soft limit instead of letting the heap
		// double. GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(rblCheckMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	checker := setup.checker(cfg, !*noRDNS && cfg.RBL.RDNS)
	rep := checker.Check(ctx, setup.lists, targets)

	bw := bufio.NewWriterSize(stdout, 64<<10)
	if *format == "json" {
		err = writeRBLJSON(bw, rep)
	} else {
		writeRBLText(bw, rep, setup.lists)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	switch rep.ExitCode() {
	case rbl.ExitListed:
		return findingError{"listed"}
	case rbl.ExitUnknown:
		return undeterminedError{"some lookups failed"}
	}
	return nil
}

// configuredTargets are rbl.targets' IPs, CIDRs and domains.
func configuredTargets(cfg *config.Config) ([]rbl.Target, error) {
	var args []string
	for _, p := range cfg.RBL.Targets.IPs {
		if p.IsSingleIP() {
			args = append(args, p.Addr().String())
		} else {
			args = append(args, p.String())
		}
	}
	return rbl.ParseTargets(append(args, cfg.RBL.Targets.Domains...))
}

// writeRBLJSON writes the report as one JSON object, result by result, so
// a /16 × many zones does not need the whole document in memory.
func writeRBLJSON(w *bufio.Writer, rep *rbl.Report) error {
	enc := json.NewEncoder(w)
	section := func(name string, n int, item func(i int) any) error {
		fmt.Fprintf(w, "%q:[", name)
		for i := range n {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString("\n  ")
			if err := enc.Encode(item(i)); err != nil {
				return err
			}
		}
		w.WriteString("]")
		return nil
	}
	w.WriteString("{")
	if err := section("results", len(rep.Results), func(i int) any { return &rep.Results[i] }); err != nil {
		return err
	}
	w.WriteString(",\n")
	if err := section("zones", len(rep.Zones), func(i int) any { return &rep.Zones[i] }); err != nil {
		return err
	}
	w.WriteString(",\n")
	if err := section("rdns", len(rep.RDNS), func(i int) any { return &rep.RDNS[i] }); err != nil {
		return err
	}
	w.WriteString(",\n\"summary\":")
	if err := enc.Encode(rep.Summary); err != nil {
		return err
	}
	fmt.Fprintf(w, ",\"started\":%q,\"finished\":%q}\n", rep.Started.Format(time.RFC3339Nano), rep.Finished.Format(time.RFC3339Nano))
	return nil
}

// targetRows groups a report's results by target.
type targetRows struct {
	target                string
	rows                  []*rbl.Result
	listed, errors, clean int
	worst                 rbl.Severity
}

// writeRBLText prints a table per target, listed targets first, then
// targets with errors, then clean ones (one line each).
func writeRBLText(w io.Writer, rep *rbl.Report, lists []*rbl.List) {
	var failed []rbl.ZoneHealth
	for _, z := range rep.Zones {
		if z.Health != rbl.HealthOK {
			failed = append(failed, z)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "Zones that failed their health probe (their results are errors):\n")
		for _, z := range failed {
			fmt.Fprintf(w, "  %-28s %-16s %s\n", z.Zone, z.Error, z.Detail)
		}
		fmt.Fprintln(w)
	}

	byTarget := map[string]*targetRows{}
	var order []*targetRows
	for i := range rep.Results {
		r := &rep.Results[i]
		t := byTarget[r.Target]
		if t == nil {
			t = &targetRows{target: r.Target}
			byTarget[r.Target] = t
			order = append(order, t)
		}
		t.rows = append(t.rows, r)
		switch {
		case r.Listed():
			t.listed++
			if r.Severity.Worse(t.worst) {
				t.worst = r.Severity
			}
		case r.Status == rbl.StatusError:
			t.errors++
		default:
			t.clean++
		}
	}
	rank := func(t *targetRows) int {
		switch {
		case t.listed > 0:
			return 0
		case t.errors > 0:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(order, func(a, b *targetRows) int { return cmp.Compare(rank(a), rank(b)) })
	rdns := map[string]*rbl.RDNS{}
	for i := range rep.RDNS {
		rdns[rep.RDNS[i].Addr.String()] = &rep.RDNS[i]
	}

	for _, t := range order {
		switch {
		case t.listed > 0:
			fmt.Fprintf(w, "%s  LISTED on %d of %d lists (worst: %s)\n", t.target, t.listed, len(t.rows), t.worst)
		case t.errors > 0:
			fmt.Fprintf(w, "%s  UNKNOWN: %d of %d lookups failed, not listed on the others\n", t.target, t.errors, len(t.rows))
		default:
			fmt.Fprintf(w, "%s  clean on %d lists%s\n", t.target, len(t.rows), rdnsText(rdns[t.target], "; rDNS "))
			continue
		}
		slices.SortStableFunc(t.rows, func(a, b *rbl.Result) int { return cmp.Compare(rowRank(a), rowRank(b)) })
		fmt.Fprintf(w, "  %-7s %-16s %-28s %-9s %s\n", "STATUS", "LIST", "ZONE", "SEVERITY", "CODES / MEANING")
		for _, r := range t.rows {
			switch r.Status {
			case rbl.StatusListed:
				fmt.Fprintf(w, "  %-7s %-16s %-28s %-9s %s\n", r.Status, r.List, r.Zone, r.Severity, codesMeanings(r))
				if r.TXT != "" {
					fmt.Fprintf(w, "  %-7s %-16s txt: %s\n", "", "", r.TXT)
				}
				if r.DelistURL != "" {
					fmt.Fprintf(w, "  %-7s %-16s delist: %s\n", "", "", r.DelistURL)
				}
			case rbl.StatusError:
				detail := r.Detail
				if r.Error == rbl.ErrZoneUnhealthy {
					detail = "failed its health probe (see above)"
				}
				fmt.Fprintf(w, "  %-7s %-16s %-28s %-9s %s: %s\n", r.Status, r.List, r.Zone, "-", r.Error, detail)
			default:
				fmt.Fprintf(w, "  %-7s %-16s %s\n", r.Status, r.List, r.Zone)
			}
		}
		if d := rdns[t.target]; d != nil {
			fmt.Fprintf(w, "  rDNS:   %s\n", rdnsText(d, ""))
		}
		fmt.Fprintln(w)
	}
	s := rep.Summary
	fmt.Fprintf(w, "%d targets × %d lists: %d listed, %d clean, %d allow-listed, %d errors; %d zones unhealthy%s (%.1fs)\n",
		s.Targets, s.Zones, s.Listed, s.Clean, s.Allowed, s.Errors, s.UnhealthyZones, rdnsSummary(rep), rep.Finished.Sub(rep.Started).Seconds())
}

func rowRank(r *rbl.Result) int {
	switch {
	case r.Listed():
		return 0
	case r.Status == rbl.StatusError:
		return 1
	case r.Status == rbl.StatusListed:
		return 2
	}
	return 3
}

func codesMeanings(r *rbl.Result) string {
	parts := make([]string, len(r.Codes))
	for i, c := range r.Codes {
		m := ""
		if i < len(r.Meanings) {
			m = r.Meanings[i]
		}
		parts[i] = c + " " + m
	}
	return strings.Join(parts, "; ")
}

// rblCheckMemoryLimit is the Go runtime's soft memory limit during
// "mailrep rbl check" (see runtime/debug.SetMemoryLimit).
const rblCheckMemoryLimit = 100 << 20

// oneShotCache is the DNS cache size of a single "rbl check" run.
const oneShotCache = 4096

// resolvConf is where the resolvers come from when rbl.resolvers is empty.
const resolvConf = "/etc/resolv.conf"

// rblSetup is what a blocklist check needs, built from the configuration:
// the lists to query (catalog + catalog_files + custom, keys applied),
// the findings about them, and the DNS client.
type rblSetup struct {
	lists     []*rbl.List
	findings  []rbl.Finding
	resolvers []string
	client    *rbl.Client
}

// newRBLSetup resolves the configured lists. only, when not empty,
// restricts the check to those lists (names or zones); a zone the
// catalog does not know becomes an ad hoc list of the targets' kind.
func newRBLSetup(cfg *config.Config, only []string, targets []rbl.Target, cacheSize int) (*rblSetup, error) {
	rc := &cfg.RBL
	cat, err := rbl.DefaultCatalog()
	if err != nil {
		return nil, fmt.Errorf("built-in blocklist catalog: %w", err)
	}
	for _, f := range rc.CatalogFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError{fmt.Errorf("rbl.catalog_files: %w", err)}
		}
		extra, err := rbl.ParseCatalog(f, data)
		if err != nil {
			return nil, usageError{err}
		}
		for _, l := range extra.Lists {
			if err := cat.Add(l); err != nil {
				return nil, usageError{fmt.Errorf("rbl.catalog_files %s: %w", f, err)}
			}
		}
	}
	custom := make([]*rbl.List, 0, len(rc.Custom))
	for _, c := range rc.Custom {
		custom = append(custom, customList(c))
	}
	// Names of custom lists may appear in rbl.lists: they are always
	// checked, so the catalog need not know them.
	names := slices.DeleteFunc(slices.Clone(rc.Lists), func(n string) bool {
		return slices.ContainsFunc(custom, func(l *rbl.List) bool { return l.Name == n || l.Zone == strings.ToLower(n) })
	})
	if len(rc.Lists) == 0 {
		names = rbl.DefaultLists()
	}
	if len(only) > 0 {
		names = nil
		var kept []*rbl.List
		for _, o := range only {
			if i := slices.IndexFunc(custom, func(l *rbl.List) bool { return l.Name == o || l.Zone == strings.ToLower(o) }); i >= 0 {
				kept = append(kept, custom[i])
				continue
			}
			if _, ok := cat.Lookup(o); ok || !strings.Contains(o, ".") {
				names = append(names, o)
				continue
			}
			kind, zone := targetsKind(targets), o
			if k, z, ok := strings.Cut(o, ":"); ok && (k == string(rbl.KindIP) || k == string(rbl.KindDomain)) {
				kind, zone = rbl.Kind(k), z
			}
			l, err := rbl.AdHocList(strings.ToLower(strings.TrimSuffix(zone, ".")), kind)
			if err != nil {
				return nil, usageError{fmt.Errorf("--list %s: %w", o, err)}
			}
			kept = append(kept, l)
		}
		custom = kept
	}
	keys := map[string]string{rbl.KeySpamhausDQS: rc.DQSKey, rbl.KeyAbusix: rc.AbusixKey}
	lists, findings, err := rbl.Select(cat, names, custom, keys)
	if err != nil {
		return nil, usageError{err}
	}
	resolvers := rc.Resolvers
	if len(resolvers) == 0 {
		resolvers, err = rbl.ServersFromResolvConf(resolvConf)
		if err != nil {
			return nil, usageError{fmt.Errorf("rbl.resolvers is empty and %s could not be read: %w", resolvConf, err)}
		}
	}
	findings = append(findings, rbl.ResolverFindings(lists, resolvers)...)
	client, err := rbl.NewClient(rbl.ClientConfig{Servers: resolvers, Timeout: rc.Timeout, Attempts: rc.Attempts, CacheSize: cacheSize})
	if err != nil {
		return nil, usageError{fmt.Errorf("rbl.resolvers: %w", err)}
	}
	return &rblSetup{lists: lists, findings: findings, resolvers: resolvers, client: client}, nil
}

// checker returns a Checker over the setup's client with the configured
// bounds.
func (s *rblSetup) checker(cfg *config.Config, rdns bool) *rbl.Checker {
	return rbl.NewChecker(rbl.CheckerConfig{
		Resolver:    s.client,
		RDNS:        rdns,
		Concurrency: cfg.RBL.Concurrency,
		Rate:        float64(cfg.RBL.Rate),
		Spread:      cfg.RBL.Spread,
	})
}

// customList converts a configured custom list. Validate has checked its
// fields; Select compiles it.
func customList(c config.RBLList) *rbl.List {
	l := &rbl.List{
		Name: c.Name, Zone: c.Zone, Kind: rbl.Kind(c.Kind), IPv6: c.IPv6, Purpose: rbl.Purpose(c.Purpose),
		DelistURL: c.DelistURL, UnknownSeverity: rbl.Severity(c.Severity), Description: "custom list (rbl.custom)",
	}
	for _, code := range c.Codes {
		l.Codes = append(l.Codes, rbl.Code{Match: code.Match, Meaning: code.Meaning, Severity: rbl.Severity(code.Severity)})
	}
	return l
}

// targetsKind is the list kind for an ad hoc zone: domain when every
// target is a domain, ip otherwise.
func targetsKind(targets []rbl.Target) rbl.Kind {
	if len(targets) > 0 && !slices.ContainsFunc(targets, rbl.Target.IsIP) {
		return rbl.KindDomain
	}
	return rbl.KindIP
}

// rdnsText describes one reverse-DNS check on a line, after prefix.
func rdnsText(d *rbl.RDNS, prefix string) string {
	if d == nil {
		return ""
	}
	switch {
	case d.Status == rbl.StatusError:
		return fmt.Sprintf("%snot determined (%s: %s)", prefix, d.Error, d.Detail)
	case d.OK():
		return fmt.Sprintf("%s%s (forward-confirmed)", prefix, strings.Join(d.PTR, ", "))
	}
	ptr := "no PTR"
	if len(d.PTR) > 0 {
		ptr = strings.Join(d.PTR, ", ")
	}
	return fmt.Sprintf("%s%s: PROBLEM: %s", prefix, ptr, strings.Join(d.Problems, "; "))
}

// rdnsSummary is the summary line's part about reverse DNS.
func rdnsSummary(rep *rbl.Report) string {
	if len(rep.RDNS) == 0 {
		return ""
	}
	return fmt.Sprintf("; reverse DNS: %d with problems, %d undetermined of %d", rep.Summary.RDNSProblems, rep.Summary.RDNSErrors, len(rep.RDNS))
}
