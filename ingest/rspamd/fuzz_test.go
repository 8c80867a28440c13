package rspamd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

func FuzzParse(f *testing.F) {
	for _, l := range benchLines {
		f.Add(l[strings.Index(l, "<"):])
	}
	f.Add("rspamd_task_write_log: id: <m>, (default: F (no action): [1/2] [A(1.0){a{b;},B(0.5){},C{x}]), len: 1")
	f.Add("rspamd_task_write_log: id: <m>, (no action): [1/nan] [A,B], len: x")
	f.Add("rspamd_task_write_log: (default: S (no action): [0/0] [])")
	var p Parser
	f.Fuzz(func(t *testing.T, msg string) {
		rec := &ingest.Record{Time: time.Unix(1, 0), Host: "h", Program: "rspamd", PID: 7, Msg: msg, Line: msg}
		dst := []ingest.Event{{Kind: ingest.KindDelivered}}
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
		if got[0].Kind != ingest.KindDelivered || len(got) > 2 {
			t.Fatalf("Parse clobbered dst or made %d events", len(got)-1)
		}
		for _, e := range got[1:] {
			if e.Kind != ingest.KindScored || e.Source != ingest.SourceRspamd || e.Host != "h" || e.PID != 7 {
				t.Fatalf("event %+v", e)
			}
			if e.Score-e.Score != 0 || e.Threshold-e.Threshold != 0 {
				t.Fatalf("non-finite score: %+v", e)
			}
			for _, s := range []string{e.MessageID, e.QueueID, e.ClientIP, e.AuthUser, e.Sender} {
				if !strings.Contains(msg, s) {
					t.Fatalf("field %q is not in the message %q", s, msg)
				}
			}
			for _, r := range e.Rules {
				if r.Name == "" || strings.ContainsAny(r.Name, ",(){}[] ") || !strings.Contains(msg, r.Name) {
					t.Fatalf("rule %q", r.Name)
				}
				if r.Score-r.Score != 0 || (e.RulesUnscored && r.Score != 0) {
					t.Fatalf("rule %+v (unscored %v)", r, e.RulesUnscored)
				}
			}
		}
	})
}
