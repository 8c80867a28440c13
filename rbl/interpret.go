package rbl

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// loopback8 is 127.0.0.0/8, where every DNSBL answer code lives.
var loopback8 = netip.MustParsePrefix("127.0.0.0/8")

// Interpret turns one DNS answer for a target in l's zone into a typed
// Result (without Target, TXT and Checked, which the caller fills in).
// rcode is the response code; addrs are all A records of the answer, in
// order. It never returns clean or listed for an answer it cannot vouch
// for: SERVFAIL, REFUSED, other response codes, answers outside
// 127.0.0.0/8 and the list's error codes are errors.
func (l *List) Interpret(rcode int, addrs []netip.Addr) Result {
	r := Result{Zone: l.Zone, List: l.Name}
	switch rcode {
	case dns.RcodeSuccess:
		if len(addrs) == 0 {
			r.Status = StatusClean
			return r
		}
	case dns.RcodeNameError:
		r.Status = StatusClean
		return r
	case dns.RcodeServerFailure:
		return errorResult(r, ErrServfail, "the resolver answered SERVFAIL: it could not get an answer from the list's servers (they may be down, or refuse this resolver)")
	case dns.RcodeRefused:
		return errorResult(r, ErrRefused, "the resolver answered REFUSED: it does not serve this client or zone; check the resolver's access control")
	default:
		name, ok := dns.RcodeToString[rcode]
		if !ok {
			name = fmt.Sprintf("RCODE%d", rcode)
		}
		return errorResult(r, ErrBadAnswer, "the resolver answered "+name)
	}

	// NOERROR with addresses: first rule out answers that are not list
	// codes at all, then error codes, then listing codes.
	for _, a := range addrs {
		if !a.Is4() && !a.Is4In6() || !loopback8.Contains(a.Unmap()) {
			return errorResult(r, ErrRewrittenNXDOMAIN, fmt.Sprintf(
				"answer %s is outside 127.0.0.0/8: the resolver rewrites NXDOMAIN (typical of ISP and public resolvers); use a local recursive resolver", a))
		}
	}
	for _, a := range addrs {
		a = a.Unmap()
		for i := range l.Errors {
			c := &l.Errors[i]
			if c.matches(a) {
				r = errorResult(r, c.Error, c.Meaning)
				r.Codes = []string{a.String()}
				r.Meanings = []string{c.Meaning}
				r.Detail = errorAdvice(l, c.Error, c.Meaning)
				return r
			}
		}
	}
	r.Status = StatusListed
	r.Codes = make([]string, 0, len(addrs))
	r.Meanings = make([]string, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		meaning, sev, ok := l.codeMeaning(a)
		if !ok {
			if l.UnknownCodes == string(StatusError) {
				r = errorResult(Result{Zone: l.Zone, List: l.Name}, ErrUnknownCode,
					fmt.Sprintf("answer %s is not a code %s defines; treated as an error, not a listing", a, l.Zone))
				r.Codes = []string{a.String()}
				r.Meanings = []string{"code not defined by the list"}
				return r
			}
			meaning, sev = "code not in the catalog", l.UnknownSeverity
		}
		r.Codes = append(r.Codes, a.String())
		r.Meanings = append(r.Meanings, meaning)
		if sev.Worse(r.Severity) {
			r.Severity = sev
		}
	}
	r.DelistURL = l.DelistURL
	return r
}

// codeMeaning returns the meaning and severity of listing code a. A
// bitmask list's meanings are joined when several bits are set; the
// severity is the worst of them.
func (l *List) codeMeaning(a netip.Addr) (string, Severity, bool) {
	var meanings []string
	var sev Severity
	for i := range l.Codes {
		c := &l.Codes[i]
		if !c.matches(a) {
			continue
		}
		if c.Mask == 0 {
			return c.Meaning, c.Severity, true
		}
		meanings = append(meanings, c.Meaning)
		if c.Severity.Worse(sev) {
			sev = c.Severity
		}
	}
	if meanings == nil {
		return "", "", false
	}
	return strings.Join(meanings, "; "), sev, true
}

func errorResult(r Result, kind ErrorKind, detail string) Result {
	r.Status = StatusError
	r.Error = kind
	r.Detail = detail
	r.Codes, r.Meanings, r.Severity, r.DelistURL = nil, nil, "", ""
	return r
}

// errorAdvice is the detail of an error code: the list's meaning and what
// an operator does about it.
func errorAdvice(l *List, kind ErrorKind, meaning string) string {
	var advice string
	switch kind {
	case ErrPublicResolver:
		advice = "use a local recursive resolver (unbound without forwarding)"
		if l.KeyedZone != "" {
			advice += " or a DQS key"
		}
	case ErrOverQuota:
		advice = "query volume exceeds the free-use limit: use a local resolver with caching, lower the schedule's frequency, or a paid feed/DQS key"
	case ErrZoneTypo:
		advice = "the zone name is wrong: check the list's zone in the configuration"
	case ErrBadKey:
		advice = "the key was rejected: check rbl.dqs_key (or the list's key) and its subscription"
	case ErrIPOnDomainList:
		advice = "an IP address was queried against a domain list: check the list's kind"
	case ErrRefused:
		advice = "the list refuses this resolver (often a public resolver or high volume): use a local recursive resolver, or register it with the list"
	}
	if meaning == "" {
		return advice
	}
	if advice == "" {
		return meaning
	}
	return meaning + ": " + advice
}
