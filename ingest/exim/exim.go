// Package exim owns the parsing of Exim main-log lines, including the lines
// cPanel's Exim configuration adds (the outbound SpamAssassin scanner
// verdicts, "SMTP connection outbound" and "cwd=… args:" lines), into
// ingest events.
//
// The parser sees a record whose header (date, optional [pid], optional
// timezone, or a syslog header) was already parsed off by ingest/syslog, so
// Msg starts with the message id or the text. It works on substrings of the
// message with hand-written scanning (no regular expressions) so that it
// keeps up with the pipeline's line rate.
package exim

import (
	"fmt"
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// Owns reports whether program is a syslog program name Exim logs under:
// "exim", "exim4", optionally with a "[pid]" suffix. The syslog parser
// reports bare main-log lines with Program "exim".
func Owns(program string) bool {
	if i := strings.IndexByte(program, '['); i >= 0 {
		if !strings.HasSuffix(program, "]") {
			return false
		}
		program = program[:i]
	}
	return program == "exim" || program == "exim4"
}

// Parser turns Exim main-log records into events. It keeps no state
// between lines, so the zero value is ready to use and a Parser may be
// shared by sequential callers.
//
// Kinds emitted: "<=" arrivals (KindReceived then KindQueued), "=>", "->"
// and ">>" deliveries (KindDelivered), "**" (KindBounced), "==" (KindDeferred),
// "Completed" (KindRemoved), "Frozen" (KindHeld), ACL and local_scan
// rejections (KindRejected), cPanel outbound scanner verdicts (KindFiltered
// and KindScored, Source cpanel) and cPanel "cwd=/home/USER…" and "SMTP
// connection outbound" lines that carry a pid (KindAuth). Other lines of
// Exim's own vocabulary are ignored; text Exim does not write by itself
// (typically an ACL's logwrite) is reported as ingest.ErrMalformed.
type Parser struct{}

// New returns a Parser. It exists for symmetry with the other parsers; the
// zero value is equally usable.
func New() *Parser { return &Parser{} }

var _ ingest.Parser = (*Parser)(nil)

// Parse implements ingest.Parser. It appends the events of rec to dst; on
// error dst is returned unchanged (at its original length).
func (p *Parser) Parse(dst []ingest.Event, rec *ingest.Record) ([]ingest.Event, error) {
	n0 := len(dst)
	msg, pid := stripInnerHeader(rec.Msg)
	if rec.PID != 0 {
		pid = rec.PID
	}
	l := line{rec: rec, pid: pid, dst: dst}
	var err error
	if id, rest, ok := cutMessageID(msg); ok {
		l.qid = id
		err = l.message(rest)
	} else {
		err = l.other(msg)
	}
	if err != nil {
		return dst[:n0], fmt.Errorf("exim: %w: %w (line %q)", ingest.ErrMalformed, err, rec.Line)
	}
	return l.dst, nil
}

// line is the state of parsing one record.
type line struct {
	rec *ingest.Record
	pid int
	qid string
	dst []ingest.Event
}

// add appends a fresh event carrying the record's header facts and the
// line's queue id, reusing the Rules backing array of a recycled slot.
func (l *line) add(kind ingest.Kind) *ingest.Event {
	if len(l.dst) < cap(l.dst) {
		l.dst = l.dst[:len(l.dst)+1]
	} else {
		l.dst = append(l.dst, ingest.Event{})
	}
	ev := &l.dst[len(l.dst)-1]
	ev.Reset()
	ev.Time = l.rec.Time
	ev.Host = l.rec.Host
	ev.Program = l.rec.Program
	ev.PID = l.pid
	ev.Source = ingest.SourceExim
	ev.Kind = kind
	ev.QueueID = l.qid
	return ev
}

// dup appends a copy of the last event with another kind.
func (l *line) dup(kind ingest.Kind) {
	i := len(l.dst) - 1
	ev := l.add(kind)
	rules := ev.Rules
	*ev = l.dst[i]
	ev.Rules = append(rules[:0], l.dst[i].Rules...)
	ev.Kind = kind
}

// message parses the text after a message id.
func (l *line) message(s string) error {
	if len(s) >= 3 && s[2] == ' ' {
		switch s[:2] {
		case "<=", "(=": // "(=" is a fakereject'ed arrival: accepted all the same.
			return l.arrival(s[3:])
		case "=>", "->", ">>":
			return l.delivery(s[3:])
		case "*>": // delivery suppressed by -N
			return nil
		case "**":
			return l.failure(ingest.KindBounced, s[3:])
		case "==":
			return l.failure(ingest.KindDeferred, s[3:])
		}
	}
	switch {
	case s == "Completed" || strings.HasPrefix(s, "Completed "):
		l.add(ingest.KindRemoved)
		return nil
	case s == "Frozen" || strings.HasPrefix(s, "Frozen "):
		l.add(ingest.KindHeld)
		return nil
	case strings.HasPrefix(s, "SMTP connection outbound "):
		return l.outbound(s[len("SMTP connection outbound "):])
	case startsWithField(s):
		return l.fieldLine(s)
	case s == "",
		hasAnyPrefix(s, messageIgnored),
		strings.Contains(s, ": error ignored"),
		strings.Contains(s, " authenticator failed"),
		strings.Contains(s, " authenticator cancelled"):
		return nil
	}
	return errUnknown(s)
}

// other parses a line without a message id.
func (l *line) other(s string) error {
	switch {
	case s == "": // an empty logwrite
		return nil
	case strings.HasPrefix(s, "cwd="):
		return l.cwd(s[len("cwd="):])
	case startsWithField(s):
		return l.fieldLine(s)
	case strings.HasPrefix(s, "rejected "), strings.HasPrefix(s, "temporarily rejected "):
		return l.rejection(s)
	case hasAnyPrefix(s, lineIgnored),
		strings.Contains(s, " authenticator failed for "):
		return nil
	}
	return errUnknown(s)
}

// fieldLine handles lines that start with connection fields (H=, F=, U=…):
// rejections, cPanel scanner warnings, and connection-level notes.
func (l *line) fieldLine(s string) error {
	if strings.Contains(s, "Warning: \"SpamAssassin as ") {
		if done, err := l.scannerWarning(s); done || err != nil {
			return err
		}
	}
	if rejectIndex(s) >= 0 {
		return l.rejection(s)
	}
	// "H=… [ip] Connection timed out", "H=… sender verify fail for <…>",
	// "H=… Warning: …", "H=[ip] dropped by 'connect' ACL": facts about a
	// connection or a delivery attempt that a counted line follows (or, for
	// verify failures, that the following reject line counts).
	return nil
}

func errUnknown(s string) error {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Errorf("unrecognised text %q", s)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// messageIgnored lists the starts of per-message lines Exim writes that
// carry nothing to count: the counted line precedes or follows them.
var messageIgnored = []string{
	"Message is frozen",
	"Unfrozen",
	"removed by ",
	"retry time not reached",
	"Spool file is locked",
	"SMTP error from remote mail server",
	"SMTP data timeout",
	"SMTP connection ",
	"SMTP protocol",
	"SMTP syntax error",
	"DKIM: ",
	"DKIM ",
	"SA: ", // sa-exim verdict lines
	"Warning: ",
	"no immediate delivery",
	"cancelled by system filter",
	"Sender identification ",
	"Authentication-Results: ",
	"tls:cert ", // tls event logging
	"peer close",
	"error ignored",
	"skipping ",
	"lowest numbered MX record points to local host",
	"unable to set gid",
	"failed to expand ",
	"Message size limit",
	"discarded by ",
	"no recipients",
	"qualify/rewrite: ",
	"spam acl condition: ",
	"malware acl condition: ",
	"TLS session: ",
	"TLS error ",
}

// lineIgnored lists the starts of lines without a message id that Exim
// writes about connections, queue runs and the daemon: nothing to count.
var lineIgnored = []string{
	"SMTP ", // connection, call, protocol, syntax and timeout notes
	"no MAIL in SMTP connection",
	"no host name found for IP address",
	"no IP address found for host",
	"Start queue run",
	"End queue run",
	"exim ", // "exim 4.96 daemon started: …"
	"daemon started",
	"Connection from ",
	"TLS error on ",
	"TLS session",
	"unexpected disconnection",
	"sender verify ",
	"recipient verify ",
	"Warning: ",
	"spam acl condition",
	"malware acl condition",
	"DNS list lookup defer",
	"LOG: ",
	"pid ",
	"Spool file is locked",
	"lowest numbered MX record points to local host",
	"failed to expand ",
	"Authentication-Results: ",
	"ratelimit ",
	"dropped by ",
	"bind of ",
	"qualify/rewrite: ",
	"ACL ", // configuration errors met while running an ACL
}

// stripInnerHeader removes an Exim date, timezone and "[pid]" that a
// syslog- or journald-wrapped line repeats inside the message
// ("exim[3751842]: 2021-07-17 23:20:49 …", "exim[8003]: [8003] …"), and
// returns the pid found (0 if none).
func stripInnerHeader(s string) (string, int) {
	if len(s) >= 20 && isDate(s) {
		s = s[19:]
		if len(s) > 0 && s[0] == '.' { // fractional seconds
			i := 1
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			s = s[i:]
		}
		if len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		if len(s) >= 6 && (s[0] == '+' || s[0] == '-') && allDigits(s[1:5]) && s[5] == ' ' {
			s = s[6:]
		}
	}
	pid := 0
	if len(s) > 2 && s[0] == '[' {
		i := 1
		v := 0
		for i < len(s) && isDigit(s[i]) && i < 12 {
			v = v*10 + int(s[i]-'0')
			i++
		}
		if i > 1 && i+1 < len(s) && s[i] == ']' && s[i+1] == ' ' {
			pid = v
			s = s[i+2:]
		}
	}
	return s, pid
}

// isDate reports whether s starts with "YYYY-MM-DD HH:MM:SS".
func isDate(s string) bool {
	const layout = "dddd-dd-dd dd:dd:dd"
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if !isDigit(s[i]) {
				return false
			}
		} else if s[i] != layout[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// IsMessageID reports whether s is an Exim message id: "1ajLoq-0001wC-Pk"
// (6-6-2, before Exim 4.97) or "1r6Bwm-000000002h3-2n4V" (6-11-4, 4.97 and
// later), in Exim's base-62 alphabet.
func IsMessageID(s string) bool {
	var b int // length of the middle part
	switch len(s) {
	case 16:
		b = 6
	case 23:
		b = 11
	default:
		return false
	}
	if s[6] != '-' || s[7+b] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 6 || i == 7+b {
			continue
		}
		if !isBase62(s[i]) {
			return false
		}
	}
	return true
}

// cutMessageID splits a leading message id off s.
func cutMessageID(s string) (id, rest string, ok bool) {
	for _, n := range [2]int{16, 23} {
		if len(s) >= n && (len(s) == n || s[n] == ' ') && IsMessageID(s[:n]) {
			if len(s) == n {
				return s, "", true
			}
			return s[:n], s[n+1:], true
		}
	}
	return "", s, false
}
