package spamd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

func FuzzParse(f *testing.F) {
	for _, l := range benchLines {
		_, msg, _ := strings.Cut(l, "]: ")
		f.Add(msg)
	}
	f.Add("spamd: result: Y -3 -  required_score=5.0")
	f.Add("spamd: identified spam (1e400/5.0) for u:1 in 0.1 seconds, 9999999999999999999999 bytes.")
	f.Add("spamd: result: . 0 - ,,, required_score=,mid=,user=")
	p := New()
	f.Fuzz(func(t *testing.T, msg string) {
		rec := &ingest.Record{Time: time.Unix(1, 0), Host: "h", Program: "spamd", PID: 7, Msg: msg, Line: msg}
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
		if got[0].Kind != ingest.KindDelivered {
			t.Fatalf("Parse clobbered dst: %+v", got[0])
		}
		for _, e := range got[1:] {
			if e.Kind != ingest.KindScored || e.Source != ingest.SourceSpamd || !e.RulesUnscored || e.Host != "h" || e.PID != 7 {
				t.Fatalf("event %+v", e)
			}
			if e.Score-e.Score != 0 || e.Threshold-e.Threshold != 0 {
				t.Fatalf("non-finite score: %+v", e)
			}
			for _, s := range []string{e.LocalUser, e.MessageID} {
				if !strings.Contains(msg, s) {
					t.Fatalf("field %q is not in the message %q", s, msg)
				}
			}
			for _, r := range e.Rules {
				if r.Name == "" || strings.ContainsAny(r.Name, ", ") || !strings.Contains(msg, r.Name) {
					t.Fatalf("rule %q", r.Name)
				}
			}
		}
	})
}

func FuzzFileHeader(f *testing.F) {
	f.Add("Sun Nov  2 13:28:14 2026 [2923] info: spamd: result: .  0 - A scantime=0.3")
	f.Add("Sun Nov 22 13:28:10 2026 [1] info: x")
	var h FileHeader
	f.Fuzz(func(t *testing.T, line string) {
		var rec ingest.Record
		if !h.Parse(line, &rec) {
			return
		}
		if rec.Program != "spamd" || rec.Line != line || !strings.HasSuffix(line, rec.Msg) || rec.Time.IsZero() {
			t.Fatalf("%+v", rec)
		}
	})
}
