package rescore

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/ingest"
)

func hits(names ...string) []ingest.RuleHit {
	h := make([]ingest.RuleHit, len(names))
	for i, n := range names {
		h[i].Name = n
	}
	return h
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

var stock = Table{"RDNS_NONE": 2.399, "HTML_MESSAGE": 0.001, "MIME_HTML_ONLY": 0.723, "FREEMAIL_FROM": 0.001,
	"HELO_NO_DOMAIN": 0.001, "MAILING_LIST_MULTI": -1, "HEADER_FROM_DIFFERENT_DOMAINS": 1, "PRICE_RULE": 2.5, "AWL": 0}

// spamd logs names only: the table scores them, and with the filter's own
// table the sum is the logged score.
func TestRescoreNamesOnly(t *testing.T) {
	l := Logged{Score: 5.6, Threshold: 5, ThresholdKnown: true, Spam: true,
		Rules: hits("HTML_MESSAGE", "MIME_HTML_ONLY", "PRICE_RULE", "RDNS_NONE")}
	v := Rescore(l, stock, nil)
	if !near(v.After, 5.623) || !v.SpamBefore || !v.SpamAfter || v.Changed() || !near(v.Unexplained, -0.023) {
		t.Errorf("unchanged: %+v", v)
	}
	// "What if we lower PRICE_RULE to 0.5 for this account?"
	v = Rescore(l, stock, &Override{Scores: map[string]float64{"PRICE_RULE": 0.5}})
	if !near(v.After, 3.623) || v.SpamAfter || !v.Changed() {
		t.Errorf("lowered: %+v", v)
	}
	if r := v.Rules[2]; r.Name != "PRICE_RULE" || r.Before != 2.5 || r.After != 0.5 || r.Estimated {
		t.Errorf("rule: %+v", r)
	}
	// Disabled wins over Scores; a threshold override judges After only.
	v = Rescore(l, stock, &Override{Disabled: []string{"RDNS_NONE"}, Scores: map[string]float64{"RDNS_NONE": 9}, Threshold: 3})
	if !near(v.After, 3.224) || !v.SpamAfter || v.Threshold != 5 || v.ThresholdAfter != 3 {
		t.Errorf("disabled + threshold: %+v", v)
	}
}

// Rules the table cannot score (unknown, AWL) share what it does not
// explain, so they keep the filter's score and an unchanged table leaves
// the score unchanged.
func TestRescoreUnknownRules(t *testing.T) {
	l := Logged{Score: 4.9, Threshold: 5, ThresholdKnown: true,
		Rules: hits("RDNS_NONE", "LOCAL_CUSTOM", "AWL")}
	v := Rescore(l, stock, nil)
	if !near(v.After, 4.9) || v.SpamAfter || !near(v.Unexplained, 2.501) {
		t.Fatalf("%+v", v)
	}
	for _, r := range v.Rules[1:] {
		if !r.Estimated || !near(r.Before, 1.2505) || r.Before != r.After {
			t.Errorf("%+v", r)
		}
	}
	v = Rescore(l, stock, &Override{Scores: map[string]float64{"LOCAL_CUSTOM": 0.2505 + 1}})
	if !near(v.After, 4.9) {
		t.Errorf("override of an estimated rule: %+v", v)
	}
	v = Rescore(l, stock, &Override{Disabled: []string{"LOCAL_CUSTOM"}})
	if !near(v.After, 3.65) {
		t.Errorf("disabled estimated rule: %+v", v)
	}
}

// Logs with per-rule scores keep them; a partial rule list (cPanel's report
// is free text) keeps the rest of the logged score.
func TestRescoreLoggedScores(t *testing.T) {
	l := Logged{Score: 12.5, Spam: true, RuleScores: true,
		Rules: []ingest.RuleHit{{Name: "URIBL_BLACK", Score: 7.5}, {Name: "HTML_MESSAGE", Score: 0.001}, {Name: "RDNS_NONE", Score: 1.274}}}
	v := Rescore(l, stock, nil) // the table's RDNS_NONE (set 0) is not applied
	if v.After != 12.5 || !v.SpamAfter || !near(v.Unexplained, 3.725) || v.Threshold != DefaultThreshold {
		t.Errorf("%+v", v)
	}
	v = Rescore(l, stock, &Override{Scores: map[string]float64{"URIBL_BLACK": 0}})
	if v.After != 5 || !v.SpamAfter {
		t.Errorf("URIBL_BLACK 0: %+v", v)
	}
	v = Rescore(l, stock, &Override{Scores: map[string]float64{"URIBL_BLACK": 0, "RDNS_NONE": 0}})
	if v.After != 3.726 || v.SpamAfter {
		t.Errorf("two rules 0: %+v", v)
	}
}

// Without a logged threshold, DefaultThreshold is moved to agree with the
// logged verdict, so an unchanged score never changes verdict.
func TestThresholdUnknown(t *testing.T) {
	for _, tc := range []struct {
		score float64
		spam  bool
		want  float64
	}{
		{12.5, true, 5}, {3, true, 3}, {-1, false, 5}, {7, false, math.Nextafter(7, 8)},
	} {
		v := Rescore(Logged{Score: tc.score, Spam: tc.spam, RuleScores: true}, nil, nil)
		if v.Threshold != tc.want || v.SpamAfter != tc.spam {
			t.Errorf("%v %v: threshold %v spam after %v", tc.score, tc.spam, v.Threshold, v.SpamAfter)
		}
	}
}

func TestFromEvent(t *testing.T) {
	ev := ingest.Event{Kind: ingest.KindScored, Source: ingest.SourceRspamd, Score: 8.2, Threshold: 15, Spam: true,
		Rules: []ingest.RuleHit{{Name: "BAYES_SPAM", Score: 5}}}
	l, ok := FromEvent(&ev)
	if !ok || l.Spam || !l.ThresholdKnown || !l.RuleScores {
		t.Errorf("rspamd add header: %+v", l)
	}
	ev = ingest.Event{Kind: ingest.KindScored, Source: ingest.SourceSpamd, Score: 7.4, Threshold: 5, Spam: true, RulesUnscored: true}
	if l, ok = FromEvent(&ev); !ok || !l.Spam || l.RuleScores || l.Threshold != 5 {
		t.Errorf("spamd: %+v", l)
	}
	ev = ingest.Event{Kind: ingest.KindFiltered, Source: ingest.SourceCPanel, Score: 12.5, Spam: true}
	if l, ok = FromEvent(&ev); !ok || l.ThresholdKnown || !l.Spam {
		t.Errorf("cpanel: %+v", l)
	}
	if _, ok = FromEvent(&ingest.Event{Kind: ingest.KindDelivered}); ok {
		t.Error("delivery taken as a filter result")
	}
}

func TestRescorerMergesOverrides(t *testing.T) {
	r := Rescorer{
		Table:  stock,
		Scores: Table{"PRICE_RULE": 1, "RDNS_NONE": 0},
		Overrides: map[string]Override{
			"shop": {Scores: map[string]float64{"PRICE_RULE": 0.5}, Disabled: []string{"MIME_HTML_ONLY"}, Threshold: 6},
		},
	}
	l := Logged{Score: 5.6, Threshold: 5, ThresholdKnown: true, Spam: true,
		Rules: hits("HTML_MESSAGE", "MIME_HTML_ONLY", "PRICE_RULE", "RDNS_NONE")}
	if v := r.Rescore("other", l); !near(v.After, 1.724) || v.ThresholdAfter != 5 {
		t.Errorf("global scores: %+v", v)
	}
	if v := r.Rescore("shop", l); !near(v.After, 0.501) || v.ThresholdAfter != 6 {
		t.Errorf("account over global: %+v", v)
	}
	plain := Rescorer{Table: stock}
	if v := plain.Rescore("x", l); !near(v.After, 5.623) {
		t.Errorf("no overrides: %+v", v)
	}
}

func TestCollector(t *testing.T) {
	r := Rescorer{Table: stock, Scores: Table{"PRICE_RULE": 0.5}}
	var c Collector
	add := func(account string, score float64, spam bool, rules ...string) {
		v := r.Rescore(account, Logged{Score: score, Threshold: 5, ThresholdKnown: true, Spam: spam, Rules: hits(rules...)})
		c.Add(account, &v)
	}
	add("shop", 5.623, true, "HTML_MESSAGE", "MIME_HTML_ONLY", "PRICE_RULE", "RDNS_NONE")     // → ham
	add("shop", 7.5, true, "PRICE_RULE", "RDNS_NONE", "RDNS_NONE", "MIME_HTML_ONLY")          // stays spam
	add("shop", 0.001, false, "HTML_MESSAGE")                                                 // stays ham
	add("blog", 2.399, false, "RDNS_NONE")                                                    // stays ham
	add("blog", 2.9, false, "MAILING_LIST_MULTI", "RDNS_NONE", "PRICE_RULE", "FREEMAIL_FROM") // stays ham
	add("anon", 6, true, "RDNS_NONE", "PRICE_RULE", "HEADER_FROM_DIFFERENT_DOMAINS")          // stays spam
	rep := c.Report()
	if rep.Messages != 6 || len(rep.Accounts) != 3 {
		t.Fatalf("%+v", rep)
	}
	shop := rep.Accounts[0]
	if shop.Account != "shop" || shop.Messages != 3 || shop.SpamBefore != 2 || shop.SpamAfter != 1 || shop.ToHam != 1 || shop.ToSpam != 0 {
		t.Errorf("shop: %+v", shop)
	}
	if rep.Accounts[1].Account != "anon" || rep.Accounts[2].Account != "blog" {
		t.Errorf("account order: %s, %s", rep.Accounts[1].Account, rep.Accounts[2].Account)
	}
	first := shop.Rules[0]
	if first.Name != "PRICE_RULE" || first.Hits != 2 || first.ScoreBefore != 2.5 || first.ScoreAfter != 0.5 || first.Changes != 1 || first.Drive != 2 {
		t.Errorf("driving rule: %+v", first)
	}
	if shop.Rules[1].Name != "RDNS_NONE" || shop.Rules[1].Hits != 3 {
		t.Errorf("second rule: %+v", shop.Rules[1])
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"messages":6`, `"accounts":[`, `"account":"shop"`, `"spam_before":2`, `"spam_after":1`,
		`"to_spam":0`, `"to_ham":1`, `"rules":[{"name":"PRICE_RULE","hits":2,"score_before":2.5,"score_after":0.5}`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	if empty, _ := json.Marshal((&Collector{}).Report()); string(empty) != `{"messages":0,"accounts":[]}` {
		t.Errorf("empty report: %s", empty)
	}
}

func BenchmarkRescore(b *testing.B) {
	r := Rescorer{Table: stock, Scores: Table{"PRICE_RULE": 0.5}}
	l := Logged{Score: 5.6, Threshold: 5, ThresholdKnown: true, Spam: true,
		Rules: hits("HTML_MESSAGE", "MIME_HTML_ONLY", "PRICE_RULE", "RDNS_NONE", "FREEMAIL_FROM", "HELO_NO_DOMAIN", "AWL")}
	var c Collector
	b.ReportAllocs()
	for b.Loop() {
		v := r.Rescore("shop", l)
		c.Add("shop", &v)
	}
}
