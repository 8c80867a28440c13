package rbl

import (
	"slices"
	"strings"
	"testing"
)

func listNames(ls []*List) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func TestDefaultLists(t *testing.T) {
	c := defaultCatalog(t)
	names := DefaultLists()
	if len(names) == 0 {
		t.Fatal("no default lists")
	}
	lists, findings, err := Select(c, names, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 0 {
		t.Errorf("the default lists give findings without keys: %v", findings)
	}
	if !slices.Equal(listNames(lists), names) {
		t.Errorf("Select(DefaultLists()) = %v, want %v", listNames(lists), names)
	}
	for _, l := range lists {
		if l.Dead || l.NeedsKey() {
			t.Errorf("default list %s is dead or needs a key", l.Name)
		}
	}
	for _, must := range []string{"spamhaus-zen", "spamhaus-dbl"} {
		if !slices.Contains(names, must) {
			t.Errorf("DefaultLists lacks %s", must)
		}
	}
	// A fresh slice each call: a caller appending does not change the next.
	names[0] = "changed"
	if DefaultLists()[0] == "changed" {
		t.Error("DefaultLists returns shared storage")
	}
}

func TestSelect(t *testing.T) {
	c := defaultCatalog(t)
	lists, findings, err := Select(c,
		[]string{"spamhaus-zen", "ZEN.spamhaus.org.", "spamcop", "abusix", "dnsbl.sorbs.net", "cbl"},
		nil, map[string]string{KeySpamhausDQS: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listNames(lists), []string{"spamhaus-zen", "spamcop"}; !slices.Equal(got, want) {
		t.Fatalf("lists = %v, want %v (name and zone of ZEN are one list; abusix without key and dead zones left out)", got, want)
	}
	if got := lists[0].QueryZone(); got != "s3cret.zen.dq.spamhaus.net" {
		t.Errorf("ZEN with a DQS key queries %q", got)
	}
	if lists[0].Zone != "zen.spamhaus.org" {
		t.Errorf("ZEN's public zone changed to %q", lists[0].Zone)
	}
	if lists[1].QueryZone() != "bl.spamcop.net" {
		t.Errorf("spamcop queries %q", lists[1].QueryZone())
	}
	// The catalog itself is not changed.
	if l := mustList(t, c, "spamhaus-zen"); l.QueryZone() != "zen.spamhaus.org" || l == lists[0] {
		t.Errorf("Select changed or returned the catalog's own list: %q", l.QueryZone())
	}

	wantFindings := map[string][]string{
		"abusix": {"needs a key", "rbl.abusix_key", "left out"},
		"sorbs":  {"dead zone", "June 2024", "left out"},
		"cbl":    {"dead zone", "Spamhaus XBL", "left out"},
	}
	if len(findings) != len(wantFindings) {
		t.Errorf("findings = %v, want %d", findings, len(wantFindings))
	}
	for _, f := range findings {
		want, ok := wantFindings[f.List]
		if !ok {
			t.Errorf("unexpected finding %v", f)
			continue
		}
		if f.Severity != FindingWarning {
			t.Errorf("finding %v is not a warning", f)
		}
		for _, w := range want {
			if !strings.Contains(f.Message, w) {
				t.Errorf("finding %v lacks %q", f, w)
			}
		}
		if strings.Contains(f.String(), "s3cret") {
			t.Errorf("finding %v shows the key", f)
		}
	}
}

func TestSelectKeys(t *testing.T) {
	c := defaultCatalog(t)
	lists, findings, err := Select(c, []string{"abusix", "spamhaus-dbl"}, nil,
		map[string]string{KeyAbusix: "ak", KeySpamhausDQS: ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 0 || len(lists) != 2 {
		t.Fatalf("lists %v findings %v", listNames(lists), findings)
	}
	if lists[0].QueryZone() != "ak.combined.mail.abusix.zone" || lists[1].QueryZone() != "dbl.spamhaus.org" {
		t.Errorf("query zones %q, %q", lists[0].QueryZone(), lists[1].QueryZone())
	}

	// A key nothing uses is worth a warning.
	_, findings, err = Select(c, []string{"spamcop"}, nil, map[string]string{KeySpamhausDQS: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 1 || findings[0].List != "" || !strings.Contains(findings[0].Message, "rbl.dqs_key is set") {
		t.Errorf("findings for an unused DQS key: %v", findings)
	}

	// Only a keyless Abusix: nothing left to check is an error finding.
	lists, findings, err = Select(c, []string{"abusix"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lists) != 0 || len(findings) != 2 || findings[1].Severity != FindingError || !strings.Contains(findings[1].Message, "nothing will be checked") {
		t.Errorf("lists %v findings %v", listNames(lists), findings)
	}
}

func TestSelectUnknown(t *testing.T) {
	c := defaultCatalog(t)
	_, _, err := Select(c, []string{"spamhaus-zne", "spamcop", "zen", "bl.spamcop.com", "qqqqqqqqqqqq"}, nil, nil)
	if err == nil {
		t.Fatal("unknown names accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`"spamhaus-zne" is not in the catalog (did you mean spamhaus-zen`,
		`"zen" is not in the catalog (did you mean spamhaus-zen`,
		`"bl.spamcop.com" is not in the catalog (did you mean spamcop`,
		`"qqqqqqqqqqqq" is not in the catalog`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, `"qqqqqqqqqqqq" is not in the catalog (`) {
		t.Errorf("a name like nothing got suggestions:\n%s", msg)
	}
	if strings.Contains(msg, `"spamcop"`) {
		t.Errorf("a known name is reported:\n%s", msg)
	}
}

func TestSelectCustom(t *testing.T) {
	c := defaultCatalog(t)
	custom := []*List{
		{Name: "local-bl", Zone: "bl.example.net", Kind: KindIP, UnknownSeverity: SeverityHigh},
		// Replaces the catalog's spamcop, which is also named.
		{Name: "spamcop", Zone: "bl.spamcop.net", Kind: KindIP, Codes: []Code{{Match: "127.0.0.2", Meaning: "mine", Severity: SeverityCritical}}},
		// A dead zone forced as a custom list.
		{Name: "old-sorbs", Zone: "dnsbl.sorbs.net", Kind: KindIP},
	}
	lists, findings, err := Select(c, []string{"spamhaus-zen", "spamcop"}, custom, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listNames(lists), []string{"spamhaus-zen", "local-bl", "spamcop", "old-sorbs"}; !slices.Equal(got, want) {
		t.Fatalf("lists = %v, want %v", got, want)
	}
	if r := lists[2].Interpret(0, addrs("127.0.0.2")); r.Severity != SeverityCritical || r.Meanings[0] != "mine" {
		t.Errorf("the custom spamcop is not used: %v", r)
	}
	if r := lists[1].Interpret(0, addrs("127.0.0.7")); r.Status != StatusListed || r.Severity != SeverityHigh {
		t.Errorf("custom list: %v", r)
	}
	if custom[0].Purpose != "" {
		t.Error("Select compiled the caller's custom list in place")
	}
	if len(findings) != 1 || findings[0].List != "old-sorbs" || !strings.Contains(findings[0].Message, "custom list") {
		t.Errorf("findings = %v", findings)
	}

	_, _, err = Select(c, nil, []*List{
		{Name: "bad", Zone: "bad zone", Kind: KindIP},
		{Name: "x", Zone: "x.example", Kind: KindIP},
		{Name: "x", Zone: "y.example", Kind: KindIP},
		nil,
	}, nil)
	if err == nil {
		t.Fatal("broken custom lists accepted")
	}
	for _, want := range []string{"rbl custom list bad (bad zone)", "zone", "x (y.example): name x is also custom list 1", "custom list 3 is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestResolverFindings(t *testing.T) {
	c := defaultCatalog(t)
	lists, _, err := Select(c, []string{"spamhaus-zen", "spamhaus-dbl", "uribl", "surbl", "spamcop", "dnswl"}, nil,
		map[string]string{KeySpamhausDQS: ""})
	if err != nil {
		t.Fatal(err)
	}

	if f := ResolverFindings(lists, []string{"127.0.0.1:53", "::1", "10.0.0.53", "resolver.example:53"}); len(f) != 0 {
		t.Errorf("local resolvers give findings: %v", f)
	}
	if f := ResolverFindings(lists, nil); len(f) != 0 {
		t.Errorf("no resolvers give findings: %v", f)
	}

	for _, r := range []string{"8.8.8.8", "8.8.4.4:53", "1.1.1.1", "[2606:4700:4700::1111]:53", "2001:4860:4860::8888",
		"9.9.9.9", "149.112.112.112", "208.67.222.222:53", "94.140.14.14", "64.6.65.6", "185.228.168.9", "76.76.2.0"} {
		f := ResolverFindings(lists, []string{"127.0.0.1", r})
		if got, want := findingLists(f), []string{"spamhaus-zen", "spamhaus-dbl", "uribl", "surbl"}; !slices.Equal(got, want) {
			t.Errorf("resolver %s: findings for %v, want %v", r, got, want)
			continue
		}
		for _, x := range f {
			if x.Severity != FindingWarning || !strings.Contains(x.Message, "local recursive resolver (unbound, no forwarding)") {
				t.Errorf("resolver %s: finding %v", r, x)
			}
		}
		if !strings.Contains(f[0].Message, "DQS key") || strings.Contains(f[2].Message, "DQS key") {
			t.Errorf("DQS advice should go to Spamhaus only: %v", f)
		}
	}

	// With a DQS key, Spamhaus may be queried through anything.
	keyed, _, err := Select(c, []string{"spamhaus-zen", "uribl"}, nil, map[string]string{KeySpamhausDQS: "k"})
	if err != nil {
		t.Fatal(err)
	}
	f := ResolverFindings(keyed, []string{"8.8.8.8", "1.1.1.1"})
	if got := findingLists(f); !slices.Equal(got, []string{"uribl"}) {
		t.Errorf("with a DQS key: findings for %v, want uribl only", got)
	}
	if len(f) == 1 && (!strings.Contains(f[0].Message, "8.8.8.8 (Google Public DNS), 1.1.1.1 (Cloudflare) are") || strings.Contains(f[0].Message, "k.")) {
		t.Errorf("finding %v", f[0])
	}
}

func findingLists(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.List
	}
	return out
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"", "", 3, 0},
		{"abc", "abc", 3, 0},
		{"spamhaus-zne", "spamhaus-zen", 3, 2},
		{"kitten", "sitting", 3, 3},
		{"kitten", "sitting", 2, -1},
		{"a", "abcdef", 3, -1},
	} {
		if got := editDistance(tt.a, tt.b, tt.limit); got != tt.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
		}
	}
}
