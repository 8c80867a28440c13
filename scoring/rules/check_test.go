package rules

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/scoring/message"
)

func parseMsg(t testing.TB, raw string) *message.Message {
	t.Helper()
	m, err := message.Parse(context.Background(), strings.NewReader(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const checkRules = `
header   SUBJ_FREE   Subject =~ /\bfree\b/i
describe SUBJ_FREE   Subject mentions free
score    SUBJ_FREE   1.5
header   FROM_ADDR   From:addr =~ /^joe\@example\.com$/
score    FROM_ADDR   0.5
header   FROM_NAME   From:name =~ /^Joe Bloggs$/
score    FROM_NAME   0.1
header   NO_XMAILER  X-Mailer !~ /./
score    NO_XMAILER  0.2
header   HAS_DATE    exists:Date
score    HAS_DATE    0.01
body     BODY_CASH   /cash/i
tflags   BODY_CASH   multiple maxhits=2
score    BODY_CASH   1.0
body     BODY_SUBJ   /subject line words/
score    BODY_SUBJ   0.3
body     BODY_NOSUBJ /Free offer/
tflags   BODY_NOSUBJ nosubject
score    BODY_NOSUBJ 5
uri      URI_EXAMPLE /^https?:\/\/(?:www\.)?example\.net/
score    URI_EXAMPLE 0.7
rawbody  RAW_BR      /<br>/i
score    RAW_BR      0.4
full     FULL_MIME   /^Content-Type: text\/html/m
score    FULL_MIME   0.6
header   __A         Subject =~ /offer/i
body     __B         /cash/i
meta     META_BOTH   __A && __B
score    META_BOTH   2.0
meta     META_COUNT  BODY_CASH >= 2
score    META_COUNT  0.9
body     LOOKAHEAD   /cash(?! money)/
score    LOOKAHEAD   0.05
body     NEVER       /no such text anywhere/
score    NEVER       9
header   FREE_FROM   eval:check_freemail_from()
score    FREE_FROM   0.8
freemail_domains gmail.com
`

const checkMsg = "From: Joe Bloggs <joe@example.com>\r\n" +
	"To: someone@example.org\r\n" +
	"Subject: Free offer subject line words\r\n" +
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
	"Message-ID: <abc@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<html><body>Get cash now<br>more cash, cash and CASH money\r\n" +
	"<a href=\"http://www.example.net/x\">here</a></body></html>\r\n"

func loadString(t testing.TB, cf string) *Ruleset {
	t.Helper()
	dir := t.TempDir()
	if err := writeFile(dir+"/r.cf", cf); err != nil {
		t.Fatal(err)
	}
	rs, lint, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lint.Skipped) > 0 || len(lint.Problems) > 0 {
		t.Fatalf("skipped %+v problems %+v", lint.Skipped, lint.Problems)
	}
	return rs
}

func TestCheck(t *testing.T) {
	rs := loadString(t, checkRules)
	v := rs.Check(context.Background(), parseMsg(t, checkMsg), nil)
	hits := map[string]Hit{}
	for _, h := range v.Hits {
		hits[h.Name] = h
	}
	want := []string{"SUBJ_FREE", "FROM_ADDR", "FROM_NAME", "NO_XMAILER", "HAS_DATE", "BODY_CASH", "BODY_SUBJ",
		"URI_EXAMPLE", "RAW_BR", "FULL_MIME", "META_BOTH", "META_COUNT", "LOOKAHEAD"}
	for _, n := range want {
		if _, ok := hits[n]; !ok {
			t.Errorf("%s did not hit (hits %v)", n, v.Names())
		}
	}
	for _, n := range []string{"NEVER", "BODY_NOSUBJ", "FREE_FROM", "__A", "__B"} {
		if _, ok := hits[n]; ok {
			t.Errorf("%s hit", n)
		}
	}
	if h := hits["SUBJ_FREE"]; h.Area != AreaHeader || h.Where != "Subject" || h.Description != "Subject mentions free" || h.Score != 1.5 {
		t.Errorf("SUBJ_FREE hit = %+v", h)
	}
	if h := hits["BODY_CASH"]; h.Area != AreaBody || !strings.Contains(strings.ToLower(h.Where), "cash") {
		t.Errorf("BODY_CASH hit = %+v", h)
	}
	if hits["META_BOTH"].Area != AreaMeta || hits["URI_EXAMPLE"].Area != AreaURI || hits["RAW_BR"].Area != AreaRawbody || hits["FULL_MIME"].Area != AreaFull {
		t.Error("wrong areas")
	}
	var sum float64
	for _, h := range v.Hits {
		sum += h.Score
	}
	if diff := sum - v.Score; diff > 1e-9 || diff < -1e-9 {
		t.Errorf("score %v, hits sum to %v", v.Score, sum)
	}
	if v.Threshold != 5 || !v.Spam {
		t.Errorf("threshold %v spam %v score %v", v.Threshold, v.Spam, v.Score)
	}
	for i := 1; i < len(v.Hits); i++ {
		if v.Hits[i].Score > v.Hits[i-1].Score {
			t.Error("hits not sorted by score")
		}
	}
}

func TestCheckMaxHits(t *testing.T) {
	rs := loadString(t, `
body     __CASH_ALL  /cash/i
tflags   __CASH_ALL  multiple
body     __CASH_2    /cash/i
tflags   __CASH_2    multiple maxhits=2
meta     FOUR_CASH   __CASH_ALL == 4
meta     TWO_CASH    __CASH_2 == 2
`)
	_, st := rs.check(context.Background(), parseMsg(t, checkMsg), nil)
	if v := st.values[rs.Rule("__CASH_ALL").index]; v != 4 {
		t.Errorf("__CASH_ALL = %v, want 4", v)
	}
	if v := st.values[rs.Rule("__CASH_2").index]; v != 2 {
		t.Errorf("__CASH_2 = %v, want 2", v)
	}
	if st.values[rs.Rule("FOUR_CASH").index] == 0 || st.values[rs.Rule("TWO_CASH").index] == 0 {
		t.Error("metas over counts did not hit")
	}
}

func TestCheckOverrides(t *testing.T) {
	rs := loadString(t, checkRules)
	m := parseMsg(t, checkMsg)
	base := rs.Check(context.Background(), m, nil)
	v := rs.Check(context.Background(), m, &Options{Overrides: &Overrides{
		Disabled:  []string{"SUBJ_FREE", "__B"},
		Scores:    map[string]float64{"BODY_CASH": 0.25, "FROM_ADDR": 0},
		Threshold: 20,
	}})
	names := strings.Join(v.Names(), " ")
	if strings.Contains(names, "SUBJ_FREE") || strings.Contains(names, "FROM_ADDR") {
		t.Errorf("disabled or zero-scored rule reported: %s", names)
	}
	if strings.Contains(names, "META_BOTH") {
		t.Error("a meta over a disabled sub-rule hit")
	}
	for _, h := range v.Hits {
		if h.Name == "BODY_CASH" && h.Score != 0.25 {
			t.Errorf("BODY_CASH score %v, want 0.25", h.Score)
		}
	}
	if v.Threshold != 20 || v.Spam {
		t.Errorf("threshold %v spam %v", v.Threshold, v.Spam)
	}
	if !(v.Score < base.Score) {
		t.Errorf("override score %v not below %v", v.Score, base.Score)
	}

	// Allow-listed recipients: mail only to them is never spam.
	m.Context.Recipients = []string{"abuse@isp.example", "<Reports@Feedback.Example>"}
	v = rs.Check(context.Background(), m, &Options{Overrides: &Overrides{AllowRecipients: []string{"abuse@isp.example", "*@feedback.example"}}})
	if !v.AllowListed || v.Spam {
		t.Errorf("allow-listed: %v spam %v", v.AllowListed, v.Spam)
	}
	m.Context.Recipients = append(m.Context.Recipients, "victim@example.org")
	v = rs.Check(context.Background(), m, &Options{Overrides: &Overrides{AllowRecipients: []string{"abuse@isp.example"}}})
	if v.AllowListed || !v.Spam {
		t.Errorf("mixed recipients: allow-listed %v spam %v", v.AllowListed, v.Spam)
	}
}

func TestCheckContextRules(t *testing.T) {
	rs := loadString(t, "header X Subject =~ /nothing/\n")
	m := parseMsg(t, checkMsg)
	// Without context, no context rule fires.
	if v := rs.Check(context.Background(), m, nil); len(v.Hits) != 0 {
		t.Fatalf("hits without context: %v", v.Names())
	}
	var rcpts []string
	for i := 0; i < 120; i++ {
		rcpts = append(rcpts, "user"+strings.Repeat("x", i%5)+"@example.org")
	}
	m.Context = message.Context{
		ClientIP:   netip.MustParseAddr("198.51.100.7"),
		HELO:       "localhost",
		Recipients: rcpts,
	}
	v := rs.Check(context.Background(), m, nil)
	got := strings.Join(v.Names(), " ")
	for _, n := range []string{RuleUnauthSubmission, RuleInvalidHELO, RuleBulkRecipients} {
		if !strings.Contains(got, n) {
			t.Errorf("%s missing from %s", n, got)
		}
	}
	if strings.Contains(got, RuleManyRecipients) {
		t.Error("many and bulk recipients both hit")
	}
	m.Context = message.Context{Authenticated: true, AuthUser: "alice@customer.example", HELO: "[192.0.2.1]",
		Recipients: []string{"abuse@isp.example"}}
	v = rs.Check(context.Background(), m, nil)
	got = strings.Join(v.Names(), " ")
	for _, n := range []string{RuleFromNotAuthUser, RuleAbuseRecipients} {
		if !strings.Contains(got, n) {
			t.Errorf("%s missing from %s", n, got)
		}
	}
	if strings.Contains(got, RuleUnauthSubmission) || strings.Contains(got, RuleInvalidHELO) {
		t.Errorf("authenticated submission with a literal HELO hit %s", got)
	}
	for _, h := range v.Hits {
		if h.Area != AreaContext {
			t.Errorf("%s area %s", h.Name, h.Area)
		}
	}
	// Same registered domain: no mismatch.
	m.Context.AuthUser = "joe@mail.example.com"
	if v := rs.Check(context.Background(), m, nil); strings.Contains(strings.Join(v.Names(), " "), RuleFromNotAuthUser) {
		t.Error("From in the authenticated user's domain flagged")
	}
}

func TestCheckLimits(t *testing.T) {
	rs := loadString(t, "header X Subject =~ /nothing/\n")
	m := parseMsg(t, checkMsg)
	m.Limits = []string{message.LimitParts, message.LimitBudget}
	v := rs.Check(context.Background(), m, nil)
	got := strings.Join(v.Names(), " ")
	if !strings.Contains(got, "MAILREP_LIMIT_PARTS") || !strings.Contains(got, "MAILREP_LIMIT_BUDGET") {
		t.Errorf("limit rules missing: %s", got)
	}
	if len(v.LimitsHit) != 2 {
		t.Errorf("limits hit %v", v.LimitsHit)
	}
	for _, h := range v.Hits {
		if h.Area != AreaLimit {
			t.Errorf("%s area %s", h.Name, h.Area)
		}
	}
}

func TestCheckCancelled(t *testing.T) {
	rs := loadString(t, checkRules)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v := rs.Check(ctx, parseMsg(t, checkMsg), nil)
	if len(v.LimitsHit) == 0 || v.LimitsHit[len(v.LimitsHit)-1] != budgetLimit {
		t.Errorf("limits %v, want %s", v.LimitsHit, budgetLimit)
	}
}

func TestHeaderSelectors(t *testing.T) {
	raw := "From: \"Ann Other\" <Ann@Example.COM>, bob@example.org\r\n" +
		"To: a@x.example\r\nCc: \"B\" <b@x.example>\r\n" +
		"Subject:   =?utf-8?q?caf=C3=A9?=  \r\n" +
		"X-Folded: one\r\n  two\r\n" +
		"Message-Id: <1@x>\r\nResent-Message-Id: <2@x>\r\n" +
		"Return-Path: <bounce@sender.example>\r\n" +
		"\r\nbody\r\n"
	st := &msgState{rs: &Ruleset{}, msg: parseMsg(t, raw)}
	for _, c := range []struct {
		sel  HeaderSelector
		want string
		ok   bool
	}{
		{HeaderSelector{Name: "Subject"}, "café\n", true},
		{HeaderSelector{Name: "subject", Raw: true}, "   =?utf-8?q?caf=C3=A9?=  \n", true},
		{HeaderSelector{Name: "X-Folded"}, "one two\n", true},
		{HeaderSelector{Name: "X-Folded", Raw: true}, " one\n  two\n", true},
		{HeaderSelector{Name: "From", Addr: true}, "Ann@Example.COM", true},
		{HeaderSelector{Name: "From", DisplayName: true}, "Ann Other", true},
		{HeaderSelector{Name: "From", Host: true}, "example.com", true},
		{HeaderSelector{Name: "ToCc"}, "a@x.example\n\"B\" <b@x.example>\n", true},
		{HeaderSelector{Name: "MESSAGEID"}, "<1@x>\n<2@x>\n", true},
		{HeaderSelector{Name: "EnvelopeFrom"}, "bounce@sender.example\n", true},
		{HeaderSelector{Name: "X-Missing"}, "", false},
	} {
		got, ok := st.getHeader(c.sel)
		if got != c.want || ok != c.ok {
			t.Errorf("%+v = %q, %v; want %q, %v", c.sel, got, ok, c.want, c.ok)
		}
	}
}

func TestFirstAddress(t *testing.T) {
	// SpamAssassin's documented :addr and :name cases.
	for in, want := range map[string][2]string{
		"example@foo":                                    {"example@foo", ""},
		"example@foo (Foo Blah)":                         {"example@foo", "Foo Blah"},
		"example@foo, example@bar":                       {"example@foo", ""},
		"display: example@foo (Foo Blah), example@bar ;": {"example@foo", "Foo Blah"},
		"Foo Blah <example@foo>":                         {"example@foo", "Foo Blah"},
		"\"Foo Blah\" <example@foo>":                     {"example@foo", "Foo Blah"},
		"\"'Foo Blah'\" <example@foo>":                   {"example@foo", "Foo Blah"},
		"<@relay.example:user@host>":                     {"user@host", ""},
		"":                                               {"", ""},
	} {
		a, n := firstAddress(in)
		if a != want[0] || n != want[1] {
			t.Errorf("firstAddress(%q) = %q, %q; want %q, %q", in, a, n, want[0], want[1])
		}
	}
}

func TestParseMailDate(t *testing.T) {
	for in, want := range map[string]string{
		"Thu, 22 Aug 2002 08:17:21 -0400 (EDT)": "2002-08-22T12:17:21Z",
		"22 Aug 2002 13:09:41 +0100":            "2002-08-22T12:09:41Z",
		"Mon, 1 Jan 24 10:00 GMT":               "2024-01-01T10:00:00Z",
		"Sat Aug 24 09:42:10 2002":              "2002-08-24T09:42:10Z",
		"Fri, 19 Jul 02 17:29:18 EST":           "2002-07-19T22:29:18Z",
	} {
		got, ok := parseMailDate(in)
		if !ok || got.Format("2006-01-02T15:04:05Z07:00") != want {
			t.Errorf("parseMailDate(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "32 Jan 2002 10:00:00", "1 Foo 2002 10:00:00"} {
		if _, ok := parseMailDate(bad); ok {
			t.Errorf("parseMailDate(%q) accepted", bad)
		}
	}
}
