package message

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ent is what the parser needs from an entity's header.
type ent struct {
	top         bool // the header of a message, not of a MIME part
	fields      []rawField
	ctype       string // SpamAssassin's reading of the media type
	ctMissing   bool
	boundary    string
	charset     string
	encoding    string
	disposition string
	filename    string
}

// newEnt reads the MIME facts from a header; inDigest marks a part of a
// multipart/digest, whose default type is message/rfc822.
func (p *parser) newEnt(fields []rawField, inDigest bool) *ent {
	e := &ent{fields: fields}
	var ct, cte, cd []byte
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.name, "Content-Type"):
			ct = f.value
		case strings.EqualFold(f.name, "Content-Transfer-Encoding"):
			cte = f.value
		case strings.EqualFold(f.name, "Content-Disposition"):
			cd = f.value
		}
	}
	ctv := unfoldValue(ct)
	e.ctype, e.ctMissing = mediaType(ctv)
	if e.ctMissing && inDigest {
		e.ctype = "message/rfc822"
	}
	e.boundary = boundaryParam(ctv)
	if strings.HasPrefix(e.ctype, "multipart/") && e.boundary == "" {
		e.ctype = "text/plain"
	}
	e.charset = strings.ToLower(strings.TrimSpace(charsetParam(ctv)))
	e.encoding = strings.ToLower(strings.TrimSpace(unfoldValue(cte)))
	cdv := unfoldValue(cd)
	if cdv != "" {
		d, _, _ := strings.Cut(cdv, ";")
		e.disposition = strings.ToLower(strings.TrimSpace(d))
	}
	e.filename = fileName(ctv, cdv)
	return e
}

// entity parses the body of entity e from s: a multipart, an attached
// message, or a leaf. path is the entity's IMAP path ("" at the top),
// leafPath the path it has as a Part, parent the enclosing multipart type.
func (p *parser) entity(s *lineSrc, e *ent, path, leafPath, parent string, depth int) error {
	if err := p.check(); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(e.ctype, "multipart/"):
		if depth >= p.lim.MaxDepth {
			p.hit(LimitDepth)
			return p.leaf(s, e, leafPath, parent)
		}
		return p.multipart(s, e, path, depth)
	case e.ctype == "message/rfc822" || e.ctype == "message/global":
		if depth >= p.lim.MaxDepth {
			p.hit(LimitDepth)
			return p.leaf(s, e, leafPath, parent)
		}
		return p.embedded(s, e, leafPath, parent, depth)
	default:
		return p.leaf(s, e, leafPath, parent)
	}
}

// childPath is the IMAP path of part n of the multipart at path.
func childPath(path string, n int) string {
	if path == "" {
		return strconv.Itoa(n)
	}
	return path + "." + strconv.Itoa(n)
}

// multipart parses a multipart body: the preamble up to the first
// delimiter, the parts, the closing delimiter and the epilogue. A body in
// which the delimiter never appears is read as one part, as SpamAssassin
// does.
func (p *parser) multipart(s *lineSrc, e *ent, path string, depth int) error {
	level := len(s.bounds)
	s.bounds = append(s.bounds, []byte(e.boundary))
	defer func() { s.bounds = s.bounds[:level] }()

	var pre []byte
	opened := false
	for !opened {
		line, cont, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if lvl, fin := s.boundary(line, cont); lvl >= 0 {
			if lvl == level && !fin {
				opened = true
				continue
			}
			if lvl < level {
				s.unread(line, cont)
				break
			}
		}
		if room := p.textLeft - len(pre); room > 0 {
			pre = append(pre, line[:min(room, len(line))]...)
		}
	}
	if !opened {
		// SpamAssassin reads the body as one part: a message's body
		// as a part without header (it inserts a blank line first), a
		// MIME part's body as a part with whatever header it starts
		// with.
		s.bounds = s.bounds[:level]
		sub := p.newSrc(bytes.NewReader(pre))
		return p.child(sub, e, path, 1, depth, !e.top, false)
	}
	for n := 1; ; n++ {
		if err := p.child(s, e, path, n, depth, true, true); err != nil {
			return err
		}
		line, cont, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		lvl, fin := s.boundary(line, cont)
		switch {
		case lvl == level && !fin:
			continue
		case lvl == level && fin:
			return p.epilogue(s)
		case lvl >= 0:
			s.unread(line, cont)
			return nil
		default:
			// Not reached: a part ends only at a delimiter or the end.
			s.unread(line, cont)
		}
	}
}

// child parses part n of multipart e: its header (if withHeader), then its
// body. delimited marks a part that follows a delimiter line, whose
// missing header SpamAssassin notes.
func (p *parser) child(s *lineSrc, e *ent, path string, n, depth int, withHeader, delimited bool) error {
	if p.parts >= p.lim.MaxParts {
		p.hit(LimitParts)
		p.anomaly("mimepart_limit_exceeded")
		return errPartsLimit
	}
	p.parts++
	var fields []rawField
	if withHeader {
		mode := headerPart
		if !delimited {
			mode = headerPartUndelimited
		}
		var err error
		fields, err = p.readHeader(s, mode, false)
		if err != nil && err != io.EOF {
			return err
		}
	}
	ce := p.newEnt(fields, e.ctype == "multipart/digest")
	cp := childPath(path, n)
	return p.entity(s, ce, cp, cp, e.ctype, depth+1)
}

// epilogue reads what follows a closing delimiter up to an enclosing
// delimiter, noting text other than blanks and dots as SpamAssassin does.
func (p *parser) epilogue(s *lineSrc) error {
	for {
		line, cont, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if lvl, _ := s.boundary(line, cont); lvl >= 0 {
			s.unread(line, cont)
			return nil
		}
		for _, c := range line {
			if c != '.' && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' {
				p.anomaly("mime_epilogue_exists")
				break
			}
		}
	}
}

// embedded parses a message/rfc822 part: it is recorded as a Part, then the
// attached message is parsed like the top-level one (its entities get
// paths under leafPath).
func (p *parser) embedded(s *lineSrc, e *ent, leafPath, parent string, depth int) error {
	idx := p.addPart(e, leafPath, parent)
	pump := &bodyPump{s: s}
	var src *lineSrc
	var dr *decodingReader
	if enc := e.encoding; enc == "base64" || enc == "quoted-printable" {
		dr = &decodingReader{pump: pump, dec: newDecoder(enc)}
		src = p.newSrc(dr)
	} else {
		// The attached message is read in place: the enclosing
		// multipart's delimiters still end it.
		src = s
	}
	// An empty attached message is not parsed (as in SpamAssassin).
	line, cont, err := src.next()
	if err != nil || (src == s && isDelimiter(s, line, cont)) {
		if err == nil {
			src.unread(line, cont)
		}
		if err != nil && err != io.EOF {
			return err
		}
		return nil
	}
	src.unread(line, cont)
	p.msg.Parts[idx].container = true
	start := s.consumed - int64(len(line))
	fields, err := p.readHeader(src, headerTop, false)
	src.squeeze = true
	if err == nil || err == io.EOF {
		inner := p.newEnt(fields, false)
		inner.top = true
		err = p.entity(src, inner, leafPath, leafPath+".1", "", depth+1)
	}
	if err == nil && dr != nil {
		err = src.drain()
	}
	if dr != nil {
		p.msg.Parts[idx].Size = dr.n
		p.msg.Parts[idx].MaxLineLen = pump.maxLine
	} else {
		end := s.consumed
		if s.pushed {
			// The delimiter that ended the message, and the line
			// break before it, are not part of it.
			end -= int64(len(s.push)) + 1
		}
		p.msg.Parts[idx].Size = max(end-start, 0)
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// isDelimiter reports whether line is a delimiter of an active multipart.
func isDelimiter(s *lineSrc, line []byte, cont bool) bool {
	lvl, _ := s.boundary(line, cont)
	return lvl >= 0
}

// addPart appends the Part for entity e and returns its index.
func (p *parser) addPart(e *ent, path, parent string) int {
	part := Part{
		Path:        path,
		ContentType: e.ctype,
		Parent:      parent,
		Charset:     e.charset,
		Encoding:    e.encoding,
		Disposition: e.disposition,
		Filename:    e.filename,
		Headers:     p.decodeFields(e.fields),
	}
	part.IsAttachment = e.disposition == "attachment" || e.filename != ""
	p.msg.Parts = append(p.msg.Parts, part)
	p.spans = append(p.spans, span{start: len(p.text), end: len(p.text)})
	return len(p.msg.Parts) - 1
}

// effectiveType is the type SpamAssassin renders a part as: text/html for
// a file named *.htm, *.html, *.shtml.
func effectiveType(e *ent) string {
	n := strings.ToLower(e.filename)
	if strings.HasSuffix(n, ".htm") || strings.HasSuffix(n, ".html") || strings.HasSuffix(n, ".shtm") || strings.HasSuffix(n, ".shtml") {
		return "text/html"
	}
	return e.ctype
}

// leaf reads a leaf part's body: decodes it, keeps the content of text/*
// and message/* parts within the text limit, renders text/plain and
// text/html into Message.Text, and records the Part.
func (p *parser) leaf(s *lineSrc, e *ent, path, parent string) error {
	idx := p.addPart(e, path, parent)
	// SpamAssassin puts a line break before every part once there is text.
	if len(p.text) > 0 {
		p.text = append(p.text, '\n')
	}
	eff := effectiveType(e)
	textual := strings.HasPrefix(eff, "text/") || strings.HasPrefix(e.ctype, "message/")
	sk := sink{keep: textual, max: p.textLeft, buf: p.scratch[:0]}
	dec := newDecoder(e.encoding)
	pump := bodyPump{s: s}
	var err error
	for {
		chunk, perr := pump.next()
		if perr != nil {
			if perr != io.EOF {
				err = perr
			}
			break
		}
		dec.decode(&sk, chunk)
	}
	dec.flush(&sk)
	if textual && (e.encoding == "quoted-printable" || e.encoding == "base64" &&
		(strings.HasPrefix(e.ctype, "text/") || strings.HasPrefix(e.ctype, "message/"))) {
		// SpamAssassin makes decoded line breaks LF (for base64, by the
		// declared type).
		sk.buf = crlfToLF(sk.buf)
	}
	p.scratch = sk.buf[:0]
	part := &p.msg.Parts[idx]
	part.Size = sk.n
	part.MaxLineLen = pump.maxLine
	if sk.cut {
		p.hit(LimitText)
		sk.buf = trimPartialRune(sk.buf)
	}
	sp := &p.spans[idx]
	sp.start = len(p.text)
	if textual && (eff == "text/plain" || eff == "text/html") {
		part.eightBit = !isASCIIBytes(sk.buf)
	}
	if textual {
		p.textLeft -= len(sk.buf)
		if eff == "text/plain" {
			p.text = appendUTF8(p.text, sk.buf, e.charset)
			sp.plain = true
		} else {
			content := string(appendUTF8(nil, sk.buf, e.charset))
			part.Content = content
			if eff == "text/html" && content != "" {
				r := renderHTML(p, content, len(sk.buf))
				p.msg.HTML = append(p.msg.HTML, content)
				p.msg.HTMLStats = append(p.msg.HTMLStats, r.stats)
				sp.uris = r.uris
				p.msg.htmlURIs = append(p.msg.htmlURIs, r.uris...)
				p.text = append(p.text, r.text...)
			}
		}
	}
	sp.end = len(p.text)
	if err == nil {
		err = p.check()
	}
	return err
}

// bodyPump yields the raw bytes of one entity body from s, up to the next
// delimiter of an active multipart (left unread) or the end. The line break
// before a delimiter belongs to the delimiter (RFC 2046), so each line's
// break is held back until the next line is known not to be one.
type bodyPump struct {
	s       *lineSrc
	pending bool   // a held-back line break
	stash   []byte // a line to return after the held-back break
	done    bool
	maxLine int // longest line, bytes without its break
	curLine int
}

var newline = []byte{'\n'}

func (b *bodyPump) next() ([]byte, error) {
	if b.stash != nil {
		out := b.stash
		b.stash = nil
		return out, nil
	}
	if b.done {
		return nil, io.EOF
	}
	line, cont, err := b.s.next()
	if err != nil {
		b.done = true
		if err == io.EOF && b.pending {
			// At the end of the input the last line keeps its break.
			b.pending = false
			return newline, nil
		}
		return nil, err
	}
	if !cont {
		if lvl, _ := b.s.boundary(line, cont); lvl >= 0 {
			b.s.unread(line, cont)
			b.done = true
			return nil, io.EOF
		}
	}
	out := line
	if n := len(line); n > 0 && line[n-1] == '\n' {
		out = line[:n-1]
		b.curLine += n - 1
		b.maxLine = max(b.maxLine, b.curLine)
		b.curLine = 0
	} else {
		b.curLine += len(line)
		b.maxLine = max(b.maxLine, b.curLine)
	}
	wasPending := b.pending
	b.pending = len(out) < len(line)
	if wasPending {
		if len(out) > 0 {
			b.stash = out
		}
		return newline, nil
	}
	return out, nil
}

// decodingReader reads an entity body through its transfer decoder, for
// attached messages that are base64 or quoted-printable encoded.
type decodingReader struct {
	pump *bodyPump
	dec  decoder
	sk   sink
	off  int
	n    int64 // decoded bytes
	eof  bool
	err  error
}

func (d *decodingReader) Read(b []byte) (int, error) {
	for d.off >= len(d.sk.buf) {
		if d.eof {
			return 0, d.err
		}
		d.sk.buf, d.off = d.sk.buf[:0], 0
		d.sk.keep, d.sk.max = true, 1<<62
		chunk, err := d.pump.next()
		if err != nil {
			d.dec.flush(&d.sk)
			d.eof = true
			d.err = err
			continue
		}
		d.dec.decode(&d.sk, chunk)
	}
	k := copy(b, d.sk.buf[d.off:])
	d.off += k
	d.n += int64(k)
	return k, nil
}

// crlfToLF replaces each CRLF in b by LF, in place.
func crlfToLF(b []byte) []byte {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return b
	}
	w := i
	for r := i; r < len(b); r++ {
		if b[r] == '\r' && r+1 < len(b) && b[r+1] == '\n' {
			continue
		}
		b[w] = b[r]
		w++
	}
	return b[:w]
}

// trimPartialRune drops an incomplete UTF-8 sequence that a cut left at
// the end of b, so that a cut UTF-8 text is still read as UTF-8.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}
