package rbldnsd

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// query asks srv one question and returns the response code, the A
// records (as strings) and TXT strings of the answer, and the answer TTLs.
func query(t *testing.T, addr, name string, qtype uint16) (rcode int, a, txt []string, ttls []uint32, err error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		return 0, nil, nil, nil, err
	}
	for _, rr := range r.Answer {
		ttls = append(ttls, rr.Header().Ttl)
		switch rr := rr.(type) {
		case *dns.A:
			a = append(a, rr.A.String())
		case *dns.TXT:
			txt = append(txt, strings.Join(rr.Txt, ""))
		}
	}
	return r.Rcode, a, txt, ttls, nil
}

// expect checks one lookup's response code, A records and TXT strings.
func expect(t *testing.T, addr, name string, rcode int, a, txt []string) {
	t.Helper()
	gotRcode, gotA, _, _, err := query(t, addr, name, dns.TypeA)
	if err != nil {
		t.Fatalf("A %s: %v", name, err)
	}
	_, _, gotTXT, _, err := query(t, addr, name, dns.TypeTXT)
	if err != nil {
		t.Fatalf("TXT %s: %v", name, err)
	}
	if gotRcode != rcode || !slices.Equal(gotA, a) || !slices.Equal(gotTXT, txt) {
		t.Errorf("%s: got %s A %q TXT %q, want %s A %q TXT %q", name,
			dns.RcodeToString[gotRcode], gotA, gotTXT, dns.RcodeToString[rcode], a, txt)
	}
}

func TestServesZones(t *testing.T) {
	srv := Start(t,
		// A combined zone from two datasets: 192.0.2.7 is in both.
		Zone{Name: "zen.example.test", Type: "ip4set", Data: `
:127.0.0.2:Listed in SBL, see https://example.test/sbl?$
127.0.0.2
192.0.2.7
192.0.2.8 :127.0.0.3:
`},
		Zone{Name: "zen.example.test", Type: "ip4set", Data: `
$1 https://example.test/xbl
:127.0.0.4:Exploited host $, see $1
127.0.0.2
192.0.2.7
`},
		Zone{Name: "v6.example.test", Type: "ip6tset", Data: `
:127.0.0.2:IPv6 $ listed
2001:db8:0:1
`},
		Zone{Name: "dbl.example.test", Type: "dnset", Data: `
:127.0.1.2:Spam domain $
test
spam.example
*.phish.example :127.0.1.4:Phish domain $
`},
	)
	if !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
		t.Fatalf("Addr = %q, want 127.0.0.1:PORT", srv.Addr)
	}
	ok, nx, refused := dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeRefused
	expect(t, srv.Addr, "7.2.0.192.zen.example.test", ok,
		[]string{"127.0.0.2", "127.0.0.4"},
		[]string{"Listed in SBL, see https://example.test/sbl?192.0.2.7", "Exploited host 192.0.2.7, see https://example.test/xbl"})
	// ":127.0.0.3:" with the second colon: its own A record, no TXT.
	expect(t, srv.Addr, "8.2.0.192.zen.example.test", ok, []string{"127.0.0.3"}, nil)
	expect(t, srv.Addr, "9.2.0.192.zen.example.test", nx, nil, nil)
	expect(t, srv.Addr, "1.0.0.127.zen.example.test", nx, nil, nil)
	// IPv6: 32 reversed nibbles of 2001:db8:0:1::25.
	expect(t, srv.Addr, "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.example.test", ok,
		[]string{"127.0.0.2"}, []string{"IPv6 2001:db8:0:1::25 listed"})
	expect(t, srv.Addr, "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.example.test", nx, nil, nil)
	expect(t, srv.Addr, "test.dbl.example.test", ok, []string{"127.0.1.2"}, []string{"Spam domain test"})
	expect(t, srv.Addr, "invalid.dbl.example.test", nx, nil, nil)
	expect(t, srv.Addr, "www.phish.example.dbl.example.test", ok, []string{"127.0.1.4"}, []string{"Phish domain phish.example"}) // $ is the listed entry
	expect(t, srv.Addr, "phish.example.dbl.example.test", nx, nil, nil)
	// Zones it does not serve are refused.
	expect(t, srv.Addr, "7.2.0.192.zen.spamhaus.org", refused, nil, nil)

	// Short TTLs, so caching clients see changes soon.
	_, _, _, ttls, err := query(t, srv.Addr, "2.0.0.127.zen.example.test", dns.TypeA)
	if err != nil || len(ttls) != 2 || ttls[0] != uint32(TTL/time.Second) {
		t.Errorf("TTLs %v (%v), want %v", ttls, err, TTL)
	}
}

func TestSetZone(t *testing.T) {
	srv := Start(t,
		Zone{Name: "bl.example.test", Type: "ip4set", Data: ":127.0.0.2:v1\n192.0.2.1\n"},
		Zone{Name: "multi.example.test", Type: "ip4set", File: "multi-a", Data: "192.0.2.1 :127.0.0.2:a\n"},
		Zone{Name: "multi.example.test", Type: "ip4set", File: "multi-b", Data: "192.0.2.1 :127.0.0.3:b\n"},
	)
	ok, nx := dns.RcodeSuccess, dns.RcodeNameError
	expect(t, srv.Addr, "1.2.0.192.bl.example.test", ok, []string{"127.0.0.2"}, []string{"v1"})
	// Several changes within one second: each must be served when
	// SetZone returns (rbldnsd compares whole-second mtimes).
	for i := range 3 {
		srv.SetZone(t, "bl.example.test", fmt.Sprintf(":127.0.0.%d:v%d\n192.0.2.2\n", 10+i, 2+i))
		expect(t, srv.Addr, "1.2.0.192.bl.example.test", nx, nil, nil)
		expect(t, srv.Addr, "2.2.0.192.bl.example.test", ok, []string{fmt.Sprintf("127.0.0.%d", 10+i)}, []string{fmt.Sprintf("v%d", 2+i)})
	}
	srv.SetZone(t, "multi-b", "192.0.2.1 :127.0.0.4:c\n")
	expect(t, srv.Addr, "1.2.0.192.multi.example.test", ok, []string{"127.0.0.2", "127.0.0.4"}, []string{"a", "c"})
	srv.SetZone(t, "multi-a", "")
	expect(t, srv.Addr, "1.2.0.192.multi.example.test", ok, []string{"127.0.0.4"}, []string{"c"})

	// A zone of two datasets cannot be named by its zone name.
	ft := &fatalTB{TB: t}
	ft.run(func() { srv.SetZone(ft, "multi.example.test", "") })
	if !strings.Contains(ft.msg, "multi-a, multi-b") {
		t.Errorf("SetZone on a zone of two datasets: %q, want the file names", ft.msg)
	}
}

func TestPauseStop(t *testing.T) {
	srv := Start(t, Zone{Name: "bl.example.test", Type: "ip4tset", Data: "192.0.2.1\n"})
	expect(t, srv.Addr, "1.2.0.192.bl.example.test", dns.RcodeSuccess, []string{"127.0.0.2"}, nil)
	srv.Pause(t)
	if _, _, _, _, err := query(t, srv.Addr, "1.2.0.192.bl.example.test", dns.TypeA); err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Errorf("query while paused: %v, want a timeout", err)
	}
	srv.Resume(t)
	expect(t, srv.Addr, "1.2.0.192.bl.example.test", dns.RcodeSuccess, []string{"127.0.0.2"}, nil)
	srv.Stop()
	if _, _, _, _, err := query(t, srv.Addr, "1.2.0.192.bl.example.test", dns.TypeA); err == nil {
		t.Errorf("query after Stop succeeded")
	}
	if !strings.Contains(srv.Output(), "terminating") {
		t.Errorf("rbldnsd output does not show it terminated:\n%s", srv.Output())
	}
}

func TestRejectedLines(t *testing.T) {
	ft := &fatalTB{TB: t}
	ft.run(func() {
		Start(ft, Zone{Name: "bl.example.test", Type: "ip4set", File: "typo", Data: "192.0.2.1\n192.0.2.300\n"})
	})
	if !strings.Contains(ft.msg, "file typo(2)") {
		t.Errorf("Start with a bad line: %q, want rbldnsd's complaint about typo line 2", ft.msg)
	}

	srv := Start(t, Zone{Name: "bl.example.test", Type: "ip4set", Data: "192.0.2.1\n"})
	ft = &fatalTB{TB: t}
	ft.run(func() { srv.SetZone(ft, "bl.example.test", "not an address\n") })
	if !strings.Contains(ft.msg, "invalid address") {
		t.Errorf("SetZone with a bad line: %q, want rbldnsd's complaint", ft.msg)
	}
}

// fatalTB records a Fatal instead of failing the test, so tests can check
// that the harness refuses bad input.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn in a goroutine (Fatal ends it) and waits for it.
func (f *fatalTB) run(fn func()) {
	var wg sync.WaitGroup
	wg.Go(fn)
	wg.Wait()
	if f.msg == "" {
		f.TB.Errorf("no Fatal: the harness accepted bad input")
	}
}
