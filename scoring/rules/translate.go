package rules

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"sort"
	"strings"
)

// Translation is a SpamAssassin (Perl) regular expression rewritten for the
// engines mailrep runs.
type Translation struct {
	// Go is an RE2 pattern for Go's regexp package. When Exact is true it
	// matches exactly the byte strings the Perl pattern matches; otherwise
	// it matches a superset (look-around dropped, back-references widened
	// to any text, atomic groups made plain) and serves as a prefilter
	// for Backtrack.
	Go    string
	Exact bool
	// Backtrack is the pattern in the syntax of the backtracking engine
	// (github.com/dlclark/regexp2, .NET dialect), set when Exact is false.
	Backtrack string
	// Features lists the Perl-only constructs that made Exact false.
	Features []string
	// Captures are the names of named groups, which set SpamAssassin
	// capture tags.
	Captures []string
}

// ErrUnsupported reports valid Perl that neither engine can run (\G,
// recursion, conditionals, code blocks, case-changing escapes …).
var ErrUnsupported = errUnsupported

// TranslateRegex translates a Perl pattern written as SpamAssassin writes
// it — /pattern/flags, m{pattern}flags or m!pattern!flags — into the Go and
// backtracking dialects. The pattern is a byte string (each byte one
// character), matched against byte-string views of the message (see
// latin1View).
func TranslateRegex(perl string) (*Translation, error) {
	body, mods, err := splitPerlRegex(perl)
	if err != nil {
		return nil, err
	}
	return translatePattern(body, mods)
}

// splitPerlRegex splits "/body/flags" or "m{body}flags" into the body and
// its modifiers.
func splitPerlRegex(s string) (string, flags, error) {
	var fl flags
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fl, errors.New("empty pattern")
	}
	open := s[0]
	rest := s[1:]
	if open == 'm' && len(s) > 1 {
		open = s[1]
		rest = s[2:]
		if isWordRune(rune(open)) || open == ' ' || open == '\t' {
			return "", fl, fmt.Errorf("bad delimiter in %q", truncate(s, 40))
		}
	} else if open != '/' {
		return "", fl, fmt.Errorf("pattern %q does not start with / or m", truncate(s, 40))
	}
	closeCh := open
	switch open {
	case '{':
		closeCh = '}'
	case '(':
		closeCh = ')'
	case '[':
		closeCh = ']'
	case '<':
		closeCh = '>'
	}
	// The body ends at the last closing delimiter; what follows must be
	// modifier letters. SpamAssassin also reads the body up to the last
	// delimiter, so an unescaped delimiter inside is kept as is.
	end := strings.LastIndexByte(rest, closeCh)
	if end < 0 {
		return "", fl, fmt.Errorf("unterminated pattern %q", truncate(s, 40))
	}
	body, mods := rest[:end], rest[end+1:]
	for _, c := range mods {
		switch c {
		case 'i':
			fl.i = true
		case 'm':
			fl.m = true
		case 's':
			fl.s = true
		case 'x':
			fl.x = true
		case 'g', 'o', 'a', 'u', 'l', 'd', 'n', 'p':
		default:
			return "", fl, fmt.Errorf("unknown modifier %q in %q", c, truncate(s, 40))
		}
	}
	if open != closeCh || open == '/' {
		// With the same delimiter on both sides, "\/" inside stands for
		// the delimiter itself.
		if open == closeCh {
			body = strings.ReplaceAll(body, `\`+string(open), escapeDelimiter(open))
		}
	}
	return body, fl, nil
}

// escapeDelimiter returns how an escaped delimiter is written once the
// delimiters are gone: escaped if it is a regex metacharacter.
func escapeDelimiter(c byte) string {
	if strings.IndexByte(`\.+*?()|[]{}^$`, c) >= 0 {
		return `\` + string(c)
	}
	return string(c)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func translatePattern(body string, mods flags) (*Translation, error) {
	pat, err := parsePerlPattern(body, mods)
	if err != nil {
		return nil, err
	}
	g := &emitter{pat: pat, exact: true}
	g.prefix(mods)
	g.emit(pat.root, true)
	if _, err := syntax.Parse(g.b.String(), syntax.Perl); err != nil {
		var se *syntax.Error
		if !errors.As(err, &se) || se.Code != syntax.ErrInvalidRepeatSize {
			return nil, fmt.Errorf("RE2 rejects translation %q: %w", truncate(g.b.String(), 80), err)
		}
		// RE2 caps counted repetition (1000, and less when nested);
		// the prefilter repeats without a count.
		g = &emitter{pat: pat, exact: true, uncounted: true}
		g.prefix(mods)
		g.emit(pat.root, true)
	}
	t := &Translation{Go: g.b.String(), Exact: g.exact}
	for name := range pat.names {
		t.Captures = append(t.Captures, name)
	}
	sort.Strings(t.Captures)
	if !g.exact {
		t.Features = g.relaxed
		d := &emitter{pat: pat, dotnet: true, exact: true}
		d.prefix(mods)
		d.emit(pat.root, true)
		if d.err != nil {
			return nil, d.err
		}
		t.Backtrack = d.b.String()
	}
	return t, nil
}

// emitter writes a parsed pattern in one dialect.
type emitter struct {
	pat    *perlPattern
	dotnet bool
	b      strings.Builder
	exact  bool // Go output is exactly equivalent
	// uncounted writes counted repeats {n,m} as * or + (a superset), for
	// patterns whose counts RE2 refuses.
	uncounted bool
	relaxed   []string // why it is not
	err       error
}

func (e *emitter) relax(why string) {
	e.exact = false
	for _, r := range e.relaxed {
		if r == why {
			return
		}
	}
	e.relaxed = append(e.relaxed, why)
}

func (e *emitter) prefix(fl flags) {
	var on string
	if fl.i {
		on += "i"
	}
	if fl.m {
		on += "m"
	}
	if fl.s {
		on += "s"
	}
	if on != "" {
		e.b.WriteString("(?" + on + ")")
	}
}

// flagGroup writes the (?on-off) prefix for an inline flag change.
func (e *emitter) flagText(on, set flags, caret bool) string {
	var plus, minus string
	add := func(letter string, isSet, val bool) {
		switch {
		case isSet && val:
			plus += letter
		case isSet && !val, caret:
			minus += letter
		}
	}
	add("i", set.i, on.i)
	add("m", set.m, on.m)
	add("s", set.s, on.s)
	s := plus
	if minus != "" {
		s += "-" + minus
	}
	return s
}

// emit writes n. tail reports that nothing follows n in any match: an
// atomic group or possessive quantifier there behaves as a plain one.
func (e *emitter) emit(n *node, tail bool) {
	switch n.op {
	case opLit:
		e.lit(n.r, n.fl.i)
	case opClass:
		e.class(n.class, n.fl.i)
	case opAssert:
		e.assert(n, tail)
	case opConcat:
		last := len(n.sub) - 1
		// Trailing zero-width flag nodes do not end the tail.
		for last >= 0 && n.sub[last].op == opFlags {
			last--
		}
		for i, s := range n.sub {
			e.emit(s, tail && i >= last)
		}
	case opAlt:
		for i, s := range n.sub {
			if i > 0 {
				e.b.WriteByte('|')
			}
			e.emit(s, tail)
		}
	case opFlags:
		if t := e.flagText(n.fl, n.setFl, n.caretFl); t != "" && t != "-" {
			e.b.WriteString("(?" + t + ")")
		}
	case opGroup:
		e.group(n, tail)
	case opRepeat:
		e.repeat(n, tail)
	case opBackref:
		if e.dotnet {
			fmt.Fprintf(&e.b, `(?:\%d)`, n.ref)
			return
		}
		e.relax("back-reference")
		e.b.WriteString(`(?s:.*)`)
	}
}

func (e *emitter) group(n *node, tail bool) {
	sub := n.sub[0]
	switch n.group {
	case groupCapture:
		e.b.WriteByte('(')
		if n.name != "" {
			// Named groups set SpamAssassin capture tags.
			if e.dotnet {
				e.b.WriteString("?<" + n.name + ">")
			} else {
				e.b.WriteString("?P<" + n.name + ">")
			}
		}
		e.emit(sub, tail)
		e.b.WriteByte(')')
	case groupPlain:
		e.b.WriteString("(?")
		if n.hasFl {
			if t := e.flagText(n.fl, n.setFl, n.caretFl); t != "-" {
				e.b.WriteString(t)
			}
		}
		e.b.WriteByte(':')
		e.emit(sub, tail)
		e.b.WriteByte(')')
	case groupAtomic:
		if e.dotnet {
			e.b.WriteString("(?>")
			e.emit(sub, false)
			e.b.WriteByte(')')
			return
		}
		if !tail {
			e.relax("atomic group or possessive quantifier")
		}
		e.b.WriteString("(?:")
		e.emit(sub, tail)
		e.b.WriteByte(')')
	case groupAhead, groupNotAhead, groupBehind, groupNotBehind:
		if e.dotnet {
			e.b.WriteString([...]string{groupAhead: "(?=", groupNotAhead: "(?!", groupBehind: "(?<=", groupNotBehind: "(?<!"}[n.group])
			e.emit(sub, false)
			e.b.WriteByte(')')
			return
		}
		// Dropping an assertion only loosens the pattern.
		e.relax("look-around")
	}
}

func (e *emitter) repeat(n *node, tail bool) {
	sub := n.sub[0]
	possessive := n.mode == repeatPossessive
	if possessive && e.dotnet {
		e.b.WriteString("(?>")
	}
	if possessive && !e.dotnet && !tail {
		e.relax("atomic group or possessive quantifier")
	}
	e.b.WriteString("(?:")
	e.emit(sub, false)
	e.b.WriteByte(')')
	if e.uncounted && !(n.max < 0 && n.min <= 1) && !(n.min == 0 && n.max == 1) {
		e.relax("repeat count too large for RE2")
		if n.min == 0 {
			e.b.WriteByte('*')
		} else {
			e.b.WriteByte('+')
		}
		if n.mode == repeatLazy {
			e.b.WriteByte('?')
		}
		return
	}
	switch {
	case n.min == 0 && n.max < 0:
		e.b.WriteByte('*')
	case n.min == 1 && n.max < 0:
		e.b.WriteByte('+')
	case n.min == 0 && n.max == 1:
		e.b.WriteByte('?')
	case n.max < 0:
		fmt.Fprintf(&e.b, "{%d,}", n.min)
	case n.min == n.max:
		fmt.Fprintf(&e.b, "{%d}", n.min)
	default:
		fmt.Fprintf(&e.b, "{%d,%d}", n.min, n.max)
	}
	if n.mode == repeatLazy {
		e.b.WriteByte('?')
	}
	if possessive && e.dotnet {
		e.b.WriteByte(')')
	}
}

func (e *emitter) assert(n *node, tail bool) {
	switch n.assert {
	case assertBOL:
		e.b.WriteByte('^')
	case assertEOL:
		if n.fl.m || e.dotnet {
			// Multi-line $ and .NET's $ both mean what Perl's $ means.
			e.b.WriteByte('$')
			return
		}
		e.endAnchor(tail)
	case assertBOT:
		e.b.WriteString(`\A`)
	case assertEOT:
		e.b.WriteString(`\z`)
	case assertEOTNewline:
		if e.dotnet {
			e.b.WriteString(`\Z`)
			return
		}
		e.endAnchor(tail)
	case assertWordBoundary, assertNotWordBoundary:
		if !e.dotnet {
			if n.assert == assertWordBoundary {
				e.b.WriteString(`\b`)
			} else {
				e.b.WriteString(`\B`)
			}
			return
		}
		// .NET's \b uses Unicode word characters; Perl's, on a byte
		// string, ASCII ones.
		const w = `[0-9A-Za-z_]`
		if n.assert == assertWordBoundary {
			e.b.WriteString(`(?:(?<=` + w + `)(?!` + w + `)|(?<!` + w + `)(?=` + w + `))`)
		} else {
			e.b.WriteString(`(?:(?<=` + w + `)(?=` + w + `)|(?<!` + w + `)(?!` + w + `))`)
		}
	}
}

// endAnchor writes Perl's $ (without /m) or \Z: the end of the text or
// before a final newline. At the end of the pattern consuming that newline
// changes nothing; elsewhere the multi-line $ is a superset.
func (e *emitter) endAnchor(tail bool) {
	if tail {
		e.b.WriteString(`(?-m:\n?$)`)
		return
	}
	e.relax("$ or \\Z before more pattern")
	e.b.WriteString(`(?m:$)`)
}

// lit writes one character. Characters above U+00FF never occur in a byte
// string: they match nothing.
func (e *emitter) lit(r rune, fold bool) {
	if r > 0xFF {
		e.b.WriteString(e.never())
		return
	}
	if fold && isFoldingHigh(r) {
		e.b.WriteString("(?-i:")
		e.char(r, false)
		e.b.WriteByte(')')
		return
	}
	e.char(r, false)
}

func (e *emitter) never() string {
	if e.dotnet {
		return `[^\x00-\uFFFF]`
	}
	return `[^\x00-\x{10FFFF}]`
}

// char writes r escaped for use outside (inClass false) or inside a class.
func (e *emitter) char(r rune, inClass bool) {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		e.b.WriteRune(r)
	case r == ' ' || (r > ' ' && r < 0x7F && !strings.ContainsRune(`\.+*?()|[]{}^$#-&~`, r)):
		e.b.WriteRune(r)
	case r < 0x7F && r > ' ':
		e.b.WriteByte('\\')
		e.b.WriteRune(r)
	case e.dotnet:
		fmt.Fprintf(&e.b, `\x%02X`, r)
	default:
		fmt.Fprintf(&e.b, `\x{%X}`, r)
	}
}

// class writes a character set. Under /i, a set holding Latin-1 letters is
// written case-sensitively (its ASCII letters were folded when parsed), so
// the engine does not fold what Perl would not.
func (e *emitter) class(c *charClass, fold bool) {
	set := c.set
	var all, notNL byteSet
	all.add(0, 0xFF)
	notNL = all
	notNL[0] &^= 1 << '\n'
	switch set {
	case all:
		e.b.WriteString("(?s:.)")
		return
	case notNL:
		e.b.WriteString("(?-s:.)")
		return
	case byteSet{}:
		e.b.WriteString(e.never())
		return
	}
	count := 0
	single := rune(-1)
	for r := rune(0); r <= 0xFF; r++ {
		if set.has(r) {
			count++
			single = r
		}
	}
	if count == 1 {
		e.lit(single, fold)
		return
	}
	wrap := fold && set.hasFoldingHigh()
	if wrap {
		e.b.WriteString("(?-i:")
	}
	// Write the complement when it is shorter, as Perl authors do.
	neg := count > 128
	if neg {
		set.invert()
	}
	e.b.WriteByte('[')
	if neg {
		e.b.WriteByte('^')
	}
	for r := rune(0); r <= 0xFF; {
		if !set.has(r) {
			r++
			continue
		}
		hi := r
		for hi+1 <= 0xFF && set.has(hi+1) {
			hi++
		}
		e.char(r, true)
		if hi > r {
			if hi > r+1 {
				e.b.WriteByte('-')
			}
			e.char(hi, true)
		}
		r = hi + 1
	}
	e.b.WriteByte(']')
	if wrap {
		e.b.WriteByte(')')
	}
}
