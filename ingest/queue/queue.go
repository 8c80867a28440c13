// Package queue reads the messages waiting in an MTA's queue — Postfix queue
// files, Exim spool -H/-D pairs and directories of .eml files — into one
// type, Queued: the envelope (sender, recipients, authenticated user, client
// address, HELO, local submitting user, arrival time) and the message content,
// capped at a configurable size, ready for the scorer.
//
// Everything here is read-only: files are opened O_RDONLY (and, where the
// system allows, without updating their access time), never locked, renamed
// or written. Queues change under the reader all the time — Postfix moves a
// file from incoming to active to deferred, delivery removes it, Exim
// rewrites -H after each attempt — so a file that vanishes between listing
// and reading is skipped and counted, not an error.
//
// Watcher scans queue directories on an interval and on
// file-system notifications and hands each message to its callback once,
// keyed by queue id, inode and arrival time (Key); after each full scan it
// reports the queue's size per queue and account, the deferred queue's
// being a reputation signal of its own.
package queue

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// readers recycles the buffered readers the parsers use: a queue scan reads
// thousands of small files.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}

// Kind names a queue format.
type Kind uint8

// Queue formats.
const (
	KindPostfix Kind = iota + 1 // Postfix queue_directory (record-format queue files)
	KindExim                    // Exim spool_directory (or its input directory)
	KindEML                     // a directory of RFC 5322 .eml files, envelope unknown
)

var kindNames = [...]string{"", "postfix", "exim", "eml"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses "postfix", "exim" or "eml" (as written in configuration).
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if i > 0 && strings.EqualFold(s, n) {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("queue kind %q: want postfix, exim or eml", s)
}

// DefaultMaxContent is the content cap Options uses when MaxContent is 0.
const DefaultMaxContent = 10 << 20

// Queued is one message waiting in a queue. Fields the format does not
// record are left zero: a .eml file has no envelope, a Postfix message from
// the pickup daemon has no client address, an Exim message received over
// SMTP has no local user.
type Queued struct {
	Kind    Kind
	QueueID string // Postfix queue id (the file name), Exim message id, .eml base name
	// Queue is where the message waits: for Postfix the queue directory
	// (incoming, active, deferred, hold, maildrop); for Exim "incoming"
	// (no delivery attempted yet), "deferred" (attempted, still queued) or
	// "frozen"; "" for .eml files.
	Queue string
	Path  string    // the file read: Postfix queue file, Exim -H file, .eml file
	Inode uint64    // Postfix queue file, Exim -D file (its -H is replaced on every attempt), .eml file
	MTime time.Time // modification time of Path
	Size  int64     // bytes on disk: the queue file, -H plus -D, the .eml file

	// Arrival is when the MTA accepted the message (Postfix T record, Exim
	// -H fourth line; a .eml file's modification time).
	Arrival    time.Time
	Sender     string   // envelope sender; "" for the null sender <>
	Recipients []string // envelope recipients in queue order, delivered ones included
	Pending    int      // recipients not yet delivered

	AuthUser   string         // SASL / SMTP AUTH user (Postfix sasl_username, Exim -auth_id)
	AuthMethod string         // SASL mechanism or authenticator (PLAIN, login, …)
	ClientIP   netip.Addr     // SMTP client address (the original client behind a content filter)
	ClientHost string         // SMTP client's verified host name, if looked up
	HELO       string         // SMTP HELO/EHLO name
	Protocol   string         // ESMTP, esmtpa, local, …
	ServerAddr netip.AddrPort // local address and port the message arrived on
	// LocalUID is the uid of the local user who submitted the message
	// (sendmail/postdrop, exim -bm), or -1 when it did not come from a
	// local user or the queue does not say. LocalUser is that user's login
	// name, or the uid in decimal when it has no name here.
	LocalUID  int
	LocalUser string

	// Content is the message as the MTA would transmit it (headers, blank
	// line, body; lines end in "\n" as the queue stores them), at most the
	// reader's content cap. ContentSize is the full size; Truncated says
	// Content stops short of it. An envelope-only read (cap 0) does not
	// read the content: Content is empty, ContentSize 0, Truncated true.
	Content     []byte
	ContentSize int64
	Truncated   bool
}

// Key identifies a queued message for "handle each message once": the
// queue id, the inode of the file that holds the message for its whole life,
// and the arrival time. A Postfix message keeps all three across incoming →
// active → deferred; a reused queue id and inode come with a new arrival
// time. (Modification times would not do: Postfix sets a deferred file's
// mtime to its next retry time, and Exim rewrites -H after every attempt.)
type Key struct {
	QueueID string
	Inode   uint64
	Arrival int64 // Unix nanoseconds
}

// Key returns q's identity for deduplication.
func (q *Queued) Key() Key {
	k := Key{QueueID: q.QueueID, Inode: q.Inode}
	if !q.Arrival.IsZero() {
		k.Arrival = q.Arrival.UnixNano()
	}
	return k
}

// DefaultAccount attributes q as DESIGN §3's default precedence does:
// authenticated user, then local submitting user, then the sender's domain,
// lower-cased; "" when none is known. Callers with a configured attribution
// pass their own function to Watcher.
func DefaultAccount(q *Queued) string {
	switch {
	case q.AuthUser != "":
		return strings.ToLower(q.AuthUser)
	case q.LocalUser != "":
		return strings.ToLower(q.LocalUser)
	}
	if i := strings.LastIndexByte(q.Sender, '@'); i >= 0 && i < len(q.Sender)-1 {
		return strings.ToLower(q.Sender[i+1:])
	}
	return ""
}

// content accumulates message content up to a cap, counting what it drops.
type content struct {
	buf   []byte
	limit int64 // bytes to keep; 0 keeps none
	size  int64 // bytes offered
}

// reserve makes room for n more bytes (as far as the cap allows), so that a
// message whose size is known is copied once.
func (c *content) reserve(n int64) {
	want := min(c.limit-int64(len(c.buf)), n)
	if want > 0 && int64(cap(c.buf)-len(c.buf)) < want {
		c.buf = slices.Grow(c.buf, int(want))
	}
}

// full reports whether further bytes would be dropped.
func (c *content) full() bool { return int64(len(c.buf)) >= c.limit }

func (c *content) write(p []byte) {
	c.size += int64(len(p))
	if room := c.limit - int64(len(c.buf)); room > 0 {
		if int64(len(p)) > room {
			p = p[:room]
		}
		c.buf = append(c.buf, p...)
	}
}

func (c *content) writeByte(b byte) {
	c.size++
	if int64(len(c.buf)) < c.limit {
		c.buf = append(c.buf, b)
	}
}

// finish stores the content into q.
func (c *content) finish(q *Queued) {
	q.Content = c.buf
	q.ContentSize = c.size
	q.Truncated = c.size > int64(len(c.buf))
}
