// Package scoring owns what mailrep concludes from events: the ledger of
// outbound outcomes per account, per outbound IP and per sender domain
// (with sliding windows for the daemon), and — as the scoring issue lands —
// the rules engine, verdicts and rescoring of logged filter results.
package scoring

import (
	"net/netip"
	"strings"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

// Counters are the figures of DESIGN §4 for one account, IP, domain or the
// total. Counting follows pflogsumm: Delivered, Deferrals and Bounced count
// recipient lines; Deferred counts distinct messages deferred at least once.
type Counters struct {
	Received  int64 `json:"received"`
	Delivered int64 `json:"delivered"`
	Deferrals int64 `json:"deferrals"`
	Deferred  int64 `json:"deferred"`
	Bounced   int64 `json:"bounced"`
	Rejected  int64 `json:"rejected"`
	Expired   int64 `json:"expired"`
	Filtered  int64 `json:"filtered"`
	Held      int64 `json:"held"`
	Discarded int64 `json:"discarded"`
	// Scored counts messages a spam filter judged (logged spamd, rspamd
	// and cPanel results, and mailrep's own queue scoring); Spam those it
	// judged spam, whether or not they were stopped. A filtered message
	// is scored and spam.
	Scored int64 `json:"scored"`
	Spam   int64 `json:"spam"`
	// SpamRate is Spam ÷ Scored, filled in by Summarize (0 when nothing
	// was scored).
	SpamRate float64 `json:"spam_rate"`
	// Hops counts internal hand-overs (content filter, sendmail → sm-mta)
	// that pflogsumm would count as a delivery and a reception.
	Hops int64 `json:"hops"`
	// Remote rejections (deferrals, bounces, expiries) by class.
	BlocklistRejections      int64 `json:"blocklist_rejections"`
	ReputationRejections     int64 `json:"reputation_rejections"`
	ContentRejections        int64 `json:"content_rejections"`
	AuthenticationRejections int64 `json:"authentication_rejections"`
	RecipientRejections      int64 `json:"recipient_rejections"`
	OtherRejections          int64 `json:"other_rejections"`
	// Blocklists counts remote blocklist rejections by list name.
	Blocklists map[string]int64 `json:"blocklists,omitempty"`
}

// add applies one event with sign d (+1, or -1 to undo).
func (c *Counters) add(ev *ingest.Event, d int64) {
	switch ev.Kind {
	case ingest.KindReceived:
		c.Received += d
	case ingest.KindDelivered:
		if ev.Hop {
			c.Hops += d
		} else {
			c.Delivered += d
		}
	case ingest.KindDeferred:
		c.Deferrals += d
		if ev.FirstDeferral {
			c.Deferred += d
		}
	case ingest.KindBounced:
		c.Bounced += d
	case ingest.KindExpired:
		c.Expired += d
	case ingest.KindRejected:
		c.Rejected += d
	case ingest.KindFiltered:
		c.Filtered += d
		c.Scored += d
		c.Spam += d
	case ingest.KindScored:
		c.Scored += d
		if ev.Spam {
			c.Spam += d
		}
	case ingest.KindHeld:
		c.Held += d
	case ingest.KindDiscarded:
		c.Discarded += d
	default:
		return
	}
	if !remote(ev.Kind) {
		return
	}
	switch ev.Class {
	case ingest.ClassBlocklist:
		c.BlocklistRejections += d
		if ev.Blocklist != "" {
			if c.Blocklists == nil {
				c.Blocklists = make(map[string]int64)
			}
			n := c.Blocklists[ev.Blocklist] + d
			if n == 0 {
				delete(c.Blocklists, ev.Blocklist)
			} else {
				c.Blocklists[strings.Clone(ev.Blocklist)] = n
			}
		}
	case ingest.ClassReputation:
		c.ReputationRejections += d
	case ingest.ClassContent:
		c.ContentRejections += d
	case ingest.ClassAuthentication:
		c.AuthenticationRejections += d
	case ingest.ClassRecipient:
		c.RecipientRejections += d
	case ingest.ClassOther:
		c.OtherRejections += d
	}
}

// merge adds o into c.
func (c *Counters) merge(o *Counters) {
	c.Received += o.Received
	c.Delivered += o.Delivered
	c.Deferrals += o.Deferrals
	c.Deferred += o.Deferred
	c.Bounced += o.Bounced
	c.Rejected += o.Rejected
	c.Expired += o.Expired
	c.Filtered += o.Filtered
	c.Scored += o.Scored
	c.Spam += o.Spam
	c.Held += o.Held
	c.Discarded += o.Discarded
	c.Hops += o.Hops
	c.BlocklistRejections += o.BlocklistRejections
	c.ReputationRejections += o.ReputationRejections
	c.ContentRejections += o.ContentRejections
	c.AuthenticationRejections += o.AuthenticationRejections
	c.RecipientRejections += o.RecipientRejections
	c.OtherRejections += o.OtherRejections
	for k, v := range o.Blocklists {
		if c.Blocklists == nil {
			c.Blocklists = make(map[string]int64)
		}
		c.Blocklists[k] += v
	}
}

// remote reports whether an event of kind k carries a remote server's reply.
func remote(k ingest.Kind) bool {
	return k == ingest.KindDeferred || k == ingest.KindBounced || k == ingest.KindExpired
}

// Tables holds counters in total and per account, outbound IP and sender
// domain. Its fields are exported for persistence.
type Tables struct {
	Total    Counters
	Accounts map[string]*Counters
	IPs      map[string]*Counters
	Domains  map[string]*Counters
}

func newTables() *Tables {
	return &Tables{
		Accounts: make(map[string]*Counters),
		IPs:      make(map[string]*Counters),
		Domains:  make(map[string]*Counters),
	}
}

func bump(m map[string]*Counters, k string, ev *ingest.Event, d int64) {
	if k == "" {
		return
	}
	c, ok := m[k]
	if !ok {
		c = &Counters{}
		m[strings.Clone(k)] = c
	}
	c.add(ev, d)
}

func (t *Tables) add(ev *ingest.Event, account, ip, domain string, d int64) {
	t.Total.add(ev, d)
	bump(t.Accounts, account, ev, d)
	bump(t.IPs, ip, ev, d)
	bump(t.Domains, domain, ev, d)
}

func (t *Tables) merge(o *Tables) {
	t.Total.merge(&o.Total)
	for _, p := range [...]struct{ dst, src map[string]*Counters }{
		{t.Accounts, o.Accounts}, {t.IPs, o.IPs}, {t.Domains, o.Domains},
	} {
		for k, v := range p.src {
			c, ok := p.dst[k]
			if !ok {
				c = &Counters{}
				p.dst[k] = c
			}
			c.merge(v)
		}
	}
}

// IPResolver maps a delivery's host, syslog program and transport to the
// outbound IP it left by, for MTAs that do not log their bind address
// (Postfix, Sendmail). The config's ips section implements it.
type IPResolver interface {
	Resolve(host, program, transport string) netip.Addr
}

// Attribution says how an event is attributed to an account.
type Attribution struct {
	// Precedence lists the sources of the account name, first match wins:
	// "auth" (authenticated user), "local" (local submitting user),
	// "sender_domain", "sender". Default: auth, local, sender_domain.
	Precedence []string
	// StripDomain turns "user@example.com" auth ids into "user".
	StripDomain bool
	// Aliases maps lower-cased names to the account they belong to.
	Aliases map[string]string
	// LocalName, if set, turns a numeric local user (Postfix pickup
	// "uid=1017") logged on host into the user's name; it returns uid
	// unchanged when it cannot tell.
	LocalName func(host, uid string) string
}

// Account returns the account ev is attributed to ("" if none).
func (a *Attribution) Account(ev *ingest.Event) string {
	prec := a.Precedence
	if len(prec) == 0 {
		prec = defaultPrecedence
	}
	for _, p := range prec {
		var s string
		switch p {
		case "auth":
			s = ev.AuthUser
			if a.StripDomain {
				if i := strings.LastIndexByte(s, '@'); i > 0 {
					s = s[:i]
				}
			}
		case "local":
			s = ev.LocalUser
			if a.LocalName != nil && s != "" && s[0] >= '0' && s[0] <= '9' {
				s = a.LocalName(ev.Host, s)
			}
		case "sender_domain":
			s = Domain(ev.Sender)
		case "sender":
			s = ev.Sender
		}
		if s == "" {
			continue
		}
		s = strings.ToLower(s)
		if al, ok := a.Aliases[s]; ok {
			return al
		}
		return s
	}
	return ""
}

var defaultPrecedence = []string{"auth", "local", "sender_domain"}

// Domain returns the lower-cased domain of an address ("" if none).
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}

// Ledger counts events (it is the correlator's sink). It keeps lifetime
// tables and, for the daemon, sliding windows. Not safe for concurrent use.
type Ledger struct {
	attr    Attribution
	ips     IPResolver
	life    *Tables
	windows []*window
	ipCache map[netip.Addr]string
	latest  time.Time
}

// NewLedger returns a ledger. windows may be empty (replay needs none).
func NewLedger(attr Attribution, ips IPResolver, windows ...time.Duration) *Ledger {
	l := &Ledger{attr: attr, ips: ips, life: newTables(), ipCache: make(map[netip.Addr]string)}
	for _, w := range windows {
		l.windows = append(l.windows, newWindow(w))
	}
	return l
}

// Record counts one event.
func (l *Ledger) Record(ev *ingest.Event) {
	if !ev.Kind.Counts() {
		return
	}
	account := l.attr.Account(ev)
	ip := ev.OutboundIP
	if ip == "" && l.ips != nil {
		if a := l.ips.Resolve(ev.Host, ev.Program, ev.Transport); a.IsValid() {
			ip = l.ipString(a)
		}
	}
	domain := Domain(ev.Sender)
	d := int64(1)
	if ev.Undo {
		d = -1
	}
	l.life.add(ev, account, ip, domain, d)
	for _, w := range l.windows {
		w.add(ev, account, ip, domain, d)
	}
	if ev.Time.After(l.latest) {
		l.latest = ev.Time
	}
}

func (l *Ledger) ipString(a netip.Addr) string {
	if s, ok := l.ipCache[a]; ok {
		return s
	}
	s := a.String()
	l.ipCache[a] = s
	return s
}

// Lifetime returns the tables counted since the ledger began.
func (l *Ledger) Lifetime() *Tables { return l.life }

// Latest returns the log time of the newest event counted.
func (l *Ledger) Latest() time.Time { return l.latest }

// Window returns the tables of the window of span w ending at now, or nil
// if the ledger keeps no such window.
func (l *Ledger) Window(w time.Duration, now time.Time) *Tables {
	for _, win := range l.windows {
		if win.span == w {
			return win.sum(now)
		}
	}
	return nil
}

// Windows returns the spans of the windows kept.
func (l *Ledger) Windows() []time.Duration {
	out := make([]time.Duration, len(l.windows))
	for i, w := range l.windows {
		out[i] = w.span
	}
	return out
}

// window is a ring of time buckets covering span.
type window struct {
	span, width time.Duration
	buckets     []bucket
}

type bucket struct {
	idx int64 // bucket number since the epoch; 0 = unused
	t   *Tables
}

// bucketsPerWindow trades memory for precision: a window's edge moves in
// steps of span/60.
const bucketsPerWindow = 60

func newWindow(span time.Duration) *window {
	return &window{span: span, width: span / bucketsPerWindow, buckets: make([]bucket, bucketsPerWindow)}
}

func (w *window) add(ev *ingest.Event, account, ip, domain string, d int64) {
	idx := ev.Time.UnixNano()/int64(w.width) + 1
	b := &w.buckets[idx%int64(len(w.buckets))]
	switch {
	case b.idx == idx:
	case b.idx < idx:
		b.idx = idx
		b.t = newTables()
	default:
		return // older than the window
	}
	b.t.add(ev, account, ip, domain, d)
}

// sum adds up the buckets inside (now-span, now].
func (w *window) sum(now time.Time) *Tables {
	out := newTables()
	hi := now.UnixNano()/int64(w.width) + 1
	lo := hi - int64(len(w.buckets))
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.t != nil && b.idx > lo && b.idx <= hi {
			out.merge(b.t)
		}
	}
	return out
}
