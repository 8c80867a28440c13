package dnsfault

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func exchange(t *testing.T, s *Server, network, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, s.Addr)
	return r, err
}

func mustExchange(t *testing.T, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := exchange(t, s, network, name, qtype)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

func TestAnswers(t *testing.T) {
	s := Start(t)
	if host, _, err := net.SplitHostPort(s.Addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr = %q, want 127.0.0.1:port", s.Addr)
	}
	long := strings.Repeat("x", 300)
	s.Set("Host.Example.", Response{
		A:   Addrs("192.0.2.1", "192.0.2.2", "2001:db8::1"),
		TXT: []string{"v=spf1 -all", long},
		TTL: 42,
	})
	s.Set("1.2.0.192.in-addr.arpa", Response{PTR: []string{"host.example"}})
	s.Set("*.zone.test.", Response{A: Addrs("127.0.0.2")})
	s.Set("alias.example.", Response{CNAME: "host.example."})

	r := mustExchange(t, s, "udp", "host.example.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Fatalf("A: rcode %d, answer %v", r.Rcode, r.Answer)
	}
	if a := r.Answer[1].(*dns.A); a.A.String() != "192.0.2.2" || a.Hdr.Ttl != 42 {
		t.Errorf("second A = %v", a)
	}
	r = mustExchange(t, s, "udp", "host.example.", dns.TypeAAAA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8::1" {
		t.Errorf("AAAA answer = %v", r.Answer)
	}
	r = mustExchange(t, s, "tcp", "host.example.", dns.TypeTXT)
	if len(r.Answer) != 2 {
		t.Fatalf("TXT answer = %v", r.Answer)
	}
	if txt := r.Answer[1].(*dns.TXT).Txt; len(txt) != 2 || strings.Join(txt, "") != long {
		t.Errorf("long TXT split into %d strings, joined length %d", len(txt), len(strings.Join(txt, "")))
	}
	r = mustExchange(t, s, "udp", "1.2.0.192.in-addr.arpa.", dns.TypePTR)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.PTR).Ptr != "host.example." {
		t.Errorf("PTR answer = %v", r.Answer)
	}
	r = mustExchange(t, s, "udp", "2.0.0.127.ZONE.test.", dns.TypeA)
	if len(r.Answer) != 1 {
		t.Errorf("wildcard answer = %v", r.Answer)
	}
	r = mustExchange(t, s, "udp", "zone.test.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("wildcard matched its own apex: rcode %d", r.Rcode)
	}
	r = mustExchange(t, s, "udp", "alias.example.", dns.TypeA)
	if len(r.Answer) != 3 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Errorf("CNAME answer = %v", r.Answer)
	}

	// No data: NOERROR with a SOA; unknown name: NXDOMAIN with a SOA.
	r = mustExchange(t, s, "udp", "1.2.0.192.in-addr.arpa.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Errorf("no data: rcode %d answer %v ns %v", r.Rcode, r.Answer, r.Ns)
	}
	s.Set("*.neg.test", Response{Rcode: dns.RcodeNameError, NegTTL: 7})
	r = mustExchange(t, s, "udp", "x.neg.test.", dns.TypeA)
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].(*dns.SOA).Minttl != 7 || r.Ns[0].Header().Name != "neg.test." {
		t.Errorf("NXDOMAIN: rcode %d ns %v", r.Rcode, r.Ns)
	}

	s.Delete("host.example")
	if r = mustExchange(t, s, "udp", "host.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("after Delete: rcode %d", r.Rcode)
	}
	if n := s.QueriesFor("HOST.example"); n != 4 {
		t.Errorf("QueriesFor(host.example) = %d, want 4", n)
	}
	udp, tcp := s.Queries()
	if udp != 9 || tcp != 1 {
		t.Errorf("Queries() = %d udp, %d tcp; want 9, 1", udp, tcp)
	}
	s.ResetCounts()
	if udp, tcp := s.Queries(); udp+tcp+s.QueriesFor("host.example") != 0 {
		t.Errorf("counts after ResetCounts: %d %d", udp, tcp)
	}
}

func TestFaults(t *testing.T) {
	s := Start(t)
	s.Set("listed.test.", Response{A: Addrs("127.0.0.2")})

	s.SetFault(Truncate)
	r := mustExchange(t, s, "udp", "listed.test.", dns.TypeA)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("Truncate over UDP: tc=%v answer %v", r.Truncated, r.Answer)
	}
	r = mustExchange(t, s, "tcp", "listed.test.", dns.TypeA)
	if r.Truncated || len(r.Answer) != 1 {
		t.Errorf("Truncate over TCP: tc=%v answer %v", r.Truncated, r.Answer)
	}

	s.SetFault(RewriteNXDOMAIN)
	r = mustExchange(t, s, "udp", "missing.test.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != RewriteAddr.String() {
		t.Errorf("RewriteNXDOMAIN: rcode %d answer %v", r.Rcode, r.Answer)
	}
	r = mustExchange(t, s, "udp", "listed.test.", dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.2" {
		t.Errorf("RewriteNXDOMAIN changed an existing name: %v", r.Answer)
	}

	s.SetFault(ServFail)
	if r = mustExchange(t, s, "udp", "listed.test.", dns.TypeA); r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Errorf("ServFail: rcode %d answer %v", r.Rcode, r.Answer)
	}
	s.SetFault(Refused)
	if r = mustExchange(t, s, "udp", "listed.test.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("Refused: rcode %d", r.Rcode)
	}
	s.SetFault(0)

	// Per-name faults combine with the server-wide ones.
	s.Set("dropped.test.", Response{Fault: Drop})
	if _, err := exchange(t, s, "udp", "dropped.test.", dns.TypeA); !isTimeout(err) {
		t.Errorf("Drop: err = %v, want a timeout", err)
	}
	s.Set("lossy.test.", Response{A: Addrs("127.0.0.2"), Fault: DropFirst})
	if _, err := exchange(t, s, "udp", "lossy.test.", dns.TypeA); !isTimeout(err) {
		t.Errorf("DropFirst, first query: err = %v, want a timeout", err)
	}
	if r := mustExchange(t, s, "udp", "lossy.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("DropFirst, second query: answer %v", r.Answer)
	}
	s.Set("dropped.test.", Response{Fault: WrongID})
	if r := rawExchange(t, s, "dropped.test.", 0x1234); r.Id == 0x1234 || len(r.Answer) != 0 {
		t.Errorf("WrongID: answer has ID %#x, want another", r.Id)
	}
	s.Set("dropped.test.", Response{Fault: Garbage})
	if b := rawRead(t, s, "dropped.test.", 0x4321); len(b) < 12 || b[0] != 0x43 || b[1] != 0x21 {
		t.Errorf("Garbage: answer %x does not start with a header with the query's ID", b)
	} else if err := new(dns.Msg).Unpack(b); err == nil {
		t.Errorf("Garbage: answer %x unpacks", b)
	}

	s.Set("slow.test.", Response{A: Addrs("127.0.0.2"), Delay: 150 * time.Millisecond})
	start := time.Now()
	mustExchange(t, s, "udp", "slow.test.", dns.TypeA)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("Delay 150ms answered after %v", d)
	}
	s.SetDelay(time.Second)
	if _, err := exchange(t, s, "udp", "listed.test.", dns.TypeA); !isTimeout(err) {
		t.Errorf("SetDelay(1s) with a 300ms client timeout: err = %v", err)
	}
}

// rawExchange sends a query with id over UDP and returns whatever comes
// back, without the ID check a DNS client does.
func rawExchange(t *testing.T, s *Server, name string, id uint16) *dns.Msg {
	t.Helper()
	r := new(dns.Msg)
	if err := r.Unpack(rawRead(t, s, name, id)); err != nil {
		t.Fatalf("raw query %s: %v", name, err)
	}
	return r
}

// rawRead sends a query with id over UDP and returns the bytes that come
// back.
func rawRead(t *testing.T, s *Server, name string, id uint16) []byte {
	t.Helper()
	c, err := net.Dial("udp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.Id = id
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("raw query %s: %v", name, err)
	}
	return buf[:n]
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestAddrs(t *testing.T) {
	got := Addrs("127.0.0.2", "::1")
	if len(got) != 2 || got[0] != netip.MustParseAddr("127.0.0.2") || !got[1].Is6() {
		t.Errorf("Addrs = %v", got)
	}
}
