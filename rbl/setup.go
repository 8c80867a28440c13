package rbl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Finding is a problem with the blocklist setup that does not stop
// mailrep from running: a dead zone, a keyed zone without its key, a
// list that refuses the configured resolver. "mailrep config check"
// prints findings; the daemon logs them at start.
type Finding struct {
	// Severity is "warning" (mailrep works around it, e.g. by leaving the
	// list out) or "error" (results will be wrong or missing until fixed).
	Severity string `json:"severity"`
	// List is the catalog name of the list concerned ("" for the setup as
	// a whole).
	List string `json:"list,omitempty"`
	// Message says what is wrong and what to do, in a sentence.
	Message string `json:"message"`
}

// Finding severities.
const (
	FindingWarning = "warning"
	FindingError   = "error"
)

func (f Finding) String() string {
	if f.List == "" {
		return f.Severity + ": " + f.Message
	}
	return f.Severity + ": " + f.List + ": " + f.Message
}

// keySetting names the configuration key that holds each kind of key, for
// findings.
var keySetting = map[string]string{
	KeySpamhausDQS: "rbl.dqs_key",
	KeyAbusix:      "rbl.abusix_key",
}

// DefaultLists returns the names of the lists enabled when the
// configuration names none. The choice: free lists that need no key or
// registration to give answers, that receivers widely use for shared
// outbound IPs and sending domains, and that answer with typed codes:
//
//   - spamhaus-zen, spamhaus-dbl: the lists most receivers reject on; the
//     DQS key is optional (without it, use a local recursive resolver).
//   - barracuda, spamcop, psbl, mailspike-bl: widely used IP lists with
//     self-service or automatic delisting.
//   - uribl, surbl: the domain lists that decide whether mail naming a
//     customer's domain is rejected.
//   - dnswl: an allow list; a listing is good news and gives context for
//     the block lists' answers.
//
// Left out: UCEPROTECT (levels 2 and 3 list whole networks for their
// neighbours), SpamRATS and Hostkarma (few receivers), the reputation
// lists (a score for everyone, noisy as a default), Abusix (needs a key)
// and every dead zone.
func DefaultLists() []string {
	return []string{
		"spamhaus-zen", "spamhaus-dbl",
		"barracuda", "spamcop", "psbl", "mailspike-bl",
		"uribl", "surbl",
		"dnswl",
	}
}

// Select resolves the lists to query. names are catalog names or zones
// (rbl.lists; the caller passes DefaultLists() when the configuration
// names none); custom lists (rbl.custom) are compiled and added, a custom
// list replacing a named one with the same name or zone; keys maps a key
// kind (KeySpamhausDQS, KeyAbusix) to its value, applied with
// List.WithKey. cat is not modified; the lists returned are copies.
//
// It returns an error, naming every problem, when a name is not in the
// catalog (with close names as suggestions) or a custom list is invalid.
// Problems that leave mailrep usable are findings, and the list concerned
// is left out of the result rather than queried for wrong answers:
//
//   - a dead zone (it answers nothing useful, or "listed" for every
//     query): warning with the catalog's reason; to query it anyway, add
//     it as a custom list, which is then taken at the user's word;
//   - a keyed zone that only works with a key (Abusix) and has none:
//     warning naming the setting to fill in;
//   - a key set for a kind no selected list uses: warning;
//   - nothing left to query at all: error.
//
// Lists that work without their optional key (Spamhaus) are kept and
// queried on the public zone; see ResolverFindings for the resolver they
// then need.
func Select(cat *Catalog, names []string, custom []*List, keys map[string]string) ([]*List, []Finding, error) {
	var (
		out      []*List
		findings []Finding
		errs     []error
	)
	chosen := map[*List]bool{}
	var picked []*List
	for _, name := range names {
		l, ok := cat.Lookup(strings.TrimSpace(name))
		if !ok {
			msg := fmt.Sprintf("rbl list %q is not in the catalog", name)
			if s := suggestLists(cat, name); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
			}
			errs = append(errs, errors.New(msg))
			continue
		}
		if !chosen[l] {
			chosen[l] = true
			picked = append(picked, l)
		}
	}

	// Custom lists: compile each and let it replace a named list with
	// the same name or zone (the user's entry wins).
	var own []*List
	seen := map[string]int{}
	for i, cl := range custom {
		if cl == nil {
			errs = append(errs, fmt.Errorf("rbl custom list %d is empty", i))
			continue
		}
		l := *cl
		if err := l.Compile(); err != nil {
			errs = append(errs, fmt.Errorf("rbl custom list %s: %w", listLabel(&l), err))
			continue
		}
		dup := false
		for _, k := range []string{"name " + l.Name, "zone " + l.Zone} {
			if j, ok := seen[k]; ok {
				errs = append(errs, fmt.Errorf("rbl custom list %s: %s is also custom list %d", listLabel(&l), k, j))
				dup = true
			}
		}
		if dup {
			continue
		}
		seen["name "+l.Name], seen["zone "+l.Zone] = i, i
		picked = slices.DeleteFunc(picked, func(p *List) bool { return p.Name == l.Name || p.Zone == l.Zone })
		own = append(own, &l)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}

	used := map[string]bool{}
	for _, l := range picked {
		if l.Dead {
			findings = append(findings, Finding{Severity: FindingWarning, List: l.Name, Message: fmt.Sprintf(
				"%s is a dead zone (%s); it is left out. Remove it from rbl.lists", l.Zone, l.DeadReason)})
			continue
		}
		k := l.WithKey(keys[l.Key])
		if l.Key != "" {
			used[l.Key] = true
		}
		if k.NeedsKey() {
			findings = append(findings, Finding{Severity: FindingWarning, List: l.Name, Message: fmt.Sprintf(
				"%s needs a key: set %s; the list is left out until then", l.Zone, keySettingName(l.Key))})
			continue
		}
		out = append(out, k)
	}
	for _, l := range own {
		if l.Key != "" {
			used[l.Key] = true
		}
		k := l.WithKey(keys[l.Key])
		if k.NeedsKey() {
			findings = append(findings, Finding{Severity: FindingWarning, List: l.Name, Message: fmt.Sprintf(
				"%s needs a key: set %s; the list is left out until then", l.Zone, keySettingName(l.Key))})
			continue
		}
		// A custom list is taken at the user's word even on a zone the
		// catalog knows to be dead, but the user is told.
		if d, ok := cat.Lookup(l.Zone); ok && d.Dead {
			findings = append(findings, Finding{Severity: FindingWarning, List: l.Name, Message: fmt.Sprintf(
				"%s is a dead zone (%s); it is queried because it is a custom list, but its answers are not meaningful", l.Zone, d.DeadReason)})
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		findings = append(findings, Finding{Severity: FindingError, Message: "no usable blocklist is enabled: nothing will be checked; see the warnings above and rbl.lists"})
	}
	for _, kind := range sortedKeyKinds(keys) {
		if keys[kind] != "" && !used[kind] {
			findings = append(findings, Finding{Severity: FindingWarning, Message: fmt.Sprintf(
				"%s is set but no enabled list uses a %s key", keySettingName(kind), kind)})
		}
	}
	return out, findings, nil
}

func keySettingName(kind string) string {
	if s, ok := keySetting[kind]; ok {
		return s
	}
	return "the " + kind + " key"
}

func sortedKeyKinds(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxSuggestions bounds the names an unknown-list error proposes.
const maxSuggestions = 3

// suggestLists returns catalog names close to name: those containing it
// or contained in it, then those within a small edit distance.
func suggestLists(cat *Catalog, name string) []string {
	q := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if q == "" {
		return nil
	}
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	for _, l := range cat.Lists {
		best := -1
		for _, s := range []string{l.Name, l.Zone} {
			d := editDistance(q, s, 3)
			if len(q) >= 3 && (strings.Contains(s, q) || strings.Contains(q, s)) {
				d = 0
			}
			if d >= 0 && (best < 0 || d < best) {
				best = d
			}
		}
		if best >= 0 {
			cands = append(cands, cand{l.Name, best})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return a.dist - b.dist })
	var out []string
	for _, c := range cands {
		if len(out) == maxSuggestions {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, or -1 when it
// exceeds limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return -1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	if prev[len(b)] > limit {
		return -1
	}
	return prev[len(b)]
}

// publicResolvers are well-known public DNS resolvers, which lists that
// refuse shared resolvers (Spamhaus, URIBL, SURBL) block.
var publicResolvers = []struct {
	name  string
	addrs []string
}{
	{"Google Public DNS", []string{"8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844"}},
	{"Cloudflare", []string{"1.1.1.1", "1.0.0.1", "2606:4700:4700::1111", "2606:4700:4700::1001"}},
	{"Quad9", []string{"9.9.9.9", "149.112.112.112", "2620:fe::fe", "2620:fe::9"}},
	{"OpenDNS", []string{"208.67.222.222", "208.67.220.220", "2620:119:35::35", "2620:119:53::53"}},
	{"AdGuard DNS", []string{"94.140.14.14", "94.140.15.15"}},
	{"Verisign Public DNS", []string{"64.6.64.6", "64.6.65.6"}},
	{"CleanBrowsing", []string{"185.228.168.9"}},
	{"Control D", []string{"76.76.2.0", "76.76.10.0"}},
}

// publicResolverByAddr maps each address of publicResolvers to its
// operator.
var publicResolverByAddr = func() map[netip.Addr]string {
	m := map[netip.Addr]string{}
	for _, p := range publicResolvers {
		for _, s := range p.addrs {
			m[netip.MustParseAddr(s)] = p.name
		}
	}
	return m
}()

// resolverAddr returns the IP of a resolver given as "host:port", "host",
// "[v6]:port" or a bare IPv6 address; ok is false for host names.
func resolverAddr(r string) (netip.Addr, bool) {
	r = strings.TrimSpace(r)
	if a, err := netip.ParseAddr(strings.Trim(r, "[]")); err == nil {
		return a.WithZone(""), true
	}
	host, _, err := net.SplitHostPort(r)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone(""), true
}

// refusesPublicResolvers reports whether l is a list that blocks queries
// through public resolvers, judged from its catalog entry: it has an
// error code for it (Spamhaus 127.255.255.254) or a "query refused" code
// (URIBL, SURBL 127.0.0.1).
func refusesPublicResolvers(l *List) bool {
	for _, c := range l.Errors {
		if c.Error == ErrPublicResolver || c.Error == ErrRefused {
			return true
		}
	}
	return false
}

// ResolverFindings warns about lists that will be queried through a
// well-known public resolver (Google, Cloudflare, Quad9, OpenDNS, …) when
// the list refuses such queries: Spamhaus without a DQS key, URIBL and
// SURBL, and any catalog entry with a public-resolver or "query refused"
// error code. Their answers would all be errors. resolvers are the
// resolvers the checker will use ("host:port" or "host"; the caller
// passes those of /etc/resolv.conf when the configuration has none); host
// names cannot be judged and are skipped. One finding per list names the
// public resolvers concerned.
func ResolverFindings(lists []*List, resolvers []string) []Finding {
	var public []string
	for _, r := range resolvers {
		a, ok := resolverAddr(r)
		if !ok {
			continue
		}
		if name := publicResolverByAddr[a.Unmap()]; name != "" {
			s := a.String() + " (" + name + ")"
			if !slices.Contains(public, s) {
				public = append(public, s)
			}
		}
	}
	if len(public) == 0 {
		return nil
	}
	var findings []Finding
	for _, l := range lists {
		if l.Dead || !refusesPublicResolvers(l) || l.QueryZone() != l.Zone {
			continue // keyed zones (DQS) accept public resolvers
		}
		advice := "use a local recursive resolver (unbound, no forwarding)"
		if l.KeyedZone != "" {
			advice += " or a DQS key"
		}
		verb := "is"
		if len(public) > 1 {
			verb = "are"
		}
		findings = append(findings, Finding{Severity: FindingWarning, List: l.Name, Message: fmt.Sprintf(
			"%s refuses queries through public resolvers, and %s %s one: its answers will be errors, not results; %s",
			l.Zone, strings.Join(public, ", "), verb, advice)})
	}
	return findings
}
