package sendmail

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

// withoutFacilityTag handles the one header shape in the corpus that the
// syslog header parser rejects: FreeBSD syslogd -v writes the facility and
// level between timestamp and host ("Jun 17 14:37:39 <mail.notice> robin
// sm-mta[2794]: …"; 4 lines of fail2ban-sendmail-reject.log). The header is
// not this package's business, so the test drops the tag and still runs the
// Sendmail message through the parser.
func withoutFacilityTag(line string) (string, bool) {
	const stamp = len("Jun 17 14:37:39 ")
	if len(line) <= stamp || line[stamp] != '<' {
		return "", false
	}
	end := strings.Index(line[stamp:], "> ")
	if end < 0 || !strings.Contains(line[stamp:stamp+end], ".") {
		return "", false
	}
	return line[:stamp] + line[stamp+end+2:], true
}

// TestCorpus runs every Sendmail line of the shared corpus through the
// syslog header parser and this parser. No line may be malformed, and the
// events must agree with markers in the line itself.
func TestCorpus(t *testing.T) {
	files := corpus.Files(t, "logs/sendmail", "*.log")
	files = append(files, corpus.Files(t, "logs/spamd", "*.log")...)
	if len(files) == 0 {
		t.Skip("no sendmail corpus files")
	}
	var p Parser
	kinds := map[ingest.Kind]int{}
	var lines, owned, ignoredN, tagged int
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		hp := syslog.Parser{Ref: time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue // fail2ban annotations
			}
			lines++
			var rec ingest.Record
			if err := hp.Parse(line, &rec); err != nil {
				fixed, ok := withoutFacilityTag(line)
				if !ok {
					t.Errorf("%s:%d: header: %v", filepath.Base(name), n, err)
					continue
				}
				tagged++
				if err := hp.Parse(fixed, &rec); err != nil {
					t.Errorf("%s:%d: header without facility tag: %v", filepath.Base(name), n, err)
					continue
				}
			}
			if !Owns(rec.Program) {
				continue
			}
			owned++
			evs, err := p.Parse(nil, &rec)
			if err != nil {
				if !errors.Is(err, ingest.ErrMalformed) {
					t.Errorf("%s:%d: error does not wrap ErrMalformed: %v", filepath.Base(name), n, err)
				}
				t.Errorf("%s:%d: %v", filepath.Base(name), n, err)
				continue
			}
			if len(evs) == 0 {
				ignoredN++
			}
			for _, e := range evs {
				kinds[e.Kind]++
				if e.Source != ingest.SourceSendmail || e.Host != rec.Host || e.PID != rec.PID || !e.Time.Equal(rec.Time) {
					t.Errorf("%s:%d: header facts not copied: %+v", filepath.Base(name), n, e)
				}
			}
			checkMarkers(t, filepath.Base(name), n, rec.Msg, evs)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Logf("%d lines (%d with a facility tag), %d sendmail lines, %d ignored, events by kind: %v", lines, tagged, owned, ignoredN, kinds)
	if owned == 0 {
		t.Fatal("no corpus line was recognised as Sendmail's")
	}
}

// checkMarkers cross-checks the events of one line against what the line
// plainly says.
func checkMarkers(t *testing.T, file string, n int, msg string, evs []ingest.Event) {
	t.Helper()
	want := func(kind ingest.Kind, min int) {
		t.Helper()
		c := 0
		for _, e := range evs {
			if e.Kind != kind {
				t.Errorf("%s:%d: got a %v event, want only %v: %q", file, n, e.Kind, kind, msg)
			}
			c++
		}
		if c < min {
			t.Errorf("%s:%d: got %d %v events, want at least %d: %q", file, n, c, kind, min, msg)
		}
	}
	switch {
	case strings.Contains(msg, ", stat=Sent"):
		want(ingest.KindDelivered, 1)
	case strings.Contains(msg, ", stat=Deferred"):
		want(ingest.KindDeferred, 1)
	case strings.Contains(msg, "ruleset=check_") && strings.Contains(msg, ", reject="):
		want(ingest.KindRejected, 1)
		if evs[0].ClientIP == "" || evs[0].Reply == "" {
			t.Errorf("%s:%d: rejection without client IP or reply: %+v", file, n, evs[0])
		}
	case strings.Contains(msg, ": from=") && !strings.Contains(msg, "nrcpts=0,"):
		if len(evs) != 2 || evs[0].Kind != ingest.KindReceived || evs[1].Kind != ingest.KindQueued || evs[0].Sender == "" {
			t.Errorf("%s:%d: from= line gave %+v", file, n, evs)
		}
	}
}
