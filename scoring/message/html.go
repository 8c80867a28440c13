package message

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// HTMLStats are the facts about one text/html part that SpamAssassin's
// HTML eval tests (html_test, html_range, html_eval, html_tag_exists,
// html_tag_balance, html_image_only, html_image_ratio, html_text_match,
// html_title_subject_ratio, html_charset_faraway, check_iframe_src) look
// at. [HTMLStats.Value] gives them by SpamAssassin's names.
type HTMLStats struct {
	// Length is the length of the HTML source in characters ("length").
	Length int
	// TextLength is the length of the rendered text in characters
	// ("html_length").
	TextLength int
	// NonSpaceLength is TextLength less its whitespace ("non_space_len").
	NonSpaceLength int
	// SourceBytes is the size of the part after transfer decoding and
	// before charset conversion, the base of "ratio".
	SourceBytes int
	// Tags counts start and end tags and the doctype.
	Tags int
	// Elements counts those of Tags that are HTML 4 / XHTML 1 elements
	// (or Office "o:"/"st1:" tags).
	Elements int
	// TagsSeen and ElementsSeen count distinct tag names.
	TagsSeen, ElementsSeen int
	// ClosedExtra counts end tags without an open element.
	ClosedExtra int
	// Obfuscation counts pieces of text that continue a word across a
	// tag ("<b>V</b>iagra").
	Obfuscation int
	// Backhair counts the distinct ways words are split across tags
	// ("backhair_count").
	Backhair int
	// Inside maps each tag name seen to its open count (start tags less
	// end tags, never below 0): presence is html_tag_exists, the value
	// html_tag_balance.
	Inside map[string]int
	// ImageArea is the total area of <img> tags with width and height, in
	// pixels (percentages of an 800×600 screen; missing or zero sizes
	// count 200).
	ImageArea int
	// MinFontSize and MaxFontSize are the smallest and largest font sizes
	// set (HTML sizes 1–7, 3 by default).
	MinFontSize, MaxFontSize int
	// FontLowContrast reports visible text in a colour (nearly) equal to
	// its background.
	FontLowContrast bool
	// FontInvalidColor reports text in a colour that does not parse.
	FontInvalidColor bool
	// FontFaceBad reports a <font face> that is not a list of font names.
	FontFaceBad bool
	// Embeds reports <object> or <embed>.
	Embeds bool
	// FormActionMailto reports a form posting to a mailto: URI.
	FormActionMailto bool
	// URITruncated reports a URI longer than 8192 bytes (cut).
	URITruncated bool
	// IFrameSrc reports an <iframe> with a src URI.
	IFrameSrc bool
	// Titles, Comments (with their "<!--" and "-->") and Scripts are the
	// texts of those elements; Anchors the links with their text.
	Titles, Comments, Scripts []string
	Anchors                   []Anchor
	// Charsets are the charsets declared by <meta http-equiv=Content-Type>.
	Charsets []string
}

// Anchor is an <a> element: its href (trimmed, "" if none) and its text,
// with "<img>\n" for each image in it.
type Anchor struct {
	Href string
	Text string
}

// Value returns the number SpamAssassin's HTML results hold under name
// (html, length, html_length, non_space_len, ratio, image_area, min_size,
// max_size, closed_extra_ratio, bad_tag_ratio, non_element_ratio,
// obfuscation_ratio, backhair_count, font_low_contrast,
// font_invalid_color, font_face_bad, embeds, form_action_mailto,
// uri_truncated), with 1 and 0 for the flags; ok is false where
// SpamAssassin leaves the value undefined (a ratio without a base, a flag
// never raised) or does not know the name.
func (h *HTMLStats) Value(name string) (v float64, ok bool) {
	flag := func(b bool) (float64, bool) {
		if b {
			return 1, true
		}
		return 0, false
	}
	switch name {
	case "html":
		return 1, true
	case "length":
		return float64(h.Length), true
	case "html_length":
		return float64(h.TextLength), true
	case "non_space_len":
		return float64(h.NonSpaceLength), true
	case "ratio":
		if h.SourceBytes == 0 {
			return 0, false
		}
		return float64(h.SourceBytes-h.TextLength) / float64(h.SourceBytes), true
	case "image_area":
		return float64(h.ImageArea), true
	case "min_size":
		return float64(h.MinFontSize), true
	case "max_size":
		return float64(h.MaxFontSize), true
	case "closed_extra_ratio":
		if h.Tags == 0 {
			return 0, false
		}
		return float64(h.ClosedExtra) / float64(h.Tags), true
	case "bad_tag_ratio":
		if h.Tags == 0 || h.Elements == 0 {
			return 0, false
		}
		return float64(h.Tags-h.Elements) / float64(h.Tags), true
	case "non_element_ratio":
		if h.TagsSeen == 0 || h.ElementsSeen == 0 {
			return 0, false
		}
		return float64(h.TagsSeen-h.ElementsSeen) / float64(h.TagsSeen), true
	case "obfuscation_ratio":
		if h.Tags == 0 || h.Obfuscation == 0 {
			return 0, false
		}
		return float64(h.Obfuscation) / float64(h.Tags), true
	case "backhair_count":
		if h.Backhair == 0 {
			return 0, false
		}
		return float64(h.Backhair), true
	case "font_low_contrast":
		return flag(h.FontLowContrast)
	case "font_invalid_color":
		return flag(h.FontInvalidColor)
	case "font_face_bad":
		return flag(h.FontFaceBad)
	case "embeds":
		return flag(h.Embeds)
	case "form_action_mailto":
		return flag(h.FormActionMailto)
	case "uri_truncated":
		return flag(h.URITruncated)
	}
	return 0, false
}

// maxURILength is SpamAssassin's cut-off for one URI.
const maxURILength = 8192

// Tag classes of SpamAssassin's HTML renderer.
var (
	// htmlElements are the elements of the HTML 4.01 and XHTML 1.0 DTDs
	// and a few common non-standard ones.
	htmlElements = setOf("a abbr acronym address area b base bdo big blockquote body br button caption cite code col colgroup dd del dfn div dl dt em fieldset form h1 h2 h3 h4 h5 h6 head hr html i img input ins kbd label legend li link map meta noscript object ol optgroup option p param pre q samp script select small span strong style sub sup table tbody td textarea tfoot th thead title tr tt ul var " +
		"applet basefont center dir font frame frameset iframe isindex menu noframes s strike u nobr x-sigsep x-tab")
	// htmlTricks are rendered but not valid.
	htmlTricks = setOf("bgsound embed listing plaintext xmp")
	// styleTags change the text style.
	styleTags = setOf("body font table tr th td big small basefont marquee span p div a")
	// uriTags carry URIs.
	uriTags = setOf("body table tr td a area link img frame iframe embed script form base bgsound meta")
	// styleAttrs are the attributes read per style tag.
	styleAttrs = map[string]map[string]bool{
		"basefont": setOf("color face size"),
		"body":     setOf("text bgcolor link alink vlink background"),
		"font":     setOf("color face size"),
		"marquee":  setOf("bgcolor background"),
		"table":    setOf("bgcolor style"),
		"td":       setOf("bgcolor style"),
		"th":       setOf("bgcolor style"),
		"tr":       setOf("bgcolor style"),
		"span":     setOf("style"),
		"p":        setOf("style"),
		"div":      setOf("style"),
		"a":        setOf("style"),
	}
	// attrTags are the tags whose attributes are read at all.
	attrTags = setOf("a area base basefont bgsound body div embed font form frame iframe img link marquee meta p script span table td th tr")
	// tagTable holds the name (interned) and classes of known tags.
	tagTable = func() map[string]tagInfo {
		m := map[string]tagInfo{}
		for _, c := range []struct {
			set  map[string]bool
			flag tagClass
		}{{htmlElements, isElement}, {htmlTricks, isTrick}, {styleTags, isStyle}, {uriTags, isURI}, {attrTags, hasAttrs}, {setOf("noembed noframes noscript o:p"), 0}} {
			for k := range c.set {
				ti := m[k]
				ti.name = k
				ti.class |= c.flag
				m[k] = ti
			}
		}
		return m
	}()
)

// tagClass are the classes a tag belongs to.
type tagClass uint8

const (
	isElement tagClass = 1 << iota
	isTrick
	isStyle
	isURI
	hasAttrs
)

type tagInfo struct {
	name  string
	class tagClass
}

// lookupTag returns a tag's name without allocating for known tags, and
// its classes.
func lookupTag(name []byte) (string, tagClass) {
	if ti, ok := tagTable[string(name)]; ok {
		return ti.name, ti.class
	}
	return string(name), 0
}

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// whitespaceFor is the text a tag (start or end) inserts.
func whitespaceFor(tag string) string {
	switch tag {
	case "br", "div":
		return "\n"
	case "li", "th", "td", "dt", "dd", "embed", "h1", "h2", "h3", "h4", "h5", "h6":
		return " "
	case "p", "hr", "blockquote", "pre", "listing", "plaintext", "xmp", "title":
		return "\n\n"
	}
	return ""
}

// isNamespaceTag reports Office tags like "o:p" and "st1:place".
func isNamespaceTag(tag string) bool {
	var rest string
	switch {
	case strings.HasPrefix(tag, "o:"):
		rest = tag[2:]
	case strings.HasPrefix(tag, "st") && len(tag) > 3 && tag[2] >= '0' && tag[2] <= '9' && tag[3] == ':':
		rest = tag[4:]
	default:
		return false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !isWordByte(rest[i]) && rest[i] != '-' {
			return false
		}
	}
	return true
}

var fontFaceOK = regexp.MustCompile(`(?i)^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$`)

// textStyle is the style in effect for text.
type textStyle struct {
	tag                 string
	fg, bg              string // "#rrggbb", "invalid" or "transparent"
	size                int
	display, visibility string
}

type attr struct{ key, val string }

// htmlRenderer renders one HTML part to text and collects its facts,
// behaving like SpamAssassin's renderer (HTML::Parser based) on the
// constructs that matter to its rules.
type htmlRenderer struct {
	p      *parser
	st     HTMLStats
	styles []textStyle
	open   map[string]int // styles on the stack per tag
	// Open counts of the tags whose text is special (Inside's values).
	inA, inTitle, inScript, inStyle int
	basefont                        int
	out                             []byte // rendered text
	last                            int    // start of the last chunk in out
	lastWS                          bool   // the last chunk is inserted whitespace
	lastInv                         bool   // the last chunk is invisible text
	chunks                          int
	base                            string // <base href>, for relative URIs
	uris                            []string
	uriSeen                         map[string]bool
	backhair                        uint64 // bit (l1-1)*8+(l2-1) per kind of split word
	// Text of the last anchor and title, kept here (appending to the
	// strings would be quadratic) and stored at the next one or the end.
	anchorText, titleText []byte
}

// flushAnchor stores the text collected for the last anchor.
func (r *htmlRenderer) flushAnchor() {
	if n := len(r.st.Anchors); n > 0 && len(r.anchorText) > 0 {
		r.st.Anchors[n-1].Text = string(r.anchorText)
	}
	r.anchorText = r.anchorText[:0]
}

// flushTitle stores the text collected for the last title.
func (r *htmlRenderer) flushTitle() {
	if n := len(r.st.Titles); n > 0 && len(r.titleText) > 0 {
		r.st.Titles[n-1] = string(r.titleText)
	}
	r.titleText = r.titleText[:0]
}

// htmlResult is a rendered HTML part.
type htmlResult struct {
	text  string
	stats HTMLStats
	uris  []string
}

// renderHTML renders src (UTF-8) and collects its facts; srcBytes is the
// part's size before charset conversion.
func renderHTML(p *parser, src string, srcBytes int) htmlResult {
	r := &htmlRenderer{p: p, basefont: 3}
	r.st.Inside = map[string]int{}
	r.st.MinFontSize, r.st.MaxFontSize = 3, 3
	r.st.Length = utf8.RuneCountInString(src)
	r.st.SourceBytes = srcBytes
	r.open = map[string]int{}
	r.pushStyle(textStyle{tag: "default", fg: "#000000", bg: "#ffffff", size: 3})
	r.out = make([]byte, 0, len(src)/2)

	if strings.Contains(src, "&nbsp;") {
		src = strings.ReplaceAll(src, "&nbsp;", " ")
	}
	if strings.Contains(src, "\u201c") || strings.Contains(src, "\u201d") {
		src = strings.NewReplacer("\u201c", `"`, "\u201d", `"`).Replace(src)
	}
	z := html.NewTokenizer(strings.NewReader(src))
	var attrs []attr
	literal := false // the next text is the content of script, style …
	for n := 1; ; n++ {
		if n%512 == 0 && p != nil && p.check() != nil {
			break
		}
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		switch tt {
		case html.TextToken:
			if literal {
				r.text(z.Raw())
			} else {
				r.text(unescapeText(z.Raw()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag, class := lookupTag(name)
			attrs = attrs[:0]
			if hasAttr && class&hasAttrs != 0 {
				for more := true; more; {
					var k, v []byte
					k, v, more = z.TagAttr()
					if key, ok := attrNames[string(k)]; ok && !hasAttrKey(attrs, key) {
						val := string(v)
						if val == "" && !attrHasValue(z.Raw(), key) {
							// HTML::Parser gives a bare attribute
							// its name as value.
							val = key
						}
						attrs = append(attrs, attr{key, val})
					}
				}
			}
			literal = false
			switch tag {
			case "noscript", "noembed", "noframes":
				// HTML::Parser reads their content as markup.
				z.NextIsNotRawText()
			case "script", "style", "xmp", "iframe", "plaintext":
				literal = tt == html.StartTagToken
			}
			r.tag(tag, class, attrs, 1)
		case html.EndTagToken:
			literal = false
			name, _ := z.TagName()
			tag, class := lookupTag(name)
			r.tag(tag, class, nil, -1)
		case html.CommentToken:
			r.st.Comments = append(r.st.Comments, string(z.Raw()))
		case html.DoctypeToken:
			r.st.Elements++
			r.st.Tags++
			r.st.Inside["!doctype"] = 0
		}
	}
	r.flushAnchor()
	r.flushTitle()
	// An unclosed <style> or <script> is closed at the end.
	for r.st.Inside["style"] > 0 {
		r.tag("style", tagTable["style"].class, nil, -1)
	}
	for r.st.Inside["script"] > 0 {
		r.tag("script", tagTable["script"].class, nil, -1)
	}

	text := string(r.out)
	r.st.TextLength = utf8.RuneCountInString(text)
	spaces := 0
	for _, c := range text {
		if unicode.IsSpace(c) {
			spaces++
		}
	}
	r.st.NonSpaceLength = r.st.TextLength - spaces
	for b := r.backhair; b != 0; b &= b - 1 {
		r.st.Backhair++
	}
	return htmlResult{text: text, stats: r.st, uris: r.uris}
}

// attrNames are the attributes read (so a tag holds at most this many,
// however many it has).
var attrNames = func() map[string]string {
	m := map[string]string{}
	for _, k := range strings.Fields("href src action background style color text size face bgcolor width height http-equiv content data-saferedirecturl") {
		m[k] = k
	}
	return m
}()

// attrHasValue reports whether the raw tag gives attribute key a value
// ("key=…"), as opposed to naming it bare.
func attrHasValue(raw []byte, key string) bool {
	for i := 0; i+len(key) <= len(raw); {
		j := indexFold(string(raw[i:]), key)
		if j < 0 {
			return false
		}
		k := i + j + len(key)
		for k < len(raw) && isSpace(raw[k]) {
			k++
		}
		if k < len(raw) && raw[k] == '=' {
			return true
		}
		i += j + 1
	}
	return false
}

func hasAttrKey(attrs []attr, k string) bool {
	for _, a := range attrs {
		if a.key == k {
			return true
		}
	}
	return false
}

func attrVal(attrs []attr, key string) (string, bool) {
	for _, a := range attrs {
		if a.key == key {
			return a.val, true
		}
	}
	return "", false
}

// tag handles a start (num 1) or end (num -1) tag.
func (r *htmlRenderer) tag(tag string, class tagClass, attrs []attr, num int) {
	ns := class == 0 && isNamespaceTag(tag)
	known := class&isElement != 0
	v, seen := r.st.Inside[tag]
	if known || ns {
		r.st.Elements++
		if !seen {
			r.st.ElementsSeen++
		}
	}
	r.st.Tags++
	if !seen {
		r.st.TagsSeen++
	}
	v += num
	if v < 0 {
		v = 0
		r.st.ClosedExtra++
	}
	r.st.Inside[tag] = v
	switch tag {
	case "a":
		r.inA = v
	case "title":
		r.inTitle = v
	case "script":
		r.inScript = v
	case "style":
		r.inStyle = v
	}
	if ns || class&(isElement|isTrick) == 0 {
		return
	}
	if class&isStyle != 0 {
		r.textStyle(tag, attrs, num)
	}
	if ws := whitespaceFor(tag); ws != "" {
		r.displayWhitespace(ws)
	}
	if num == 1 {
		if class&isURI != 0 {
			r.tagURIs(tag, attrs)
		}
		r.tests(tag, attrs)
	}
}

// textStyle opens or closes a style element.
func (r *htmlRenderer) textStyle(tag string, attrs []attr, num int) {
	if tag == "th" {
		tag = "td"
	}
	if num < 0 {
		if tag != "body" {
			r.closeTag(tag)
		}
		return
	}
	if tag == "basefont" {
		if s, ok := attrVal(attrs, "size"); ok {
			if n, ok := leadingInt(s, false); ok {
				r.basefont = n
				return
			}
		}
	}
	if tag == "td" || tag == "tr" {
		r.closeTableTag(tag)
	}
	st := r.styles[len(r.styles)-1]
	st.tag = tag
	switch tag {
	case "big":
		st.size++
		r.pushStyle(st)
		return
	case "small":
		st.size--
		r.pushStyle(st)
		return
	}
	ok := styleAttrs[tag]
	for _, a := range attrs {
		if !ok[a.key] {
			continue
		}
		switch a.key {
		case "text", "color":
			st.fg = nameToRGB(a.val)
		case "size":
			if n, rel := leadingInt(a.val, true); rel {
				st.size = r.basefont + n
			} else if n, ok := leadingInt(a.val, false); ok {
				st.size = n
			}
		case "style":
			r.parseStyle(&st, a.val)
		case "bgcolor":
			// SpamAssassin reads the attribute but never applies it.
		}
		if st.size > r.st.MaxFontSize {
			r.st.MaxFontSize = st.size
		} else if st.size < r.st.MinFontSize {
			r.st.MinFontSize = st.size
		}
	}
	r.pushStyle(st)
}

// leadingInt parses the integer at the start of s (after blanks): signed
// ("+2", "-1") if signed, else unsigned digits.
func leadingInt(s string, signed bool) (int, bool) {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	i := 0
	if signed {
		if len(s) == 0 || (s[0] != '+' && s[0] != '-') {
			return 0, false
		}
		i = 1
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0, false
	}
	n, err := strconv.Atoi(s[:min(j, i+9)])
	if err != nil {
		return 0, false
	}
	return n, true
}

// parseStyle applies the colour, background and display declarations of
// a style attribute.
func (r *htmlRenderer) parseStyle(st *textStyle, style string) {
	parent := r.styles[len(r.styles)-1]
	for _, decl := range strings.Split(style, ";") {
		d := strings.TrimLeft(decl, " \t\n\r\f\v")
		ld := strings.ToLower(d)
		switch {
		case strings.HasPrefix(ld, "color:") || strings.HasPrefix(ld, "background-color:"):
			bg := strings.HasPrefix(ld, "background-")
			val := strings.TrimSpace(ld[strings.IndexByte(ld, ':')+1:])
			if val == "" {
				continue
			}
			val = strings.TrimSpace(trimImportant(val))
			var c string
			switch {
			case strings.Contains(val, "rgb"):
				c = rgbFunc(val)
			case val == "inherit":
				continue
			case val == "transparent":
				c = val
			default:
				c = nameToRGB(val)
			}
			if bg {
				st.bg = c
			} else {
				st.fg = c
			}
		case strings.HasPrefix(d, "background:"):
			val := strings.TrimSpace(d[len("background:"):])
			if val == "" {
				continue
			}
			layers := cssBackgroundLayers(strings.ToLower(val))
			if len(layers) > 0 {
				for _, tok := range layers[len(layers)-1] {
					if c := nameToRGB(tok); c != "invalid" {
						st.bg = c
						break
					}
				}
			}
		default:
			name, val, ok := strings.Cut(d, ":")
			name = strings.TrimRight(name, " \t\n\r\f\v")
			val = strings.TrimSpace(val)
			if !ok || val == "" || !isCSSName(name) {
				continue
			}
			switch name {
			case "display":
				st.display = val
			case "visibility":
				st.visibility = val
			}
		}
	}
	if st.bg == "transparent" {
		st.bg = parent.bg
	}
	if st.fg == "transparent" {
		st.fg = st.bg
	}
}

func isCSSName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z') && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}

// trimImportant drops a trailing "!important".
func trimImportant(v string) string {
	t := strings.TrimRight(v, " \t")
	if !strings.HasSuffix(t, "important") {
		return v
	}
	t = strings.TrimRight(t[:len(t)-len("important")], " \t")
	if !strings.HasSuffix(t, "!") {
		return v
	}
	return strings.TrimRight(t[:len(t)-1], " \t")
}

// rgbFunc reads an rgb() colour from its digits and commas alone.
func rgbFunc(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' || v[i] == ',' {
			b.WriteByte(v[i])
		}
	}
	parts := strings.Split(b.String(), ",")
	var rgb [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		n, _ := strconv.Atoi(parts[i])
		rgb[i] = min(max(n, 0), 255)
	}
	return fmt.Sprintf("#%02x%02x%02x", rgb[0], rgb[1], rgb[2])
}

// cssBackgroundLayers splits a CSS background value into layers of
// tokens, keeping parentheses and quotes together.
func cssBackgroundLayers(v string) [][]string {
	var (
		layers [][]string
		tokens []string
		tok    []byte
		stack  []byte
	)
	for i := 0; i < len(v); i++ {
		c := v[i]
		top := byte(0)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch top {
		case 0:
			switch c {
			case ' ':
				if len(tok) > 0 {
					tokens = append(tokens, string(tok))
				}
				tok = tok[:0]
			case ',':
				if len(tok) > 0 {
					tokens = append(tokens, string(tok))
				}
				tok = tok[:0]
				layers = append(layers, tokens)
				tokens = nil
			case '(', '"', '\'':
				tok = append(tok, c)
				stack = append(stack, c)
			default:
				tok = append(tok, c)
			}
		case '(':
			tok = append(tok, c)
			switch c {
			case ')':
				tokens = append(tokens, string(tok))
				tok = tok[:0]
				stack = stack[:len(stack)-1]
			case '"', '\'':
				stack = append(stack, c)
			}
		default: // in quotes
			tok = append(tok, c)
			if c == top {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(tok) > 0 {
		tokens = append(tokens, string(tok))
	}
	if len(tokens) > 0 {
		layers = append(layers, tokens)
	}
	return layers
}

// nameToRGB turns an HTML colour into "#rrggbb", or "invalid": colour
// names, #hex in any length (cut or padded to 3 or 6 digits, 3 doubled),
// rgb() with numbers or percentages.
func nameToRGB(color string) string {
	c := strings.ToLower(strings.TrimSpace(color))
	if v, ok := cssColors[c]; ok {
		return fmt.Sprintf("#%06x", v)
	}
	if c == "" {
		return "#"
	}
	hexOnly := true
	for i := 0; i < len(c); i++ {
		if !(c[i] == '#' || c[i] >= '0' && c[i] <= '9' || c[i] >= 'a' && c[i] <= 'f') {
			hexOnly = false
			break
		}
	}
	if !hexOnly {
		i := strings.Index(c, "rgb(")
		if i < 0 {
			return "invalid"
		}
		args, _, ok := strings.Cut(c[i+4:], ")")
		if !ok || strings.Trim(args, "0123456789%, ") != "" {
			return "invalid"
		}
		if conv, ok := rgbArgs(args); ok {
			c = conv
		}
	}
	if !strings.HasPrefix(c, "#") {
		return "invalid"
	}
	h := make([]byte, 0, 6)
	for i := 0; i < len(c); i++ {
		if isHex(c[i]) {
			h = append(h, c[i])
		}
	}
	if len(h) > 6 {
		h = h[:6]
	}
	if len(h) > 3 && len(h) < 6 {
		h = h[:3]
	}
	for len(h)%3 != 0 {
		h = append(h, '0')
	}
	if len(h) == 3 {
		h = []byte{h[0], h[0], h[1], h[1], h[2], h[2]}
	}
	return "#" + string(h)
}

// rgbArgs converts "r, g, b" or "r%, g%, b%" to "#rrggbb" the way
// SpamAssassin does (no clamping: 256 becomes three digits).
func rgbArgs(args string) (string, bool) {
	parts := strings.Split(args, ",")
	if len(parts) != 3 {
		return "", false
	}
	pct := strings.HasSuffix(strings.TrimSpace(parts[0]), "%")
	var b strings.Builder
	b.WriteByte('#')
	for _, s := range parts {
		s = strings.TrimSpace(s)
		if strings.HasSuffix(s, "%") != pct {
			return "", false
		}
		s = strings.TrimSuffix(s, "%")
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return "", false
		}
		if pct {
			n = n * 255 / 100
		}
		fmt.Fprintf(&b, "%02x", n)
	}
	return b.String(), true
}

// closeTableTag closes cells and rows left open before a new td or tr.
func (r *htmlRenderer) closeTableTag(tag string) {
	if !r.hasStyle(tag) {
		return
	}
	for len(r.styles) > 1 {
		top := r.styles[len(r.styles)-1].tag
		if (tag == "td" && (top == "font" || top == "td")) || (tag == "tr" && (top == "font" || top == "td" || top == "tr")) {
			r.popStyle()
			continue
		}
		break
	}
}

// closeTag pops styles up to and including the innermost one of tag.
func (r *htmlRenderer) closeTag(tag string) {
	if !r.hasStyle(tag) {
		return
	}
	for len(r.styles) > 1 {
		if r.popStyle().tag == tag {
			return
		}
	}
}

func (r *htmlRenderer) hasStyle(tag string) bool {
	return r.open[tag] > 0
}

// pushStyle opens a style.
func (r *htmlRenderer) pushStyle(st textStyle) {
	r.styles = append(r.styles, st)
	r.open[st.tag]++
}

// popStyle closes the innermost style.
func (r *htmlRenderer) popStyle() textStyle {
	st := r.styles[len(r.styles)-1]
	r.styles = r.styles[:len(r.styles)-1]
	r.open[st.tag]--
	return st
}

// tagURIs collects the URIs of a start tag.
func (r *htmlRenderer) tagURIs(tag string, attrs []attr) {
	switch tag {
	case "body", "table", "tr", "td":
		if v, ok := attrVal(attrs, "background"); ok {
			r.pushURI(v)
		}
	case "a", "area", "link":
		if v, ok := attrVal(attrs, "href"); ok {
			r.pushURI(strings.ReplaceAll(v, "\uFEFF", ""))
		}
		if v, ok := attrVal(attrs, "data-saferedirecturl"); ok {
			r.pushURI(v)
		}
	case "img", "frame", "iframe", "embed", "script", "bgsound":
		if v, ok := attrVal(attrs, "src"); ok {
			if tag == "iframe" && r.canonURI(v) != "" {
				r.st.IFrameSrc = true
			}
			r.pushURI(v)
		}
	case "form":
		if v, ok := attrVal(attrs, "action"); ok {
			r.pushURI(v)
		}
	case "base":
		v, _ := attrVal(attrs, "href")
		if v == "" {
			return
		}
		u := r.canonURI(v)
		r.pushURI(u)
		lu := strings.ToLower(u)
		if strings.HasPrefix(lu, "http:") || strings.HasPrefix(lu, "https:") || strings.HasPrefix(lu, "ftp:") {
			u = baseDir(u)
			if !strings.HasSuffix(u, "/") {
				u += "/"
			}
			r.base = u
		}
	case "meta":
		equiv, ok1 := attrVal(attrs, "http-equiv")
		content, ok2 := attrVal(attrs, "content")
		if !ok1 || !ok2 || !strings.Contains(strings.ToLower(equiv), "refresh") {
			return
		}
		lc := strings.ToLower(content)
		i := strings.LastIndex(lc, "url")
		for i >= 0 {
			j := i + 3
			for j < len(lc) && isSpace(lc[j]) {
				j++
			}
			if j < len(lc) && lc[j] == '=' && (i == 0 || !isWordByte(lc[i-1])) {
				u := strings.TrimLeft(content[j+1:], " \t\n\r\f\v")
				if k := strings.IndexByte(u, ';'); k >= 0 {
					u = u[:k]
				}
				r.pushURI(strings.TrimRight(u, " \t\n\r\f\v"))
				return
			}
			i = strings.LastIndex(lc[:i], "url")
		}
	}
}

// baseDir drops a trailing file name ("x.html") from a base URI.
func baseDir(u string) string {
	i := strings.Index(u, ":")
	rest := strings.TrimLeft(u[i+1:], "/")
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return u
	}
	last := strings.LastIndexByte(u, '/')
	file := u[last+1:]
	dot := strings.LastIndexByte(file, '.')
	if dot <= 0 || len(file)-dot-1 < 2 || len(file)-dot-1 > 4 || strings.ContainsAny(file[dot+1:], "/.") {
		return u
	}
	return u[:last+1]
}

// canonURI trims a URI and cuts it at maxURILength.
func (r *htmlRenderer) canonURI(u string) string {
	u = strings.TrimFunc(u, func(c rune) bool { return unicode.IsSpace(c) || c == '\u00a0' })
	if len(u) > maxURILength {
		r.st.URITruncated = true
		u = u[:maxURILength]
	}
	return u
}

// pushURI records a URI, resolved against <base>.
func (r *htmlRenderer) pushURI(u string) {
	u = r.canonURI(u)
	if u == "" {
		return
	}
	if r.base != "" && !hasScheme(u) {
		u = resolveRef(r.base, u)
	}
	r.addURI(u)
}

// addURI records u once.
func (r *htmlRenderer) addURI(u string) {
	if r.uriSeen == nil {
		r.uriSeen = map[string]bool{}
	}
	if !r.uriSeen[u] {
		r.uriSeen[u] = true
		r.uris = append(r.uris, u)
	}
}

// tests collects the facts of a start tag that SpamAssassin's tests use.
func (r *htmlRenderer) tests(tag string, attrs []attr) {
	switch tag {
	case "font":
		if face, ok := attrVal(attrs, "face"); ok && !fontFaceOK.MatchString(face) {
			r.st.FontFaceBad = true
		}
	case "img":
		if r.inA > 0 && len(r.st.Anchors) > 0 {
			r.anchorText = append(r.anchorText, "<img>\n"...)
		}
		w, okw := attrVal(attrs, "width")
		h, okh := attrVal(attrs, "height")
		if okw && okh {
			width, height := imageDim(w, 8), imageDim(h, 6)
			r.st.ImageArea += width * height
		}
	case "form":
		if a, ok := attrVal(attrs, "action"); ok && strings.Contains(strings.ToLower(a), "mailto:") {
			r.st.FormActionMailto = true
		}
	case "object", "embed":
		r.st.Embeds = true
	case "a":
		r.flushAnchor()
		href, _ := attrVal(attrs, "href")
		href = r.canonURI(href)
		r.st.Anchors = append(r.st.Anchors, Anchor{Href: href})
		// SpamAssassin lists every anchor's href as written (also an
		// empty one).
		r.addURI(href)
	case "title":
		r.flushTitle()
		r.st.Titles = append(r.st.Titles, "")
	case "meta":
		equiv, ok1 := attrVal(attrs, "http-equiv")
		content, ok2 := attrVal(attrs, "content")
		if ok1 && ok2 && strings.Contains(strings.ToLower(equiv), "content-type") {
			if cs := simpleParam(content, "charset"); cs != "" {
				r.st.Charsets = append(r.st.Charsets, cs)
			}
		}
	}
}

// imageDim reads an image width or height: pixels, or a percentage of
// pct×100 pixels; 200 when missing or zero.
func imageDim(v string, pct int) int {
	n := 0
	digits := strings.TrimSuffix(v, "%")
	if digits != "" && strings.Trim(digits, "0123456789") == "" && len(digits) <= 9 {
		n, _ = strconv.Atoi(digits)
		if len(digits) < len(v) {
			n *= pct
		}
	}
	if n <= 0 {
		n = 200
	}
	return n
}

// text handles a text token.
func (r *htmlRenderer) text(t []byte) {
	if r.inScript > 0 {
		r.st.Scripts = append(r.st.Scripts, string(t))
		return
	}
	if r.inStyle > 0 {
		return
	}
	if r.inA > 0 && len(r.st.Anchors) > 0 {
		r.anchorText = append(r.anchorText, t...)
	}
	if r.inTitle > 0 && len(r.st.Titles) > 0 {
		r.titleText = append(r.titleText, t...)
	}
	invisible := false
	if hasNonBlank(t) {
		invisible = r.fontInvisible()
	}
	if r.chunks > 0 {
		prev := r.out[r.last:]
		first, _ := utf8.DecodeRune(t)
		lastR, _ := utf8.DecodeLastRune(prev)
		if len(t) > 0 && len(prev) > 0 && wordish(first) && wordish(lastR) {
			r.st.Obfuscation++
		}
		if l1 := trailingWord(prev); l1 > 0 {
			if l2 := leadingWord(t); l2 > 0 {
				r.backhair |= 1 << uint((l1-1)*8+(l2-1))
			}
		}
	}
	r.displayBytes(t, invisible)
}

// hasNonBlank reports text other than ASCII whitespace.
func hasNonBlank(t []byte) bool {
	for _, c := range t {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' {
			return true
		}
	}
	return false
}

// wordish reports a character that is neither whitespace nor ASCII
// punctuation.
func wordish(c rune) bool {
	if c < 0x80 {
		return c > ' ' && !(c >= 0x21 && c <= 0x2f || c >= 0x3a && c <= 0x40 || c >= 0x5b && c <= 0x60 || c >= 0x7b && c <= 0x7e) && c != 0x7f
	}
	return c != utf8.RuneError && !unicode.IsSpace(c)
}

func isWordRune(c rune) bool {
	return c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.Is(unicode.Mn, c)
}

// trailingWord is the length (1–7) of the word that ends b, or 0.
func trailingWord(b []byte) int {
	n := 0
	var first rune
	for len(b) > 0 {
		c, size := utf8.DecodeLastRune(b)
		if !wordish(c) {
			break
		}
		first = c
		n++
		if n > 7 {
			return 0
		}
		b = b[:len(b)-size]
	}
	if n == 0 || !isWordRune(first) {
		return 0
	}
	return n
}

// leadingWord is the length (1–7) of the word that starts b, or 0.
func leadingWord(b []byte) int {
	n := 0
	var last rune
	for len(b) > 0 {
		c, size := utf8.DecodeRune(b)
		if !wordish(c) {
			break
		}
		last = c
		n++
		if n > 7 {
			return 0
		}
		b = b[size:]
	}
	if n == 0 || !isWordRune(last) {
		return 0
	}
	return n
}

// fontInvisible reports whether text in the current style is hidden,
// noting low-contrast and invalid colours.
func (r *htmlRenderer) fontInvisible() bool {
	st := r.styles[len(r.styles)-1]
	if last6(st.fg) == last6(st.bg) {
		r.st.FontLowContrast = true
		return true
	}
	if fr, fg, fb, ok := parseHexColor(st.fg); ok {
		if br, bg, bb, ok := parseHexColor(st.bg); ok {
			dr, dg, db := 0.2126*float64(fr-br), 0.7152*float64(fg-bg), 0.0722*float64(fb-bb)
			if dr*dr+dg*dg+db*db < 12*12 {
				r.st.FontLowContrast = true
				return true
			}
		}
	}
	if st.fg == "invalid" || st.bg == "invalid" {
		r.st.FontInvalidColor = true
		return true
	}
	if st.size <= 1 {
		return true
	}
	if strings.EqualFold(st.display, "none") || strings.EqualFold(st.visibility, "hidden") {
		return true
	}
	return false
}

func last6(s string) string {
	if len(s) > 6 {
		return s[len(s)-6:]
	}
	return s
}

// parseHexColor reads "#rrggbb" or "rrggbb".
func parseHexColor(s string) (r, g, b int, ok bool) {
	s = strings.TrimPrefix(s, "#")
	if len(s) != 6 {
		return 0, 0, 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, 0, 0, false
	}
	return int(v >> 16), int(v >> 8 & 0xff), int(v & 0xff), true
}

// displayWhitespace adds whitespace a tag inserts: the previous visible
// text loses a trailing space.
func (r *htmlRenderer) displayWhitespace(ws string) {
	if r.chunks > 0 && !r.lastWS && !r.lastInv && len(r.out) > r.last && r.out[len(r.out)-1] == ' ' {
		r.out = r.out[:len(r.out)-1]
	}
	r.last = len(r.out)
	r.out = append(r.out, ws...)
	r.lastWS, r.lastInv = true, false
	r.chunks++
}

// displayBytes adds text with each run of ASCII whitespace made one space,
// dropping a leading space after inserted whitespace. (SpamAssassin means
// to treat NBSP as a space here too, but its pattern is written for UTF-8
// octets and does not match the character; "&nbsp;" is made a space
// before parsing.)
func (r *htmlRenderer) displayBytes(t []byte, invisible bool) {
	start := len(r.out)
	trimLead := r.chunks > 0 && !invisible && r.lastWS
	inSpace := false
	for i := 0; i < len(t); {
		c := t[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			if !inSpace {
				r.out = append(r.out, ' ')
				inSpace = true
			}
			i++
			continue
		}
		inSpace = false
		r.out = append(r.out, c)
		i++
	}
	if trimLead && len(r.out) > start && r.out[start] == ' ' {
		r.out = append(r.out[:start], r.out[start+1:]...)
	}
	r.last = start
	r.lastWS, r.lastInv = false, invisible
	r.chunks++
}

// unescapeText decodes the character references in text the way
// HTML::Parser does: numeric references are the code point they name
// (&#149; is U+0095, not the Windows-1252 bullet HTML5 maps it to; &#0;
// and references past U+10FFFF stay as written; surrogates become
// U+FFFD), named ones as in HTML (the old Latin-1 names also without
// ";").
func unescapeText(b []byte) []byte {
	if bytes.IndexByte(b, '&') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '&')
		if j < 0 {
			out = append(out, b[i:]...)
			break
		}
		out = append(out, b[i:i+j]...)
		i += j
		if i+1 < len(b) && b[i+1] == '#' {
			k, hex := i+2, false
			if k < len(b) && b[k]|0x20 == 'x' {
				hex = true
				k++
			}
			start := k
			cp := 0
			for k < len(b) && (hex && isHex(b[k]) || !hex && b[k] >= '0' && b[k] <= '9') {
				if cp <= 0x10FFFF {
					if hex {
						cp = cp*16 + int(unhex(b[k]))
					} else {
						cp = cp*10 + int(b[k]-'0')
					}
				}
				k++
			}
			if k == start {
				out = append(out, '&')
				i++
				continue
			}
			if k < len(b) && b[k] == ';' {
				k++
			}
			switch {
			case cp == 0 || cp > 0x10FFFF:
				out = append(out, b[i:k]...)
			case cp >= 0xD800 && cp <= 0xDFFF:
				out = append(out, "\uFFFD"...)
			default:
				out = utf8.AppendRune(out, rune(cp))
			}
			i = k
			continue
		}
		k := i + 1
		for k < len(b) && isAlnum(b[k]) {
			k++
		}
		if k < len(b) && b[k] == ';' {
			k++
		}
		out = append(out, html.UnescapeString(string(b[i:k]))...)
		i = k
	}
	return out
}
