package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/mailrep/mailrep/rbl"
)

// RBL configures the DNS blocklist checks. The configuration names lists
// and carries settings; resolving names against the list catalog (and
// reading catalog_files) is the caller's job, so that this package does
// not depend on package rbl.
type RBL struct {
	// Enabled turns the scheduled checks of "mailrep run" on or off.
	Enabled bool `yaml:"enabled"`
	// Lists are catalog names or zones to check; empty means the default
	// set (rbl.DefaultLists).
	Lists []string `yaml:"lists"`
	// CatalogFiles are extra catalog YAML files (the schema of the
	// built-in configs/rbl-catalog.yaml) merged over the built-in
	// catalog: an entry with the same name or zone replaces it.
	CatalogFiles []string `yaml:"catalog_files"`
	// Custom are lists defined inline; they are always checked.
	Custom []RBLList `yaml:"custom"`
	// Resolvers are the DNS resolvers to ask, as "ip" or "ip:port"
	// ("[v6]:port"); empty means the nameservers of /etc/resolv.conf.
	Resolvers []string `yaml:"resolvers"`
	// DQSKey is the Spamhaus Data Query Service key (use
	// ${SPAMHAUS_DQS_KEY}); it is a secret and never printed.
	DQSKey string `yaml:"dqs_key"`
	// AbusixKey is the Abusix Mail Intelligence key; never printed.
	AbusixKey string `yaml:"abusix_key"`
	// Schedule is when a check cycle runs: a standard 5-field cron
	// expression or a descriptor (@hourly, @every 10m), as parsed by
	// github.com/robfig/cron/v3's ParseStandard.
	Schedule string `yaml:"schedule"`
	// Schedules overrides Schedule per list (catalog name -> expression).
	Schedules map[string]string `yaml:"schedules"`
	// Targets are what is looked up.
	Targets RBLTargets `yaml:"targets"`
	// Timeout bounds one DNS query attempt.
	Timeout time.Duration `yaml:"timeout"`
	// Attempts is how many times a query is tried before it is an error.
	Attempts int `yaml:"attempts"`
	// Concurrency bounds the DNS queries in flight at once.
	Concurrency int `yaml:"concurrency"`
	// Rate bounds the queries per second sent to each zone (0: no bound
	// beyond Concurrency).
	Rate int `yaml:"rate"`
	// Spread spreads a cycle's queries over this long instead of sending
	// them in a burst (0: burst). It must be shorter than the interval
	// between two runs of Schedule.
	Spread time.Duration `yaml:"spread"`
	// Damping is how many consecutive agreeing results it takes to change
	// a (target, zone) state between listed and clean.
	Damping int `yaml:"damping"`
	// History is how many state transitions are kept.
	History int `yaml:"history"`
	// RDNS turns on the reverse-DNS checks (PTR, forward-confirmed,
	// not generic-looking) of IP targets.
	RDNS bool `yaml:"rdns"`
}

// RBLTargets are the IPs and domains the checks look up.
type RBLTargets struct {
	// IPs are addresses and CIDR prefixes (at most 65,536 addresses
	// each: a /16 of IPv4, a /112 of IPv6).
	IPs []netip.Prefix `yaml:"ips"`
	// Domains are sending domains checked against domain lists;
	// Validate lower-cases them and drops a trailing dot.
	Domains []string `yaml:"domains"`
	// FromLogs adds the outbound IPs and sender domains the ledger has
	// seen in the logs.
	FromLogs bool `yaml:"from_logs"`
}

// RBLList is a custom list defined in the configuration. It maps onto
// rbl.List: Severity is the severity of any 127.0.0.0/8 answer that is
// not in Codes (rbl.List.UnknownSeverity, unknown_codes "listed").
type RBLList struct {
	// Name is the list's name in results (required, unique).
	Name string `yaml:"name"`
	// Zone is the DNS zone to query (required); Validate lower-cases it
	// and drops a trailing dot.
	Zone string `yaml:"zone"`
	// Kind is "ip" or "domain" (required).
	Kind string `yaml:"kind"`
	// IPv6 says the list answers IPv6 queries.
	IPv6 bool `yaml:"ipv6"`
	// Purpose is "block", "allow" or "reputation".
	Purpose string `yaml:"purpose"`
	// DelistURL is where a listed party requests removal.
	DelistURL string `yaml:"delist_url"`
	// Severity of an answer not in Codes; Validate fills in "medium"
	// ("good" on allow lists) when it is empty.
	Severity string `yaml:"severity"`
	// Codes name particular answers (optional).
	Codes []RBLCode `yaml:"codes"`
}

// RBLCode is one answer code of a custom list.
type RBLCode struct {
	// Match is an address in 127.0.0.0/8 or a range "lo-hi" of them.
	Match string `yaml:"match"`
	// Meaning is what the code means.
	Meaning string `yaml:"meaning"`
	// Severity of the code; Validate fills in the list's when empty.
	Severity string `yaml:"severity"`
}

// RBL list kinds, purposes and severities accepted in RBLList (the values
// of package rbl's Kind, Purpose and Severity).
var (
	rblKinds      = []string{"ip", "domain"}
	rblPurposes   = []string{"block", "allow", "reputation"}
	rblSeverities = []string{"critical", "high", "medium", "low", "info", "good"}
)

func (r *RBL) setDefaults() {
	r.Enabled = true
	r.Schedule = "*/15 * * * *"
	r.Targets.FromLogs = true
	r.Timeout = 2 * time.Second
	r.Attempts = 3
	r.Concurrency = 64
	r.Damping = 2
	r.History = 1000
	r.RDNS = true
}

func (l *RBLList) setDefaults() { l.Purpose = "block" }

// Bounds of the RBL settings.
const (
	maxRBLTimeout     = 30 * time.Second
	maxRBLAttempts    = 10
	maxRBLConcurrency = 4096
	maxRBLDamping     = 100
	maxRBLHistory     = 1_000_000
	// maxRBLExpandBits is the most host bits of a target prefix: 2^16
	// addresses, the bound of package rbl's target expansion.
	maxRBLExpandBits = 16
)

// parseSchedule parses a schedule expression exactly as the scheduler
// will (rbl.ParseSchedule: cron.ParseStandard, guarded against the
// parser's panics, whole-second @every, and one that never fires).
func parseSchedule(spec string) (cron.Schedule, error) { return rbl.ParseSchedule(spec) }

// scheduleEpoch is a fixed point in time to evaluate schedules from, so
// that validation does not depend on today's date.
var scheduleEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func (r *RBL) validate(ck *checker, path string) {
	checkNames := func(key string, vals []string, what string) {
		first := map[string]int{}
		for i, v := range vals {
			kp := key + "[" + strconv.Itoa(i) + "]"
			v = strings.TrimSpace(v)
			vals[i] = v
			if v == "" {
				ck.errorf(kp, "must not be empty")
				continue
			}
			k := strings.ToLower(strings.TrimSuffix(v, "."))
			if j, dup := first[k]; dup {
				ck.errorf(kp, "%q is listed twice (also %s[%d])", v, what, j)
				continue
			}
			first[k] = i
		}
	}
	checkNames(path+".lists", r.Lists, "lists")
	checkNames(path+".catalog_files", r.CatalogFiles, "catalog_files")

	firstResolver := map[netip.AddrPort]int{}
	for i, res := range r.Resolvers {
		kp := path + ".resolvers[" + strconv.Itoa(i) + "]"
		ap, err := parseResolver(res)
		if err != nil {
			ck.errorf(kp, "%q %v", res, err)
			continue
		}
		if j, dup := firstResolver[ap]; dup {
			ck.errorf(kp, "%q is listed twice (also resolvers[%d])", res, j)
			continue
		}
		firstResolver[ap] = i
	}

	// Keys are secrets: errors never show their value.
	checkKey := func(key, value, what string) {
		if value != "" && !validKey(value) {
			ck.errorf(key, "is not a valid %s (letters, digits and '-' only, at most 63 characters; the value is not shown)", what)
		}
	}
	checkKey(path+".dqs_key", r.DQSKey, "Spamhaus DQS key")
	checkKey(path+".abusix_key", r.AbusixKey, "Abusix key")

	sched, err := parseSchedule(r.Schedule)
	if err != nil {
		ck.errorf(path+".schedule", "%q is not a cron expression (5 fields, e.g. \"*/15 * * * *\", or @hourly, @every 10m): %v", r.Schedule, err)
	}
	for _, name := range sortedKeys(r.Schedules) {
		kp := path + ".schedules[" + strconv.Quote(name) + "]"
		if strings.TrimSpace(name) == "" {
			ck.errorf(kp, "needs a list name")
			continue
		}
		if _, err := parseSchedule(r.Schedules[name]); err != nil {
			ck.errorf(kp, "%q is not a cron expression: %v", r.Schedules[name], err)
		}
	}

	r.Targets.validate(ck, path+".targets")
	seenCustom := map[string]int{}
	seenZone := map[string]int{}
	for i := range r.Custom {
		kp := path + ".custom[" + strconv.Itoa(i) + "]"
		l := &r.Custom[i]
		l.validate(ck, kp)
		if l.Name != "" {
			if j, dup := seenCustom[l.Name]; dup {
				ck.errorf(kp+".name", "%q is also custom[%d]", l.Name, j)
			} else {
				seenCustom[l.Name] = i
			}
		}
		if l.Zone != "" {
			if j, dup := seenZone[l.Zone]; dup {
				ck.errorf(kp+".zone", "%q is also custom[%d]", l.Zone, j)
			} else {
				seenZone[l.Zone] = i
			}
		}
	}

	switch {
	case r.Timeout <= 0:
		ck.errorf(path+".timeout", "%s must be positive", formatDuration(r.Timeout))
	case r.Timeout > maxRBLTimeout:
		ck.errorf(path+".timeout", "%s is longer than the maximum %s", formatDuration(r.Timeout), formatDuration(maxRBLTimeout))
	}
	if r.Attempts < 1 || r.Attempts > maxRBLAttempts {
		ck.errorf(path+".attempts", "%d is not between 1 and %d", r.Attempts, maxRBLAttempts)
	}
	if r.Concurrency < 1 || r.Concurrency > maxRBLConcurrency {
		ck.errorf(path+".concurrency", "%d is not between 1 and %d", r.Concurrency, maxRBLConcurrency)
	}
	if r.Rate < 0 {
		ck.errorf(path+".rate", "%d must not be negative (0 = no per-zone bound)", r.Rate)
	}
	switch {
	case r.Spread < 0:
		ck.errorf(path+".spread", "%s must not be negative (0 = burst)", formatDuration(r.Spread))
	case r.Spread > 0 && sched != nil:
		if gap := minInterval(sched); r.Spread >= gap {
			ck.errorf(path+".spread", "%s is not shorter than the %s between runs of rbl.schedule %q", formatDuration(r.Spread), formatDuration(gap), r.Schedule)
		}
	}
	if r.Damping < 1 || r.Damping > maxRBLDamping {
		ck.errorf(path+".damping", "%d is not between 1 and %d", r.Damping, maxRBLDamping)
	}
	if r.History < 1 || r.History > maxRBLHistory {
		ck.errorf(path+".history", "%d is not between 1 and %d", r.History, maxRBLHistory)
	}
}

// minInterval is the shortest time between two runs of s, over the runs
// of a year from a fixed point (so the answer does not depend on today).
func minInterval(s cron.Schedule) time.Duration {
	t := scheduleEpoch
	end := t.AddDate(1, 0, 0)
	gap := time.Duration(1<<63 - 1)
	prev := s.Next(t)
	// Bounded: a schedule of every minute needs 1,000 steps to show its
	// interval; irregular ones show their shortest gap within a year.
	for i := 0; i < 1000 && !prev.IsZero() && prev.Before(end); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		gap = min(gap, next.Sub(prev))
		prev = next
	}
	return gap
}

// parseResolver checks a resolver address: an IP with an optional port.
func parseResolver(s string) (netip.AddrPort, error) {
	s = strings.TrimSpace(s)
	if a, err := parseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("is not an IP address or ip:port (IPv6 with a port as [addr]:port)")
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("has port 0")
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("has a zone")
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// validKey reports whether s can be a DNS label of a keyed zone.
func validKey(s string) bool {
	if len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func (t *RBLTargets) validate(ck *checker, path string) {
	for i, p := range t.IPs {
		kp := path + ".ips[" + strconv.Itoa(i) + "]"
		if !p.IsValid() {
			ck.errorf(kp, "is not a valid IP address or CIDR prefix")
			continue
		}
		if host := p.Addr().BitLen() - p.Bits(); host > maxRBLExpandBits {
			n := "2^" + strconv.Itoa(host)
			if host < 63 {
				n = strconv.FormatUint(uint64(1)<<host, 10)
			}
			ck.errorf(kp, "%s has %s addresses; the most is %d (a /16 of IPv4, a /112 of IPv6): split it", p, n, 1<<maxRBLExpandBits)
		}
	}
	first := map[string]int{}
	for i, d := range t.Domains {
		kp := path + ".domains[" + strconv.Itoa(i) + "]"
		n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		switch {
		case n == "":
			ck.errorf(kp, "must not be empty")
			continue
		case isIPLike(n):
			ck.errorf(kp, "%q is an address: list it under %s.ips", d, path)
			continue
		case !validHost(n) || !strings.Contains(n, "."):
			ck.errorf(kp, "%q is not a domain name", d)
			continue
		}
		if j, dup := first[n]; dup {
			ck.errorf(kp, "%q is listed twice (also domains[%d])", d, j)
			continue
		}
		first[n] = i
		t.Domains[i] = n
	}
}

// isIPLike reports whether s is an IP address or CIDR prefix.
func isIPLike(s string) bool {
	_, err := parsePrefix(s)
	return err == nil
}

func (l *RBLList) validate(ck *checker, path string) {
	l.Name = strings.TrimSpace(l.Name)
	switch {
	case l.Name == "":
		ck.errorf(path+".name", "is required")
	case strings.ContainsFunc(l.Name, isSpace):
		ck.errorf(path+".name", "%q contains white space", l.Name)
	}
	l.Zone = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(l.Zone)), ".")
	switch {
	case l.Zone == "":
		ck.errorf(path+".zone", "is required")
	case !validZoneName(l.Zone):
		ck.errorf(path+".zone", "%q is not a DNS zone name", l.Zone)
	}
	l.Kind = strings.ToLower(strings.TrimSpace(l.Kind))
	switch {
	case l.Kind == "":
		ck.errorf(path+".kind", "is required (%s)", strings.Join(rblKinds, " or "))
	case !slices.Contains(rblKinds, l.Kind):
		ck.errorf(path+".kind", "%q is not %s", l.Kind, strings.Join(rblKinds, " or "))
	}
	l.Purpose = strings.ToLower(strings.TrimSpace(l.Purpose))
	if l.Purpose == "" {
		l.Purpose = "block"
	}
	if !slices.Contains(rblPurposes, l.Purpose) {
		ck.errorf(path+".purpose", "%q is not one of %s", l.Purpose, strings.Join(rblPurposes, ", "))
	}
	if l.DelistURL != "" && !strings.HasPrefix(l.DelistURL, "https://") && !strings.HasPrefix(l.DelistURL, "http://") {
		ck.errorf(path+".delist_url", "%q is not an http(s) URL", l.DelistURL)
	}
	l.Severity = strings.ToLower(strings.TrimSpace(l.Severity))
	if l.Severity == "" {
		l.Severity = "medium"
		if l.Purpose == "allow" {
			l.Severity = "good"
		}
	}
	if !slices.Contains(rblSeverities, l.Severity) {
		ck.errorf(path+".severity", "%q is not one of %s", l.Severity, strings.Join(rblSeverities, ", "))
	}
	for i := range l.Codes {
		c := &l.Codes[i]
		kp := path + ".codes[" + strconv.Itoa(i) + "]"
		if err := checkCodeMatch(c.Match); err != nil {
			ck.errorf(kp+".match", "%q %v", c.Match, err)
		}
		c.Severity = strings.ToLower(strings.TrimSpace(c.Severity))
		if c.Severity == "" {
			c.Severity = l.Severity
		}
		if !slices.Contains(rblSeverities, c.Severity) {
			ck.errorf(kp+".severity", "%q is not one of %s", c.Severity, strings.Join(rblSeverities, ", "))
		}
	}
}

// checkCodeMatch checks an answer code: an address in 127.0.0.0/8 or an
// ascending range "lo-hi" of them.
func checkCodeMatch(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("is required")
	}
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(strings.TrimSpace(lo))
	if err != nil || !a.Is4() || !loopback.Contains(a) {
		return fmt.Errorf("is not an address in 127.0.0.0/8 or a range lo-hi of them")
	}
	if isRange {
		b, err := netip.ParseAddr(strings.TrimSpace(hi))
		if err != nil || !b.Is4() || !loopback.Contains(b) || b.Less(a) {
			return fmt.Errorf("is not an ascending range of addresses in 127.0.0.0/8")
		}
	}
	return nil
}

// validZoneName reports whether s is a DNS zone name: dot-separated labels
// of letters, digits, '-' and '_' (list zones may use underscores).
func validZoneName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
				return false
			}
		}
	}
	return true
}

// describe writes the RBL lines of "mailrep config check". Keys are
// secrets: only whether they are set is shown.
func (r *RBL) describe(p func(string, ...any)) {
	if !r.Enabled {
		p("Blocklists\tdisabled (rbl.enabled: false; \"mailrep rbl check\" still works)")
	} else {
		p("Blocklists\tenabled")
	}
	if len(r.Lists) == 0 {
		p("\tlists\tthe default set")
	} else {
		p("\tlists\t%s", strings.Join(r.Lists, ", "))
	}
	for i, l := range r.Custom {
		label := ""
		if i == 0 {
			label = "custom"
		}
		p("\t%s\t%s (%s, %s, %s)", label, l.Name, l.Zone, l.Kind, l.Purpose)
	}
	if len(r.CatalogFiles) > 0 {
		p("\tcatalog files\t%s", strings.Join(r.CatalogFiles, ", "))
	}
	if len(r.Resolvers) == 0 {
		p("\tresolvers\tfrom /etc/resolv.conf")
	} else {
		p("\tresolvers\t%s", strings.Join(r.Resolvers, ", "))
	}
	p("\tDQS key\t%s", setOrNot(r.DQSKey))
	p("\tAbusix key\t%s", setOrNot(r.AbusixKey))
	p("\tschedule\t%s", r.Schedule)
	for _, name := range sortedKeys(r.Schedules) {
		p("\t\t%s: %s", name, r.Schedules[name])
	}
	ips := make([]string, len(r.Targets.IPs))
	for i, t := range r.Targets.IPs {
		ips[i] = t.String()
		if t.IsSingleIP() {
			ips[i] = t.Addr().String()
		}
	}
	p("\ttarget IPs\t%s", orNone(ips))
	p("\ttarget domains\t%s", orNone(r.Targets.Domains))
	p("\tfrom logs\t%t (outbound IPs and sender domains the ledger sees)", r.Targets.FromLogs)
	rate := "no per-zone bound"
	if r.Rate > 0 {
		rate = strconv.Itoa(r.Rate) + "/s per zone"
	}
	spread := "burst"
	if r.Spread > 0 {
		spread = "spread over " + formatDuration(r.Spread)
	}
	p("\tqueries\t%s timeout x %d attempts, %d at once, %s, %s", formatDuration(r.Timeout), r.Attempts, r.Concurrency, rate, spread)
	p("\tdamping\t%d agreeing results to change state; %d transitions kept", r.Damping, r.History)
	p("\treverse DNS\t%t", r.RDNS)
}

func setOrNot(secret string) string {
	if secret == "" {
		return "not set"
	}
	return "set"
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
