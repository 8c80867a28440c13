package rules

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// BacktrackTimeout bounds every match of the backtracking engine, which runs
// only the patterns RE2 cannot express exactly (look-around,
// back-references, atomic groups not at the end). A match that takes longer
// counts as no match and is reported in the verdict.
const BacktrackTimeout = 20 * time.Millisecond

func init() {
	// regexp2 checks deadlines against a coarse clock, 100 ms by default;
	// a finer clock keeps the bound close to BacktrackTimeout. It must be
	// set before any match with a timeout starts.
	regexp2.SetTimeoutCheckPeriod(5 * time.Millisecond)
}

// errBacktrackTimeout reports a backtracking match cut off at
// BacktrackTimeout.
var errBacktrackTimeout = errors.New("regex match time limit")

// Regexp is a compiled rule pattern. When the RE2 translation is exact it is
// all that runs; otherwise it is a prefilter (it matches a superset) and the
// backtracking pattern confirms each candidate under a time bound.
type Regexp struct {
	// Source is the pattern as written in the rule file.
	Source string
	// Translation is what it was translated to.
	Translation *Translation
	re          *regexp.Regexp
	dfa         *dfa
	bt          *regexp2.Regexp
	// template marks a pattern with capture tags (%{NAME}), compiled per
	// message once the tags are known.
	template bool
}

// captures reports whether the pattern sets capture tags (named groups).
func (r *Regexp) captures() bool {
	return r.Translation != nil && len(r.Translation.Captures) > 0
}

// CompileRegex translates and compiles a SpamAssassin pattern.
func CompileRegex(perl string) (*Regexp, error) {
	t, err := TranslateRegex(perl)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(t.Go)
	if err != nil {
		return nil, fmt.Errorf("RE2 rejects translation %q: %w", truncate(t.Go, 80), err)
	}
	r := &Regexp{Source: perl, Translation: t, re: re}
	if r.dfa, err = newDFA(t.Go); err != nil {
		return nil, fmt.Errorf("RE2 program of %q: %w", truncate(t.Go, 80), err)
	}
	if !t.Exact {
		bt, err := regexp2.Compile(t.Backtrack, regexp2.None)
		if err != nil {
			return nil, fmt.Errorf("backtracking engine rejects %q: %w", truncate(t.Backtrack, 80), err)
		}
		bt.MatchTimeout = BacktrackTimeout
		r.bt = bt
	}
	return r, nil
}

// Exact reports whether RE2 alone decides matches.
func (r *Regexp) Exact() bool { return r.bt == nil }

// text is a text to match in its byte-string view: s for RE2 (each byte of
// the original one character U+0000–U+00FF, UTF-8 encoded) and, made on
// first use, the same as runes for the backtracking engine.
type text struct {
	raw   string
	s     string
	runes []rune
}

func newText(raw string) *text {
	return &text{raw: raw, s: latin1View(raw)}
}

func (t *text) runeView() []rune {
	if t.runes == nil {
		t.runes = make([]rune, len(t.raw))
		for i := 0; i < len(t.raw); i++ {
			t.runes[i] = rune(t.raw[i])
		}
	}
	return t.runes
}

// latin1View maps every byte of s to the character with that code point,
// so that patterns written for byte strings ("\xc3\xa4") match bytes, as
// in Perl. ASCII text is returned unchanged.
func latin1View(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		return s
	}
	b := make([]byte, 0, len(s)+len(s)/4)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, c)
			continue
		}
		b = append(b, 0xC0|c>>6, 0x80|c&0x3F)
	}
	return string(b)
}

// match reports whether the pattern matches t.
func (r *Regexp) match(t *text) (bool, error) {
	if !r.matchRE2(t) {
		return false, nil
	}
	if r.bt == nil {
		return true, nil
	}
	ok, err := r.bt.MatchRunes(t.runeView())
	if err != nil {
		return false, errBacktrackTimeout
	}
	return ok, nil
}

// matchRE2 runs the RE2 pattern: its DFA on the original bytes, or the
// NFA on the view when the DFA gave up on the pattern.
func (r *Regexp) matchRE2(t *text) bool {
	if r.dfa != nil {
		if m, ok := r.dfa.match(t.raw); ok {
			return m
		}
	}
	return r.re.MatchString(t.s)
}

// count returns the number of non-overlapping matches in t, at most max
// (max ≤ 0: no cap), like Perl's while (/…/g).
func (r *Regexp) count(t *text, max int) (int, error) {
	if r.bt == nil {
		n := -1
		if max > 0 {
			n = max
		}
		return len(r.re.FindAllStringIndex(t.s, n)), nil
	}
	if !r.matchRE2(t) {
		return 0, nil
	}
	runes := t.runeView()
	m, err := r.bt.FindRunesMatch(runes)
	n := 0
	for err == nil && m != nil {
		n++
		if max > 0 && n >= max {
			break
		}
		m, err = r.bt.FindNextMatch(m)
	}
	if err != nil {
		return n, errBacktrackTimeout
	}
	return n, nil
}

// find returns the first match in t (in the original bytes) for the hit's
// Where field, or "" when there is none.
func (r *Regexp) find(t *text) string {
	if r.bt == nil {
		loc := r.re.FindStringIndex(t.s)
		if loc == nil {
			return ""
		}
		return viewSlice(t.s, loc[0], loc[1])
	}
	m, err := r.bt.FindRunesMatch(t.runeView())
	if err != nil || m == nil {
		return ""
	}
	return t.raw[m.Index : m.Index+m.Length]
}

// viewSlice maps a byte range of a latin1View back to the original bytes.
func viewSlice(view string, from, to int) string {
	b := make([]byte, 0, to-from)
	for i := from; i < to; {
		c := view[i]
		if c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(view[i:])
		b = append(b, byte(r))
		i += n
	}
	return string(b)
}

// submatches returns the named groups of the first match in t.
func (r *Regexp) submatches(t *text) map[string]string {
	out := map[string]string{}
	if r.bt == nil {
		loc := r.re.FindStringSubmatchIndex(t.s)
		if loc == nil {
			return out
		}
		for i, name := range r.re.SubexpNames() {
			if name != "" && loc[2*i] >= 0 {
				out[name] = viewSlice(t.s, loc[2*i], loc[2*i+1])
			}
		}
		return out
	}
	m, err := r.bt.FindRunesMatch(t.runeView())
	if err != nil || m == nil {
		return out
	}
	for _, name := range r.Translation.Captures {
		if g := m.GroupByName(name); g != nil && len(g.Captures) > 0 {
			out[name] = t.raw[g.Index : g.Index+g.Length]
		}
	}
	return out
}

// submatchFirst returns the text of the first capturing group of the first
// match in t ("" if none), for redirector patterns.
func (r *Regexp) submatchFirst(t *text) string {
	if r.bt == nil {
		loc := r.re.FindStringSubmatchIndex(t.s)
		if len(loc) < 4 || loc[2] < 0 {
			return ""
		}
		return viewSlice(t.s, loc[2], loc[3])
	}
	m, err := r.bt.FindRunesMatch(t.runeView())
	if err != nil || m == nil {
		return ""
	}
	g := m.GroupByNumber(1)
	if g == nil || len(g.Captures) == 0 {
		return ""
	}
	return t.raw[g.Index : g.Index+g.Length]
}
