package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// sink receives decoded bytes: it counts them all and, if keep, keeps the
// first max of them in buf (cut reports that some were not kept).
type sink struct {
	keep bool
	max  int
	buf  []byte
	n    int64
	cut  bool
}

func (s *sink) write(b []byte) {
	s.n += int64(len(b))
	if !s.keep {
		return
	}
	room := s.max - len(s.buf)
	if room >= len(b) {
		s.buf = append(s.buf, b...)
		return
	}
	if room > 0 {
		s.buf = append(s.buf, b[:room]...)
	}
	s.cut = true
}

// decoder undoes a Content-Transfer-Encoding, fed with the body in chunks
// of any size.
type decoder interface {
	decode(s *sink, b []byte)
	flush(s *sink)
}

// newDecoder returns the decoder for the lower-cased transfer encoding enc;
// anything but base64 and quoted-printable is passed through, as
// SpamAssassin does.
func newDecoder(enc string) decoder {
	switch enc {
	case "base64":
		return &b64Decoder{}
	case "quoted-printable":
		return &qpDecoder{}
	}
	return identity{}
}

type identity struct{}

func (identity) decode(s *sink, b []byte) { s.write(b) }
func (identity) flush(*sink)              {}

// b64Decoder decodes base64 leniently: characters outside the alphabet are
// skipped, and "=" ends the current group of four, after which decoding
// goes on.
type b64Decoder struct {
	acc uint32
	n   int
}

var b64Table = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	t['='] = 0xfe
	return t
}()

func (d *b64Decoder) decode(s *sink, b []byte) {
	if d.n == 0 && len(b)%4 == 0 && d.fast(s, b) {
		return
	}
	var out [1024]byte
	o := 0
	for _, c := range b {
		v := b64Table[c]
		if v >= 0xfe {
			if v == 0xfe && d.n > 0 {
				o += d.partial(out[o:])
			}
			continue
		}
		d.acc = d.acc<<6 | uint32(v)
		d.n++
		if d.n == 4 {
			out[o], out[o+1], out[o+2] = byte(d.acc>>16), byte(d.acc>>8), byte(d.acc)
			o += 3
			d.acc, d.n = 0, 0
			if o > len(out)-3 {
				s.write(out[:o])
				o = 0
			}
		}
	}
	s.write(out[:o])
}

// fast decodes b, whole groups of four, with encoding/base64; it reports
// false, having written nothing, if b is not clean base64.
func (d *b64Decoder) fast(s *sink, b []byte) bool {
	var out [3072]byte
	for i := 0; i < len(b); i += 4096 {
		chunk := b[i:min(i+4096, len(b))]
		n, err := base64.StdEncoding.Decode(out[:], chunk)
		if err != nil {
			if i > 0 {
				// Earlier chunks are written; go on leniently.
				var slow b64Decoder
				slow.decode(s, b[i:])
				d.acc, d.n = slow.acc, slow.n
				return true
			}
			return false
		}
		s.write(out[:n])
	}
	return true
}

// partial writes the bytes of an incomplete group of four to out and
// resets the group.
func (d *b64Decoder) partial(out []byte) int {
	k := 0
	switch d.n {
	case 2:
		out[0] = byte(d.acc >> 4)
		k = 1
	case 3:
		out[0], out[1] = byte(d.acc>>10), byte(d.acc>>2)
		k = 2
	}
	d.acc, d.n = 0, 0
	return k
}

func (d *b64Decoder) flush(s *sink) {
	var out [2]byte
	if k := d.partial(out[:]); k > 0 {
		s.write(out[:k])
	}
}

// qpDecoder decodes quoted-printable leniently, as SpamAssassin does:
// blanks at the end of a line are dropped, "=" at the end of a line joins
// it to the next, "=XX" (either case) is a byte, and any other "=" is
// itself.
type qpDecoder struct {
	state byte // qpText, qpEq, qpEqHex, qpEqBlank
	hex1  byte
	ws    []byte // blanks not yet known to end a line
}

const (
	qpText    = iota
	qpEq      // after "="
	qpEqHex   // after "=" and one hex digit
	qpEqBlank // after "=" and blanks
)

// maxPendingBlanks bounds the blanks held back while looking for a line end.
const maxPendingBlanks = 4096

func (d *qpDecoder) decode(s *sink, b []byte) {
	var out [1024]byte
	o := 0
	emit := func(c byte) {
		if o == len(out) {
			s.write(out[:o])
			o = 0
		}
		out[o] = c
		o++
	}
	emitWS := func() {
		for _, c := range d.ws {
			emit(c)
		}
		d.ws = d.ws[:0]
	}
	for i := 0; i < len(b); {
		c := b[i]
		switch d.state {
		case qpText:
			switch c {
			case ' ', '\t':
				if len(d.ws) >= maxPendingBlanks {
					emitWS()
				}
				d.ws = append(d.ws, c)
			case '\n':
				d.ws = d.ws[:0]
				emit('\n')
			case '=':
				emitWS()
				d.state = qpEq
			default:
				if len(d.ws) > 0 {
					emitWS()
				}
				emit(c)
			}
			i++
		case qpEq:
			switch {
			case isHex(c):
				d.hex1 = c
				d.state = qpEqHex
				i++
			case c == '\n':
				d.state = qpText
				i++
			case c == ' ' || c == '\t':
				d.ws = append(d.ws, c)
				d.state = qpEqBlank
				i++
			default:
				emit('=')
				d.state = qpText
			}
		case qpEqHex:
			if isHex(c) {
				emit(unhex(d.hex1)<<4 | unhex(c))
				i++
			} else {
				emit('=')
				emit(d.hex1)
			}
			d.state = qpText
		case qpEqBlank:
			switch {
			case c == ' ' || c == '\t':
				if len(d.ws) < maxPendingBlanks {
					d.ws = append(d.ws, c)
				}
				i++
			case c == '\n':
				d.ws = d.ws[:0]
				d.state = qpText
				i++
			default:
				emit('=')
				emitWS()
				d.state = qpText
			}
		}
	}
	s.write(out[:o])
}

func (d *qpDecoder) flush(s *sink) {
	switch d.state {
	case qpEq, qpEqBlank:
		s.write([]byte{'='})
	case qpEqHex:
		s.write([]byte{'=', d.hex1})
	}
	d.state = qpText
	d.ws = d.ws[:0]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// latin1Names are the labels SpamAssassin decodes as Windows-1252, its
// superset.
var latin1Names = map[string]bool{
	"iso-8859-1": true, "iso8859-1": true, "iso_8859-1": true, "latin1": true,
	"l1": true, "cp819": true, "ibm819": true, "windows-1252": true, "cp1252": true,
	"us-ascii": true, "ascii": true, "": true,
}

// appendUTF8 appends the text b, declared to be in charset cs, converted to
// UTF-8, following SpamAssassin's normalize_charset: ASCII stays as it is;
// text that is valid UTF-8 is taken as UTF-8 whatever the declaration
// (except UTF-16/32, which are decoded as declared); otherwise the
// declared charset is used (ISO-8859-1 and US-ASCII as Windows-1252), and
// an unknown one falls back to Windows-1252. Invalid sequences become
// U+FFFD.
func appendUTF8(dst, b []byte, cs string) []byte {
	cs = strings.ToLower(cs)
	if isASCIIBytes(b) {
		if asciiCompatible(cs) {
			return append(dst, b...)
		}
	} else if !isWide(cs) && utf8.Valid(b) {
		return append(dst, b...)
	}
	return appendDecoded(dst, b, cs)
}

// appendDeclared converts the bytes of encoded words declared to be in cs
// (SpamAssassin insists on the declared charset there), falling back like
// appendUTF8 when cs is unknown.
func appendDeclared(dst, b []byte, cs string) []byte {
	cs = strings.ToLower(cs)
	if isASCIIBytes(b) && asciiCompatible(cs) {
		return append(dst, b...)
	}
	return appendDecoded(dst, b, cs)
}

// isWide reports the UTF-16 and UTF-32 family.
func isWide(cs string) bool {
	return strings.HasPrefix(cs, "utf-16") || strings.HasPrefix(cs, "utf-32") || strings.HasPrefix(cs, "ucs")
}

// asciiCompatible reports charsets in which 7-bit text is US-ASCII (so it
// needs no decoding); ISO-2022-*, UTF-7 and the like do need it.
func asciiCompatible(cs string) bool {
	if cs == "" || latin1Names[cs] {
		return true
	}
	for _, prefix := range []string{"iso-8859", "iso8859", "iso_8859", "windows-", "cp", "utf-8", "utf8", "koi8", "euc-", "big5", "gb", "ks_c", "shift_jis", "tis-620", "us-ascii", "ansi_x3.4"} {
		if strings.HasPrefix(cs, prefix) {
			return true
		}
	}
	return false
}

// appendDecoded converts b from charset cs with go-message's charset
// tables. Like SpamAssassin, it insists on a clean conversion: text that
// is not valid in the declared charset (or whose charset is unknown) is
// read as UTF-8 if valid, else as Windows-1252, SpamAssassin's last
// resort.
func appendDecoded(dst, b []byte, cs string) []byte {
	if latin1Names[cs] {
		cs = "windows-1252"
	}
	if cs != "utf-8" && cs != "utf8" {
		if out, ok := convert(dst, b, cs, true); ok {
			return out
		}
	}
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	out, _ := convert(dst, b, "windows-1252", false)
	return out
}

// convert decodes b from cs to UTF-8 with go-message/charset; strict
// fails on bytes invalid in cs.
func convert(dst, b []byte, cs string, strict bool) ([]byte, bool) {
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return dst, false
	}
	n := len(dst)
	var buf bytes.Buffer
	buf.Grow(len(b) + len(b)/2)
	if _, err := io.Copy(&buf, r); err != nil {
		return dst[:n], false
	}
	out := buf.Bytes()
	if strict && bytes.Contains(out, replacementChar) && !bytes.Contains(b, replacementChar) {
		// Some bytes were invalid in cs.
		return dst[:n], false
	}
	return appendValidUTF8(dst, out), true
}

var replacementChar = []byte("\uFFFD")

// appendValidUTF8 appends b with each invalid UTF-8 sequence replaced by
// U+FFFD.
func appendValidUTF8(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}
