package message

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SpamAssassin's defaults for how much of each part its body and rawbody
// rules read (body_part_scan_size, rawbody_part_scan_size), and the length
// it splits body lines at.
const (
	BodyPartScanSize    = 50000
	RawBodyPartScanSize = 500000
	maxBodyLineLength   = 2048
)

// BodyLines returns the body as SpamAssassin's body rules see it: the
// Subject (or an empty line), then the Text of the parts (each cut near
// BodyPartScanSize bytes) with paragraphs — text separated by a blank
// line — as lines, whitespace runs within them made one space, and lines
// longer than 2048 bytes split at a space.
func (m *Message) BodyLines() []string {
	var b strings.Builder
	unicodeWS := false
	for i := range m.Parts {
		part := &m.Parts[i]
		if part.container {
			continue
		}
		unicodeWS = unicodeWS || part.eightBit
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(cutPart(part.Text, BodyPartScanSize, false))
	}
	subject := "\n"
	if hs := m.Get("Subject"); len(hs) > 0 && hs[len(hs)-1].Value != "" {
		subject = hs[len(hs)-1].Value + "\n"
	}
	text := b.String()
	return shortLines(subject + paragraphs(text, unicodeWS || wideText(text)))
}

// wideText reports text with a character above U+00FF.
//
// SpamAssassin's whitespace patterns match Unicode whitespace (NBSP,
// U+3000 …) only where Perl holds the text as characters: when a part
// with 8-bit bytes was decoded, or the text has such a character (from an
// HTML entity); otherwise they match ASCII whitespace alone.
func wideText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0xc4 && s[i] < 0xf8 {
			return true
		}
	}
	return false
}

// RawBodyLines returns the body as SpamAssassin's rawbody rules see it:
// the Content of each text/* and message/* part (not text/calendar), cut
// near RawBodyPartScanSize bytes and split into pieces of 2048–4096 bytes
// at a line break, a ">" or a space. Content is in UTF-8 where
// SpamAssassin keeps the part's bytes undecoded, so the two differ where
// a part has 8-bit text in another charset.
func (m *Message) RawBodyLines() []string {
	var lines []string
	for i := range m.Parts {
		part := &m.Parts[i]
		if part.container || part.ContentType == "text/calendar" {
			continue
		}
		t := part.ContentType
		if !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") && effectiveName(part.Filename) != "text/html" {
			continue
		}
		lines = append(lines, shortParagraphs(cutPart(part.Content, RawBodyPartScanSize, true))...)
	}
	return lines
}

// effectiveName is "text/html" for an HTML file name.
func effectiveName(name string) string {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, ".htm") || strings.HasSuffix(n, ".html") || strings.HasSuffix(n, ".shtm") || strings.HasSuffix(n, ".shtml") {
		return "text/html"
	}
	return ""
}

// cutPart cuts text longer than size just after the first line break (or,
// for raw text, ">"; then space) within 1024 bytes past size, or at size.
// Rendered text is measured in characters, raw text in bytes, as
// SpamAssassin does.
func cutPart(text string, size int, raw bool) string {
	if len(text) <= size {
		return text
	}
	if !raw {
		// Move size to the byte offset of character number size.
		n, at := 0, -1
		for i := range text {
			if n == size {
				at = i
				break
			}
			n++
		}
		if at < 0 {
			return text
		}
		size = at
	}
	seps := " "
	if raw {
		seps = "> "
	}
	for _, sep := range "\n" + seps {
		if i := strings.IndexRune(text[size:], sep); i >= 0 && i <= 1024 {
			return text[:size+i+1]
		}
	}
	return text[:runeStart(text, size)]
}

// runeStart moves i back to the start of the UTF-8 sequence it is in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// paragraphs turns every whitespace run that holds two line breaks (from
// its first to its last break) into one line break and every other
// whitespace run into one space. Whitespace is Unicode whitespace if wide,
// ASCII whitespace otherwise (see wideText).
func paragraphs(s string, wide bool) string {
	space := func(i int) (bool, int) {
		if s[i] < 0x80 || !wide {
			return isSpace(s[i]), 1
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		return unicode.IsSpace(r), size
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		// Copy a run of plain characters at once.
		j := i
		for j < len(s) && s[j] < 0x80 && !isSpace(s[j]) {
			j++
		}
		if j > i {
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		sp, size := space(i)
		if !sp {
			b = append(b, s[i:i+size]...)
			i += size
			continue
		}
		// A whitespace run from i to j; breaks at first and last.
		j, first, last := i, -1, -1
		for j < len(s) {
			sp, size := space(j)
			if !sp {
				break
			}
			if s[j] == '\n' {
				if first < 0 {
					first = j
				}
				last = j
			}
			j += size
		}
		if first >= 0 && last > first {
			if first > i {
				b = append(b, ' ')
			}
			b = append(b, '\n')
			if last+1 < j {
				b = append(b, ' ')
			}
		} else {
			b = append(b, ' ')
		}
		i = j
	}
	return string(b)
}

// shortLines splits s into lines (keeping their breaks), splitting lines
// longer than 2048 bytes after the last space within them, or at 2048.
func shortLines(s string) []string {
	var out []string
	for len(s) > 0 {
		end := strings.IndexByte(s, '\n') + 1
		if end == 0 {
			end = len(s)
		}
		line := s[:end]
		s = s[end:]
		for len(line) > maxBodyLineLength {
			n := strings.LastIndexByte(line[:maxBodyLineLength+1], ' ') + 1
			if n == 0 {
				n = runeStart(line, maxBodyLineLength)
				if n == 0 {
					n = maxBodyLineLength
				}
			}
			out = append(out, line[:n])
			line = line[n:]
		}
		out = append(out, line)
	}
	return out
}

// shortParagraphs splits s into pieces of 2048 to 4096 bytes, each ending
// at a line break, else a ">", else a space, else cut at 2048.
func shortParagraphs(s string) []string {
	if len(s) <= maxBodyLineLength {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	var out []string
	ofs := 0
	for len(s)-ofs > 2*maxBodyLineLength {
		j := -1
		window := s[ofs+maxBodyLineLength : ofs+2*maxBodyLineLength]
		for _, sep := range []byte("\n> ") {
			if k := strings.IndexByte(window, sep); k >= 0 {
				j = ofs + maxBodyLineLength + k
				break
			}
		}
		if j < 0 {
			j = runeStart(s, ofs+maxBodyLineLength) - 1
			if j < ofs {
				j = ofs + maxBodyLineLength - 1
			}
		}
		out = append(out, s[ofs:j+1])
		ofs = j + 1
	}
	if ofs < len(s) {
		out = append(out, s[ofs:])
	}
	return out
}
