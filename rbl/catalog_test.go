package rbl

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailrep/mailrep/configs"
)

func defaultCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	c, err := DefaultCatalog()
	if err != nil {
		tb.Fatalf("the built-in catalog does not parse: %v", err)
	}
	return c
}

func mustList(tb testing.TB, c *Catalog, name string) *List {
	tb.Helper()
	l, ok := c.Lookup(name)
	if !ok {
		tb.Fatalf("the catalog has no list %q", name)
	}
	return l
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestDefaultCatalogParses(t *testing.T) {
	c := defaultCatalog(t)
	if len(c.Lists) < 20 {
		t.Fatalf("the built-in catalog has %d lists", len(c.Lists))
	}
	for _, l := range c.Lists {
		if l.Description == "" {
			t.Errorf("%s: no description", l.Name)
		}
		if l.Dead != (l.DeadReason != "") {
			t.Errorf("%s: dead %t but dead_reason %q", l.Name, l.Dead, l.DeadReason)
		}
		if l.DelistURL != "" && !strings.HasPrefix(l.DelistURL, "https://") {
			t.Errorf("%s: delist_url %q is not https", l.Name, l.DelistURL)
		}
		if got, ok := c.Lookup(l.Zone); !ok || got != l {
			t.Errorf("Lookup(%q) does not find %s", l.Zone, l.Name)
		}
		if got, ok := c.Lookup(strings.ToUpper(l.Zone) + "."); !ok || got != l {
			t.Errorf("Lookup of the zone in upper case with a dot does not find %s", l.Name)
		}
		if !l.Dead && l.Purpose == PurposeBlock && len(l.Codes) == 0 && l.Key == "" {
			t.Errorf("%s: a live block list without codes", l.Name)
		}
	}
}

// TestDefaultCatalogIsFresh makes sure callers cannot change each other's
// catalog or the embedded bytes.
func TestDefaultCatalogIsFresh(t *testing.T) {
	before := string(configs.RBLCatalog)
	a := defaultCatalog(t)
	zen := mustList(t, a, "spamhaus-zen")
	zen.Codes[0].Severity = SeverityInfo
	if err := a.Add(&List{Name: "spamhaus-zen", Zone: "zen.example", Kind: KindIP}); err != nil {
		t.Fatal(err)
	}
	b := defaultCatalog(t)
	if got := mustList(t, b, "spamhaus-zen"); got.Zone != "zen.spamhaus.org" || got.Codes[0].Severity != SeverityCritical {
		t.Errorf("a second DefaultCatalog sees the first one's changes: %+v", got)
	}
	if string(configs.RBLCatalog) != before {
		t.Error("the embedded catalog changed")
	}
}

// TestCatalogMetadata pins the per-list facts of DESIGN §9 that are not
// answer codes: zones, kinds, keys, IPv6, purposes, delisting pages.
func TestCatalogMetadata(t *testing.T) {
	c := defaultCatalog(t)
	tests := []struct {
		name, zone   string
		kind         Kind
		purpose      Purpose
		ipv6         bool
		key, keyed   string
		keyOptional  bool
		delist       string
		unknownCodes Status
	}{
		{"spamhaus-zen", "zen.spamhaus.org", KindIP, PurposeBlock, true, KeySpamhausDQS, "{key}.zen.dq.spamhaus.net", true, "https://check.spamhaus.org/", StatusListed},
		{"spamhaus-dbl", "dbl.spamhaus.org", KindDomain, PurposeBlock, false, KeySpamhausDQS, "{key}.dbl.dq.spamhaus.net", true, "https://check.spamhaus.org/", StatusListed},
		{"uribl", "multi.uribl.com", KindDomain, PurposeBlock, false, "", "", false, "", StatusListed},
		{"surbl", "multi.surbl.org", KindDomain, PurposeBlock, false, "", "", false, "", StatusListed},
		{"dnswl", "list.dnswl.org", KindIP, PurposeAllow, false, "", "", false, "", StatusListed},
		{"mailspike-rep", "rep.mailspike.net", KindIP, PurposeReputation, false, "", "", false, "https://mailspike.io/ip_verify", StatusListed},
		{"mailspike-wl", "wl.mailspike.net", KindIP, PurposeAllow, false, "", "", false, "", StatusListed},
		{"hostkarma", "hostkarma.junkemailfilter.com", KindIP, PurposeReputation, false, "", "", false, "", StatusListed},
		{"barracuda", "b.barracudacentral.org", KindIP, PurposeBlock, false, "", "", false, "https://www.barracudacentral.org/lookups", StatusListed},
		{"spamcop", "bl.spamcop.net", KindIP, PurposeBlock, false, "", "", false, "", StatusListed},
		{"uceprotect-1", "dnsbl-1.uceprotect.net", KindIP, PurposeBlock, false, "", "", false, "", StatusListed},
		{"uceprotect-2", "dnsbl-2.uceprotect.net", KindIP, PurposeBlock, false, "", "", false, "", StatusListed},
		{"uceprotect-3", "dnsbl-3.uceprotect.net", KindIP, PurposeBlock, false, "", "", false, "", StatusListed},
		{"psbl", "psbl.surriel.com", KindIP, PurposeBlock, false, "", "", false, "https://psbl.org/remove", StatusListed},
		{"mailspike-bl", "bl.mailspike.net", KindIP, PurposeBlock, false, "", "", false, "https://mailspike.io/ip_verify", StatusListed},
		{"spamrats-dyna", "dyna.spamrats.com", KindIP, PurposeBlock, false, "", "", false, "", StatusError},
		{"spamrats-noptr", "noptr.spamrats.com", KindIP, PurposeBlock, false, "", "", false, "", StatusError},
		{"spamrats-spam", "spam.spamrats.com", KindIP, PurposeBlock, false, "", "", false, "", StatusError},
		{"spamrats-auth", "auth.spamrats.com", KindIP, PurposeBlock, false, "", "", false, "", StatusError},
		{"abusix", "combined.mail.abusix.zone", KindIP, PurposeBlock, false, KeyAbusix, "{key}.combined.mail.abusix.zone", false, "", StatusListed},
	}
	for _, tt := range tests {
		l := mustList(t, c, tt.name)
		if l.Zone != tt.zone || l.Kind != tt.kind || l.Purpose != tt.purpose || l.IPv6 != tt.ipv6 ||
			l.Key != tt.key || l.KeyedZone != tt.keyed || l.KeyOptional != tt.keyOptional ||
			l.DelistURL != tt.delist || l.UnknownCodes != string(tt.unknownCodes) || l.Dead {
			t.Errorf("%s = zone %q kind %s purpose %s ipv6 %t key %q keyed %q optional %t delist %q unknown %s dead %t, want %+v",
				tt.name, l.Zone, l.Kind, l.Purpose, l.IPv6, l.Key, l.KeyedZone, l.KeyOptional, l.DelistURL, l.UnknownCodes, l.Dead, tt)
		}
	}

	// Keys: ZEN works without one, Abusix does not; with a key the
	// query goes to the keyed zone while results keep the public name.
	zen, abusix := mustList(t, c, "spamhaus-zen"), mustList(t, c, "abusix")
	if zen.NeedsKey() || !abusix.NeedsKey() {
		t.Errorf("NeedsKey: zen %t (want false), abusix %t (want true)", zen.NeedsKey(), abusix.NeedsKey())
	}
	if got := zen.WithKey("k3y").QueryZone(); got != "k3y.zen.dq.spamhaus.net" {
		t.Errorf("ZEN keyed zone = %q", got)
	}
	if got := mustList(t, c, "spamhaus-dbl").WithKey("k3y").QueryZone(); got != "k3y.dbl.dq.spamhaus.net" {
		t.Errorf("DBL keyed zone = %q", got)
	}
	keyed := abusix.WithKey("k3y")
	if keyed.NeedsKey() || keyed.QueryZone() != "k3y.combined.mail.abusix.zone" {
		t.Errorf("Abusix with key: needs %t, zone %q", keyed.NeedsKey(), keyed.QueryZone())
	}
	if r := keyed.Interpret(dns.RcodeSuccess, addrs("127.0.0.2")); r.Zone != "combined.mail.abusix.zone" || strings.Contains(r.String(), "k3y") {
		t.Errorf("a keyed result shows the key: %v", r)
	}

	// RFC 5782 test points.
	if tp := zen.TestPoints(); tp != (TestPoints{Listed: "127.0.0.2", Clean: "127.0.0.1"}) {
		t.Errorf("ZEN test points = %+v", tp)
	}
	if tp := mustList(t, c, "spamhaus-dbl").TestPoints(); tp != (TestPoints{Listed: "test", Clean: "invalid"}) {
		t.Errorf("DBL test points = %+v", tp)
	}
}

// TestDeadZones pins DESIGN §9's dead zones: each is in the catalog,
// marked dead, with the reason config check prints.
func TestDeadZones(t *testing.T) {
	c := defaultCatalog(t)
	for _, zone := range []string{
		"dnsbl.sorbs.net", "ix.dnsbl.manitu.net", "cbl.abuseat.org", "bl.spamcannibal.org",
		"bl.emailbasura.org", "dnsbl.ahbl.org", "rhsbl.ahbl.org", "dnsbl.madavi.de",
	} {
		l := mustList(t, c, zone)
		if !l.Dead || l.DeadReason == "" {
			t.Errorf("%s: dead %t, reason %q", zone, l.Dead, l.DeadReason)
		}
	}
	for _, l := range c.Lists {
		if strings.HasSuffix(l.Zone, ".sorbs.net") && !l.Dead {
			t.Errorf("%s (%s) is a SORBS zone but not dead", l.Name, l.Zone)
		}
	}
	if r := mustList(t, c, "cbl").DeadReason; !strings.Contains(r, "Spamhaus") {
		t.Errorf("cbl's dead reason %q does not point to Spamhaus", r)
	}
}

// answerCase is one answer and the Result it must give.
type answerCase struct {
	list     string
	rcode    int
	answer   []string
	status   Status
	kind     ErrorKind
	severity Severity
	codes    []string
	meaning  string // a substring of the joined meanings (listings)
}

func (tt answerCase) check(t *testing.T, c *Catalog) {
	t.Helper()
	l := mustList(t, c, tt.list)
	r := l.Interpret(tt.rcode, addrs(tt.answer...))
	label := tt.list + " " + dns.RcodeToString[tt.rcode] + " " + strings.Join(tt.answer, "+")
	if r.Status != tt.status || r.Error != tt.kind || r.Severity != tt.severity {
		t.Errorf("%s: status %s error %q severity %q, want %s %q %q (%v)", label, r.Status, r.Error, r.Severity, tt.status, tt.kind, tt.severity, r)
	}
	if r.List != l.Name || r.Zone != l.Zone {
		t.Errorf("%s: result names list %q zone %q", label, r.List, r.Zone)
	}
	if tt.codes != nil && !slices.Equal(r.Codes, tt.codes) {
		t.Errorf("%s: codes %v, want %v", label, r.Codes, tt.codes)
	}
	if len(r.Codes) != len(r.Meanings) {
		t.Errorf("%s: %d codes but %d meanings", label, len(r.Codes), len(r.Meanings))
	}
	if m := strings.Join(r.Meanings, " | "); !strings.Contains(m, tt.meaning) {
		t.Errorf("%s: meanings %q lack %q", label, m, tt.meaning)
	}
	switch r.Status {
	case StatusListed:
		if r.DelistURL != l.DelistURL {
			t.Errorf("%s: delist URL %q, want %q", label, r.DelistURL, l.DelistURL)
		}
	case StatusError:
		if r.Detail == "" || r.DelistURL != "" {
			t.Errorf("%s: error without detail or with a delist URL: %+v", label, r)
		}
	}
}

const (
	noerror  = dns.RcodeSuccess
	nxdomain = dns.RcodeNameError
)

// TestInterpretCatalogFacts pins every answer code of DESIGN §9 through
// List.Interpret.
func TestInterpretCatalogFacts(t *testing.T) {
	c := defaultCatalog(t)
	tests := []answerCase{
		// Spamhaus ZEN listing codes.
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityCritical, meaning: "SBL"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.3"}, status: StatusListed, severity: SeverityHigh, meaning: "CSS"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.4"}, status: StatusListed, severity: SeverityCritical, meaning: "XBL"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.9"}, status: StatusListed, severity: SeverityCritical, meaning: "DROP"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.10"}, status: StatusListed, severity: SeverityInfo, meaning: "rDNS/PBL problem, not spam"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.11"}, status: StatusListed, severity: SeverityInfo, meaning: "PBL (Spamhaus)"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.30"}, status: StatusListed, severity: SeverityCritical, meaning: "BCL"},
		// All A records are kept, in order; the worst severity wins.
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.2", "127.0.0.4"}, status: StatusListed, severity: SeverityCritical,
			codes: []string{"127.0.0.2", "127.0.0.4"}, meaning: "SBL - Spamhaus Blocklist"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.11", "127.0.0.3"}, status: StatusListed, severity: SeverityHigh,
			codes: []string{"127.0.0.11", "127.0.0.3"}, meaning: "CSS"},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.5"}, status: StatusListed, severity: SeverityHigh, meaning: "not in the catalog"},
		// Spamhaus error codes are errors, never listings, even next to a
		// listing code.
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.255.255.252"}, status: StatusError, kind: ErrZoneTypo},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.255.255.254"}, status: StatusError, kind: ErrPublicResolver, codes: []string{"127.255.255.254"}},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.2", "127.255.255.254"}, status: StatusError, kind: ErrPublicResolver},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.255.255.255"}, status: StatusError, kind: ErrOverQuota},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.255.255.250"}, status: StatusError, kind: ErrBadKey},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.255.255.251"}, status: StatusError, kind: ErrBadKey},
		// Response codes and rewritten NXDOMAIN.
		{list: "spamhaus-zen", rcode: nxdomain, status: StatusClean},
		{list: "spamhaus-zen", rcode: noerror, status: StatusClean},
		{list: "spamhaus-zen", rcode: dns.RcodeServerFailure, status: StatusError, kind: ErrServfail},
		{list: "spamhaus-zen", rcode: dns.RcodeRefused, status: StatusError, kind: ErrRefused},
		{list: "spamhaus-zen", rcode: dns.RcodeFormatError, status: StatusError, kind: ErrBadAnswer},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"192.0.2.1"}, status: StatusError, kind: ErrRewrittenNXDOMAIN},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"127.0.0.2", "192.0.2.1"}, status: StatusError, kind: ErrRewrittenNXDOMAIN},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"::ffff:127.0.0.2"}, status: StatusListed, severity: SeverityCritical, codes: []string{"127.0.0.2"}},
		{list: "spamhaus-zen", rcode: noerror, answer: []string{"2001:db8::1"}, status: StatusError, kind: ErrRewrittenNXDOMAIN},

		// Spamhaus DBL.
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.2"}, status: StatusListed, severity: SeverityHigh, meaning: "spam domain"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.4"}, status: StatusListed, severity: SeverityCritical, meaning: "phishing"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.5"}, status: StatusListed, severity: SeverityCritical, meaning: "malware"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.6"}, status: StatusListed, severity: SeverityCritical, meaning: "botnet"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.102"}, status: StatusListed, severity: SeverityMedium, meaning: "abused legitimate"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.104"}, status: StatusListed, severity: SeverityMedium, meaning: "abused legitimate"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.106"}, status: StatusListed, severity: SeverityMedium, meaning: "abused legitimate"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.107"}, status: StatusListed, severity: SeverityHigh, meaning: "not in the catalog"},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.0.1.255"}, status: StatusError, kind: ErrIPOnDomainList},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.255.255.254"}, status: StatusError, kind: ErrPublicResolver},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.255.255.255"}, status: StatusError, kind: ErrOverQuota},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.255.255.252"}, status: StatusError, kind: ErrZoneTypo},
		{list: "spamhaus-dbl", rcode: noerror, answer: []string{"127.255.255.251"}, status: StatusError, kind: ErrBadKey},

		// URIBL and SURBL: bitmasks; 127.0.0.1 is "query refused".
		{list: "uribl", rcode: noerror, answer: []string{"127.0.0.1"}, status: StatusError, kind: ErrRefused},
		{list: "uribl", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityHigh, meaning: "black"},
		{list: "uribl", rcode: noerror, answer: []string{"127.0.0.4"}, status: StatusListed, severity: SeverityLow, meaning: "grey"},
		{list: "uribl", rcode: noerror, answer: []string{"127.0.0.8"}, status: StatusListed, severity: SeverityMedium, meaning: "red"},
		{list: "uribl", rcode: noerror, answer: []string{"127.0.0.6"}, status: StatusListed, severity: SeverityHigh,
			codes: []string{"127.0.0.6"}, meaning: "URIBL black - domain seen in spam; URIBL grey"},
		{list: "uribl", rcode: noerror, answer: []string{"127.0.0.14"}, status: StatusListed, severity: SeverityHigh, meaning: "; URIBL red"},
		{list: "surbl", rcode: noerror, answer: []string{"127.0.0.1"}, status: StatusError, kind: ErrRefused},
		{list: "surbl", rcode: noerror, answer: []string{"127.0.0.8"}, status: StatusListed, severity: SeverityCritical, meaning: "phishing"},
		{list: "surbl", rcode: noerror, answer: []string{"127.0.0.16"}, status: StatusListed, severity: SeverityCritical, meaning: "malware"},
		{list: "surbl", rcode: noerror, answer: []string{"127.0.0.64"}, status: StatusListed, severity: SeverityHigh, meaning: "abuse"},
		{list: "surbl", rcode: noerror, answer: []string{"127.0.0.128"}, status: StatusListed, severity: SeverityHigh, meaning: "cracked"},
		{list: "surbl", rcode: noerror, answer: []string{"127.0.0.192"}, status: StatusListed, severity: SeverityHigh, meaning: "abuse (spam and other abuse); SURBL cracked"},

		// Allow and reputation lists: good news is a listing with
		// severity good.
		{list: "dnswl", rcode: noerror, answer: []string{"127.0.10.0"}, status: StatusListed, severity: SeverityGood},
		{list: "dnswl", rcode: noerror, answer: []string{"127.0.15.3"}, status: StatusListed, severity: SeverityGood},
		{list: "mailspike-wl", rcode: noerror, answer: []string{"127.0.0.18"}, status: StatusListed, severity: SeverityGood},
		{list: "mailspike-rep", rcode: noerror, answer: []string{"127.0.0.10"}, status: StatusListed, severity: SeverityMedium, meaning: "bad"},
		{list: "mailspike-rep", rcode: noerror, answer: []string{"127.0.0.12"}, status: StatusListed, severity: SeverityMedium, meaning: "bad"},
		{list: "mailspike-rep", rcode: noerror, answer: []string{"127.0.0.13"}, status: StatusListed, severity: SeverityInfo, meaning: "neutral"},
		{list: "mailspike-rep", rcode: noerror, answer: []string{"127.0.0.16"}, status: StatusListed, severity: SeverityInfo, meaning: "neutral"},
		{list: "mailspike-rep", rcode: noerror, answer: []string{"127.0.0.17"}, status: StatusListed, severity: SeverityGood, meaning: "good"},
		{list: "mailspike-rep", rcode: noerror, answer: []string{"127.0.0.20"}, status: StatusListed, severity: SeverityGood, meaning: "good"},
		{list: "hostkarma", rcode: noerror, answer: []string{"127.0.0.1"}, status: StatusListed, severity: SeverityGood, meaning: "whitelisted"},
		{list: "hostkarma", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityMedium},

		// Other IP lists.
		{list: "barracuda", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityHigh},
		{list: "spamcop", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityMedium},
		{list: "psbl", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityMedium},
		{list: "uceprotect-1", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityMedium},
		{list: "uceprotect-2", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityLow, meaning: "netblock"},
		{list: "uceprotect-3", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityLow, meaning: "ASN"},
		{list: "mailspike-bl", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityMedium, meaning: "wave"},
		{list: "mailspike-bl", rcode: noerror, answer: []string{"127.0.0.10"}, status: StatusListed, severity: SeverityLow, meaning: "level"},
		{list: "mailspike-bl", rcode: noerror, answer: []string{"127.0.0.13"}, status: StatusListed, severity: SeverityLow, meaning: "level"},
		{list: "abusix", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusListed, severity: SeverityHigh},

		// SpamRATS: each zone has one code; anything else is an error.
		{list: "spamrats-dyna", rcode: noerror, answer: []string{"127.0.0.36"}, status: StatusListed, severity: SeverityLow, meaning: "Dyna"},
		{list: "spamrats-noptr", rcode: noerror, answer: []string{"127.0.0.37"}, status: StatusListed, severity: SeverityMedium, meaning: "NoPtr"},
		{list: "spamrats-spam", rcode: noerror, answer: []string{"127.0.0.38"}, status: StatusListed, severity: SeverityMedium, meaning: "Spam"},
		{list: "spamrats-auth", rcode: noerror, answer: []string{"127.0.0.43"}, status: StatusListed, severity: SeverityMedium, meaning: "Auth"},
		{list: "spamrats-dyna", rcode: noerror, answer: []string{"127.0.0.37"}, status: StatusError, kind: ErrUnknownCode, codes: []string{"127.0.0.37"}},
		{list: "spamrats-spam", rcode: noerror, answer: []string{"127.0.0.2"}, status: StatusError, kind: ErrUnknownCode},
		{list: "spamrats-auth", rcode: noerror, answer: []string{"127.0.0.43", "127.0.0.44"}, status: StatusError, kind: ErrUnknownCode},
	}
	for _, tt := range tests {
		tt.check(t, c)
	}

	// Good news is not bad news: an allow-list hit is not Listed().
	r := mustList(t, c, "dnswl").Interpret(noerror, addrs("127.0.10.0"))
	if r.Listed() {
		t.Errorf("a dnswl listing counts as Listed(): %v", r)
	}
	r = mustList(t, c, "spamhaus-zen").Interpret(noerror, addrs("127.0.0.10"))
	if !r.Listed() {
		t.Errorf("a PBL listing does not count as Listed(): %v", r)
	}
	// The advice for Spamhaus's public-resolver code names the fixes.
	r = mustList(t, c, "spamhaus-zen").Interpret(noerror, addrs("127.255.255.254"))
	if r.Listed() || !strings.Contains(r.Detail, "local recursive resolver") || !strings.Contains(r.Detail, "DQS key") {
		t.Errorf("public-resolver result: %+v", r)
	}
}

// TestParseCatalogErrors checks that a broken catalog entry is reported
// with the file, the list and the field.
func TestParseCatalogErrors(t *testing.T) {
	tests := []struct {
		doc  string
		want []string
	}{
		{"lists:\n  - {name: a, zone: a.example}\n", []string{"extra.yaml", "lists[0]", "a (a.example)", "kind is empty"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ipv4}\n", []string{"a (a.example)", `kind "ipv4"`}},
		{"lists:\n  - {name: a, zone: 'a b', kind: ip}\n", []string{"a (a b)", "zone"}},
		{"lists:\n  - {zone: a.example, kind: ip}\n", []string{"a.example", "name is empty"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: 127.0.0.2, severity: urgent}]}\n",
			[]string{"a (a.example)", "codes[0] (127.0.0.2)", `severity "urgent"`}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: 10.0.0.2, severity: high}]}\n",
			[]string{"a (a.example)", "codes[0]", "127.0.0.0/8"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: 127.0.0.9-127.0.0.2, severity: high}]}\n",
			[]string{"codes[0]", "range end before start"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, errors: [{match: 127.0.0.1}]}\n",
			[]string{"a (a.example)", "errors[0] (127.0.0.1)", "error kind is empty"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: 127.0.0.1, severity: high, error: refused}]}\n",
			[]string{"codes[0] (127.0.0.1)", "belongs under errors"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, key: spamhaus-dqs, keyed_zone: a.dq.example}\n",
			[]string{"a (a.example)", "keyed_zone", "{key}"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, key: spamhaus-dqs, keyed_zone: '{key}..example'}\n",
			[]string{"a (a.example)", "keyed_zone", "not a DNS name"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, key: dqs, keyed_zone: '{key}.a.example'}\n",
			[]string{"a (a.example)", `key "dqs"`}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, purpose: deny}\n", []string{"a (a.example)", `purpose "deny"`}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, unknown_codes: ignore}\n", []string{"a (a.example)", `unknown_codes "ignore"`}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, unknown_severity: bad}\n", []string{"a (a.example)", `unknown_severity "bad"`}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, rate: -1}\n", []string{"a (a.example)", "rate"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip, colour: red}\n", []string{"extra.yaml", "colour"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip}\n  - {name: a, zone: b.example, kind: ip}\n",
			[]string{"lists[1]", "a (b.example)", "name a is already lists[0]"}},
		{"lists:\n  - {name: a, zone: a.example, kind: ip}\n  - {name: b, zone: A.example., kind: ip}\n",
			[]string{"lists[1]", "zone a.example is already lists[0]"}},
		{"lists:\n  -\n", []string{"lists[0] is empty"}},
		{"lists: {a: b}\n", []string{"extra.yaml"}},
	}
	for _, tt := range tests {
		c, err := ParseCatalog("extra.yaml", []byte(tt.doc))
		if err == nil {
			t.Errorf("ParseCatalog(%q) = %d lists, no error", tt.doc, len(c.Lists))
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseCatalog(%q) error %q lacks %q", tt.doc, err, w)
			}
		}
	}

	// Every problem is reported, not just the first.
	_, err := ParseCatalog("x.yaml", []byte("lists:\n  - {name: a, zone: a.example}\n  - {name: b, zone: b.example, kind: dns}\n"))
	if err == nil || !strings.Contains(err.Error(), "a (a.example)") || !strings.Contains(err.Error(), "b (b.example)") {
		t.Errorf("both broken lists should be reported: %v", err)
	}
}

// TestCatalogMerge checks that a second catalog's entry replaces the
// built-in one with the same name or zone, as rbl.catalog_files does.
func TestCatalogMerge(t *testing.T) {
	c := defaultCatalog(t)
	n := len(c.Lists)
	extra, err := ParseCatalog("extra.yaml", []byte(`lists:
  - name: spamcop
    zone: bl.spamcop.net
    kind: ip
    description: local override
    codes: [{match: 127.0.0.2, meaning: reported, severity: critical}]
  - name: my-psbl
    zone: PSBL.surriel.com.
    kind: ip
    description: renamed
    codes: [{match: 127.0.0.2, meaning: trap hit, severity: low}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range extra.Lists {
		if err := c.Add(l); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.Lists) != n {
		t.Errorf("merging two replacements changed the list count from %d to %d", n, len(c.Lists))
	}
	if l := mustList(t, c, "spamcop"); l.Description != "local override" {
		t.Errorf("spamcop not replaced: %+v", l)
	}
	if _, ok := c.Lookup("psbl"); ok {
		t.Error("the old psbl entry is still found by name after its zone was replaced")
	}
	if l := mustList(t, c, "psbl.surriel.com"); l.Name != "my-psbl" {
		t.Errorf("psbl.surriel.com is %s, want my-psbl", l.Name)
	}
}

// checkInvariants fails when r breaks a rule every Result of Interpret
// must keep, whatever the answer.
func checkInvariants(t *testing.T, l *List, rcode int, answer []netip.Addr, r Result) {
	t.Helper()
	outside := false
	for _, a := range answer {
		if !loopback8.Contains(a.Unmap()) {
			outside = true
		}
	}
	if r.List != l.Name || r.Zone != l.Zone {
		t.Fatalf("%s: result names %s/%s", l.Name, r.List, r.Zone)
	}
	if len(r.Codes) != len(r.Meanings) {
		t.Fatalf("%s %d %v: %d codes, %d meanings: %+v", l.Name, rcode, answer, len(r.Codes), len(r.Meanings), r)
	}
	switch r.Status {
	case StatusListed:
		if rcode != dns.RcodeSuccess || outside || len(r.Codes) == 0 || len(r.Codes) != len(answer) || !r.Severity.Valid() || r.Error != "" {
			t.Fatalf("%s %d %v: bad listing %+v", l.Name, rcode, answer, r)
		}
		for i, code := range r.Codes {
			if code != answer[i].Unmap().String() {
				t.Fatalf("%s: codes %v do not keep the answer %v in order", l.Name, r.Codes, answer)
			}
		}
	case StatusClean:
		if !(rcode == dns.RcodeNameError || rcode == dns.RcodeSuccess && len(answer) == 0) || len(r.Codes) != 0 || r.Severity != "" || r.Error != "" {
			t.Fatalf("%s %d %v: bad clean %+v", l.Name, rcode, answer, r)
		}
	case StatusError:
		// An error keeps at most the one answer code that signalled it.
		if r.Error == "" || r.Severity != "" || r.DelistURL != "" || r.Detail == "" || len(r.Codes) > 1 {
			t.Fatalf("%s %d %v: bad error %+v", l.Name, rcode, answer, r)
		}
	default:
		t.Fatalf("%s: status %q", l.Name, r.Status)
	}
	if outside && rcode == dns.RcodeSuccess && r.Error != ErrRewrittenNXDOMAIN {
		t.Fatalf("%s %v: an answer outside 127/8 gave %+v", l.Name, answer, r)
	}
}

// FuzzInterpret feeds random response codes and answers through every
// list of the built-in catalog.
func FuzzInterpret(f *testing.F) {
	c := defaultCatalog(f)
	f.Add(uint16(0), []byte{127, 0, 0, 2})
	f.Add(uint16(0), []byte{127, 0, 0, 2, 127, 0, 0, 4})
	f.Add(uint16(0), []byte{127, 255, 255, 254})
	f.Add(uint16(0), []byte{127, 0, 1, 255})
	f.Add(uint16(0), []byte{127, 0, 0, 6, 127, 0, 0, 1})
	f.Add(uint16(0), []byte{192, 0, 2, 1})
	f.Add(uint16(0), []byte{127, 0, 0, 36, 127, 0, 0, 99})
	f.Add(uint16(0), []byte{})
	f.Add(uint16(3), []byte{127, 0, 0, 2})
	f.Add(uint16(2), []byte{})
	f.Add(uint16(5), []byte{})
	f.Add(uint16(4000), []byte{127, 0, 0, 2})
	f.Fuzz(func(t *testing.T, rcode uint16, raw []byte) {
		// Each 4 bytes are an IPv4 answer; a leading 0xff byte makes the
		// next 16 an IPv6 one (a resolver may hand back AAAA records or
		// IPv4-mapped addresses).
		var answer []netip.Addr
		for len(raw) >= 4 && len(answer) < 16 {
			if raw[0] == 0xff && len(raw) >= 17 {
				answer = append(answer, netip.AddrFrom16([16]byte(raw[1:17])))
				raw = raw[17:]
				continue
			}
			answer = append(answer, netip.AddrFrom4([4]byte(raw[:4])))
			raw = raw[4:]
		}
		for _, l := range c.Lists {
			r := l.Interpret(int(rcode), answer)
			checkInvariants(t, l, int(rcode), answer, r)
		}
	})
}

// FuzzParseCatalog checks that no document makes ParseCatalog panic and
// that a catalog it accepts is usable: every list is found by name and
// zone and interprets answers within the invariants. The embedded
// catalog is a large seed: run with -fuzzminimizetime=1s, or minimising
// each new input takes the fuzzer's time.
func FuzzParseCatalog(f *testing.F) {
	f.Add(configs.RBLCatalog)
	for _, s := range []string{
		"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: 127.0.0.2-127.0.0.9, severity: high}]}\n",
		"lists:\n  - {name: a, zone: a.example, kind: domain, codes: [{mask: 6, severity: low}], errors: [{match: 127.0.0.1, error: refused}]}\n",
		"lists:\n  - {name: a, zone: a.example, kind: ip, key: abusix, keyed_zone: '{key}.a.example', unknown_codes: error}\n",
		"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: '::1', severity: high}]}\n",
		"lists:\n  - {name: a, zone: a.example, kind: ip, codes: [{match: '127.0.0.1-::2', severity: high}]}\n",
		"lists: [~, {}]\n",
		"lists: &a [*a]\n",
	} {
		f.Add([]byte(s))
	}
	answers := [][]netip.Addr{
		nil,
		addrs("127.0.0.2"),
		addrs("127.0.0.1", "127.0.0.6"),
		addrs("127.255.255.254"),
		addrs("10.0.0.1"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatalf("ParseCatalog returned a catalog and an error: %v", err)
			}
			return
		}
		for _, l := range c.Lists {
			if got, ok := c.Lookup(l.Name); !ok || got != l {
				t.Fatalf("Lookup(%q) does not find the list", l.Name)
			}
			if got, ok := c.Lookup(l.Zone); !ok || got != l {
				t.Fatalf("Lookup(%q) does not find the list", l.Zone)
			}
			for _, a := range answers {
				for _, rcode := range []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeServerFailure} {
					checkInvariants(t, l, rcode, a, l.Interpret(rcode, a))
				}
			}
		}
	})
}

func BenchmarkInterpret(b *testing.B) {
	c := defaultCatalog(b)
	zen := mustList(b, c, "spamhaus-zen")
	uribl := mustList(b, c, "uribl")
	listed, masked := addrs("127.0.0.2", "127.0.0.4"), addrs("127.0.0.6")
	b.ReportAllocs()
	for b.Loop() {
		zen.Interpret(dns.RcodeSuccess, listed)
		zen.Interpret(dns.RcodeNameError, nil)
		uribl.Interpret(dns.RcodeSuccess, masked)
	}
}
