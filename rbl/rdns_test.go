package rbl

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailrep/mailrep/internal/dnsfault"
)

func TestGenericName(t *testing.T) {
	v4 := netip.MustParseAddr("203.0.113.7")
	v6 := netip.MustParseAddr("2001:db8::7")
	tests := []struct {
		name    string
		addr    netip.Addr
		generic bool
	}{
		{"mail.example.com", v4, false},
		{"smtp-out3.example.org", v4, false},
		{"mx1.mail.example.net", v4, false},
		{"outbound-mail-7.example.com", v4, false},
		{"static.example.net", v4, false},
		{"host.example.net", v4, false},
		{"example.net", v4, false},
		{"ns1.dyn.com", v4, false}, // the domain is no host part
		{"203-0-113-7.dyn.example.net", v4, true},
		{"host7.pool.example.net", v4, true},
		{"host-12.example.net", v4, true},
		{"static-203-0-113-7.example.net", v4, true},
		{"7.113.0.203.static.example.net", v4, true},
		{"c-203-0-113-7.hsd1.ca.example.net", v4, true},
		{"ip-0-113-7.eu-west-1.compute.example", v4, true},
		{"203000113007.example.net", v4, true},
		{"pcb007107.dip0.example.de", v4, true},
		{"adsl-lyon.example.fr", v4, true},
		{"dhcp-44.campus.example.edu", v4, true},
		{"mail.customer.example", v4, false}, // "customer" is the domain
		{"mx-113-7.example.net", v4, false},  // two octets are not enough
		{"cpe.customer.example.net", v4, true},
		{"203-0-113-8.example.net", v4, true}, // some address
		{"10-0-113-7.example.net", v4, true},  // last three octets
		{"2001-db8--7.ip6.example.net", v6, true},
		{"ip6-2001-db8-0-0-0-0-0-7.example.net", v6, true},
		{"node-0000000000000007.example.net", v6, true},
		{"mail.example.net", v6, false},
		{"2001-db8--8.example.net", v6, false},
	}
	for _, tt := range tests {
		why, got := genericName(tt.name, tt.addr)
		if got != tt.generic {
			t.Errorf("genericName(%q, %s) = %v (%s), want %v", tt.name, tt.addr, got, why, tt.generic)
		}
		if got && why == "" {
			t.Errorf("genericName(%q, %s): generic without a reason", tt.name, tt.addr)
		}
	}
}

func TestSplitWords(t *testing.T) {
	got := strings.Join(splitWords("host7-pool__x9y"), ",")
	if got != "host,7,pool,x,9,y" {
		t.Errorf("splitWords = %s", got)
	}
	if len(splitWords("")) != 0 || len(splitWords("---")) != 0 {
		t.Error("splitWords of no words returned some")
	}
}

func TestCheckRDNS(t *testing.T) {
	s := dnsfault.Start(t)
	c := newTestClient(t, ClientConfig{Timeout: 100 * time.Millisecond, Attempts: 2}, s.Addr)
	ctx := context.Background()

	// 203.0.113.7: PTR mail.example.com, which resolves back.
	s.Set("7.113.0.203.in-addr.arpa.", dnsfault.Response{PTR: []string{"Mail.Example.com."}})
	s.Set("mail.example.com.", dnsfault.Response{A: dnsfault.Addrs("203.0.113.99", "203.0.113.7")})
	// 203.0.113.8: generic name that resolves back.
	s.Set("8.113.0.203.in-addr.arpa.", dnsfault.Response{PTR: []string{"203-0-113-8.dyn.example.net."}})
	s.Set("203-0-113-8.dyn.example.net.", dnsfault.Response{A: dnsfault.Addrs("203.0.113.8")})
	// 203.0.113.9: PTR whose name resolves elsewhere.
	s.Set("9.113.0.203.in-addr.arpa.", dnsfault.Response{PTR: []string{"mail.example.com."}})
	// 203.0.113.10: no PTR (NXDOMAIN from the catch-all below).
	// 203.0.113.11: PTR lookup times out.
	s.Set("11.113.0.203.in-addr.arpa.", dnsfault.Response{Fault: dnsfault.Drop})
	// 203.0.113.12: SERVFAIL.
	s.Set("12.113.0.203.in-addr.arpa.", dnsfault.Response{Fault: dnsfault.ServFail})
	// 203.0.113.13: the PTR name's A lookup times out.
	s.Set("13.113.0.203.in-addr.arpa.", dnsfault.Response{PTR: []string{"slow.example.com."}})
	s.Set("slow.example.com.", dnsfault.Response{Fault: dnsfault.Drop})
	// 203.0.113.14: two names, the second confirms.
	s.Set("14.113.0.203.in-addr.arpa.", dnsfault.Response{PTR: []string{"old.example.com.", "mx.example.com."}})
	s.Set("mx.example.com.", dnsfault.Response{A: dnsfault.Addrs("203.0.113.14")})
	// 2001:db8::25: IPv6 with FCrDNS by AAAA.
	s.Set(reverseName(netip.MustParseAddr("2001:db8::25")), dnsfault.Response{PTR: []string{"mail6.example.com."}})
	s.Set("mail6.example.com.", dnsfault.Response{A: dnsfault.Addrs("203.0.113.7", "2001:db8::25")})
	// 203.0.113.15: empty PTR answer (NOERROR, no records).
	s.Set("15.113.0.203.in-addr.arpa.", dnsfault.Response{})

	tests := []struct {
		addr     string
		status   Status
		kind     ErrorKind
		ptr      string
		fcrdns   bool
		generic  bool
		problems []string // substrings, one per problem
	}{
		{"203.0.113.7", StatusClean, "", "mail.example.com", true, false, nil},
		{"::ffff:203.0.113.7", StatusClean, "", "mail.example.com", true, false, nil},
		{"203.0.113.8", StatusClean, "", "203-0-113-8.dyn.example.net", true, true, []string{"dynamic or residential"}},
		{"203.0.113.9", StatusClean, "", "mail.example.com", false, false, []string{"does not resolve back"}},
		{"203.0.113.10", StatusClean, "", "", false, false, []string{"no PTR record"}},
		{"203.0.113.11", StatusError, ErrTimeout, "", false, false, nil},
		{"203.0.113.12", StatusError, ErrServfail, "", false, false, nil},
		{"203.0.113.13", StatusError, ErrTimeout, "slow.example.com", false, false, nil},
		{"203.0.113.14", StatusClean, "", "old.example.com,mx.example.com", true, false, nil},
		{"203.0.113.15", StatusClean, "", "", false, false, []string{"no PTR record"}},
		{"2001:db8::25", StatusClean, "", "mail6.example.com", true, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			r := CheckRDNS(ctx, c, netip.MustParseAddr(tt.addr))
			if r.Status != tt.status || r.Error != tt.kind || strings.Join(r.PTR, ",") != tt.ptr ||
				r.FCrDNS != tt.fcrdns || r.Generic != tt.generic || len(r.Problems) != len(tt.problems) {
				t.Fatalf("got %+v\nwant status %s %s, PTR %q, fcrdns %v, generic %v, %d problems",
					r, tt.status, tt.kind, tt.ptr, tt.fcrdns, tt.generic, len(tt.problems))
			}
			for i, p := range tt.problems {
				if !strings.Contains(r.Problems[i], p) {
					t.Errorf("problem %q does not say %q", r.Problems[i], p)
				}
			}
			if r.Addr != netip.MustParseAddr(tt.addr).Unmap() {
				t.Errorf("Addr = %s", r.Addr)
			}
			if r.Detail == "" {
				t.Error("no detail")
			}
			if ok := r.Status == StatusClean && len(tt.problems) == 0; r.OK() != ok {
				t.Errorf("OK() = %v", r.OK())
			}
		})
	}
	if n := s.QueriesFor("old.example.com."); n != 1 {
		t.Errorf("first PTR name asked %d times, want 1", n)
	}

	if r := CheckRDNS(ctx, c, netip.Addr{}); r.Status != StatusError {
		t.Errorf("invalid address: %+v", r)
	}
}

func TestReverseName(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7": "7.113.0.203.in-addr.arpa.",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	} {
		a := netip.MustParseAddr(in)
		if got := reverseName(a); got != want {
			t.Errorf("reverseName(%s) = %s, want %s", in, got, want)
		}
		if want2, _ := dns.ReverseAddr(in); want2 != want {
			t.Errorf("dns.ReverseAddr(%s) = %s disagrees", in, want2)
		}
	}
}
