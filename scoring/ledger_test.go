package scoring

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

type fixedIPs map[string]netip.Addr

func (f fixedIPs) Resolve(host, program, transport string) netip.Addr { return f[program] }

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func TestAttributionPrecedence(t *testing.T) {
	ev := &ingest.Event{AuthUser: "Alice@Shop.Example", LocalUser: "1017", Sender: "www@Host.Example"}
	cases := []struct {
		a    Attribution
		want string
	}{
		{Attribution{}, "alice@shop.example"},
		{Attribution{StripDomain: true}, "alice"},
		{Attribution{Precedence: []string{"local", "auth"}}, "1017"},
		{Attribution{Precedence: []string{"sender_domain"}}, "host.example"},
		{Attribution{Precedence: []string{"sender"}}, "www@host.example"},
		{Attribution{Aliases: map[string]string{"alice@shop.example": "shop"}}, "shop"},
	}
	for _, c := range cases {
		if got := c.a.Account(ev); got != c.want {
			t.Errorf("%+v: account %q, want %q", c.a, got, c.want)
		}
	}
	if got := (&Attribution{}).Account(&ingest.Event{Sender: "<>"}); got != "" {
		t.Errorf("no identity: %q", got)
	}
}

func TestLedgerCounts(t *testing.T) {
	l := NewLedger(Attribution{}, fixedIPs{"postfix-out2/smtp": netip.MustParseAddr("192.0.2.26")})
	rec := func(e ingest.Event) { l.Record(&e) }
	base := ingest.Event{Time: t0, Host: "mx1", AuthUser: "bob", Sender: "bob@bakery.example", Program: "postfix-out2/smtp"}
	e := base
	e.Kind = ingest.KindReceived
	rec(e)
	e = base
	e.Kind, e.FirstDeferral, e.Class, e.Blocklist = ingest.KindDeferred, true, ingest.ClassBlocklist, "zen.spamhaus.org"
	rec(e)
	e.FirstDeferral, e.Class, e.Blocklist = false, ingest.ClassReputation, ""
	rec(e)
	e = base
	e.Kind = ingest.KindDelivered
	rec(e)
	e.Hop = true
	rec(e)
	e = base
	e.Kind, e.Undo = ingest.KindReceived, true
	rec(e)
	e = base
	e.Kind, e.Class = ingest.KindRejected, ingest.ClassBlocklist // local reject: not a remote rejection
	rec(e)

	want := Counters{Received: 0, Delivered: 1, Deferrals: 2, Deferred: 1, Rejected: 1, Hops: 1,
		BlocklistRejections: 1, ReputationRejections: 1, Blocklists: map[string]int64{"zen.spamhaus.org": 1}}
	tb := l.Lifetime()
	for name, got := range map[string]*Counters{"total": &tb.Total, "account": tb.Accounts["bob"],
		"ip": tb.IPs["192.0.2.26"], "domain": tb.Domains["bakery.example"]} {
		if got == nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s = %+v\nwant %+v", name, got, want)
		}
	}
}

func TestWindows(t *testing.T) {
	l := NewLedger(Attribution{}, nil, time.Hour, 24*time.Hour)
	for i, d := range []time.Duration{0, 30 * time.Minute, 2 * time.Hour, 23 * time.Hour} {
		l.Record(&ingest.Event{Time: t0.Add(d), Kind: ingest.KindDelivered, AuthUser: "u" + string(rune('a'+i))})
	}
	now := t0.Add(23*time.Hour + time.Minute)
	if got := l.Window(time.Hour, now).Total.Delivered; got != 1 {
		t.Errorf("1h window: %d delivered, want 1", got)
	}
	if got := l.Window(24*time.Hour, now).Total.Delivered; got != 4 {
		t.Errorf("24h window: %d delivered, want 4", got)
	}
	if got := l.Window(24*time.Hour, now.Add(24*time.Hour)).Total.Delivered; got != 0 {
		t.Errorf("24h window a day later: %d delivered, want 0", got)
	}
	if l.Window(7*time.Hour, now) != nil {
		t.Error("unknown window must be nil")
	}
	// An event older than the window is not counted in it (but is in the lifetime).
	l.Record(&ingest.Event{Time: t0.Add(-48 * time.Hour), Kind: ingest.KindDelivered})
	if got := l.Window(24*time.Hour, now).Total.Delivered; got != 4 {
		t.Errorf("old event leaked into the 24h window: %d", got)
	}
	if got := l.Lifetime().Total.Delivered; got != 5 {
		t.Errorf("lifetime %d, want 5", got)
	}
}

func TestLedgerStateRoundTrip(t *testing.T) {
	l := NewLedger(Attribution{}, nil, time.Hour)
	l.Record(&ingest.Event{Time: t0, Kind: ingest.KindBounced, AuthUser: "x", Sender: "a@b.example",
		Class: ingest.ClassBlocklist, Blocklist: "bl.spamcop.net"})
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m := NewLedger(Attribution{}, nil, time.Hour)
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(Summarize(l.Lifetime(), ingest.LineStats{}, 0), Summarize(m.Lifetime(), ingest.LineStats{}, 0)) {
		t.Error("lifetime differs after round trip")
	}
	if !reflect.DeepEqual(l.Window(time.Hour, t0), m.Window(time.Hour, t0)) {
		t.Error("window differs after round trip")
	}
	if err := m.UnmarshalBinary([]byte("garbage")); err == nil {
		t.Error("garbage state accepted")
	}
}

func TestSummarizeOrderAndTop(t *testing.T) {
	l := NewLedger(Attribution{}, nil)
	for i, n := range []int{3, 10, 1} {
		for j := 0; j < n; j++ {
			l.Record(&ingest.Event{Time: t0, Kind: ingest.KindDelivered, AuthUser: string(rune('a' + i))})
		}
	}
	s := Summarize(l.Lifetime(), ingest.LineStats{}, 2)
	if len(s.Accounts) != 2 || s.Accounts[0].Account != "b" || s.Accounts[1].Account != "a" {
		t.Errorf("top 2 = %+v", s.Accounts)
	}
}

func BenchmarkLedgerRecord(b *testing.B) {
	l := NewLedger(Attribution{}, fixedIPs{"postfix/smtp": netip.MustParseAddr("192.0.2.25")}, time.Hour, 24*time.Hour)
	accounts := []string{"alice@shop.example", "bob@bakery.example", "carol", "dave@x.example"}
	ev := ingest.Event{Time: t0, Kind: ingest.KindDelivered, Program: "postfix/smtp", Sender: "x@y.example"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev.AuthUser = accounts[i&3]
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		l.Record(&ev)
	}
}

func TestSpamRates(t *testing.T) {
	l := NewLedger(Attribution{}, nil, time.Hour)
	rec := func(user string, k ingest.Kind, spam bool) {
		l.Record(&ingest.Event{Time: t0, Host: "mx1", Kind: k, Spam: spam, AuthUser: user, Sender: user + "@shop.example"})
	}
	// alice: 4 scored, 1 spam (spamd Y), 1 filtered (cPanel stopped it).
	rec("alice", ingest.KindScored, false)
	rec("alice", ingest.KindScored, false)
	rec("alice", ingest.KindScored, true)
	rec("alice", ingest.KindFiltered, true)
	// bob: scored twice, ham.
	rec("bob", ingest.KindScored, false)
	rec("bob", ingest.KindScored, false)
	// carol: delivered, never scored.
	rec("carol", ingest.KindDelivered, false)

	s := Summarize(l.Lifetime(), ingest.LineStats{}, 0)
	got := map[string][3]float64{}
	for _, r := range s.Accounts {
		got[r.Account] = [3]float64{float64(r.Scored), float64(r.Spam), r.SpamRate}
	}
	want := map[string][3]float64{"alice": {4, 2, 0.5}, "bob": {2, 0, 0}, "carol": {0, 0, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scored, spam, rate per account: %v, want %v", got, want)
	}
	if s.Totals.Scored != 6 || s.Totals.Spam != 2 || s.Totals.SpamRate != 2.0/6 || s.Totals.Filtered != 1 {
		t.Errorf("totals %+v", s.Totals)
	}
	w := Summarize(l.Window(time.Hour, t0), ingest.LineStats{}, 0)
	if w.Totals.Scored != 6 || w.Totals.Spam != 2 {
		t.Errorf("window totals %+v", w.Totals)
	}
}
