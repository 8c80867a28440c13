package rspamd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
	"github.com/mailrep/mailrep/internal/corpus"
)

func parse(t testing.TB, line string) ([]ingest.Event, error) {
	t.Helper()
	hp := &syslog.Parser{Year: 2026, DefaultHost: "mx", Location: time.UTC}
	rec := &ingest.Record{}
	if err := hp.Parse(line, rec); err != nil {
		t.Fatalf("header of %q: %v", line, err)
	}
	if !Owns(rec.Program) {
		t.Fatalf("program %q not owned", rec.Program)
	}
	return New().Parse(nil, rec)
}

func TestLines(t *testing.T) {
	at := time.Date(2026, 2, 1, 10, 0, 1, 0, time.UTC)
	for _, tc := range []struct {
		name, line string
		want       ingest.Event
	}{{
		// DESIGN §11 shape from rspamd's own log file, options holding
		// commas, parentheses, semicolons and colons.
		"file log, current format",
		"2026-02-01 10:00:01 #4493(rspamd_proxy) <94f35d>; proxy; rspamd_task_write_log: id: <a18aec2f@ind1s06.xt.local>, qid: <3E6337624A6>, ip: 2a00:1450:4864:20::532, user: joe@shop.example, from: <joe@shop.example>, (default: T (reject): [16.20/15.00] [RBL_SPAMHAUS_XBL(4.00){203.0.113.5:from;},IP_SCORE(-0.04){ip: (0.22), ipnet: 10.154.192.0/20(0.18), asn: 14061(0.23), country: US(-0.81);},GREYLIST(0.00){greylisted;Mon, 27 Aug 2018 13:28:11 GMT;new record;},MIME_GOOD(-0.10){text/plain;},ONCE_RECEIVED(0.10){}]), len: 2048, time: 120.5ms, dns req: 42, digest: <0123456789abcdef0123456789abcdef>, rcpts: <a@b.example,c@d.example>",
		ingest.Event{Time: at, Host: "mx", Program: "rspamd", PID: 4493, Source: ingest.SourceRspamd, Kind: ingest.KindScored,
			MessageID: "a18aec2f@ind1s06.xt.local", QueueID: "3E6337624A6", ClientIP: "2a00:1450:4864:20::532",
			AuthUser: "joe@shop.example", Sender: "joe@shop.example", Size: 2048, Score: 16.2, Threshold: 15, Spam: true,
			Rules: []ingest.RuleHit{{Name: "RBL_SPAMHAUS_XBL", Score: 4}, {Name: "IP_SCORE", Score: -0.04}, {Name: "GREYLIST", Score: 0}, {Name: "MIME_GOOD", Score: -0.1}, {Name: "ONCE_RECEIVED", Score: 0.1}}},
	}, {
		"syslog, add header is T",
		"Feb  1 10:00:01 mail rspamd[27538]: <8ae27d>; proxy; rspamd_task_write_log: id: <5afa242e.hP5p/mry+fTNNjms%no-reply@example.com>, qid: <A785B308622AB>, ip: 10.154.200.17, from: <no-reply@example.com>, (default: T (add header): [6.10/25.00] [BAYES_SPAM(5.10){100.00%;},URI_COUNT_ODD(1.00){5;}]), len: 4521, time: 45.234ms, dns: 12.100ms",
		ingest.Event{Time: at, Host: "mail", Program: "rspamd", PID: 27538, Source: ingest.SourceRspamd, Kind: ingest.KindScored,
			MessageID: "5afa242e.hP5p/mry+fTNNjms%no-reply@example.com", QueueID: "A785B308622AB", ClientIP: "10.154.200.17",
			Sender: "no-reply@example.com", Size: 4521, Score: 6.1, Threshold: 25, Spam: true,
			Rules: []ingest.RuleHit{{Name: "BAYES_SPAM", Score: 5.1}, {Name: "URI_COUNT_ODD", Score: 1}}},
	}, {
		"old format: names only, no options",
		"2026-02-01 10:00:01 #1001(normal) <a1b2c3>; task; rspamd_task_write_log: id: <undef>, qid: <Q1>, ip: 10.0.0.1, from: <>, (default: F (no action): [-0.64/20.00] [BAYES_HAM,AUTH_NA,MIME_GOOD]), len: 9, time: 5.2ms",
		ingest.Event{Time: at, Host: "mx", Program: "rspamd", PID: 1001, Source: ingest.SourceRspamd, Kind: ingest.KindScored,
			QueueID: "Q1", ClientIP: "10.0.0.1", Size: 9, Score: -0.64, Threshold: 20, RulesUnscored: true,
			Rules: []ingest.RuleHit{{Name: "BAYES_HAM", Score: 0}, {Name: "AUTH_NA", Score: 0}, {Name: "MIME_GOOD", Score: 0}}},
	}, {
		"no metric prefix, verdict from the action, nan threshold",
		"2026-02-01 10:00:01 #1001(normal) <d4e5f6>; rspamd_task_write_log: id: <msg002@test.com>, ip: 10.0.0.2, (rewrite subject): [18.5/nan] [], len: 2345, time: 15.30ms",
		ingest.Event{Time: at, Host: "mx", Program: "rspamd", PID: 1001, Source: ingest.SourceRspamd, Kind: ingest.KindScored,
			MessageID: "msg002@test.com", ClientIP: "10.0.0.2", Size: 2345, Score: 18.5, Spam: true},
	}, {
		"unbalanced braces in options",
		"2026-02-01 10:00:01 #1001(normal) <x>; task; rspamd_task_write_log: id: <m>, (default: F (no action): [1.00/15.00] [A(0.50){a{b;},B(0.25){c},C(0.00){x},D(0.25){d};e}]), len: 1",
		ingest.Event{Time: at, Host: "mx", Program: "rspamd", PID: 1001, Source: ingest.SourceRspamd, Kind: ingest.KindScored,
			MessageID: "m", Size: 1, Score: 1, Threshold: 15, Rules: []ingest.RuleHit{{Name: "A", Score: 0.5}, {Name: "B", Score: 0.25}, {Name: "C", Score: 0}, {Name: "D", Score: 0.25}}},
	}} {
		evs, err := parse(t, tc.line)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(evs) != 1 || !reflect.DeepEqual(evs[0], tc.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tc.name, evs, tc.want)
		}
	}
}

func TestIgnoredAndMalformed(t *testing.T) {
	for _, l := range []string{
		"2026-02-01 10:00:01 #1001(normal) <a1b2c3>; task; rspamd_message_parse: loaded message; id: <m>; queue-id: <Q>; size: 2348",
		"Feb  1 10:00:01 mail rspamd[1]: <8ae27d>; lua; dmarc.lua:411: skip DMARC checks",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (default: S (no action): [0.00/15.00] []), len: 1",
	} {
		evs, err := parse(t, l)
		if err != nil || len(evs) != 0 {
			t.Errorf("%q: %v %v", l, evs, err)
		}
	}
	for _, l := range []string{
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m, (no action): [1/2] []",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, len: 1",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action) [1/2] []",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action): [x/2] []",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action): [1/2] [A(1.0),B(1.0)",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action): [1/2] [A(x)]",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action): [1/2] [A(1.0){abc]",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action): [1/2] [A(1.0),B]",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (no action): [1/2] [A,,B]",
		"2026-02-01 10:00:01 #1001(normal) <a>; task; rspamd_task_write_log: id: <m>, (default: F (no action): [1/2] [A], len: 1",
	} {
		evs, err := parse(t, l)
		if !errors.Is(err, ingest.ErrMalformed) || len(evs) != 0 {
			t.Errorf("%q: %v %v", l, evs, err)
		}
	}
}

// TestCorpus parses the rspamd lines of the shared corpus (hand-written
// fixtures from rspamd's test suite, see SOURCES.md, whose options hold no
// commas): the symbols must be those between the list's commas.
func TestCorpus(t *testing.T) {
	tasks := 0
	for _, name := range corpus.Files(t, "logs/rspamd", "*.log") {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			evs, err := parse(t, line)
			if err != nil {
				t.Errorf("%s:%d: %v", filepath.Base(name), n, err)
				continue
			}
			if !strings.Contains(line, marker) {
				continue
			}
			tasks++
			if len(evs) != 1 {
				t.Fatalf("%s:%d: %d events", filepath.Base(name), n, len(evs))
			}
			ev := evs[0]
			_, list, _ := strings.Cut(line, "] [")
			list, _, _ = strings.Cut(list, "], len:")
			var want []ingest.RuleHit
			for _, item := range strings.Split(list, ",") {
				var h ingest.RuleHit
				sym, score, _ := strings.Cut(item, "(")
				score, _, _ = strings.Cut(score, ")")
				h.Name = sym
				if _, err := fmt.Sscan(score, &h.Score); err != nil {
					t.Fatalf("%s:%d: %q: %v", filepath.Base(name), n, item, err)
				}
				want = append(want, h)
			}
			if !reflect.DeepEqual(ev.Rules, want) {
				t.Errorf("%s:%d: rules %v, want %v", filepath.Base(name), n, ev.Rules, want)
			}
			spam := strings.Contains(line, "(reject)") || strings.Contains(line, "(add header)")
			if ev.MessageID == "" || ev.QueueID == "" || ev.ClientIP == "" || ev.Size == 0 || ev.Threshold != 15 ||
				ev.Spam != spam || ev.RulesUnscored {
				t.Errorf("%s:%d: %+v", filepath.Base(name), n, ev)
			}
		}
		f.Close()
	}
	if tasks != 15 {
		t.Errorf("%d task lines, want 15", tasks)
	}
}
