package postfix

import (
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// Queue ids come in two forms (Postfix src/global/mail_queue.h):
//
//   - short: five upper-case hex digits of microseconds followed by the
//     inode number in upper-case hex, e.g. "5FCA28903A";
//   - long (enable_long_queue_ids): six or more base-52 digits of seconds,
//     exactly four base-52 digits of microseconds, the separator 'z' and the
//     inode number in base 51 (which has no 'z'), e.g. "4cDCnd66Hyz1XPWFF".
//     The base-52 alphabet is the digits and the consonants of both cases.
const (
	minQueueID   = 6  // five microsecond digits and at least one inode digit
	maxQueueID   = 32 // generous: a 64-bit inode in hex is 16 digits
	longTimePad  = 10 // seconds (>= 6) + microseconds (4) before the 'z'
	longInodeSep = 'z'
)

// safeAlphabet is Postfix's base-52 alphabet for long queue ids.
const safeAlphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"

var isSafe = func() (t [256]bool) {
	for i := 0; i < len(safeAlphabet); i++ {
		t[safeAlphabet[i]] = true
	}
	return t
}()

// validQueueID reports whether s is a short or long Postfix queue id.
func validQueueID(s string) bool {
	if len(s) < minQueueID || len(s) > maxQueueID {
		return false
	}
	hex := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			hex = false
			break
		}
	}
	if hex {
		return true
	}
	sep := strings.LastIndexByte(s, longInodeSep)
	if sep < longTimePad || sep == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isSafe[s[i]] {
			return false
		}
	}
	return true
}

// cutQueueID splits "QID: rest" or "NOQUEUE: rest". hasID reports whether
// the message started with either; qid is "" for NOQUEUE. Without a queue
// id, rest is the whole message.
func cutQueueID(msg string) (qid, rest string, hasID bool) {
	i := strings.IndexByte(msg, ':')
	if i <= 0 || i+1 >= len(msg) || msg[i+1] != ' ' {
		return "", msg, false
	}
	tok := msg[:i]
	if tok == "NOQUEUE" {
		return "", msg[i+2:], true
	}
	if validQueueID(tok) {
		return tok, msg[i+2:], true
	}
	return "", msg, false
}

// cutAddr parses "<addr>" at the start of s and returns addr and what
// follows the closing bracket. The closing bracket is the first '>' that
// ends s or is followed by a separator (space, comma, colon or semicolon),
// so a stray '>' inside the address stays part of it.
func cutAddr(s string) (addr, rest string, ok bool) {
	if s == "" || s[0] != '<' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] != '>' {
			continue
		}
		if i+1 == len(s) {
			return s[1:i], "", true
		}
		switch s[i+1] {
		case ' ', ',', ':', ';':
			return s[1:i], s[i+1:], true
		}
	}
	return "", s, false
}

// cutFieldAddr parses the value of a delivery line's to= or orig_to=: an
// address in angle brackets or, from local(8) with some settings, a bare
// address running to the next ", ".
func cutFieldAddr(s string) (addr, rest string, ok bool) {
	if s != "" && s[0] == '<' {
		return cutAddr(s)
	}
	i := strings.Index(s, ", ")
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], s[i:], i > 0
}

// cutClient parses "name[addr]tail" (the client or relay notation). ip is
// addr when it looks like an IP address ("unknown" and socket paths such as
// "private/dovecot-lmtp" are not).
func cutClient(s string) (host, ip, tail string, ok bool) {
	lb := strings.IndexByte(s, '[')
	if lb < 0 {
		return "", "", s, false
	}
	rb := strings.IndexByte(s[lb:], ']')
	if rb < 0 {
		return "", "", s, false
	}
	rb += lb
	host, addr := s[:lb], s[lb+1:rb]
	if looksLikeIP(addr) {
		ip = addr
	}
	return host, ip, s[rb+1:], true
}

// looksLikeIP reports whether s consists of hex digits, dots and colons and
// has at least one dot or colon: a cheap test that tells addresses from
// "unknown" and socket paths without allocating.
func looksLikeIP(s string) bool {
	sep := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.' || c == ':':
			sep = true
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return sep && len(s) >= 2
}

// isPort reports whether s is ":N".
func isPort(s string) bool {
	if len(s) < 2 || s[0] != ':' {
		return false
	}
	_, rest, ok := cutUint(s[1:])
	return ok && rest == ""
}

// cutUint parses the decimal digits at the start of s.
func cutUint(s string) (n int64, rest string, ok bool) {
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (1<<63-1-9)/10 {
			return 0, s, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, s[i:], i > 0
}

// nextQueueID returns the queue id a delivery handed the message to, from
// "… queued as QID2" (also nested, as after an amavis/content-filter hop)
// or "forwarded as QID2", or "" if the reply names none.
func nextQueueID(reply string) string {
	for _, marker := range [...]string{"queued as ", "forwarded as "} {
		i := strings.LastIndex(reply, marker)
		if i < 0 {
			continue
		}
		v := reply[i+len(marker):]
		end := 0
		for end < len(v) && v[end] != ' ' && v[end] != ')' && v[end] != ',' && v[end] != ';' && v[end] != '.' {
			end++
		}
		if validQueueID(v[:end]) {
			return v[:end]
		}
	}
	return ""
}

// dsnOf returns the enhanced status code X.Y.Z at the start of a reply
// ("554 5.7.1 …", "550-5.7.1 …" or "5.7.1 …"), or "".
func dsnOf(s string) string {
	if len(s) >= 4 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && (s[3] == ' ' || s[3] == '-') {
		s = s[4:]
	}
	if len(s) < 5 || !isDigit(s[0]) || s[1] != '.' {
		return ""
	}
	i := 2
	for part := 0; part < 2; part++ {
		j := i
		for j < len(s) && j-i < 3 && isDigit(s[j]) {
			j++
		}
		if j == i {
			return ""
		}
		if part == 0 {
			if j >= len(s) || s[j] != '.' {
				return ""
			}
			j++
		}
		i = j
	}
	if i < len(s) && s[i] != ' ' {
		return ""
	}
	return s[:i]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// envelopeStart returns the index of the "; " that starts the envelope part
// ("; from=<s> to=<r> proto=… helo=<h>") of a reject/hold/discard line, or
// -1. The first occurrence wins: the reply text before it comes from the
// policy that rejected, and the client-chosen helo comes after it.
func envelopeStart(s string) int {
	for _, m := range [...]string{"; from=<", "; to=<", "; proto="} {
		if i := strings.Index(s, m); i >= 0 {
			return i
		}
	}
	return -1
}

// parseEnvelope reads "from=<s> to=<r> proto=P helo=<h>" (postscreen
// separates with ", ") into ev and returns the text after a trailing ": ",
// which cleanup appends as the reject reason.
func parseEnvelope(ev *ingest.Event, s string) (text string) {
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return ""
		}
		key, v := s[:eq], s[eq+1:]
		var val string
		if v != "" && v[0] == '<' {
			var ok bool
			if val, v, ok = cutAddr(v); !ok {
				return ""
			}
		} else {
			end := 0
			for end < len(v) && v[end] != ' ' && v[end] != ',' && v[end] != ':' {
				end++
			}
			val, v = v[:end], v[end:]
		}
		switch key {
		case "from":
			ev.Sender = val
		case "to":
			ev.Recipient = val
		}
		switch {
		case strings.HasPrefix(v, ", "):
			s = v[2:]
		case strings.HasPrefix(v, ": "):
			return v[2:]
		case strings.HasPrefix(v, " "):
			s = v[1:]
		default:
			return ""
		}
	}
	return ""
}

// parseReject fills ev from the text after "reject: " (or hold:, discard:,
// milter-reject: …). Two shapes exist:
//
//	RCPT from name[ip]: 554 5.7.1 reply; from=<s> to=<r> proto=P helo=<h>
//	header Subject: x from name[ip]; from=<s> to=<r> proto=P helo=<h>: 5.7.1 reply
//
// the first from smtpd, postscreen ("from [ip]:port", ", "-separated
// envelope), cleanup milter actions ("END-OF-MESSAGE from …") and smtpd
// proxy-reject ("END-OF-MESSAGE: reply"); the second from cleanup
// header_checks and body_checks. It reports false when s has neither shape.
func parseReject(ev *ingest.Event, s string) bool {
	head, tail := s, ""
	if i := envelopeStart(s); i >= 0 {
		head, tail = s[:i], s[i+2:]
	}
	if what, ok := cutPrefixWord(head, "header ", "body "); ok {
		// Content check: "WHAT from CLIENT" with CLIENT "name[ip]" or "local".
		if i := strings.LastIndex(what, " from "); i >= 0 {
			client := what[i+len(" from "):]
			if host, ip, t, ok := cutClient(client); ok && t == "" {
				ev.ClientHost, ev.ClientIP = host, ip
				what = what[:i]
			} else if strings.IndexByte(client, ' ') < 0 {
				ev.ClientHost = client
				what = what[:i]
			}
		}
		reply := parseEnvelope(ev, tail)
		if reply == "" {
			reply = what
		}
		ev.Reply, ev.DSN = reply, dsnOf(reply)
		return true
	}
	// Command style: CMD, then " from CLIENT: reply" or ": reply".
	i := 0
	for i < len(head) && (head[i] >= 'A' && head[i] <= 'Z' || head[i] == '-') {
		i++
	}
	if i == 0 {
		return false
	}
	r := head[i:]
	var reply string
	switch {
	case strings.HasPrefix(r, " from "):
		r = r[len(" from "):]
		client := r
		if j := strings.Index(r, ": "); j >= 0 {
			client, reply = r[:j], r[j+2:]
		}
		if host, ip, t, ok := cutClient(client); ok {
			if t != "" && !isPort(t) {
				return false
			}
			ev.ClientHost, ev.ClientIP = host, ip
		} else if client != "" && strings.IndexByte(client, ' ') < 0 {
			ev.ClientHost = client // "from local"
		} else {
			return false
		}
	case strings.HasPrefix(r, ": "):
		reply = r[2:]
	case r == "":
	default:
		return false
	}
	parseEnvelope(ev, tail)
	ev.Reply, ev.DSN = reply, dsnOf(reply)
	return true
}

// cutPrefixWord cuts the first of the prefixes s starts with.
func cutPrefixWord(s string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if v, ok := strings.CutPrefix(s, p); ok {
			return v, true
		}
	}
	return s, false
}
