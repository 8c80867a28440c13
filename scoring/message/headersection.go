package message

import (
	"bytes"
	"io"
)

// SpamAssassin's own bounds on header fields; exceeding them is the
// "truncated_header" anomaly (HEAD_LONG), not one of our limits.
const (
	saMaxHeaderKey   = 256
	saMaxHeaderValue = 8192
)

// headerMode selects SpamAssassin's rules for reading a header section.
type headerMode int

const (
	headerTop             headerMode = iota // a message header (also of attached messages)
	headerPart                              // a MIME part header after a delimiter
	headerPartUndelimited                   // the same where the delimiter is missing
)

// rawField is a header field as read: its name and its value after the
// colon, folded lines included, without the final line break.
type rawField struct {
	name  string
	value []byte
}

// readHeader reads a header section from s following SpamAssassin: a
// message header ends at a blank line, at a line starting with "--", or at
// the fourth line that is not a field; a part header ends at a blank line,
// a boundary, or the first line that is not a field. A line that ends the
// header without being blank is given back to s as the first body line.
// isTop marks the message's own header, whose mbox "From " line is
// dropped from RawHeader.
func (p *parser) readHeader(s *lineSrc, mode headerMode, isTop bool) ([]rawField, error) {
	var (
		fields  []rawField
		cur     []byte // the field being read: "Name: value\n folded\n"
		curLong bool
		invalid int
		first   = true
	)
	finish := func() {
		if cur == nil {
			return
		}
		if f, ok := p.splitField(cur, curLong); ok {
			if len(fields) >= p.lim.MaxHeaders {
				p.hit(LimitHeaders)
			} else {
				fields = append(fields, f)
			}
		}
		cur, curLong = nil, false
	}
	for {
		line, long, cont, err := p.headerLine(s)
		if err != nil {
			finish()
			if err == io.EOF && mode == headerTop && !first {
				p.anomaly("missing_head_body_separator")
			}
			return fields, err
		}
		if long {
			p.hit(LimitHeaderLen)
		}
		if first {
			first = false
			if mode == headerTop && isMboxFrom(line) {
				if isTop {
					p.rawHeader = p.rawHeader[:0]
				}
				continue
			}
			if mode == headerPart && !isFieldStart(line, false) && !isFoldLine(line) {
				p.anomaly("missing_mime_headers")
			}
			if mode == headerPartUndelimited {
				mode = headerPart
			}
		}
		if isFoldLine(line) {
			if cur != nil {
				cur, curLong = p.appendField(cur, line, curLong)
				continue
			}
			if mode != headerTop {
				// Indented text where a part header should start is
				// already the body.
				p.anomaly("missing_mime_head_body_separator")
				s.unread(line, cont)
				return fields, nil
			}
			continue
		}
		finish()
		if len(line) == 1 && line[0] == '\n' {
			return fields, nil
		}
		switch mode {
		case headerTop:
			if line[0] == '-' && len(line) > 1 && line[1] == '-' {
				p.anomaly("missing_head_body_separator")
				s.unread(line, cont)
				return fields, nil
			}
			if !isFieldStart(line, true) {
				invalid++
				if invalid > 3 {
					p.anomaly("missing_head_body_separator")
					s.unread(line, cont)
					return fields, nil
				}
			}
		case headerPart:
			if lvl, _ := s.boundary(line, cont); lvl >= 0 {
				s.unread(line, cont)
				return fields, nil
			}
			if !isFieldStart(line, true) {
				if !isBlank(line) {
					p.anomaly("missing_mime_head_body_separator")
					s.unread(line, cont)
				}
				return fields, nil
			}
		}
		cur, curLong = p.appendField(nil, line, long)
	}
}

// headerLine returns the next whole line of a header, joining fragments
// of a long line and keeping at most Limits.MaxHeaderLen bytes of it (long
// reports the cut). cont is the cont flag of its first slice.
func (p *parser) headerLine(s *lineSrc) (line []byte, long, cont bool, err error) {
	line, cont, err = s.next()
	if err != nil || !s.mid {
		return line, false, cont, err
	}
	buf := append([]byte(nil), line...)
	for s.mid {
		frag, _, err := s.next()
		if err != nil {
			break
		}
		if room := p.lim.MaxHeaderLen - len(buf); room > 0 {
			buf = append(buf, frag[:min(room, len(frag))]...)
			if room < len(frag) {
				long = true
			}
		} else {
			long = true
		}
	}
	if long && (len(buf) == 0 || buf[len(buf)-1] != '\n') {
		buf = append(buf, '\n')
	}
	return buf, long, cont, nil
}

// appendField adds line to the field being read, within MaxHeaderLen.
func (p *parser) appendField(cur, line []byte, long bool) ([]byte, bool) {
	room := p.lim.MaxHeaderLen - len(cur)
	if room >= len(line) {
		return append(cur, line...), long
	}
	if room > 0 {
		cur = append(cur, line[:room]...)
	}
	p.hit(LimitHeaderLen)
	return cur, true
}

// splitField splits a field's text at its first colon, as SpamAssassin
// does; text without a colon is no field.
func (p *parser) splitField(text []byte, long bool) (rawField, bool) {
	i := bytes.IndexByte(text, ':')
	if i < 0 {
		return rawField{}, false
	}
	name := bytes.TrimRight(text[:i], " \t")
	value := text[i+1:]
	if n := len(value); n > 0 && value[n-1] == '\n' {
		value = value[:n-1]
	}
	if len(name) > saMaxHeaderKey || len(value) > saMaxHeaderValue || long {
		p.anomaly("truncated_header")
	}
	return rawField{name: string(name), value: value}, true
}

// isFoldLine reports a continuation line of a folded field.
func isFoldLine(line []byte) bool {
	return len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
}

// isFieldStart reports whether line starts a header field: printable
// US-ASCII other than colon, then (if blanks) optional blanks, then ':'.
func isFieldStart(line []byte, blanks bool) bool {
	i := 0
	for i < len(line) && line[i] >= 0x21 && line[i] <= 0x7e && line[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	if blanks {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
	}
	return i < len(line) && line[i] == ':'
}

// isMboxFrom reports an mbox separator line ("From " then blanks, not a
// colon).
func isMboxFrom(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From")) || len(line) < 5 || (line[4] != ' ' && line[4] != '\t') {
		return false
	}
	rest := bytes.TrimLeft(line[4:], " \t")
	return len(rest) > 0 && rest[0] != ':'
}

// decodeFields turns raw fields into Headers.
func (p *parser) decodeFields(fields []rawField) []Header {
	if len(fields) == 0 {
		return nil
	}
	hs := make([]Header, len(fields))
	for i, f := range fields {
		hs[i] = Header{Name: f.name, Raw: unfoldRaw(f.value), Value: decodeHeaderValue(f.name, f.value)}
	}
	return hs
}
