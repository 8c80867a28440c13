package postfix

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/ingest"
)

// FuzzParse feeds arbitrary program names and messages to Parse. It must
// never panic, must report failures as ErrMalformed without events, and
// every event must carry the record's header fields and substrings of the
// message.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.program, tc.msg)
	}
	for _, m := range benchLines {
		f.Add(m[0], m[1])
	}
	f.Add("postfix/smtpd", "NOQUEUE: reject: RCPT from [")
	f.Add("postfix/smtpd", "5FCA28903A: client=[")
	f.Add("postfix/cleanup", "5FCA28903A: reject: header from ; from=<")
	f.Add("postfix/smtp", "5FCA28903A: to=<a>, status=sent (")
	f.Add("postfix/qmgr", "5FCA28903A: from=<>>>, size=99999999999999999999999, nrcpt=1")
	var p Parser
	f.Fuzz(func(t *testing.T, program, msg string) {
		r := &ingest.Record{Host: "h", Program: program, PID: 7, Msg: msg}
		evs, err := p.Parse(nil, r)
		if err != nil {
			if !errors.Is(err, ingest.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if len(evs) != 0 {
				t.Fatalf("events with error: %+v", evs)
			}
			return
		}
		if len(evs) > 0 && !Owns(program) {
			t.Fatalf("events for foreign program %q", program)
		}
		for _, ev := range evs {
			if ev.Program != program || ev.Host != "h" || ev.PID != 7 || ev.Source != ingest.SourcePostfix {
				t.Fatalf("header fields not copied: %+v", ev)
			}
			if ev.QueueID != "" && !validQueueID(ev.QueueID) {
				t.Fatalf("invalid queue id %q", ev.QueueID)
			}
			if ev.NextQueueID != "" && !validQueueID(ev.NextQueueID) {
				t.Fatalf("invalid next queue id %q", ev.NextQueueID)
			}
			for _, s := range []string{ev.QueueID, ev.Sender, ev.Recipient, ev.ClientHost, ev.ClientIP,
				ev.RelayHost, ev.RelayIP, ev.Reply, ev.DSN, ev.AuthUser, ev.LocalUser, ev.MessageID} {
				if !strings.Contains(msg, s) {
					t.Fatalf("field %q is not part of the message", s)
				}
			}
			if ev.Size < 0 || ev.Nrcpt < 0 {
				t.Fatalf("negative size or nrcpt: %+v", ev)
			}
		}
	})
}

// FuzzOwns checks that Owns agrees with the program shape it documents.
func FuzzOwns(f *testing.F) {
	for _, s := range []string{"postfix/smtpd", "postfix-out2/smtp", "postfix/a/b", "postfix//x", "postfix1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, program string) {
		if !Owns(program) {
			return
		}
		if !strings.HasPrefix(program, "postfix") || strings.HasSuffix(program, "/") ||
			strings.Contains(program, "//") || !strings.Contains(program, "/") {
			t.Fatalf("Owns(%q) = true", program)
		}
	})
}
