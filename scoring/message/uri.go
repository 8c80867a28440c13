package message

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// hasScheme reports whether u starts with an RFC 3986 scheme and ":".
func hasScheme(u string) bool {
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// uriParts are the five components of RFC 3986, appendix B.
type uriParts struct {
	scheme, auth, path, query, frag       string
	hasScheme, hasAuth, hasQuery, hasFrag bool
}

func splitURI(u string) uriParts {
	var p uriParts
	if hasScheme(u) {
		i := strings.IndexByte(u, ':')
		p.scheme, p.hasScheme, u = u[:i], true, u[i+1:]
	}
	if strings.HasPrefix(u, "//") {
		u = u[2:]
		i := strings.IndexAny(u, "/?#")
		if i < 0 {
			i = len(u)
		}
		p.auth, p.hasAuth, u = u[:i], true, u[i:]
	}
	if i := strings.IndexByte(u, '#'); i >= 0 {
		p.frag, p.hasFrag, u = u[i+1:], true, u[:i]
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		p.query, p.hasQuery, u = u[i+1:], true, u[:i]
	}
	p.path = u
	return p
}

func (p uriParts) String() string {
	var b strings.Builder
	if p.hasScheme {
		b.WriteString(p.scheme)
		b.WriteByte(':')
	}
	if p.hasAuth {
		b.WriteString("//")
		b.WriteString(p.auth)
	}
	b.WriteString(p.path)
	if p.hasQuery {
		b.WriteByte('?')
		b.WriteString(p.query)
	}
	if p.hasFrag {
		b.WriteByte('#')
		b.WriteString(p.frag)
	}
	return b.String()
}

// resolveRef resolves ref against base (RFC 3986 §5.2, in the non-strict
// form that reads "http:foo" against an http base as relative).
func resolveRef(base, ref string) string {
	r, b := splitURI(ref), splitURI(base)
	if r.hasScheme && b.hasScheme && strings.EqualFold(r.scheme, b.scheme) {
		r.hasScheme = false
	}
	var t uriParts
	switch {
	case r.hasScheme:
		t = r
		t.path = removeDotSegments(r.path)
	case r.hasAuth:
		t = r
		t.path = removeDotSegments(r.path)
		t.scheme, t.hasScheme = b.scheme, b.hasScheme
	default:
		t.scheme, t.hasScheme = b.scheme, b.hasScheme
		t.auth, t.hasAuth = b.auth, b.hasAuth
		switch {
		case r.path == "":
			t.path = b.path
			t.query, t.hasQuery = b.query, b.hasQuery
			if r.hasQuery {
				t.query, t.hasQuery = r.query, true
			}
		case strings.HasPrefix(r.path, "/"):
			t.path = removeDotSegments(r.path)
			t.query, t.hasQuery = r.query, r.hasQuery
		default:
			var merged string
			if b.hasAuth && b.path == "" {
				merged = "/" + r.path
			} else if i := strings.LastIndexByte(b.path, '/'); i >= 0 {
				merged = b.path[:i+1] + r.path
			} else {
				merged = r.path
			}
			t.path = removeDotSegments(merged)
			t.query, t.hasQuery = r.query, r.hasQuery
		}
	}
	t.frag, t.hasFrag = r.frag, r.hasFrag
	return t.String()
}

// removeDotSegments applies RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string
	segs := strings.Split(in, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 || (len(out) == 1 && out[0] != "") {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	res := strings.Join(out, "/")
	if strings.HasPrefix(in, "/") && !strings.HasPrefix(res, "/") {
		res = "/" + res
	}
	return res
}

// normalizeURI returns the form of u kept in Message.URIs: scheme and host
// lower-cased, schemeless "www." and "ftp." hosts (and "//host") given a
// scheme; relative references are dropped.
func normalizeURI(u string) (string, bool) {
	u = strings.TrimSpace(u)
	if u == "" {
		return "", false
	}
	if !hasScheme(u) {
		switch {
		case strings.HasPrefix(u, "//"):
			u = "http:" + u
		case isHostPrefix(u, "www"):
			u = "http://" + u
		case isHostPrefix(u, "ftp"):
			u = "ftp://" + u
		default:
			return "", false
		}
	}
	i := strings.IndexByte(u, ':')
	scheme := strings.ToLower(u[:i])
	rest := u[i+1:]
	if scheme == "mailto" {
		return "mailto:" + lowerDomain(rest), true
	}
	if !strings.HasPrefix(rest, "//") {
		return scheme + ":" + rest, true
	}
	auth := rest[2:]
	end := strings.IndexAny(auth, "/?#")
	if end < 0 {
		end = len(auth)
	}
	host := auth[:end]
	at := strings.LastIndexByte(host, '@')
	return scheme + "://" + host[:at+1] + strings.ToLower(host[at+1:]) + auth[end:], true
}

// isHostPrefix reports whether u starts with label, optional digits and a
// dot, case-insensitively ("www.", "www2.", "ftp.").
func isHostPrefix(u, label string) bool {
	if len(u) <= len(label) || !strings.EqualFold(u[:len(label)], label) {
		return false
	}
	i := len(label)
	for i < len(u) && u[i] >= '0' && u[i] <= '9' {
		i++
	}
	return i < len(u)-1 && u[i] == '.'
}

// lowerDomain lower-cases the domain of an address (after the last "@",
// up to "?").
func lowerDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	end := strings.IndexByte(addr[at:], '?')
	if end < 0 {
		return addr[:at+1] + strings.ToLower(addr[at+1:])
	}
	end += at
	return addr[:at+1] + strings.ToLower(addr[at+1:end]) + addr[end:]
}

// addURI records u in Message.URIs if it normalises and is new.
func (p *parser) addURI(u string) {
	n, ok := normalizeURI(u)
	if !ok {
		return
	}
	if p.uriSeen == nil {
		p.uriSeen = map[string]struct{}{}
	}
	if _, dup := p.uriSeen[n]; dup {
		return
	}
	p.uriSeen[n] = struct{}{}
	p.msg.URIs = append(p.msg.URIs, n)
}

// addTextURIs records the URIs written in text: http(s)/ftp URLs,
// "mailto:" addresses, schemeless www. and ftp. hosts, and bare e-mail
// addresses (as mailto:).
func (p *parser) addTextURIs(s string) {
	covered := 0 // end of the last URL found; addresses inside it are part of it
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '@' {
			if addr, start, end := emailAt(s, i); addr != "" && start >= covered {
				p.addURI("mailto:" + addr)
				covered = end
			}
			continue
		}
		if i > 0 && isURIWordByte(s[i-1]) {
			continue
		}
		switch c | 0x20 {
		case 'h', 'f', 'w', 'm':
		default:
			continue
		}
		var n int
		switch {
		case hasPrefixFold(s[i:], "http://"), hasPrefixFold(s[i:], "https://"), hasPrefixFold(s[i:], "ftp://"):
			n = urlEnd(s, i)
			if !strings.Contains(s[i:i+n], "://") || strings.HasSuffix(s[i:i+n], "://") {
				continue
			}
		case hasPrefixFold(s[i:], "mailto:"):
			n = urlEnd(s, i)
			if n <= len("mailto:") {
				continue
			}
		case isHostPrefix(s[i:], "www"), isHostPrefix(s[i:], "ftp"):
			n = urlEnd(s, i)
			host := s[i : i+n]
			if k := strings.IndexAny(host, "/?#:"); k >= 0 {
				host = host[:k]
			}
			if strings.Count(host, ".") < 2 || strings.HasSuffix(host, ".") {
				continue
			}
		default:
			continue
		}
		p.addURI(s[i : i+n])
		covered = i + n
		i += n - 1
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isURIWordByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '/' || c >= 0x80
}

// urlEnd returns the length of the URL starting at s[i]: up to whitespace,
// a control character or one of <>"`{}|\^, without trailing punctuation
// and an unbalanced closing parenthesis or bracket.
func urlEnd(s string, i int) int {
	j := i
	for j < len(s) {
		c := s[j]
		if c < 0x80 {
			if c <= ' ' || c == 0x7f || strings.IndexByte("<>\"`{}|\\^", c) >= 0 {
				break
			}
			j++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[j:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			break
		}
		j += size
	}
	// Parentheses and brackets opened minus closed, to keep a balanced
	// closing one ("…/a_(b)") and drop an unbalanced one ("(see …/a)").
	var paren, bracket int
	for _, c := range []byte(s[i:j]) {
		switch c {
		case '(':
			paren++
		case ')':
			paren--
		case '[':
			bracket++
		case ']':
			bracket--
		}
	}
	for j > i {
		c := s[j-1]
		switch {
		case strings.IndexByte(".,;:!?'*", c) >= 0:
		case c == ')' && paren < 0:
			paren++
		case c == ']' && bracket < 0:
			bracket++
		default:
			return j - i
		}
		j--
	}
	return j - i
}

// emailAt returns the address around the "@" at s[at] (domain
// lower-cased) and its extent, or "".
func emailAt(s string, at int) (addr string, start, end int) {
	start = at
	for start > 0 && at-start < 64 && isLocalByte(s[start-1]) {
		start--
	}
	for start < at && s[start] == '.' {
		start++
	}
	end = at + 1
	for end < len(s) && end-at <= 255 && (isAlnum(s[end]) || s[end] == '-' || s[end] == '.') {
		end++
	}
	for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') {
		end--
	}
	if start == at || end == at+1 {
		return "", 0, 0
	}
	domain := s[at+1 : end]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 || strings.Contains(domain, "..") {
		return "", 0, 0
	}
	for _, c := range []byte(domain[dot+1:]) {
		if !(c|0x20 >= 'a' && c|0x20 <= 'z') {
			return "", 0, 0
		}
	}
	return s[start:at] + "@" + strings.ToLower(domain), start, end
}

func isLocalByte(c byte) bool {
	return isAlnum(c) || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}
