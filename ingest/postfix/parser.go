// Package postfix owns the parsing of Postfix log messages: it turns the
// message of one syslog record logged by a Postfix daemon (postfix/smtpd,
// postfix-out2/smtp, postfix/submission/smtpd, …) into ingest events.
//
// The parser is stateless: joining the lines of one message by queue id is
// the correlator's job. It emits exactly the events the correlator and the
// ledger rely on (see Parser), ignores on purpose the lines that carry
// nothing to count (see ignore.go for the explicit list), and reports any
// other line as malformed, so that log formats it does not know surface
// instead of being silently dropped.
package postfix

import (
	"fmt"
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// Parser parses Postfix log messages. The zero value is ready to use; it
// keeps no state, so one Parser may serve any number of log files.
//
// Events, by daemon (the last element of the syslog program name):
//
//   - smtpd "QID: client=…": KindReceived with ClientHost, ClientIP and the
//     SASL user as AuthUser.
//   - pickup "QID: uid=N from=<s>" or "QID: sender=<s>": KindReceived with
//     the uid as LocalUser and Sender.
//   - cleanup "QID: message-id=<m>": KindInfo with MessageID.
//   - qmgr "QID: from=<s>, size=N, nrcpt=N (queue active)": KindQueued;
//     "QID: removed": KindRemoved; "QID: from=<s>, status=expired, returned
//     to sender": KindExpired.
//   - any daemon "QID: to=<r>, relay=…, …, status=sent|deferred|bounced|
//     expired (reply)": KindDelivered, KindDeferred, KindBounced or
//     KindExpired, with NextQueueID when a sent reply says "queued as QID2"
//     or "forwarded as QID2".
//   - smtpd, postscreen and cleanup "reject:", "milter-reject:",
//     "proxy-reject:" (with or without a queue id, NOQUEUE included):
//     KindRejected; "hold:" KindHeld; "discard:" KindDiscarded.
//   - postsuper "QID: removed": KindRemoved; "QID: placed on hold": KindHeld.
//
// Every event carries the record's Time, Host, Program and PID, Source
// SourcePostfix, and Transport: the master.cf service name (the middle
// element of "postfix/submission/smtpd", else the daemon name).
type Parser struct{}

// New returns a Parser. It exists for symmetry with the other parsers; the
// zero value works just as well.
func New() *Parser { return &Parser{} }

var _ ingest.Parser = (*Parser)(nil)

// Owns reports whether a syslog program name is a Postfix daemon's:
// "postfix/DAEMON", "postfix/SERVICE/DAEMON" or "postfix-INSTANCE/…", with
// no empty path element.
func Owns(program string) bool {
	_, _, ok := splitProgram(program)
	return ok
}

// splitProgram splits a Postfix program name into the master.cf service
// (transport) and the daemon (the last path element).
func splitProgram(prog string) (transport, daemon string, ok bool) {
	rest, found := strings.CutPrefix(prog, "postfix")
	if !found || rest == "" {
		return "", "", false
	}
	if rest[0] == '-' {
		i := strings.IndexByte(rest, '/')
		if i <= 1 {
			return "", "", false
		}
		rest = rest[i:]
	}
	if rest[0] != '/' {
		return "", "", false
	}
	rest = rest[1:]
	last := strings.LastIndexByte(rest, '/')
	daemon = rest[last+1:]
	if daemon == "" {
		return "", "", false
	}
	if last < 0 {
		return daemon, daemon, true
	}
	// The transport is the element just before the daemon; every element
	// must be non-empty.
	head := rest[:last]
	if head == "" || head[0] == '/' || head[len(head)-1] == '/' || strings.Contains(head, "//") {
		return "", "", false
	}
	return head[strings.LastIndexByte(head, '/')+1:], daemon, true
}

// service is the class of a Postfix daemon, which decides which message
// shapes the parser expects from it.
type service uint8

const (
	svcUnknown    service = iota
	svcSMTPD              // smtpd, qmqpd: receptions and rejections
	svcPostscreen         // postscreen: rejections, the rest is ignored
	svcCleanup            // cleanup: message-id, header/body/milter actions
	svcQmgr               // qmgr, oqmgr: queued, removed, expired
	svcPickup             // pickup: local submissions
	svcPostsuper          // postsuper: removed, held
	svcBounce             // bounce (also runs as defer and trace)
	svcDelivery           // delivery agents
	svcQuiet              // daemons whose every line is ignored
)

// classify maps a daemon name to its service class.
func classify(daemon string) service {
	switch daemon {
	case "smtpd", "qmqpd":
		return svcSMTPD
	case "postscreen":
		return svcPostscreen
	case "cleanup":
		return svcCleanup
	case "qmgr", "oqmgr":
		return svcQmgr
	case "pickup":
		return svcPickup
	case "postsuper":
		return svcPostsuper
	case "bounce", "defer", "trace":
		return svcBounce
	case "smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "retry":
		return svcDelivery
	}
	if isQuietDaemon(daemon) {
		return svcQuiet
	}
	return svcUnknown
}

// line is the parsing context of one record.
type line struct {
	rec       *ingest.Record
	transport string
	daemon    string
}

// Parse appends the events of rec's message to dst. See Parser for what it
// emits. A line it ignores on purpose yields no events and a nil error; a
// line it cannot understand yields an error wrapping ingest.ErrMalformed that
// names the daemon and quotes the start of the message.
func (p *Parser) Parse(dst []ingest.Event, rec *ingest.Record) ([]ingest.Event, error) {
	transport, daemon, ok := splitProgram(rec.Program)
	if !ok {
		return dst, fmt.Errorf("postfix: program %q is not a postfix daemon: %w", excerpt(rec.Program), ingest.ErrMalformed)
	}
	l := line{rec: rec, transport: transport, daemon: daemon}
	svc := classify(daemon)
	if svc == svcUnknown {
		return dst, l.malformed("unknown postfix daemon", rec.Msg)
	}
	if svc == svcQuiet {
		return dst, nil
	}
	qid, rest, hasID := cutQueueID(rec.Msg)
	n := len(dst)
	var err error
	handled := false
	switch svc {
	case svcSMTPD, svcPostscreen:
		dst, handled, err = l.smtpd(dst, qid, rest, svc == svcSMTPD)
	case svcCleanup:
		dst, handled, err = l.cleanup(dst, qid, rest)
	case svcQmgr:
		dst, handled, err = l.qmgr(dst, qid, rest)
	case svcPickup:
		dst, handled, err = l.pickup(dst, qid, rest)
	case svcPostsuper:
		dst, handled, err = l.postsuper(dst, qid, rest)
	case svcBounce, svcDelivery:
		if qid != "" && strings.HasPrefix(rest, "to=") {
			dst, err = l.delivery(dst, qid, rest)
			handled = true
		}
	}
	if err != nil {
		return dst[:n], err
	}
	if handled {
		return dst, nil
	}
	if isIgnored(svc, rest, hasID) {
		return dst, nil
	}
	return dst, l.malformed("unrecognised message", rec.Msg)
}

// event appends an event of kind k for queue id qid carrying the record's
// header fields and returns a pointer to it.
func (l *line) event(dst []ingest.Event, k ingest.Kind, qid string) ([]ingest.Event, *ingest.Event) {
	dst = append(dst, ingest.Event{
		Time:      l.rec.Time,
		Host:      l.rec.Host,
		Program:   l.rec.Program,
		PID:       l.rec.PID,
		Source:    ingest.SourcePostfix,
		Kind:      k,
		QueueID:   qid,
		Transport: l.transport,
	})
	return dst, &dst[len(dst)-1]
}

// malformed returns an error wrapping ingest.ErrMalformed that names the
// daemon, the reason and the start of the offending text.
func (l *line) malformed(reason, text string) error {
	return fmt.Errorf("postfix %s: %s: %w: %q", l.daemon, reason, ingest.ErrMalformed, excerpt(text))
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// smtpd handles smtpd and postscreen messages: receptions (smtpd only) and
// the reject/hold/discard family.
func (l *line) smtpd(dst []ingest.Event, qid, rest string, isSMTPD bool) ([]ingest.Event, bool, error) {
	if isSMTPD && qid != "" {
		if v, ok := strings.CutPrefix(rest, "client="); ok {
			dst, err := l.received(dst, qid, v)
			return dst, true, err
		}
	}
	return l.action(dst, qid, rest)
}

// received parses the value of smtpd "client=name[ip], sasl_method=M,
// sasl_username=U, …".
func (l *line) received(dst []ingest.Event, qid, s string) ([]ingest.Event, error) {
	client, fields, _ := strings.Cut(s, ", ")
	host, ip, tail, ok := cutClient(client)
	if !ok || (tail != "" && !isPort(tail)) {
		return dst, l.malformed("bad client= value", s)
	}
	dst, ev := l.event(dst, ingest.KindReceived, qid)
	ev.ClientHost, ev.ClientIP = host, ip
	for fields != "" {
		var f string
		f, fields, _ = strings.Cut(fields, ", ")
		if v, ok := strings.CutPrefix(f, "sasl_username="); ok {
			ev.AuthUser = v
		}
	}
	return dst, nil
}

// action handles "[QID|NOQUEUE: ]ACTION: …" lines of smtpd, postscreen and
// cleanup, where ACTION is reject, hold, discard and their milter-, proxy-
// and header-/body- variants. It reports handled=false for messages that are
// not action lines.
func (l *line) action(dst []ingest.Event, qid, rest string) ([]ingest.Event, bool, error) {
	word, body, ok := strings.Cut(rest, ": ")
	if !ok || strings.IndexByte(word, ' ') >= 0 {
		return dst, false, nil
	}
	var k ingest.Kind
	switch actionVerb(word) {
	case "reject":
		k = ingest.KindRejected
	case "hold":
		k = ingest.KindHeld
	case "discard":
		k = ingest.KindDiscarded
	default:
		return dst, false, nil
	}
	dst, ev := l.event(dst, k, qid)
	if !parseReject(ev, body) {
		return dst[:len(dst)-1], true, l.malformed(word+" line without a recognisable command or client", rest)
	}
	return dst, true, nil
}

// actionVerb reduces an action word to its verb: "milter-reject",
// "proxy-reject", "milter-header-reject" and "reject" all give "reject".
// "reject_warning" stays as it is (and is ignored).
func actionVerb(w string) string {
	w, _ = strings.CutPrefix(w, "milter-")
	w, _ = strings.CutPrefix(w, "proxy-")
	if v, ok := strings.CutPrefix(w, "header-"); ok {
		return v
	}
	if v, ok := strings.CutPrefix(w, "body-"); ok {
		return v
	}
	return w
}

// cleanup handles cleanup messages: message-id and header/body/milter
// actions.
func (l *line) cleanup(dst []ingest.Event, qid, rest string) ([]ingest.Event, bool, error) {
	if qid != "" {
		if v, ok := strings.CutPrefix(rest, "message-id="); ok {
			if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
				v = v[1 : len(v)-1]
			}
			if v == "" {
				return dst, true, nil // message-id=<>: nothing to record
			}
			dst, ev := l.event(dst, ingest.KindInfo, qid)
			ev.MessageID = v
			return dst, true, nil
		}
	}
	return l.action(dst, qid, rest)
}

// qmgr handles qmgr messages.
func (l *line) qmgr(dst []ingest.Event, qid, rest string) ([]ingest.Event, bool, error) {
	if qid == "" {
		return dst, false, nil
	}
	switch {
	case rest == "removed":
		dst, _ = l.event(dst, ingest.KindRemoved, qid)
		return dst, true, nil
	case strings.HasPrefix(rest, "from="):
		dst, err := l.qmgrFrom(dst, qid, rest[len("from="):])
		return dst, true, err
	case strings.HasPrefix(rest, "to="):
		dst, err := l.delivery(dst, qid, rest)
		return dst, true, err
	}
	return dst, false, nil
}

// qmgrFrom parses "<s>, size=N, nrcpt=N (queue active)" and "<s>,
// status=expired, returned to sender".
func (l *line) qmgrFrom(dst []ingest.Event, qid, s string) ([]ingest.Event, error) {
	sender, tail, ok := cutAddr(s)
	if !ok {
		return dst, l.malformed("bad qmgr from= address", s)
	}
	tail, ok = strings.CutPrefix(tail, ", ")
	if !ok {
		return dst, l.malformed("bad qmgr from= line", s)
	}
	if v, ok := strings.CutPrefix(tail, "status="); ok {
		status, _, _ := strings.Cut(v, ",")
		if status != "expired" && status != "force-expired" {
			return dst, l.malformed("unknown qmgr status", v)
		}
		dst, ev := l.event(dst, ingest.KindExpired, qid)
		ev.Sender = sender
		return dst, nil
	}
	v, ok := strings.CutPrefix(tail, "size=")
	if !ok {
		return dst, l.malformed("qmgr from= line without size=", s)
	}
	size, v, ok := cutUint(v)
	if !ok {
		return dst, l.malformed("bad qmgr size=", tail)
	}
	v, ok = strings.CutPrefix(v, ", nrcpt=")
	if !ok {
		return dst, l.malformed("qmgr from= line without nrcpt=", s)
	}
	nrcpt, _, ok := cutUint(v)
	if !ok || nrcpt > 1<<31-1 {
		return dst, l.malformed("bad qmgr nrcpt=", v)
	}
	dst, ev := l.event(dst, ingest.KindQueued, qid)
	ev.Sender, ev.Size, ev.Nrcpt = sender, size, int(nrcpt)
	return dst, nil
}

// pickup handles pickup "QID: uid=N from=<s>" and "QID: sender=<s>".
func (l *line) pickup(dst []ingest.Event, qid, rest string) ([]ingest.Event, bool, error) {
	if qid == "" {
		return dst, false, nil
	}
	if v, ok := strings.CutPrefix(rest, "uid="); ok {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		uid, tail := v[:i], v[i:]
		tail, ok1 := strings.CutPrefix(tail, " from=")
		if i == 0 || !ok1 {
			return dst, true, l.malformed("bad pickup uid= line", rest)
		}
		sender, _, ok := cutAddr(tail)
		if !ok {
			return dst, true, l.malformed("bad pickup from= address", rest)
		}
		dst, ev := l.event(dst, ingest.KindReceived, qid)
		ev.LocalUser, ev.Sender = uid, sender
		return dst, true, nil
	}
	if v, ok := strings.CutPrefix(rest, "sender="); ok {
		sender, _, ok := cutAddr(v)
		if !ok {
			return dst, true, l.malformed("bad pickup sender= address", rest)
		}
		dst, ev := l.event(dst, ingest.KindReceived, qid)
		ev.Sender = sender
		return dst, true, nil
	}
	return dst, false, nil
}

// postsuper handles postsuper "QID: removed" and "QID: placed on hold".
func (l *line) postsuper(dst []ingest.Event, qid, rest string) ([]ingest.Event, bool, error) {
	if qid == "" {
		return dst, false, nil
	}
	switch rest {
	case "removed":
		dst, _ = l.event(dst, ingest.KindRemoved, qid)
		return dst, true, nil
	case "placed on hold":
		dst, _ = l.event(dst, ingest.KindHeld, qid)
		return dst, true, nil
	}
	return dst, false, nil
}

// delivery parses a delivery status line "to=<r>, [orig_to=<o>,] relay=R,
// [conn_use=N,] delay=D, delays=a/b/c/d, [tls=…,] dsn=X.Y.Z, status=S
// (reply)". Address verification results (deliverable, undeliverable) are
// not deliveries and yield no event.
func (l *line) delivery(dst []ingest.Event, qid, s string) ([]ingest.Event, error) {
	rcpt, rest, ok := cutFieldAddr(s[len("to="):])
	if !ok {
		return dst, l.malformed("bad to= address", s)
	}
	var relay, dsn, status, reply string
	for rest != "" {
		r, ok := strings.CutPrefix(rest, ", ")
		if !ok {
			return dst, l.malformed("bad delivery field separator", rest)
		}
		key, v, ok := strings.Cut(r, "=")
		if !ok || key == "" || strings.IndexByte(key, ' ') >= 0 {
			return dst, l.malformed("bad delivery field", r)
		}
		switch key {
		case "orig_to":
			_, rest, ok = cutFieldAddr(v)
			if !ok {
				return dst, l.malformed("bad orig_to= address", r)
			}
			continue
		case "status":
			sp := strings.IndexByte(v, ' ')
			if sp < 0 {
				status = v
			} else {
				status, reply = v[:sp], v[sp+1:]
				// "(reply)"; a line cut by a syslog length limit lacks
				// the closing parenthesis.
				if r, ok := strings.CutPrefix(reply, "("); ok {
					reply = strings.TrimSuffix(r, ")")
				}
			}
			rest = ""
			continue
		}
		end := strings.Index(v, ", ")
		if end < 0 {
			end = len(v)
		}
		switch key {
		case "relay":
			relay = v[:end]
		case "dsn":
			dsn = v[:end]
		}
		rest = v[end:]
	}
	var k ingest.Kind
	switch status {
	case "sent":
		k = ingest.KindDelivered
	case "deferred":
		k = ingest.KindDeferred
	case "bounced":
		k = ingest.KindBounced
	case "expired":
		k = ingest.KindExpired
	case "deliverable", "undeliverable", "deliverable-but-not-cached", "undeliverable-but-not-cached":
		return dst, nil
	case "":
		return dst, l.malformed("delivery line without status=", s)
	default:
		return dst, l.malformed("unknown delivery status", status)
	}
	if relay == "" {
		return dst, l.malformed("delivery line without relay=", s)
	}
	dst, ev := l.event(dst, k, qid)
	ev.Recipient, ev.DSN, ev.Reply = rcpt, dsn, reply
	if host, ip, _, ok := cutClient(relay); ok {
		ev.RelayHost, ev.RelayIP = host, ip
	} else {
		ev.RelayHost = relay
	}
	if k == ingest.KindDelivered {
		ev.NextQueueID = nextQueueID(reply)
	}
	return dst, nil
}
