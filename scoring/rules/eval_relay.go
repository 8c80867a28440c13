package rules

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// Relay eval functions (SpamAssassin's RelayEval and the Received-header
// checks of HeaderEval), over the hops parsed by relayInfo, and URI evals.

func init() {
	noArgs := func(f func(m *msgState) (float64, string)) evalBuilder {
		return argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) { return f, nil })
	}
	register("check_all_trusted", noArgs(func(m *msgState) (float64, string) {
		ri := m.relayInfo()
		if len(ri.trusted) > 0 && len(ri.untrusted) == 0 {
			return 1, fmt.Sprintf("%d trusted hops", len(ri.trusted))
		}
		return 0, ""
	}))
	register("check_no_relays", noArgs(func(m *msgState) (float64, string) {
		ri := m.relayInfo()
		if len(ri.all) == 0 {
			return 1, "no parseable Received header"
		}
		return 0, ""
	}))
	register("check_relays_unparseable", noArgs(func(m *msgState) (float64, string) {
		if n := m.relayInfo().unparseable; n > 0 {
			return float64(n), fmt.Sprintf("%d unparseable Received headers", n)
		}
		return 0, ""
	}))
	register("helo_ip_mismatch", noArgs(func(m *msgState) (float64, string) {
		for _, r := range m.relayInfo().untrusted {
			h, err := netip.ParseAddr(strings.Trim(r.helo, "[]"))
			if err != nil || !h.Is4() || !r.addr.Is4() || r.addr.IsPrivate() || h.IsPrivate() {
				continue
			}
			hp, _ := h.Prefix(24)
			if !hp.Contains(r.addr) {
				return 1, r.helo + " from " + r.ip
			}
		}
		return 0, ""
	}))
	register("check_for_no_rdns_dotcom_helo", noArgs(func(m *msgState) (float64, string) {
		// The earliest untrusted hop from a public address claims a big
		// provider's name, and its Received header shows the address
		// had no reverse DNS.
		hit, where := 0.0, ""
		for _, r := range m.relayInfo().untrusted {
			if r.addr.IsPrivate() || r.addr.IsLoopback() {
				continue
			}
			hit, where = 0, ""
			if r.noRDNS && inDomains(r.helo, bigISPs) {
				hit, where = 1, r.helo
			}
		}
		return hit, where
	}))
	register("check_mailfrom_matches_rcvd", noArgs(func(m *msgState) (float64, string) {
		env := m.envelopeFrom()
		if env == "" {
			env, _ = firstAddress(m.msg.First("Return-Path"))
		}
		ed := addrDomain(env)
		ri := m.relayInfo()
		if ed == "" || len(ri.untrusted) == 0 {
			return 0, ""
		}
		r := ri.untrusted[0]
		if r.rdns == "" {
			return 0, ""
		}
		if m.rs.registeredDomain(r.rdns) == m.rs.registeredDomain(ed) {
			return 1, r.rdns
		}
		return 0, ""
	}))
	register("check_for_forged_received_trail", noArgs(func(m *msgState) (float64, string) {
		// A hop whose reverse DNS is not the host the next hop says it
		// handed over to.
		all := m.relayInfo().all
		for i := 1; i < len(all); i++ {
			by := strings.ToLower(all[i].by)
			rdns := strings.ToLower(all[i-1].rdns)
			if by == "" || rdns == "" || !strings.Contains(by, ".") || !strings.Contains(rdns, ".") {
				continue
			}
			if m.rs.registeredDomain(by) != m.rs.registeredDomain(rdns) && !all[i-1].addr.IsPrivate() {
				return 1, by + " vs " + rdns
			}
		}
		return 0, ""
	}))
	// A hop that claims a big provider's name (its HELO) from an address
	// whose reverse DNS is not the provider's.
	for _, c := range []struct {
		fn      string
		domains []string
	}{
		{"check_for_forged_hotmail_received_headers", []string{"hotmail.com", "msn.com"}},
		{"check_for_forged_eudoramail_received_headers", []string{"eudoramail.com", "whowhere.com", "lycos.com"}},
		{"check_for_forged_juno_received_headers", []string{"juno.com", "untd.com"}},
	} {
		c := c
		register(c.fn, noArgs(func(m *msgState) (float64, string) {
			for _, r := range m.relayInfo().untrusted {
				if inDomains(r.helo, c.domains) && !inDomains(r.rdns, c.domains) {
					return 1, r.helo + " from " + r.ip
				}
			}
			return 0, ""
		}))
	}
	// A Received header naming one of AOL's relays (rly-xx01.mx.aol.com)
	// that lacks the server version AOL's relays write.
	register("check_for_fake_aol_relay_in_rcvd", noArgs(func(m *msgState) (float64, string) {
		for _, v := range m.headerValues("Received", false) {
			if reAOLRelay.MatchString(v) && !reAOLVersion.MatchString(v) {
				return 1, reAOLRelay.FindString(v)
			}
		}
		return 0, ""
	}))
	// A From address at a big provider with no hop through the provider:
	// none of the hops has the provider's reverse DNS or was stamped by
	// its servers.
	for _, c := range []struct {
		fn, from string
		domains  []string
	}{
		{"check_for_forged_yahoo_received_headers", "yahoo.com", []string{"yahoo.com", "yahoo-inc.com", "yahoogroups.com"}},
	} {
		c := c
		register(c.fn, noArgs(func(m *msgState) (float64, string) {
			from, _ := firstAddress(m.msg.First("From"))
			if !strings.HasSuffix(strings.ToLower(from), "@"+c.from) {
				return 0, ""
			}
			if m.providerHop(c.domains) {
				return 0, ""
			}
			return 1, c.from + " From without a " + c.from + " hop"
		}))
	}
	// A hotmail.com From address whose path does not mention Hotmail at
	// all (a forged Hotmail hop is the rule above).
	register("check_for_no_hotmail_received_headers", noArgs(func(m *msgState) (float64, string) {
		from, _ := firstAddress(m.msg.First("From"))
		if !strings.HasSuffix(strings.ToLower(from), "@hotmail.com") {
			return 0, ""
		}
		hm := []string{"hotmail.com", "msn.com"}
		for _, r := range m.relayInfo().all {
			if inDomains(r.helo, hm) || inDomains(r.rdns, hm) || inDomains(r.by, hm) {
				return 0, ""
			}
		}
		return 1, "hotmail.com From without a Hotmail hop"
	}))
	register("gated_through_received_hdr_remover", noArgs(func(m *msgState) (float64, string) {
		// Mailing-list software that strips the Received trail leaves a
		// single local hop behind.
		recvd := m.headerValues("Received", false)
		if len(recvd) == 0 || !m.headerExists("Mailing-List") && !m.headerExists("List-Id") && !m.headerExists("X-Mailing-List") {
			return 0, ""
		}
		if len(m.relayInfo().all) == 0 {
			return 1, "list without a relay trail"
		}
		return 0, ""
	}))

	register("check_https_http_mismatch", argsBetween(0, 2, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			for _, st := range m.msg.HTMLStats {
				for _, an := range st.Anchors {
					href := strings.TrimSpace(an.Href)
					text := strings.TrimSpace(an.Text)
					if !strings.HasPrefix(strings.ToLower(href), "http://") || !strings.HasPrefix(strings.ToLower(text), "https://") {
						continue
					}
					if uriHost(href) != uriHost(text) {
						return 1, text + " → " + href
					}
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_uri_truncated", noArgs(func(m *msgState) (float64, string) {
		for _, st := range m.msg.HTMLStats {
			if st.URITruncated {
				return 1, "URI over 8192 bytes"
			}
		}
		return 0, ""
	}))
}

// bigISPs are the providers whose names spam HELOs borrow.
var bigISPs = []string{"lycos.com", "lycos.co.uk", "hotmail.com", "localhost.com", "excite.com", "caramail.com", "cs.com", "aol.com", "msn.com", "yahoo.com", "drizzle.com"}

var (
	reAOLRelay   = regexp.MustCompile(`(?i)\brly-[a-z][a-z][0-9][0-9]\.[a-z.]*aol\.com`)
	reAOLVersion = regexp.MustCompile(`\(v[0-9]+(?:\.[0-9]+)+\)`)
)

// inDomains reports whether host is one of domains or below one.
func inDomains(host string, domains []string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// providerHop reports whether a hop came from, or was received by, a
// server in one of domains: a relay with such reverse DNS, or a Received
// header stamped "by" such a host.
func (m *msgState) providerHop(domains []string) bool {
	for _, r := range m.relayInfo().all {
		if inDomains(r.rdns, domains) || inDomains(r.by, domains) {
			return true
		}
	}
	for _, v := range m.headerValues("Received", false) {
		if mm := reBy.FindStringSubmatch(v); mm != nil && inDomains(strings.TrimSuffix(mm[1], ";"), domains) {
			return true
		}
	}
	return false
}

// uriHost returns the lower-cased host of a URI.
func uriHost(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || p.Host == "" {
		if i := strings.Index(u, "://"); i >= 0 {
			h := u[i+3:]
			if j := strings.IndexAny(h, "/?#"); j >= 0 {
				h = h[:j]
			}
			if j := strings.LastIndexByte(h, '@'); j >= 0 {
				h = h[j+1:]
			}
			if j := strings.LastIndexByte(h, ':'); j >= 0 && !strings.Contains(h, "]") {
				h = h[:j]
			}
			return strings.ToLower(h)
		}
		return ""
	}
	return strings.ToLower(p.Hostname())
}
