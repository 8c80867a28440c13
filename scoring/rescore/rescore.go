// Package rescore answers "what if" for spam filters that already ran: it
// takes the rule hits a filter logged (spamd result lines, rspamd task
// lines, cPanel's outbound scanner), applies the operator's score table and
// per-account overrides, and reports per account how many messages change
// verdict and which rules drive the change (DESIGN §11).
//
// Before is always what the filter logged. After depends on what the log
// carries:
//
//   - Logs with per-rule scores (rspamd, cPanel "Spam report: RULE=score")
//     keep every rule's logged score unless an override names the rule:
//     After = logged score + the sum of the overrides' differences, so
//     whatever the log leaves out (rounding, rules not listed) stays as
//     the filter had it.
//   - Logs with rule names only (spamd, rspamd before per-symbol scores)
//     take each rule's score from the Table — the score table the filter ran
//     with, normally the stock SpamAssassin configuration — and After is
//     the sum of the (overridden) table scores, rounded to 0.001 as
//     SpamAssassin rounds. With the filter's own table this reproduces the
//     logged score exactly: that is the self-consistency the tests check
//     against a real spamd. Rules the table cannot score — missing from it,
//     or AWL/TXREP, whose score is computed per message — share the part of
//     the logged score the table does not explain (Verdict.Unexplained), so
//     they keep what the filter gave them.
//
// Scores are score set 0 (no Bayes, no network), see Table.
package rescore

import (
	"math"
	"slices"

	"github.com/mailrep/mailrep/ingest"
)

// DefaultThreshold is the spam threshold assumed for a filter that does
// not log its own (cPanel's scanner): SpamAssassin's required_score.
const DefaultThreshold = 5.0

// Logged is one result a spam filter logged.
type Logged struct {
	// Score is the message's score as logged (spamd: the exact score of
	// the "identified spam"/"clean message" line).
	Score float64
	// Threshold is the score from which the filter calls a message spam,
	// if ThresholdKnown.
	Threshold      float64
	ThresholdKnown bool
	// Spam is the filter's verdict.
	Spam bool
	// Rules are the rules that fired.
	Rules []ingest.RuleHit
	// RuleScores says Rules carry the filter's own per-rule scores.
	RuleScores bool
}

// FromEvent returns the filter result an event carries; ok is false for
// events that are not filter results (kinds other than scored/filtered).
//
// A zero Threshold counts as not logged. For rspamd, whose lines carry the
// reject threshold but call "add header" results spam too, the verdict is
// taken as "score reaches the logged threshold", so that before and after
// are judged alike; an Override.Threshold can ask about the add-header
// score instead.
func FromEvent(ev *ingest.Event) (l Logged, ok bool) {
	if ev.Kind != ingest.KindScored && ev.Kind != ingest.KindFiltered {
		return l, false
	}
	l = Logged{
		Score:          ev.Score,
		Threshold:      ev.Threshold,
		ThresholdKnown: ev.Threshold != 0,
		Spam:           ev.Spam,
		Rules:          ev.Rules,
		RuleScores:     !ev.RulesUnscored,
	}
	if ev.Source == ingest.SourceRspamd && l.ThresholdKnown {
		l.Spam = ev.Score >= ev.Threshold
	}
	return l, true
}

// Override is what an operator changes for one account (or for all, as
// with "mailrep rescore --scores").
type Override struct {
	// Disabled rules score 0.
	Disabled []string
	// Scores replace rules' scores.
	Scores map[string]float64
	// Threshold, if not 0, replaces the filter's threshold for the after
	// verdict.
	Threshold float64
}

func (o *Override) score(name string, before float64) float64 {
	if o == nil {
		return before
	}
	if slices.Contains(o.Disabled, name) {
		return 0
	}
	if s, ok := o.Scores[name]; ok {
		return s
	}
	return before
}

// Verdict is a logged result before and after rescoring.
type Verdict struct {
	Before, After             float64
	Threshold, ThresholdAfter float64
	SpamBefore, SpamAfter     bool
	// Rules are the rules that fired, in the order logged.
	Rules []RuleScore
	// Unexplained is the logged score minus the scores known for the rules
	// (from the log or the table): display rounding, per-message scores
	// (AWL), rules the log does not list, or — for spamd — a table unlike
	// the one spamd ran with.
	Unexplained float64
}

// Changed reports whether the verdict changed.
func (v *Verdict) Changed() bool { return v.SpamBefore != v.SpamAfter }

// RuleScore is one rule's score before and after rescoring.
type RuleScore struct {
	Name          string
	Before, After float64
	// Estimated marks a Before that is the rule's share of the score the
	// table does not explain (a rule missing from the table, AWL, TXREP).
	Estimated bool
}

// dynamic are SpamAssassin rules whose score is computed per message, so
// no table knows it.
var dynamic = map[string]bool{"AWL": true, "TXREP": true}

// Rescore applies table and ov to one logged result; see the package
// documentation for how Before and After are computed. ov may be nil.
func Rescore(l Logged, table Table, ov *Override) Verdict {
	v := Verdict{
		Before:     l.Score,
		SpamBefore: l.Spam,
		Threshold:  threshold(l),
		Rules:      make([]RuleScore, len(l.Rules)),
	}
	v.ThresholdAfter = v.Threshold
	if ov != nil && ov.Threshold != 0 {
		v.ThresholdAfter = ov.Threshold
	}
	known, unknown := 0.0, 0
	for i, h := range l.Rules {
		r := &v.Rules[i]
		r.Name = h.Name
		switch s, ok := table[h.Name]; {
		case l.RuleScores:
			r.Before = h.Score
		case ok && !dynamic[h.Name]:
			r.Before = s
		default:
			r.Estimated = true
			unknown++
			continue
		}
		known += r.Before
	}
	v.Unexplained = round3(l.Score - known)
	if unknown > 0 {
		share := v.Unexplained / float64(unknown)
		for i := range v.Rules {
			if v.Rules[i].Estimated {
				v.Rules[i].Before = share
			}
		}
	}
	delta := 0.0
	for i := range v.Rules {
		r := &v.Rules[i]
		r.After = ov.score(r.Name, r.Before)
		delta += r.After - r.Before
	}
	if l.RuleScores || unknown > 0 {
		v.After = round3(l.Score + delta)
	} else {
		v.After = round3(known + delta)
	}
	v.SpamAfter = v.After >= v.ThresholdAfter
	return v
}

// threshold returns the filter's threshold, or — when the log has none —
// DefaultThreshold moved just enough to agree with the logged verdict, so
// that an unchanged score keeps its verdict.
func threshold(l Logged) float64 {
	if l.ThresholdKnown {
		return l.Threshold
	}
	t := DefaultThreshold
	switch {
	case l.Spam && l.Score < t:
		t = l.Score
	case !l.Spam && l.Score >= t:
		t = math.Nextafter(l.Score, math.Inf(1))
	}
	return t
}

// round3 rounds to 0.001, as SpamAssassin rounds a message's score.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// Rescorer rescores results of many accounts: Table is the filter's score
// table, Scores overrides scores for every account (--scores), and
// Overrides holds per-account changes, which take precedence over Scores.
type Rescorer struct {
	Table     Table
	Scores    Table
	Overrides map[string]Override

	merged map[string]*Override
}

// Rescore rescores one result of account.
func (r *Rescorer) Rescore(account string, l Logged) Verdict {
	return Rescore(l, r.Table, r.override(account))
}

func (r *Rescorer) override(account string) *Override {
	if o, ok := r.merged[account]; ok {
		return o
	}
	acc, hasAcc := r.Overrides[account]
	var o *Override
	if len(r.Scores) > 0 || hasAcc {
		o = &Override{Disabled: acc.Disabled, Threshold: acc.Threshold,
			Scores: make(map[string]float64, len(r.Scores)+len(acc.Scores))}
		for k, s := range r.Scores {
			o.Scores[k] = s
		}
		for k, s := range acc.Scores {
			o.Scores[k] = s
		}
	}
	if r.merged == nil {
		r.merged = make(map[string]*Override)
	}
	r.merged[account] = o
	return o
}
