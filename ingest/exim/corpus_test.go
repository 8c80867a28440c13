package exim

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
	"github.com/mailrep/mailrep/internal/corpus"
)

// corpusSkip says why a corpus line is not a log line at all.
func corpusSkip(line string) bool {
	return line == "" || // separators in fail2ban and test-suite files
		line[0] == '#' || // fail2ban "# failJSON" annotations and comments
		line[0] == ' ' || line[0] == '\t' || // continuation of a multi-line test-suite entry
		strings.HasPrefix(line, "****") // test-suite harness separator
}

// headerErrors are lines ingest/syslog rightly refuses: not a header Exim
// or syslog writes.
var headerErrors = []string{
	"[127.0.0.1] depth=0 CN=",         // test-suite logwrite in place of "[pid]"
	"mail.example.com exim[3751842]:", // journalctl export without a timestamp
}

// malformedOutsideTestSuite are lines outside the Exim test-suite files
// that the parser reports as malformed, with the reason.
var malformedOutsideTestSuite = []string{
	// syslog-ng "ISO-date host prog[pid]:" header: ingest/syslog reads it
	// as a bare Exim line, so the message starts with "info exim[8003]:".
	"info exim[8003]: [8003] SMTP protocol error",
	"info exim[8001]: [8001] no MAIL in SMTP connection",
}

// TestCorpus runs every line of the Exim corpus through ingest/syslog and
// the parser. Lines of the Exim test-suite logs that the test
// configurations write with logwrite (event traces, certificate dumps,
// "rcpt_acl: macro: …", "spf_result …") are malformed by design: Exim
// does not write them by itself. Their number is pinned so that a change
// in what the parser accepts shows up here.
func TestCorpus(t *testing.T) {
	files := corpus.Files(t, "logs/exim", "*.log")
	if len(files) == 0 {
		t.Fatal("no Exim corpus files")
	}
	var p Parser
	kinds := map[ingest.Kind]int{}
	var lines, ignored, suiteMalformed int
	var evs []ingest.Event
	for _, fn := range files {
		base := filepath.Base(fn)
		suite := strings.HasPrefix(base, "exim-testsuite-")
		f, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		hp := syslog.Parser{DefaultHost: "mx", Ref: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Location: time.UTC}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Text()
			if corpusSkip(line) {
				continue
			}
			var rec ingest.Record
			if err := hp.Parse(line, &rec); err != nil {
				if !containsAny(line, headerErrors) {
					t.Errorf("%s:%d: header: %v", base, n, err)
				}
				continue
			}
			if !Owns(rec.Program) {
				t.Errorf("%s:%d: program %q not owned", base, n, rec.Program)
				continue
			}
			lines++
			evs, err = p.Parse(evs[:0], &rec)
			switch {
			case err != nil && !errors.Is(err, ingest.ErrMalformed):
				t.Errorf("%s:%d: error does not wrap ErrMalformed: %v", base, n, err)
			case err != nil && suite:
				suiteMalformed++
			case err != nil && !containsAny(line, malformedOutsideTestSuite):
				t.Errorf("%s:%d: %v", base, n, err)
			case err == nil && len(evs) == 0:
				ignored++
			}
			for _, ev := range evs {
				kinds[ev.Kind]++
				checkEvent(t, base, n, &ev)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Logf("%d lines: %d ignored, %d test-suite logwrite lines malformed, events %v", lines, ignored, suiteMalformed, kinds)
	const wantSuiteMalformed = 192
	if suiteMalformed != wantSuiteMalformed {
		t.Errorf("test-suite malformed lines = %d, want %d", suiteMalformed, wantSuiteMalformed)
	}
	want := map[ingest.Kind]int{
		ingest.KindReceived: 217, ingest.KindQueued: 217, ingest.KindDelivered: 140,
		ingest.KindDeferred: 45, ingest.KindBounced: 34, ingest.KindRejected: 133,
		ingest.KindRemoved: 143, ingest.KindHeld: 8,
	}
	for k := ingest.KindInfo; k <= ingest.KindDiscarded; k++ {
		if kinds[k] != want[k] {
			t.Errorf("%v events = %d, want %d", k, kinds[k], want[k])
		}
	}
}

// checkEvent checks what every event of a kind must carry.
func checkEvent(t *testing.T, file string, n int, ev *ingest.Event) {
	t.Helper()
	switch ev.Kind {
	case ingest.KindReceived, ingest.KindQueued, ingest.KindRemoved, ingest.KindHeld:
		if ev.QueueID == "" {
			t.Errorf("%s:%d: %v without queue id", file, n, ev.Kind)
		}
	case ingest.KindDelivered, ingest.KindBounced, ingest.KindDeferred:
		if ev.QueueID == "" || ev.Recipient == "" {
			t.Errorf("%s:%d: %v without queue id or recipient: %+v", file, n, ev.Kind, ev)
		}
	}
	if ev.Source != ingest.SourceExim && ev.Source != ingest.SourceCPanel {
		t.Errorf("%s:%d: source %v", file, n, ev.Source)
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
