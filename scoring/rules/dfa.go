package rules

import (
	"regexp/syntax"
	"sync"
)

// dfa decides whether an RE2 program matches anywhere in a byte string,
// building a deterministic automaton lazily, one state per set of program
// positions, as RE2 does. It answers only "is there a match": Go's regexp
// package, which simulates the NFA and whose cost grows with the size of
// the program at every byte, stays in use for match positions (counts,
// snippets, capture tags). SpamAssassin's obfuscation rules compile to
// programs of thousands of instructions; their DFA touches one table cell
// per byte.
//
// Input bytes are the characters U+0000–U+00FF of the byte-string view
// (latin1View), so the DFA runs on the original bytes. Assertions (^, $,
// \A, \z, \b, \B) are resolved between two characters, from flags the
// state keeps about the previous one.
type dfa struct {
	prog     *syntax.Prog
	anchored bool // the program can only match at the start of the text
	// classOf maps a byte to its equivalence class: bytes every
	// instruction treats alike and that agree on being a word character
	// and a newline.
	classOf  [256]uint8
	nclass   int
	classRep []byte // a byte of each class
	// runeOK[pc] lists, per class, whether the rune instruction at pc
	// accepts it (nil for other instructions).
	runeOK [][]bool

	mu     sync.Mutex
	states []*dfaState
	index  map[string]int32
	// resets counts cache flushes; too many and the DFA gives up, leaving
	// the match to the NFA.
	resets  int
	gaveUp  bool
	scratch []uint32
}

type dfaState struct {
	key   string
	pcs   []uint32 // positions reached, before following empty transitions
	flags uint8
	// next by class: stateUnknown, stateMatch or a state index.
	next []int32
}

const (
	stateUnknown int32 = -2
	stateMatch   int32 = -1

	flagStart  uint8 = 1 // at the start of the text
	flagPrevNL uint8 = 2 // the previous byte was a newline
	flagPrevW  uint8 = 4 // the previous byte was a word character

	// maxDFAStates bounds one DFA's cache; a full cache is flushed.
	maxDFAStates = 2000
	// maxDFAResets: after this many flushes the pattern's state space is
	// too large to cache and the NFA is used instead.
	maxDFAResets = 20
)

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// newDFA prepares a DFA for an RE2 pattern.
func newDFA(pattern string) (*dfa, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	d := &dfa{prog: prog, anchored: prog.StartCond()&syntax.EmptyBeginText != 0, index: map[string]int32{}}
	// Byte classes: refine by every rune instruction's accept set, and by
	// word character and newline.
	sig := make([][]byte, 256)
	for c := 0; c < 256; c++ {
		s := []byte{0, 0}
		if isWordByte(byte(c)) {
			s[0] = 1
		}
		if c == '\n' {
			s[1] = 1
		}
		sig[c] = s
	}
	isRune := func(op syntax.InstOp) bool {
		return op == syntax.InstRune || op == syntax.InstRune1 || op == syntax.InstRuneAny || op == syntax.InstRuneAnyNotNL
	}
	for pc := range prog.Inst {
		in := &prog.Inst[pc]
		if !isRune(in.Op) {
			continue
		}
		for c := 0; c < 256; c++ {
			b := byte(0)
			if in.MatchRune(rune(c)) {
				b = 1
			}
			sig[c] = append(sig[c], b)
		}
	}
	classes := map[string]uint8{}
	for c := 0; c < 256; c++ {
		k := string(sig[c])
		id, ok := classes[k]
		if !ok {
			id = uint8(len(classes))
			classes[k] = id
			d.classRep = append(d.classRep, byte(c))
		}
		d.classOf[c] = id
	}
	d.nclass = len(classes)
	d.runeOK = make([][]bool, len(prog.Inst))
	for pc := range prog.Inst {
		in := &prog.Inst[pc]
		if !isRune(in.Op) {
			continue
		}
		ok := make([]bool, d.nclass)
		for cl, rep := range d.classRep {
			ok[cl] = in.MatchRune(rune(rep))
		}
		d.runeOK[pc] = ok
	}
	return d, nil
}

// match reports whether the program matches somewhere in s. ok is false
// when the DFA gave up on this pattern (the caller then uses the NFA).
func (d *dfa) match(s string) (matched, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gaveUp {
		return false, false
	}
	cur := d.state(nil, flagStart|flagPrevNL)
	for i := 0; i < len(s); i++ {
		c := s[i]
		cl := d.classOf[c]
		st := d.states[cur]
		nx := st.next[cl]
		if nx == stateUnknown {
			nx = d.step(cur, c)
			if d.gaveUp {
				return false, false
			}
		}
		if nx == stateMatch {
			return true, true
		}
		cur = nx
		if d.anchored && len(d.states[cur].pcs) == 0 {
			// Past the start of an anchored pattern with nothing left.
			return false, true
		}
	}
	return d.atEnd(d.states[cur]), true
}

// emptyContext returns the empty-width conditions between the previous byte
// (described by flags) and c (-1 at the end of the text).
func emptyContext(flags uint8, c int) syntax.EmptyOp {
	var op syntax.EmptyOp
	if flags&flagStart != 0 {
		op |= syntax.EmptyBeginText | syntax.EmptyBeginLine
	}
	if flags&flagPrevNL != 0 {
		op |= syntax.EmptyBeginLine
	}
	nextW := false
	if c < 0 {
		op |= syntax.EmptyEndText | syntax.EmptyEndLine
	} else {
		if c == '\n' {
			op |= syntax.EmptyEndLine
		}
		nextW = isWordByte(byte(c))
	}
	if (flags&flagPrevW != 0) != nextW {
		op |= syntax.EmptyWordBoundary
	} else {
		op |= syntax.EmptyNoWordBoundary
	}
	return op
}

// closure follows empty transitions from the state's positions (and, for
// an unanchored search, from the start) under the conditions op, and
// returns the rune instructions reached; matched reports a Match reached.
func (d *dfa) closure(st *dfaState, op syntax.EmptyOp) (runes []uint32, matched bool) {
	seen := make(map[uint32]bool, len(st.pcs)+8)
	stack := d.scratch[:0]
	stack = append(stack, st.pcs...)
	if !d.anchored || st.flags&flagStart != 0 {
		stack = append(stack, uint32(d.prog.Start))
	}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pc] {
			continue
		}
		seen[pc] = true
		in := &d.prog.Inst[pc]
		switch in.Op {
		case syntax.InstMatch:
			matched = true
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Arg, in.Out)
		case syntax.InstCapture, syntax.InstNop:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^op == 0 {
				stack = append(stack, in.Out)
			}
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			runes = append(runes, pc)
		}
	}
	d.scratch = stack
	return runes, matched
}

// step computes and caches the transition of state cur on byte c.
func (d *dfa) step(cur int32, c byte) int32 {
	st := d.states[cur]
	cl := d.classOf[c]
	runes, matched := d.closure(st, emptyContext(st.flags, int(c)))
	if matched {
		st.next[cl] = stateMatch
		return stateMatch
	}
	var next []uint32
	for _, pc := range runes {
		if d.runeOK[pc][cl] {
			next = append(next, d.prog.Inst[pc].Out)
		}
	}
	var flags uint8
	if c == '\n' {
		flags |= flagPrevNL
	}
	if isWordByte(c) {
		flags |= flagPrevW
	}
	if len(d.states) >= maxDFAStates {
		// Flush the cache, keeping nothing: the caller continues from
		// the new state.
		d.resets++
		if d.resets > maxDFAResets {
			d.gaveUp = true
			return stateUnknown
		}
		d.states = d.states[:0]
		d.index = map[string]int32{}
		id := d.state(next, flags)
		return id
	}
	id := d.state(next, flags)
	// The flush above may have dropped st; only cache into a live state.
	if int(cur) < len(d.states) && d.states[cur] == st {
		st.next[cl] = id
	}
	return id
}

// atEnd reports whether the state matches at the end of the text.
func (d *dfa) atEnd(st *dfaState) bool {
	_, matched := d.closure(st, emptyContext(st.flags, -1))
	return matched
}

// state returns the index of the state for a position set and flags,
// creating it.
func (d *dfa) state(pcs []uint32, flags uint8) int32 {
	sortDedupe(&pcs)
	key := make([]byte, 1, 1+4*len(pcs))
	key[0] = flags
	for _, pc := range pcs {
		key = append(key, byte(pc), byte(pc>>8), byte(pc>>16), byte(pc>>24))
	}
	k := string(key)
	if id, ok := d.index[k]; ok {
		return id
	}
	st := &dfaState{key: k, pcs: append([]uint32(nil), pcs...), flags: flags, next: make([]int32, d.nclass)}
	for i := range st.next {
		st.next[i] = stateUnknown
	}
	id := int32(len(d.states))
	d.states = append(d.states, st)
	d.index[k] = id
	return id
}

func sortDedupe(p *[]uint32) {
	s := *p
	// Insertion sort: the sets are small.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	*p = out
}
