package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/correlate"
)

type scoredSink struct{ evs []ingest.Event }

func (s *scoredSink) Record(ev *ingest.Event) {
	if ev.Kind == ingest.KindScored {
		e := *ev
		e.Rules = append([]ingest.RuleHit(nil), ev.Rules...)
		s.evs = append(s.evs, e)
	}
}

// Spam-filter lines reach their parsers: spamd through syslog and through
// its own log file, rspamd through its own log file, and an rspamd result
// is joined by queue id to the Postfix message it scanned.
func TestFilterLines(t *testing.T) {
	const log = `Nov 20 09:00:02 mx1 postfix/submission/smtpd[4101]: 3F2A1C0041: client=client1.example.net[198.51.100.10], sasl_method=PLAIN, sasl_username=alice@shop.example
Nov 20 09:00:03 mx1 rspamd[2002]: <8ae27d>; proxy; rspamd_task_write_log: id: <m1@shop.example>, qid: <3F2A1C0041>, ip: 198.51.100.10, from: <alice@shop.example>, (default: T (reject): [16.20/15.00] [BAYES_SPAM(5.10){100.00%;},RBL_X(11.10){a, b (c); d}]), len: 2048, time: 120.5ms
Nov 20 09:00:04 mx1 spamd[2924]: spamd: identified spam (9.4/5.0) for bob:1001 in 0.2 seconds, 4877 bytes.
Nov 20 09:00:04 mx1 spamd[2924]: spamd: result: Y  9 - HTML_MESSAGE,RDNS_NONE scantime=0.2,size=4877,user=bob,uid=1001,required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=49016,mid=<m2@x>,autolearn=disabled
Fri Nov 20 09:00:05 2026 [2923] info: spamd: clean message (0.0/5.0) for carol:1002 in 0.3 seconds, 5155 bytes.
Fri Nov 20 09:00:05 2026 [2923] info: spamd: result: .  0 - MAILING_LIST_MULTI scantime=0.3,size=5155,user=carol,uid=1002,required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=48970,mid=<m3@x>,autolearn=disabled
Fri Nov 20 09:00:05 2026 [2923] info: prefork: child states: II
`
	sink := &scoredSink{}
	p := New(correlate.Config{}, sink, nil)
	in := p.Input("mixed", InputOptions{Host: "mx1", Year: 2026, Location: time.UTC})
	for _, l := range strings.Split(strings.TrimSpace(log), "\n") {
		in.Line(l, false)
	}
	p.Flush()
	if st := p.Stats(); st.Malformed != 0 || st.Parsed != 4 {
		t.Errorf("stats %+v, samples %+v", st, p.Samples())
	}
	if len(sink.evs) != 3 {
		t.Fatalf("%d scored events: %+v", len(sink.evs), sink.evs)
	}
	rs := sink.evs[0]
	if rs.Source != ingest.SourceRspamd || rs.AuthUser != "alice@shop.example" || rs.Score != 16.2 || len(rs.Rules) != 2 {
		t.Errorf("rspamd event not joined to its message: %+v", rs)
	}
	sd := sink.evs[1]
	if sd.Source != ingest.SourceSpamd || sd.LocalUser != "bob" || sd.Score != 9.4 || !sd.RulesUnscored {
		t.Errorf("spamd syslog event: %+v", sd)
	}
	fl := sink.evs[2]
	if fl.Source != ingest.SourceSpamd || fl.LocalUser != "carol" || fl.Host != "mx1" || fl.PID != 2923 ||
		!fl.Time.Equal(time.Date(2026, 11, 20, 9, 0, 5, 0, time.UTC)) {
		t.Errorf("spamd file-log event: %+v", fl)
	}
}
