package config

import (
	"net/netip"
	"strings"
)

// ipKey keys the Resolve index: a Match value and the host it is
// restricted to ("" = any host).
type ipKey struct{ host, match string }

// ipIndex is the precomputed form of IPs.Transports that Resolve looks up
// without allocating.
type ipIndex struct {
	// program holds rules whose Match does not end in "/", as exact
	// program names.
	program map[ipKey]netip.Addr
	// prefix holds rules whose Match ends in "/".
	prefix map[ipKey]netip.Addr
	// transport holds the same rules as program, as transport names.
	transport map[ipKey]netip.Addr
}

// buildIndex indexes the valid transport rules of ips. When two rules
// share a key the first wins (Validate reports the duplicate).
func buildIndex(ips *IPs) *ipIndex {
	x := &ipIndex{
		program:   map[ipKey]netip.Addr{},
		prefix:    map[ipKey]netip.Addr{},
		transport: map[ipKey]netip.Addr{},
	}
	put := func(m map[ipKey]netip.Addr, k ipKey, a netip.Addr) {
		if _, ok := m[k]; !ok {
			m[k] = a
		}
	}
	for _, t := range ips.Transports {
		if t.Match == "" || t.Match == "/" || !t.IP.IsValid() {
			continue
		}
		k := ipKey{t.Host, t.Match}
		if strings.HasSuffix(t.Match, "/") {
			put(x.prefix, k, t.IP)
			continue
		}
		put(x.program, k, t.IP)
		put(x.transport, k, t.IP)
	}
	return x
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
		if program != "" {
			if a, ok := x.lookup(x.program, host, program); ok {
				return a
			}
			for i := len(program) - 1; i >= 0; i-- {
				if program[i] == '/' {
					if a, ok := x.lookup(x.prefix, host, program[:i+1]); ok {
						return a
					}
				}
			}
		}
		if transport != "" {
			if a, ok := x.lookup(x.transport, host, transport); ok {
				return a
			}
		}
	} else if a, ok := ips.scan(host, program, transport); ok {
		return a
	}
	if a, ok := ips.Hosts[host]; ok && a.IsValid() {
		return a
	}
	return ips.Default
}

func (x *ipIndex) lookup(m map[ipKey]netip.Addr, host, match string) (netip.Addr, bool) {
	if host != "" {
		if a, ok := m[ipKey{host, match}]; ok {
			return a, true
		}
	}
	a, ok := m[ipKey{"", match}]
	return a, ok
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
