package rbl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailrep/mailrep/internal/dnsfault"
)

// newTestClient returns a client for servers with short timeouts, closed
// when the test ends.
func newTestClient(t *testing.T, cfg ClientConfig, servers ...string) *Client {
	t.Helper()
	cfg.Servers = servers
	if cfg.Timeout == 0 {
		cfg.Timeout = 200 * time.Millisecond
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientAnswers(t *testing.T) {
	s := dnsfault.Start(t)
	long := strings.Repeat("a", 200) + strings.Repeat("b", 200)
	s.Set("2.0.0.127.zen.test.", dnsfault.Response{
		A:   dnsfault.Addrs("127.0.0.4", "127.0.0.2", "127.0.0.10"),
		TXT: []string{"https://check.example/query/ip/127.0.0.2", long},
		TTL: 900,
	})
	s.Set("*.zen.test.", dnsfault.Response{Rcode: dns.RcodeNameError, NegTTL: 17})
	s.Set("7.113.0.203.in-addr.arpa.", dnsfault.Response{PTR: []string{"Mail.Example.COM."}})
	s.Set("mail.example.com.", dnsfault.Response{A: dnsfault.Addrs("203.0.113.7", "2001:db8::7"), TTL: 60})
	s.Set("alias.example.com.", dnsfault.Response{CNAME: "mail.example.com.", TTL: 30})
	s.Set("empty.example.com.", dnsfault.Response{NegTTL: 11})
	c := newTestClient(t, ClientConfig{}, s.Addr)
	ctx := context.Background()

	tests := []struct {
		name  string
		qtype uint16
		want  Answer
	}{
		{"2.0.0.127.zen.test", dns.TypeA, Answer{A: dnsfault.Addrs("127.0.0.4", "127.0.0.2", "127.0.0.10"), TTL: 900 * time.Second}},
		{"2.0.0.127.ZEN.test.", dns.TypeTXT, Answer{TXT: []string{"https://check.example/query/ip/127.0.0.2", long}, TTL: 900 * time.Second}},
		{"3.0.0.127.zen.test.", dns.TypeA, Answer{Rcode: dns.RcodeNameError, TTL: 17 * time.Second}},
		{"7.113.0.203.in-addr.arpa.", dns.TypePTR, Answer{Names: []string{"mail.example.com"}, TTL: 300 * time.Second}},
		{"mail.example.com.", dns.TypeA, Answer{A: dnsfault.Addrs("203.0.113.7"), TTL: time.Minute}},
		{"mail.example.com.", dns.TypeAAAA, Answer{A: dnsfault.Addrs("2001:db8::7"), TTL: time.Minute}},
		{"alias.example.com.", dns.TypeA, Answer{A: dnsfault.Addrs("203.0.113.7"), TTL: 30 * time.Second}},
		{"empty.example.com.", dns.TypeA, Answer{TTL: 11 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			got, err := c.Lookup(ctx, tt.name, tt.qtype)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Server = s.Addr
			if !answersEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func answersEqual(a, b Answer) bool {
	return a.Rcode == b.Rcode && slices.Equal(a.A, b.A) && slices.Equal(a.TXT, b.TXT) &&
		slices.Equal(a.Names, b.Names) && a.TTL == b.TTL && a.Server == b.Server &&
		a.TCP == b.TCP && a.Cached == b.Cached
}

func TestClientTruncationUsesTCP(t *testing.T) {
	s := dnsfault.Start(t)
	s.Set("2.0.0.127.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2", "127.0.0.3")})
	s.SetFault(dnsfault.Truncate)
	c := newTestClient(t, ClientConfig{}, s.Addr)
	a, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if !a.TCP || !slices.Equal(a.A, dnsfault.Addrs("127.0.0.2", "127.0.0.3")) {
		t.Errorf("answer %+v, want both records over TCP", a)
	}
	if udp, tcp := s.Queries(); udp != 1 || tcp != 1 {
		t.Errorf("server saw %d UDP and %d TCP queries, want 1 and 1", udp, tcp)
	}
}

func TestClientTimeout(t *testing.T) {
	s := dnsfault.Start(t)
	s.SetFault(dnsfault.Drop)
	const timeout = 100 * time.Millisecond
	c := newTestClient(t, ClientConfig{Timeout: timeout, Attempts: 3, Backoff: 20 * time.Millisecond}, s.Addr)
	start := time.Now()
	_, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
	elapsed := time.Since(start)
	var le *LookupError
	if !errors.As(err, &le) || le.Kind != ErrTimeout || le.Server != s.Addr {
		t.Fatalf("err = %v, want a LookupError of kind timeout from %s", err, s.Addr)
	}
	if lookupErrorKind(err) != ErrTimeout {
		t.Errorf("lookupErrorKind = %s", lookupErrorKind(err))
	}
	// Three timeouts and two pauses of at most 20ms and 40ms; the upper
	// bound leaves room for a loaded test machine.
	if elapsed < 3*timeout || elapsed > 3*timeout+60*time.Millisecond+2*time.Second {
		t.Errorf("gave up after %v, want about 3×%v", elapsed, timeout)
	}
	if udp, _ := s.Queries(); udp != 3 {
		t.Errorf("server saw %d queries, want 3 attempts", udp)
	}
}

func TestClientRetransmitsWithinAttempt(t *testing.T) {
	s := dnsfault.Start(t)
	s.Set("*.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2")})
	s.Set("lost.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.3"), Fault: dnsfault.DropFirst})
	c := newTestClient(t, ClientConfig{Timeout: 5 * time.Second, Attempts: 1}, s.Addr)
	ctx := context.Background()
	// Measure the round trip first: before that, the retransmission
	// timeout is a second.
	for i := range 5 {
		if _, err := c.Lookup(ctx, fmt.Sprintf("%d.zen.test.", i), dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	a, err := c.Lookup(ctx, "lost.zen.test.", dns.TypeA)
	elapsed := time.Since(start)
	if err != nil || !slices.Equal(a.A, dnsfault.Addrs("127.0.0.3")) {
		t.Fatalf("answer %+v, err %v", a, err)
	}
	if n := s.QueriesFor("lost.zen.test."); n != 2 {
		t.Errorf("server saw %d queries, want 2 (one lost, one resent)", n)
	}
	// The resend comes after the retransmission timeout (at least
	// minRTO), long before the 5s attempt timeout.
	if elapsed < minRTO || elapsed > 2*time.Second {
		t.Errorf("answered after %v, want between %v and a few round trips more", elapsed, minRTO)
	}
}

func TestClientWrongIDAndGarbage(t *testing.T) {
	s := dnsfault.Start(t)
	s.Set("wrong-id.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), Fault: dnsfault.WrongID})
	s.Set("garbage.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), Fault: dnsfault.Garbage})
	c := newTestClient(t, ClientConfig{Timeout: 50 * time.Millisecond, Attempts: 2}, s.Addr)
	ctx := context.Background()
	if a, err := c.Lookup(ctx, "wrong-id.test.", dns.TypeA); lookupErrorKind(err) != ErrTimeout {
		t.Errorf("answer with a wrong ID: %+v, %v; want a timeout", a, err)
	}
	if a, err := c.Lookup(ctx, "garbage.test.", dns.TypeA); lookupErrorKind(err) != ErrBadAnswer {
		t.Errorf("garbage answer: %+v, %v; want bad-answer", a, err)
	}
	if n := s.QueriesFor("garbage.test."); n != 2 {
		t.Errorf("garbage answer asked %d times, want 2 attempts", n)
	}
}

// deadUDPAddr returns a loopback address where nothing listens: queries
// to it get ICMP port unreachable.
func deadUDPAddr(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestClientFailover(t *testing.T) {
	alive := dnsfault.Start(t)
	alive.Set("2.0.0.127.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2")})
	silent := dnsfault.Start(t)
	silent.SetFault(dnsfault.Drop)

	t.Run("refused port", func(t *testing.T) {
		dead := deadUDPAddr(t)
		c := newTestClient(t, ClientConfig{}, dead, alive.Addr)
		a, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
		if err != nil || a.Server != alive.Addr || len(a.A) != 1 {
			t.Fatalf("answer %+v, err %v; want the second server's answer", a, err)
		}
		// The failing server is now skipped: the next lookup asks the
		// live one first.
		alive.ResetCounts()
		if _, err := c.Lookup(context.Background(), "x.zen.test.", dns.TypeA); err != nil {
			t.Fatal(err)
		}
		if n := alive.QueriesFor("x.zen.test."); n != 1 {
			t.Errorf("live server asked %d times, want 1", n)
		}
	})
	t.Run("silent", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{Timeout: 100 * time.Millisecond}, silent.Addr, alive.Addr)
		var now time.Duration
		c.now = func() time.Duration { return now }
		a, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
		if err != nil || a.Server != alive.Addr {
			t.Fatalf("answer %+v, err %v; want the second server's answer", a, err)
		}
		// The silent server is not asked first for shunTime, then it is
		// given another chance.
		lookup := func(name string) {
			t.Helper()
			if a, err := c.Lookup(context.Background(), name, dns.TypeA); err != nil || a.Server != alive.Addr {
				t.Fatalf("%s: answer %+v, err %v", name, a, err)
			}
		}
		now += shunTime - time.Second
		lookup("3.0.0.127.zen.test.")
		if n := silent.QueriesFor("3.0.0.127.zen.test."); n != 0 {
			t.Errorf("shunned server asked %d times", n)
		}
		now += 2 * time.Second
		lookup("4.0.0.127.zen.test.")
		if n := silent.QueriesFor("4.0.0.127.zen.test."); n != 1 {
			t.Errorf("server asked %d times after its shunning ended, want 1", n)
		}
	})
	t.Run("all refused", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{Attempts: 2}, deadUDPAddr(t), deadUDPAddr(t))
		_, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
		if k := lookupErrorKind(err); k != ErrNetwork {
			t.Errorf("err = %v (%s), want kind network", err, k)
		}
	})
}

func TestClientServfailAndRefused(t *testing.T) {
	for _, tt := range []struct {
		fault dnsfault.Fault
		rcode int
	}{
		{dnsfault.ServFail, dns.RcodeServerFailure},
		{dnsfault.Refused, dns.RcodeRefused},
	} {
		t.Run(dns.RcodeToString[tt.rcode], func(t *testing.T) {
			bad1, bad2 := dnsfault.Start(t), dnsfault.Start(t)
			bad1.SetFault(tt.fault)
			bad2.SetFault(tt.fault)
			c := newTestClient(t, ClientConfig{Attempts: 3}, bad1.Addr, bad2.Addr)
			a, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
			if err != nil || a.Rcode != tt.rcode {
				t.Fatalf("answer %+v, err %v; want rcode %s and no error", a, err, dns.RcodeToString[tt.rcode])
			}
			u1, _ := bad1.Queries()
			u2, _ := bad2.Queries()
			if u1 != 2 || u2 != 1 {
				t.Errorf("servers saw %d and %d queries, want 2 and 1 (retries rotate)", u1, u2)
			}
			// Never cached: the next lookup asks again.
			if _, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA); err != nil {
				t.Fatal(err)
			}
			if u1b, _ := bad1.Queries(); u1b == u1 {
				t.Errorf("a %s answer was cached", dns.RcodeToString[tt.rcode])
			}
		})
	}
	t.Run("transient", func(t *testing.T) {
		bad, good := dnsfault.Start(t), dnsfault.Start(t)
		bad.SetFault(dnsfault.ServFail)
		good.Set("2.0.0.127.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2")})
		c := newTestClient(t, ClientConfig{}, bad.Addr, good.Addr)
		a, err := c.Lookup(context.Background(), "2.0.0.127.zen.test.", dns.TypeA)
		if err != nil || a.Rcode != dns.RcodeSuccess || a.Server != good.Addr {
			t.Fatalf("answer %+v, err %v; want the second server's NOERROR", a, err)
		}
	})
}

func TestClientFormErrRetriesWithoutEDNS(t *testing.T) {
	s := dnsfault.Start(t)
	s.Set("old.test.", dnsfault.Response{Rcode: dns.RcodeFormatError})
	c := newTestClient(t, ClientConfig{Attempts: 1}, s.Addr)
	a, err := c.Lookup(context.Background(), "old.test.", dns.TypeA)
	if err != nil || a.Rcode != dns.RcodeFormatError {
		t.Fatalf("answer %+v, err %v; want FORMERR", a, err)
	}
	if n := s.QueriesFor("old.test."); n != 2 {
		t.Errorf("server asked %d times, want 2 (with and without EDNS)", n)
	}
}

func TestClientContext(t *testing.T) {
	s := dnsfault.Start(t)
	s.SetFault(dnsfault.Drop)
	// Returning within 2s of the context's end, with 10s per attempt,
	// is only possible when every wait honours the context.
	c := newTestClient(t, ClientConfig{Timeout: 10 * time.Second, Attempts: 3}, s.Addr)

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Lookup(ctx, "2.0.0.127.zen.test.", dns.TypeA)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned %v after cancel", d)
		}
		if !errors.Is(err, context.Canceled) || lookupErrorKind(err) != ErrTimeout {
			t.Errorf("err = %v, want context.Canceled of kind timeout", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Lookup(ctx, "3.0.0.127.zen.test.", dns.TypeA)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("returned %v after a 150ms deadline", d)
		}
		if lookupErrorKind(err) != ErrTimeout {
			t.Errorf("err = %v, want kind timeout", err)
		}
	})
	t.Run("waiter cancel", func(t *testing.T) {
		// A caller waiting for another caller's identical lookup
		// returns when its own context ends.
		leader, stopLeader := context.WithCancel(context.Background())
		defer stopLeader()
		go c.Lookup(leader, "4.0.0.127.zen.test.", dns.TypeA)
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Lookup(ctx, "4.0.0.127.zen.test.", dns.TypeA)
		if d := time.Since(start); d > 2*time.Second || lookupErrorKind(err) != ErrTimeout {
			t.Errorf("waiter returned after %v with %v", d, err)
		}
	})
}

func TestClientCache(t *testing.T) {
	s := dnsfault.Start(t)
	s.Set("2.0.0.127.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), TTL: 120})
	s.Set("*.zen.test.", dnsfault.Response{Rcode: dns.RcodeNameError, NegTTL: 30})
	c := newTestClient(t, ClientConfig{MaxTTL: time.Minute}, s.Addr)
	var now time.Duration
	c.now = func() time.Duration { return now }
	ctx := context.Background()
	lookup := func(name string) Answer {
		t.Helper()
		a, err := c.Lookup(ctx, name, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	if a := lookup("2.0.0.127.zen.test."); a.Cached || a.TTL != 120*time.Second {
		t.Errorf("first lookup: %+v", a)
	}
	now += 10 * time.Second
	a := lookup("2.0.0.127.ZEN.test")
	if !a.Cached || a.TTL != 50*time.Second || !slices.Equal(a.A, dnsfault.Addrs("127.0.0.2")) {
		t.Errorf("second lookup: %+v; want cached with 50s left (TTL 120 capped at 60)", a)
	}
	if n := s.QueriesFor("2.0.0.127.zen.test."); n != 1 {
		t.Errorf("server asked %d times, want 1", n)
	}
	if a := lookup("3.0.0.127.zen.test."); a.Rcode != dns.RcodeNameError || a.Cached {
		t.Errorf("NXDOMAIN: %+v", a)
	}
	if a := lookup("3.0.0.127.zen.test."); !a.Cached || a.TTL != 30*time.Second {
		t.Errorf("NXDOMAIN again: %+v; want cached with its SOA TTL", a)
	}
	now += time.Minute
	if a := lookup("2.0.0.127.zen.test."); a.Cached {
		t.Errorf("after expiry: %+v; want a fresh answer", a)
	}
	if a := lookup("3.0.0.127.zen.test."); a.Cached {
		t.Errorf("NXDOMAIN after expiry: %+v; want a fresh answer", a)
	}
	if n := s.QueriesFor("2.0.0.127.zen.test."); n != 2 {
		t.Errorf("server asked %d times, want 2", n)
	}
	// Other types are other entries.
	lookup2 := func() {
		if _, err := c.Lookup(ctx, "2.0.0.127.zen.test.", dns.TypeTXT); err != nil {
			t.Fatal(err)
		}
	}
	lookup2()
	if n := s.QueriesFor("2.0.0.127.zen.test."); n != 3 {
		t.Errorf("TXT lookup served from the A entry")
	}

	t.Run("disabled", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{CacheSize: -1}, s.Addr)
		s.ResetCounts()
		for range 2 {
			if _, err := c.Lookup(ctx, "2.0.0.127.zen.test.", dns.TypeA); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.QueriesFor("2.0.0.127.zen.test."); n != 2 {
			t.Errorf("server asked %d times with the cache disabled, want 2", n)
		}
	})
	t.Run("min TTL", func(t *testing.T) {
		s.Set("zero.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), TTL: 1})
		c := newTestClient(t, ClientConfig{MinTTL: 10 * time.Second}, s.Addr)
		c.Lookup(ctx, "zero.test.", dns.TypeA)
		if a, _ := c.Lookup(ctx, "zero.test.", dns.TypeA); !a.Cached || a.TTL <= time.Second {
			t.Errorf("TTL 1 with MinTTL 10s: %+v", a)
		}
	})
}

func TestClientCoalescesAndRace(t *testing.T) {
	s := dnsfault.Start(t)
	for i := range 50 {
		s.Set(fmt.Sprintf("%d.0.0.127.zen.test.", i), dnsfault.Response{A: dnsfault.Addrs(fmt.Sprintf("127.0.0.%d", i))})
	}
	s.Set("slow.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), Delay: 100 * time.Millisecond})
	c := newTestClient(t, ClientConfig{Timeout: time.Second, CacheSize: 20}, s.Addr)
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 100 {
		wg.Go(func() {
			a, err := c.Lookup(ctx, "slow.test.", dns.TypeA)
			if err == nil && !slices.Equal(a.A, dnsfault.Addrs("127.0.0.2")) {
				err = fmt.Errorf("slow.test: %v", a.A)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	for g := range 200 {
		wg.Go(func() {
			for i := range 50 {
				n := (g + i) % 50
				a, err := c.Lookup(ctx, fmt.Sprintf("%d.0.0.127.zen.test.", n), dns.TypeA)
				if err == nil && (len(a.A) != 1 || a.A[0] != netip.AddrFrom4([4]byte{127, 0, 0, byte(n)})) {
					err = fmt.Errorf("%d: %v", n, a.A)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.QueriesFor("slow.test."); n != 1 {
		t.Errorf("100 concurrent lookups of one name sent %d queries, want 1", n)
	}
}

func TestClientWaiterOutlivesLeader(t *testing.T) {
	s := dnsfault.Start(t)
	s.Set("slow.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2"), Delay: 200 * time.Millisecond})
	c := newTestClient(t, ClientConfig{Timeout: 2 * time.Second, Attempts: 1}, s.Addr)
	leader, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Lookup(leader, "slow.test.", dns.TypeA)
		leaderErr <- err
	}()
	time.Sleep(10 * time.Millisecond)
	a, err := c.Lookup(context.Background(), "slow.test.", dns.TypeA)
	if err != nil || len(a.A) != 1 {
		t.Errorf("waiter whose leader gave up: %+v, %v; want the answer", a, err)
	}
	if err := <-leaderErr; lookupErrorKind(err) != ErrTimeout {
		t.Errorf("leader: %v, want a timeout", err)
	}
}

func TestClientInterpretRewrittenNXDOMAIN(t *testing.T) {
	s := dnsfault.Start(t)
	s.SetFault(dnsfault.RewriteNXDOMAIN)
	c := newTestClient(t, ClientConfig{}, s.Addr)
	l := &List{Name: "zen", Zone: "zen.test", Kind: KindIP,
		Codes: []Code{{Match: "127.0.0.2", Meaning: "SBL", Severity: SeverityHigh}}}
	if err := l.Compile(); err != nil {
		t.Fatal(err)
	}
	a, err := c.Lookup(context.Background(), IPTarget(netip.MustParseAddr("192.0.2.1")).QueryName(l.Zone), dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	r := l.Interpret(a.Rcode, a.A)
	if r.Status != StatusError || r.Error != ErrRewrittenNXDOMAIN {
		t.Errorf("rewritten NXDOMAIN interpreted as %v", r)
	}
}

func TestNormalizeServer(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1":         "127.0.0.1:53",
		"127.0.0.1:5353":    "127.0.0.1:5353",
		" 192.0.2.1 ":       "192.0.2.1:53",
		"::1":               "[::1]:53",
		"[::1]":             "[::1]:53",
		"[2001:db8::1]:853": "[2001:db8::1]:853",
		"localhost":         "localhost:53",
		"ns.example:53":     "ns.example:53",
		"fe80::1%eth0":      "[fe80::1%eth0]:53",
	} {
		got, err := normalizeServer(in)
		if err != nil || got != want {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", ":53", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:dns", "1:2:3", "[::1", "a b"} {
		if got, err := normalizeServer(in); err == nil {
			t.Errorf("normalizeServer(%q) = %q, want an error", in, got)
		}
	}
}

func TestNewClient(t *testing.T) {
	if _, err := NewClient(ClientConfig{}); err == nil {
		t.Error("no servers: no error")
	}
	if _, err := NewClient(ClientConfig{Servers: []string{"127.0.0.1", "bad:port"}}); err == nil || !strings.Contains(err.Error(), "bad:port") {
		t.Errorf("bad server: err = %v", err)
	}
	if _, err := NewClient(ClientConfig{Servers: []string{"127.0.0.1"}, MinTTL: time.Hour, MaxTTL: time.Minute}); err == nil {
		t.Error("min TTL above max TTL: no error")
	}
	if _, err := NewClient(ClientConfig{Servers: []string{"127.0.0.1"}, Timeout: -1}); err == nil {
		t.Error("negative timeout: no error")
	}
	c, err := NewClient(ClientConfig{Servers: []string{"127.0.0.1", "127.0.0.1:53", "::1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Servers(); !slices.Equal(got, []string{"127.0.0.1:53", "[::1]:53"}) {
		t.Errorf("Servers() = %v", got)
	}
	if c.timeout != DefaultTimeout || c.attempts != DefaultAttempts || c.backoff != DefaultBackoff ||
		c.maxTTL != DefaultMaxTTL || c.minTTL != 0 || c.cache == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestServersFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	conf := "# generated\nsearch example.com\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0 trust-ad\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ServersFromResolvConf(path)
	if err != nil || !slices.Equal(got, []string{"127.0.0.53:53", "[::1]:53"}) {
		t.Errorf("ServersFromResolvConf = %v, %v", got, err)
	}
	empty := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(empty, []byte("search example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ServersFromResolvConf(empty); err == nil {
		t.Error("resolv.conf without nameservers: no error")
	}
	if _, err := ServersFromResolvConf(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestAnswerFromMsg(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	m := new(dns.Msg)
	m.SetQuestion("q.test.", dns.TypeA)
	m.Answer = []dns.RR{
		rr("q.test. 300 IN CNAME Hop.test."),
		rr("hop.test. 200 IN A 127.0.0.2"),
		rr("other.test. 5 IN A 198.51.100.1"), // not on the chain: ignored
		rr("hop.test. 400 IN A 127.0.0.3"),
		rr(`hop.test. 400 IN TXT "part one, " "part two"`),
		rr(`hop.test. 400 IN TXT "second record"`),
	}
	a := answerFromMsg(m)
	if !slices.Equal(a.A, dnsfault.Addrs("127.0.0.2", "127.0.0.3")) || a.TTL != 200*time.Second {
		t.Errorf("A = %v TTL %v", a.A, a.TTL)
	}
	if !slices.Equal(a.TXT, []string{"part one, part two", "second record"}) {
		t.Errorf("TXT = %q", a.TXT)
	}

	neg := new(dns.Msg)
	neg.SetQuestion("q.test.", dns.TypeA)
	neg.Rcode = dns.RcodeNameError
	neg.Ns = []dns.RR{rr("test. 3600 IN SOA ns.test. h.test. 1 2 3 4 900")}
	if a := answerFromMsg(neg); a.TTL != 900*time.Second || a.Rcode != dns.RcodeNameError {
		t.Errorf("NXDOMAIN with SOA minimum 900, TTL 3600: %+v", a)
	}
	neg.Ns = []dns.RR{rr("test. 60 IN SOA ns.test. h.test. 1 2 3 4 900")}
	if a := answerFromMsg(neg); a.TTL != time.Minute {
		t.Errorf("NXDOMAIN with SOA minimum 900, TTL 60: TTL %v", a.TTL)
	}
	neg.Ns = nil
	if a := answerFromMsg(neg); a.TTL != DefaultNegativeTTL {
		t.Errorf("NXDOMAIN without SOA: TTL %v", a.TTL)
	}
}

func TestAnswerCacheEviction(t *testing.T) {
	c := newAnswerCache(cacheShards * 4) // 4 entries per shard
	keys := func(n int) []cacheKey {
		// n keys that fall into shard 0.
		var out []cacheKey
		for i := 0; len(out) < n; i++ {
			k := cacheKey{name: fmt.Sprintf("%d.test.", i), qtype: dns.TypeA}
			if c.shard(k) == &c.shards[0] {
				out = append(out, k)
			}
		}
		return out
	}(8)
	s := &c.shards[0]
	const now, later = time.Second, time.Hour
	for i, k := range keys[:4] {
		s.put(k, Answer{Rcode: i}, later, now)
	}
	// A hit protects keys[1] from the next eviction.
	if _, ok := s.get(keys[1], now); !ok {
		t.Fatal("keys[1] not cached")
	}
	s.put(keys[4], Answer{}, later, now)
	if len(s.entries) != 4 || len(s.index) != 4 {
		t.Fatalf("shard holds %d entries (%d indexed), want 4", len(s.entries), len(s.index))
	}
	if _, ok := s.get(keys[1], now); !ok {
		t.Error("referenced entry evicted")
	}
	if _, ok := s.get(keys[0], now); ok {
		t.Error("unreferenced oldest entry kept")
	}
	for _, k := range keys[5:] {
		s.put(k, Answer{}, later, now)
	}
	if len(s.entries) != 4 || len(s.index) != 4 {
		t.Fatalf("shard holds %d entries (%d indexed), want 4", len(s.entries), len(s.index))
	}
	for k, i := range s.index {
		if s.entries[i].key != k {
			t.Errorf("index of %v points at %v", k, s.entries[i].key)
		}
	}
	// Expired entries are misses.
	if _, ok := s.get(keys[7], later); ok {
		t.Error("expired entry returned")
	}
}
