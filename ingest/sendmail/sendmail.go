// Package sendmail parses the syslog messages of Sendmail 8 (sendmail,
// sm-mta, sm-msp-queue, sm-acceptingconnections, …) into ingest events.
//
// It owns the knowledge of Sendmail's log lines: the "from=" line logged
// when a message enters the queue, the "to=" line logged per delivery
// attempt (one event per recipient), the "AUTH=server" line that names the
// authenticated user without a queue id, ruleset and milter rejections, and
// the long tail of diagnostic lines that carry nothing to count. It does not
// join lines: the correlator links a message's events by host and queue id,
// the AUTH line to a message by pid, and the MSP → MTA hop of local
// submissions through Event.NextQueueID.
//
// The parser works on substrings of the record's message with hand-written
// scanning (no regular expressions) and allocates only when it reports an
// error, because it sits on the per-line hot path.
package sendmail

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// Parser turns Sendmail syslog records into events. The zero value is ready
// to use. It keeps no state between lines (the pid → AUTH join lives in the
// correlator), so one Parser may serve any number of hosts and goroutines.
type Parser struct{}

// New returns a Parser. It exists for symmetry with the other MTA parsers;
// a zero Parser works just as well.
func New() *Parser { return &Parser{} }

var _ ingest.Parser = (*Parser)(nil)

// Owns reports whether a syslog program name is one Sendmail logs under:
// "sendmail", "sm-mta", "sm-msp-queue", "sm-acceptingconnections" and any
// other "sm-…" daemon name, and "sendmail-…"/"sendmail." variants used by
// multi-instance setups. A stray "[pid]" left on the name is ignored.
func Owns(program string) bool {
	if i := strings.IndexByte(program, '['); i >= 0 {
		program = program[:i]
	}
	switch {
	case program == "sendmail":
		return true
	case strings.HasPrefix(program, "sendmail-"), strings.HasPrefix(program, "sendmail."):
		return len(program) > len("sendmail-")
	case strings.HasPrefix(program, "sm-"):
		return len(program) > len("sm-")
	}
	return false
}

// Parse appends the events carried by rec.Msg to dst. Lines that carry
// nothing to count return dst unchanged and a nil error; lines it cannot
// understand return an error wrapping ingest.ErrMalformed that quotes an
// excerpt of the message.
func (p *Parser) Parse(dst []ingest.Event, rec *ingest.Record) ([]ingest.Event, error) {
	msg := strings.TrimRight(rec.Msg, " \t\r\n")
	if msg == "" {
		return dst, malformed("empty message", rec.Msg)
	}
	qid, rest := splitQueueID(msg)
	switch {
	case strings.HasPrefix(rest, "from="):
		if qid == "" {
			return dst, malformed("from= line without a queue id", msg)
		}
		return p.from(dst, rec, qid, rest, msg)
	case strings.HasPrefix(rest, "to="):
		if qid == "" {
			return dst, malformed("to= line without a queue id", msg)
		}
		return p.to(dst, rec, qid, rest, msg)
	case strings.HasPrefix(rest, "AUTH=server,"):
		return p.auth(dst, rec, qid, rest, msg)
	case strings.HasPrefix(rest, "ruleset="):
		return p.ruleset(dst, rec, qid, rest, msg)
	case strings.HasPrefix(rest, "Milter"), strings.HasPrefix(rest, "milter="):
		return p.milter(dst, rec, qid, rest)
	case rest == "done" || strings.HasPrefix(rest, "done;"):
		if qid == "" {
			return dst, malformed("done line without a queue id", msg)
		}
		ev := newEvent(rec, ingest.KindRemoved, qid)
		return append(dst, ev), nil
	}
	if ignored(qid, rest) {
		return dst, nil
	}
	return dst, malformed("unrecognised line", msg)
}

// from handles "QID: from=<s>, size=N, class=N, nrcpts=N, msgid=<m>,
// proto=…, daemon=…, relay=host [ip]" and the MSP variant "from=user, …,
// relay=user@localhost". It emits KindReceived then KindQueued with the
// same facts. A from= line with nrcpts=0 closes an SMTP transaction whose
// every recipient was refused: nothing was queued, so it yields no events.
func (p *Parser) from(dst []ingest.Event, rec *ingest.Record, qid, s, msg string) ([]ingest.Event, error) {
	ev := newEvent(rec, ingest.KindReceived, qid)
	var haveSize, haveNrcpts bool
	for s != "" {
		var key, val string
		key, val, s = nextField(s)
		switch key {
		case "from":
			ev.Sender = address(val)
		case "size":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return dst, malformed("from= line: bad size="+val, msg)
			}
			ev.Size, haveSize = n, true
		case "nrcpts":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return dst, malformed("from= line: bad nrcpts="+val, msg)
			}
			ev.Nrcpt, haveNrcpts = n, true
		case "msgid":
			ev.MessageID = trimAngles(val)
		case "relay":
			host, ip := splitRelay(val)
			if ip == "" && strings.IndexByte(host, '@') > 0 {
				// Command-line submission: relay=user@localhost.
				ev.LocalUser = host[:strings.IndexByte(host, '@')]
				host = host[strings.IndexByte(host, '@')+1:]
			} else if at := strings.IndexByte(host, '@'); at >= 0 {
				// RFC 1413 ident answer "user@host [ip]": keep the host.
				host = host[at+1:]
			}
			ev.ClientHost, ev.ClientIP = host, ip
		}
	}
	if !haveSize || !haveNrcpts {
		return dst, malformed("from= line without size= or nrcpts=", msg)
	}
	if ev.Nrcpt == 0 {
		return dst, nil
	}
	dst = append(dst, ev)
	ev.Kind = ingest.KindQueued
	return append(dst, ev), nil
}

// to handles "QID: to=<r1>,<r2>, [ctladdr=<a> (uid/gid),] delay=…,
// xdelay=…, mailer=…, pri=…, relay=host [ip], dsn=X.Y.Z, stat=…" and emits
// one event per recipient, its kind decided by stat= and dsn=.
func (p *Parser) to(dst []ingest.Event, rec *ingest.Record, qid, s, msg string) ([]ingest.Event, error) {
	var rcpts, ctladdr, mailer, relay, dsn, stat string
	var haveStat bool
	for s != "" {
		var key, val string
		key, val, s = nextField(s)
		switch key {
		case "to":
			rcpts = val
		case "ctladdr":
			ctladdr = val
		case "mailer":
			mailer = val
		case "relay":
			relay = val
		case "dsn":
			dsn = val
		case "stat":
			stat, haveStat = val, true
		}
	}
	if !haveStat {
		return dst, malformed("to= line without stat=", msg)
	}
	kind, ok := deliveryKind(stat, dsn, mailer)
	if !ok {
		return dst, nil
	}
	ev := newEvent(rec, kind, qid)
	ev.DSN = dsn
	ev.Reply = stat
	ev.Transport = mailer
	if relay != "" {
		ev.RelayHost, ev.RelayIP = splitRelay(relay)
	}
	if ctladdr != "" {
		ev.LocalUser = localPart(ctladdr)
	}
	if kind == ingest.KindDelivered {
		ev.NextQueueID = acceptedAs(stat)
	}
	n := len(dst)
	for rcpts != "" {
		var r string
		r, rcpts = nextRecipient(rcpts)
		if r != "" {
			ev.Recipient = r
			dst = append(dst, ev)
		}
	}
	if len(dst) == n {
		return dst, malformed("to= line without a recipient", msg)
	}
	return dst, nil
}

// deliveryKind maps a delivery status to an event kind. ok is false for
// statuses that count nothing: "queued" (delivery postponed by the delivery
// mode, not attempted) and failures logged without a mailer, which are the
// per-recipient echo of a rejection already logged (and counted) on its
// own "Milter: … reject=" or ruleset line.
func deliveryKind(stat, dsn, mailer string) (ingest.Kind, bool) {
	switch {
	case strings.HasPrefix(stat, "Sent"):
		return ingest.KindDelivered, true
	case strings.HasPrefix(stat, "Deferred"):
		return ingest.KindDeferred, true
	case stat == "queued":
		return 0, false
	case isExpiry(stat, dsn):
		return ingest.KindExpired, true
	}
	if dsn != "" {
		switch dsn[0] {
		case '2':
			return ingest.KindDelivered, true
		case '4':
			return ingest.KindDeferred, true
		case '5':
			return ingest.KindBounced, true
		}
	}
	if mailer == "" {
		return 0, false
	}
	// Sendmail before 8.10 logged no dsn=; a final status other than
	// Sent/Deferred/queued is then a permanent failure.
	return ingest.KindBounced, true
}

// isExpiry reports whether a delivery status says the message outlived the
// queue lifetime (Timeout.queuereturn): "Cannot send message for 5 days",
// or the RFC 3463 code X.4.7 "delivery time expired".
func isExpiry(stat, dsn string) bool {
	if strings.HasPrefix(stat, "Cannot send message") || strings.Contains(stat, "Message timed out") {
		return true
	}
	return len(dsn) == 5 && strings.HasSuffix(dsn, ".4.7")
}

// acceptedAs returns QID2 from "Sent (QID2 Message accepted for delivery)",
// the reply of a Sendmail MTA that queued the message (the sendmail MSP →
// sm-mta hop of a local submission), or "".
func acceptedAs(stat string) string {
	const pre, suf = "Sent (", " Message accepted for delivery)"
	if !strings.HasPrefix(stat, pre) || !strings.HasSuffix(stat, suf) {
		return ""
	}
	id := stat[len(pre) : len(stat)-len(suf)]
	if !isQueueID(id) {
		return ""
	}
	return id
}

// auth handles "AUTH=server, relay=host [ip], authid=USER, mech=…, bits=…".
func (p *Parser) auth(dst []ingest.Event, rec *ingest.Record, qid, s, msg string) ([]ingest.Event, error) {
	ev := newEvent(rec, ingest.KindAuth, qid)
	for s != "" {
		var key, val string
		key, val, s = nextField(s)
		switch key {
		case "relay":
			ev.ClientHost, ev.ClientIP = splitRelay(val)
		case "authid":
			ev.AuthUser = val
		}
	}
	if ev.AuthUser == "" {
		return dst, malformed("AUTH=server line without authid=", msg)
	}
	return append(dst, ev), nil
}

// ruleset handles "[QID: ]ruleset=check_rcpt, arg1=<…>, relay=host [ip],
// reject=550 5.7.1 …" (and the rarer "…, discard" and "quarantine=" forms).
// Rulesets that run while Sendmail is the client (tls_server, tls_rcpt)
// judge the remote server, not a customer's message: they count nothing.
func (p *Parser) ruleset(dst []ingest.Event, rec *ingest.Record, qid, s, msg string) ([]ingest.Event, error) {
	var rs, arg1, relay, reply string
	var haveReject, quarantine bool
	discard := strings.HasSuffix(s, ", discard")
	s = strings.TrimSuffix(s, ", discard")
	for s != "" {
		var key, val string
		key, val, s = nextField(s)
		switch key {
		case "ruleset":
			rs = val
		case "arg1":
			arg1 = val
		case "relay":
			relay = val
		case "reject":
			reply, haveReject = val, true
		case "quarantine":
			reply, quarantine = val, true
		}
	}
	if rs == "" {
		return dst, malformed("ruleset= line without a ruleset name", msg)
	}
	switch rs {
	case "tls_server", "tls_rcpt", "try_tls", "tls_srv_features":
		return dst, nil
	}
	var kind ingest.Kind
	switch {
	case haveReject:
		kind = ingest.KindRejected
	case quarantine:
		kind = ingest.KindHeld
	case discard:
		kind = ingest.KindDiscarded
	default:
		return dst, malformed("ruleset= line without reject=, quarantine= or discard", msg)
	}
	ev := newEvent(rec, kind, qid)
	ev.Reply = reply
	if haveReject {
		ev.DSN = replyDSN(reply)
	}
	if relay != "" {
		ev.ClientHost, ev.ClientIP = splitRelay(relay)
	}
	switch rs {
	case "check_rcpt":
		ev.Recipient = address(arg1)
	case "check_mail":
		ev.Sender = address(arg1)
	}
	return append(dst, ev), nil
}

// milter handles "Milter: …" lines. Those with "reject=" are rejections by
// a milter ("Milter: data, reject=…", "Milter: from=<s>, reject=…",
// "Milter: to=<r>, reject=…", "Milter: connect: host=h, addr=ip, reject=…",
// and the "milter=name, action=…, reject=…" form), those ending in
// "discard" are silent discards; every other milter line ("Milter: no
// active filter", "Milter add: header: …", "Milter (name): timeout …")
// is a diagnostic with nothing to count.
func (p *Parser) milter(dst []ingest.Event, rec *ingest.Record, qid, s string) ([]ingest.Event, error) {
	if !strings.HasPrefix(s, "Milter: ") && !strings.HasPrefix(s, "milter=") {
		return dst, nil // "Milter add: …", "Milter (name): …", "Milter accept: …"
	}
	s = strings.TrimPrefix(s, "Milter: ")
	s = strings.TrimPrefix(s, "connect: ")
	var ev ingest.Event
	var kind ingest.Kind
	for s != "" {
		var seg string
		if strings.HasPrefix(s, "reject=") {
			ev.Reply = s[len("reject="):]
			ev.DSN = replyDSN(ev.Reply)
			kind = ingest.KindRejected
			break
		}
		if i := strings.Index(s, ", "); i >= 0 {
			seg, s = s[:i], s[i+2:]
		} else {
			seg, s = s, ""
		}
		if seg == "discard" {
			kind = ingest.KindDiscarded
			continue
		}
		key, val, ok := strings.Cut(seg, "=")
		if !ok {
			continue // "data", "eom" and similar stage names
		}
		switch key {
		case "from":
			ev.Sender = address(val)
		case "to", "rcpt":
			ev.Recipient = address(val)
		case "host":
			ev.ClientHost = val
		case "addr":
			ev.ClientIP = val
		}
	}
	if kind == 0 {
		return dst, nil
	}
	base := newEvent(rec, kind, qid)
	base.Reply, base.DSN = ev.Reply, ev.DSN
	base.Sender, base.Recipient = ev.Sender, ev.Recipient
	base.ClientHost, base.ClientIP = ev.ClientHost, ev.ClientIP
	if base.ClientHost == base.ClientIP || strings.HasPrefix(base.ClientHost, "[") {
		base.ClientHost = ""
	}
	return append(dst, base), nil
}

// newEvent returns an event of kind for rec with the record's header facts.
func newEvent(rec *ingest.Record, kind ingest.Kind, qid string) ingest.Event {
	return ingest.Event{
		Time:    rec.Time,
		Host:    rec.Host,
		Program: rec.Program,
		PID:     rec.PID,
		Source:  ingest.SourceSendmail,
		Kind:    kind,
		QueueID: qid,
	}
}

// malformed returns an error wrapping ingest.ErrMalformed that says why and
// quotes the start of the message.
func malformed(why, msg string) error {
	return fmt.Errorf("sendmail: %w: %s: %q", ingest.ErrMalformed, why, excerpt(msg))
}

// excerpt shortens s for an error message.
func excerpt(s string) string {
	const max = 96
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
