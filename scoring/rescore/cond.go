package rescore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// cond evaluates the expression of a SpamAssassin "if" line under the
// loader's model of the running SpamAssassin:
//
//   - plugin(NAME) is true: the table is only consulted for rules that
//     fired, and a rule that fired was defined, so its plugin was loaded;
//   - can(NAME) and has(NAME) are true (the feature_* and has_* probes of a
//     current SpamAssassin), except can(…::compat_X), which is true only
//     after "enable_compat X", as in SpamAssassin 4;
//   - version is l.version, perl_version is 5.036, local_tests_only is
//     true (score set 0 is the no-network set).
//
// The grammar is the subset of Perl SpamAssassin accepts there: "!", "&&",
// "||", parentheses, comparisons and numbers.
func (l *loader) cond(expr string) (bool, error) {
	toks, err := condTokens(expr)
	if err != nil {
		return false, err
	}
	p := condParser{toks: toks, l: l}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	if p.i != len(p.toks) {
		return false, fmt.Errorf("unexpected %q in condition", p.toks[p.i])
	}
	return v != 0, nil
}

func condTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case strings.IndexByte("!<>=&|", c) >= 0:
			j := i + 1
			for j < len(s) && j-i < 2 && strings.IndexByte("=&|", s[j]) >= 0 {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case isWordByte(c) || c == '.' || c == '-':
			j := i + 1
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.' || s[j] == ':') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q in condition", c)
		}
	}
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

type condParser struct {
	toks []string
	i    int
	l    *loader
}

var errCondEnd = errors.New("condition ends early")

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *condParser) next() (string, error) {
	if p.i >= len(p.toks) {
		return "", errCondEnd
	}
	p.i++
	return p.toks[p.i-1], nil
}

func (p *condParser) or() (float64, error) {
	v, err := p.and()
	for err == nil && p.peek() == "||" {
		p.i++
		var w float64
		w, err = p.and()
		v = truth(v != 0 || w != 0)
	}
	return v, err
}

func (p *condParser) and() (float64, error) {
	v, err := p.cmp()
	for err == nil && p.peek() == "&&" {
		p.i++
		var w float64
		w, err = p.cmp()
		v = truth(v != 0 && w != 0)
	}
	return v, err
}

func (p *condParser) cmp() (float64, error) {
	v, err := p.unary()
	if err != nil {
		return 0, err
	}
	switch op := p.peek(); op {
	case ">=", "<=", ">", "<", "==", "!=":
		p.i++
		w, err := p.unary()
		if err != nil {
			return 0, err
		}
		switch op {
		case ">=":
			return truth(v >= w), nil
		case "<=":
			return truth(v <= w), nil
		case ">":
			return truth(v > w), nil
		case "<":
			return truth(v < w), nil
		case "==":
			return truth(v == w), nil
		default:
			return truth(v != w), nil
		}
	}
	return v, nil
}

func (p *condParser) unary() (float64, error) {
	t, err := p.next()
	if err != nil {
		return 0, err
	}
	switch t {
	case "!":
		v, err := p.unary()
		return truth(v == 0), err
	case "(":
		v, err := p.or()
		if err != nil {
			return 0, err
		}
		if c, err := p.next(); err != nil || c != ")" {
			return 0, errors.New("unbalanced parenthesis in condition")
		}
		return v, nil
	case "version":
		return p.l.version, nil
	case "perl_version":
		return 5.036, nil
	case "local_tests_only":
		return 1, nil
	case "plugin", "can", "has":
		if o, err := p.next(); err != nil || o != "(" {
			return 0, fmt.Errorf("%s without (NAME)", t)
		}
		name, err := p.next()
		if err != nil {
			return 0, err
		}
		if c, err := p.next(); err != nil || c != ")" {
			return 0, fmt.Errorf("%s(%s without )", t, name)
		}
		if t == "can" {
			if i := strings.LastIndex(name, "::compat_"); i >= 0 {
				return truth(p.l.compat[name[i+len("::compat_"):]]), nil
			}
		}
		return 1, nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return f, nil
	}
	return 0, fmt.Errorf("unknown %q in condition", t)
}

func truth(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
