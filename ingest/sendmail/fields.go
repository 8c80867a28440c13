package sendmail

import "strings"

// isQueueID reports whether s looks like a Sendmail queue id. Real ids are
// 14 characters ("u31FFPtp032300"), longer when the pid has more than six
// digits ("xA32R2PQ3529566"), 12 in Sendmail 8.11 and older
// ("e6FFrpW22493"); the check is deliberately loose: 8 to 20 letters and
// digits, at least one a digit (every id ends in the pid), which keeps
// words like "STARTTLS" from passing as ids.
func isQueueID(s string) bool {
	if len(s) < 8 || len(s) > 20 {
		return false
	}
	digit := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isDigit(c) {
			digit = true
		} else if !isAlnum(c) {
			return false
		}
	}
	return digit
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// splitQueueID splits "QID: rest" into its queue id and the rest. Lines
// without a queue id (and "NOQUEUE: …" lines) return qid "".
func splitQueueID(msg string) (qid, rest string) {
	i := strings.Index(msg, ": ")
	if i < 0 {
		return "", msg
	}
	id := msg[:i]
	if id == "NOQUEUE" {
		return "", msg[i+2:]
	}
	if !isQueueID(id) {
		return "", msg
	}
	return id, msg[i+2:]
}

// keyLen returns the length of the field name at the start of s: letters,
// digits and '_'.
func keyLen(s string) int {
	n := 0
	for n < len(s) && (isAlnum(s[n]) || s[n] == '_') {
		n++
	}
	return n
}

// isFieldStart reports whether s starts with "name=".
func isFieldStart(s string) bool {
	n := keyLen(s)
	return n > 0 && n < len(s) && s[n] == '='
}

// nextField parses the "key=value" at the start of s, where fields are
// separated by ", ". A value ends at the first ", " that is followed by
// another "key=", so values may themselves contain ", " (display names,
// "[more]" markers). stat=, reject= and quarantine= are always last and
// take the rest of the line, whose reply text may contain anything. Text
// that does not start with "key=" is returned as the value of key "", up
// to the next field.
func nextField(s string) (key, val, rest string) {
	var v string
	if n := keyLen(s); n > 0 && n < len(s) && s[n] == '=' {
		key, v = s[:n], s[n+1:]
	} else {
		v = s
	}
	switch key {
	case "stat", "reject", "quarantine":
		return key, v, ""
	}
	for i := 0; ; {
		j := strings.Index(v[i:], ", ")
		if j < 0 {
			return key, v, ""
		}
		j += i
		if isFieldStart(v[j+2:]) {
			return key, v[:j], v[j+2:]
		}
		i = j + 2
	}
}

// nextRecipient returns the first address of a to= list ("<a>,<b>",
// "Name <a>,b@c", possibly ending in " [more]" when Sendmail split a long
// list over several lines) and the rest of the list. Commas inside quotes
// or angle brackets do not split. An empty rcpt means the item was empty.
func nextRecipient(s string) (rcpt, rest string) {
	depth, quoted := 0, false
	i := 0
scan:
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			break scan
		}
	}
	item := s[:i]
	if i < len(s) {
		rest = s[i+1:]
	}
	item = strings.TrimSpace(item)
	if item == "[more]" {
		return "", rest
	}
	item = strings.TrimSuffix(item, " [more]")
	return address(item), rest
}

// address returns the bare address of "<a@b>", "Name <a@b>" or "a@b";
// "<>" (the null sender) gives "".
func address(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j >= 0 {
			return v[i+1 : i+j]
		}
	}
	return v
}

// trimAngles strips one pair of angle brackets around v.
func trimAngles(v string) string {
	if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
		return v[1 : len(v)-1]
	}
	return v
}

// localPart returns the user of a ctladdr= value: "<www-data@host> (33/33)"
// → "www-data", "root (0/0)" → "root", "root@localhost.localdomain" → "root".
func localPart(ctladdr string) string {
	if strings.HasSuffix(ctladdr, ")") {
		if i := strings.LastIndex(ctladdr, " ("); i >= 0 {
			ctladdr = ctladdr[:i]
		}
	}
	a := address(ctladdr)
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		a = a[:at]
	}
	return a
}

// splitRelay splits a relay= value: "host [ip]", "host. [ip] (may be
// forged)", "[ip]", "[ip] [ip]", "host [IPv6:2001:db8::1]", or a bare
// "host" / "user@localhost". An address literal is not a host name, so
// "[ip]" yields host "". A trailing root dot is dropped from host.
func splitRelay(v string) (host, ip string) {
	v = strings.TrimSuffix(v, " (may be forged)")
	host = v
	if strings.HasSuffix(v, "]") {
		if i := strings.LastIndexByte(v, '['); i >= 0 {
			ip = v[i+1 : len(v)-1]
			host = strings.TrimSpace(v[:i])
		}
	}
	if len(ip) > 5 && strings.EqualFold(ip[:5], "IPv6:") {
		ip = ip[5:]
	}
	if strings.HasPrefix(host, "[") {
		host = ""
	}
	host = strings.TrimSuffix(host, ".")
	return host, ip
}

// replyDSN returns the enhanced status code of an SMTP reply ("550 5.7.1
// <a>... Relaying denied" → "5.7.1"), or "".
func replyDSN(r string) string {
	if len(r) < 5 || !isDigit(r[0]) || !isDigit(r[1]) || !isDigit(r[2]) || (r[3] != ' ' && r[3] != '-') {
		return ""
	}
	t := r[4:]
	if i := strings.IndexByte(t, ' '); i >= 0 {
		t = t[:i]
	}
	if !isDSN(t) {
		return ""
	}
	return t
}

// isDSN reports whether s has the shape of an RFC 3463 code "c.s.d".
func isDSN(s string) bool {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return false
	}
	dots, digits := 0, 0
	for i := 2; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if digits == 0 {
				return false
			}
			dots, digits = dots+1, 0
		case isDigit(c):
			digits++
			if digits > 3 {
				return false
			}
		default:
			return false
		}
	}
	return dots == 1 && digits > 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
