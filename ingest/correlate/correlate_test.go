package correlate

import (
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

type recorder struct{ evs []ingest.Event }

func (r *recorder) Record(ev *ingest.Event) { r.evs = append(r.evs, *ev) }

func (r *recorder) count(k ingest.Kind) (n int) {
	for _, e := range r.evs {
		if e.Kind == k && !e.Hop {
			if e.Undo {
				n--
			} else {
				n++
			}
		}
	}
	return n
}

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func ev(sec int, k ingest.Kind, qid string, f func(*ingest.Event)) *ingest.Event {
	e := &ingest.Event{Time: t0.Add(time.Duration(sec) * time.Second), Host: "mx", Kind: k, QueueID: qid, Program: "postfix/smtpd"}
	if f != nil {
		f(e)
	}
	return e
}

// A submission through a content filter: the re-injected copy must keep
// the account, be counted once, and its delivery must be the only delivery.
func TestContentFilterHop(t *testing.T) {
	r := &recorder{}
	c := New(Config{}, r)
	steps := []*ingest.Event{
		ev(0, ingest.KindReceived, "AAA111", func(e *ingest.Event) { e.AuthUser = "alice@example.com"; e.ClientIP = "198.51.100.7" }),
		ev(0, ingest.KindInfo, "AAA111", func(e *ingest.Event) { e.MessageID = "m1@x" }),
		ev(1, ingest.KindQueued, "AAA111", func(e *ingest.Event) { e.Sender = "alice@example.com"; e.Size = 1234 }),
		// amavis re-injects as BBB222 via localhost before AAA111's hop line.
		ev(2, ingest.KindReceived, "BBB222", func(e *ingest.Event) { e.ClientIP = "127.0.0.1"; e.Program = "postfix/10025/smtpd" }),
		ev(2, ingest.KindQueued, "BBB222", func(e *ingest.Event) { e.Sender = "alice@example.com" }),
		ev(3, ingest.KindDelivered, "AAA111", func(e *ingest.Event) { e.Recipient = "bob@remote.test"; e.NextQueueID = "BBB222" }),
		ev(3, ingest.KindRemoved, "AAA111", nil),
		ev(4, ingest.KindDelivered, "BBB222", func(e *ingest.Event) { e.Recipient = "bob@remote.test" }),
		ev(4, ingest.KindRemoved, "BBB222", nil),
	}
	for _, e := range steps {
		c.Process(e)
	}
	c.Flush()
	if got := r.count(ingest.KindReceived); got != 1 {
		t.Errorf("received = %d, want 1", got)
	}
	if got := r.count(ingest.KindDelivered); got != 1 {
		t.Errorf("delivered = %d, want 1", got)
	}
	last := r.evs[len(r.evs)-1]
	if last.Kind != ingest.KindDelivered || last.AuthUser != "alice@example.com" || last.ClientIP != "198.51.100.7" {
		t.Errorf("final delivery lost its identity: %+v", last)
	}
	if s := c.Stats(); s.Hops != 1 || s.Live != 0 {
		t.Errorf("stats = %+v, want 1 hop, 0 live", s)
	}
}

func TestReceptionWaitsForEnvelope(t *testing.T) {
	r := &recorder{}
	c := New(Config{}, r)
	c.Process(ev(0, ingest.KindReceived, "CCC", func(e *ingest.Event) { e.AuthUser = "u1" }))
	if len(r.evs) != 0 {
		t.Fatalf("reception emitted before its envelope: %+v", r.evs)
	}
	c.Process(ev(1, ingest.KindQueued, "CCC", func(e *ingest.Event) { e.Sender = "x@dom.test" }))
	if len(r.evs) != 1 || r.evs[0].Sender != "x@dom.test" || r.evs[0].AuthUser != "u1" || !r.evs[0].Time.Equal(t0) {
		t.Fatalf("got %+v", r.evs)
	}
	// A reception that never gets its envelope is counted after the timeout.
	c.Process(ev(2, ingest.KindReceived, "DDD", nil))
	c.Process(ev(2+11*60, ingest.KindInfo, "EEE", nil))
	if r.count(ingest.KindReceived) != 2 || c.Stats().LateRecvd != 1 {
		t.Fatalf("late reception not counted: %+v %+v", r.evs, c.Stats())
	}
}

func TestFirstDeferral(t *testing.T) {
	r := &recorder{}
	c := New(Config{}, r)
	for i := 0; i < 3; i++ {
		c.Process(ev(i, ingest.KindDeferred, "FFF", nil))
	}
	first := 0
	for _, e := range r.evs {
		if e.FirstDeferral {
			first++
		}
	}
	if len(r.evs) != 3 || first != 1 {
		t.Fatalf("deferrals %d, first %d; want 3, 1", len(r.evs), first)
	}
}

func TestPIDJoin(t *testing.T) {
	r := &recorder{}
	c := New(Config{}, r)
	c.Process(&ingest.Event{Time: t0, Host: "mx", PID: 77, Kind: ingest.KindAuth, AuthUser: "carol"})
	c.Process(&ingest.Event{Time: t0, Host: "mx", PID: 77, Kind: ingest.KindReceived, QueueID: "s1GNXHYB005133"})
	c.Process(&ingest.Event{Time: t0, Host: "mx", PID: 77, Kind: ingest.KindQueued, QueueID: "s1GNXHYB005133", Sender: "c@d.test"})
	c.Process(&ingest.Event{Time: t0, Host: "other", PID: 77, Kind: ingest.KindReceived, QueueID: "s1GNXHYB005134"})
	c.Process(&ingest.Event{Time: t0, Host: "other", PID: 77, Kind: ingest.KindQueued, QueueID: "s1GNXHYB005134"})
	if r.evs[0].AuthUser != "carol" {
		t.Errorf("AUTH not joined by pid: %+v", r.evs[0])
	}
	if r.evs[1].AuthUser != "" {
		t.Errorf("AUTH joined across hosts: %+v", r.evs[1])
	}
}

func TestEvictionBoundsMemoryAndCounts(t *testing.T) {
	r := &recorder{}
	c := New(Config{MaxMessages: 100}, r)
	for i := 0; i < 1000; i++ {
		qid := string(rune('A'+i%26)) + string(rune('A'+i/26%26)) + string(rune('A'+i/676))
		c.Process(ev(0, ingest.KindReceived, qid, nil))
	}
	s := c.Stats()
	if s.Live > 100 {
		t.Errorf("live = %d, cap 100", s.Live)
	}
	if s.Evicted == 0 {
		t.Errorf("nothing evicted: %+v", s)
	}
	c.Flush()
	if got := r.count(ingest.KindReceived); got != 1000 {
		t.Errorf("received %d after eviction, want 1000 (evicted receptions must still count)", got)
	}
}

func TestExpiry(t *testing.T) {
	r := &recorder{}
	c := New(Config{Expiry: time.Hour}, r)
	c.Process(ev(0, ingest.KindReceived, "OLD1", nil))
	c.Process(ev(3*3600, ingest.KindInfo, "NEW1", nil))
	c.Process(ev(6*3600, ingest.KindInfo, "NEW2", nil))
	if s := c.Stats(); s.Expired == 0 {
		t.Errorf("no expiry: %+v", s)
	}
}

func BenchmarkStory(b *testing.B) {
	r := &discard{}
	c := New(Config{}, r)
	evs := make([]ingest.Event, 6)
	qids := make([]string, 4096)
	for i := range qids {
		qids[i] = string([]byte{byte('A' + i%26), byte('A' + i/26%26), byte('A' + i/676%26), 'X', 'Y'})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q := qids[i%len(qids)]
		tm := t0.Add(time.Duration(i) * time.Millisecond)
		evs[0] = ingest.Event{Time: tm, Host: "mx", Kind: ingest.KindReceived, QueueID: q, AuthUser: "user"}
		evs[1] = ingest.Event{Time: tm, Host: "mx", Kind: ingest.KindInfo, QueueID: q, MessageID: "x@y"}
		evs[2] = ingest.Event{Time: tm, Host: "mx", Kind: ingest.KindQueued, QueueID: q, Sender: "a@b.c"}
		evs[3] = ingest.Event{Time: tm, Host: "mx", Kind: ingest.KindDelivered, QueueID: q, Recipient: "d@e.f"}
		evs[4] = ingest.Event{Time: tm, Host: "mx", Kind: ingest.KindRemoved, QueueID: q}
		for j := 0; j < 5; j++ {
			c.Process(&evs[j])
		}
	}
}

type discard struct{}

func (discard) Record(*ingest.Event) {}

// The re-injected copy can be delivered and removed before the original's
// "queued as" line is logged (seen in real amavis logs): the hop must still
// be recognised and the copy's reception undone.
func TestLateHopLine(t *testing.T) {
	r := &recorder{}
	c := New(Config{}, r)
	for _, e := range []*ingest.Event{
		ev(0, ingest.KindReceived, "ORIG1", func(e *ingest.Event) { e.LocalUser = "0"; e.Program = "postfix/pickup" }),
		ev(0, ingest.KindQueued, "ORIG1", func(e *ingest.Event) { e.Sender = "root@host.test" }),
		ev(1, ingest.KindReceived, "COPY1", func(e *ingest.Event) { e.Program = "postfix/10025/smtpd" }),
		ev(1, ingest.KindQueued, "COPY1", func(e *ingest.Event) { e.Sender = "root@host.test" }),
		ev(1, ingest.KindDelivered, "COPY1", func(e *ingest.Event) { e.Recipient = "root@host.test" }),
		ev(1, ingest.KindRemoved, "COPY1", nil),
		ev(2, ingest.KindDelivered, "ORIG1", func(e *ingest.Event) { e.NextQueueID = "COPY1" }),
		ev(2, ingest.KindRemoved, "ORIG1", nil),
	} {
		c.Process(e)
	}
	c.Flush()
	if got := r.count(ingest.KindReceived); got != 1 {
		t.Errorf("received = %d, want 1", got)
	}
	if got := r.count(ingest.KindDelivered); got != 1 {
		t.Errorf("delivered = %d, want 1", got)
	}
	if c.Stats().Hops != 1 {
		t.Errorf("hop not recognised: %+v", c.Stats())
	}
}
