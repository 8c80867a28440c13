package message

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// bufSize is the size of the line buffer: lines longer than that are
// handled in fragments, and the time budget is checked at least once per
// bufSize bytes read.
const bufSize = 32 << 10

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
