package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/mailrep/mailrep/scoring/message"
)

// MIME and body eval functions (SpamAssassin's MIMEEval, BodyEval and
// ImageInfo plugins), over the parts the message package found.

func init() {
	register("check_for_mime", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		test := a[0]
		okl := env.rs.okLocales
		var f func(m *msgState) (float64, string)
		switch test {
		case "mime_base64_count":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool { return p.Encoding == "base64" }), "base64 part"
			}
		case "mime_qp_count":
			// Observed in SpamAssassin 4.0: a quoted-printable part
			// counts when it encodes characters that need no encoding
			// (=22 for a quote, a tab or space not at the end of a
			// line), the mark of mass-mailing software.
			f = func(m *msgState) (float64, string) {
				n := 0
				for _, sec := range qpSections(m.msg) {
					if needlessQP(sec) {
						n++
					}
				}
				return float64(n), "quoted-printable with needless encodings"
			}
		case "mime_attachment":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool { return p.IsAttachment }), "attachment"
			}
		case "mime_body_html_count":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool { return p.ContentType == "text/html" }), "text/html part"
			}
		case "mime_body_text_count":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool { return p.ContentType == "text/plain" }), "text/plain part"
			}
		case "mime_base64_encoded_text":
			// Text disguised as base64: a base64 text part whose content
			// is plain 7-bit text.
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool {
					return p.Encoding == "base64" && strings.HasPrefix(p.ContentType, "text/") && isASCII(p.Content) && p.Content != ""
				}), "base64-encoded text"
			}
		case "mime_qp_long_line":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool {
					return p.Encoding == "quoted-printable" && p.MaxLineLen > 77
				}), "quoted-printable line over 76 characters"
			}
		case "mime_faraway_charset":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool {
					return strings.HasPrefix(p.ContentType, "text/") && charsetFaraway(p.Charset, okl)
				}), "charset outside ok_locales"
			}
		case "mime_multipart_alternative":
			f = func(m *msgState) (float64, string) {
				return m.countParts(func(p *message.Part) bool { return p.Parent == "multipart/alternative" }), "multipart/alternative"
			}
		case "mime_ascii_text_illegal":
			f = func(m *msgState) (float64, string) { return m.asciiTextIllegal() }
		case "mimepart_limit_exceeded":
			f = func(m *msgState) (float64, string) {
				if m.msg.HitLimit(message.LimitParts) || m.hasAnomaly("mimepart_limit_exceeded") {
					return 1, "MIME part limit"
				}
				return 0, ""
			}
		default:
			return nil, fmt.Errorf("MIME test %q not implemented", test)
		}
		return func(m *msgState) (float64, string) {
			v, where := f(m)
			if v == 0 {
				return 0, ""
			}
			return v, where
		}, nil
	}))
	register("check_for_mime_html", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			if m.countParts(func(p *message.Part) bool { return p.ContentType == "text/html" }) > 0 {
				return 1, "text/html part"
			}
			return 0, ""
		}, nil
	}))
	register("check_for_mime_html_only", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) {
			html := m.countParts(func(p *message.Part) bool { return p.ContentType == "text/html" })
			plain := m.countParts(func(p *message.Part) bool { return p.ContentType == "text/plain" })
			if html > 0 && plain == 0 {
				return 1, "only text/html parts"
			}
			return 0, ""
		}, nil
	}))
	register("check_mime_multipart_ratio", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			plain, html := 0, 0
			for i := range m.msg.Parts {
				p := &m.msg.Parts[i]
				if p.Parent != "multipart/alternative" {
					continue
				}
				switch p.ContentType {
				case "text/plain":
					plain += len(p.Content)
				case "text/html":
					html += len(p.Content)
				}
			}
			if html == 0 {
				return 0, ""
			}
			r := float64(plain) / float64(html)
			if r >= lo && r < hi {
				return 1, fmt.Sprintf("text/html ratio %.3f", r)
			}
			return 0, ""
		}, nil
	}))
	register("check_msg_parse_flags", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		flag := a[0]
		return func(m *msgState) (float64, string) {
			if m.hasAnomaly(flag) {
				return 1, flag
			}
			return 0, ""
		}, nil
	}))
	register("check_for_ascii_text_illegal", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		return func(m *msgState) (float64, string) { return m.asciiTextIllegal() }, nil
	}))
	register("check_for_faraway_charset", argsExactly(0, func(env *evalEnv, a []string) (evalFunc, error) {
		okl := env.rs.okLocales
		return func(m *msgState) (float64, string) {
			for i := range m.msg.Parts {
				p := &m.msg.Parts[i]
				if strings.HasPrefix(p.ContentType, "text/") && charsetFaraway(p.Charset, okl) {
					return 1, p.Charset
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_base64_length", argsBetween(1, 2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, err := parseBound(a[0], 0)
		if err != nil {
			return nil, err
		}
		hi := math.Inf(1)
		if len(a) == 2 {
			if hi, err = parseBound(a[1], math.Inf(1)); err != nil {
				return nil, err
			}
		}
		return func(m *msgState) (float64, string) {
			for i := range m.msg.Parts {
				p := &m.msg.Parts[i]
				if p.Encoding != "base64" {
					continue
				}
				if l := float64(p.MaxLineLen); l >= lo && l <= hi {
					return 1, fmt.Sprintf("base64 line of %d characters", p.MaxLineLen)
				}
			}
			return 0, ""
		}, nil
	}))
	register("check_body_length", argsExactly(1, func(env *evalEnv, a []string) (evalFunc, error) {
		n, err := strconv.Atoi(strings.TrimSpace(a[0]))
		if err != nil {
			return nil, fmt.Errorf("bad length %q", a[0])
		}
		return func(m *msgState) (float64, string) {
			l := m.bodyLength()
			if l < n {
				return 1, fmt.Sprintf("body of %d bytes", l)
			}
			return 0, ""
		}, nil
	}))
	register("check_for_uppercase", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			p, ok := m.uppercasePercent()
			if ok && p > lo && p <= hi {
				return 1, fmt.Sprintf("%.0f%% upper case", p)
			}
			return 0, ""
		}, nil
	}))
	register("multipart_alternative_difference", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			d, _, ok := m.altDifference()
			if ok && d >= lo && d <= hi {
				return 1, fmt.Sprintf("text and HTML %.0f%% different", d)
			}
			return 0, ""
		}, nil
	}))
	register("multipart_alternative_difference_count", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		ratio, err := strconv.ParseFloat(strings.TrimSpace(a[0]), 64)
		if err != nil {
			return nil, fmt.Errorf("bad ratio %q", a[0])
		}
		minHTML, err := strconv.Atoi(strings.TrimSpace(a[1]))
		if err != nil {
			return nil, fmt.Errorf("bad count %q", a[1])
		}
		return func(m *msgState) (float64, string) {
			_, counts, ok := m.altDifference()
			if !ok || counts[1] <= minHTML {
				return 0, ""
			}
			if float64(counts[0])/float64(counts[1]) > ratio {
				return 1, fmt.Sprintf("%d text tokens for %d HTML tokens", counts[0], counts[1])
			}
			return 0, ""
		}, nil
	}))
	register("image_count", argsBetween(2, 3, func(env *evalEnv, a []string) (evalFunc, error) {
		kind := strings.ToLower(a[0])
		lo, err := parseBound(a[1], 0)
		if err != nil {
			return nil, err
		}
		hi := math.Inf(1)
		if len(a) == 3 {
			if hi, err = parseBound(a[2], math.Inf(1)); err != nil {
				return nil, err
			}
		}
		return func(m *msgState) (float64, string) {
			n := m.countParts(func(p *message.Part) bool { return imageKind(p.ContentType, kind) })
			if n >= lo && n <= hi {
				return 1, fmt.Sprintf("%.0f %s images", n, kind)
			}
			return 0, ""
		}, nil
	}))
	register("tvd_vertical_words", argsExactly(2, func(env *evalEnv, a []string) (evalFunc, error) {
		lo, hi, err := parseRange(a[0], a[1])
		if err != nil {
			return nil, err
		}
		return func(m *msgState) (float64, string) {
			p, ok := m.verticalWords()
			if ok && p >= lo && p <= hi {
				return 1, fmt.Sprintf("%.1f%% one-letter words", p)
			}
			return 0, ""
		}, nil
	}))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// countParts counts the MIME parts for which f holds.
func (m *msgState) countParts(f func(p *message.Part) bool) float64 {
	n := 0
	for i := range m.msg.Parts {
		if f(&m.msg.Parts[i]) {
			n++
		}
	}
	return float64(n)
}

func (m *msgState) hasAnomaly(name string) bool {
	for _, a := range m.msg.Anomalies {
		if a == name {
			return true
		}
	}
	return false
}

// asciiTextIllegal finds a text/plain part declared us-ascii (or without
// charset) in 7bit encoding whose content holds bytes other than TAB, LF,
// CR and SPACE through TILDE.
func (m *msgState) asciiTextIllegal() (float64, string) {
	for i := range m.msg.Parts {
		p := &m.msg.Parts[i]
		if p.ContentType != "text/plain" {
			continue
		}
		if p.Charset != "" && p.Charset != "us-ascii" {
			continue
		}
		if p.Encoding != "" && p.Encoding != "7bit" {
			continue
		}
		for j := 0; j < len(p.Content); j++ {
			c := p.Content[j]
			if c != '\t' && c != '\n' && c != '\r' && (c < ' ' || c > '~') {
				return 1, fmt.Sprintf("byte 0x%02x in us-ascii text", c)
			}
		}
	}
	return 0, ""
}

// bodyLength is the length of the message body as read (MIME structure
// included), which is what SpamAssassin's check_body_length measures.
func (m *msgState) bodyLength() int {
	return len(m.msg.RawBody)
}

// uppercasePercent is the share of upper-case letters among the letters of
// the body text (without the Subject), when there are enough letters to
// judge.
func (m *msgState) uppercasePercent() (float64, bool) {
	upper, letters := 0, 0
	for i, t := range m.bodyTexts() {
		if i == 0 {
			continue
		}
		for _, r := range t.raw {
			if unicode.IsLetter(r) {
				letters++
				if unicode.IsUpper(r) {
					upper++
				}
			}
		}
	}
	if letters < 200 {
		return 0, false
	}
	return 100 * float64(upper) / float64(letters), true
}

// altDifference compares the words of the text/plain and text/html parts
// of multipart/alternative sections: the percentage of distinct HTML
// tokens absent from the text part, and the token counts (text, HTML).
func (m *msgState) altDifference() (float64, [2]int, bool) {
	var textTok, htmlTok map[string]bool
	for i := range m.msg.Parts {
		p := &m.msg.Parts[i]
		if p.Parent != "multipart/alternative" {
			continue
		}
		switch p.ContentType {
		case "text/plain":
			if textTok == nil {
				textTok = map[string]bool{}
			}
			for _, w := range strings.Fields(p.Text) {
				textTok[w] = true
			}
		case "text/html":
			if htmlTok == nil {
				htmlTok = map[string]bool{}
			}
			for _, w := range strings.Fields(p.Text) {
				htmlTok[w] = true
			}
		}
	}
	counts := [2]int{len(textTok), len(htmlTok)}
	if len(htmlTok) == 0 {
		return 0, counts, false
	}
	diff := 0
	for w := range htmlTok {
		if !textTok[w] {
			diff++
		}
	}
	return 100 * float64(diff) / float64(len(htmlTok)), counts, true
}

// verticalWords is the number of words per 100 word characters ([A-Za-z0-9_]
// runs and bytes) of the body text without the Subject: text spaced out
// letter by letter scores 100, long unbroken tokens near 0, a body without
// word characters 0. The arithmetic order (words/characters, then ×100) is
// SpamAssassin's, so that 5 words in 50 characters is just above 10.
func (m *msgState) verticalWords() (float64, bool) {
	words, chars := 0, 0
	for i, t := range m.bodyTexts() {
		if i == 0 {
			continue
		}
		inWord := false
		for j := 0; j < len(t.raw); j++ {
			if !isWordRune(rune(t.raw[j])) {
				inWord = false
				continue
			}
			chars++
			if !inWord {
				words++
				inWord = true
			}
		}
	}
	if chars == 0 {
		return 0, true
	}
	return float64(words) / float64(chars) * 100, true
}

// imageKind reports whether a part type is an image of kind (gif, jpeg,
// png, bmp, or all).
func imageKind(ct, kind string) bool {
	if !strings.HasPrefix(ct, "image/") {
		return false
	}
	sub := ct[len("image/"):]
	switch kind {
	case "all":
		return true
	case "jpeg", "jpg":
		return sub == "jpeg" || sub == "jpg" || sub == "pjpeg"
	}
	return sub == kind
}

// Charsets by the locale they are written in; a charset is "far away" when
// ok_locales does not name its locale. The default ok_locales is "all".
var charsetLocales = map[string]string{
	"iso-2022-jp": "ja", "shift_jis": "ja", "sjis": "ja", "x-sjis": "ja", "euc-jp": "ja", "cp932": "ja", "windows-31j": "ja",
	"euc-kr": "ko", "ks_c_5601-1987": "ko", "iso-2022-kr": "ko", "cp949": "ko",
	"gb2312": "zh", "gbk": "zh", "gb18030": "zh", "big5": "zh", "big5-hkscs": "zh", "euc-tw": "zh", "hz-gb-2312": "zh", "cp936": "zh", "x-gbk": "zh",
	"koi8-r": "ru", "koi8-u": "ru", "windows-1251": "ru", "cp1251": "ru", "iso-8859-5": "ru", "ibm866": "ru", "x-mac-cyrillic": "ru",
	"tis-620": "th", "windows-874": "th", "iso-8859-11": "th",
	"iso-8859-7": "el", "windows-1253": "el",
	"iso-8859-8": "he", "windows-1255": "he",
	"iso-8859-6": "ar", "windows-1256": "ar",
	"windows-1258": "vi", "viscii": "vi",
}

func charsetFaraway(cs string, ok map[string]bool) bool {
	if ok == nil || ok["all"] {
		return false
	}
	loc, known := charsetLocales[strings.ToLower(strings.TrimSpace(cs))]
	if !known {
		return false
	}
	return !ok[loc]
}

// qpSections returns the encoded bodies of the quoted-printable parts,
// found in the raw body: a single-part message's whole body, or the text
// after each part header declaring quoted-printable up to the next
// boundary line.
func qpSections(m *message.Message) []string {
	if len(m.Parts) == 1 && m.Parts[0].Path == "1" {
		if m.Parts[0].Encoding == "quoted-printable" {
			return []string{m.RawBody}
		}
		return nil
	}
	var out []string
	raw := m.RawBody
	low := strings.ToLower(raw)
	const cte = "content-transfer-encoding:"
	for i := 0; ; {
		j := strings.Index(low[i:], cte)
		if j < 0 {
			break
		}
		k := i + j + len(cte)
		eol := strings.IndexByte(low[k:], '\n')
		if eol < 0 {
			break
		}
		value := strings.TrimSpace(low[k : k+eol])
		i = k + eol
		if value != "quoted-printable" {
			continue
		}
		// The body starts after the blank line ending the part header.
		blank := strings.Index(raw[i:], "\n\n")
		if crlf := strings.Index(raw[i:], "\n\r\n"); crlf >= 0 && (blank < 0 || crlf < blank) {
			blank = crlf + 1
		}
		if blank < 0 {
			break
		}
		start := i + blank + 2
		end := len(raw)
		if b := strings.Index(raw[start:], "\n--"); b >= 0 {
			end = start + b
		}
		out = append(out, raw[start:end])
		i = end
	}
	return out
}

// needlessQP reports a quoted-printable text that encodes a printable
// ASCII character other than "=", or a blank not at the end of a line.
func needlessQP(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '=' {
			continue
		}
		h, l := hexVal(rune(s[i+1])), hexVal(rune(s[i+2]))
		if h < 0 || l < 0 {
			continue
		}
		c := h*16 + l
		switch {
		case c > 0x20 && c < 0x7F && c != '=':
			return true
		case c == ' ' || c == '\t':
			rest := s[i+3:]
			if rest != "" && rest[0] != '\n' && rest[0] != '\r' && !strings.HasPrefix(rest, "=\n") && !strings.HasPrefix(rest, "=\r\n") {
				return true
			}
		}
		i += 2
	}
	return false
}
