// Package dnsfault is a DNS server for tests that answers what a test
// tells it to and misbehaves on request: it drops queries (the client
// times out), answers SERVFAIL or REFUSED, truncates UDP answers (the
// client must retry over TCP), rewrites NXDOMAIN to a public-looking
// address the way some ISP resolvers do, answers with a wrong message ID
// or with garbage, and delays answers.
//
// It is built on github.com/miekg/dns and listens on 127.0.0.1 only, on
// one port for both UDP and TCP. Answers and faults can be changed while
// it runs, so a test can change what a name resolves to between two
// checker cycles.
//
//	s := dnsfault.Start(t)
//	s.Set("2.0.0.127.zen.test.", dnsfault.Response{A: dnsfault.Addrs("127.0.0.2", "127.0.0.4")})
//	s.Set("*.zen.test.", dnsfault.Response{Rcode: dns.RcodeNameError})
//	s.SetFault(dnsfault.Truncate)
package dnsfault

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Fault is a set of misbehaviours. Faults combine with |.
type Fault uint

// The faults, in the order they take effect: Drop and DropFirst win over everything,
// WrongID and Garbage replace the answer, ServFail and Refused replace
// the response code, RewriteNXDOMAIN changes an NXDOMAIN answer, and
// Truncate applies to whatever is sent over UDP.
const (
	// Drop never answers: the client times out.
	Drop Fault = 1 << iota
	// DropFirst does not answer the first query for a name (since the
	// last ResetCounts), as if it was lost; later ones are answered.
	DropFirst
	// WrongID answers with a message ID that is not the query's.
	WrongID
	// Garbage answers with the query's ID followed by bytes that are not
	// a DNS message.
	Garbage
	// ServFail answers SERVFAIL with no records.
	ServFail
	// Refused answers REFUSED with no records.
	Refused
	// RewriteNXDOMAIN answers NXDOMAIN names with NOERROR and an A record
	// of RewriteAddr, the way ISP resolvers that show search pages do.
	RewriteNXDOMAIN
	// Truncate answers over UDP with TC=1 and no records; TCP answers in
	// full.
	Truncate
)

// RewriteAddr is the address RewriteNXDOMAIN answers with: 198.51.100.7,
// from the documentation range TEST-NET-2 (RFC 5737), so it never names
// a real host.
var RewriteAddr = netip.MustParseAddr("198.51.100.7")

// Response is what the server answers for a name.
type Response struct {
	// Rcode is the response code; the zero value is NOERROR.
	Rcode int
	// A holds the addresses: IPv4 ones answer A queries, IPv6 ones AAAA
	// queries.
	A []netip.Addr
	// TXT holds one TXT record per string. Strings longer than 255 bytes
	// are split into several character-strings of one record, as a zone
	// file compiler does, so clients must join them.
	TXT []string
	// PTR holds the targets of PTR queries.
	PTR []string
	// CNAME, when set, answers every query type with a CNAME to this
	// name, followed (as a recursive resolver does) by the target's
	// records when the target is also configured.
	CNAME string
	// TTL of the answer records; 0 means 300 seconds.
	TTL uint32
	// NegTTL is the SOA minimum (and SOA TTL) of NXDOMAIN and no-data
	// answers; 0 means 60 seconds.
	NegTTL uint32
	// Fault adds faults for this name to the server-wide ones.
	Fault Fault
	// Delay holds the answer back this long.
	Delay time.Duration
}

// Addrs parses addresses for Response.A; it panics on a bad literal,
// which in a test is a typo in the test itself.
func Addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// Server is a running fault-injecting DNS server.
type Server struct {
	// Addr is the host:port the server listens on, for UDP and TCP.
	Addr string

	udp, tcp *dns.Server
	stop     chan struct{}

	mu     sync.Mutex
	names  map[string]*Response
	fault  Fault
	delay  time.Duration
	counts map[string]int

	udpQueries, tcpQueries atomic.Int64
}

// Start starts a server on 127.0.0.1 with a free port shared by UDP and
// TCP, and stops it when the test ends. With no names configured, every
// query is answered NXDOMAIN.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		stop:   make(chan struct{}),
		names:  map[string]*Response{},
		counts: map[string]int{},
	}
	pc, ln, err := listen()
	if err != nil {
		tb.Fatalf("dnsfault: %v", err)
	}
	s.Addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(s.serveDNS)
	s.udp = &dns.Server{PacketConn: pc, Handler: handler}
	s.tcp = &dns.Server{Listener: ln, Handler: handler}
	started := make(chan struct{}, 2)
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				tb.Errorf("dnsfault: serve: %v", err)
				started <- struct{}{}
			}
		}()
	}
	<-started
	<-started
	tb.Cleanup(func() {
		close(s.stop)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Shutdown errors only say that a server was already stopped.
		_ = s.udp.ShutdownContext(ctx)
		_ = s.tcp.ShutdownContext(ctx)
	})
	return s
}

// listen opens UDP and TCP sockets on the same free port of 127.0.0.1,
// trying again when the TCP port of a fresh UDP port is taken.
func listen() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		pc.Close()
	}
	return nil, nil, fmt.Errorf("no port free for both udp and tcp: %w", lastErr)
}

// Set makes the server answer name with r. A name starting with "*."
// matches every name below the rest (not the rest itself); the longest
// match wins. Names are case-insensitive; the trailing dot is optional.
func (s *Server) Set(name string, r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names[canonical(name)] = &r
}

// Delete removes what Set configured for name.
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.names, canonical(name))
}

// SetFault sets the faults that apply to every query, in addition to a
// name's own; 0 clears them.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetDelay holds back every answer by d, in addition to a name's own
// delay.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Queries returns how many queries arrived over UDP and over TCP.
func (s *Server) Queries() (udp, tcp int) {
	return int(s.udpQueries.Load()), int(s.tcpQueries.Load())
}

// QueriesFor returns how many queries arrived for name, over either
// transport.
func (s *Server) QueriesFor(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[canonical(name)]
}

// ResetCounts sets every query counter to zero.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.counts)
	s.udpQueries.Store(0)
	s.tcpQueries.Store(0)
}

func canonical(name string) string { return dns.Fqdn(strings.ToLower(name)) }

// lookup returns the response configured for name, the zone it was
// found under (for the SOA of negative answers) and whether one was.
// The caller holds s.mu.
func (s *Server) lookup(name string) (Response, string, bool) {
	if r, ok := s.names[name]; ok {
		return *r, name, true
	}
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		parent := name[off:]
		if r, ok := s.names["*."+parent]; ok {
			return *r, parent, true
		}
	}
	if r, ok := s.names["*."]; ok {
		return *r, ".", true
	}
	return Response{}, ".", false
}

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	if isTCP {
		s.tcpQueries.Add(1)
	} else {
		s.udpQueries.Add(1)
	}
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcodeFormatError(req)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	qname := strings.ToLower(q.Name)

	s.mu.Lock()
	s.counts[qname]++
	first := s.counts[qname] == 1
	r, zone, found := s.lookup(qname)
	fault := s.fault | r.Fault
	delay := s.delay + r.Delay
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if !found {
		m.Rcode = dns.RcodeNameError
	} else {
		m.Rcode = r.Rcode
		s.answer(m, q, r, 0)
	}
	if m.Rcode == dns.RcodeNameError || m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0 {
		m.Ns = []dns.RR{soa(zone, r.NegTTL)}
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return
		}
	}

	switch {
	case fault&Drop != 0, fault&DropFirst != 0 && first:
		return
	case fault&WrongID != 0:
		m.Id = req.Id + 1
	case fault&Garbage != 0:
		// A header claiming one question and nine answers, then junk.
		b := []byte{byte(req.Id >> 8), byte(req.Id), 0x81, 0x80, 0, 1, 0, 9, 0, 0, 0, 0, 0xff, 0xff, 0xff}
		_, _ = w.Write(b)
		return
	}
	switch {
	case fault&ServFail != 0:
		m.Rcode, m.Answer, m.Ns = dns.RcodeServerFailure, nil, nil
	case fault&Refused != 0:
		m.Rcode, m.Answer, m.Ns = dns.RcodeRefused, nil, nil
	case fault&RewriteNXDOMAIN != 0 && m.Rcode == dns.RcodeNameError:
		m.Rcode, m.Ns = dns.RcodeSuccess, nil
		m.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   RewriteAddr.AsSlice(),
		}}
	}
	if fault&Truncate != 0 && !isTCP {
		m.Truncated = true
		m.Answer, m.Ns, m.Extra = nil, nil, nil
	}
	if opt := req.IsEdns0(); opt != nil && !m.Truncated {
		m.SetEdns0(opt.UDPSize(), false)
	}
	// A write error means the client went away; a test server has no
	// one to tell.
	_ = w.WriteMsg(m)
}

// answer appends the records of r matching q to m, following a CNAME
// to a configured target (depth bounds CNAME loops). The caller holds
// s.mu.
func (s *Server) answer(m *dns.Msg, q dns.Question, r Response, depth int) {
	ttl := r.TTL
	if ttl == 0 {
		ttl = 300
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	if r.CNAME != "" {
		target := canonical(r.CNAME)
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: target})
		if depth >= 8 {
			return
		}
		if next, _, ok := s.lookup(target); ok {
			s.answer(m, dns.Question{Name: target, Qtype: q.Qtype, Qclass: q.Qclass}, next, depth+1)
		}
		return
	}
	all := q.Qtype == dns.TypeANY
	for _, a := range r.A {
		switch {
		case a.Is4() && (all || q.Qtype == dns.TypeA):
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: a.AsSlice()})
		case a.Is6() && (all || q.Qtype == dns.TypeAAAA):
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	if all || q.Qtype == dns.TypeTXT {
		for _, t := range r.TXT {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(t)})
		}
	}
	if all || q.Qtype == dns.TypePTR {
		for _, p := range r.PTR {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: dns.Fqdn(p)})
		}
	}
}

// splitTXT splits s into character-strings of at most 255 bytes.
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// soa is the SOA record of a negative answer; its TTL and minimum are
// both negTTL (default 60), so either reading of RFC 2308 gives negTTL.
func soa(zone string, negTTL uint32) dns.RR {
	if negTTL == 0 {
		negTTL = 60
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: negTTL},
		Ns:      "ns.invalid.",
		Mbox:    "hostmaster.invalid.",
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  negTTL,
	}
}
