package rbl

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// wireFuzzLists are representative lists for FuzzAnswerFromWire: a combined
// list with error codes (Spamhaus ZEN style), a list whose unknown codes
// are errors (SpamRATS style), a bitmask list with a "refused" code
// (URIBL style) and an allow list.
func wireFuzzLists(tb testing.TB) []*List {
	tb.Helper()
	lists := []*List{
		{Name: "zen", Zone: "zen.test", Kind: KindIP, IPv6: true, DelistURL: "https://delist.example/",
			Codes: []Code{
				{Match: "127.0.0.2", Meaning: "SBL", Severity: SeverityCritical},
				{Match: "127.0.0.4-127.0.0.7", Meaning: "XBL", Severity: SeverityHigh},
				{Match: "127.0.0.10-127.0.0.11", Meaning: "PBL", Severity: SeverityInfo},
			},
			Errors: []Code{
				{Match: "127.255.255.252", Meaning: "typo", Error: ErrZoneTypo},
				{Match: "127.255.255.254", Meaning: "public resolver", Error: ErrPublicResolver},
				{Match: "127.255.255.255", Meaning: "over quota", Error: ErrOverQuota},
			}},
		{Name: "rats", Zone: "rats.test", Kind: KindIP, UnknownCodes: "error",
			Codes: []Code{{Match: "127.0.0.36", Meaning: "dyna", Severity: SeverityMedium}}},
		{Name: "uribl", Zone: "uribl.test", Kind: KindDomain,
			Codes: []Code{
				{Mask: 2, Meaning: "black", Severity: SeverityHigh},
				{Mask: 4, Meaning: "grey", Severity: SeverityLow},
			},
			Errors: []Code{{Match: "127.0.0.1", Meaning: "query refused", Error: ErrRefused}}},
		{Name: "allow", Zone: "allow.test", Kind: KindIP, Purpose: PurposeAllow,
			Codes: []Code{{Match: "127.0.0.0-127.0.255.255", Meaning: "trusted", Severity: SeverityGood}}},
	}
	for _, l := range lists {
		if err := l.Compile(); err != nil {
			tb.Fatal(err)
		}
	}
	return lists
}

func wireFuzzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			tb.Fatal(err)
		}
		return r
	}
	msg := func(rcode int, answer, ns []dns.RR) []byte {
		m := new(dns.Msg)
		m.SetQuestion("2.0.0.127.zen.test.", dns.TypeA)
		m.Response, m.Rcode, m.Answer, m.Ns = true, rcode, answer, ns
		b, err := m.Pack()
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	soa := rr("zen.test. 60 IN SOA ns.zen.test. h.zen.test. 1 2 3 4 30")
	seeds := [][]byte{
		msg(dns.RcodeSuccess, []dns.RR{rr("2.0.0.127.zen.test. 300 IN A 127.0.0.2"), rr("2.0.0.127.zen.test. 300 IN A 127.0.0.10")}, nil),
		msg(dns.RcodeSuccess, []dns.RR{rr("2.0.0.127.zen.test. 300 IN A 127.255.255.254"), rr(`2.0.0.127.zen.test. 300 IN TXT "open resolver"`)}, nil),
		msg(dns.RcodeSuccess, []dns.RR{rr("2.0.0.127.zen.test. 300 IN A 198.51.100.7")}, nil),
		msg(dns.RcodeSuccess, []dns.RR{rr("2.0.0.127.zen.test. 300 IN CNAME x.test."), rr("x.test. 10 IN A 127.0.0.6"), rr("y.test. 10 IN A 127.0.0.2")}, nil),
		msg(dns.RcodeSuccess, []dns.RR{rr("2.0.0.127.zen.test. 300 IN AAAA ::ffff:127.0.0.2")}, nil),
		msg(dns.RcodeSuccess, nil, []dns.RR{soa}),
		msg(dns.RcodeNameError, nil, []dns.RR{soa}),
		msg(dns.RcodeServerFailure, nil, nil),
		msg(dns.RcodeRefused, nil, nil),
		msg(dns.RcodeNotImplemented, []dns.RR{rr("2.0.0.127.zen.test. 300 IN A 127.0.0.2")}, nil),
		msg(dns.RcodeSuccess, []dns.RR{rr("2.0.0.127.zen.test. 300 IN PTR Mail.Example.COM.")}, nil),
	}
	// A truncated message and a bare header.
	seeds = append(seeds, seeds[0][:len(seeds[0])-3], seeds[0][:12])
	return seeds
}

// FuzzAnswerFromWire unpacks arbitrary bytes as a DNS response, converts
// it the way Lookup does and interprets it for several kinds of list. It
// checks that nothing panics and that no answer is typed beyond what it
// supports: an error has a kind and no severity, a listing has codes
// with meanings, and an answer outside 127.0.0.0/8 or a response code
// other than NOERROR and NXDOMAIN is never clean or listed.
func FuzzAnswerFromWire(f *testing.F) {
	for _, s := range wireFuzzSeeds(f) {
		f.Add(s)
	}
	lists := wireFuzzLists(f)
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return
		}
		a := answerFromMsg(m)
		checkWireAnswer(t, a)
		for _, l := range lists {
			checkWireResult(t, l, a, l.Interpret(a.Rcode, a.A))
		}
	})
}

func checkWireAnswer(t *testing.T, a Answer) {
	t.Helper()
	if a.TTL < 0 {
		t.Errorf("negative TTL %v", a.TTL)
	}
	for _, addr := range a.A {
		if !addr.IsValid() {
			t.Errorf("invalid address in %v", a.A)
		}
	}
	for _, n := range a.Names {
		if strings.HasSuffix(n, ".") || n != strings.ToLower(n) {
			t.Errorf("PTR name %q not lower case without trailing dot", n)
		}
	}
}

func checkWireResult(t *testing.T, l *List, a Answer, r Result) {
	t.Helper()
	outside := false
	for _, addr := range a.A {
		if !addr.Unmap().Is4() || !loopback8.Contains(addr.Unmap()) {
			outside = true
		}
	}
	answered := a.Rcode == dns.RcodeSuccess || a.Rcode == dns.RcodeNameError
	switch r.Status {
	case StatusError:
		// The one code an error may carry is the list's error code
		// that caused it.
		if r.Error == "" || r.Severity != "" || r.DelistURL != "" || len(r.Codes) > 1 {
			t.Errorf("%s: error result %+v for %+v", l.Name, r, a)
		}
	case StatusListed:
		if len(r.Codes) == 0 || len(r.Codes) != len(r.Meanings) || len(r.Codes) != len(a.A) ||
			r.Error != "" || !r.Severity.Valid() {
			t.Errorf("%s: listed result %+v for %+v", l.Name, r, a)
		}
	case StatusClean:
		if len(r.Codes) != 0 || r.Error != "" || r.Severity != "" {
			t.Errorf("%s: clean result %+v for %+v", l.Name, r, a)
		}
		if a.Rcode == dns.RcodeSuccess && len(a.A) > 0 {
			t.Errorf("%s: NOERROR with %v is clean", l.Name, a.A)
		}
	default:
		t.Errorf("%s: status %q", l.Name, r.Status)
	}
	if r.Status != StatusError && (outside || !answered) {
		t.Errorf("%s: rcode %d, answer %v typed %s", l.Name, a.Rcode, a.A, r.Status)
	}
	if r.Zone != l.Zone || r.List != l.Name {
		t.Errorf("%s: result names zone %q list %q", l.Name, r.Zone, r.List)
	}
}

// TestAnswerFromWireSeeds runs the fuzz checks on the seeds and pins what
// they must give, so that the invariants are known to be reachable.
func TestAnswerFromWireSeeds(t *testing.T) {
	lists := wireFuzzLists(t)
	zen := lists[0]
	want := []struct {
		status Status
		kind   ErrorKind
	}{
		{StatusListed, ""},
		{StatusError, ErrPublicResolver},
		{StatusError, ErrRewrittenNXDOMAIN},
		{StatusListed, ""}, // CNAME followed, the stray record ignored
		{StatusListed, ""}, // IPv4-mapped AAAA: Interpret unmaps it
		{StatusClean, ""},
		{StatusClean, ""},
		{StatusError, ErrServfail},
		{StatusError, ErrRefused},
		{StatusError, ErrBadAnswer},
		{StatusClean, ""}, // a PTR record is no A record
	}
	for i, seed := range wireFuzzSeeds(t) {
		m := new(dns.Msg)
		if err := m.Unpack(seed); err != nil {
			if i < len(want) {
				t.Fatalf("seed %d: %v", i, err)
			}
			continue
		}
		a := answerFromMsg(m)
		checkWireAnswer(t, a)
		for _, l := range lists {
			checkWireResult(t, l, a, l.Interpret(a.Rcode, a.A))
		}
		if i < len(want) {
			r := zen.Interpret(a.Rcode, a.A)
			if r.Status != want[i].status || r.Error != want[i].kind {
				t.Errorf("seed %d: %s %s, want %s %s", i, r.Status, r.Error, want[i].status, want[i].kind)
			}
		}
	}
	// The CNAME seed keeps only the chain's record.
	m := new(dns.Msg)
	if err := m.Unpack(wireFuzzSeeds(t)[3]); err != nil {
		t.Fatal(err)
	}
	if a := answerFromMsg(m); len(a.A) != 1 || a.A[0] != netip.MustParseAddr("127.0.0.6") {
		t.Errorf("CNAME seed: A = %v", a.A)
	}
}
