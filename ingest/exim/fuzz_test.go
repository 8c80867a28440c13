package exim

import (
	"errors"
	"testing"

	"github.com/mailrep/mailrep/ingest"
)

// FuzzParse checks that no input panics, that every error wraps
// ErrMalformed and leaves dst unchanged, and that events carry the
// record's header facts.
func FuzzParse(f *testing.F) {
	for _, l := range benchLines {
		f.Add(l, 0)
	}
	for _, l := range []string{
		`1jmKso-0009d4-Uf ** molly@zee.corp R=dnslookup T=remote_smtp H=mail.zee.corp [3.3.3.3] DN="C=US": SMTP error: 554 5.2.0 x`,
		`1raAV4-009jr4-9x == jack@test.corp R=dnslookup T=remote_smtp defer (-44) H=(relay.test.corp) [4.4.4.4: SMTP error`,
		`1j1Z2g-00Faoy-Uh <= e@x U=example P=local T="[Ex] \"Hello\\" for admin@example.net`,
		`rejected from <someone@some.domain> H=(tester) [127.0.0.1]: Non-CRLF-terminated header`,
		`1dOyLV-000359-20 H=localhost [127.0.0.1]:40312 Warning: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as NOT spam (-1.0)"`,
		`2021-07-17 23:20:49 [12] +0200 1dOyLV-000359-20 SMTP connection outbound 1498361781 1dOyLV-000359-20 domain.com user@x`,
		`H=(a (b) [`, `"`, `1ajLoq-0001wC-Pk `, `[1] `,
	} {
		f.Add(l, 7)
	}
	f.Fuzz(func(t *testing.T, msg string, pid int) {
		var p Parser
		r := &ingest.Record{Host: "h", Program: "exim", PID: pid, Msg: msg, Line: msg}
		dst := make([]ingest.Event, 1, 2)
		got, err := p.Parse(dst, r)
		if err != nil {
			if !errors.Is(err, ingest.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if len(got) != 1 {
				t.Fatalf("dst length %d after error", len(got))
			}
			return
		}
		for _, ev := range got[1:] {
			if ev.Host != "h" || ev.Program != "exim" || ev.Kind > ingest.KindDiscarded {
				t.Fatalf("bad event %+v", ev)
			}
		}
	})
}

// FuzzOwns checks that Owns never panics and only accepts exim names.
func FuzzOwns(f *testing.F) {
	for _, s := range []string{"exim", "exim4[12]", "exim[", "postfix/smtp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prog string) {
		if Owns(prog) && prog[:4] != "exim" {
			t.Fatalf("Owns(%q) = true", prog)
		}
	})
}
