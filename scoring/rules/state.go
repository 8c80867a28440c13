package rules

import (
	"context"
	"strings"
	"time"

	"github.com/mailrep/mailrep/scoring/message"
)

// msgState is what Check knows about one message while it runs the rules:
// the message, views of it built on first use, and every rule's value.
type msgState struct {
	ctx  context.Context
	rs   *Ruleset
	msg  *message.Message
	over *compiledOverrides

	// values holds each rule's value (hit count, eval result, meta
	// value), by Rule.index; where notes what matched.
	values []float64
	where  []string
	// tags are SpamAssassin capture tags set by named groups.
	tags map[string]string

	// Views, built on first use.
	headerCache map[HeaderSelector]*text
	rawFields   []rawField
	rawParsed   bool
	bodyLines   []*text
	rawLines    []*text
	uriTexts    []*text
	uriList     []string
	fullText    *text
	relays      *relayInfo

	// timeouts names rules whose backtracking match hit BacktrackTimeout.
	timeouts []string
	start    time.Time
}

// rawField is one top-level header field as written: its name and the
// text after the colon, folds and surrounding blanks included.
type rawField struct {
	name, value string
}

// rawHeaderFields splits the message's header section into fields.
func (m *msgState) rawHeaderFields() []rawField {
	if m.rawParsed {
		return m.rawFields
	}
	m.rawParsed = true
	h := m.msg.RawHeader
	for len(h) > 0 {
		end := strings.IndexByte(h, '\n')
		line := h
		if end >= 0 {
			line, h = h[:end+1], h[end+1:]
		} else {
			h = ""
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(m.rawFields) > 0 {
			f := &m.rawFields[len(m.rawFields)-1]
			f.value += "\n" + strings.TrimRight(line, "\r\n")
			continue
		}
		colon := strings.IndexByte(trimmed, ':')
		if colon <= 0 {
			continue
		}
		m.rawFields = append(m.rawFields, rawField{
			name:  strings.TrimRight(trimmed[:colon], " \t"),
			value: trimmed[colon+1:],
		})
	}
	return m.rawFields
}

// headerValues returns the values of the top-level fields named name as
// SpamAssassin's header rules see them: decoded, folds made one space,
// trimmed (raw: as written after the colon, folds kept).
func (m *msgState) headerValues(name string, raw bool) []string {
	var out []string
	if raw {
		for _, f := range m.rawHeaderFields() {
			if strings.EqualFold(f.name, name) {
				out = append(out, f.value)
			}
		}
		return out
	}
	for _, h := range m.msg.Headers {
		if strings.EqualFold(h.Name, name) {
			out = append(out, strings.TrimSpace(h.Value))
		}
	}
	return out
}

// headerExists reports whether a top-level field named name is present.
func (m *msgState) headerExists(name string) bool {
	for _, h := range m.msg.Headers {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// getHeader returns what a header rule with selector sel matches against,
// and whether the header (or pseudo-header) was present. Like
// SpamAssassin's, every value is followed by a newline, several fields of
// one name in order; :addr and :name give one value without a newline.
func (m *msgState) getHeader(sel HeaderSelector) (string, bool) {
	var vals []string
	switch sel.Name {
	case "ALL":
		if sel.Raw {
			h := strings.ReplaceAll(m.msg.RawHeader, "\r\n", "\n")
			return strings.TrimSuffix(h, "\n") + "\n", h != ""
		}
		var b strings.Builder
		for _, h := range m.msg.Headers {
			b.WriteString(h.Name)
			b.WriteString(": ")
			b.WriteString(strings.TrimSpace(h.Value))
			b.WriteByte('\n')
		}
		return b.String(), len(m.msg.Headers) > 0
	case "ALL-TRUSTED", "ALL-UNTRUSTED", "ALL-INTERNAL", "ALL-EXTERNAL":
		v := m.headersByTrust(sel.Name)
		return v, v != ""
	case "ToCc":
		vals = append(m.headerValues("To", sel.Raw), m.headerValues("Cc", sel.Raw)...)
	case "MESSAGEID":
		for _, n := range []string{"Message-Id", "Resent-Message-Id", "X-Message-Id"} {
			vals = append(vals, m.headerValues(n, sel.Raw)...)
		}
	case "EnvelopeFrom":
		if e := m.envelopeFrom(); e != "" {
			vals = []string{e}
		}
	case "X-Spam-Relays-Untrusted", "X-Spam-Relays-Trusted", "X-Spam-Relays-Internal", "X-Spam-Relays-External":
		ri := m.relayInfo()
		var rl []relay
		switch sel.Name {
		case "X-Spam-Relays-Untrusted":
			rl = ri.untrusted
		case "X-Spam-Relays-Trusted":
			rl = ri.trusted
		case "X-Spam-Relays-Internal":
			rl = ri.internal
		default:
			rl = ri.external
		}
		if len(rl) == 0 {
			return "", false
		}
		return formatRelays(rl), true
	default:
		vals = m.headerValues(sel.Name, sel.Raw)
	}
	if len(vals) == 0 {
		return "", false
	}
	switch {
	case sel.Addr, sel.Host, sel.Dom:
		for _, v := range vals {
			if a, _ := firstAddress(v); a != "" {
				switch {
				case sel.Host:
					return addrDomain(a), true
				case sel.Dom:
					return m.rs.registeredDomain(addrDomain(a)), true
				}
				return a, true
			}
		}
		return "", true
	case sel.DisplayName:
		for _, v := range vals {
			if _, n := firstAddress(v); n != "" {
				return n, true
			}
		}
		return "", true
	}
	var b strings.Builder
	for _, v := range vals {
		b.WriteString(v)
		b.WriteByte('\n')
	}
	return b.String(), true
}

// envelopeFrom is the envelope sender: from the queue when known, else as
// SpamAssassin finds it in the message (observed in 4.0): the
// envelope-from a Received header records for the hand-over (the first
// untrusted hop, else the last trusted one); nothing when an X-Sender
// header makes Return-Path unreliable; else Return-Path, X-Envelope-From
// or Envelope-Sender.
func (m *msgState) envelopeFrom() string {
	if s := m.msg.Context.Sender; s != "" {
		return s
	}
	ri := m.relayInfo()
	if len(ri.untrusted) > 0 && ri.untrusted[0].envfrom != "" {
		return ri.untrusted[0].envfrom
	}
	if n := len(ri.trusted); n > 0 && ri.trusted[n-1].envfrom != "" {
		return ri.trusted[n-1].envfrom
	}
	if m.headerExists("X-Sender") {
		return ""
	}
	for _, n := range []string{"Return-Path", "X-Envelope-From", "Envelope-Sender"} {
		for _, v := range m.headerValues(n, false) {
			if a, _ := firstAddress(v); a != "" {
				return a
			}
		}
	}
	return ""
}

// addrDomain returns the lower-cased domain of an address.
func addrDomain(a string) string {
	i := strings.LastIndexByte(a, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.Trim(a[i+1:], "[]. "))
}

// firstAddress returns the first mailbox of an address-list header value:
// its address and its display name (the phrase before <…>, unquoted, or
// the comment after a bare address), as SpamAssassin's :addr and :name
// read them. A group's "display:" label is skipped.
func firstAddress(v string) (addr, name string) {
	type tok struct {
		kind byte // 'w' word, 'q' quoted, 'c' comment, 'a' angle, ',' ':' ';'
		s    string
	}
	var toks []tok
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(v) && v[j] != '"' {
				if v[j] == '\\' && j+1 < len(v) {
					j++
				}
				b.WriteByte(v[j])
				j++
			}
			toks = append(toks, tok{'q', b.String()})
			i = j + 1
		case c == '(':
			depth, j := 1, i+1
			for j < len(v) && depth > 0 {
				switch v[j] {
				case '\\':
					j++
				case '(':
					depth++
				case ')':
					depth--
				}
				j++
			}
			end := j - 1
			if depth > 0 || end < i+1 {
				end = len(v)
			}
			toks = append(toks, tok{'c', strings.TrimSpace(v[i+1 : end])})
			i = j
		case c == '<':
			j := strings.IndexByte(v[i:], '>')
			if j < 0 {
				toks = append(toks, tok{'a', strings.TrimSpace(v[i+1:])})
				i = len(v)
				continue
			}
			toks = append(toks, tok{'a', strings.TrimSpace(v[i+1 : i+j])})
			i += j + 1
		case c == ',' || c == ';' || c == ':':
			toks = append(toks, tok{c, string(c)})
			i++
		default:
			j := i
			for j < len(v) && !strings.ContainsRune(" \t\r\n\"(<,;:", rune(v[j])) {
				j++
			}
			toks = append(toks, tok{'w', v[i:j]})
			i = j
		}
	}
	// Skip a group label "display:" (words before a ':' with no angle
	// address or @ in them).
	for i, t := range toks {
		if t.kind == ':' {
			group := true
			for _, u := range toks[:i] {
				if u.kind == 'a' || strings.Contains(u.s, "@") && u.kind == 'w' {
					group = false
				}
			}
			if group {
				toks = toks[i+1:]
			}
			break
		}
		if t.kind == 'a' {
			break
		}
	}
	// The first mailbox ends at a top-level comma or semicolon.
	end := len(toks)
	for i, t := range toks {
		if t.kind == ',' || t.kind == ';' {
			end = i
			break
		}
	}
	mb := toks[:end]
	var phrase []string
	var comment string
	for _, t := range mb {
		switch t.kind {
		case 'a':
			addr = t.s
			if strings.HasPrefix(addr, "@") {
				// Source route: <@a,@b:user@host>.
				if k := strings.IndexByte(addr, ':'); k >= 0 {
					addr = addr[k+1:]
				}
			}
			name = strings.Join(phrase, " ")
			return strings.TrimSpace(addr), cleanName(name)
		case 'w', 'q':
			phrase = append(phrase, t.s)
		case 'c':
			if comment == "" {
				comment = t.s
			}
		case ':':
			phrase = append(phrase, ":")
		}
	}
	// No angle address: the words are the address.
	addr = strings.Join(phrase, "")
	return addr, cleanName(comment)
}

// cleanName strips the quotes SpamAssassin strips from a display name.
func cleanName(n string) string {
	n = strings.TrimSpace(n)
	for len(n) >= 2 && (n[0] == '\'' && n[len(n)-1] == '\'' || n[0] == '"' && n[len(n)-1] == '"') {
		n = strings.TrimSpace(n[1 : len(n)-1])
	}
	return n
}

// bodyTexts returns the body lines (SpamAssassin's rendered body array,
// Subject first) as texts.
func (m *msgState) bodyTexts() []*text {
	if m.bodyLines == nil {
		lines := m.msg.BodyLines()
		m.bodyLines = make([]*text, len(lines))
		for i, l := range lines {
			m.bodyLines[i] = newText(l)
		}
	}
	return m.bodyLines
}

// rawTexts returns the rawbody chunks.
func (m *msgState) rawTexts() []*text {
	if m.rawLines == nil {
		lines := m.msg.RawBodyLines()
		m.rawLines = make([]*text, len(lines))
		for i, l := range lines {
			m.rawLines[i] = newText(l)
		}
	}
	return m.rawLines
}

// full returns the message as read: header section and body.
func (m *msgState) full() *text {
	if m.fullText == nil {
		m.fullText = newText(m.msg.RawHeader + m.msg.RawBody)
	}
	return m.fullText
}

// uris returns the message's URIs for uri rules: each URI found, and the
// target of each redirector URI (redirector_pattern).
func (m *msgState) uris() []*text {
	if m.uriTexts == nil {
		m.uriTexts = []*text{}
		for _, u := range m.uriStrings() {
			m.uriTexts = append(m.uriTexts, newText(u))
		}
	}
	return m.uriTexts
}

// uriStrings returns the URI list as strings.
func (m *msgState) uriStrings() []string {
	if m.uriList != nil {
		return m.uriList
	}
	seen := map[string]bool{}
	m.uriList = []string{}
	var add func(u string, depth int)
	add = func(u string, depth int) {
		if seen[u] {
			return
		}
		seen[u] = true
		m.uriList = append(m.uriList, u)
		if depth > 4 {
			return
		}
		for _, re := range m.rs.redirectors {
			if sm := re.submatchFirst(newText(u)); sm != "" {
				add(sm, depth+1)
			}
		}
	}
	for _, u := range m.msg.URIList(m.rs.tldOK) {
		add(u, 0)
	}
	return m.uriList
}

// mimeHeaderTexts returns what a mimeheader rule matches: the named field
// of each MIME part in its range (part 1 is the message's own header),
// one text per field, or all of them in one text with tflags concat.
func (m *msgState) mimeHeaderTexts(r *Rule) []*text {
	type entity struct{ headers []message.Header }
	ents := []entity{{m.msg.Headers}}
	multipart := strings.HasPrefix(strings.ToLower(strings.TrimSpace(m.msg.First("Content-Type"))), "multipart/")
	for _, p := range m.msg.Parts {
		if p.Path == "1" && !multipart {
			// A single-part message: its part header is the message's.
			continue
		}
		ents = append(ents, entity{p.Headers})
	}
	var vals []string
	for i, e := range ents {
		n := i + 1
		if r.TFlags.RangeLo > 0 && n < r.TFlags.RangeLo || r.TFlags.RangeHi > 0 && n > r.TFlags.RangeHi {
			continue
		}
		for _, h := range e.headers {
			if !strings.EqualFold(h.Name, r.Header.Name) {
				continue
			}
			v := strings.TrimSpace(h.Value)
			if r.Header.Raw {
				v = h.Raw
			}
			vals = append(vals, v+"\n")
		}
	}
	if r.TFlags.Concat {
		return []*text{newText(strings.Join(vals, ""))}
	}
	out := make([]*text, len(vals))
	for i, v := range vals {
		out[i] = newText(v)
	}
	return out
}

// headersByTrust returns the header fields, as for ALL, on each side of
// the hand-over: ALL-TRUSTED and ALL-INTERNAL are the fields from the top
// down to the Received header that records the first untrusted hop;
// ALL-UNTRUSTED and ALL-EXTERNAL are the fields from that header to the
// end. The hand-over header is in both, as SpamAssassin has it. Without
// an untrusted hop every field is trusted; without any hop, untrusted.
func (m *msgState) headersByTrust(name string) string {
	ri := m.relayInfo()
	cut := -1 // index in Headers of the hand-over Received header
	if len(ri.untrusted) > 0 {
		first := ri.untrusted[0].raw
		for i, h := range m.msg.Headers {
			if strings.EqualFold(h.Name, "Received") && strings.TrimSpace(h.Value) == first {
				cut = i
				break
			}
		}
	}
	trusted := name == "ALL-TRUSTED" || name == "ALL-INTERNAL"
	from, to := 0, len(m.msg.Headers)
	switch {
	case cut >= 0 && trusted:
		to = cut + 1
	case cut >= 0:
		from = cut
	case len(ri.all) > 0 && !trusted, len(ri.all) == 0 && trusted:
		to = 0
	}
	var b strings.Builder
	for _, h := range m.msg.Headers[from:to] {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(h.Value))
		b.WriteByte('\n')
	}
	return b.String()
}
