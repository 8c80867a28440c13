package queue

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Postfix queue file is a sequence of records: one type byte, the data
// length in 7-bit groups (least significant first, high bit set on all but
// the last), then the data. Records fall into three segments: the envelope
// (up to the M record), the message content (N and L records up to X) and
// the extracted segment (information cleanup took from headers, up to E).
// Pointer records (p) redirect reading to another offset; Postfix uses them
// to append recipients and to insert headers a milter added.
const (
	recSize     = 'C' // content size, data offset, recipient count, …
	recTime     = 'T' // arrival time: "seconds [microseconds]"
	recFrom     = 'S' // envelope sender
	recRcpt     = 'R' // recipient still to deliver
	recDone     = 'D' // recipient delivered
	recAttr     = 'A' // named attribute: name=value
	recMesg     = 'M' // start of content
	recNorm     = 'N' // content line, newline implied
	recCont     = 'L' // content line continued by the next record (in the envelope: filter transport)
	recXtra     = 'X' // start of the extracted segment
	recEnd      = 'E' // end of the queue file
	recPtr      = 'p' // pointer: continue reading at this offset (0: no-op)
	recMaxLen   = 1 << 20
	reverseJump = 10000 // as Postfix's own reader: more reverse jumps is a loop
)

// Errors a queue file can be refused with.
var (
	// ErrIncomplete says the file ends before its end record: it is still
	// being written, or was cut short.
	ErrIncomplete = errors.New("incomplete queue file")
	// ErrMalformed says the file is not in the expected format.
	ErrMalformed = errors.New("malformed queue file")
)

// recReader reads records from a seekable queue file through its own
// buffer, so it can follow pointer records and jump over content it does not
// keep.
type recReader struct {
	src  io.ReadSeeker
	br   *bufio.Reader
	off  int64 // file offset of the next unread byte
	size int64 // file size; pointers beyond it are refused
}

func newRecReader(src io.ReadSeeker, size int64) *recReader {
	return &recReader{src: src, br: getReader(src), size: size}
}

// next reads a record's type and length; the caller then reads or skips the
// data. It returns io.EOF at a clean end of file.
func (r *recReader) next() (typ byte, n int, err error) {
	typ, err = r.br.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	r.off++
	for shift := uint(0); ; shift += 7 {
		if shift >= 28 {
			return 0, 0, fmt.Errorf("%w: record length too long at offset %d", ErrMalformed, r.off)
		}
		b, err := r.br.ReadByte()
		if err != nil {
			return 0, 0, fmt.Errorf("%w: end of file in a record length", ErrIncomplete)
		}
		r.off++
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
	}
	if r.size >= 0 && int64(n) > r.size-r.off {
		return 0, 0, fmt.Errorf("%w: record %q of %d bytes at offset %d runs past the end of the file", ErrIncomplete, typ, n, r.off)
	}
	return typ, n, nil
}

// data reads n bytes of record data into dst[:0].
func (r *recReader) data(dst []byte, n int) ([]byte, error) {
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if _, err := io.ReadFull(r.br, dst); err != nil {
		return nil, fmt.Errorf("%w: end of file in record data", ErrIncomplete)
	}
	r.off += int64(n)
	return dst, nil
}

// fill reads len(dst) bytes of record data into dst.
func (r *recReader) fill(dst []byte) error {
	if _, err := io.ReadFull(r.br, dst); err != nil {
		return fmt.Errorf("%w: end of file in record data", ErrIncomplete)
	}
	r.off += int64(len(dst))
	return nil
}

// skip passes over n bytes of record data, seeking when that is cheaper.
func (r *recReader) skip(n int) error {
	if n <= r.br.Buffered() || n < 64<<10 {
		d, err := r.br.Discard(n)
		r.off += int64(d)
		if err != nil {
			return fmt.Errorf("%w: end of file in record data", ErrIncomplete)
		}
		return nil
	}
	return r.seek(r.off + int64(n))
}

func (r *recReader) seek(off int64) error {
	if off < 0 || (r.size >= 0 && off > r.size) {
		return fmt.Errorf("%w: offset %d outside the file", ErrMalformed, off)
	}
	if _, err := r.src.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("queue file seek: %w", err)
	}
	r.br.Reset(r.src)
	r.off = off
	return nil
}

// peek returns the type byte of the next record without consuming it.
func (r *recReader) peek() (byte, error) {
	b, err := r.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// ParsePostfix reads a Postfix queue file (or a maildrop file from postdrop)
// from r, keeping at most maxContent bytes of message content; with 0 the
// content is not read at all (see Queued.Content). It fills the envelope and content fields of the result; the
// file-system fields (Path, Queue, Inode, MTime, Size) are the caller's.
// Errors wrap ErrIncomplete or ErrMalformed.
func ParsePostfix(r io.ReadSeeker, maxContent int64) (*Queued, error) {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("postfix queue file: %w", err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("postfix queue file: %w", err)
	}
	return parsePostfix(r, size, maxContent)
}

// parsePostfix parses a queue file of the given size read from its start.
func parsePostfix(r io.ReadSeeker, size, maxContent int64) (*Queued, error) {
	q := &Queued{Kind: KindPostfix, LocalUID: -1, Size: size}
	p := pfParser{rr: newRecReader(r, size), q: q, c: content{limit: max(maxContent, 0)}}
	defer putReader(p.rr.br)
	if err := p.run(); err != nil {
		return nil, err
	}
	return q, nil
}

type pfSegment uint8

const (
	segEnvelope pfSegment = iota
	segContent
	segExtracted
)

type pfParser struct {
	rr  *recReader
	q   *Queued
	c   content
	buf []byte

	seg      pfSegment
	reverse  int   // reverse pointer jumps followed
	lastJump int64 // target of the last pointer followed
	xtraOff  int64 // offset of the X record from the C record, 0 if unknown
	jumped   bool  // the content was not read (cap 0)

	// The first header of the content, kept whatever the cap: the
	// Received header cleanup adds to a locally submitted message names
	// the submitting uid.
	first     []byte
	firstDone bool
	lineStart bool // the next content record starts a new line

	attrs pfAttrs
}

// pfAttrs holds the named attributes mailrep uses. Postfix writes the
// original client's facts (from XFORWARD, behind a content filter) as log_*
// attributes and the immediate client's without the prefix; the original
// wins.
type pfAttrs struct {
	saslUser, saslMethod   string
	logAddr, addr          string
	logName, name          string
	logHelo, helo          string
	logProto, proto        string
	serverAddr, serverPort string
}

func (p *pfParser) run() error {
	p.lineStart = true
	for {
		typ, n, err := p.rr.next()
		if err == io.EOF {
			return fmt.Errorf("%w: no end record", ErrIncomplete)
		}
		if err != nil {
			return err
		}
		if typ == recPtr {
			if err := p.follow(n); err != nil {
				return err
			}
			continue
		}
		switch p.seg {
		case segEnvelope, segExtracted:
			done, err := p.envelope(typ, n)
			if err != nil || done {
				p.finish()
				return err
			}
		case segContent:
			if err := p.content(typ, n); err != nil {
				return err
			}
		}
	}
}

// follow handles a pointer record.
func (p *pfParser) follow(n int) error {
	if n > 64 {
		return fmt.Errorf("%w: pointer record of %d bytes", ErrMalformed, n)
	}
	d, err := p.rr.data(p.buf, n)
	if err != nil {
		return err
	}
	p.buf = d
	off, err := strconv.ParseInt(string(bytes.TrimSpace(d)), 10, 64)
	if err != nil || off < 0 {
		return fmt.Errorf("%w: pointer record %q", ErrMalformed, d)
	}
	if off == 0 {
		return nil // a placeholder for a later append
	}
	if off <= p.lastJump {
		if p.reverse++; p.reverse > reverseJump {
			return fmt.Errorf("%w: pointer loop", ErrMalformed)
		}
	}
	p.lastJump = off
	return p.rr.seek(off)
}

// envelope handles a record of the envelope or extracted segment and reports
// whether the end record was reached.
func (p *pfParser) envelope(typ byte, n int) (bool, error) {
	switch typ {
	case recSize, recTime, recFrom, recRcpt, recDone, recAttr:
	case recMesg:
		if err := p.rr.skip(n); err != nil {
			return false, err
		}
		if p.seg == segExtracted {
			return false, fmt.Errorf("%w: content after the extracted segment", ErrMalformed)
		}
		p.seg = segContent
		p.c.reserve(p.rr.size - p.rr.off) // content is smaller than the rest of the file
		return false, nil
	case recEnd:
		return true, p.rr.skip(n)
	default:
		return false, p.rr.skip(n)
	}
	if n > recMaxLen {
		return false, fmt.Errorf("%w: %q record of %d bytes", ErrMalformed, typ, n)
	}
	d, err := p.rr.data(p.buf, n)
	if err != nil {
		return false, err
	}
	p.buf = d
	switch typ {
	case recSize:
		p.sizeRecord(d)
	case recTime:
		p.q.Arrival = parsePostfixTime(d)
	case recFrom:
		p.q.Sender = string(d)
	case recRcpt:
		p.q.Recipients = append(p.q.Recipients, string(d))
		p.q.Pending++
	case recDone:
		p.q.Recipients = append(p.q.Recipients, string(d))
	case recAttr:
		p.attr(d)
	}
	return false, nil
}

// sizeRecord reads the C record: message segment size, data offset, …; the
// extracted segment starts at data offset + segment size.
func (p *pfParser) sizeRecord(d []byte) {
	f := strings.Fields(string(d))
	if len(f) < 2 {
		return
	}
	segSize, err1 := strconv.ParseInt(f[0], 10, 64)
	dataOff, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || segSize < 0 || dataOff <= 0 {
		return
	}
	if x := dataOff + segSize; x > dataOff && x < p.rr.size {
		p.xtraOff = x
	}
}

func (p *pfParser) attr(d []byte) {
	i := bytes.IndexByte(d, '=')
	if i <= 0 {
		return
	}
	name, v := d[:i], string(d[i+1:])
	a := &p.attrs
	switch string(name) {
	case "sasl_username":
		a.saslUser = v
	case "sasl_method":
		a.saslMethod = v
	case "log_client_address":
		a.logAddr = v
	case "client_address":
		a.addr = v
	case "log_client_name":
		a.logName = v
	case "client_name":
		a.name = v
	case "log_helo_name":
		a.logHelo = v
	case "helo_name":
		a.helo = v
	case "log_protocol_name":
		a.logProto = v
	case "protocol_name":
		a.proto = v
	case "server_address":
		a.serverAddr = v
	case "server_port":
		a.serverPort = v
	}
}

// content handles a record of the content segment.
func (p *pfParser) content(typ byte, n int) error {
	switch typ {
	case recNorm, recCont:
	case recXtra:
		p.seg = segExtracted
		return p.rr.skip(n)
	case recEnd:
		return fmt.Errorf("%w: end record inside the content", ErrMalformed)
	default: // padding, killed records and the like
		return p.rr.skip(n)
	}
	// The first header is only needed when there is no client: it may be
	// the Received header cleanup adds to locally submitted mail.
	needFirst := !p.firstDone && p.attrs.addr == "" && p.attrs.logAddr == "" && len(p.first) < 4096
	if !needFirst && p.c.limit == 0 && p.xtraOff > p.rr.off {
		// Envelope only: go straight to the extracted segment, where the
		// size record says it is, if an X record is really there.
		back := p.rr.off - int64(n) - 1 - lenBytes(n)
		if err := p.rr.seek(p.xtraOff); err != nil {
			return err
		}
		if t, err := p.rr.peek(); err == nil && t == recXtra {
			p.jumped = true
			return nil
		}
		if err := p.rr.seek(back); err != nil {
			return err
		}
		p.xtraOff = 0
		return nil
	}
	if p.c.full() && !needFirst {
		p.c.size += int64(n)
		if typ == recNorm {
			p.c.size++
		}
		return p.rr.skip(n)
	}
	if !needFirst && int64(n) <= p.c.limit-int64(len(p.c.buf)) {
		// Straight into the content buffer.
		start := len(p.c.buf)
		p.c.buf = slices.Grow(p.c.buf, n)[:start+n]
		if err := p.rr.fill(p.c.buf[start:]); err != nil {
			return err
		}
		p.c.size += int64(n)
		if typ == recNorm {
			p.c.writeByte('\n')
		}
		return nil
	}
	d, err := p.rr.data(p.buf, n)
	if err != nil {
		return err
	}
	p.buf = d
	if needFirst {
		p.firstHeader(d, typ == recNorm)
	}
	p.c.write(d)
	if typ == recNorm {
		p.c.writeByte('\n')
	}
	return nil
}

// firstHeader collects the first header field of the content.
func (p *pfParser) firstHeader(d []byte, endsLine bool) {
	if p.lineStart && len(p.first) > 0 && (len(d) == 0 || (d[0] != ' ' && d[0] != '\t')) {
		p.firstDone = true
		return
	}
	p.first = append(p.first, d...)
	if endsLine {
		p.first = append(p.first, '\n')
	}
	p.lineStart = endsLine
}

func (p *pfParser) finish() {
	q, a := p.q, &p.attrs
	q.AuthUser, q.AuthMethod = a.saslUser, a.saslMethod
	addr := cmp.Or(a.logAddr, a.addr)
	if ip, err := netip.ParseAddr(addr); err == nil {
		q.ClientIP = ip.Unmap()
	}
	q.ClientHost = cmp.Or(a.logName, a.name)
	if q.ClientHost == "unknown" {
		q.ClientHost = ""
	}
	q.HELO = cmp.Or(a.logHelo, a.helo)
	q.Protocol = cmp.Or(a.logProto, a.proto)
	if ip, err := netip.ParseAddr(a.serverAddr); err == nil {
		if port, err := strconv.ParseUint(a.serverPort, 10, 16); err == nil {
			q.ServerAddr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
		}
	}
	// cleanup puts "Received: by HOST (Postfix, from userid N)" on top of
	// mail from the pickup daemon, which has no client; only that first
	// header is trusted, and only then.
	if !q.ClientIP.IsValid() && addr == "" {
		if uid, ok := receivedUID(p.first); ok {
			q.LocalUID = uid
		}
	}
	p.c.finish(q)
	if p.jumped {
		q.Content, q.ContentSize, q.Truncated = nil, 0, true
	}
}

// receivedUID extracts N from a first header "Received: by … (Postfix, from userid N) …".
func receivedUID(h []byte) (int, bool) {
	if len(h) < 9 || !strings.EqualFold(string(h[:9]), "received:") {
		return 0, false
	}
	const marker = "(Postfix, from userid "
	i := bytes.Index(h, []byte(marker))
	if i < 0 {
		return 0, false
	}
	rest := h[i+len(marker):]
	j := bytes.IndexByte(rest, ')')
	if j <= 0 {
		return 0, false
	}
	uid, err := strconv.Atoi(string(rest[:j]))
	if err != nil || uid < 0 {
		return 0, false
	}
	return uid, true
}

// parsePostfixTime parses a T record, "seconds" or "seconds microseconds".
func parsePostfixTime(d []byte) time.Time {
	s := string(d)
	sec, usec := s, ""
	if i := strings.IndexByte(s, ' '); i >= 0 {
		sec, usec = s[:i], strings.TrimSpace(s[i+1:])
	}
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}
	}
	var ns int64
	if u, err := strconv.ParseInt(usec, 10, 64); err == nil && u >= 0 && u < 1e6 {
		ns = u * 1000
	}
	return time.Unix(secs, ns)
}

// lenBytes is the number of bytes a record length of n takes.
func lenBytes(n int) int64 {
	b := int64(1)
	for n >>= 7; n > 0; n >>= 7 {
		b++
	}
	return b
}

// ReadPostfix reads the Postfix queue file at path, keeping at most
// maxContent bytes of content (0: none, the content is not read). A maildrop
// file's owner is the submitting user. A file that is gone by the time it is
// opened (delivered, or moved to another queue) gives an error wrapping
// fs.ErrNotExist.
func ReadPostfix(path string, maxContent int64) (*Queued, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("postfix queue file: %w", err)
	}
	q, err := parsePostfix(f, st.Size(), maxContent)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	q.Path = path
	q.QueueID = filepath.Base(path)
	q.Queue = postfixQueueOf(path)
	_, q.Inode = fileID(st)
	q.MTime = st.ModTime()
	q.Size = st.Size()
	if q.Queue == "maildrop" && q.LocalUID < 0 {
		q.LocalUID = fileOwner(st)
	}
	lookupUser(q)
	return q, nil
}

// postfixQueues are the queue directories that hold messages.
var postfixQueues = []string{"maildrop", "incoming", "active", "deferred", "hold"}

// postfixQueueOf names the queue a queue file path is in: the nearest
// ancestor directory named like a Postfix queue (hashed queues put files in
// subdirectories such as deferred/4/).
func postfixQueueOf(path string) string {
	for dir := filepath.Dir(path); ; {
		b := filepath.Base(dir)
		if slices.Contains(postfixQueues, b) {
			return b
		}
		parent := filepath.Dir(dir)
		if parent == dir || len(b) != 1 {
			return ""
		}
		dir = parent
	}
}
