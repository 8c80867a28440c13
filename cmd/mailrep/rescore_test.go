package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/internal/corpus"
	"github.com/mailrep/mailrep/internal/testenv"
	"github.com/mailrep/mailrep/scoring/rescore"
)

// rescoreNoConfig makes "mailrep rescore" run with the built-in defaults.
func rescoreNoConfig(t *testing.T) {
	t.Helper()
	t.Setenv("MAILREP_CONFIG", "")
	if _, err := os.Stat(systemConfig); err == nil {
		t.Skipf("%s exists and would be read", systemConfig)
	}
}

func runRescore(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"rescore"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// rescoreJSON decodes the JSON report, checking that its objects have
// exactly the documented keys.
func rescoreJSON(t *testing.T, out string) *rescore.Report {
	t.Helper()
	var generic struct {
		Top      map[string]json.RawMessage
		Accounts []map[string]json.RawMessage `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(out), &generic.Top); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(out), &generic); err != nil {
		t.Fatal(err)
	}
	checkKeys(t, "report", generic.Top, "messages", "accounts")
	for _, a := range generic.Accounts {
		checkKeys(t, "account", a, "account", "messages", "spam_before", "spam_after", "to_spam", "to_ham", "rules")
		var rules []map[string]json.RawMessage
		if err := json.Unmarshal(a["rules"], &rules); err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			checkKeys(t, "rule", r, "name", "hits", "score_before", "score_after")
		}
	}
	var rep rescore.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func checkKeys(t *testing.T, what string, m map[string]json.RawMessage, want ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s keys %v, want %v", what, got, want)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func account(rep *rescore.Report, name string) *rescore.AccountReport {
	for _, a := range rep.Accounts {
		if a.Account == name {
			return a
		}
	}
	return nil
}

// cPanel's outbound scanner logs per-rule scores: rescoring keeps them
// except where --scores names a rule, and attributes each result to the
// authenticated sender (DESIGN §11 lines).
func TestRescoreCPanel(t *testing.T) {
	rescoreNoConfig(t)
	log := writeTemp(t, "exim_mainlog", `2026-11-20 10:00:01 1r6Bwm-000000002h3-2n4V H=(laptop) [203.0.113.7]:52114 I=[198.51.100.2]:587 P=esmtpsa A=dovecot_login:info@shop.example F=<info@shop.example> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (URIBL domains: bad.example) (Spam score: 12.5) (Subject: Cheap, cheap) Spam report: URIBL_BLACK=7.5, HTML_MESSAGE=0.001, RDNS_NONE=1.274, CMAE Analysis: score 0" authenticated_id: info@shop.example account_owner: shopuser
2026-11-20 10:00:02 1r6Bwm-000000002h4-3n4V H=(laptop) [203.0.113.7]:52115 I=[198.51.100.2]:587 P=esmtpsa A=dovecot_login:info@shop.example F=<info@shop.example> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (Spam score: 7.2) (Subject: Offer) Spam report: PRICE_RULE=2.5, RDNS_NONE=1.274, HTML_MESSAGE=0.001" authenticated_id: info@shop.example account_owner: shopuser
2026-11-20 10:00:03 1dOyLV-000359-20 H=localhost (server.example) [127.0.0.1]:40312 Warning: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as NOT spam (-1.0)"
`)
	rules := t.TempDir() // an empty table: the log carries the scores
	scores := writeTemp(t, "lower.cf", "# what if\nscore URIBL_BLACK 0\nscore RDNS_NONE 0 0 1.274 1.274\n")
	code, out, errOut := runRescore(t, "--rules", rules, "--scores", scores, "--format", "json", log)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rep := rescoreJSON(t, out)
	if rep.Messages != 3 || len(rep.Accounts) != 2 {
		t.Fatalf("%+v", rep)
	}
	shop := account(rep, "info@shop.example")
	if shop == nil || rep.Accounts[0] != shop || shop.Messages != 2 || shop.SpamBefore != 2 || shop.SpamAfter != 1 || shop.ToHam != 1 || shop.ToSpam != 0 {
		t.Fatalf("shop: %+v", shop)
	}
	// URIBL_BLACK lost 7.5 on the message that changed, RDNS_NONE 1.274.
	if r := shop.Rules[0]; r.Name != "URIBL_BLACK" || r.Hits != 1 || r.ScoreBefore != 7.5 || r.ScoreAfter != 0 {
		t.Errorf("driving rule %+v", r)
	}
	if r := shop.Rules[1]; r.Name != "RDNS_NONE" || r.Hits != 2 || r.ScoreBefore != 1.274 || r.ScoreAfter != 0 {
		t.Errorf("second rule %+v", r)
	}
	if anon := account(rep, ""); anon == nil || anon.Messages != 1 || anon.SpamBefore != 0 || anon.SpamAfter != 0 {
		t.Errorf("NOT spam warning: %+v", anon)
	}
	code, out, _ = runRescore(t, "--rules", rules, "--scores", scores, log)
	if code != exitOK || !strings.Contains(out, "1 message(s) change verdict: 0 to spam, 1 to ham.") ||
		!regexp.MustCompile(`(?m)^\s+info@shop\.example\s+2\s+2\s+1\s+0\s+1\s*$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^  RDNS_NONE\s+2\s+1\.274\s+0\.000\s+1$`).MatchString(out) {
		t.Errorf("text output:\n%s", out)
	}
}

// rspamd lines from the corpus: "what if BAYES_SPAM scored 0".
func TestRescoreRspamdCorpus(t *testing.T) {
	rescoreNoConfig(t)
	log := filepath.Join(corpus.Dir(t, "logs/rspamd"), "rspamd-testsuite-logstats_test.SYNTHETIC.log")
	scores := writeTemp(t, "bayes.cf", "score BAYES_SPAM 0\n")
	code, out, errOut := runRescore(t, "--rules", t.TempDir(), "--scores", scores, "--format", "json", log)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rep := rescoreJSON(t, out)
	// Reject threshold 15: msg002 18.5 → 13.5 and msg010 16.0 → 11.0 fall
	// below it, msg005 22.0 → 17.0 stays.
	a := account(rep, "")
	if rep.Messages != 10 || a == nil || a.SpamBefore != 3 || a.SpamAfter != 1 || a.ToHam != 2 || a.ToSpam != 0 {
		t.Fatalf("%s", out)
	}
	if r := a.Rules[0]; r.Name != "BAYES_SPAM" || r.Hits != 6 || r.ScoreBefore != 5 || r.ScoreAfter != 0 {
		t.Errorf("driving rule %+v", r)
	}
}

// The committed spamd log, rescored with the stock table it was made with:
// nothing changes; with every rule zeroed every spam turns ham; with every
// rule at 5 every message with a hit turns spam.
func TestRescoreSpamdLog(t *testing.T) {
	rescoreNoConfig(t)
	testenv.NeedProgram(t, "spamassassin", "spamassassin")
	log := filepath.Join("..", "..", "testdata", "spamd", "spamd.log")
	code, out, errOut := runRescore(t, "--format", "json", log)
	if code != exitOK || strings.Contains(errOut, "warning") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rep := rescoreJSON(t, out)
	if rep.Messages != 40 || len(rep.Accounts) != 3 {
		t.Fatalf("%+v", rep)
	}
	for _, a := range rep.Accounts {
		if a.ToSpam != 0 || a.ToHam != 0 || a.SpamBefore != a.SpamAfter || a.SpamBefore == 0 {
			t.Errorf("stock table changed verdicts: %+v", a)
		}
	}

	// Every rule named in the log, and which messages hit any.
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	withHits := map[string]int{}
	for _, m := range regexp.MustCompile(`result: [Y.] +-?\d+ - (\S*) \S*user=(\w+)`).FindAllStringSubmatch(string(raw), -1) {
		if m[1] != "" {
			withHits[m[2]]++
		}
		for _, n := range strings.Split(m[1], ",") {
			if n != "" {
				names[n] = true
			}
		}
	}
	var zero, five strings.Builder
	for n := range names {
		zero.WriteString("score " + n + " 0\n")
		five.WriteString("score " + n + " 5\n")
	}
	code, out, errOut = runRescore(t, "--format", "json", "--scores", writeTemp(t, "zero.cf", zero.String()), log)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, a := range rescoreJSON(t, out).Accounts {
		if a.SpamAfter != 0 || a.ToHam != a.SpamBefore || a.ToSpam != 0 {
			t.Errorf("all rules 0: %+v", a)
		}
		for _, r := range a.Rules {
			if r.ScoreAfter != 0 || r.Hits == 0 {
				t.Errorf("all rules 0: %s: %+v", a.Account, r)
			}
		}
	}
	code, out, errOut = runRescore(t, "--format", "json", "--scores", writeTemp(t, "five.cf", five.String()), log)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, a := range rescoreJSON(t, out).Accounts {
		if a.SpamAfter != withHits[a.Account] || a.ToSpam != withHits[a.Account]-a.SpamBefore || a.ToHam != 0 {
			t.Errorf("all rules 5: %+v (%d messages with hits)", a, withHits[a.Account])
		}
	}
}

// A table unlike spamd's is reported: every message of the log is
// rescored with SpamAssassin's default score (1.0) for every rule.
func TestRescoreWarnsOnForeignTable(t *testing.T) {
	rescoreNoConfig(t)
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "only.cf"), []byte("body RDNS_NONE /x/\nscore BAD 1 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runRescore(t, "--rules", rules, filepath.Join("..", "..", "testdata", "spamd", "spamd.log"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"warning: " + filepath.Join(rules, "only.cf") + ":2: score BAD 1 2", "rule hit(s) of rules the score table does not know"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestRescoreUsage(t *testing.T) {
	rescoreNoConfig(t)
	empty := t.TempDir()
	log := writeTemp(t, "log", "Nov 20 09:00:04 mx1 spamd[1]: spamd: result: Y 9 - A scantime=0.2,size=1,user=bob,uid=1,required_score=5.0\n")
	badScores := writeTemp(t, "bad.cf", "score A 1\nscore B x\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rules", empty}, "no LOGFILE"},
		{[]string{"--rules", empty, "--format", "xml", log}, "--format must be text or json"},
		{[]string{"--rules", filepath.Join(empty, "missing"), log}, "no such file"},
		{[]string{"--rules", empty, "--scores", filepath.Join(empty, "missing.cf"), log}, "--scores"},
		{[]string{"--rules", empty, "--scores", badScores, log}, "bad.cf:2: score B x"},
		{[]string{"--rules", empty, filepath.Join(empty, "missing.log")}, "missing.log"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		code, _, errOut := runRescore(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	code, out, errOut := runRescore(t, "--rules", empty, log)
	if code != exitOK || !strings.Contains(out, "bob") || !strings.Contains(out, "1 filter results") {
		t.Errorf("exit %d:\n%s\n%s", code, out, errOut)
	}
}

// scoring.accounts in the configuration are per-account overrides:
// lowering URIBL_BLACK for one account changes only that account's
// verdicts; scoring.scores is the default of --scores.
func TestRescoreConfigOverrides(t *testing.T) {
	rescoreNoConfig(t)
	line := func(n int, user string) string {
		return fmt.Sprintf(`2026-11-20 10:00:0%d 1r6Bwm-00000000%dh3-2n4V H=(laptop) [203.0.113.7]:52114 I=[198.51.100.2]:587 P=esmtpsa A=dovecot_login:%s F=<%s> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (Spam score: 9.0) (Subject: Hi) Spam report: URIBL_BLACK=7.5, RDNS_NONE=1.5" authenticated_id: %s account_owner: x`+"\n", n, n, user, user, user)
	}
	log := writeTemp(t, "exim_mainlog", line(1, "a@shop.example")+line(2, "b@other.example"))
	scores := writeTemp(t, "site.cf", "score RDNS_NONE 2.5\n")
	cfg := writeTemp(t, "mailrep.yaml", fmt.Sprintf(`sources: [{path: /dev/null}]
rbl: {enabled: false}
scoring:
  rules: [%q]
  scores: [%q]
  accounts:
    a@shop.example:
      scores: {URIBL_BLACK: 1}
`, t.TempDir(), scores))
	code, out, errOut := runRescore(t, "-c", cfg, "--format", "json", log)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rep := rescoreJSON(t, out)
	// a: 1 + 2.5 = 3.5 < 5 → ham; b: 7.5 + 2.5 = 10 → still spam.
	if a := account(rep, "a@shop.example"); a == nil || a.ToHam != 1 || a.SpamAfter != 0 {
		t.Errorf("overridden account: %+v", a)
	}
	if b := account(rep, "b@other.example"); b == nil || b.ToHam != 0 || b.SpamAfter != 1 {
		t.Errorf("other account: %+v", b)
	}
}
