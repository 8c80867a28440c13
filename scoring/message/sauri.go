package message

import (
	"strconv"
	"strings"
)

// URIList returns the URIs SpamAssassin's uri rules match (its
// get_uri_list): the URIs written in the body text (found as Thunderbird
// does: scheme URLs, www./ftp. hosts, e-mail addresses, and bare host
// names that end in a valid TLD), and those of HTML attributes as written
// (relative ones included), each with the variants SpamAssassin derives
// from it — "%"-escapes and "&#NN;" decoded, "http:" without slashes
// fixed, default ports, user names and trailing junk dropped from the
// host, numeric hosts written as dotted quads, a bare "http://name" read
// as www.name.com, and URLs embedded in a query string. Text URIs whose
// host has no valid TLD are left out, as SpamAssassin does. Unique, in
// order of discovery.
//
// validTLD reports whether a lower-case label is a top-level domain
// (SpamAssassin's util_rb_tld list); nil accepts any alphabetic label of
// two letters or more and finds no bare host names.
func (m *Message) URIList(validTLD func(tld string) bool) []string {
	l := uriLister{validTLD: validTLD, seen: map[string]bool{}}
	for _, line := range m.BodyLines() {
		for _, u := range l.textURIs(line) {
			l.add(u, true)
		}
	}
	for _, u := range m.htmlURIs {
		l.add(u, false)
	}
	return l.out
}

type uriLister struct {
	validTLD func(string) bool
	seen     map[string]bool // cleaned forms listed
	raw      map[string]bool // raw text URIs seen
	out      []string
}

// tld reports a valid top-level domain.
func (l *uriLister) tld(label string) bool {
	if l.validTLD != nil {
		return l.validTLD(strings.ToLower(label))
	}
	if len(label) < 2 {
		return false
	}
	for i := 0; i < len(label); i++ {
		if c := label[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// add lists u and its variants; a text URI (needHost) only if one of them
// has a valid host.
func (l *uriLister) add(u string, needHost bool) {
	cleaned := l.canonicalize(u)
	if len(cleaned) == 0 {
		return
	}
	if needHost {
		ok := false
		for _, c := range cleaned {
			if l.uriHost(c) != "" {
				ok = true
				break
			}
		}
		if !ok {
			return
		}
	}
	for _, c := range cleaned {
		if len(c) > maxURILength {
			c = c[:maxURILength]
		}
		if !l.seen[c] {
			l.seen[c] = true
			l.out = append(l.out, c)
		}
	}
}

// Delimiter classes of SpamAssassin's Thunderbird-like URI pattern, over
// bytes (the text is UTF-8; 0xA0 is the second byte of NBSP).
var (
	tbStart      = byteSet("><\"'`,{[(| \t\n\r\f\v\x1b\xa0")
	tbEnd        = byteSet("><\"`}]{[| \t\n\r\f\v\x1b\xa0")
	tbEndEmail   = func() [256]bool { s := tbEnd; add(&s, ",('"); addRange(&s, 0x80, 0xff); return s }()
	tbEndLocal   = func() [256]bool { s := tbEndEmail; add(&s, "@"); return s }()
	tbSchemeless = byteSet("!\"#$&'()*+,/:;<=>?@[\\]^`{|}~ \t\n\r\f\v\x1b\xa0")
	tbTrailing   = byteSet("-~!@#^&*()_+=:;'?,.")
)

func byteSet(s string) [256]bool {
	var set [256]bool
	add(&set, s)
	return set
}

func add(set *[256]bool, s string) {
	for i := 0; i < len(s); i++ {
		set[s[i]] = true
	}
}

func addRange(set *[256]bool, lo, hi int) {
	for c := lo; c <= hi; c++ {
		set[c] = true
	}
}

// textURIs finds the URIs in one body line as SpamAssassin does and
// returns them with a scheme.
func (l *uriLister) textURIs(s string) []string {
	if l.raw == nil {
		l.raw = map[string]bool{}
	}
	// stop[i] is the first index >= i of a byte that ends a local part.
	stop := make([]int32, len(s)+1)
	stop[len(s)] = int32(len(s))
	for i := len(s) - 1; i >= 0; i-- {
		if tbEndLocal[s[i]] {
			stop[i] = int32(i)
		} else {
			stop[i] = stop[i+1]
		}
	}
	var out []string
	for i := 0; i < len(s); {
		if !tbCanStart(s, i) {
			i++
			continue
		}
		raw, end, kind := tbMatch(s, i, stop, l)
		if end == 0 {
			i++
			continue
		}
		i = end
		raw = tbTrim(raw)
		if l.raw[raw] {
			continue
		}
		l.raw[raw] = true
		if u := l.textURI(raw, kind); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// tbCanStart reports whether a URI may start at s[i]: at a word boundary,
// after a start delimiter, or after an ISO-2022 shift.
func tbCanStart(s string, i int) bool {
	if i == 0 {
		return isWordByte(s[0])
	}
	if isWordByte(s[i-1]) != isWordByte(s[i]) || tbStart[s[i-1]] {
		return true
	}
	return i >= 3 && s[i-3] == 0x1b && s[i-2] == '('
}

type tbKind int

const (
	tbScheme tbKind = iota
	tbMail
	tbBare
)

// tbMatch matches a URI at s[i]: returns it, the end of the match (0 if
// none) and its kind.
func tbMatch(s string, i int, stop []int32, l *uriLister) (string, int, tbKind) {
	// Known scheme or www./ftp. prefix.
	if n := knownPrefix(s[i:]); n > 0 {
		j := i + n
		for j < len(s) && !tbEnd[s[j]] && j-i-n < 2048 {
			j++
		}
		if j > i+n && (j == len(s) || tbEnd[s[j]]) {
			return s[i:j], j, tbScheme
		}
	}
	// mailto: or an address.
	if hasPrefixFold(s[i:], "mailto:") {
		j := i + 7
		for j < len(s) && !tbEndEmail[s[j]] && j-i-7 < 2048 {
			j++
		}
		if j > i+7 && (j == len(s) || tbEndEmail[s[j]]) {
			return s[i:j], j, tbMail
		}
	}
	if k := int(stop[i]); k < len(s) && s[k] == '@' && k > i && k-i <= 251 {
		j := k + 1
		for j < len(s) && !tbEndEmail[s[j]] && j-k-1 < 251 {
			j++
		}
		if j > k+1 && (j == len(s) || tbEndEmail[s[j]]) {
			return s[i:j], j, tbMail
		}
	}
	// A bare host name ending in a valid TLD.
	if l.validTLD != nil && (i == 0 || tbSchemeless[s[i-1]]) && isAlnum(s[i]) {
		j := i
		for j < len(s) && j-i < 252 && (isAlnum(s[j]) || s[j] == '.' || s[j] == '_' || s[j] == '-') {
			j++
		}
		host := strings.TrimSuffix(s[i:j], ".")
		dot := strings.LastIndexByte(host, '.')
		if dot <= 0 || !l.tld(host[dot+1:]) {
			return "", 0, 0
		}
		if j < len(s) && s[j] == ':' {
			k := j + 1
			for k < len(s) && k-j <= 5 && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			if k > j+1 && k-j <= 6 {
				j = k
			}
		}
		if j < len(s) && s[j] == '/' {
			k := j + 1
			for k < len(s) && !tbEnd[s[k]] && k-j-1 < 2048 {
				k++
			}
			if k > j+1 {
				j = k
			}
		}
		if j == len(s) || tbEnd[s[j]] {
			if !fqdnValid(host, l) {
				return "", j, tbBare
			}
			return s[i:j], j, tbBare
		}
	}
	return "", 0, 0
}

// knownPrefix is the length of "http://", "https://", "ftp://", "www.",
// "wwwNN." or "ftp." at the start of s (any case), or 0.
func knownPrefix(s string) int {
	for _, p := range []string{"http://", "https://", "ftp://", "ftp."} {
		if hasPrefixFold(s, p) {
			return len(p)
		}
	}
	if hasPrefixFold(s, "www") {
		i := 3
		for i < len(s) && i < 5 && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i < len(s) && s[i] == '.' {
			return i + 1
		}
	}
	return 0
}

// tbTrim ends a URI at a ")" not preceded by "(" and drops trailing
// punctuation, as Thunderbird does.
func tbTrim(u string) string {
	if i := strings.IndexByte(u, ')'); i >= 0 && !strings.Contains(u[:i], "(") {
		u = u[:i]
	}
	j := len(u)
	for j > 0 && tbTrailing[u[j-1]] {
		j--
	}
	return u[:j]
}

// fqdnValid checks a host name as SpamAssassin's is_fqdn_valid does, and
// its TLD.
func fqdnValid(host string, l *uriLister) bool {
	host = strings.ToLower(strings.TrimRight(host, "."))
	if len(host) > 253 {
		return false
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return false
	}
	for i, label := range labels {
		if len(label) < 1 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for j := 0; j < len(label); j++ {
			if !isAlnum(label[j]) && label[j] != '_' && label[j] != '-' {
				return false
			}
		}
		if i >= len(labels)-2 && strings.Contains(label, "_") {
			return false
		}
	}
	return l.tld(labels[len(labels)-1])
}

// textURI turns a URI found in text into the form SpamAssassin lists:
// with a scheme, addresses as mailto: with a valid domain.
func (l *uriLister) textURI(u string, kind tbKind) string {
	if u == "" || kind == tbMail && !strings.Contains(u, "@") {
		return ""
	}
	lu := strings.ToLower(u)
	if strings.HasPrefix(lu, "cid:") || strings.HasPrefix(lu, "mid:") {
		return ""
	}
	if i := strings.IndexByte(u, ':'); i > 0 && isWordString(u[:i]) && strings.Trim(u[i+1:], "/") == "" {
		return ""
	}
	if !hasKnownScheme(lu) {
		switch {
		case strings.HasPrefix(lu, "ftp."):
			u = "ftp://" + u
		case knownPrefix(u) > 0:
			u = "http://" + u
		case slashBeforeAt(u):
			// Not an address: "/" comes before "@".
			u = "http://" + u
		case strings.Contains(u, "@"):
			at := strings.IndexByte(u, '@')
			if !strings.Contains(u[at+1:], ".") || strings.Contains(u, "&nbsp;") {
				return ""
			}
			u = "mailto:" + stripMailPrefix(u)
		default:
			if !strings.Contains(u, ".") {
				return ""
			}
			u = "http://" + u
		}
	}
	if strings.HasPrefix(strings.ToLower(u), "mailto:") {
		u = urlEncode(u)
		at := strings.IndexByte(u, '@')
		if at < 0 {
			return ""
		}
		host := u[at+1:]
		if k := strings.IndexAny(host, "?&>"); k >= 0 {
			host = host[:k]
		}
		for strings.HasSuffix(host, "%20") {
			host = host[:len(host)-3]
		}
		if !l.domainValid(host) {
			return ""
		}
	}
	return u
}

// slashBeforeAt reports "/", at least one character, then "@".
func slashBeforeAt(u string) bool {
	i := strings.IndexByte(u, '/')
	return i >= 0 && i+2 <= len(u) && strings.IndexByte(u[i+2:], '@') >= 0
}

func isWordString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func hasKnownScheme(lu string) bool {
	return strings.HasPrefix(lu, "http:") || strings.HasPrefix(lu, "https:") || strings.HasPrefix(lu, "ftp:") || strings.HasPrefix(lu, "mailto:")
}

// stripMailPrefix drops "skype:", "mail:", "e-mail:" and stray colons
// before an address.
func stripMailPrefix(u string) string {
	lu := strings.ToLower(u)
	for _, p := range []string{"skype", "e-mail", "email", "e-mail", "mail"} {
		if strings.HasPrefix(lu, p+":") {
			u = u[len(p):]
			break
		}
	}
	return strings.TrimLeft(u, ":")
}

// domainValid reports a domain with at least one dot whose last label is a
// valid TLD.
func (l *uriLister) domainValid(d string) bool {
	d = strings.ToLower(d)
	if strings.ContainsAny(d, " \t\n\r\f\v") {
		return false
	}
	dot := strings.LastIndexByte(d, '.')
	return dot >= 0 && dot < len(d)-1 && l.tld(d[dot+1:])
}

// urlEncode is SpamAssassin's url_encode, applied to URIs with a "%XX"
// escape: escapes of printable ASCII (not space) are decoded, and control
// characters, space, 8-bit bytes and `"%<>` written literally are escaped.
func urlEncode(u string) string {
	if !hasEscape(u) {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c == '%' && i+2 < len(u) && isHex(u[i+1]) && isHex(u[i+2]) {
			if v := unhex(u[i+1])<<4 | unhex(u[i+2]); v > 0x20 && v < 0x7f {
				b.WriteByte(v)
			} else {
				b.WriteString(u[i : i+3])
			}
			i += 2
			continue
		}
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '%' || c == '<' || c == '>' {
			b.WriteByte('%')
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// hasEscape reports a "%XX" escape in u.
func hasEscape(u string) bool {
	for i := strings.IndexByte(u, '%'); i >= 0 && i+2 < len(u); {
		if isHex(u[i+1]) && isHex(u[i+2]) {
			return true
		}
		j := strings.IndexByte(u[i+1:], '%')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}

// uriHost returns the host of u if it is an IP address or a valid host
// name (SpamAssassin's uri_to_domain), else "".
func (l *uriLister) uriHost(u string) string {
	lu := strings.ToLower(u)
	if strings.HasPrefix(lu, "javascript:") || strings.HasPrefix(lu, "cid:") || strings.HasPrefix(lu, "file:") {
		return ""
	}
	var host string
	if strings.HasPrefix(lu, "mailto:") {
		a := lu[len("mailto:"):]
		if k := strings.IndexByte(a, '?'); k >= 0 {
			a = a[:k]
		}
		if strings.Count(a, "@") != 1 {
			return ""
		}
		host = a[strings.IndexByte(a, '@')+1:]
	} else {
		h := lu
		if i := strings.IndexByte(h, ':'); i > 0 && isLowerAlpha(h[:i]) {
			h = strings.TrimPrefix(h[i+1:], "/")
			h = strings.TrimPrefix(h, "/")
		}
		if k := strings.IndexAny(h, "/?#"); k >= 0 {
			h = h[:k]
		}
		if k := strings.LastIndexByte(h, '@'); k >= 0 {
			h = h[k+1:]
		}
		if k := strings.LastIndexByte(h, ':'); k >= 0 && strings.Trim(h[k+1:], "0123456789") == "" {
			h = h[:k]
		}
		host = h
	}
	if strings.Contains(host, "%") {
		for i := 0; i+2 < len(host); i++ {
			if host[i] == '%' && isHex(host[i+1]) && isHex(host[i+2]) {
				if c := unhex(host[i+1])<<4 | unhex(host[i+2]); c > 0x20 && c < 0x7f {
					return ""
				}
			}
		}
	}
	if isDottedQuad(host) {
		return host
	}
	if !fqdnValid(host, l) {
		return ""
	}
	return host
}

func isLowerAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

func isDottedQuad(h string) bool {
	parts := strings.Split(h, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// canonicalize returns u and the variants SpamAssassin's
// uri_list_canonicalize derives from it, including the URLs embedded in
// it (and theirs).
func (l *uriLister) canonicalize(u string) []string {
	var out []string
	seen := map[string]bool{}
	push := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	queue := []string{u}
	for n := 0; n < len(queue) && n < 16; n++ {
		// The URI itself (without line breaks and surrounding blanks) is
		// always listed, even where no variants are derived from it.
		uri := strings.ReplaceAll(strings.TrimSpace(strings.ReplaceAll(queue[n], "\n", "")), "\r", "")
		push(uri)
		if len(uri) <= 1 || uri[0] == '#' || uri[0] == '?' || uri[0] == '&' || uri[0] == '/' && !strings.HasPrefix(uri, "//") {
			continue
		}
		lu := strings.ToLower(uri)
		if strings.HasPrefix(lu, "mailto:") || (strings.Contains(uri, "@") && !strings.Contains(uri[:strings.IndexByte(uri, '@')], ":")) {
			for _, v := range mailVariants(uri) {
				push(v)
			}
			continue
		}
		nuri := strings.ReplaceAll(uri, `\`, "/")
		nuri = fixHTTPSlashes(nuri)
		nuri = urlEncode(nuri)
		if !hasScheme(nuri) || !isSchemeWord(nuri[:strings.IndexByte(nuri, ':')]) {
			if strings.HasPrefix(nuri, "ftp.") {
				nuri = "ftp://" + nuri
			} else {
				nuri = "http://" + nuri
			}
		}
		nuri = slashBeforeQuery(nuri)
		nuri = decodeCharRefs(nuri)
		if nuri != uri {
			push(nuri)
		}
		proto, auth, host, rest, port, ok := splitHTTP(nuri)
		if !ok {
			continue
		}
		restNoPort := ""
		if port == "" {
			if proto == "http://" {
				port = "80"
			} else {
				port = "443"
			}
		} else {
			if (proto == "http://" && port == "80") || (proto != "http://" && port == "443") {
				restNoPort = rest[1+len(port):]
				push(proto + host + restNoPort)
			}
		}
		nhost := strings.ToLower(host)
		if nhost != host && !isASCII(host) {
			push(proto + nhost + rest)
		}
		if h := stripControl(host); h != host {
			host = h
			push(proto + host + rest)
		}
		// An embedded URL (a redirector).
		if i := indexFold(rest, "http"); i >= 0 {
			if t := embeddedURL(rest[i:]); t != "" && strings.Contains(t, ".") {
				queue = append(queue, t)
			}
		}
		if i := strings.IndexByte(host, '@'); i >= 0 {
			host = host[strings.LastIndexByte(host, '@')+1:]
			push(proto + host + rest)
		}
		if h := strings.TrimRightFunc(host, func(r rune) bool { return !(r < 0x80 && isAlnum(byte(r))) }); h != host {
			host = h
			push(proto + host + rest)
		}
		switch {
		case isNumericQuad(host):
			push(proto + numericQuad(host) + rest)
		case isHexHost(host):
			push(proto + ulongIP(hexHostValue(host)) + rest)
		case host != "" && strings.Trim(host, "0123456789") == "":
			if v, err := strconv.ParseUint(host, 10, 64); err == nil {
				push(proto + ulongIP(v) + rest)
			}
		case proto == "http://" && auth == "" && nhost != "localhost" && port == "80":
			name := strings.TrimPrefix(nhost, "www.")
			if name != "" && !strings.Contains(name, ".") && !l.domainValid(nhost) {
				push(proto + "www." + name + ".com" + rest)
			}
		}
	}
	return out
}

func isSchemeWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return s != ""
}

// mailVariants are the cleaned forms of an address URI.
func mailVariants(u string) []string {
	var out []string
	at := strings.IndexByte(u, '@')
	if q := strings.IndexByte(u[at+1:], '?'); q >= 0 {
		out = append(out, u[:at+1+q])
	}
	if a := strings.IndexByte(u[at+1:], '&'); a >= 0 {
		if q := strings.IndexByte(u[at+1:], '?'); q < 0 || a < q {
			out = append(out, u[:at+1+a])
		}
	}
	if strings.Contains(u, "%20") {
		v := strings.TrimPrefix(u, "mailto:")
		v = strings.TrimPrefix(v, "MAILTO:")
		for strings.HasPrefix(v, "%20") {
			v = v[3:]
		}
		if k := strings.IndexByte(v, '@'); k > 0 {
			if e := strings.IndexAny(v[k+1:], "?&%"); e >= 0 {
				v = v[:k+1+e]
			}
			out = append(out, "mailto:"+v)
		}
	}
	if lt := strings.IndexByte(u, '<'); lt >= 0 && !strings.ContainsAny(u[:lt], "?&") {
		if gt := strings.IndexByte(u[lt:], '>'); gt > 0 && strings.Contains(u[lt:lt+gt], "@") {
			out = append(out, "mailto:"+u[lt+1:lt+gt])
		}
	}
	return out
}

// fixHTTPSlashes makes "http:host" and "http:/host" "http://host".
func fixHTTPSlashes(u string) string {
	for _, p := range []string{"http:", "https:"} {
		if hasPrefixFold(u, p) {
			rest := strings.TrimLeft(u[len(p):], "/")
			if len(u)-len(p)-len(rest) <= 2 {
				return u[:len(p)] + "//" + rest
			}
		}
	}
	return u
}

// slashBeforeQuery makes "http://host?x" "http://host/?x".
func slashBeforeQuery(u string) string {
	for _, p := range []string{"http://", "https://"} {
		if hasPrefixFold(u, p) {
			rest := u[len(p):]
			i := strings.IndexAny(rest, "/?#")
			if i > 0 && rest[i] != '/' {
				return u[:len(p)+i] + "/" + rest[i:]
			}
		}
	}
	return u
}

// decodeCharRefs decodes "&#NN;" and "&#xNN;" of printable ASCII and the
// Unicode full stops.
func decodeCharRefs(u string) string {
	if !strings.Contains(u, "&#") {
		return u
	}
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if u[i] == '&' && i+2 < len(u) && u[i+1] == '#' {
			j := i + 2
			hex := j < len(u) && u[j]|0x20 == 'x'
			if hex {
				j++
			}
			k := j
			for k < len(u) && (hex && isHex(u[k]) || !hex && u[k] >= '0' && u[k] <= '9') {
				k++
			}
			if k > j && k < len(u) && u[k] == ';' {
				base := 10
				if hex {
					base = 16
				}
				if v, err := strconv.ParseUint(u[j:k], base, 32); err == nil {
					switch {
					case v >= 0x21 && v <= 0x7e:
						b.WriteByte(byte(v))
						i = k
						continue
					case v == 0x2e || v == 0x3002 || v == 0xff0e || v == 0xff61:
						b.WriteByte('.')
						i = k
						continue
					}
				}
			}
		}
		b.WriteByte(u[i])
	}
	return b.String()
}

// splitHTTP splits an http(s) URI into its parts; proto is lower-cased.
func splitHTTP(u string) (proto, auth, host, rest, port string, ok bool) {
	switch {
	case hasPrefixFold(u, "http://"):
		proto = "http://"
	case hasPrefixFold(u, "https://"):
		proto = "https://"
	default:
		return
	}
	r := u[len(proto):]
	end := strings.IndexAny(r, "/?#")
	if end < 0 {
		end = len(r)
	}
	if at := strings.IndexByte(r[:end], '@'); at >= 0 {
		auth, r = r[:at+1], r[at+1:]
	}
	i := strings.IndexAny(r, "/?#:")
	if i < 0 {
		i = len(r)
	}
	if i == 0 {
		return
	}
	host, rest = r[:i], r[i:]
	if strings.HasPrefix(rest, ":") {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		port = rest[1:j]
	}
	return proto, auth, host, rest, port, true
}

// embeddedURL returns the URL ("http:" with up to two slashes, up to "&"
// or "#") at the start of s.
func embeddedURL(s string) string {
	lower := strings.ToLower(s)
	var n int
	switch {
	case strings.HasPrefix(lower, "https:"):
		n = 6
	case strings.HasPrefix(lower, "http:"):
		n = 5
	default:
		return ""
	}
	for k := 0; k < 2 && n < len(s) && s[n] == '/'; k++ {
		n++
	}
	end := strings.IndexAny(s[n:], "&#")
	if end < 0 {
		end = len(s) - n
	}
	if end == 0 {
		return ""
	}
	return s[:n+end]
}

func stripControl(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r <= 0x20 }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r <= 0x20 {
			return -1
		}
		return r
	}, s)
}

// isNumericQuad reports a host of four dot-separated numbers, decimal,
// octal (leading 0) or hex (0x).
func isNumericQuad(h string) bool {
	parts := strings.Split(strings.ToLower(h), ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if strings.HasPrefix(p, "0x") {
			if len(p) == 2 || strings.Trim(p[2:], "0123456789abcdef") != "" {
				return false
			}
		} else if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// numericQuad rewrites each part of such a host as SpamAssassin does: hex
// to decimal, octal (leading zeros, then octal digits) to decimal, then
// leading zeros dropped — which leaves "0" empty, as there.
func numericQuad(h string) string {
	parts := strings.Split(strings.ToLower(h), ".")
	for i, p := range parts {
		if strings.HasPrefix(p, "0x") {
			if v, err := strconv.ParseUint(p[2:], 16, 64); err == nil {
				p = strconv.FormatUint(v, 10)
			}
		}
		if t := strings.TrimLeft(p, "0"); len(t) < len(p) && isOctalOctet(t) {
			v, _ := strconv.ParseUint(t, 8, 64)
			p = strconv.FormatUint(v, 10)
		}
		parts[i] = strings.TrimLeft(p, "0")
	}
	return strings.Join(parts, ".")
}

// isOctalOctet reports [1-3][0-7]{0,2} or [4-7][0-7]?.
func isOctalOctet(t string) bool {
	if t == "" || t[0] < '1' || t[0] > '7' || strings.Trim(t, "01234567") != "" {
		return false
	}
	if t[0] <= '3' {
		return len(t) <= 3
	}
	return len(t) <= 2
}

func isHexHost(h string) bool {
	return len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") && strings.Trim(strings.ToLower(h[2:]), "0123456789abcdef") == ""
}

// hexHostValue is the value of the last 8 hex digits of a "0x…" host.
func hexHostValue(h string) uint64 {
	d := h[2:]
	if len(d) > 8 {
		d = d[len(d)-8:]
	}
	v, _ := strconv.ParseUint(d, 16, 64)
	return v
}

// ulongIP writes the low 32 bits of v as a dotted quad.
func ulongIP(v uint64) string {
	v &= 0xffffffff
	return strconv.FormatUint(v>>24, 10) + "." + strconv.FormatUint(v>>16&0xff, 10) + "." + strconv.FormatUint(v>>8&0xff, 10) + "." + strconv.FormatUint(v&0xff, 10)
}
