package scoring

import (
	"cmp"
	"slices"

	"github.com/mailrep/mailrep/ingest"
)

// Summary is the report of "mailrep replay" and of the daemon's
// /api/v1/summary: grand totals, then accounts, outbound IPs and sender
// domains, busiest first. Its JSON keys are a stable interface (README).
type Summary struct {
	Lines         ingest.LineStats `json:"lines"`
	Totals        Counters         `json:"totals"`
	Accounts      []AccountRow     `json:"accounts"`
	IPs           []IPRow          `json:"ips"`
	SenderDomains []DomainRow      `json:"sender_domains"`
	// Blocklists counts remote blocklist rejections per list, most first.
	Blocklists []ListRow `json:"blocklists"`
}

// AccountRow is one account's counters.
type AccountRow struct {
	Account string `json:"account"`
	Counters
}

// IPRow is one outbound IP's counters.
type IPRow struct {
	IP string `json:"ip"`
	Counters
}

// DomainRow is one sender domain's counters.
type DomainRow struct {
	Domain string `json:"domain"`
	Counters
}

// ListRow is the number of remote rejections naming one blocklist.
type ListRow struct {
	List       string `json:"list"`
	Rejections int64  `json:"rejections"`
}

// Activity is the sort key of summaries: everything that happened.
func (c *Counters) Activity() int64 {
	return c.Received + c.Delivered + c.Deferrals + c.Bounced + c.Rejected + c.Expired + c.Filtered + c.Scored + c.Hops
}

// fillRate sets SpamRate from Spam and Scored.
func (c *Counters) fillRate() {
	c.SpamRate = 0
	if c.Scored > 0 {
		c.SpamRate = float64(c.Spam) / float64(c.Scored)
	}
}

// Summarize builds a summary of t, keeping the top rows of each table
// (top <= 0 keeps all).
func Summarize(t *Tables, lines ingest.LineStats, top int) Summary {
	s := Summary{Lines: lines, Totals: t.Total}
	s.Totals.fillRate()
	s.Accounts = rows(t.Accounts, top, func(k string, c Counters) AccountRow { return AccountRow{k, c} })
	s.IPs = rows(t.IPs, top, func(k string, c Counters) IPRow { return IPRow{k, c} })
	s.SenderDomains = rows(t.Domains, top, func(k string, c Counters) DomainRow { return DomainRow{k, c} })
	s.Blocklists = []ListRow{}
	for k, v := range t.Total.Blocklists {
		s.Blocklists = append(s.Blocklists, ListRow{k, v})
	}
	slices.SortFunc(s.Blocklists, func(a, b ListRow) int {
		return cmp.Or(cmp.Compare(b.Rejections, a.Rejections), cmp.Compare(a.List, b.List))
	})
	if s.Totals.Blocklists == nil {
		s.Totals.Blocklists = map[string]int64{}
	}
	return s
}

func rows[R any](m map[string]*Counters, top int, mk func(string, Counters) R) []R {
	keys := make([]string, 0, len(m))
	for k, c := range m {
		if c.Activity() != 0 || c.Held != 0 || c.Discarded != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b].Activity(), m[a].Activity()), cmp.Compare(a, b))
	})
	if top > 0 && len(keys) > top {
		keys = keys[:top]
	}
	out := make([]R, 0, len(keys))
	for _, k := range keys {
		c := *m[k]
		c.fillRate()
		if c.Blocklists == nil {
			c.Blocklists = map[string]int64{}
		}
		out = append(out, mk(k, c))
	}
	return out
}
