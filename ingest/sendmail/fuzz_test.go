package sendmail

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/ingest"
)

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(record(f, tt.line).Msg)
	}
	for _, line := range ignoredLines {
		f.Add(record(f, line).Msg)
	}
	f.Add("u31FFPtp032300: to=\"a, <b\" <c>,<d, delay=1, stat=Sent (x")
	f.Add("u31FFPtp032300: ruleset=check_rcpt, arg1=<, relay=[, reject=5")
	f.Add("Milter: connect: host=, addr=, discard")
	var p Parser
	f.Fuzz(func(t *testing.T, msg string) {
		rec := &ingest.Record{Host: "h", Program: "sm-mta", PID: 1, Msg: msg, Line: msg}
		dst := []ingest.Event{{Kind: ingest.KindScored}}
		got, err := p.Parse(dst, rec)
		if err != nil {
			if !errors.Is(err, ingest.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("%d events appended with an error", len(got)-1)
			}
			return
		}
		if len(got) < 1 || got[0].Kind != ingest.KindScored {
			t.Fatalf("Parse clobbered dst: %+v", got)
		}
		for _, e := range got[1:] {
			if e.Source != ingest.SourceSendmail || e.Host != "h" || e.PID != 1 {
				t.Fatalf("header facts not copied: %+v", e)
			}
			switch e.Kind {
			case ingest.KindDelivered, ingest.KindDeferred, ingest.KindBounced, ingest.KindExpired:
				if e.Recipient == "" || e.QueueID == "" {
					t.Fatalf("delivery event without recipient or queue id: %+v", e)
				}
			case ingest.KindReceived, ingest.KindQueued, ingest.KindRemoved:
				if e.QueueID == "" {
					t.Fatalf("%v event without queue id: %+v", e.Kind, e)
				}
			case ingest.KindAuth:
				if e.AuthUser == "" {
					t.Fatalf("auth event without user: %+v", e)
				}
			}
			// Every string is a substring of the message: nothing invented.
			for _, s := range []string{e.QueueID, e.NextQueueID, e.Sender, e.Recipient, e.MessageID,
				e.ClientHost, e.ClientIP, e.RelayHost, e.RelayIP, e.DSN, e.Reply, e.AuthUser, e.LocalUser, e.Transport} {
				if !strings.Contains(msg, s) {
					t.Fatalf("field %q is not in the message %q", s, msg)
				}
			}
		}
	})
}

func FuzzOwns(f *testing.F) {
	for _, s := range []string{"sendmail", "sm-mta", "sm-msp-queue", "sendmail[1]", "postfix/smtp", "sm-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prog string) {
		if Owns(prog) && !strings.HasPrefix(prog, "s") {
			t.Fatalf("Owns(%q) for a name not starting with sendmail or sm-", prog)
		}
	})
}
