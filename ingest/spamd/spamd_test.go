package spamd

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

func record(tb testing.TB, hp *syslog.Parser, line string) *ingest.Record {
	tb.Helper()
	rec := &ingest.Record{}
	if err := hp.Parse(line, rec); err != nil {
		tb.Fatalf("header of %q: %v", line, err)
	}
	return rec
}

func parseLines(t *testing.T, lines ...string) ([]ingest.Event, []error) {
	t.Helper()
	hp := &syslog.Parser{Year: 2026, Location: time.UTC}
	p := New()
	var evs []ingest.Event
	var errs []error
	for _, l := range lines {
		rec := record(t, hp, l)
		if !Owns(rec.Program) {
			t.Fatalf("program %q of %q not owned", rec.Program, l)
		}
		got, err := p.Parse(nil, rec)
		if err != nil {
			errs = append(errs, err)
		}
		evs = append(evs, got...)
	}
	return evs, errs
}

func TestDesignExample(t *testing.T) {
	// DESIGN §11, with the companion line spamd logs just before.
	evs, errs := parseLines(t,
		"Mar  3 10:00:00 mx spamd[4242]: spamd: connection from localhost [127.0.0.1]:40120 to port 783, fd 5",
		"Mar  3 10:00:00 mx spamd[4242]: spamd: processing message <m1@shop.example> for shopuser:1001",
		"Mar  3 10:00:01 mx spamd[4242]: spamd: identified spam (7.4/5.0) for shopuser:1001 in 0.2 seconds, 1234 bytes.",
		"Mar  3 10:00:01 mx spamd[4242]: spamd: result: Y 7 - RULE1,RULE2 scantime=0.2,size=1234,user=shopuser,uid=1001,required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=40120,mid=<m1@shop.example>,autolearn=no",
	)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []ingest.Event{{
		Time: time.Date(2026, 3, 3, 10, 0, 1, 0, time.UTC), Host: "mx", Program: "spamd", PID: 4242,
		Source: ingest.SourceSpamd, Kind: ingest.KindScored, LocalUser: "shopuser", MessageID: "m1@shop.example",
		Size: 1234, Score: 7.4, Threshold: 5, Spam: true, RulesUnscored: true,
		Rules: []ingest.RuleHit{{Name: "RULE1"}, {Name: "RULE2"}},
	}}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("got  %+v\nwant %+v", evs, want)
	}
}

func TestJoin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		score float64
		spam  bool
	}{
		{"ham, negative score, no rules (two spaces)", []string{
			"Mar  3 10:00:00 mx spamd[7]: spamd: clean message (-1.9/5.0) for u:1 in 0.1 seconds, 10 bytes.",
			"Mar  3 10:00:00 mx spamd[7]: spamd: result: . -1 -  scantime=0.1,size=10,user=u,uid=1,required_score=5.0,rhost=l,raddr=127.0.0.1,rport=1,mid=<a>,autolearn=no",
		}, -1.9, false},
		{"companion of another child is not taken", []string{
			"Mar  3 10:00:00 mx spamd[8]: spamd: identified spam (9.9/5.0) for u:1 in 0.1 seconds, 10 bytes.",
			"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y  6 - A scantime=0.1,size=10,user=u,uid=1,required_score=5.0,mid=<a>,autolearn=no",
		}, 6, true},
		{"companion of another size is not taken", []string{
			"Mar  3 10:00:00 mx spamd[7]: spamd: identified spam (9.9/5.0) for u:1 in 0.1 seconds, 11 bytes.",
			"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y  6 - A scantime=0.1,size=10,user=u,uid=1,required_score=5.0,mid=<a>,autolearn=no",
		}, 6, true},
		{"companion of another host is not taken", []string{
			"Mar  3 10:00:00 mx2 spamd[7]: spamd: identified spam (9.9/5.0) for u:1 in 0.1 seconds, 10 bytes.",
			"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y  6 - A scantime=0.1,size=10,user=u,uid=1,required_score=5.0,mid=<a>,autolearn=no",
		}, 6, true},
		{"stale companion is not taken", []string{
			"Mar  3 10:00:00 mx spamd[7]: spamd: identified spam (9.9/5.0) for u:1 in 0.1 seconds, 10 bytes.",
			"Mar  3 11:00:00 mx spamd[7]: spamd: result: Y  6 - A scantime=0.1,size=10,user=u,uid=1,required_score=5.0,mid=<a>,autolearn=no",
		}, 6, true},
		{"a companion is used once", []string{
			"Mar  3 10:00:00 mx spamd[7]: spamd: identified spam (6.5/5.0) for u:1 in 0.1 seconds, 10 bytes.",
			"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y  6 - A scantime=0.1,size=10,user=u,uid=1,required_score=5.0,mid=<a>,autolearn=no",
			"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y  8 - A scantime=0.1,size=10,user=u,uid=1,required_score=5.0,mid=<a>,autolearn=no",
		}, 8, true},
	} {
		evs, errs := parseLines(t, tc.lines...)
		if len(errs) > 0 {
			t.Errorf("%s: %v", tc.name, errs)
			continue
		}
		last := evs[len(evs)-1]
		if last.Score != tc.score || last.Spam != tc.spam {
			t.Errorf("%s: score %v spam %v, want %v %v", tc.name, last.Score, last.Spam, tc.score, tc.spam)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, l := range []string{
		"Mar  3 10:00:00 mx spamd[7]: spamd: result: X 7 - A required_score=5.0",
		"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y seven - A required_score=5.0",
		"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y 7 A required_score=5.0",
		"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y 7 - A scantime=0.1,size=1",
		"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y 7 - A required_score=five",
		"Mar  3 10:00:00 mx spamd[7]: spamd: result: Y 7 - A required_score=NaN",
		"Mar  3 10:00:00 mx spamd[7]: spamd: identified spam (7.4) for u:1 in 0.1 seconds, 1 bytes.",
		"Mar  3 10:00:00 mx spamd[7]: spamd: clean message (x/5.0) for u:1 in 0.1 seconds, 1 bytes.",
		"Mar  3 10:00:00 mx spamd[7]: spamd: clean message (1.0/5.0",
	} {
		evs, errs := parseLines(t, l)
		if len(evs) != 0 || len(errs) != 1 || !errors.Is(errs[0], ingest.ErrMalformed) {
			t.Errorf("%q: events %v, errors %v", l, evs, errs)
		}
	}
}

// TestCorpus parses the spamd lines of the shared corpus: each result line
// is one event, its companion line (where the log has one) gives the exact
// score, and the integer of the result line agrees with it.
func TestCorpus(t *testing.T) {
	files := corpus.Files(t, "logs/spamd", "*.log")
	results, joined := 0, 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		hp := &syslog.Parser{Ref: time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC}
		p := New()
		sc := bufio.NewScanner(f)
		var companionScore float64
		haveCompanion := false
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			rec := record(t, hp, line)
			if !Owns(rec.Program) {
				continue
			}
			evs, err := p.Parse(nil, rec)
			if err != nil {
				t.Errorf("%s:%d: %v", filepath.Base(name), n, err)
				continue
			}
			i := strings.Index(line, "spamd: result: ")
			if i < 0 {
				if len(evs) != 0 {
					t.Errorf("%s:%d: events from a non-result line", filepath.Base(name), n)
				}
				if _, rest, ok := strings.Cut(line, " ("); ok && (strings.Contains(line, "identified spam") || strings.Contains(line, "clean message")) {
					s, _, _ := strings.Cut(rest, "/")
					companionScore, haveCompanion = mustFloat(t, s), true
				}
				continue
			}
			results++
			if len(evs) != 1 {
				t.Fatalf("%s:%d: %d events", filepath.Base(name), n, len(evs))
			}
			ev := evs[0]
			if ev.Kind != ingest.KindScored || ev.Source != ingest.SourceSpamd || !ev.RulesUnscored || ev.Threshold == 0 ||
				ev.MessageID == "" || ev.LocalUser == "" || ev.Size == 0 || len(ev.Rules) == 0 {
				t.Errorf("%s:%d: %+v", filepath.Base(name), n, ev)
			}
			if ev.Spam != (line[i+len("spamd: result: ")] == 'Y') {
				t.Errorf("%s:%d: spam %v", filepath.Base(name), n, ev.Spam)
			}
			for _, r := range ev.Rules {
				if !strings.Contains(line, r.Name) || r.Score != 0 {
					t.Errorf("%s:%d: rule %+v", filepath.Base(name), n, r)
				}
			}
			if haveCompanion {
				joined++
				if ev.Score != companionScore {
					t.Errorf("%s:%d: score %v, companion says %v", filepath.Base(name), n, ev.Score, companionScore)
				}
			}
			if int(ev.Score) != mustInt(t, strings.Fields(line[i+len("spamd: result: ")+1:])[0]) {
				t.Errorf("%s:%d: score %v disagrees with the result line", filepath.Base(name), n, ev.Score)
			}
			haveCompanion = false
		}
		f.Close()
	}
	if results < 4 || joined < 3 {
		t.Errorf("corpus: %d result lines, %d joined to their companion", results, joined)
	}
	t.Logf("%d result lines, %d with a companion line", results, joined)
}

func TestFileHeader(t *testing.T) {
	h := FileHeader{Host: "mx", Location: time.UTC}
	var rec ingest.Record
	line := "Sun Nov  2 13:28:14 2026 [2923] info: spamd: result: .  0 - A scantime=0.3"
	if !h.Parse(line, &rec) {
		t.Fatal("not parsed")
	}
	want := ingest.Record{Time: time.Date(2026, 11, 2, 13, 28, 14, 0, time.UTC), Host: "mx", Program: "spamd", PID: 2923,
		Msg: "spamd: result: .  0 - A scantime=0.3", Line: line}
	if rec != want {
		t.Errorf("got %+v", rec)
	}
	// The cached timestamp is reused.
	if !h.Parse("Sun Nov  2 13:28:14 2026 [2924] warn: prefork: x", &rec) || rec.PID != 2924 || rec.Time != want.Time {
		t.Errorf("second line %+v", rec)
	}
	for _, bad := range []string{
		"Nov 22 13:28:10.483 [2863] info: config: x",
		"Sun Nov 22 13:28:10 2026 host spamd[1]: x",
		"Sun Nov 22 13:28:10 2026 [x] info: x",
		"Sun Nov 32 13:28:10 2026 [1] info: x",
		"Sun Nov 22 13:28:10 2026 [1] info x",
		"Sun Nov 22 13:28:10 2026 [1]",
		"",
	} {
		if h.Parse(bad, &rec) {
			t.Errorf("%q parsed: %+v", bad, rec)
		}
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}

func mustInt(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
