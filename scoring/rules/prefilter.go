package rules

import (
	"regexp/syntax"
	"sort"
	"strings"
	"unicode/utf8"
)

// The prefilter skips pattern rules that cannot match a message: for each
// rule it extracts literals one of which every match must contain (from
// the RE2 pattern, which is exact or a superset), and per message it checks
// which of those literals occur in the text of the rule's area, ASCII case
// folded. Most of the stock body rules are ruled out this way without
// running their regex, as SpamAssassin's sa-compile does.

// minLiteral is the shortest literal worth checking.
const minLiteral = 3

// maxLiterals caps the alternatives of one rule's literal set.
const maxLiterals = 24

type prefilter struct {
	// lits are the distinct literals, lower-cased.
	lits []string
	// rule index → literal indexes (nil: no prefilter, always run).
	ruleLits [][]int
	// area of each literal-bearing rule, by rule index.
	ruleArea []preArea
}

type preArea uint8

const (
	preNone preArea = iota
	preBody
	preRawbody
	preURI
	preFull
)

func areaOf(r *Rule) preArea {
	switch r.Kind {
	case KindBody:
		return preBody
	case KindRawbody:
		return preRawbody
	case KindURI:
		return preURI
	case KindFull:
		return preFull
	}
	return preNone
}

// buildPrefilter indexes the literals of the ruleset's pattern rules.
func buildPrefilter(rs *Ruleset) *prefilter {
	p := &prefilter{ruleLits: make([][]int, len(rs.Rules)), ruleArea: make([]preArea, len(rs.Rules))}
	index := map[string]int{}
	for _, r := range rs.Rules {
		area := areaOf(r)
		if area == preNone || r.Pattern == nil || r.Pattern.template || r.Negate {
			continue
		}
		lits := requiredLiterals(r.Pattern.Translation.Go)
		if lits == nil {
			continue
		}
		ids := make([]int, 0, len(lits))
		for _, l := range lits {
			id, ok := index[l]
			if !ok {
				id = len(p.lits)
				index[l] = id
				p.lits = append(p.lits, l)
			}
			ids = append(ids, id)
		}
		p.ruleLits[r.index] = ids
		p.ruleArea[r.index] = area
	}
	return p
}

// candidateSet answers, for one message, whether a rule can match.
type candidateSet struct {
	p     *prefilter
	st    *msgState
	texts [5]string
	built [5]bool
	// present caches literal presence per area: 0 unknown, 1 no, 2 yes.
	present [5][]uint8
}

func (p *prefilter) candidates(st *msgState) *candidateSet {
	return &candidateSet{p: p, st: st}
}

// possible reports whether rule r may match.
func (c *candidateSet) possible(r *Rule) bool {
	if c.p == nil || r.index >= len(c.p.ruleLits) {
		return true
	}
	ids := c.p.ruleLits[r.index]
	if ids == nil {
		return true
	}
	a := c.p.ruleArea[r.index]
	if !c.built[a] {
		c.built[a] = true
		c.texts[a] = foldASCII(c.areaText(a))
		c.present[a] = make([]uint8, len(c.p.lits))
	}
	pres := c.present[a]
	for _, id := range ids {
		switch pres[id] {
		case 2:
			return true
		case 1:
			continue
		}
		if strings.Contains(c.texts[a], c.p.lits[id]) {
			pres[id] = 2
			return true
		}
		pres[id] = 1
	}
	return false
}

// areaText is the text of an area in the byte-string view, all its pieces
// joined by newlines.
func (c *candidateSet) areaText(a preArea) string {
	var ts []*text
	switch a {
	case preBody:
		ts = c.st.bodyTexts()
	case preRawbody:
		ts = c.st.rawTexts()
	case preURI:
		ts = c.st.uris()
	case preFull:
		return c.st.full().s
	}
	n := 0
	for _, t := range ts {
		n += len(t.s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, t := range ts {
		b.WriteString(t.s)
		b.WriteByte('\n')
	}
	return b.String()
}

// foldASCII lower-cases ASCII letters only (the view's other characters
// are left alone, as the extracted literals are).
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// requiredLiterals returns strings one of which occurs (ASCII-folded) in
// every match of the RE2 pattern, or nil when there is no useful set.
func requiredLiterals(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	set, ok := literalSet(re, 0)
	if !ok || len(set) == 0 {
		return nil
	}
	for _, s := range set {
		if len(s) < minLiteral {
			return nil
		}
	}
	sort.Strings(set)
	return set
}

// litInfo is the literal knowledge about a sub-expression: ok with set when
// every match contains one of set (exact reports that every match is
// exactly one of set, so neighbours can be joined to it); !ok when nothing
// is known. zero marks a zero-width node.
type litInfo struct {
	set   []string
	exact bool
	ok    bool
	zero  bool
}

func literalSet(re *syntax.Regexp, depth int) ([]string, bool) {
	li := analyze(re, depth)
	return li.set, li.ok
}

func analyze(re *syntax.Regexp, depth int) litInfo {
	if depth > 100 {
		return litInfo{}
	}
	switch re.Op {
	case syntax.OpLiteral:
		var b strings.Builder
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && r >= utf8.RuneSelf {
				return litInfo{}
			}
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		}
		return litInfo{set: []string{b.String()}, exact: true, ok: true}
	case syntax.OpCharClass:
		var set []string
		seen := map[rune]bool{}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 8 {
				return litInfo{}
			}
			for r := lo; r <= hi; r++ {
				f := r
				if f >= 'A' && f <= 'Z' {
					f += 'a' - 'A'
				}
				if !seen[f] {
					seen[f] = true
					set = append(set, string(f))
				}
			}
		}
		if len(set) == 0 || len(set) > 8 {
			return litInfo{}
		}
		return litInfo{set: set, exact: true, ok: true}
	case syntax.OpCapture:
		return analyze(re.Sub[0], depth+1)
	case syntax.OpPlus:
		li := analyze(re.Sub[0], depth+1)
		li.exact = false
		return li
	case syntax.OpRepeat:
		if re.Min < 1 {
			return litInfo{}
		}
		li := analyze(re.Sub[0], depth+1)
		if re.Min != 1 || re.Max != 1 {
			li.exact = false
		}
		return li
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
		return litInfo{zero: true}
	case syntax.OpAlternate:
		var set []string
		exact := true
		for _, s := range re.Sub {
			li := analyze(s, depth+1)
			if !li.ok {
				return litInfo{}
			}
			exact = exact && li.exact
			set = append(set, li.set...)
			if len(set) > maxLiterals {
				return litInfo{}
			}
		}
		return litInfo{set: dedupe(set), exact: exact, ok: true}
	case syntax.OpConcat:
		return analyzeConcat(re.Sub, depth)
	}
	return litInfo{}
}

// analyzeConcat joins runs of exact neighbours into longer literals and
// keeps the best single requirement.
func analyzeConcat(subs []*syntax.Regexp, depth int) litInfo {
	best := litInfo{}
	var run []string // cross product of the current run of exact pieces
	inRun := false
	consider := func(li litInfo) {
		if !li.ok {
			return
		}
		if !best.ok || better(li.set, best.set) {
			best = litInfo{set: li.set, ok: true}
		}
	}
	for _, s := range subs {
		li := analyze(s, depth+1)
		if li.zero {
			continue
		}
		if !li.ok {
			if inRun {
				consider(litInfo{set: run, ok: true})
			}
			inRun = false
			continue
		}
		consider(li)
		if !inRun {
			run = li.set
			inRun = li.exact
			if !li.exact {
				// A piece that is not exact can end a run but not
				// extend it: its literals are already considered.
				run = nil
			}
			continue
		}
		if !li.exact {
			// Only pieces that match exactly one of their literals
			// are known to abut the run.
			consider(litInfo{set: run, ok: true})
			inRun, run = false, nil
			continue
		}
		// Extend the run by the cross product.
		if len(run)*len(li.set) > maxLiterals {
			consider(litInfo{set: run, ok: true})
			run = li.set
			inRun = li.exact
			continue
		}
		next := make([]string, 0, len(run)*len(li.set))
		for _, a := range run {
			for _, b := range li.set {
				next = append(next, a+b)
			}
		}
		consider(litInfo{set: next, ok: true})
		run = next
	}
	if inRun {
		consider(litInfo{set: run, ok: true})
	}
	if best.ok {
		best.set = dedupe(best.set)
	}
	return best
}

// better reports whether literal set a filters better than b: a longer
// shortest literal, then fewer alternatives.
func better(a, b []string) bool {
	ma, mb := minLen(a), minLen(b)
	if ma != mb {
		return ma > mb
	}
	return len(a) < len(b)
}

func minLen(s []string) int {
	m := -1
	for _, x := range s {
		if m < 0 || len(x) < m {
			m = len(x)
		}
	}
	return m
}

func dedupe(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}
