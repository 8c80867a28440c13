package rescore

import (
	"cmp"
	"math"
	"slices"
)

// Report is the outcome of rescoring a set of logged results, per account
// ("mailrep rescore --format json").
type Report struct {
	Messages int              `json:"messages"`
	Accounts []*AccountReport `json:"accounts"`
}

// AccountReport is one account's rescoring: how many of its messages the
// filter called spam, how many rescoring calls spam, how many change
// verdict each way, and the rules that fired on its messages.
type AccountReport struct {
	Account    string `json:"account"`
	Messages   int    `json:"messages"`
	SpamBefore int    `json:"spam_before"`
	SpamAfter  int    `json:"spam_after"`
	ToSpam     int    `json:"to_spam"`
	ToHam      int    `json:"to_ham"`
	// Rules are ordered by how much they drive the changes of verdict
	// (the sum of their score changes on messages that changed), then by
	// how much their score changed at all, then by hits.
	Rules []*RuleReport `json:"rules"`
}

// RuleReport is one rule on one account's messages: how many messages it
// fired on, and its mean score per hit before and after rescoring.
type RuleReport struct {
	Name        string  `json:"name"`
	Hits        int     `json:"hits"`
	ScoreBefore float64 `json:"score_before"`
	ScoreAfter  float64 `json:"score_after"`
	// Changes is how many of the messages that changed verdict the rule
	// fired on with a changed score.
	Changes int `json:"-"`
	// Drive is the sum of the rule's score changes (absolute) over
	// messages that changed verdict.
	Drive float64 `json:"-"`

	shift, sumBefore, sumAfter float64
}

// Collector accumulates verdicts into a Report. The zero value is ready.
type Collector struct {
	messages int
	accounts map[string]*accountAcc
}

type accountAcc struct {
	rep   AccountReport
	rules map[string]*RuleReport
}

// Add counts one verdict for account.
func (c *Collector) Add(account string, v *Verdict) {
	if c.accounts == nil {
		c.accounts = make(map[string]*accountAcc)
	}
	a := c.accounts[account]
	if a == nil {
		a = &accountAcc{rep: AccountReport{Account: account}, rules: make(map[string]*RuleReport)}
		c.accounts[account] = a
	}
	c.messages++
	r := &a.rep
	r.Messages++
	if v.SpamBefore {
		r.SpamBefore++
	}
	if v.SpamAfter {
		r.SpamAfter++
	}
	switch {
	case v.SpamAfter && !v.SpamBefore:
		r.ToSpam++
	case v.SpamBefore && !v.SpamAfter:
		r.ToHam++
	}
	for i := range v.Rules {
		h := &v.Rules[i]
		rr := a.rules[h.Name]
		if rr == nil {
			rr = &RuleReport{Name: h.Name}
			a.rules[h.Name] = rr
		}
		rr.Hits++
		rr.sumBefore += h.Before
		rr.sumAfter += h.After
		d := math.Abs(h.After - h.Before)
		rr.shift += d
		if v.Changed() && d > 0 {
			rr.Changes++
			rr.Drive += d
		}
	}
}

// Report returns what was collected: accounts with the most changes of
// verdict first (then the most messages, then by name).
func (c *Collector) Report() *Report {
	rep := &Report{Messages: c.messages, Accounts: []*AccountReport{}}
	for _, a := range c.accounts {
		ar := a.rep
		ar.Rules = make([]*RuleReport, 0, len(a.rules))
		for _, rr := range a.rules {
			r := *rr
			r.ScoreBefore = round3(r.sumBefore / float64(r.Hits))
			r.ScoreAfter = round3(r.sumAfter / float64(r.Hits))
			r.Drive = round3(r.Drive)
			ar.Rules = append(ar.Rules, &r)
		}
		slices.SortFunc(ar.Rules, func(x, y *RuleReport) int {
			return cmp.Or(
				cmp.Compare(y.Drive, x.Drive),
				cmp.Compare(y.shift, x.shift),
				cmp.Compare(y.Hits, x.Hits),
				cmp.Compare(x.Name, y.Name))
		})
		rep.Accounts = append(rep.Accounts, &ar)
	}
	slices.SortFunc(rep.Accounts, func(x, y *AccountReport) int {
		return cmp.Or(
			cmp.Compare(y.ToSpam+y.ToHam, x.ToSpam+x.ToHam),
			cmp.Compare(y.Messages, x.Messages),
			cmp.Compare(x.Account, y.Account))
	})
	return rep
}
