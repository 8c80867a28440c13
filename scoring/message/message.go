// Package message analyses one e-mail message for the rules engine: its
// header fields (raw and RFC 2047-decoded), the text of its text/plain and
// text/html parts decoded to UTF-8 (HTML rendered to text), the URIs in that
// text and in HTML attributes, facts about its HTML, its MIME parts and
// attachments, and the envelope and connection context when the caller
// knows it.
//
// Parsing follows what SpamAssassin does with the same message, because the
// rules that run on the result are SpamAssassin's: malformed MIME is
// tolerated (a multipart body without its boundary is read as text, a part
// header without a blank line ends where the body visibly starts, broken
// base64 and quoted-printable are decoded leniently), undeclared or unknown
// character sets fall back to Windows-1252, and the same parse anomalies
// are recorded (see [Message.Anomalies]).
//
// Parsing is bounded. [Limits] caps the size read, the number of MIME parts,
// their nesting, the header fields and their length, the decoded text kept
// and the wall time spent. Hitting a limit is not an error: Parse stops that
// piece of work, names the limit in [Message.Limits] and returns what it
// has, so that the rules engine can turn the limit into a rule hit of its
// own. Parse returns an error only when reading fails or ctx ends.
//
// The MIME header model and parameter parsing come from
// github.com/emersion/go-message; character sets are decoded with
// github.com/emersion/go-message/charset (golang.org/x/text); HTML is
// tokenised with golang.org/x/net/html. The boundary scanning and the
// transfer decoders are this package's own because SpamAssassin's rules
// expect its leniency where go-message's readers stop with an error (a
// preamble line longer than 4 KiB, a part header line without a colon,
// a stray character in base64).
package message

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Limits bounds the work Parse does on one message. A zero field takes its
// default. Hitting a limit is recorded in [Message.Limits] under the name
// given with each field.
type Limits struct {
	// MaxSize is how many bytes of the message are read ("size");
	// the rest is not read at all. Default 25 MiB.
	MaxSize int64
	// MaxParts is how many MIME parts are analysed ("parts"); parsing
	// stops at the next part after that. Default 1000.
	MaxParts int
	// MaxDepth is how deeply multipart and message/rfc822 containers are
	// opened ("depth"); a container deeper than that is kept as one opaque
	// part. Default 20.
	MaxDepth int
	// MaxHeaders is how many header fields of one header section are kept
	// ("headers"); further fields are skipped. Default 1000.
	MaxHeaders int
	// MaxHeaderLen is how many bytes of one header field (name, colon,
	// value and folded lines) are kept ("header_len"); the rest of the
	// field is skipped. Default 64 KiB.
	MaxHeaderLen int
	// MaxBodyText is how many bytes of decoded text/* and message/* part
	// content are kept per message for body rules ("text"); content past
	// it is decoded only to count its size. It also caps RawBody, whose
	// truncation is not a limit hit. Default 1 MiB.
	MaxBodyText int
	// Budget is the wall time Parse may spend on the message ("budget").
	// It is checked for every 32 KiB read, for every part and while
	// rendering HTML. Default 2s.
	Budget time.Duration
}

// Default limits, used for the zero fields of a [Limits].
const (
	DefaultMaxSize      = 25 << 20
	DefaultMaxParts     = 1000
	DefaultMaxDepth     = 20
	DefaultMaxHeaders   = 1000
	DefaultMaxHeaderLen = 64 << 10
	DefaultMaxBodyText  = 1 << 20
	DefaultBudget       = 2 * time.Second
)

// Names of the limits as recorded in [Message.Limits].
const (
	LimitSize      = "size"
	LimitParts     = "parts"
	LimitDepth     = "depth"
	LimitHeaders   = "headers"
	LimitHeaderLen = "header_len"
	LimitBudget    = "budget"
	LimitText      = "text"
)

// withDefaults returns l with every zero or negative field set to its
// default.
func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = DefaultMaxHeaders
	}
	if l.MaxHeaderLen <= 0 {
		l.MaxHeaderLen = DefaultMaxHeaderLen
	}
	if l.MaxBodyText <= 0 {
		l.MaxBodyText = DefaultMaxBodyText
	}
	if l.Budget <= 0 {
		l.Budget = DefaultBudget
	}
	return l
}

// Context is what the caller knows about how the message entered the
// system: it comes from the queue file or the log, not from the message,
// and Parse leaves it zero for the caller to fill in.
type Context struct {
	// Authenticated reports a SASL-authenticated submission.
	Authenticated bool
	// AuthUser is the authenticated user name, if any.
	AuthUser string
	// HELO is the name the client gave in HELO/EHLO.
	HELO string
	// ClientIP is the submitting client's address; the zero Addr if
	// unknown or a local submission.
	ClientIP netip.Addr
	// Recipients are the envelope recipients (RCPT TO).
	Recipients []string
	// Sender is the envelope sender (MAIL FROM), "" for the null sender.
	Sender string
	// Account is the account the message is attributed to.
	Account string
}

// Header is one header field.
type Header struct {
	// Name is the field name as written, without trailing blanks.
	Name string
	// Raw is the field value as written, unfolded (line breaks of folded
	// lines removed, their leading blanks kept) and trimmed of leading
	// and trailing blanks.
	Raw string
	// Value is the value as SpamAssassin's header rules see it: every
	// fold and its leading blanks become one space, RFC 2047 encoded
	// words are decoded (except in Received, Message-ID, Date,
	// MIME-Version, References, In-Reply-To and List-* fields), and the
	// result is UTF-8. No trailing newline.
	Value string
}

// Part is one MIME entity of the message that is not a multipart
// container: a leaf, or a message/rfc822 part (whose own entities follow
// it in [Message.Parts]).
type Part struct {
	// Path numbers the part the way IMAP does: "1" for a message that is
	// not multipart, "1", "2", "2.1" … for parts of a multipart, "3.1" for
	// the body of the message attached as part 3.
	Path string
	// ContentType is the lower-cased media type as SpamAssassin reads it:
	// text/plain if the header is missing or unparseable, and text/plain
	// for text/* types other than text/html, text/calendar and
	// text/x-vcard. A missing type inside multipart/digest is
	// message/rfc822.
	ContentType string
	// Parent is the media type of the enclosing multipart ("" at the top
	// or directly inside a message/rfc822 part).
	Parent string
	// Charset is the declared charset parameter, lower-cased, or "".
	Charset string
	// Encoding is the Content-Transfer-Encoding, lower-cased, or "".
	Encoding string
	// Disposition is the lower-cased Content-Disposition type ("inline",
	// "attachment") or "".
	Disposition string
	// Filename is the decoded file name from Content-Disposition's
	// filename or Content-Type's name parameter, or "".
	Filename string
	// Size is the decoded size of the part body in bytes.
	Size int64
	// MaxLineLen is the length in bytes of the longest line of the part
	// body as encoded in the message (for base64 line-length rules).
	MaxLineLen int
	// IsAttachment reports a part meant as a file: Content-Disposition
	// attachment, or a file name given.
	IsAttachment bool
	// Headers are the part's own header fields. For the first entity of
	// an attached message they are that message's header.
	Headers []Header
	// Content is the part body transfer-decoded and converted to UTF-8,
	// for text/* and message/* parts (the HTML source for text/html);
	// "" for other types. It counts against Limits.MaxBodyText.
	Content string
	// Text is what the part contributes to [Message.Text]: Content for
	// text/plain, the rendered text for text/html, "" otherwise. It
	// shares memory with Message.Text.
	Text string

	container bool // a message/rfc822 part whose message was parsed
	eightBit  bool // the text part's bytes were not all ASCII
}

// Message is the analysis of one message.
type Message struct {
	// Headers are the top-level header fields in order, all of them up to
	// Limits.MaxHeaders.
	Headers []Header
	// RawHeader is the header section as in the input, including the
	// blank line that ends it, so that RawHeader+RawBody is the message
	// as read (for "full" rules). Fields past the header limits are cut
	// as they are in Headers.
	RawHeader string
	// Text is the body as SpamAssassin's body rules see it before
	// whitespace normalisation: the decoded text/plain parts and the
	// rendered text/html parts (including text attachments, and parts of
	// attached messages) in order, with a newline before every part once
	// there is text (also before parts that add none, as there). At most
	// Limits.MaxBodyText bytes of part content are decoded into it. The
	// Subject is not included; [Message.BodyLines] gives SpamAssassin's
	// body array, with the Subject first and paragraphs as lines.
	Text string
	// RawBody is the body as in the input (not decoded), at most
	// Limits.MaxBodyText bytes; truncating it is not a limit hit.
	RawBody string
	// HTML is the source of each text/html part, decoded to UTF-8.
	HTML []string
	// HTMLStats holds the facts SpamAssassin's HTML eval tests use, one
	// entry per element of HTML.
	HTMLStats []HTMLStats
	// URIs are the URIs found in the Subject and Text (scheme URLs,
	// schemeless www./ftp. hosts, e-mail addresses as mailto:) and in
	// HTML attributes (href, src, action, background, meta refresh),
	// normalised (scheme and host lower-cased, schemeless hosts given
	// http:// or ftp://, relative references resolved against <base>
	// and dropped when they stay relative), unique, in order of
	// appearance. They are for reporting; uri rules match
	// [Message.URIList], SpamAssassin's list.
	URIs []string
	// Parts are the MIME parts in document order (see [Part]).
	Parts []Part
	// Attachments are the parts of Parts with IsAttachment set.
	Attachments []Part
	// Size is the number of bytes read (at most Limits.MaxSize).
	Size int64
	// Limits names the limits hit (the Limit* constants), each once, in
	// the order they were hit.
	Limits []string
	// Anomalies names the irregularities SpamAssassin records while
	// parsing (for check_msg_parse_flags and check_for_mime), each once:
	// "missing_head_body_separator", "missing_mime_head_body_separator",
	// "missing_mime_headers", "truncated_header" (a field longer than
	// 8192 bytes or a name longer than 256), "mime_epilogue_exists",
	// "mimepart_limit_exceeded".
	Anomalies []string
	// Context is the envelope and connection context; Parse leaves it
	// zero.
	Context Context

	htmlURIs []string // URIs of HTML attributes as written, for URIList
}

// Get returns the top-level header fields named name (case-insensitive),
// in order.
func (m *Message) Get(name string) []Header {
	var hs []Header
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			hs = append(hs, h)
		}
	}
	return hs
}

// First returns the decoded value of the first top-level header field
// named name (case-insensitive), or "".
func (m *Message) First(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// HitLimit reports whether the limit named name was hit.
func (m *Message) HitLimit(name string) bool {
	for _, l := range m.Limits {
		if l == name {
			return true
		}
	}
	return false
}

// Parse reads and analyses one message from r within the limits lim (zero
// fields take their defaults). Hitting a limit is not an error (see
// [Message.Limits]); Parse returns an error only if reading r fails or ctx
// is cancelled or expires, and then no Message.
func Parse(ctx context.Context, r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	p := newParser(ctx, r, lim)
	defer p.release()
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.msg, nil
}
