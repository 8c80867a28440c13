// Package ingest owns everything between a log line and a typed, correlated
// event: the Event model every other package consumes, the Parser interface
// each MTA/filter parser implements, the dispatcher that routes a syslog
// record to its parser, remote-rejection classification, and the pipeline
// that ties header parsing, parsing, classification and correlation together.
//
// Sub-packages hold the moving parts: syslog (headers), postfix, exim,
// sendmail, spamd and rspamd (one parser each), correlate (joining a
// message's lines by host and queue id) and source (reading and tailing
// files with saved positions).
package ingest

import "time"

// Source names the program family that logged an event.
type Source uint8

// Sources of events.
const (
	SourceUnknown Source = iota
	SourcePostfix
	SourceExim
	SourceSendmail
	SourceSpamd
	SourceRspamd
	SourceCPanel
)

var sourceNames = [...]string{"unknown", "postfix", "exim", "sendmail", "spamd", "rspamd", "cpanel"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// Kind says what happened to a message (or, for KindInfo, which facts about
// it a line carries). Kinds from KindReceived on are outcomes the ledger
// counts; the others only feed the correlator.
type Kind uint8

// Event kinds.
const (
	// KindInfo carries facts about a queued message (client, SASL user,
	// uid, sender, size, message-id) without counting anything.
	KindInfo Kind = iota
	// KindQueued says the message's envelope is complete (Postfix qmgr
	// "from=… (queue active)", Sendmail "from=", Exim "<="): the correlator
	// counts a reception at this point, when the sender is known.
	KindQueued
	// KindRemoved says the MTA forgot the message (Postfix "removed", Exim
	// "Completed", Sendmail "done"): the correlator frees its entry.
	KindRemoved
	// KindAuth is an authentication fact logged without a queue id
	// (Sendmail "AUTH=server … authid="), joined to a message by pid.
	KindAuth

	// KindReceived counts a message entering the queue (pflogsumm's
	// "received": Postfix smtpd "client=" and pickup "uid="/"sender=").
	KindReceived
	// KindDelivered counts one recipient delivered (status=sent, =>, ->).
	KindDelivered
	// KindDeferred counts one deferral (status=deferred, ==).
	KindDeferred
	// KindBounced counts one recipient bounced (status=bounced, **).
	KindBounced
	// KindExpired counts one message given up after the queue lifetime.
	KindExpired
	// KindRejected counts a rejection by this MTA (NOQUEUE reject,
	// cleanup/milter reject, Exim ACL reject, Sendmail ruleset reject).
	KindRejected
	// KindFiltered counts a message our own outbound filter (or the
	// hosting panel's scanner) stopped as spam.
	KindFiltered
	// KindScored is a spam-filter result (score, threshold, rule hits).
	KindScored
	// KindHeld counts a message put on hold.
	KindHeld
	// KindDiscarded counts a message silently discarded.
	KindDiscarded

	numKinds
)

var kindNames = [...]string{"info", "queued", "removed", "auth", "received", "delivered", "deferred",
	"bounced", "expired", "rejected", "filtered", "scored", "held", "discarded"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Counts reports whether the ledger counts events of this kind.
func (k Kind) Counts() bool { return k >= KindReceived && k < numKinds }

// Class is the class of a remote (or local) rejection reply text.
type Class uint8

// Rejection classes (DESIGN §3).
const (
	ClassNone Class = iota
	ClassBlocklist
	ClassReputation
	ClassContent
	ClassAuthentication
	ClassRecipient
	ClassOther
	NumClasses
)

var classNames = [...]string{"", "blocklist", "reputation", "content", "authentication", "recipient", "other"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "other"
}

// RuleHit is one spam-filter rule that fired on a message.
type RuleHit struct {
	Name  string
	Score float64
}

// Event is one fact about one message (or one rejected transaction), as
// parsed from one log line and enriched by the correlator. Fields a line does
// not carry are left zero. Strings may share memory with the log line; code
// that keeps them beyond the line must clone them.
type Event struct {
	Time    time.Time
	Host    string // syslog host (or the source's configured host)
	Program string // syslog program, e.g. "postfix-out2/smtp", "exim", "sm-mta"
	PID     int
	Source  Source
	Kind    Kind
	QueueID string

	// NextQueueID is the queue id a delivery handed the message to, as in
	// Postfix "250 2.0.0 Ok: queued as QID2" or Sendmail "Sent (QID2
	// Message accepted for delivery)". If the same host then holds QID2,
	// the correlator treats the delivery as an internal hop.
	NextQueueID string

	AuthUser  string // authenticated user (sasl_username, A=…:id, authid=)
	LocalUser string // local submitting user (uid=, U=, ctladdr=, account_owner:)
	Account   string // account as attributed by the correlator/ledger

	Sender     string
	Recipient  string
	MessageID  string
	ClientHost string
	ClientIP   string
	OutboundIP string // bind address if the MTA logged it (Exim I=)
	Transport  string // Exim T= on deliveries, Postfix transport (service)
	RelayHost  string
	RelayIP    string
	DSN        string
	Reply      string // remote reply / reject text
	Size       int64
	Nrcpt      int

	Class     Class
	Blocklist string // list named in a blocklist rejection

	Score     float64
	Threshold float64
	Spam      bool
	Rules     []RuleHit
	// RulesUnscored says Rules name the rules that fired without their
	// scores (spamd, old rspamd formats); rescoring takes the scores from
	// a score table.
	RulesUnscored bool

	// Undo marks a correction: the ledger subtracts this outcome instead of
	// adding it (used when a reception turns out to be a content-filter hop).
	Undo bool
	// FirstDeferral is set by the correlator on the first deferral of a
	// message, so "deferred" counts distinct messages.
	FirstDeferral bool
	// Hop is set by the correlator on a delivery that handed the message
	// back to the same MTA (content filter, sendmail → sm-mta); the ledger
	// counts it as a hop, not a delivery.
	Hop bool
}

// Reset clears e for reuse, keeping the Rules backing array.
func (e *Event) Reset() {
	rules := e.Rules[:0]
	*e = Event{}
	e.Rules = rules
}
