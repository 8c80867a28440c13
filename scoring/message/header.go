package message

import (
	"bytes"
	"strings"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
)

// unfoldRaw returns a field value with its line breaks removed and leading
// and trailing blanks trimmed.
func unfoldRaw(v []byte) string {
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return string(bytes.Trim(v, " \t"))
	}
	b := make([]byte, 0, len(v))
	for len(v) > 0 {
		i := bytes.IndexAny(v, "\r\n")
		if i < 0 {
			b = append(b, v...)
			break
		}
		b = append(b, v[:i]...)
		v = v[i+1:]
	}
	return string(bytes.Trim(b, " \t"))
}

// unfoldValue returns a field value as SpamAssassin reads it before
// decoding: every line break with the blanks after it becomes one space,
// and surrounding whitespace is trimmed.
func unfoldValue(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if bytes.IndexByte(v, '\n') < 0 && bytes.IndexByte(v, '\r') < 0 {
		return string(bytes.TrimSpace(v))
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' {
			continue
		}
		if c == '\n' {
			for i+1 < len(v) && (v[i+1] == ' ' || v[i+1] == '\t') {
				i++
			}
			b = append(b, ' ')
			continue
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

// noDecode reports the fields whose encoded words SpamAssassin leaves
// alone.
func noDecode(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "received", "message-id", "resent-message-id", "date", "resent-date", "mime-version", "references", "in-reply-to":
		return true
	}
	return strings.HasPrefix(n, "list-")
}

// decodeHeaderValue returns a field value as SpamAssassin's header rules
// see it: unfolded, 8-bit text made UTF-8, encoded words decoded.
func decodeHeaderValue(name string, raw []byte) string {
	v := unfoldValue(raw)
	if !isASCII(v) && !utf8.ValidString(v) {
		v = string(appendUTF8(nil, []byte(v), ""))
	}
	if noDecode(name) || !strings.Contains(v, "=?") {
		return v
	}
	return decodeWords(v)
}

// encodedWord is an RFC 2047 encoded word at the start of s: its charset
// (language suffix dropped), encoding letter, text and length.
func encodedWord(s string) (charset string, enc byte, text string, n int, ok bool) {
	if len(s) < 8 || s[0] != '=' || s[1] != '?' {
		return "", 0, "", 0, false
	}
	i := 2
	for i < len(s) && (isAlnum(s[i]) || s[i] == '*' || s[i] == '_' || s[i] == '-') {
		i++
	}
	if i == 2 || i+3 > len(s) || s[i] != '?' {
		return "", 0, "", 0, false
	}
	charset = s[2:i]
	enc = s[i+1] | 0x20
	if (enc != 'b' && enc != 'q') || s[i+2] != '?' {
		return "", 0, "", 0, false
	}
	j := strings.IndexByte(s[i+3:], '?')
	if j < 0 || i+3+j+1 >= len(s) || s[i+3+j+1] != '=' {
		return "", 0, "", 0, false
	}
	text = s[i+3 : i+3+j]
	if k := strings.IndexByte(charset, '*'); k >= 0 {
		charset = charset[:k]
	}
	return strings.ToLower(charset), enc, text, i + 3 + j + 2, true
}

// decodeWords decodes the encoded words in v the way SpamAssassin does:
// anywhere in the text, blanks between two encoded words dropped, and the
// bytes of adjacent words in one charset joined before conversion (so a
// character split across words survives).
func decodeWords(v string) string {
	var (
		out     []byte
		pending []byte // decoded bytes of adjacent words in charset cur
		cur     string
		inWord  bool
	)
	flush := func() {
		if inWord {
			out = appendDeclared(out, pending, cur)
			pending, inWord = pending[:0], false
		}
	}
	for i := 0; i < len(v); {
		if cs, enc, text, n, ok := encodedWord(v[i:]); ok {
			if inWord && cs != cur {
				flush()
			}
			cur, inWord = cs, true
			if enc == 'b' {
				pending = appendBase64(pending, text)
			} else {
				pending = appendQ(pending, text)
			}
			i += n
			// Blanks up to the next encoded word are dropped.
			j := i
			for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
				j++
			}
			if j > i {
				if _, _, _, _, next := encodedWord(v[j:]); next {
					i = j
				}
			}
			continue
		}
		flush()
		out = append(out, v[i])
		i++
	}
	flush()
	return string(out)
}

// appendQ appends the decoding of an RFC 2047 "Q" encoded text.
func appendQ(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			dst = append(dst, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendBase64 appends the lenient decoding of base64 text.
func appendBase64(dst []byte, s string) []byte {
	var d b64Decoder
	sk := sink{keep: true, max: 1 << 62, buf: dst}
	d.decode(&sk, []byte(s))
	d.flush(&sk)
	return sk.buf
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// mediaType reads the media type from a Content-Type value as SpamAssassin
// does, reporting a missing or empty one (read as text/plain).
func mediaType(v string) (string, bool) {
	ct := strings.TrimLeft(v, " \t\r\n\f\v")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if i := strings.IndexByte(ct, '/'); i > 0 {
		j := i + 1
		for j < len(ct) && ct[j] != '/' && !isSpace(ct[j]) {
			j++
		}
		ct = ct[:j]
	}
	ct = strings.ToLower(ct)
	missing := ct == ""
	if missing || strings.HasPrefix(ct, "text") && (len(ct) == 4 || !isWordByte(ct[4])) &&
		ct != "text/x-vcard" && ct != "text/calendar" && ct != "text/html" {
		ct = "text/plain"
	}
	clean := true
	for i := 0; i < len(ct); i++ {
		if badTypeByte(ct[i]) {
			clean = false
			break
		}
	}
	if !clean {
		b := make([]byte, 0, len(ct))
		for i := 0; i < len(ct); i++ {
			if !badTypeByte(ct[i]) {
				b = append(b, ct[i])
			}
		}
		ct = string(b)
	}
	return ct, missing
}

// badTypeByte reports the bytes SpamAssassin strips from a media type.
func badTypeByte(c byte) bool {
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' ||
		(c >= ':' && c <= '?') || c == '@' || (c >= '[' && c <= ']')
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return isAlnum(c) || c == '_'
}

// findParam returns the offset just after "name", optional blanks and "="
// for the first occurrence of the parameter name in v that starts a word
// (case-insensitive), or -1.
func findParam(v, name string) int {
	for from := 0; from < len(v); {
		i := indexFold(v[from:], name)
		if i < 0 {
			return -1
		}
		i += from
		from = i + 1
		if i > 0 && isWordByte(v[i-1]) {
			continue
		}
		j := i + len(name)
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		if j >= len(v) || v[j] != '=' {
			continue
		}
		j++
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		return j
	}
	return -1
}

// indexFold is strings.Index for an ASCII lower-case needle, ignoring case.
func indexFold(s, lowerNeedle string) int {
	n := len(lowerNeedle)
	for i := 0; i+n <= len(s); i++ {
		if s[i]|0x20 == lowerNeedle[0] && strings.EqualFold(s[i:i+n], lowerNeedle) {
			return i
		}
	}
	return -1
}

// boundaryParam returns the boundary parameter as SpamAssassin reads it: a
// quoted value (the closing quote optional) or a bare one ending at a blank
// or ";".
func boundaryParam(v string) string {
	for off := 0; off < len(v); {
		j := findParam(v[off:], "boundary")
		if j < 0 {
			return ""
		}
		j += off
		off = j
		if j < len(v) && v[j] == '"' {
			k := strings.IndexByte(v[j+1:], '"')
			if k < 0 {
				k = len(v) - j - 1
			}
			if k > 0 {
				return v[j+1 : j+1+k]
			}
			continue
		}
		k := j
		for k < len(v) && !isSpace(v[k]) && v[k] != '"' && v[k] != ';' {
			k++
		}
		if k > j && (k == len(v) || v[k] != '"') {
			return v[j:k]
		}
		if k == j {
			off = j + 1
		}
	}
	return ""
}

// simpleParam returns a parameter's value up to the next ";", without the
// quotes around it.
func simpleParam(v, name string) string {
	j := findParam(v, name)
	if j < 0 {
		return ""
	}
	s := v[j:]
	if k := strings.IndexByte(s, ';'); k >= 0 {
		s = s[:k]
	}
	s = strings.TrimSpace(s)
	if len(s) > 0 && (s[0] == '"' || s[0] == '\'') {
		s = s[1:]
	}
	if n := len(s); n > 0 && (s[n-1] == '"' || s[n-1] == '\'') {
		s = s[:n-1]
	}
	return strings.TrimSpace(s)
}

// charsetParam returns the charset parameter of a Content-Type value.
func charsetParam(v string) string {
	return simpleParam(v, "charset")
}

// fileName returns the file name of a part: Content-Disposition's filename
// or Content-Type's name, decoded (RFC 2231, RFC 2047) with go-message,
// falling back to SpamAssassin's lenient reading when the field does not
// parse.
func fileName(ct, cd string) string {
	hasCD := indexFold(cd, "name") >= 0
	hasCT := indexFold(ct, "name") >= 0
	if !hasCD && !hasCT {
		return ""
	}
	var h gomessage.Header
	if hasCD {
		h.Set("Content-Disposition", cd)
		if _, params, err := h.ContentDisposition(); err == nil {
			if n := params["filename"]; n != "" {
				return n
			}
		}
		if n := simpleParam(cd, "filename"); n != "" {
			return decodeWords(n)
		}
	}
	if hasCT {
		h.Set("Content-Type", ct)
		if _, params, err := h.ContentType(); err == nil {
			if n := params["name"]; n != "" {
				return n
			}
		}
		if n := simpleParam(ct, "name"); n != "" {
			return decodeWords(n)
		}
		if n := simpleParam(ct, "filename"); n != "" {
			return decodeWords(n)
		}
	}
	return ""
}
