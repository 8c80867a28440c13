package rules

import (
	"fmt"
	"net/netip"
	"net/url"
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
		// The originating hop (the earliest untrusted one) claims a big
		// provider's name but its address has no reverse DNS.
		u := m.relayInfo().untrusted
		if len(u) == 0 {
			return 0, ""
		}
		r := u[len(u)-1]
		if r.rdns != "" {
			return 0, ""
		}
		h := strings.ToLower(r.helo)
		for _, isp := range bigISPs {
			if h == isp || strings.HasSuffix(h, "."+isp) {
				return 1, r.helo
			}
		}
		return 0, ""
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
	for _, c := range []struct{ fn, domain, relay string }{
		{"check_for_forged_yahoo_received_headers", "yahoo.com", "yahoo.com"},
		{"check_for_forged_hotmail_received_headers", "hotmail.com", "hotmail.com"},
		{"check_for_forged_eudoramail_received_headers", "eudoramail.com", "whowhere.com"},
		{"check_for_forged_juno_received_headers", "juno.com", "juno.com"},
	} {
		c := c
		register(c.fn, noArgs(func(m *msgState) (float64, string) {
			return m.forgedFreemailRelay(c.domain, c.relay)
		}))
	}
	register("check_for_no_hotmail_received_headers", noArgs(func(m *msgState) (float64, string) {
		from, _ := firstAddress(m.msg.First("From"))
		if !strings.HasSuffix(strings.ToLower(from), "@hotmail.com") {
			return 0, ""
		}
		if len(m.headerValues("Received", false)) == 0 {
			return 1, "hotmail.com From without Received"
		}
		return 0, ""
	}))
	register("check_for_fake_aol_relay_in_rcvd", noArgs(func(m *msgState) (float64, string) {
		for _, v := range m.headerValues("Received", false) {
			l := strings.ToLower(v)
			i := strings.Index(l, " rly-")
			if i < 0 || !strings.Contains(l[i:], ".mx.aol.com") {
				continue
			}
			if !strings.Contains(l, "by ") || !strings.Contains(l[strings.Index(l, "by "):], "aol.com") {
				return 1, "rly- relay not handed to aol.com"
			}
		}
		return 0, ""
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

// forgedFreemailRelay: a From address at domain whose Received trail shows
// no hop through relayDomain.
func (m *msgState) forgedFreemailRelay(domain, relayDomain string) (float64, string) {
	from, _ := firstAddress(m.msg.First("From"))
	if !strings.HasSuffix(strings.ToLower(from), "@"+domain) {
		return 0, ""
	}
	recvd := m.headerValues("Received", false)
	if len(recvd) == 0 {
		return 0, ""
	}
	for _, v := range recvd {
		if strings.Contains(strings.ToLower(v), relayDomain) {
			return 0, ""
		}
	}
	return 1, domain + " From without a " + relayDomain + " hop"
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
