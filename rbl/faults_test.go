package rbl

import (
	"context"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/dnsfault"
)

// TestCheckFaultsNeverCleanOrListed runs whole check cycles through the
// real client against a DNS server that misbehaves in each way a
// resolver can: no fault may come out as clean or listed. The zone is
// healthy (its probe names answer correctly) and only the target's name
// is faulty, so the result of the lookup itself is what is judged.
func TestCheckFaultsNeverCleanOrListed(t *testing.T) {
	l := testList(t, "bl", "bl.example", KindIP)
	target := "7.113.0.203.bl.example."
	cases := []struct {
		name  string
		fault dnsfault.Fault
		want  ErrorKind
	}{
		{"timeout", dnsfault.Drop, ErrTimeout},
		{"servfail", dnsfault.ServFail, ErrServfail},
		{"refused", dnsfault.Refused, ErrRefused},
		{"garbage", dnsfault.Garbage, ErrBadAnswer},
		{"wrong id", dnsfault.WrongID, ErrTimeout},
		{"rewritten nxdomain", dnsfault.RewriteNXDOMAIN, ErrRewrittenNXDOMAIN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := dnsfault.Start(t)
			s.Set("2.0.0.127.bl.example.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2")})
			s.Set(target, dnsfault.Response{Rcode: 3, Fault: c.fault})
			client, err := NewClient(ClientConfig{Servers: []string{s.Addr}, Timeout: 150 * time.Millisecond, Attempts: 2, Backoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			targets, _ := ParseTargets([]string{"203.0.113.7"})
			rep := NewChecker(CheckerConfig{Resolver: client}).Check(context.Background(), []*List{l}, targets)
			if rep.Zones[0].Health != HealthOK {
				t.Fatalf("probe: %+v", rep.Zones[0])
			}
			r := rep.Results[0]
			if r.Status != StatusError || r.Error != c.want {
				t.Fatalf("%s: got %v, want error %s", c.name, r, c.want)
			}
			if rep.ExitCode() != ExitUnknown {
				t.Errorf("exit %d, want %d", rep.ExitCode(), ExitUnknown)
			}
		})
	}

	// Truncation is not a fault of the answer: TCP gets the listing.
	t.Run("truncated", func(t *testing.T) {
		s := dnsfault.Start(t)
		s.Set("2.0.0.127.bl.example.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2")})
		s.Set(target, dnsfault.Response{A: dnsfault.Addrs("127.0.0.2", "127.0.0.4"), TXT: []string{"listed"}, Fault: dnsfault.Truncate})
		client, err := NewClient(ClientConfig{Servers: []string{s.Addr}, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		targets, _ := ParseTargets([]string{"203.0.113.7"})
		rep := NewChecker(CheckerConfig{Resolver: client}).Check(context.Background(), []*List{l}, targets)
		r := rep.Results[0]
		if r.Status != StatusListed || len(r.Codes) != 2 || r.TXT != "listed" {
			t.Fatalf("truncated listing: %v (txt %q)", r, r.TXT)
		}
		if _, tcp := s.Queries(); tcp == 0 {
			t.Error("no TCP query after truncation")
		}
	})
}
