// Package correlate joins the events of one message, logged on different
// lines by different processes, by (host, queue id), so that facts logged
// early — the authenticated user on the smtpd line, the local uid on the
// pickup line — reach the facts logged late, the delivery outcomes.
//
// The Correlator decides what the ledger counts: it holds a message's
// reception until its envelope is complete (so the sender is known when the
// reception is attributed), marks the first deferral of each message, and
// recognises internal hops — a content filter re-injecting into the same
// Postfix, or Sendmail's MSP handing a local submission to sm-mta — so a
// message is neither counted twice nor loses its account on the way.
//
// Memory is bounded: live messages are kept in two generations of at most
// MaxMessages/2 entries each (an O(1) approximation of LRU), and a
// generation older than Expiry/2 of log time is dropped. Dropped messages
// are counted in Stats and their pending receptions are still emitted.
package correlate

import (
	"strings"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

// Sink receives the events the ledger counts, enriched with the message's
// attributes. The event is only valid during the call.
type Sink interface {
	Record(ev *ingest.Event)
}

// Config bounds the correlator's memory.
type Config struct {
	// MaxMessages caps the number of live messages (default 200000).
	MaxMessages int
	// Expiry is how long (in log time) a message with no new line is kept
	// (default 120h, Postfix's maximal_queue_lifetime).
	Expiry time.Duration
	// PendingTimeout is how long a reception waits for its envelope line
	// (Postfix qmgr "from=") before it is counted anyway (default 10m).
	PendingTimeout time.Duration
}

// Stats describes the correlator's state and what it has dropped.
type Stats struct {
	Live      int   `json:"live"`
	Evicted   int64 `json:"evicted"`       // dropped because MaxMessages was reached
	Expired   int64 `json:"expired"`       // dropped after Expiry without a line
	Hops      int64 `json:"hops"`          // internal hops recognised
	PIDJoins  int64 `json:"pid_joins"`     // identities joined by pid (Sendmail AUTH, cPanel cwd)
	LateRecvd int64 `json:"late_received"` // receptions counted without an envelope line
}

type key struct{ host, qid string }

type pidKey struct {
	host string
	pid  int
}

// message is what the correlator remembers about one queued message.
type message struct {
	AuthUser, LocalUser, Sender string
	ClientHost, ClientIP, MsgID string
	Program, Transport          string
	Size                        int64
	Nrcpt                       int
	Received                    bool      // a reception was seen, to be counted
	ReceivedAt                  time.Time // when
	Emitted                     bool      // the reception has been counted
	EmittedAs                   snapshot  // attribution it was counted with
	Deferred                    bool      // deferred at least once
	Hopped                      bool      // this copy continues a hop: not a new reception
	Last                        time.Time
}

// snapshot is the attribution an emitted reception carried, kept so that it
// can be undone exactly when the message turns out to be a hop.
type snapshot struct {
	AuthUser, LocalUser, Sender, Program, Transport, Host string
}

type identity struct {
	AuthUser, LocalUser string
	At                  time.Time
}

// Correlator joins events; it is not safe for concurrent use.
type Correlator struct {
	cfg  Config
	sink Sink

	cur, prev   map[key]*message
	genStart    time.Time // log time the current generation began
	pids        map[pidKey]identity
	hosts       map[string]string
	recent      map[key]*message // recently removed, for late hop lines
	recentKeys  []key
	recentNext  int
	pending     []pendingRecv // receptions waiting for their envelope, oldest first
	pendingHead int
	clock       time.Time // latest log time seen
	stats       Stats
	out         ingest.Event
}

type pendingRecv struct {
	k  key
	at time.Time
}

// New returns a Correlator sending counted events to sink.
func New(cfg Config, sink Sink) *Correlator {
	if cfg.MaxMessages <= 0 {
		cfg.MaxMessages = 200000
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = 120 * time.Hour
	}
	if cfg.PendingTimeout <= 0 {
		cfg.PendingTimeout = 10 * time.Minute
	}
	return &Correlator{
		cfg:    cfg,
		sink:   sink,
		cur:    make(map[key]*message),
		prev:   make(map[key]*message),
		pids:   make(map[pidKey]identity),
		hosts:  make(map[string]string),
		recent: make(map[key]*message),
	}
}

// Stats returns the current statistics.
func (c *Correlator) Stats() Stats {
	s := c.stats
	s.Live = len(c.cur) + len(c.prev)
	return s
}

// lookup finds a live message, promoting it to the current generation.
func (c *Correlator) lookup(k key) *message {
	if m, ok := c.cur[k]; ok {
		return m
	}
	if m, ok := c.prev[k]; ok {
		delete(c.prev, k)
		c.cur[k] = m
		return m
	}
	return nil
}

// create adds a message, rotating generations when the current one is full.
func (c *Correlator) create(k key, t time.Time) *message {
	if len(c.cur) >= c.cfg.MaxMessages/2 {
		c.rotate(false)
	}
	k.host = c.internHost(k.host)
	k.qid = strings.Clone(k.qid)
	m := &message{Last: t}
	c.cur[k] = m
	return m
}

// internHost returns a copy of h that does not alias a log line; hosts are
// few, so one copy each is kept.
func (c *Correlator) internHost(h string) string {
	if s, ok := c.hosts[h]; ok {
		return s
	}
	s := strings.Clone(h)
	if len(c.hosts) < 4096 {
		c.hosts[s] = s
	}
	return s
}

// rotate drops the previous generation, counting what it drops, and makes
// the current generation the previous one.
func (c *Correlator) rotate(expired bool) {
	for k, m := range c.prev {
		c.emitPending(k, m)
		if expired {
			c.stats.Expired++
		} else {
			c.stats.Evicted++
		}
	}
	c.prev = c.cur
	c.cur = make(map[key]*message, len(c.prev))
	c.genStart = c.clock
}

// Process consumes one parsed event.
func (c *Correlator) Process(ev *ingest.Event) {
	if ev.Time.After(c.clock) {
		c.clock = ev.Time
		if c.genStart.IsZero() {
			c.genStart = c.clock
		}
		if c.clock.Sub(c.genStart) > c.cfg.Expiry/2 {
			c.rotate(true)
		}
		c.flushPending()
	}
	if ev.Kind == ingest.KindAuth {
		c.pids[pidKey{c.internHost(ev.Host), ev.PID}] = identity{
			AuthUser:  strings.Clone(ev.AuthUser),
			LocalUser: strings.Clone(ev.LocalUser),
			At:        ev.Time,
		}
		if len(c.pids) > c.cfg.MaxMessages {
			c.expirePIDs()
		}
		if ev.QueueID == "" {
			return
		}
	}
	if ev.QueueID == "" {
		// NOQUEUE rejects and the like: nothing to join.
		if ev.Kind.Counts() {
			c.sink.Record(ev)
		}
		return
	}
	k := key{ev.Host, ev.QueueID}
	m := c.lookup(k)
	if m == nil {
		if ev.Kind == ingest.KindRemoved {
			return
		}
		m = c.create(k, ev.Time)
		// Identity logged without a queue id by the same process.
		if ev.PID != 0 {
			if id, ok := c.pids[pidKey{ev.Host, ev.PID}]; ok && ev.Time.Sub(id.At) < time.Hour {
				if m.AuthUser == "" {
					m.AuthUser = id.AuthUser
				}
				if m.LocalUser == "" {
					m.LocalUser = id.LocalUser
				}
				c.stats.PIDJoins++
			}
		}
	}
	m.Last = ev.Time
	m.merge(ev)

	switch ev.Kind {
	case ingest.KindInfo, ingest.KindAuth:
	case ingest.KindReceived:
		if !m.Received && !m.Hopped {
			m.Received = true
			m.ReceivedAt = ev.Time
			if m.Program == "" {
				m.Program, m.Transport = strings.Clone(ev.Program), strings.Clone(ev.Transport)
			}
			c.pending = append(c.pending, pendingRecv{k, ev.Time})
		}
	case ingest.KindQueued:
		c.emitPending(k, m)
	case ingest.KindRemoved:
		c.emitPending(k, m)
		delete(c.cur, k)
		c.remember(k, m)
	case ingest.KindDelivered:
		if ev.NextQueueID != "" {
			if next := c.lookupHop(key{ev.Host, ev.NextQueueID}); next != nil && next != m {
				c.hop(m, next)
				m.enrich(ev)
				ev.Hop = true
				c.sink.Record(ev)
				return
			}
		}
		m.enrich(ev)
		c.sink.Record(ev)
	case ingest.KindDeferred:
		m.enrich(ev)
		if !m.Deferred {
			m.Deferred = true
			ev.FirstDeferral = true
		}
		c.sink.Record(ev)
	case ingest.KindRejected, ingest.KindDiscarded:
		// A rejection after the message got a queue id (cleanup, milter,
		// Exim after DATA) may be its last line: count its reception first.
		// The entry stays (an smtpd RCPT reject leaves the rest going) and
		// is freed by "removed" or expiry.
		c.emitPending(k, m)
		m.enrich(ev)
		c.sink.Record(ev)
	default:
		m.enrich(ev)
		c.sink.Record(ev)
	}
}

// recentSize is how many removed messages are remembered for late hop
// lines: a re-injected copy can be delivered and removed before the line
// of the original that says "queued as" it is logged.
const recentSize = 4096

// remember keeps a removed message for late hop lines.
func (c *Correlator) remember(k key, m *message) {
	if len(c.recentKeys) < recentSize {
		c.recentKeys = append(c.recentKeys, k)
	} else {
		delete(c.recent, c.recentKeys[c.recentNext])
		c.recentKeys[c.recentNext] = k
		c.recentNext = (c.recentNext + 1) % recentSize
	}
	c.recent[k] = m
}

// lookupHop finds the target of a hop among live and recently removed
// messages.
func (c *Correlator) lookupHop(k key) *message {
	if m := c.lookup(k); m != nil {
		return m
	}
	return c.recent[k]
}

// hop links the copy next to message m: next inherits m's identity and its
// reception, if already counted, is undone.
func (c *Correlator) hop(m, next *message) {
	c.stats.Hops++
	if next.Emitted {
		c.out.Reset()
		c.out.Kind = ingest.KindReceived
		c.out.Undo = true
		s := next.EmittedAs
		c.out.Host, c.out.Program, c.out.Transport = s.Host, s.Program, s.Transport
		c.out.AuthUser, c.out.LocalUser, c.out.Sender = s.AuthUser, s.LocalUser, s.Sender
		c.out.Time = next.ReceivedAt
		c.sink.Record(&c.out)
	}
	next.Received, next.Emitted, next.Hopped = false, false, true
	next.AuthUser, next.LocalUser = m.AuthUser, m.LocalUser
	if m.ClientIP != "" {
		next.ClientHost, next.ClientIP = m.ClientHost, m.ClientIP
	}
	if next.Sender == "" {
		next.Sender = m.Sender
	}
}

// emitPending counts m's reception if it is waiting.
func (c *Correlator) emitPending(k key, m *message) {
	if !m.Received || m.Emitted {
		return
	}
	m.Emitted = true
	m.EmittedAs = snapshot{m.AuthUser, m.LocalUser, m.Sender, m.Program, m.Transport, k.host}
	c.out.Reset()
	c.out.Kind = ingest.KindReceived
	c.out.Time = m.ReceivedAt
	c.out.Host = k.host
	c.out.QueueID = k.qid
	c.out.Program, c.out.Transport = m.Program, m.Transport
	m.enrich(&c.out)
	c.sink.Record(&c.out)
}

// flushPending counts receptions that waited longer than PendingTimeout.
func (c *Correlator) flushPending() {
	n := c.pendingHead
	for ; n < len(c.pending); n++ {
		p := c.pending[n]
		if c.clock.Sub(p.at) < c.cfg.PendingTimeout {
			break
		}
		if m := c.lookupNoPromote(p.k); m != nil && m.Received && !m.Emitted {
			c.stats.LateRecvd++
			c.emitPending(p.k, m)
		}
	}
	c.pendingHead = n
	if n > 1024 && n > len(c.pending)/2 {
		c.pending = append(c.pending[:0], c.pending[n:]...)
		c.pendingHead = 0
	}
}

func (c *Correlator) lookupNoPromote(k key) *message {
	if m, ok := c.cur[k]; ok {
		return m
	}
	return c.prev[k]
}

func (c *Correlator) expirePIDs() {
	for k, id := range c.pids {
		if c.clock.Sub(id.At) > time.Hour {
			delete(c.pids, k)
		}
	}
	if len(c.pids) > c.cfg.MaxMessages {
		clear(c.pids)
	}
}

// Flush counts every pending reception; call it at the end of a replay.
func (c *Correlator) Flush() {
	for _, gen := range []map[key]*message{c.prev, c.cur} {
		for k, m := range gen {
			c.emitPending(k, m)
		}
	}
	c.pending, c.pendingHead = c.pending[:0], 0
}

// merge copies the facts ev carries into m (cloning: ev aliases a line).
func (m *message) merge(ev *ingest.Event) {
	if ev.AuthUser != "" && m.AuthUser == "" {
		m.AuthUser = strings.Clone(ev.AuthUser)
	}
	if ev.LocalUser != "" && m.LocalUser == "" {
		m.LocalUser = strings.Clone(ev.LocalUser)
	}
	if ev.Sender != "" && m.Sender == "" && ev.Kind != ingest.KindDelivered {
		m.Sender = strings.Clone(ev.Sender)
	}
	switch ev.Kind {
	case ingest.KindReceived, ingest.KindQueued, ingest.KindInfo:
		if ev.ClientIP != "" && m.ClientIP == "" {
			m.ClientHost, m.ClientIP = strings.Clone(ev.ClientHost), strings.Clone(ev.ClientIP)
		}
		if ev.MessageID != "" && m.MsgID == "" {
			m.MsgID = strings.Clone(ev.MessageID)
		}
		if ev.Size > 0 {
			m.Size = ev.Size
		}
		if ev.Nrcpt > 0 {
			m.Nrcpt = ev.Nrcpt
		}
	}
}

// enrich fills the attribution fields of an outcome event from m.
func (m *message) enrich(ev *ingest.Event) {
	if ev.AuthUser == "" {
		ev.AuthUser = m.AuthUser
	}
	if ev.LocalUser == "" {
		ev.LocalUser = m.LocalUser
	}
	if ev.Sender == "" {
		ev.Sender = m.Sender
	}
	if ev.ClientIP == "" {
		ev.ClientHost, ev.ClientIP = m.ClientHost, m.ClientIP
	}
	if ev.MessageID == "" {
		ev.MessageID = m.MsgID
	}
	if ev.Size == 0 {
		ev.Size = m.Size
	}
}
