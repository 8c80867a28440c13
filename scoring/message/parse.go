package message

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// bufSize is the size of the line buffer: lines longer than that are
// handled in fragments, and the time budget is checked at least once per
// bufSize bytes read.
const bufSize = 32 << 10

// SpamAssassin's own bounds on header fields; exceeding them is the
// "truncated_header" anomaly (HEAD_LONG), not one of our limits.
const (
	saMaxHeaderKey   = 256
	saMaxHeaderValue = 8192
)

var (
	// errBudget stops parsing when the time budget is spent.
	errBudget = errors.New("message: time budget spent")
	// errPartsLimit stops parsing at the part after Limits.MaxParts.
	errPartsLimit = errors.New("message: too many parts")
)

var bufPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}

// parser holds the state of one Parse call.
type parser struct {
	ctx      context.Context
	lim      Limits
	deadline time.Time
	stopped  error // errBudget or the context's error, once seen
	msg      *Message
	in       *inputReader
	readers  []*bufio.Reader // taken from bufPool, returned by release

	parts     int    // MIME parts started, for Limits.MaxParts
	textLeft  int    // decoded content bytes still allowed
	text      []byte // Message.Text being built
	spans     []span // per Message.Parts index: its Text in text
	rawHeader []byte
	rawBody   []byte
	scratch   []byte // reusable buffer for decoded part content
	uriSeen   map[string]struct{}
}

// span locates a part's text in parser.text; plain marks text/plain parts,
// whose Content is that same text; uris are those of its HTML attributes.
type span struct {
	start, end int
	plain      bool
	uris       []string
}

func newParser(ctx context.Context, r io.Reader, lim Limits) *parser {
	p := &parser{
		ctx:      ctx,
		lim:      lim,
		deadline: time.Now().Add(lim.Budget),
		msg:      &Message{},
		textLeft: lim.MaxBodyText,
	}
	p.in = &inputReader{r: r, p: p, max: lim.MaxSize}
	return p
}

// release returns the parser's buffers to their pool.
func (p *parser) release() {
	for _, br := range p.readers {
		br.Reset(nil)
		bufPool.Put(br)
	}
	p.readers = nil
}

// newSrc returns a line source reading r with a pooled buffer.
func (p *parser) newSrc(r io.Reader) *lineSrc {
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(r)
	p.readers = append(p.readers, br)
	return &lineSrc{br: br}
}

// hit records that the limit name was hit.
func (p *parser) hit(name string) {
	for _, l := range p.msg.Limits {
		if l == name {
			return
		}
	}
	p.msg.Limits = append(p.msg.Limits, name)
}

// anomaly records a SpamAssassin parse flag.
func (p *parser) anomaly(name string) {
	for _, a := range p.msg.Anomalies {
		if a == name {
			return
		}
	}
	p.msg.Anomalies = append(p.msg.Anomalies, name)
}

// check reports whether parsing must stop: the context ended or the time
// budget is spent (which it records as a limit hit).
func (p *parser) check() error {
	if p.stopped != nil {
		return p.stopped
	}
	if err := p.ctx.Err(); err != nil {
		p.stopped = err
		return err
	}
	if time.Now().After(p.deadline) {
		p.hit(LimitBudget)
		p.stopped = errBudget
		return errBudget
	}
	return nil
}

// inputReader reads the message, at most Limits.MaxSize bytes, checking
// the context and the time budget before every read.
type inputReader struct {
	r   io.Reader
	p   *parser
	n   int64
	max int64
	err error
}

func (in *inputReader) Read(b []byte) (int, error) {
	if in.err != nil {
		return 0, in.err
	}
	if err := in.p.check(); err != nil {
		in.err = err
		return 0, err
	}
	if in.n >= in.max {
		var one [1]byte
		if k, _ := io.ReadAtLeast(in.r, one[:], 1); k > 0 {
			in.p.hit(LimitSize)
		}
		in.err = io.EOF
		return 0, io.EOF
	}
	if rem := in.max - in.n; int64(len(b)) > rem {
		b = b[:rem]
	}
	k, err := in.r.Read(b)
	in.n += int64(k)
	if err != nil {
		if err != io.EOF {
			err = &readError{err}
		}
		in.err = err
	}
	return k, err
}

// readError marks a failure of the caller's reader, which Parse returns.
type readError struct{ err error }

func (e *readError) Error() string { return "message: read: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// lineSrc yields the lines of a stream. Each call to next returns one line
// including its "\n" (a CRLF ending is returned as "\n"), or, for a line
// longer than the buffer, the next fragment of it. The slice is valid until
// the following call. bounds are the boundaries of the multiparts being
// read from this stream, outermost first.
type lineSrc struct {
	br      *bufio.Reader
	bounds  [][]byte
	mid     bool // the last slice returned did not end its line
	err     error
	pushed  bool
	push    []byte
	pushMid bool // mid as it was after the pushed slice
	pushCon bool // the pushed slice continued a line

	capture    *[]byte // raw bytes read are appended here …
	captureMax int     // … up to this length
	lastRaw    int     // raw bytes of the last slice appended to capture
	consumed   int64   // raw bytes returned by next

	// squeeze cuts runs of more than maxBlankLines whitespace-only lines
	// to their first line and last maxBlankLines-1, as SpamAssassin does
	// to message bodies. The lines after the first of a run are held
	// back until the run ends.
	squeeze   bool
	blanks    int      // length of the current run
	held      [][]byte // copies of held-back lines
	heldNext  int      // next held line to give out
	hasAfter  bool     // the line that ended the run, given out after held
	after     []byte
	afterCont bool
	afterMid  bool
	afterErr  error
}

// maxBlankLines is the longest run of blank lines SpamAssassin keeps.
const maxBlankLines = 20

// next returns the next line or line fragment; cont reports that it
// continues the line of the previous slice. It returns io.EOF at the end.
func (s *lineSrc) next() (line []byte, cont bool, err error) {
	if s.pushed {
		s.pushed = false
		s.mid = s.pushMid
		return s.push, s.pushCon, nil
	}
	if s.heldNext < len(s.held) {
		l := s.held[s.heldNext]
		s.heldNext++
		s.mid = false
		return l, false, nil
	}
	if s.hasAfter {
		s.hasAfter = false
		s.held, s.heldNext = s.held[:0], 0
		s.mid = s.afterMid
		return s.after, s.afterCont, s.afterErr
	}
	for {
		line, cont, err = s.read()
		if !s.squeeze {
			return line, cont, err
		}
		if err == nil && !cont && !s.mid && isBlank(line) {
			s.blanks++
			if s.blanks == 1 {
				return line, cont, nil
			}
			s.hold(line)
			continue
		}
		s.blanks = 0
		if len(s.held) == 0 {
			return line, cont, err
		}
		s.after, s.afterCont, s.afterMid, s.afterErr, s.hasAfter = line, cont, s.mid, err, true
		s.heldNext = 1
		s.mid = false
		return s.held[0], false, nil
	}
}

// hold keeps a copy of a blank line, dropping the oldest held one when
// maxBlankLines-1 are held.
func (s *lineSrc) hold(line []byte) {
	var buf []byte
	if len(s.held) == maxBlankLines-1 {
		buf = s.held[0][:0]
		copy(s.held, s.held[1:])
		s.held = s.held[:len(s.held)-1]
	} else if len(s.held) < cap(s.held) {
		buf = s.held[:len(s.held)+1][len(s.held)][:0]
	}
	s.held = append(s.held, append(buf, line...))
}

// read returns the next line or fragment from the buffer.
func (s *lineSrc) read() (line []byte, cont bool, err error) {
	cont = s.mid
	if s.err != nil {
		return nil, cont, s.err
	}
	line, err = s.br.ReadSlice('\n')
	switch {
	case err == nil:
		s.mid = false
	case err == bufio.ErrBufferFull:
		s.mid = true
	default:
		s.err = err
		if len(line) == 0 {
			return nil, cont, err
		}
		s.mid = false
	}
	s.lastRaw = 0
	s.consumed += int64(len(line))
	if s.capture != nil {
		if room := s.captureMax - len(*s.capture); room > 0 {
			n := min(room, len(line))
			*s.capture = append(*s.capture, line[:n]...)
			s.lastRaw = n
		}
	}
	if n := len(line); n >= 2 && line[n-1] == '\n' && line[n-2] == '\r' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, cont, nil
}

// unread gives back the slice last returned by next, with its cont flag.
func (s *lineSrc) unread(line []byte, cont bool) {
	s.pushed = true
	s.push = line
	s.pushCon = cont
	s.pushMid = s.mid
	s.mid = cont
}

// boundary reports which active boundary line is a delimiter of: the index
// into bounds (innermost match), and whether it is the closing delimiter
// ("--boundary--"); -1 if it is none.
func (s *lineSrc) boundary(line []byte, cont bool) (level int, final bool) {
	if cont || len(s.bounds) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return -1, false
	}
	rest := line[2:]
	for i := len(s.bounds) - 1; i >= 0; i-- {
		b := s.bounds[i]
		if !bytes.HasPrefix(rest, b) {
			continue
		}
		r := rest[len(b):]
		fin := false
		if len(r) >= 2 && r[0] == '-' && r[1] == '-' {
			fin = true
			r = r[2:]
		}
		if isBlank(r) {
			return i, fin
		}
	}
	return -1, false
}

// drain reads s to its end.
func (s *lineSrc) drain() error {
	for {
		if _, _, err := s.next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// isBlank reports whether b holds only whitespace.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' {
			return false
		}
	}
	return true
}

// run parses the whole message into p.msg.
func (p *parser) run() error {
	s := p.newSrc(p.in)
	s.capture, s.captureMax = &p.rawHeader, p.lim.MaxBodyText
	fields, err := p.readHeader(s, headerTop, true)
	moved := 0
	if s.pushed {
		// The line that ended the header belongs to the body.
		moved = s.lastRaw
		if moved > 0 && moved <= len(p.rawHeader) {
			p.rawBody = append(p.rawBody, p.rawHeader[len(p.rawHeader)-moved:]...)
			p.rawHeader = p.rawHeader[:len(p.rawHeader)-moved]
		}
	}
	s.capture = &p.rawBody
	s.squeeze = true
	p.msg.Headers = p.decodeFields(fields)
	if err == nil || err == io.EOF {
		e := p.newEnt(fields, false)
		e.top = true
		err = p.entity(s, e, "", "1", "", 0)
		if err == nil || err == errPartsLimit {
			err = s.drain()
		}
	}
	p.finish()
	if err == nil || err == io.EOF || err == errBudget {
		return nil
	}
	var re *readError
	if errors.As(err, &re) {
		return err
	}
	return fmt.Errorf("message: parse: %w", err)
}

// finish builds the Message fields that are assembled at the end.
func (p *parser) finish() {
	m := p.msg
	m.Text = string(p.text)
	for i := range m.Parts {
		sp := p.spans[i]
		m.Parts[i].Text = m.Text[sp.start:sp.end]
		if sp.plain {
			m.Parts[i].Content = m.Parts[i].Text
		}
		if m.Parts[i].IsAttachment {
			m.Attachments = append(m.Attachments, m.Parts[i])
		}
	}
	if subj := m.Get("Subject"); len(subj) > 0 {
		p.addTextURIs(subj[len(subj)-1].Value)
	}
	for i := range m.Parts {
		for _, u := range p.spans[i].uris {
			p.addURI(u)
		}
		p.addTextURIs(m.Parts[i].Text)
	}
	m.RawHeader = string(p.rawHeader)
	m.RawBody = string(p.rawBody)
	m.Size = p.in.n
}

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
