package postfix

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
	"github.com/mailrep/mailrep/internal/corpus"
)

// totals are the pflogsumm "Grand Totals" this package can be checked
// against.
type totals struct {
	received, delivered, forwarded, deferrals, bounced, rejected int
}

// pflogsummCmd is the "command" pflogsumm 1.1.5 derives from a program
// name: the syslog name (postfix or postfix-NAME) and an optional
// /smtps or /submission are stripped, the rest is kept, so
// "postfix/10025/smtpd" gives "10025/smtpd", which pflogsumm does not treat
// as smtpd.
func pflogsummCmd(program string) string {
	_, rest, _ := strings.Cut(program, "/")
	for _, s := range []string{"smtps/", "submission/"} {
		if v, ok := strings.CutPrefix(rest, s); ok {
			return v
		}
	}
	return rest
}

// pflogsummView counts our events the way pflogsumm counts lines, applying
// the documented divergences:
//   - pflogsumm counts "received" and "rejected" only for the commands
//     smtpd, postscreen and cleanup, so receptions and rejections logged by
//     postfix/SERVICE/smtpd for a SERVICE other than smtps or submission
//     (e.g. a content filter's re-injection port "10025") are invisible to
//     it; we count them.
//   - pflogsumm does not count smtpd "QID: milter-reject:" or
//     "proxy-reject:" lines as rejected; we do.
//   - pflogsumm reports "status=sent (forwarded as …)" as forwarded, not
//     delivered; we emit KindDelivered with NextQueueID, leaving the hop to
//     the correlator.
func pflogsummView(rec *ingest.Record, ev *ingest.Event, t *totals) {
	cmd := pflogsummCmd(rec.Program)
	switch ev.Kind {
	case ingest.KindReceived:
		if cmd == "smtpd" || cmd == "pickup" {
			t.received++
		}
	case ingest.KindDelivered:
		if strings.Contains(ev.Reply, "forwarded as ") {
			t.forwarded++
		} else {
			t.delivered++
		}
	case ingest.KindDeferred:
		t.deferrals++
	case ingest.KindBounced:
		t.bounced++
	case ingest.KindRejected:
		verb, _, _ := strings.Cut(strings.TrimPrefix(rec.Msg, ev.QueueID+": "), ": ")
		switch {
		case cmd == "cleanup":
			t.rejected++
		case cmd != "smtpd" && cmd != "postscreen":
		case verb == "milter-reject" || verb == "proxy-reject":
		default:
			t.rejected++
		}
	}
}

var pflogsummLine = regexp.MustCompile(`(?m)^\s+(\d+)\s+(received|delivered|forwarded|deferred|bounced|rejected)\b(?:\s*\((\d+)\s+deferrals\))?`)

// runPflogsumm returns pflogsumm's grand totals for a log file.
func runPflogsumm(t *testing.T, bin, path string) totals {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--syslog-name=postfix(?:-[A-Za-z0-9_]+)?", path).Output()
	if err != nil {
		t.Fatalf("pflogsumm %s: %v", filepath.Base(path), err)
	}
	var tt totals
	seen := 0
	for _, m := range pflogsummLine.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[1])
		switch m[2] {
		case "received":
			tt.received = n
		case "delivered":
			tt.delivered = n
		case "forwarded":
			tt.forwarded = n
		case "deferred":
			if m[3] != "" {
				tt.deferrals, _ = strconv.Atoi(m[3])
			}
		case "bounced":
			tt.bounced = n
		case "rejected":
			tt.rejected = n
		}
		seen++
	}
	if seen < 6 {
		t.Fatalf("pflogsumm %s: grand totals not found in output:\n%s", filepath.Base(path), out)
	}
	return tt
}

// TestPflogsummTotals checks, for every real Postfix log of the corpus, that
// our events give pflogsumm's grand totals once the divergences listed at
// pflogsummView are accounted for. It needs pflogsumm installed.
func TestPflogsummTotals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pflogsumm")
	}
	bin, err := exec.LookPath("pflogsumm")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/pflogsumm"); err != nil {
			t.Skip("pflogsumm not installed")
		}
	}
	for _, path := range corpus.Files(t, "logs/postfix", "*.log") {
		name := filepath.Base(path)
		if strings.Contains(name, "SYNTHETIC") {
			continue // hand-templated lines with broken headers
		}
		t.Run(name, func(t *testing.T) {
			want := runPflogsumm(t, bin, path)
			hp := syslog.Parser{Year: 2023, Location: time.UTC}
			var p Parser
			var rec ingest.Record
			var evs []ingest.Event
			var got totals
			for _, ln := range readLines(t, path) {
				if hp.Parse(ln, &rec) != nil || !Owns(rec.Program) {
					continue
				}
				evs, _ = p.Parse(evs[:0], &rec)
				for i := range evs {
					pflogsummView(&rec, &evs[i], &got)
				}
			}
			if got != want {
				t.Errorf("got %+v, pflogsumm %+v", got, want)
			}
		})
	}
}
