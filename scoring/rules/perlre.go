package rules

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// This file parses the Perl regular expressions of SpamAssassin rules into a
// small syntax tree that translate.go emits as RE2 (Go's regexp) and as .NET
// syntax (regexp2, the bounded backtracking engine).
//
// Patterns are byte strings, as SpamAssassin treats them: every byte of the
// pattern, and every byte of the text matched, is one character U+0000–U+00FF
// (see latin1View). "\xc3" in a rule therefore matches the byte 0xC3, the
// lead byte of a UTF-8 sequence, exactly as it does in Perl.

// nodeOp is the kind of a syntax tree node.
type nodeOp uint8

const (
	opLit     nodeOp = iota // one character
	opClass                 // character class, \d, \w, ., \N …
	opAssert                // zero-width assertion: ^ $ \A \z \Z \b \B
	opConcat                // sequence of sub nodes
	opAlt                   // alternation of sub nodes
	opGroup                 // parenthesised group (capture, plain, atomic, look-around)
	opRepeat                // quantified sub[0]
	opBackref               // \1, \k<name>
	opFlags                 // (?i) etc.: changes flags for the rest of the enclosing group
)

type groupKind uint8

const (
	groupPlain groupKind = iota // (?:…)
	groupCapture
	groupAtomic    // (?>…)
	groupAhead     // (?=…)
	groupNotAhead  // (?!…)
	groupBehind    // (?<=…)
	groupNotBehind // (?<!…)
)

type assertKind uint8

const (
	assertBOL             assertKind = iota // ^
	assertEOL                               // $
	assertBOT                               // \A
	assertEOT                               // \z
	assertEOTNewline                        // \Z
	assertWordBoundary                      // \b
	assertNotWordBoundary                   // \B
)

type repeatMode uint8

const (
	repeatGreedy repeatMode = iota
	repeatLazy
	repeatPossessive
)

// flags are the Perl modifiers that change matching.
type flags struct {
	i, m, s, x bool
}

// node is one element of a parsed pattern.
type node struct {
	op       nodeOp
	r        rune       // opLit
	class    *charClass // opClass
	sub      []*node    // opConcat, opAlt, opGroup (one element), opRepeat (one element)
	min, max int        // opRepeat; max < 0 means unbounded
	mode     repeatMode // opRepeat
	group    groupKind  // opGroup
	assert   assertKind // opAssert
	ref      int        // opBackref: group number; opGroup capture: its number
	name     string     // opGroup capture: its name, if any
	fl       flags      // flags in effect at this node (opLit, opClass, opAssert); opGroup/opFlags: the flags set
	setFl    flags      // opFlags / opGroup with flags: which flags were mentioned
	hasFl    bool       // opGroup: the group carries (?flags:…)
	caretFl  bool       // (?^…): flags reset to defaults before applying
}

// byteSet is a set of characters U+0000–U+00FF: the only characters in the
// byte-string view of a text that patterns are matched against.
type byteSet [4]uint64

func (b *byteSet) add(lo, hi rune) {
	if lo < 0 {
		lo = 0
	}
	if hi > 0xFF {
		hi = 0xFF
	}
	for r := lo; r <= hi; r++ {
		b[r>>6] |= 1 << (uint(r) & 63)
	}
}

func (b *byteSet) has(r rune) bool {
	return r >= 0 && r <= 0xFF && b[r>>6]&(1<<(uint(r)&63)) != 0
}

func (b *byteSet) union(o byteSet) {
	for i := range b {
		b[i] |= o[i]
	}
}

func (b *byteSet) invert() {
	for i := range b {
		b[i] = ^b[i]
	}
}

// foldASCII adds the other case of every ASCII letter in the set.
func (b *byteSet) foldASCII() {
	for r := rune('A'); r <= 'Z'; r++ {
		if b.has(r) || b.has(r+32) {
			b.add(r, r)
			b.add(r+32, r+32)
		}
	}
}

// hasFoldingHigh reports whether the set holds a Latin-1 letter that Go and
// .NET would case-fold under (?i) while Perl, matching a byte string, does not.
func (b *byteSet) hasFoldingHigh() bool {
	for r := rune(0xC0); r <= 0xFE; r++ {
		if r != 0xD7 && r != 0xF7 && b.has(r) {
			return true
		}
	}
	return b.has(0xB5) || b.has(0xFF) || b.has(0xDF)
}

// isFoldingHigh reports whether r is such a letter.
func isFoldingHigh(r rune) bool {
	var b byteSet
	b.add(r, r)
	return b.hasFoldingHigh()
}

// charClass is a bracketed class, a class escape or the dot, as the set of
// characters it matches.
type charClass struct {
	set byteSet
}

// perlPattern is a parsed Perl regular expression.
type perlPattern struct {
	root     *node
	flags    flags // modifiers after the closing delimiter
	ngroups  int
	names    map[string]int // named groups → number
	features []string       // Perl-only features used (look-around, backrefs …)
}

// errUnsupported wraps errors for valid Perl that no engine here can run.
var errUnsupported = errors.New("unsupported Perl regex feature")

type perlParser struct {
	src   []rune
	pos   int
	pat   *perlPattern
	depth int
	// Pending backreferences by name, resolved after parsing.
	namedRefs []*node
	refNames  []string
}

const maxRegexDepth = 200

// parsePerlPattern parses the body of a pattern (between the delimiters)
// with the given modifiers. The pattern is a byte string: each byte is one
// character.
func parsePerlPattern(body string, mods flags) (*perlPattern, error) {
	src := make([]rune, len(body))
	for i := 0; i < len(body); i++ {
		src[i] = rune(body[i])
	}
	p := &perlParser{src: src, pat: &perlPattern{flags: mods, names: map[string]int{}}}
	root, err := p.parseAlt(mods)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("unmatched ) at offset %d", p.pos)
	}
	for i, n := range p.namedRefs {
		num, ok := p.pat.names[p.refNames[i]]
		if !ok {
			return nil, fmt.Errorf("reference to nonexistent named group %q", p.refNames[i])
		}
		n.ref = num
	}
	p.pat.root = root
	return p.pat, nil
}

func (p *perlParser) feature(f string) {
	for _, g := range p.pat.features {
		if g == f {
			return
		}
	}
	p.pat.features = append(p.pat.features, f)
}

func (p *perlParser) eof() bool { return p.pos >= len(p.src) }

func (p *perlParser) peek() rune {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return -1
}

// skipX skips whitespace and comments under /x.
func (p *perlParser) skipX(fl flags) {
	if !fl.x {
		return
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// parseAlt parses alternatives up to an unmatched ')' or the end.
func (p *perlParser) parseAlt(fl flags) (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxRegexDepth {
		return nil, errors.New("pattern nested too deeply")
	}
	var alts []*node
	cur := fl
	for {
		c, nfl, err := p.parseConcat(cur)
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		// Inline flags such as (?i) last to the end of the group,
		// across alternatives.
		cur = nfl
		if p.eof() || p.peek() == ')' {
			break
		}
		// peek() == '|'
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{op: opAlt, sub: alts}, nil
}

// parseConcat parses a sequence up to '|', ')' or the end. It returns the
// flags in effect at its end.
func (p *perlParser) parseConcat(fl flags) (*node, flags, error) {
	cat := &node{op: opConcat}
	for {
		p.skipX(fl)
		if p.eof() {
			break
		}
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		atom, nfl, err := p.parseAtom(fl)
		if err != nil {
			return nil, fl, err
		}
		if atom == nil { // comment group
			continue
		}
		if atom.op == opFlags {
			fl = nfl
			cat.sub = append(cat.sub, atom)
			continue
		}
		atom, err = p.parseQuantifiers(atom, fl)
		if err != nil {
			return nil, fl, err
		}
		cat.sub = append(cat.sub, atom)
	}
	return cat, fl, nil
}

func (p *perlParser) parseQuantifiers(atom *node, fl flags) (*node, error) {
	for {
		p.skipX(fl)
		if p.eof() {
			return atom, nil
		}
		min, max := -1, -1
		start := p.pos
		switch p.peek() {
		case '*':
			min, max = 0, -1
			p.pos++
		case '+':
			min, max = 1, -1
			p.pos++
		case '?':
			min, max = 0, 1
			p.pos++
		case '{':
			var ok bool
			min, max, ok = p.parseBraces()
			if !ok {
				p.pos = start
				return atom, nil
			}
		default:
			return atom, nil
		}
		if atom.op == opRepeat && start > 0 {
			// "a**" is an error in Perl ("nested quantifiers"); a lazy
			// or possessive marker was already consumed below.
			return nil, fmt.Errorf("nested quantifier at offset %d", start)
		}
		if atom.op == opAssert || atom.op == opFlags {
			// Perl warns and matches the assertion once when min > 0,
			// or optionally; either way the result equals the bare
			// assertion for min ≥ 1 and "always" for min == 0.
			if min == 0 {
				atom = &node{op: opConcat}
			}
			continue
		}
		if max >= 0 && min > max {
			return nil, fmt.Errorf("quantifier {%d,%d} with min > max", min, max)
		}
		mode := repeatGreedy
		if !p.eof() {
			switch p.peek() {
			case '?':
				mode = repeatLazy
				p.pos++
			case '+':
				mode = repeatPossessive
				p.pos++
				p.feature("possessive quantifier")
			}
		}
		atom = &node{op: opRepeat, sub: []*node{atom}, min: min, max: max, mode: mode}
	}
}

// parseBraces parses {n}, {n,}, {n,m} and {,m} at p.pos. It reports false
// (and consumes nothing useful) when the brace is a literal.
func (p *perlParser) parseBraces() (min, max int, ok bool) {
	i := p.pos + 1
	readNum := func() (int, bool) {
		s := i
		for i < len(p.src) && p.src[i] >= '0' && p.src[i] <= '9' {
			i++
		}
		if i == s {
			return 0, false
		}
		n, err := strconv.Atoi(string(p.src[s:i]))
		if err != nil || n > 1<<16 {
			return 1 << 16, true
		}
		return n, true
	}
	lo, hasLo := readNum()
	if i < len(p.src) && p.src[i] == '}' {
		if !hasLo {
			return 0, 0, false
		}
		p.pos = i + 1
		return lo, lo, true
	}
	if i >= len(p.src) || p.src[i] != ',' {
		return 0, 0, false
	}
	i++
	hi, hasHi := readNum()
	if i >= len(p.src) || p.src[i] != '}' {
		return 0, 0, false
	}
	if !hasLo && !hasHi {
		return 0, 0, false
	}
	p.pos = i + 1
	if !hasLo {
		lo = 0 // Perl 5.34+: {,n} is {0,n}
	}
	if !hasHi {
		return lo, -1, true
	}
	return lo, hi, true
}

// parseAtom parses one atom. It returns nil for (?#comments), and an
// opFlags node with the new flags for (?imsx).
func (p *perlParser) parseAtom(fl flags) (*node, flags, error) {
	c := p.src[p.pos]
	switch c {
	case '(':
		return p.parseGroup(fl)
	case '[':
		p.pos++
		cl, err := p.parseClass(fl)
		if err != nil {
			return nil, fl, err
		}
		return &node{op: opClass, class: cl, fl: fl}, fl, nil
	case '.':
		p.pos++
		var set byteSet
		set.add(0, 0xFF)
		if !fl.s {
			set = rangeSet("\\n")
			set.invert()
		}
		return &node{op: opClass, class: &charClass{set: set}, fl: fl}, fl, nil
	case '^':
		p.pos++
		return &node{op: opAssert, assert: assertBOL, fl: fl}, fl, nil
	case '$':
		p.pos++
		return &node{op: opAssert, assert: assertEOL, fl: fl}, fl, nil
	case '\\':
		n, err := p.parseEscape(fl)
		return n, fl, err
	case '*', '+', '?':
		return nil, fl, fmt.Errorf("quantifier follows nothing at offset %d", p.pos)
	default:
		p.pos++
		return &node{op: opLit, r: c, fl: fl}, fl, nil
	}
}

func isWordRune(r rune) bool {
	return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func (p *perlParser) readName(end rune) (string, error) {
	s := p.pos
	for p.pos < len(p.src) && isWordRune(p.src[p.pos]) {
		p.pos++
	}
	if p.pos == s || p.pos >= len(p.src) || p.src[p.pos] != end {
		return "", fmt.Errorf("bad group name at offset %d", s)
	}
	name := string(p.src[s:p.pos])
	p.pos++
	return name, nil
}

func (p *perlParser) parseGroup(fl flags) (*node, flags, error) {
	start := p.pos
	p.pos++ // (
	kind := groupCapture
	var name string
	g := &node{op: opGroup}
	inner := fl
	if p.peek() == '*' {
		return nil, fl, fmt.Errorf("%w: backtracking verb (*…) at offset %d", errUnsupported, start)
	}
	if p.peek() == '?' {
		p.pos++
		switch c := p.peek(); c {
		case ':':
			p.pos++
			kind = groupPlain
		case '#':
			for p.pos < len(p.src) && p.src[p.pos] != ')' {
				p.pos++
			}
			if p.eof() {
				return nil, fl, fmt.Errorf("unterminated (?# comment at offset %d", start)
			}
			p.pos++
			return nil, fl, nil
		case '=':
			p.pos++
			kind = groupAhead
			p.feature("look-ahead")
		case '!':
			p.pos++
			kind = groupNotAhead
			p.feature("look-ahead")
		case '>':
			p.pos++
			kind = groupAtomic
			p.feature("atomic group")
		case '|':
			p.pos++
			kind = groupPlain
			p.feature("branch reset")
		case '<':
			p.pos++
			switch p.peek() {
			case '=':
				p.pos++
				kind = groupBehind
				p.feature("look-behind")
			case '!':
				p.pos++
				kind = groupNotBehind
				p.feature("look-behind")
			default:
				n, err := p.readName('>')
				if err != nil {
					return nil, fl, err
				}
				name = n
			}
		case '\'':
			p.pos++
			n, err := p.readName('\'')
			if err != nil {
				return nil, fl, err
			}
			name = n
		case 'P':
			p.pos++
			switch p.peek() {
			case '<':
				p.pos++
				n, err := p.readName('>')
				if err != nil {
					return nil, fl, err
				}
				name = n
			case '=':
				p.pos++
				n, err := p.readName(')')
				if err != nil {
					return nil, fl, err
				}
				ref := &node{op: opBackref}
				p.namedRefs = append(p.namedRefs, ref)
				p.refNames = append(p.refNames, n)
				p.feature("back-reference")
				return ref, fl, nil
			default:
				return nil, fl, fmt.Errorf("%w: (?P%c at offset %d", errUnsupported, p.peek(), start)
			}
		default:
			// Flags: (?imsx-imsx) (?^imsx) (?imsx:…)
			on, set, caret, ok := p.parseFlagLetters()
			if !ok {
				return nil, fl, fmt.Errorf("%w: group syntax (?%c at offset %d", errUnsupported, c, start)
			}
			nfl := applyFlags(fl, on, set, caret)
			switch p.peek() {
			case ')':
				p.pos++
				return &node{op: opFlags, fl: on, setFl: set, caretFl: caret}, nfl, nil
			case ':':
				p.pos++
				kind = groupPlain
				g.hasFl, g.fl, g.setFl, g.caretFl = true, on, set, caret
				inner = nfl
			default:
				return nil, fl, fmt.Errorf("bad flag group at offset %d", start)
			}
		}
	}
	if kind == groupCapture {
		p.pat.ngroups++
		g.ref = p.pat.ngroups
		if name != "" {
			if _, dup := p.pat.names[name]; !dup {
				p.pat.names[name] = g.ref
				g.name = name
			}
		}
	}
	g.group = kind
	sub, err := p.parseAlt(inner)
	if err != nil {
		return nil, fl, err
	}
	if p.eof() || p.peek() != ')' {
		return nil, fl, fmt.Errorf("missing ) for group at offset %d", start)
	}
	p.pos++
	g.sub = []*node{sub}
	return g, fl, nil
}

// parseFlagLetters reads modifier letters up to ':' or ')'. set marks the
// flags mentioned, on their value.
func (p *perlParser) parseFlagLetters() (on, set flags, caret, ok bool) {
	neg := false
	if p.peek() == '^' {
		caret = true
		p.pos++
	}
	for !p.eof() {
		c := p.peek()
		switch c {
		case ':', ')':
			return on, set, caret, true
		case '-':
			if neg || caret {
				return on, set, caret, false
			}
			neg = true
		case 'i':
			on.i, set.i = !neg, true
		case 'm':
			on.m, set.m = !neg, true
		case 's':
			on.s, set.s = !neg, true
		case 'x':
			on.x, set.x = !neg, true
		case 'n', 'p', 'a', 'u', 'l', 'd', 'o':
			// No capture, preserve, charset modifiers: no effect on
			// whether a byte string matches.
		default:
			return on, set, caret, false
		}
		p.pos++
	}
	return on, set, caret, false
}

func applyFlags(fl, on, set flags, caret bool) flags {
	if caret {
		fl = flags{}
	}
	if set.i {
		fl.i = on.i
	}
	if set.m {
		fl.m = on.m
	}
	if set.s {
		fl.s = on.s
	}
	if set.x {
		fl.x = on.x
	}
	return fl
}

// parseEscape parses a backslash sequence outside a class.
func (p *perlParser) parseEscape(fl flags) (*node, error) {
	start := p.pos
	p.pos++ // backslash
	if p.eof() {
		return nil, errors.New("trailing backslash")
	}
	c := p.src[p.pos]
	p.pos++
	lit := func(r rune) (*node, error) { return &node{op: opLit, r: r, fl: fl}, nil }
	cls := func(set byteSet, neg bool) (*node, error) {
		if neg {
			set.invert()
		}
		return &node{op: opClass, class: &charClass{set: set}, fl: fl}, nil
	}
	assert := func(a assertKind) (*node, error) { return &node{op: opAssert, assert: a, fl: fl}, nil }
	switch c {
	case 'd', 'w', 's', 'h', 'v':
		return cls(namedSets[string(c)], false)
	case 'D', 'W', 'S', 'H', 'V':
		return cls(namedSets[strings.ToLower(string(c))], true)
	case 'N':
		if p.peek() == '{' {
			return nil, fmt.Errorf("%w: \\N{…} named character at offset %d", errUnsupported, start)
		}
		return cls(rangeSet("\\n"), true)
	case 'R':
		// \R: a linebreak, CRLF as one.
		crlf := &node{op: opConcat, sub: []*node{{op: opLit, r: '\r', fl: fl}, {op: opLit, r: '\n', fl: fl}}}
		one := &node{op: opClass, class: &charClass{set: namedSets["v"]}, fl: fl}
		return &node{op: opGroup, group: groupAtomic, sub: []*node{{op: opAlt, sub: []*node{crlf, one}}}}, nil
	case 'b':
		if p.peek() == '{' {
			return nil, fmt.Errorf("%w: \\b{…} boundary at offset %d", errUnsupported, start)
		}
		return assert(assertWordBoundary)
	case 'B':
		return assert(assertNotWordBoundary)
	case 'A':
		return assert(assertBOT)
	case 'z':
		return assert(assertEOT)
	case 'Z':
		return assert(assertEOTNewline)
	case 'G':
		return nil, fmt.Errorf("%w: \\G at offset %d", errUnsupported, start)
	case 'K':
		// \K only moves the start of the reported match; whether the
		// pattern matches is unchanged.
		return &node{op: opConcat}, nil
	case 'X', 'C':
		return nil, fmt.Errorf("%w: \\%c at offset %d", errUnsupported, c, start)
	case 'l', 'u', 'L', 'U', 'F':
		return nil, fmt.Errorf("%w: case-changing escape \\%c at offset %d", errUnsupported, c, start)
	case 'E':
		return &node{op: opConcat}, nil
	case 'Q':
		cat := &node{op: opConcat}
		for p.pos < len(p.src) {
			if p.src[p.pos] == '\\' && p.pos+1 < len(p.src) && p.src[p.pos+1] == 'E' {
				p.pos += 2
				break
			}
			cat.sub = append(cat.sub, &node{op: opLit, r: p.src[p.pos], fl: fl})
			p.pos++
		}
		return cat, nil
	case 'p', 'P':
		name, err := p.readUnicodeName(start)
		if err != nil {
			return nil, err
		}
		set, err := unicodeSet(name)
		if err != nil {
			return nil, err
		}
		return cls(set, c == 'P')
	case 'g':
		n, err := p.readGroupRef(start)
		if err != nil {
			return nil, err
		}
		return n, nil
	case 'k':
		var end rune
		switch p.peek() {
		case '<':
			end = '>'
		case '\'':
			end = '\''
		case '{':
			end = '}'
		default:
			return nil, fmt.Errorf("bad \\k at offset %d", start)
		}
		p.pos++
		name, err := p.readName(end)
		if err != nil {
			return nil, err
		}
		ref := &node{op: opBackref}
		p.namedRefs = append(p.namedRefs, ref)
		p.refNames = append(p.refNames, name)
		p.feature("back-reference")
		return ref, nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s := p.pos - 1
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		n, _ := strconv.Atoi(string(p.src[s:p.pos]))
		if n >= 10 && n > p.pat.ngroups {
			// Perl reads \10 and up as octal unless that many groups exist.
			p.pos = s
			r, err := p.readOctal(3)
			if err != nil {
				return nil, err
			}
			return lit(r)
		}
		if n > p.pat.ngroups {
			return nil, fmt.Errorf("reference to nonexistent group \\%d", n)
		}
		p.feature("back-reference")
		return &node{op: opBackref, ref: n}, nil
	}
	r, ok, err := p.charEscape(c, start)
	if err != nil {
		return nil, err
	}
	if ok {
		return lit(r)
	}
	return lit(c)
}

// readGroupRef parses the rest of \g1, \g{1}, \g{-1}, \g{name}.
func (p *perlParser) readGroupRef(start int) (*node, error) {
	braced := p.peek() == '{'
	if braced {
		p.pos++
	}
	s := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && isWordRune(p.src[p.pos]) {
		p.pos++
	}
	text := string(p.src[s:p.pos])
	if braced {
		if p.peek() != '}' {
			return nil, fmt.Errorf("bad \\g at offset %d", start)
		}
		p.pos++
	}
	p.feature("back-reference")
	if n, err := strconv.Atoi(text); err == nil {
		if n < 0 {
			n = p.pat.ngroups + 1 + n
		}
		if n <= 0 || n > p.pat.ngroups {
			return nil, fmt.Errorf("reference to nonexistent group \\g{%s}", text)
		}
		return &node{op: opBackref, ref: n}, nil
	}
	if text == "" {
		return nil, fmt.Errorf("bad \\g at offset %d", start)
	}
	ref := &node{op: opBackref}
	p.namedRefs = append(p.namedRefs, ref)
	p.refNames = append(p.refNames, text)
	return ref, nil
}

func (p *perlParser) readUnicodeName(start int) (string, error) {
	if p.eof() {
		return "", errors.New("trailing \\p")
	}
	if p.peek() != '{' {
		c := p.src[p.pos]
		p.pos++
		return string(c), nil
	}
	p.pos++
	s := p.pos
	for p.pos < len(p.src) && p.src[p.pos] != '}' {
		p.pos++
	}
	if p.eof() {
		return "", fmt.Errorf("unterminated \\p{ at offset %d", start)
	}
	name := strings.TrimSpace(string(p.src[s:p.pos]))
	p.pos++
	return name, nil
}

// readOctal reads up to n octal digits.
func (p *perlParser) readOctal(n int) (rune, error) {
	var r rune
	i := 0
	for ; i < n && p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '7'; i++ {
		r = r*8 + (p.src[p.pos] - '0')
		p.pos++
	}
	if i == 0 {
		return 0, errors.New("bad octal escape")
	}
	return r, nil
}

// charEscape decodes escapes that stand for a single character (shared by
// classes and the pattern body). It reports false for a non-special escape,
// where the character stands for itself.
func (p *perlParser) charEscape(c rune, start int) (rune, bool, error) {
	switch c {
	case 't':
		return '\t', true, nil
	case 'n':
		return '\n', true, nil
	case 'r':
		return '\r', true, nil
	case 'f':
		return '\f', true, nil
	case 'e':
		return 0x1b, true, nil
	case 'a':
		return 0x07, true, nil
	case '0':
		p.pos--
		r, err := p.readOctal(3)
		return r, true, err
	case 'o':
		if p.peek() != '{' {
			return 0, false, fmt.Errorf("bad \\o at offset %d", start)
		}
		p.pos++
		s := p.pos
		for p.pos < len(p.src) && p.src[p.pos] != '}' {
			p.pos++
		}
		if p.eof() {
			return 0, false, fmt.Errorf("unterminated \\o{ at offset %d", start)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(p.src[s:p.pos])), 8, 21)
		p.pos++
		if err != nil || v > 0x10FFFF {
			return 0, false, fmt.Errorf("bad \\o{…} at offset %d", start)
		}
		return rune(v), true, nil
	case 'x':
		if p.peek() == '{' {
			p.pos++
			s := p.pos
			for p.pos < len(p.src) && p.src[p.pos] != '}' {
				p.pos++
			}
			if p.eof() {
				return 0, false, fmt.Errorf("unterminated \\x{ at offset %d", start)
			}
			hex := strings.TrimSpace(string(p.src[s:p.pos]))
			p.pos++
			if hex == "" {
				return 0, true, nil
			}
			v, err := strconv.ParseUint(hex, 16, 32)
			if err != nil || v > 0x10FFFF {
				return 0, false, fmt.Errorf("bad \\x{%s} at offset %d", hex, start)
			}
			return rune(v), true, nil
		}
		var v rune
		for i := 0; i < 2 && p.pos < len(p.src); i++ {
			d := hexVal(p.src[p.pos])
			if d < 0 {
				break
			}
			v = v*16 + d
			p.pos++
		}
		return v, true, nil
	case 'c':
		if p.eof() {
			return 0, false, errors.New("trailing \\c")
		}
		x := p.src[p.pos]
		p.pos++
		if x >= 'a' && x <= 'z' {
			x -= 'a' - 'A'
		}
		return x ^ 0x40, true, nil
	}
	return 0, false, nil
}

func hexVal(r rune) rune {
	switch {
	case r >= '0' && r <= '9':
		return r - '0'
	case r >= 'a' && r <= 'f':
		return r - 'a' + 10
	case r >= 'A' && r <= 'F':
		return r - 'A' + 10
	}
	return -1
}

// parseClass parses a bracketed class after its '['. Under /i, ASCII
// letters are folded into the set here (Perl folds only ASCII in a byte
// string), so the emitted class never needs the engine's folding.
func (p *perlParser) parseClass(fl flags) (*charClass, error) {
	start := p.pos - 1
	var set byteSet
	neg := false
	if p.peek() == '^' {
		neg = true
		p.pos++
	}
	first := true
	for {
		if p.eof() {
			return nil, fmt.Errorf("unterminated character class at offset %d", start)
		}
		c := p.src[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		lo, single, items, err := p.parseClassAtom()
		if err != nil {
			return nil, err
		}
		if !single {
			set.union(items)
			continue
		}
		// A range a-z: only between two single characters.
		if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			save := p.pos
			p.pos++
			hi, hsingle, hitems, err := p.parseClassAtom()
			if err != nil {
				return nil, err
			}
			if hsingle {
				if hi < lo {
					return nil, fmt.Errorf("invalid range in character class at offset %d", save)
				}
				set.add(lo, hi)
				continue
			}
			// "a-\d": the dash is literal.
			set.add(lo, lo)
			set.add('-', '-')
			set.union(hitems)
			continue
		}
		set.add(lo, lo)
	}
	if fl.i {
		set.foldASCII()
	}
	if neg {
		set.invert()
	}
	return &charClass{set: set}, nil
}

var posixClasses = map[string]string{
	"alpha": "A-Za-z", "digit": "0-9", "alnum": "0-9A-Za-z", "upper": "A-Z", "lower": "a-z",
	"space": "\t\n\v\f\r ", "punct": "!-/:-@[-`{-~", "print": " -~", "graph": "!-~",
	"cntrl": "\x00-\x1f\x7f", "xdigit": "0-9A-Fa-f", "word": "0-9A-Za-z_", "blank": "\t ",
	"ascii": "\x00-\x7f",
}

// rangeSet builds a set from a compact range list such as "a-z0-9_" where
// \t \n \v \f \r and \xHH escapes may appear.
func rangeSet(spec string) byteSet {
	var set byteSet
	var rs []rune
	for i := 0; i < len(spec); i++ {
		c := rune(spec[i])
		if c == '\\' && i+1 < len(spec) {
			i++
			switch spec[i] {
			case 't':
				c = '\t'
			case 'n':
				c = '\n'
			case 'v':
				c = '\v'
			case 'f':
				c = '\f'
			case 'r':
				c = '\r'
			case 'x':
				c = hexVal(rune(spec[i+1]))*16 + hexVal(rune(spec[i+2]))
				i += 2
			}
			rs = append(rs, c)
			continue
		}
		if c == '-' && len(rs) > 0 && i+1 < len(spec) {
			rs = append(rs, -1)
			continue
		}
		rs = append(rs, c)
	}
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == -1 {
			set.add(rs[i], rs[i+2])
			i += 2
			continue
		}
		set.add(rs[i], rs[i])
	}
	return set
}

// Perl's class escapes in a byte string (ASCII rules, except \h and \v
// which always include their Latin-1 members).
var namedSets = map[string]byteSet{
	"d": rangeSet("0-9"),
	"w": rangeSet("0-9A-Za-z_"),
	"s": rangeSet("\\t\\n\\v\\f\\r "),
	"h": rangeSet("\\t \\xa0"),
	"v": rangeSet("\\n\\v\\f\\r\\x85"),
}

// unicodeSet resolves \p{name} over U+0000–U+00FF.
func unicodeSet(name string) (byteSet, error) {
	var set byteSet
	neg := strings.HasPrefix(name, "^")
	name = strings.TrimPrefix(name, "^")
	var tabs []*unicode.RangeTable
	switch name {
	case "L&", "LC":
		tabs = []*unicode.RangeTable{unicode.Lu, unicode.Ll, unicode.Lt}
	case "Alpha", "Alphabetic", "IsAlpha", "XPosixAlpha":
		tabs = []*unicode.RangeTable{unicode.L}
	case "Digit", "IsDigit", "XPosixDigit":
		tabs = []*unicode.RangeTable{unicode.Nd}
	case "Space", "IsSpace", "XPosixSpace":
		tabs = []*unicode.RangeTable{unicode.White_Space}
	case "Upper", "IsUpper", "Uppercase":
		tabs = []*unicode.RangeTable{unicode.Upper}
	case "Lower", "IsLower", "Lowercase":
		tabs = []*unicode.RangeTable{unicode.Lower}
	case "Punct", "IsPunct":
		tabs = []*unicode.RangeTable{unicode.P}
	default:
		n := strings.TrimPrefix(name, "Is")
		if t, ok := unicode.Categories[n]; ok {
			tabs = []*unicode.RangeTable{t}
		} else if t, ok := unicode.Scripts[n]; ok {
			tabs = []*unicode.RangeTable{t}
		} else {
			return set, fmt.Errorf("%w: Unicode property \\p{%s}", errUnsupported, name)
		}
	}
	for r := rune(0); r <= 0xFF; r++ {
		if unicode.In(r, tabs...) {
			set.add(r, r)
		}
	}
	if neg {
		set.invert()
	}
	return set, nil
}

// parseClassAtom parses one class member: a single character (single is
// true, lo is the character) or a set (\d, [:alpha:], \p{L} …).
func (p *perlParser) parseClassAtom() (lo rune, single bool, items byteSet, err error) {
	start := p.pos
	c := p.src[p.pos]
	if c == '[' && p.pos+1 < len(p.src) && (p.src[p.pos+1] == ':' || p.src[p.pos+1] == '.' || p.src[p.pos+1] == '=') {
		kind := p.src[p.pos+1]
		end := -1
		for i := p.pos + 2; i+1 < len(p.src); i++ {
			if p.src[i] == kind && p.src[i+1] == ']' {
				end = i
				break
			}
		}
		if end >= 0 {
			if kind != ':' {
				return 0, false, items, fmt.Errorf("%w: POSIX collating element at offset %d", errUnsupported, start)
			}
			body := string(p.src[p.pos+2 : end])
			neg := strings.HasPrefix(body, "^")
			spec, ok := posixClasses[strings.TrimPrefix(body, "^")]
			if !ok {
				return 0, false, items, fmt.Errorf("unknown POSIX class [:%s:]", body)
			}
			items = rangeSet(spec)
			if neg {
				items.invert()
			}
			p.pos = end + 2
			return 0, false, items, nil
		}
	}
	if c != '\\' {
		p.pos++
		return c, true, items, nil
	}
	p.pos++
	if p.eof() {
		return 0, false, items, errors.New("trailing backslash in class")
	}
	e := p.src[p.pos]
	p.pos++
	switch e {
	case 'd', 'w', 's', 'h', 'v':
		return 0, false, namedSets[string(e)], nil
	case 'D', 'W', 'S', 'H', 'V':
		items = namedSets[strings.ToLower(string(e))]
		items.invert()
		return 0, false, items, nil
	case 'p', 'P':
		name, err := p.readUnicodeName(start)
		if err != nil {
			return 0, false, items, err
		}
		items, err = unicodeSet(name)
		if err != nil {
			return 0, false, items, err
		}
		if e == 'P' {
			items.invert()
		}
		return 0, false, items, nil
	case 'b':
		return 8, true, items, nil
	case 'N', 'R', 'X':
		return 0, false, items, fmt.Errorf("%w: \\%c in character class at offset %d", errUnsupported, e, start)
	}
	if e >= '1' && e <= '7' {
		p.pos--
		r, err := p.readOctal(3)
		if err != nil {
			return 0, false, items, err
		}
		return r, true, items, nil
	}
	r, ok, err := p.charEscape(e, start)
	if err != nil {
		return 0, false, items, err
	}
	if !ok {
		r = e
	}
	return r, true, items, nil
}
