package rules

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// MetaExpr is a parsed meta rule expression: Perl's boolean and arithmetic
// operators over rule names, where a rule's value is its hit count (0 when
// it did not hit or is not defined).
type MetaExpr struct {
	// Source is the expression as written.
	Source string
	root   *metaNode
	// Deps are the rule names the expression reads, sorted, unique.
	Deps []string
}

type metaOp uint8

const (
	mNum metaOp = iota
	mRule
	mNot
	mNeg
	mAnd
	mOr
	mAdd
	mSub
	mMul
	mDiv
	mLT
	mLE
	mGT
	mGE
	mEQ
	mNE
)

type metaNode struct {
	op   metaOp
	num  float64
	name string
	rule int // index into the values slice, set by bind; -1 if undefined
	a, b *metaNode
}

// maxMetaDepth bounds expression nesting.
const maxMetaDepth = 200

// ParseMeta parses a meta expression. names lists every rule name (for
// rules_matching()); it may be nil.
func ParseMeta(src string, names []string) (*MetaExpr, error) {
	toks, err := metaTokens(src, names)
	if err != nil {
		return nil, err
	}
	p := &metaParser{toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.i])
	}
	seen := map[string]bool{}
	var walk func(n *metaNode)
	walk = func(n *metaNode) {
		if n == nil {
			return
		}
		if n.op == mRule {
			seen[n.name] = true
		}
		walk(n.a)
		walk(n.b)
	}
	walk(root)
	deps := make([]string, 0, len(seen))
	for d := range seen {
		deps = append(deps, d)
	}
	sort.Strings(deps)
	return &MetaExpr{Source: src, root: root, Deps: deps}, nil
}

// metaTokens splits an expression into tokens, expanding
// rules_matching(GLOB) into a parenthesised sum of the matching names.
func metaTokens(s string, names []string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case isWordRune(rune(c)) || c == '.':
			j := i
			for j < len(s) && (isWordRune(rune(s[j])) || s[j] == '.') {
				j++
			}
			word := s[i:j]
			if word == "rules_matching" {
				k := j
				for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
					k++
				}
				if k >= len(s) || s[k] != '(' {
					return nil, fmt.Errorf("rules_matching without (")
				}
				end := strings.IndexByte(s[k:], ')')
				if end < 0 {
					return nil, fmt.Errorf("rules_matching( without )")
				}
				glob := strings.TrimSpace(s[k+1 : k+end])
				var matched []string
				for _, n := range names {
					if ok, _ := path.Match(glob, n); ok {
						matched = append(matched, n)
					}
				}
				sort.Strings(matched)
				toks = append(toks, "(")
				if len(matched) == 0 {
					toks = append(toks, "0")
				}
				for m, n := range matched {
					if m > 0 {
						toks = append(toks, "+")
					}
					toks = append(toks, n)
				}
				toks = append(toks, ")")
				i = k + end + 1
				continue
			}
			toks = append(toks, word)
			i = j
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "&&", "||", "<=", ">=", "==", "!=":
				toks = append(toks, two)
				i += 2
				continue
			}
			switch c {
			case '(', ')', '!', '+', '-', '*', '/', '<', '>':
				toks = append(toks, string(c))
				i++
			default:
				return nil, fmt.Errorf("unexpected character %q", c)
			}
		}
	}
	return toks, nil
}

type metaParser struct {
	toks  []string
	i     int
	depth int
}

func (p *metaParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *metaParser) binary(next func() (*metaNode, error), ops map[string]metaOp) (*metaNode, error) {
	a, err := next()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := ops[p.peek()]
		if !ok {
			return a, nil
		}
		p.i++
		b, err := next()
		if err != nil {
			return nil, err
		}
		a = &metaNode{op: op, a: a, b: b}
	}
}

var (
	orOps  = map[string]metaOp{"||": mOr}
	andOps = map[string]metaOp{"&&": mAnd}
	eqOps  = map[string]metaOp{"==": mEQ, "!=": mNE}
	relOps = map[string]metaOp{"<": mLT, "<=": mLE, ">": mGT, ">=": mGE}
	addOps = map[string]metaOp{"+": mAdd, "-": mSub}
	mulOps = map[string]metaOp{"*": mMul, "/": mDiv}
)

// Perl precedence, loosest first: || && == != < <= > >= + - * / then
// unary ! and -.
func (p *metaParser) or() (*metaNode, error)  { return p.binary(p.and, orOps) }
func (p *metaParser) and() (*metaNode, error) { return p.binary(p.eq, andOps) }
func (p *metaParser) eq() (*metaNode, error)  { return p.binary(p.rel, eqOps) }
func (p *metaParser) rel() (*metaNode, error) { return p.binary(p.add, relOps) }
func (p *metaParser) add() (*metaNode, error) { return p.binary(p.mul, addOps) }
func (p *metaParser) mul() (*metaNode, error) { return p.binary(p.unary, mulOps) }

func (p *metaParser) unary() (*metaNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxMetaDepth {
		return nil, fmt.Errorf("expression nested too deeply")
	}
	t := p.peek()
	switch t {
	case "":
		return nil, fmt.Errorf("unexpected end of expression")
	case "!":
		p.i++
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &metaNode{op: mNot, a: a}, nil
	case "-":
		p.i++
		a, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &metaNode{op: mNeg, a: a}, nil
	case "+":
		p.i++
		return p.unary()
	case "(":
		p.i++
		a, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return a, nil
	}
	p.i++
	if c := t[0]; c >= '0' && c <= '9' || c == '.' {
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t)
		}
		return &metaNode{op: mNum, num: f}, nil
	}
	if !validRuleName(t) {
		return nil, fmt.Errorf("unexpected %q", t)
	}
	return &metaNode{op: mRule, name: t, rule: -1}, nil
}

// bind resolves rule names to indexes in the value slice.
func (m *MetaExpr) bind(index map[string]int) {
	var walk func(n *metaNode)
	walk = func(n *metaNode) {
		if n == nil {
			return
		}
		if n.op == mRule {
			if i, ok := index[n.name]; ok {
				n.rule = i
			} else {
				n.rule = -1
			}
		}
		walk(n.a)
		walk(n.b)
	}
	walk(m.root)
}

// eval computes the expression over rule values (hit counts).
func (m *MetaExpr) eval(values []float64) float64 { return evalMeta(m.root, values) }

func evalMeta(n *metaNode, v []float64) float64 {
	switch n.op {
	case mNum:
		return n.num
	case mRule:
		if n.rule < 0 {
			return 0
		}
		return v[n.rule]
	case mNot:
		return b2f(evalMeta(n.a, v) == 0)
	case mNeg:
		return -evalMeta(n.a, v)
	case mAnd:
		// Perl's && yields the left value when false, else the right.
		a := evalMeta(n.a, v)
		if a == 0 {
			return a
		}
		return evalMeta(n.b, v)
	case mOr:
		a := evalMeta(n.a, v)
		if a != 0 {
			return a
		}
		return evalMeta(n.b, v)
	}
	a, b := evalMeta(n.a, v), evalMeta(n.b, v)
	switch n.op {
	case mAdd:
		return a + b
	case mSub:
		return a - b
	case mMul:
		return a * b
	case mDiv:
		if b == 0 {
			// Perl dies on division by zero; SpamAssassin then treats
			// the meta rule as not hit.
			return 0
		}
		return a / b
	case mLT:
		return b2f(a < b)
	case mLE:
		return b2f(a <= b)
	case mGT:
		return b2f(a > b)
	case mGE:
		return b2f(a >= b)
	case mEQ:
		return b2f(a == b)
	case mNE:
		return b2f(a != b)
	}
	return 0
}
