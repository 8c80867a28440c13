package config

import (
	"net/netip"
	"strings"
)

// ruleMap holds the transport rules of one kind by Match. Host-specific
// rules are merged over the host-agnostic ones into one map per host, so
// each Resolve step is one string-keyed map lookup.
type ruleMap struct {
	any    map[string]netip.Addr
	byHost map[string]map[string]netip.Addr
}

// newRuleMap builds a ruleMap from rules (Host, Match, IP). When two rules
// share host and Match the first wins (Validate reports the duplicate).
func newRuleMap(rules []TransportIP) ruleMap {
	var m ruleMap
	put := func(dst map[string]netip.Addr, match string, a netip.Addr) {
		if _, ok := dst[match]; !ok {
			dst[match] = a
		}
	}
	for _, r := range rules {
		if r.Host == "" {
			if m.any == nil {
				m.any = map[string]netip.Addr{}
			}
			put(m.any, r.Match, r.IP)
		}
	}
	for _, r := range rules {
		if r.Host == "" {
			continue
		}
		if m.byHost == nil {
			m.byHost = map[string]map[string]netip.Addr{}
		}
		hm := m.byHost[r.Host]
		if hm == nil {
			hm = map[string]netip.Addr{}
			m.byHost[r.Host] = hm
		}
		put(hm, r.Match, r.IP)
	}
	// Host-agnostic rules apply on every host, after the host's own.
	for _, hm := range m.byHost {
		for match, a := range m.any {
			put(hm, match, a)
		}
	}
	return m
}

// forHost returns the rules that apply on host, by Match (nil if none).
func (m *ruleMap) forHost(host string) map[string]netip.Addr {
	if m.byHost != nil {
		if hm, ok := m.byHost[host]; ok {
			return hm
		}
	}
	return m.any
}

// ipIndex is the precomputed form of IPs.Transports that Resolve looks up
// without allocating.
type ipIndex struct {
	// names holds rules whose Match does not end in "/": they match a
	// program name exactly, or a transport name.
	names ruleMap
	// prefixes holds rules whose Match ends in "/".
	prefixes ruleMap
}

// buildIndex indexes the valid transport rules of ips.
func buildIndex(ips *IPs) *ipIndex {
	var names, prefixes []TransportIP
	for _, t := range ips.Transports {
		switch {
		case t.Match == "" || t.Match == "/" || !t.IP.IsValid():
		case strings.HasSuffix(t.Match, "/"):
			prefixes = append(prefixes, t)
		default:
			names = append(names, t)
		}
	}
	return &ipIndex{names: newRuleMap(names), prefixes: newRuleMap(prefixes)}
}

// Resolve returns the outbound IP of a delivery logged on syslog host
// host by program (e.g. "postfix-out2/smtp") through transport (Exim T=,
// Postfix master.cf service; "" if unknown). The first of these that
// matches wins:
//
//  1. a transport rule whose Match is exactly program;
//  2. a transport rule whose Match is a prefix of program ending in "/"
//     (the longest such prefix first);
//  3. a transport rule whose Match is transport;
//  4. Hosts[host];
//  5. Default;
//
// and otherwise the zero Addr. Within each of steps 1-3 a rule for host
// comes before a rule for any host. Resolve does not allocate; it uses the
// index built by Validate (Load and Parse call it), and scans Transports
// when Validate has not been called.
func (ips *IPs) Resolve(host, program, transport string) netip.Addr {
	if x := ips.index; x != nil {
		names := x.names.forHost(host)
		if program != "" {
			if a, ok := names[program]; ok {
				return a
			}
			if prefixes := x.prefixes.forHost(host); prefixes != nil {
				for i := len(program) - 1; i >= 0; i-- {
					if program[i] == '/' {
						if a, ok := prefixes[program[:i+1]]; ok {
							return a
						}
					}
				}
			}
		}
		if transport != "" {
			if a, ok := names[transport]; ok {
				return a
			}
		}
	} else if a, ok := ips.scan(host, program, transport); ok {
		return a
	}
	if ips.Hosts != nil {
		if a, ok := ips.Hosts[host]; ok && a.IsValid() {
			return a
		}
	}
	return ips.Default
}

// scan is Resolve's steps 1-3 over the unindexed rules, for a Config that
// was not validated.
func (ips *IPs) scan(host, program, transport string) (netip.Addr, bool) {
	if len(ips.Transports) == 0 {
		return netip.Addr{}, false
	}
	// rank orders matches: lower is better; -1 means no match.
	rank := func(t *TransportIP) int {
		if t.Match == "" || t.Match == "/" || !t.IP.IsValid() {
			return -1
		}
		if t.Host != "" && t.Host != host {
			return -1
		}
		agnostic := 0
		if t.Host == "" {
			agnostic = 1
		}
		if strings.HasSuffix(t.Match, "/") {
			if strings.HasPrefix(program, t.Match) {
				// Longer prefixes rank first; a prefix is at most
				// len(program) bytes long.
				return 2 + 2*(len(program)-len(t.Match)) + agnostic
			}
			return -1
		}
		if program != "" && t.Match == program {
			return agnostic
		}
		if transport != "" && t.Match == transport {
			return 2 + 2*(len(program)+1) + agnostic
		}
		return -1
	}
	best, bestRank := -1, -1
	for i := range ips.Transports {
		r := rank(&ips.Transports[i])
		if r >= 0 && (bestRank < 0 || r < bestRank) {
			best, bestRank = i, r
		}
	}
	if best < 0 {
		return netip.Addr{}, false
	}
	return ips.Transports[best].IP, true
}
