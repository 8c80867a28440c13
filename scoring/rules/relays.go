package rules

import (
	"net/netip"
	"regexp"
	"strings"
)

// relay is one hop parsed from a Received header, in SpamAssassin's terms.
type relay struct {
	ip      string
	addr    netip.Addr
	rdns    string
	helo    string
	by      string
	ident   string
	envfrom string
	id      string
	auth    string
	intl    bool
	// noRDNS: the header shows the address had no reverse DNS (an MTA
	// that looks it up wrote none, or "unknown"); not set for MTAs that
	// never look it up (Microsoft SMTPSVC, SMTPD32, Exim's helo= form).
	noRDNS bool
	// raw is the header the hop came from.
	raw string
}

// relayInfo is the message's delivery path: hops from the most recent
// (added by the receiving side) to the earliest, split by trust.
type relayInfo struct {
	all         []relay
	trusted     []relay
	untrusted   []relay
	internal    []relay
	external    []relay
	unparseable int
	// received counts Received headers.
	received int
	// local marks, by index among the Received headers, the fetchmail
	// hops and the local hand-overs above them: not part of the path, and
	// their dates say when the mail was fetched, not received.
	local map[int]bool
	// hopHeader is, per hop in all, the index of its Received header.
	hopHeader []int
}

// relayInfo parses the Received headers once. Without trusted_networks
// configuration mailrep applies SpamAssassin's inference: a hop from a
// private or loopback address is trusted, as is an authenticated hop
// after a trusted one; the first other hop and all before it are not.
// Internal hops are the trusted ones.
func (m *msgState) relayInfo() *relayInfo {
	if m.relays != nil {
		return m.relays
	}
	ri := &relayInfo{}
	m.relays = ri
	ri.local = map[int]bool{}
	for i, v := range m.headerValues("Received", false) {
		ri.received++
		r, status := parseReceived(v)
		switch status {
		case recvSkip:
			continue
		case recvFetchmail:
			ri.local[i] = true
			// The hop above is fetchmail's local hand-over.
			if n := len(ri.all); n > 0 && ri.all[n-1].addr.IsLoopback() && ri.hopHeader[n-1] == i-1 {
				ri.all = ri.all[:n-1]
				ri.hopHeader = ri.hopHeader[:n-1]
				ri.local[i-1] = true
			}
			continue
		case recvUnparseable:
			ri.unparseable++
			continue
		}
		ri.all = append(ri.all, r)
		ri.hopHeader = append(ri.hopHeader, i)
	}
	trusting := true
	for i, r := range ri.all {
		if trusting {
			switch {
			case r.addr.IsValid() && (r.addr.IsPrivate() || r.addr.IsLoopback()):
			case r.auth != "" && i > 0:
			default:
				trusting = false
			}
		}
		if trusting {
			r.intl = true
			ri.trusted = append(ri.trusted, r)
			ri.internal = append(ri.internal, r)
		} else {
			ri.untrusted = append(ri.untrusted, r)
			ri.external = append(ri.external, r)
		}
	}
	return ri
}

// formatRelays writes hops as SpamAssassin's X-Spam-Relays-* pseudo-headers.
func formatRelays(rl []relay) string {
	var b strings.Builder
	for i, r := range rl {
		if i > 0 {
			b.WriteByte(' ')
		}
		intl := "0"
		if r.intl {
			intl = "1"
		}
		b.WriteString("[ ip=" + r.ip + " rdns=" + r.rdns + " helo=" + r.helo + " by=" + r.by +
			" ident=" + r.ident + " envfrom=" + r.envfrom + " intl=" + intl + " id=" + r.id +
			" auth=" + r.auth + " msa=0 ]")
	}
	return b.String()
}

type recvStatus int

const (
	recvOK recvStatus = iota
	recvSkip
	recvUnparseable
	// recvFetchmail is a fetchmail hop: it and the local hand-over above
	// it are not part of the path.
	recvFetchmail
)

var (
	reBracket  = regexp.MustCompile(`\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]`)
	reBy       = regexp.MustCompile(`(?i)\bby\s+([^\s;()]+)`)
	reID       = regexp.MustCompile(`(?i)\bid\s+<?([^\s;<>]+?)>?(?:[\s;]|$)`)
	reEnvFrom  = regexp.MustCompile(`(?i)\(?envelope-from\s+<?([^\s<>()]*)>?\)?`)
	reWith     = regexp.MustCompile(`(?i)\bwith\s+([A-Za-z0-9_-]+)`)
	reHeloEq   = regexp.MustCompile(`(?i)\bhelo\s*=\s*([^\s)]+)`)
	reQmailH   = regexp.MustCompile(`(?i)\(HELO\s+([^\s)]*)\)`)
	reAuthCol  = regexp.MustCompile(`\(AUTH:\s*([A-Za-z0-9_-]+)`)
	reProxy    = regexp.MustCompile(`\(proxying for ([0-9.]+)\)`)
	reParenIP  = regexp.MustCompile(`\((?:([^()\s@]+)@)?([0-9]{1,3}(?:\.[0-9]{1,3}){3})\)`)
	reFrom     = regexp.MustCompile(`(?i)^from\s+([^\s(]+)`)
	reNoLookup = regexp.MustCompile(`Microsoft SMTPSVC|SMTPD32|\(helo=|\(AIMC|Internet Mail Service`)
	reAnyIP    = regexp.MustCompile(`\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}\b|\[(?:IPv6:)?[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+\]`)
)

// parseReceived reads one Received header value into a hop.
func parseReceived(v string) (relay, recvStatus) {
	r := relay{raw: v}
	s := strings.Join(strings.Fields(v), " ")
	low := strings.ToLower(s)
	switch {
	case strings.Contains(low, "with pop3") || strings.Contains(low, "with imap") || strings.Contains(low, "(fetchmail"):
		return r, recvFetchmail
	case !strings.HasPrefix(low, "from "):
		// "(qmail … invoked …)", "by host (Postfix, from userid …)":
		// hops inside one host.
		return r, recvSkip
	case strings.HasPrefix(low, "from mail pickup service by"):
		return r, recvSkip
	}
	fromPart := s
	if i := strings.Index(low, " by "); i >= 0 {
		fromPart = s[:i]
	}
	tail := s[len(fromPart):]
	if m := reBy.FindStringSubmatch(tail); m != nil {
		r.by = strings.TrimSuffix(m[1], ";")
	}
	if m := reID.FindStringSubmatch(tail); m != nil {
		r.id = strings.TrimSuffix(m[1], ";")
	}
	if m := reEnvFrom.FindStringSubmatch(s); m != nil {
		// SpamAssassin writes "#" as "!" in its relay lines.
		r.envfrom = strings.ReplaceAll(m[1], "#", "!")
	}
	r.auth = receivedAuth(s, tail)
	exim := strings.Contains(s, "(Exim ")

	if !reAnyIP.MatchString(s) {
		// No address at all: a hop within one host ("from user by
		// host with local"), nothing to parse.
		return r, recvSkip
	}
	var first, rest string
	if m := reFrom.FindStringSubmatch(fromPart); m != nil {
		first, rest = m[1], fromPart[len(m[0]):]
	} else if strings.HasPrefix(fromPart[5:], "(") {
		// "from (127.0.0.1 [127.0.0.1])": no HELO.
		rest = fromPart[5:]
	} else {
		return r, recvUnparseable
	}

	// The address: a proxied client, a bracketed address in the
	// parenthesised part, a parenthesised address (qmail, smap), the
	// bracketed HELO, or a bare address as the HELO.
	ip, heloIP := "", ""
	if strings.HasPrefix(first, "[") {
		if bm := reBracket.FindStringSubmatch(first); bm != nil {
			heloIP = bm[1]
		}
	}
	switch {
	case reProxy.MatchString(s):
		ip = reProxy.FindStringSubmatch(s)[1]
	case reBracket.MatchString(rest):
		ip = reBracket.FindStringSubmatch(rest)[1]
	case reParenIP.MatchString(rest):
		pm := reParenIP.FindStringSubmatch(rest)
		ip, r.ident = pm[2], pm[1]
	case reParenIP.MatchString(first):
		// smap: "from unknown(10.0.0.13)"
		pm := reParenIP.FindStringSubmatch(first)
		ip = pm[2]
		first = first[:strings.IndexByte(first, '(')]
	case heloIP != "":
		ip = heloIP
	default:
		if a, err := netip.ParseAddr(first); err == nil {
			ip = a.String()
			heloIP = ip
		}
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return r, recvUnparseable
	}
	r.addr = addr.Unmap()
	r.ip = r.addr.String()

	switch {
	case heloIP != "":
		// "from [192.0.2.1]" or "from 192.0.2.1": no HELO name; a
		// different bracketed HELO address is kept as !address!.
		if ha, err := netip.ParseAddr(heloIP); err == nil && ha.Unmap() != r.addr {
			r.helo = "!" + heloIP + "!"
		}
		if hm := reHeloEq.FindStringSubmatch(rest); hm != nil {
			r.helo = hm[1]
		}
		if pr := parenName(rest); pr != "" {
			r.rdns = pr
		}
	case reHeloEq.MatchString(rest):
		// Exim: "from RDNS ([IP] helo=HELO)".
		r.helo = reHeloEq.FindStringSubmatch(rest)[1]
		r.rdns = first
	case reQmailH.MatchString(rest):
		// qmail: "from RDNS (HELO helo) (IP)".
		r.helo = reQmailH.FindStringSubmatch(rest)[1]
		if !strings.EqualFold(first, "unknown") {
			r.rdns = first
		}
	default:
		r.helo = first
		if first == "" {
			// "from (192.0.2.1 [192.0.2.1])": the name in the
			// parenthesis is what the client said.
			if f := strings.Fields(strings.Trim(strings.TrimSpace(rest), "()")); len(f) > 0 {
				r.helo = f[0]
			}
		}
		if pr := parenName(rest); pr != "" {
			// "from HELO (RDNS [IP])", "from HELO (ident@RDNS [IP])"
			r.rdns = pr
			if r.ident == "" {
				r.ident = parenIdent(rest)
			}
		} else if exim || reParenIP.MatchString(rest) {
			// Exim leaves out helo= when it equals the verified
			// name; qmail's "from NAME (IP)" names the host.
			if !strings.EqualFold(first, "unknown") {
				r.rdns = first
			}
		}
	}
	r.ident = strings.TrimPrefix(r.ident, "IDENT:")
	if r.rdns != "" && strings.EqualFold(r.rdns, "unknown") {
		r.rdns = ""
	}
	r.noRDNS = r.rdns == "" && !reNoLookup.MatchString(s)
	return r, recvOK
}

// receivedAuth names the authentication a hop records, as SpamAssassin
// does: the ESMTPA-style protocol, Exim's asmtp, webmail's HTTP, the SASL
// method of "(AUTH: …)", Sendmail's "(authenticated", Postfix's
// "(Authenticated sender:".
func receivedAuth(s, tail string) string {
	if m := reWith.FindStringSubmatch(tail); m != nil {
		w := m[1]
		switch strings.ToUpper(w) {
		case "ESMTPA", "ESMTPSA", "LMTPA", "LMTPSA", "SMTPA", "ESMTPSRA", "ESMTPRA", "UTF8SMTPA", "UTF8SMTPSA":
			return strings.ToUpper(w)
		case "ASMTP":
			return "asmtp"
		case "HTTP":
			return "HTTP"
		}
	}
	if m := reAuthCol.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	switch {
	case strings.Contains(s, "(Authenticated sender:"):
		return "Postfix"
	case strings.Contains(s, "(authenticated"):
		return "Sendmail"
	}
	return ""
}

// parenName returns the host name before "[IP]" in the first parenthesis
// of a from clause ("(rdns [IP])", "(ident@rdns [IP])"), "" if none.
func parenName(rest string) string {
	open := strings.IndexByte(rest, '(')
	if open < 0 {
		return ""
	}
	inner := rest[open+1:]
	if end := strings.IndexByte(inner, ')'); end >= 0 {
		inner = inner[:end]
	}
	inner = strings.TrimSpace(inner)
	k := strings.IndexByte(inner, '[')
	if k <= 0 {
		return ""
	}
	name := strings.TrimSpace(inner[:k])
	if at := strings.IndexByte(name, '@'); at >= 0 {
		name = name[at+1:]
	}
	if strings.ContainsAny(name, " ") || strings.EqualFold(name, "unknown") {
		return ""
	}
	if _, err := netip.ParseAddr(name); err == nil {
		// "(192.0.2.1 [192.0.2.1])": an address is not a name.
		return ""
	}
	return name
}

// parenIdent returns the ident of "(ident@rdns [IP])".
func parenIdent(rest string) string {
	open := strings.IndexByte(rest, '(')
	if open < 0 {
		return ""
	}
	inner := rest[open+1:]
	at := strings.IndexByte(inner, '@')
	sp := strings.IndexAny(inner, " [)")
	if at > 0 && (sp < 0 || at < sp) {
		return inner[:at]
	}
	return ""
}
