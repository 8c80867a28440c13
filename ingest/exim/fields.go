package exim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// tokenizer splits Exim's field syntax: space-separated tokens in which a
// double-quoted section (with backslash escapes) and a parenthesised
// section may contain spaces, as in T="a subject", DN="C=US,O=Bar Corp"
// and H=host (helo name) [ip]:port.
type tokenizer struct {
	s string
	i int
}

// next returns the next token. colon reports that the token ended with a
// ':' outside quotes (stripped from tok), or was a lone ":"; on "**" and
// "==" lines that colon ends the fields and starts the error text.
func (t *tokenizer) next() (tok string, colon, ok bool) {
	for t.i < len(t.s) && t.s[t.i] == ' ' {
		t.i++
	}
	if t.i >= len(t.s) {
		return "", false, false
	}
	start := t.i
	if t.s[t.i] == '(' {
		depth := 0
	paren:
		for ; t.i < len(t.s); t.i++ {
			switch t.s[t.i] {
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					t.i++
					break paren
				}
			}
		}
	}
	for t.i < len(t.s) && t.s[t.i] != ' ' {
		if t.s[t.i] == '"' {
			t.i = skipQuoted(t.s, t.i)
			continue
		}
		t.i++
	}
	tok = t.s[start:t.i]
	if n := len(tok); n > 0 && tok[n-1] == ':' {
		return tok[:n-1], true, true
	}
	return tok, false, true
}

// rest returns the unconsumed text, without leading spaces.
func (t *tokenizer) rest() string {
	return strings.TrimLeft(t.s[t.i:], " ")
}

// skipQuoted returns the index just past the quoted string starting at
// s[i] == '"', or len(s) if it is not closed.
func skipQuoted(s string, i int) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(s)
}

// unquote strips the double quotes of an Exim quoted value and resolves
// the \" and \\ escapes; other escapes are kept as logged. Unquoted values
// are returned as they are. It allocates only when there is an escape.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// cutField splits "KEY=value" when KEY is a field name (letters and digits,
// starting with a letter).
func cutField(tok string) (key, val string, ok bool) {
	eq := strings.IndexByte(tok, '=')
	if eq <= 0 || eq > 8 {
		return "", "", false
	}
	for i := 0; i < eq; i++ {
		c := tok[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return "", "", false
		}
	}
	return tok[:eq], tok[eq+1:], true
}

// startsWithField reports whether s starts with an Exim connection field
// such as "H=", "F=", "U=" or "Ci=".
func startsWithField(s string) bool {
	end := strings.IndexByte(s, ' ')
	if end < 0 {
		end = len(s)
	}
	_, _, ok := cutField(s[:end])
	return ok
}

// bracketed returns what is between '[' and ']' in "[ip]:port" (or after
// '[' when the bracket is not closed).
func bracketed(s string) string {
	s = s[1:]
	if i := strings.IndexByte(s, ']'); i >= 0 {
		return s[:i]
	}
	return s
}

// angle strips the angle brackets of "<addr>".
func angle(s string) string {
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		return s[1 : len(s)-1]
	}
	return s
}

// role says which event fields the host and interface fields fill.
type role uint8

const (
	inbound  role = iota // H= is the client, I= our receiving interface
	outbound             // H= is the relay, I= our bind address, T= the transport
)

// fields collects the fields of one line into ev.
type fields struct {
	ev      *ingest.Event
	role    role
	inHost  bool // the previous token was H=…: "(helo)" and "[ip]" may follow
	hostSet bool
}

func (f *fields) setHost(name string) {
	if f.role == inbound {
		f.ev.ClientHost = name
	} else {
		f.ev.RelayHost = name
	}
}

func (f *fields) setIP(ip string) {
	if f.role == inbound {
		f.ev.ClientIP = ip
	} else {
		f.ev.RelayIP = ip
	}
}

// hostPart takes one piece of an H= value: a name, "(helo)" or "[ip]:port".
// It reports false when tok is not part of the host.
func (f *fields) hostPart(tok string, first bool) bool {
	switch {
	case tok == "":
		return first
	case tok[0] == '[':
		f.setIP(bracketed(tok))
		f.inHost = false
		return true
	case tok[0] == '(':
		return true // HELO name (or, on deliveries, a host name without rDNS)
	case first:
		f.setHost(tok)
		return true
	}
	return false
}

// token applies one token; it reports false for a token that is not a
// field (an address, a bare word such as "K" or "for").
func (f *fields) token(tok string) bool {
	if f.inHost {
		if f.hostPart(tok, false) {
			return true
		}
		f.inHost = false
	}
	key, val, ok := cutField(tok)
	if !ok {
		return false
	}
	ev := f.ev
	switch key {
	case "H":
		if !f.hostSet { // "H=" appears once; keep the first if repeated
			f.hostSet = true
			f.inHost = true
			f.hostPart(val, true)
		}
	case "A":
		if _, id, ok := strings.Cut(val, ":"); ok {
			ev.AuthUser = unquote(id)
		}
	case "U":
		// On an SMTP arrival (H= logged, always before U=) U= is the
		// RFC 1413 ident answer of the remote host, not a local user.
		if !f.hostSet {
			ev.LocalUser = val
		}
	case "S":
		if n, err := strconv.ParseInt(val, 10, 64); err == nil && n >= 0 {
			ev.Size = n // the test suite logs "S=sss": not a size, not an error
		}
	case "id":
		ev.MessageID = angle(unquote(val))
	case "F":
		ev.Sender = angle(unquote(val))
	case "I":
		if f.role == outbound && len(val) > 0 && val[0] == '[' {
			ev.OutboundIP = bracketed(val)
		}
	case "T":
		if f.role == outbound {
			ev.Transport = val
		}
	case "C":
		if f.role == outbound {
			ev.Reply = unquote(val)
		}
	}
	return true
}

// arrival parses the text after "<= ": sender and fields; it emits
// KindReceived and KindQueued.
func (l *line) arrival(s string) error {
	t := tokenizer{s: s}
	sender, _, ok := t.next()
	if !ok {
		return errors.New("arrival without sender")
	}
	ev := l.add(ingest.KindReceived)
	if sender != "<>" {
		ev.Sender = angle(sender)
	}
	f := fields{ev: ev, role: inbound}
	for {
		tok, _, ok := t.next()
		if !ok {
			break
		}
		if f.token(tok) {
			continue
		}
		switch tok {
		case "for": // received_recipients: the rest are recipients
			for {
				if _, _, ok := t.next(); !ok {
					break
				}
				ev.Nrcpt++
			}
		case "from": // received_sender: "from <addr>"
			t.next()
		}
	}
	l.dup(ingest.KindQueued)
	return nil
}

// recipient reads the address part of a delivery or failure line:
// "final [(parent)…] [<original>]". It returns the recipient to report and
// the first token that is not part of the address, if any.
func recipient(t *tokenizer) (rcpt, next string, colon, more bool, err error) {
	final, colon, ok := t.next()
	if !ok || final == "" {
		return "", "", false, false, errors.New("no recipient")
	}
	rcpt = final
	if colon {
		return rcpt, "", true, false, nil
	}
	for {
		tok, c, ok := t.next()
		if !ok {
			return rcpt, "", false, false, nil
		}
		switch {
		case tok != "" && tok[0] == '(': // all_parents
			if c {
				return rcpt, "", true, false, nil
			}
		case tok != "" && tok[0] == '<':
			// The original address. Prefer it when Exim logged a local
			// part, a file, a pipe or ":blackhole:" as the final address.
			if strings.IndexByte(final, '@') < 0 {
				rcpt = angle(tok)
			}
			if c {
				return rcpt, "", true, false, nil
			}
		default:
			return rcpt, tok, c, true, nil
		}
	}
}

// delivery parses the text after "=>", "->" or ">>".
func (l *line) delivery(s string) error {
	t := tokenizer{s: s}
	rcpt, tok, _, more, err := recipient(&t)
	if err != nil {
		return err
	}
	ev := l.add(ingest.KindDelivered)
	ev.Recipient = rcpt
	f := fields{ev: ev, role: outbound}
	for more {
		f.token(tok)
		tok, _, more = t.next()
	}
	ev.DSN = findDSN(ev.Reply)
	return nil
}

// failure parses the text after "**" or "==": recipient, fields, and after
// the first field-ending colon the error text.
func (l *line) failure(kind ingest.Kind, s string) error {
	t := tokenizer{s: s}
	rcpt, tok, colon, more, err := recipient(&t)
	if err != nil {
		return err
	}
	ev := l.add(kind)
	ev.Recipient = rcpt
	f := fields{ev: ev, role: outbound}
	for more && !colon {
		// "defer (-44)" on deferrals and bare flags are not fields.
		f.token(tok)
		tok, colon, more = t.next()
	}
	if more { // the token that carried the colon
		f.token(tok)
	}
	if colon {
		ev.Reply = t.rest()
	}
	ev.DSN = findDSN(ev.Reply)
	return nil
}

// findDSN returns the first enhanced status code ("5.7.1") that follows a
// three-digit SMTP reply code in reply, or "".
func findDSN(reply string) string {
	for i := 0; i+9 <= len(reply); i++ {
		c := reply[i]
		if c < '2' || c > '5' || i > 0 && reply[i-1] != ' ' && reply[i-1] != ':' && reply[i-1] != '"' {
			continue
		}
		if !isDigit(reply[i+1]) || !isDigit(reply[i+2]) || (reply[i+3] != ' ' && reply[i+3] != '-') ||
			reply[i+4] != c || reply[i+5] != '.' {
			continue
		}
		j := i + 6
		k := j
		for k < len(reply) && k-j < 3 && isDigit(reply[k]) {
			k++
		}
		if k == j || k >= len(reply) || reply[k] != '.' {
			continue
		}
		m := k + 1
		for m < len(reply) && m-k-1 < 3 && isDigit(reply[m]) {
			m++
		}
		if m == k+1 {
			continue
		}
		return reply[i+4 : m]
	}
	return ""
}

// rejectIndex returns the index of the word "rejected" in a line that
// starts with connection fields, or -1. Quoted values are skipped.
func rejectIndex(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			i = skipQuoted(s, i) - 1
		case 'r':
			if (i == 0 || s[i-1] == ' ') && strings.HasPrefix(s[i:], "rejected ") {
				return i
			}
		}
	}
	return -1
}

// rejection parses an ACL or local_scan rejection:
//
//	H=host (helo) [ip]:port … F=<sender> rejected RCPT <rcpt>: text
//	[ID] … F=<sender> [temporarily ]rejected after DATA: text
//	F=<sender> rejected by non-SMTP ACL: text
//	H=… rejected EHLO or HELO name / rejected connection in "connect" ACL
//	rejected from <sender> H=…: text / rejected EHLO from [ip]: text
func (l *line) rejection(s string) error {
	i := rejectIndex(s)
	if i < 0 {
		return errors.New("no \"rejected\" in rejection")
	}
	ev := l.add(ingest.KindRejected)
	f := fields{ev: ev, role: inbound}
	t := tokenizer{s: s[:i]}
	for {
		tok, _, ok := t.next()
		if !ok {
			break
		}
		if !f.token(tok) && tok != "temporarily" {
			// Old Exim logs "F=addr" without brackets and then "rejected
			// RCPT addr"; anything else before "rejected" is not a field.
			return fmt.Errorf("unexpected %q before \"rejected\"", tok)
		}
	}
	rest := s[i+len("rejected "):]
	var what string
	what, rest, _ = strings.Cut(rest, " ")
	switch what {
	case "RCPT", "MAIL", "from":
		t := tokenizer{s: rest}
		addr, colon, _ := t.next()
		if what == "RCPT" {
			ev.Recipient = angle(addr)
		} else if ev.Sender == "" {
			ev.Sender = angle(addr)
		}
		for !colon {
			tok, c, ok := t.next()
			if !ok {
				break
			}
			colon = c
			f.token(tok)
		}
		if colon {
			ev.Reply = unquote(t.rest())
		}
	default:
		if strings.HasPrefix(s[i+len("rejected "):], "after DATA: \"SpamAssassin as ") {
			if ok, err := l.scannerReject(ev, s[i+len("rejected after DATA: "):]); ok || err != nil {
				return err
			}
		}
		rest = s[i+len("rejected "):]
		if _, text, ok := strings.Cut(rest, ": "); ok {
			ev.Reply = unquote(text)
			if ev.ClientIP == "" { // "rejected EHLO from [ip]: …"
				if b := strings.IndexByte(rest, '['); b >= 0 && b < len(rest)-len(text) {
					ev.ClientIP = bracketed(rest[b:])
				}
			}
		} else {
			ev.Reply = rest
		}
	}
	ev.DSN = findDSN(ev.Reply)
	return nil
}
