package rules

import (
	"net/netip"
	"strings"
)

// registeredDomain trims a host name to the domain its owner registered,
// using the util_rb_tld/2tld/3tld lists of the rule files (SpamAssassin's
// RegistryBoundaries): foo.bar.example.co.uk → example.co.uk. Addresses
// and single labels are returned as they are.
func (rs *Ruleset) registeredDomain(host string) string {
	host = strings.ToLower(strings.Trim(host, ". []"))
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	labels := strings.Split(host, ".")
	n := len(labels)
	keep := 2
	switch {
	case n >= 4 && rs.threeLevel[strings.Join(labels[n-3:], ".")]:
		keep = 4
	case n >= 3 && rs.twoLevel[strings.Join(labels[n-2:], ".")]:
		keep = 3
	}
	if n <= keep {
		return host
	}
	return strings.Join(labels[n-keep:], ".")
}

// tldOK reports whether a lower-case label is a util_rb_tld top-level
// domain; without such a list, any alphabetic label of two letters or more.
func (rs *Ruleset) tldOK(tld string) bool {
	if len(rs.tlds) > 0 {
		return rs.tlds[tld]
	}
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if c := tld[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
