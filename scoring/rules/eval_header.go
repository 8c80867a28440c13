package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Header eval functions (SpamAssassin's HeaderEval, FreeMail and WLBLEval
// plugins).

func init() {
	register("check_equal_from_domains", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			from, _ := firstAddress(m.msg.First("From"))
			env := m.envelopeFrom()
			fd, ed := addrDomain(from), addrDomain(env)
			if fd == "" || ed == "" {
				return 0, ""
			}
			if m.rs.registeredDomain(fd) != m.rs.registeredDomain(ed) {
				return 1, fd + " vs " + ed
			}
			return 0, ""
		}, nil
	}))
	register("check_for_matching_env_and_hdr_from", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			from, _ := firstAddress(m.msg.First("From"))
			e := m.envelopeFrom()
			if from != "" && strings.EqualFold(from, e) {
				return 1, from
			}
			return 0, ""
		}, nil
	}))
	register("check_for_missing_to_header", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			if m.headerExists("To") || m.headerExists("Apparently-To") {
				return 0, ""
			}
			return 1, "no To"
		}, nil
	}))
	register("check_header_count_range", argsExactly(3, func(env *evalEnv, a []string) (evalFunc, error) {
		name := a[0]
		lo, hi, err := parseRange(a[1], a[2])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			n := float64(len(m.headerValues(name, true)))
			if n >= lo && n <= hi {
				return 1, fmt.Sprintf("%.0f %s fields", n, name)
			}
			return 0, ""
		}, nil
	}))
	register("subject_is_all_caps", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			s := strings.TrimSpace(m.msg.First("Subject"))
			if len(strings.Fields(s)) < 2 || len(s) < 10 {
				return 0, ""
			}
			letters := 0
			for _, r := range s {
				if unicode.IsLetter(r) {
					letters++
					if !unicode.IsUpper(r) {
						return 0, ""
					}
				}
			}
			if letters == 0 {
				return 0, ""
			}
			return 1, s
		}, nil
	}))
	register("check_for_shifted_date", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			d, ok := m.dateShift()
			if !ok {
				return 0, ""
			}
			if d >= lo && d < hi {
				return 1, fmt.Sprintf("Date %+.1f hours from Received", d)
			}
			return 0, ""
		}, nil
	}))
	register("check_outlook_message_id", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) { return m.outlookMessageID() }, nil
	}))
	register("check_illegal_chars", argsExactly(3, func(env *evalEnv, a []string) (evalFunc, error) {
		name := a[0]
		ratio, err := strconv.ParseFloat(strings.TrimSpace(a[1]), 64)
		if err != nil {
			return nil, fmt.Errorf("bad ratio %q", a[1])
		}
		count, err := strconv.Atoi(strings.TrimSpace(a[2]))
		if err != nil {
			return nil, fmt.Errorf("bad count %q", a[2])
		}
		return func(m *msgState) (float64, string) {
			var v string
			if name == "ALL" {
				v, _ = m.getHeader(HeaderSelector{Name: "ALL", Raw: true})
			} else {
				v = strings.Join(m.headerValues(name, true), "\n")
			}
			if v == "" {
				return 0, ""
			}
			illegal := 0
			for i := 0; i < len(v); i++ {
				if v[i] >= 0x80 {
					illegal++
				}
			}
			if illegal >= count && float64(illegal)/float64(len(v)) > ratio {
				return 1, fmt.Sprintf("%d 8-bit bytes in %s", illegal, name)
			}
			return 0, ""
		}, nil
	}))
	register("check_for_to_in_subject", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		mode := a[0]
		return func(m *msgState) (float64, string) {
			toOrig, _ := firstAddress(m.msg.First("To"))
			subjOrig := m.msg.First("Subject")
			if toOrig == "" || subjOrig == "" {
				return 0, ""
			}
			to, subj := strings.ToLower(toOrig), strings.ToLower(subjOrig)
			switch mode {
			case "address":
				if strings.Contains(subj, to) {
					return 1, to
				}
			case "user":
				// The subject opens with the local part (after at most
				// one "Re:"), followed by punctuation or nothing: a
				// greeting such as "joe, your invoice".
				local := toOrig
				if i := strings.IndexByte(local, '@'); i > 0 {
					local = local[:i]
				}
				s := strings.TrimLeft(subjOrig, " \t")
				if len(s) >= 3 && s[0] == 'R' && (s[1] == 'e' || s[1] == 'E') && s[2] == ':' {
					s = strings.TrimLeft(s[3:], " \t")
				}
				rest, ok := strings.CutPrefix(s, local)
				if !ok || local == "" {
					return 0, ""
				}
				t := strings.TrimLeft(rest, " \t")
				p := strings.TrimLeft(t, ",:!?-")
				if rest == "" || len(p) < len(t) && (p == "" || p[0] == ' ' || p[0] == '\t') {
					return 1, local
				}
			}
			return 0, ""
		}, nil
	}))
	register("similar_recipients", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			r, ok := m.similarRecipients()
			if ok && r >= lo && r < hi {
				return 1, fmt.Sprintf("%.2f similar", r)
			}
			return 0, ""
		}, nil
	}))
	register("sorted_recipients", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			addrs := m.recipientAddrs()
			if len(addrs) < 7 {
				return 0, ""
			}
			for i := 1; i < len(addrs); i++ {
				if addrs[i-1] > addrs[i] {
					return 0, ""
				}
			}
			return 1, fmt.Sprintf("%d sorted recipients", len(addrs))
		}, nil
	}))
	register("check_fromname_equals_replyto", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			_, name := firstAddress(m.msg.First("From"))
			rt, _ := firstAddress(m.msg.First("Reply-To"))
			if name != "" && rt != "" && strings.EqualFold(strings.TrimSpace(name), rt) {
				return 1, rt
			}
			return 0, ""
		}, nil
	}))
	register("check_unresolved_template", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			for _, h := range m.msg.Headers {
				if strings.Contains(h.Raw, "%") && unresolvedTemplate(h.Raw) {
					return 1, h.Name
				}
			}
			return 0, ""
		}, nil
	}))

	// FreeMail.
	register("check_freemail_from", argsBetween(0, 1, func(env *evalEnv, a []string) (evalFunc, error) {
		re, err := optionalRegex(a)
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			for _, addr := range m.allFromAddrs() {
				if m.isFreemail(addr) && (re == nil || matchString(re, addr)) {
					return 1, addr
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_freemail_header", argsBetween(1, 2, func(env *evalEnv, a []string) (evalFunc, error) {
		// "Reply-To:addr": every address of the header is checked.
		name, _, _ := strings.Cut(a[0], ":")
		re, err := optionalRegex(a[1:])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			for _, addr := range m.headerAddrs(name) {
				if m.isFreemail(addr) && (re == nil || matchString(re, addr)) {
					return 1, addr
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_freemail_replyto", argsBetween(0, 1, func(env *evalEnv, a []string) (evalFunc, error) {
		mode := "replyto"
		if len(a) == 1 {
			mode = a[0]
		}
		if mode != "replyto" && mode != "reply" {
			return nil, fmt.Errorf("option %q: want replyto or reply", mode)
		}
		return func(m *msgState) (float64, string) { return m.freemailReplyTo(mode) }, nil
	}))

	// WLBLEval lists.
	register("check_from_in_list", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		list := env.rs.addrLists[a[0]]
		return func(m *msgState) (float64, string) {
			for _, addr := range m.allFromAddrs() {
				if list.match(addr) {
					return 1, addr
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_replyto_in_list", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		list := env.rs.addrLists[a[0]]
		return func(m *msgState) (float64, string) {
			for _, addr := range m.headerAddrs("Reply-To") {
				if list.match(addr) {
					return 1, addr
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_to_in_list", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		list := env.rs.addrLists[a[0]]
		return func(m *msgState) (float64, string) {
			for _, addr := range m.recipientAddrs() {
				if list.match(addr) {
					return 1, addr
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_uri_host_listed", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		list := env.rs.uriHostLists[a[0]]
		return func(m *msgState) (float64, string) {
			for _, u := range m.uriStrings() {
				// A host without a dot ("http://top" from href="top")
				// is no domain.
				if h := uriHost(u); strings.Contains(h, ".") && list.listed(h) {
					return 1, h
				}
			}
			return 0, ""
		}, nil
	}))
	for _, n := range []string{"check_from_in_welcomelist", "check_from_in_whitelist"} {
		register(n, argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
			list := env.rs.welcomeFrom
			return func(m *msgState) (float64, string) {
				for _, addr := range m.allFromAddrs() {
					if list.match(addr) {
						return 1, addr
					}
				}
				return 0, ""
			}, nil
		}))
	}
	for _, n := range []string{"check_from_in_blocklist", "check_from_in_blacklist"} {
		register(n, argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
			list := env.rs.blocklistFrom
			return func(m *msgState) (float64, string) {
				for _, addr := range m.allFromAddrs() {
					if list.match(addr) {
						return 1, addr
					}
				}
				return 0, ""
			}, nil
		}))
	}
}

// unresolvedTemplate finds %VARIABLE% style placeholders left by ratware.
func unresolvedTemplate(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(v) && (v[j] >= 'A' && v[j] <= 'Z' || v[j] == '_') {
			j++
		}
		if j-i > 3 && j < len(v) && v[j] == '%' {
			return true
		}
	}
	return false
}

func optionalRegex(a []string) (*Regexp, error) {
	if len(a) == 0 || a[0] == "" {
		return nil, nil
	}
	return CompileRegex("/" + a[0] + "/i")
}

func matchString(re *Regexp, s string) bool {
	ok, _ := re.match(newText(s))
	return ok
}

// headerAddrs returns every address in the named header (EnvelopeFrom
// included), lower-cased.
func (m *msgState) headerAddrs(name string) []string {
	if name == "EnvelopeFrom" {
		if e := m.envelopeFrom(); e != "" {
			return []string{strings.ToLower(e)}
		}
		return nil
	}
	var out []string
	for _, v := range m.headerValues(name, false) {
		out = append(out, allAddresses(v)...)
	}
	return out
}

// allAddresses returns the addresses of an address-list value.
func allAddresses(v string) []string {
	var out []string
	rest := v
	for guard := 0; rest != "" && guard < 1000; guard++ {
		a, _ := firstAddress(rest)
		if a != "" && strings.Contains(a, "@") {
			out = append(out, strings.ToLower(a))
		}
		i := nextMailbox(rest)
		if i < 0 {
			break
		}
		rest = rest[i:]
	}
	return out
}

// nextMailbox returns the offset after the first top-level comma, or -1.
func nextMailbox(v string) int {
	depth := 0
	quoted := false
	angle := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\':
			i++
		case quoted:
			if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case depth > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case (c == ',' || c == ';') && !angle:
			return i + 1
		}
	}
	return -1
}

// allFromAddrs returns the sender addresses SpamAssassin's all_from_addrs
// collects: Resent-From (when present, instead of the others), else From,
// Envelope-Sender, Resent-Sender, X-Envelope-From and EnvelopeFrom.
func (m *msgState) allFromAddrs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(as []string) {
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	if rf := m.headerAddrs("Resent-From"); len(rf) > 0 {
		add(rf)
		return out
	}
	for _, n := range []string{"From", "Envelope-Sender", "Resent-Sender", "X-Envelope-From", "EnvelopeFrom"} {
		add(m.headerAddrs(n))
	}
	return out
}

// recipientAddrs returns the addresses of To and Cc.
func (m *msgState) recipientAddrs() []string {
	return append(m.headerAddrs("To"), m.headerAddrs("Cc")...)
}

// isFreemail reports whether addr is at a freemail_domains domain and not
// welcome-listed.
func (m *msgState) isFreemail(addr string) bool {
	addr = strings.ToLower(addr)
	d := addrDomain(addr)
	if d == "" || m.rs.freemail.empty() {
		return false
	}
	if m.rs.freemailWL.match(addr) || m.rs.freemailWL.match(d) {
		return false
	}
	return m.rs.freemail.match(d)
}

// bodyAddrs returns the e-mail addresses in the body text (mailto: URIs).
func (m *msgState) bodyAddrs() []string {
	var out []string
	seen := map[string]bool{}
	for _, u := range m.msg.URIs {
		if !strings.HasPrefix(strings.ToLower(u), "mailto:") {
			continue
		}
		a := u[len("mailto:"):]
		if i := strings.IndexByte(a, '?'); i >= 0 {
			a = a[:i]
		}
		a = strings.ToLower(a)
		if strings.Contains(a, "@") && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// freemailReplyTo: a freemail Reply-To differing from a freemail From or
// from a freemail address in the body; with "reply" and no Reply-To, a
// freemail From differing from a freemail body address.
func (m *msgState) freemailReplyTo(mode string) (float64, string) {
	var from string
	for _, a := range m.headerAddrs("From") {
		from = a
		break
	}
	var replyTo string
	for _, a := range m.headerAddrs("Reply-To") {
		replyTo = a
		break
	}
	body := m.bodyAddrs()
	if replyTo == "" {
		if mode != "reply" || from == "" || !m.isFreemail(from) {
			return 0, ""
		}
		for _, b := range body {
			if m.isFreemail(b) && b != from {
				return 1, from + " vs " + b
			}
		}
		return 0, ""
	}
	if !m.isFreemail(replyTo) {
		return 0, ""
	}
	if from != "" && m.isFreemail(from) && from != replyTo {
		return 1, from + " vs " + replyTo
	}
	for _, b := range body {
		if m.isFreemail(b) && b != replyTo {
			return 1, b + " vs " + replyTo
		}
	}
	return 0, ""
}

// similarRecipients returns the share of pairs of To/Cc addresses that
// look alike — local parts or domains opening with the same three
// characters — when there are at least five distinct addresses: the mark
// of a list harvested in address order.
func (m *msgState) similarRecipients() (float64, bool) {
	seen := map[string]bool{}
	type addr struct{ user, domain string }
	var as []addr
	for _, a := range m.recipientAddrs() {
		if seen[a] {
			continue
		}
		seen[a] = true
		u, d, _ := strings.Cut(a, "@")
		as = append(as, addr{u, d})
	}
	if len(as) < 5 {
		return 0, false
	}
	prefix := func(a, b string) bool { return len(a) >= 3 && len(b) >= 3 && a[:3] == b[:3] }
	pairs, similar := 0, 0
	for i := 0; i < len(as); i++ {
		for j := i + 1; j < len(as); j++ {
			pairs++
			if prefix(as[i].user, as[j].user) || prefix(as[i].domain, as[j].domain) {
				similar++
			}
		}
	}
	return float64(similar) / float64(pairs), true
}

// dateShift is the Date header minus the time a Received header records,
// in hours: of all Received headers with a date, the one nearest to the
// Date header (forged or broken Received dates do not count against the
// message); without any, Delivery-Date, else the current time.
func (m *msgState) dateShift() (float64, bool) {
	ds := m.msg.First("Date")
	if ds == "" {
		return 0, false
	}
	date, ok := parseMailDate(ds)
	if !ok {
		return 0, false
	}
	best, found := 0.0, false
	local := m.relayInfo().local
	for n, v := range m.headerValues("Received", false) {
		if local[n] {
			continue
		}
		i := strings.LastIndexByte(v, ';')
		if i < 0 {
			continue
		}
		t, ok := parseMailDate(v[i+1:])
		if !ok {
			continue
		}
		d := date.Sub(t).Hours()
		if !found || math.Abs(d) < math.Abs(best) {
			best, found = d, true
		}
	}
	if found {
		return best, true
	}
	if t, ok := parseMailDate(m.msg.First("Delivery-Date")); ok {
		return date.Sub(t).Hours(), true
	}
	return time.Until(date).Hours(), true
}

// outlookMessageID checks a Message-ID in Outlook Express's format, whose
// middle holds the time the message was written: an ID whose time is far
// from both the Date header and the first Received time is fake.
func (m *msgState) outlookMessageID() (float64, string) {
	id := strings.TrimSpace(m.msg.First("Message-Id"))
	// <XXXXHHHHHHHH$LLLLLLLL$XXXXXXXX@host>: 12 hex digits (a 4-digit
	// counter and the high 32 bits of a FILETIME), the low 32 bits.
	if len(id) < 33 || id[0] != '<' {
		return 0, ""
	}
	body := id[1:]
	if len(body) < 31 || body[12] != '$' || body[21] != '$' || body[30] != '@' {
		return 0, ""
	}
	for _, i := range []int{0, 13, 22} {
		n := 12
		if i > 0 {
			n = 8
		}
		for j := i; j < i+n; j++ {
			if hexVal(rune(body[j])) < 0 {
				return 0, ""
			}
		}
	}
	hi, _ := strconv.ParseUint(body[4:12], 16, 32)
	lo, _ := strconv.ParseUint(body[13:21], 16, 32)
	ft := hi<<32 | lo
	// FILETIME counts 100 ns since 1601-01-01.
	secs := float64(ft)/1e7 - 11644473600
	var refs []float64
	if date, ok := parseMailDate(m.msg.First("Date")); ok {
		refs = append(refs, float64(date.Unix()))
	}
	for _, v := range m.headerValues("Received", false) {
		if i := strings.LastIndexByte(v, ';'); i >= 0 {
			if t, ok := parseMailDate(v[i+1:]); ok {
				refs = append(refs, float64(t.Unix()))
				break
			}
		}
	}
	if len(refs) == 0 {
		return 0, ""
	}
	const fudge = 250 // seconds
	for _, r := range refs {
		if math.Abs(r-secs) < fudge {
			return 0, ""
		}
	}
	return 1, id
}
