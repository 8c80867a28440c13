package postfix

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

// knownMalformed lists the corpus messages (by file and exact message) the
// parser rejects on purpose, with the reason.
var knownMalformed = map[string]map[string]string{
	"sergeymakinen-postfix_exporter-mail.SYNTHETIC.log": {
		"foo":                          "deliberately malformed: postfix/unknown is no Postfix daemon",
		"NOQUEUE: reject: Unsupported": "deliberately malformed: reject without command or client",
		"Unsupported":                  "deliberately malformed: no known smtpd/lmtp/smtp/cleanup/qmgr message",
		"123456789AB: user@example.com, relay=example.com[123.45.67.89]:25, delay=2, delays=2/2/2/2, dsn=1.2.3, status=deferred (host example.com[123.45.67.89] said: 123-1.2.3 The recipient's inbox is out of storage space. Please direct the 123-1.2.3 recipient to 123 1.2.3  https://support.google.com/mail/?p=OverQuotaTemp 000-0000000000000000000000000000000000000000000.000 - gsmtp (in reply to RCPT TO command))": "hand-templated: delivery line without to=",
		"123456789AB: user@example.com, relay=example.com[123.45.67.89]:25, delay=2, delays=2/2/2/2, dsn=1.2.3, status=deferred (host example.com[123.45.67.89] said: 12 Malformed (in reply to RCPT TO command))":                                                                                                                                                                                                              "hand-templated: delivery line without to=",
	},
}

// readLines returns the non-empty lines of a corpus file that are not
// comments ("# failJSON …" annotations in fail2ban files, "# section"
// headers in the SYNTHETIC file).
func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		s := sc.Text()
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		lines = append(lines, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lines
}

// TestCorpus runs every line of every Postfix log in the corpus through the
// syslog header parser and the Postfix parser. Lines of other programs
// (amavis, dovecot deliver, fetchmail) are skipped; a Postfix line that
// fails to parse fails the test unless knownMalformed lists it.
func TestCorpus(t *testing.T) {
	files := corpus.Files(t, "logs/postfix", "*.log")
	if len(files) == 0 {
		t.Fatal("no postfix corpus logs")
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			known := knownMalformed[name]
			synthetic := strings.Contains(name, "SYNTHETIC")
			hp := syslog.Parser{Year: 2023, Location: time.UTC}
			var p Parser
			var rec ingest.Record
			var evs []ingest.Event
			var counts [32]int
			var ignored, malformed, headerErrs, foreign int
			for i, ln := range readLines(t, path) {
				if err := hp.Parse(ln, &rec); err != nil {
					if !synthetic {
						t.Errorf("%s:%d: header: %v", name, i+1, err)
					}
					headerErrs++
					continue
				}
				if !Owns(rec.Program) && !strings.HasPrefix(rec.Program, "postfix") {
					foreign++
					continue
				}
				var err error
				evs, err = p.Parse(evs[:0], &rec)
				if err != nil {
					if !errors.Is(err, ingest.ErrMalformed) {
						t.Errorf("%s:%d: error does not wrap ErrMalformed: %v", name, i+1, err)
					}
					malformed++
					if _, ok := known[rec.Msg]; !ok {
						t.Errorf("%s:%d: %v", name, i+1, err)
					}
					continue
				}
				if len(evs) == 0 {
					ignored++
				}
				for _, ev := range evs {
					counts[ev.Kind]++
					checkEvent(t, name, i+1, &rec, &ev)
				}
			}
			var sb strings.Builder
			for k, n := range counts {
				if n > 0 {
					sb.WriteString(" " + ingest.Kind(k).String() + "=" + itoa(n))
				}
			}
			t.Logf("ignored=%d malformed=%d header-errors=%d other-programs=%d events:%s",
				ignored, malformed, headerErrs, foreign, sb.String())
		})
	}
}

// checkEvent verifies the invariants every event must satisfy.
func checkEvent(t *testing.T, file string, n int, rec *ingest.Record, ev *ingest.Event) {
	t.Helper()
	if ev.Source != ingest.SourcePostfix || ev.Host != rec.Host || ev.Program != rec.Program ||
		ev.PID != rec.PID || !ev.Time.Equal(rec.Time) || ev.Transport == "" {
		t.Errorf("%s:%d: header fields not copied: %+v", file, n, ev)
	}
	if ev.QueueID != "" && !validQueueID(ev.QueueID) {
		t.Errorf("%s:%d: bad queue id %q", file, n, ev.QueueID)
	}
	switch ev.Kind {
	case ingest.KindReceived, ingest.KindQueued, ingest.KindRemoved, ingest.KindInfo,
		ingest.KindDelivered, ingest.KindDeferred, ingest.KindBounced:
		if ev.QueueID == "" {
			t.Errorf("%s:%d: %v event without queue id", file, n, ev.Kind)
		}
	}
	switch ev.Kind {
	case ingest.KindDelivered, ingest.KindDeferred, ingest.KindBounced:
		if ev.Recipient == "" && !strings.Contains(rec.Msg, "to=<>") || ev.RelayHost == "" && ev.RelayIP == "" {
			t.Errorf("%s:%d: delivery without recipient or relay: %+v", file, n, ev)
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
