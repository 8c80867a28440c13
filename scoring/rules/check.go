package rules

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mailrep/mailrep/scoring/message"
)

// Overrides are one account's changes to the ruleset (from configuration).
type Overrides struct {
	// Disabled rules never hit for the account.
	Disabled []string `json:"disabled,omitempty"`
	// Scores replace rule scores.
	Scores map[string]float64 `json:"scores,omitempty"`
	// Threshold replaces the ruleset's threshold when above zero.
	Threshold float64 `json:"threshold,omitempty"`
	// AllowRecipients are addresses (or *@domain globs) that never count
	// against the account: mail addressed only to them — abuse desks,
	// feedback loops, the account's own monitoring — is never judged
	// spam, and they are not counted by the recipient context rules.
	AllowRecipients []string `json:"allow_recipients,omitempty"`
}

type compiledOverrides struct {
	disabled  map[string]bool
	scores    map[string]float64
	threshold float64
	allow     *globList
}

func compileOverrides(o *Overrides) *compiledOverrides {
	c := &compiledOverrides{disabled: map[string]bool{}, scores: map[string]float64{}, allow: newGlobList(false)}
	if o == nil {
		return c
	}
	for _, d := range o.Disabled {
		c.disabled[d] = true
	}
	for k, v := range o.Scores {
		c.scores[k] = v
	}
	c.threshold = o.Threshold
	for _, a := range o.AllowRecipients {
		c.allow.add(strings.ToLower(strings.Trim(a, "<> ")))
	}
	return c
}

// allowed reports whether a recipient is allow-listed.
func (c *compiledOverrides) allowed(rcpt string) bool {
	return c.allow.match(strings.ToLower(strings.Trim(rcpt, "<> ")))
}

// Options change one Check.
type Options struct {
	// Overrides are the account's overrides; nil for none.
	Overrides *Overrides
}

// Hit is one rule that hit.
type Hit struct {
	Name        string  `json:"name"`
	Score       float64 `json:"score"`
	Description string  `json:"description"`
	// Area is where the hit came from: header, body, uri, rawbody,
	// full, meta, eval, context or limit.
	Area Area `json:"area"`
	// Where is the header name or a short snippet of what matched.
	Where string `json:"where,omitempty"`
}

// Verdict is the explained result of checking one message.
type Verdict struct {
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Spam      bool    `json:"spam"`
	// Hits are the scored rules that hit (not __ sub-rules), highest
	// score first.
	Hits []Hit `json:"rules"`
	// LimitsHit names the message limits hit while parsing and the
	// checks cut short (regex time bounds, the context ending).
	LimitsHit []string `json:"limits_hit"`
	// AllowListed reports that every envelope recipient was
	// allow-listed: the message is never judged spam.
	AllowListed bool `json:"allow_listed,omitempty"`
}

// Names returns the names of the rules hit, in Hits order.
func (v *Verdict) Names() []string {
	out := make([]string, len(v.Hits))
	for i, h := range v.Hits {
		out[i] = h.Name
	}
	return out
}

// Limit rules: a message limit hit while parsing is a rule hit of its own.
var limitRules = map[string]struct {
	name, desc string
	score      float64
}{
	message.LimitSize:      {"MAILREP_LIMIT_SIZE", "Message larger than the size limit (rest not scanned)", 1},
	message.LimitParts:     {"MAILREP_LIMIT_PARTS", "More MIME parts than the limit (rest not scanned)", 2},
	message.LimitDepth:     {"MAILREP_LIMIT_DEPTH", "MIME parts nested deeper than the limit", 2},
	message.LimitHeaders:   {"MAILREP_LIMIT_HEADERS", "More header fields than the limit", 2},
	message.LimitHeaderLen: {"MAILREP_LIMIT_HEADER_LEN", "A header field longer than the limit", 2},
	message.LimitBudget:    {"MAILREP_LIMIT_BUDGET", "Message analysis ran out of time", 2},
	message.LimitText:      {"MAILREP_LIMIT_TEXT", "More body text than the limit (rest not scanned)", 0.5},
}

// budgetLimit names the check being cut short by the context.
const budgetLimit = "check_budget"

// Check runs the ruleset on a parsed message and explains the result.
// It never fails: a rule that cannot finish (a backtracking match past its
// time bound, the context ending) counts as not hit and is named in
// LimitsHit.
func (rs *Ruleset) Check(ctx context.Context, m *message.Message, opts *Options) *Verdict {
	v, _ := rs.check(ctx, m, opts)
	return v
}

// check is Check, also returning the evaluation state (for tests that
// look at sub-rules).
func (rs *Ruleset) check(ctx context.Context, m *message.Message, opts *Options) (*Verdict, *msgState) {
	if opts == nil {
		opts = &Options{}
	}
	st := &msgState{
		ctx:    ctx,
		rs:     rs,
		msg:    m,
		over:   compileOverrides(opts.Overrides),
		values: make([]float64, len(rs.Rules)),
		where:  make([]string, len(rs.Rules)),
		tags:   map[string]string{},
		start:  time.Now(),
	}
	v := &Verdict{Threshold: rs.Threshold, LimitsHit: []string{}, Hits: []Hit{}}
	if st.over.threshold > 0 {
		v.Threshold = st.over.threshold
	}
	v.LimitsHit = append(v.LimitsHit, m.Limits...)

	cand := rs.pre.candidates(st)
	cut := false
	for i, r := range rs.order {
		if i%64 == 0 && ctx.Err() != nil {
			cut = true
			break
		}
		if st.over.disabled[r.Name] {
			continue
		}
		if r.Pattern != nil && !cand.possible(r) {
			continue
		}
		val, where := st.run(r)
		st.values[r.index] = val
		if val != 0 {
			st.where[r.index] = where
		}
	}
	if cut {
		v.LimitsHit = append(v.LimitsHit, budgetLimit)
	}
	for _, name := range st.timeouts {
		v.LimitsHit = append(v.LimitsHit, "regex_time:"+name)
	}

	for _, r := range rs.Rules {
		val := st.values[r.index]
		if val == 0 || r.IsSubrule() {
			continue
		}
		score := r.Score
		if s, ok := st.over.scores[r.Name]; ok {
			score = s
		}
		if score == 0 {
			continue
		}
		v.Hits = append(v.Hits, Hit{Name: r.Name, Score: score, Description: r.Description, Area: r.area(), Where: st.where[r.index]})
	}
	for _, l := range m.Limits {
		lr, ok := limitRules[l]
		if !ok || st.over.disabled[lr.name] {
			continue
		}
		score := lr.score
		if s, ok := st.over.scores[lr.name]; ok {
			score = s
		}
		v.Hits = append(v.Hits, Hit{Name: lr.name, Score: score, Description: lr.desc, Area: AreaLimit, Where: l})
	}
	for _, h := range st.contextHits() {
		if st.over.disabled[h.Name] {
			continue
		}
		if s, ok := st.over.scores[h.Name]; ok {
			h.Score = s
		}
		if h.Score != 0 {
			v.Hits = append(v.Hits, h)
		}
	}
	sort.SliceStable(v.Hits, func(i, j int) bool {
		if v.Hits[i].Score != v.Hits[j].Score {
			return v.Hits[i].Score > v.Hits[j].Score
		}
		return v.Hits[i].Name < v.Hits[j].Name
	})
	for _, h := range v.Hits {
		v.Score += h.Score
	}
	// SpamAssassin reports scores to three decimals; summing floats
	// must not turn 5.0 into 4.999999.
	v.Score = math.Round(v.Score*1000) / 1000
	v.AllowListed = st.allRecipientsAllowed()
	v.Spam = v.Score >= v.Threshold && !v.AllowListed
	return v, st
}

// allRecipientsAllowed reports whether the message has envelope
// recipients and every one is allow-listed.
func (m *msgState) allRecipientsAllowed() bool {
	rc := m.msg.Context.Recipients
	if len(rc) == 0 || m.over.allow.empty() {
		return false
	}
	for _, r := range rc {
		if !m.over.allowed(r) {
			return false
		}
	}
	return true
}

// run evaluates one rule.
func (m *msgState) run(r *Rule) (float64, string) {
	switch {
	case r.Meta != nil:
		return r.Meta.eval(m.values), ""
	case r.evalFn != nil:
		return r.evalFn(m)
	case r.Pattern != nil:
		re := r.Pattern
		if re.template {
			var ok bool
			re, ok = m.fillTemplate(r)
			if !ok {
				return 0, ""
			}
		}
		return m.runPattern(r, re)
	case r.Kind == KindHeader && r.Header.Exists:
		if _, ok := m.getHeader(HeaderSelector{Name: r.Header.Name}); ok {
			return 1, r.Header.Name
		}
	}
	return 0, ""
}

// limitFor returns the maximum count for a rule: 1 unless tflags multiple.
func limitFor(r *Rule) int {
	if !r.TFlags.Multiple {
		return 1
	}
	return r.TFlags.MaxHits
}

// runPattern matches a pattern rule against its texts.
func (m *msgState) runPattern(r *Rule, re *Regexp) (float64, string) {
	max := limitFor(r)
	switch r.Kind {
	case KindHeader:
		val, ok := m.getHeader(r.Header)
		if !ok && r.Header.HasIfUnset {
			val = r.Header.IfUnset
		}
		t := m.headerText(r.Header, val)
		if r.Negate {
			hit, err := re.match(t)
			if err != nil {
				m.timeout(r)
				return 0, ""
			}
			if hit {
				return 0, ""
			}
			return 1, r.Header.Name
		}
		return m.countIn(r, re, []*text{t}, max, r.Header.Name)
	case KindMIMEHeader:
		return m.countIn(r, re, m.mimeHeaderTexts(r), max, r.Header.Name)
	case KindBody:
		lines := m.bodyTexts()
		if r.TFlags.NoSubject && len(lines) > 0 {
			lines = lines[1:]
		}
		return m.countIn(r, re, lines, max, "")
	case KindRawbody:
		return m.countIn(r, re, m.rawTexts(), max, "")
	case KindURI:
		return m.countIn(r, re, m.uris(), max, "")
	case KindFull:
		return m.countIn(r, re, []*text{m.full()}, max, "")
	}
	return 0, ""
}

// headerText caches the text of a header selector's value.
func (m *msgState) headerText(sel HeaderSelector, val string) *text {
	if m.headerCache == nil {
		m.headerCache = map[HeaderSelector]*text{}
	}
	if t, ok := m.headerCache[sel]; ok && t.raw == val {
		return t
	}
	t := newText(val)
	m.headerCache[sel] = t
	return t
}

// countIn counts matches of re over texts (max ≤ 0: no cap; 1: stop at
// the first). where names a header, or is empty for a snippet.
func (m *msgState) countIn(r *Rule, re *Regexp, texts []*text, max int, where string) (float64, string) {
	n := 0
	first := -1
	for i, t := range texts {
		var c int
		var err error
		if max == 1 {
			var ok bool
			ok, err = re.match(t)
			if ok {
				c = 1
			}
		} else {
			left := 0
			if max > 0 {
				left = max - n
			}
			c, err = re.count(t, left)
		}
		if err != nil {
			m.timeout(r)
		}
		if c > 0 && first < 0 {
			first = i
		}
		n += c
		if max > 0 && n >= max {
			break
		}
	}
	if n == 0 {
		return 0, ""
	}
	if re.captures() {
		m.setTags(re, texts[first])
	}
	if where == "" {
		where = snippet(re.find(texts[first]))
	}
	return float64(n), where
}

func (m *msgState) timeout(r *Rule) {
	for _, n := range m.timeouts {
		if n == r.Name {
			return
		}
	}
	m.timeouts = append(m.timeouts, r.Name)
}

// snippet shortens a matched text for a hit's Where field.
func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 60
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// setTags records the capture tags (named groups) of re's first match in t.
func (m *msgState) setTags(re *Regexp, t *text) {
	for name, val := range re.submatches(t) {
		if _, ok := m.tags[name]; !ok {
			m.tags[name] = val
		}
	}
}

// templateCache holds capture-template patterns compiled for tag values
// seen, shared by all checks (bounded).
var templateCache = struct {
	sync.Mutex
	m map[string]*Regexp
}{m: map[string]*Regexp{}}

const templateCacheMax = 4096

// fillTemplate compiles a capture-template rule for this message's tags;
// false if a tag it needs is not set (SpamAssassin then skips the rule).
func (m *msgState) fillTemplate(r *Rule) (*Regexp, bool) {
	for _, tag := range templateTags(r.Pattern.Source) {
		if _, ok := m.tags[tag]; !ok {
			return nil, false
		}
	}
	src := fillTemplate(r.Pattern.Source, m.tags)
	templateCache.Lock()
	re, ok := templateCache.m[src]
	templateCache.Unlock()
	if ok {
		return re, re != nil
	}
	re, err := CompileRegex(src)
	if err != nil {
		re = nil
	}
	templateCache.Lock()
	if len(templateCache.m) >= templateCacheMax {
		templateCache.m = map[string]*Regexp{}
	}
	templateCache.m[src] = re
	templateCache.Unlock()
	return re, re != nil
}
