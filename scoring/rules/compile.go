package rules

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// finish turns the accumulated definitions into a checked Ruleset.
func (l *loader) finish() *Ruleset {
	rs := &Ruleset{
		byName:        map[string]*Rule{},
		Threshold:     l.threshold,
		freemail:      l.freemail,
		freemailWL:    l.freemailWL,
		uriHostLists:  l.uriHostLists,
		addrLists:     l.addrLists,
		tlds:          l.tlds,
		twoLevel:      l.twoLevel,
		threeLevel:    l.threeLevel,
		redirectors:   l.redirectors,
		welcomeFrom:   l.welcomeFrom,
		blocklistFrom: l.blocklistFrom,
		okLocales:     l.okLocales,
	}
	defs := make([]*ruleDef, 0, len(l.defs))
	var names []string
	for _, d := range l.defs {
		if d.defined {
			defs = append(defs, d)
			names = append(names, d.name)
		}
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].order < defs[j].order })
	sort.Strings(names)

	dropped := map[string]string{} // name → reason
	for _, d := range defs {
		r, err := l.compileRule(d, names, rs)
		if err != nil {
			var dr errDrop
			if errors.As(err, &dr) {
				dropped[d.name] = dr.reason
				l.lint.drop(d.src, d.name, d.kind.String(), dr.reason)
				continue
			}
			l.lint.skip(d.src, d.name, d.kind.String(), err.Error())
			continue
		}
		rs.Rules = append(rs.Rules, r)
	}

	// Meta rules that can only hit through dropped (network or Bayes)
	// rules are dropped too; repeat until nothing changes.
	for changed := true; changed; {
		changed = false
		kept := rs.Rules[:0]
		for _, r := range rs.Rules {
			if r.Kind == KindMeta && metaNeedsDropped(r.Meta, dropped) {
				reason := "depends only on network or Bayes rules"
				dropped[r.Name] = reason
				l.lint.drop(r.Source, r.Name, "meta", reason)
				changed = true
				continue
			}
			kept = append(kept, r)
		}
		rs.Rules = kept
	}

	for i, r := range rs.Rules {
		r.index = i
		rs.byName[r.Name] = r
	}
	l.order2(rs)
	for _, r := range rs.Rules {
		if r.TFlags.Net || r.TFlags.Learn {
			l.lint.NetFlaggedKept = append(l.lint.NetFlaggedKept, r.Name)
		}
		if r.Eval != nil {
			l.lint.Loaded["eval"]++
		} else {
			l.lint.Loaded[r.Kind.String()]++
		}
		if r.Pattern != nil {
			if r.Pattern.Exact() {
				l.lint.Regex.RE2++
			} else {
				l.lint.Regex.Backtracking++
				for _, f := range r.Pattern.Translation.Features {
					l.lint.Regex.Features[f]++
				}
			}
		}
	}
	l.lint.LoadedTotal = len(rs.Rules)
	rs.pre = buildPrefilter(rs)
	l.lint.sortFindings()
	return rs
}

// metaNeedsDropped reports whether every rule a meta reads was dropped and
// the meta is false while they are all unset.
func metaNeedsDropped(m *MetaExpr, dropped map[string]string) bool {
	if len(m.Deps) == 0 {
		return false
	}
	for _, d := range m.Deps {
		if _, ok := dropped[d]; !ok {
			return false
		}
	}
	m.bind(map[string]int{})
	return m.eval(nil) == 0
}

// errDrop marks a rule left out of score set 0.
type errDrop struct{ reason string }

func (e errDrop) Error() string { return e.reason }

// order2 computes the evaluation order: non-meta rules by priority (then
// definition order), then meta rules so that each follows the rules it
// reads. Rules in a dependency cycle are removed and reported.
func (l *loader) order2(rs *Ruleset) {
	index := make(map[string]int, len(rs.Rules))
	for i, r := range rs.Rules {
		index[r.Name] = i
	}
	var plain, metas []*Rule
	for _, r := range rs.Rules {
		if r.Kind == KindMeta {
			metas = append(metas, r)
		} else {
			plain = append(plain, r)
		}
	}
	sort.SliceStable(plain, func(i, j int) bool { return plain[i].Priority < plain[j].Priority })

	// Topological order of metas (depth-first; grey marks detect cycles).
	const (
		white = iota
		grey
		black
	)
	state := map[string]int{}
	var order []*Rule
	inCycle := map[string]bool{}
	var visit func(r *Rule, stack []string)
	visit = func(r *Rule, stack []string) {
		switch state[r.Name] {
		case black:
			return
		case grey:
			// Cycle: every rule on the stack from r onwards.
			for i := len(stack) - 1; i >= 0; i-- {
				inCycle[stack[i]] = true
				if stack[i] == r.Name {
					break
				}
			}
			return
		}
		state[r.Name] = grey
		stack = append(stack, r.Name)
		for _, d := range r.Meta.Deps {
			if i, ok := index[d]; ok && rs.Rules[i].Kind == KindMeta {
				visit(rs.Rules[i], stack)
			}
		}
		state[r.Name] = black
		order = append(order, r)
	}
	for _, m := range metas {
		visit(m, nil)
	}
	if len(inCycle) > 0 {
		var cyc []string
		for n := range inCycle {
			cyc = append(cyc, n)
		}
		sort.Strings(cyc)
		kept := rs.Rules[:0]
		for _, r := range rs.Rules {
			if inCycle[r.Name] {
				l.lint.skip(r.Source, r.Name, "meta", "meta dependency cycle: "+strings.Join(cyc, ", "))
				continue
			}
			kept = append(kept, r)
		}
		rs.Rules = kept
		rs.byName = map[string]*Rule{}
		for i, r := range rs.Rules {
			r.index = i
			rs.byName[r.Name] = r
		}
		var o []*Rule
		for _, r := range order {
			if !inCycle[r.Name] {
				o = append(o, r)
			}
		}
		order = o
	}
	index = make(map[string]int, len(rs.Rules))
	for i, r := range rs.Rules {
		index[r.Name] = i
	}
	for _, r := range rs.Rules {
		if r.Meta != nil {
			r.Meta.bind(index)
		}
	}
	rs.order = append(plain, order...)
}

// defaultScore is SpamAssassin's score for a rule no score line names.
func defaultScore(name string, nice bool) float64 {
	switch {
	case strings.HasPrefix(name, "__"):
		return 0
	case strings.HasPrefix(name, "T_"):
		return 0.01
	case nice:
		return -1
	}
	return 1
}

var headerRuleRE = regexp.MustCompile(`^([^\s=!~]+)\s*([=!]~)\s*(.*?)\s*(?:\[\s*if-unset:\s+(.*)\])?$`)

// compileRule builds one rule from its definition.
func (l *loader) compileRule(d *ruleDef, names []string, rs *Ruleset) (*Rule, error) {
	r := &Rule{
		Name:        d.name,
		Kind:        d.kind,
		Source:      d.src,
		Description: d.describe,
		TFlags:      d.tflags,
		Priority:    d.priority,
		Score:       d.score,
		ScoreSet:    d.scoreSet,
	}
	if !d.scoreSet {
		r.Score = defaultScore(d.name, d.tflags.Nice)
	}
	// tflags net and learn alone do not drop a rule: SpamAssassin -L
	// still runs a rule so flagged when it makes no network or Bayes test
	// itself (a meta over local rules, a pattern); the rules that do are
	// dropped by what they call (network evals) or read (metas below).
	if d.scoreSet && d.score == 0 {
		// SpamAssassin does not run a rule scored 0.
		return nil, errDrop{"score 0 in set 0: disabled"}
	}
	value := d.value
	if d.replaceTags && d.kind != KindMeta {
		value = l.replaceTags(value)
	}
	switch d.kind {
	case KindMeta:
		m, err := ParseMeta(value, names)
		if err != nil {
			return nil, skipf("meta expression: %v", err)
		}
		r.Meta = m
		return r, nil
	case KindHeader, KindMIMEHeader:
		if strings.HasPrefix(value, "eval:") {
			if d.kind == KindMIMEHeader {
				return nil, skipf("mimeheader eval: not supported")
			}
			return r, l.bindEval(r, value, rs)
		}
		if d.kind == KindHeader && strings.HasPrefix(value, "exists:") {
			r.Header = HeaderSelector{Name: strings.TrimSpace(value[len("exists:"):]), Exists: true}
			if r.Header.Name == "" {
				return nil, skipf("exists: without a header name")
			}
			return r, nil
		}
		m := headerRuleRE.FindStringSubmatch(value)
		if m == nil {
			return nil, skipf("header rule: want NAME =~ /pattern/")
		}
		sel, err := parseHeaderSpec(m[1])
		if err != nil {
			return nil, err
		}
		if m[4] != "" || strings.Contains(value, "[if-unset:") {
			sel.IfUnset, sel.HasIfUnset = strings.TrimSpace(m[4]), true
		}
		r.Header = sel
		r.Negate = m[2] == "!~"
		return r, l.compilePattern(r, m[3])
	default:
		if strings.HasPrefix(value, "eval:") {
			return r, l.bindEval(r, value, rs)
		}
		return r, l.compilePattern(r, value)
	}
}

// compilePattern compiles a rule's regex, recording why it cannot run.
func (l *loader) compilePattern(r *Rule, perl string) error {
	if hasTemplate(perl) {
		// Capture-tag templates (%{NAME}) are filled per message; the
		// pattern is checked here with an empty tag.
		if _, err := CompileRegex(fillTemplate(perl, map[string]string{})); err != nil {
			l.lint.Regex.Unsupported++
			return skipf("regex: %v", err)
		}
		r.Pattern = &Regexp{Source: perl, template: true}
		return nil
	}
	re, err := CompileRegex(perl)
	if err != nil {
		l.lint.Regex.Unsupported++
		return skipf("regex: %v", err)
	}
	r.Pattern = re
	if re.captures() && r.Priority > -10000 {
		// SpamAssassin runs rules that set capture tags first.
		r.Priority = -10000
	}
	return nil
}

// parseHeaderSpec reads "Name:mod:mod".
func parseHeaderSpec(spec string) (HeaderSelector, error) {
	parts := strings.Split(spec, ":")
	sel := HeaderSelector{Name: parts[0]}
	if sel.Name == "" {
		return sel, skipf("header rule without a header name")
	}
	for _, mod := range parts[1:] {
		switch strings.ToLower(mod) {
		case "raw":
			sel.Raw = true
		case "addr":
			sel.Addr = true
		case "name":
			sel.DisplayName = true
		case "host":
			sel.Host = true
		case "domain":
			sel.Dom = true
		case "ip", "revip", "first", "last":
			return sel, skipf("header modifier :%s not supported", mod)
		default:
			return sel, skipf("unknown header modifier :%s", mod)
		}
	}
	return sel, nil
}

// replaceTags expands ReplaceTags tags (<A>, with <pre X>, <inter X> and
// <post X> selections) in a rule's pattern. Tag values may use other tags;
// expansion repeats until nothing changes (at most 10 rounds).
func (l *loader) replaceTags(v string) string {
	for i := 0; i < 10; i++ {
		next := l.replaceTagsOnce(v)
		if next == v {
			break
		}
		v = next
	}
	return v
}

func (l *loader) replaceTagsOnce(v string) string {
	st, en := l.replaceStart, l.replaceEnd
	if st == "" || en == "" {
		return v
	}
	var pre, inter, post string
	for _, sel := range []struct {
		kind string
		m    map[string]string
		dst  *string
	}{{"pre", l.replacePre, &pre}, {"inter", l.replaceInter, &inter}, {"post", l.replacePost, &post}} {
		for {
			i := strings.Index(v, st+sel.kind+" ")
			if i < 0 {
				break
			}
			j := strings.Index(v[i:], en)
			if j < 0 {
				break
			}
			name := strings.TrimSpace(v[i+len(st)+len(sel.kind)+1 : i+j])
			*sel.dst = sel.m[name]
			v = v[:i] + v[i+j+len(en):]
		}
	}
	var b strings.Builder
	lastTag := false
	for i := 0; i < len(v); {
		if strings.HasPrefix(v[i:], st) {
			if j := strings.Index(v[i+len(st):], en); j > 0 {
				name := v[i+len(st) : i+len(st)+j]
				if val, ok := l.replaceTag[name]; ok {
					if lastTag {
						b.WriteString(inter)
					}
					b.WriteString(pre + val + post)
					lastTag = true
					i += len(st) + j + len(en)
					continue
				}
			}
		}
		b.WriteByte(v[i])
		lastTag = false
		i++
	}
	return b.String()
}

// bindEval parses "eval:func(args)" and binds the implementation.
func (l *loader) bindEval(r *Rule, value string, rs *Ruleset) error {
	call, err := parseEvalCall(value[len("eval:"):])
	if err != nil {
		return skipf("eval: %v", err)
	}
	r.Eval = call
	spec, ok := evalRegistry[call.Func]
	if !ok {
		return skipf("unknown eval: %s", call.Func)
	}
	if spec.network != "" {
		return errDrop{fmt.Sprintf("eval %s: %s", call.Func, spec.network)}
	}
	fn, err := spec.build(&evalEnv{rs: rs, kind: r.Kind}, call.Args)
	if err != nil {
		return skipf("eval %s: %v", call.Func, err)
	}
	r.evalFn = fn
	return nil
}

// parseEvalCall reads "name(arg, 'arg', \"arg\")".
func parseEvalCall(s string) (*EvalCall, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if validRuleName(s) {
			return &EvalCall{Func: s}, nil
		}
		return nil, fmt.Errorf("want name(args)")
	}
	if !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("missing ) in %q", truncate(s, 60))
	}
	call := &EvalCall{Func: strings.TrimSpace(s[:open])}
	if !validRuleName(call.Func) {
		return nil, fmt.Errorf("bad function name %q", call.Func)
	}
	args := s[open+1 : len(s)-1]
	for i := 0; i < len(args); {
		c := args[i]
		switch {
		case c == ' ' || c == '\t' || c == ',':
			i++
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(args) && args[j] != c {
				if args[j] == '\\' && j+1 < len(args) && (args[j+1] == c || args[j+1] == '\\') {
					j++
				}
				b.WriteByte(args[j])
				j++
			}
			if j >= len(args) {
				return nil, fmt.Errorf("unterminated string argument")
			}
			call.Args = append(call.Args, b.String())
			i = j + 1
		default:
			j := i
			for j < len(args) && args[j] != ',' {
				j++
			}
			call.Args = append(call.Args, strings.TrimSpace(args[i:j]))
			i = j
		}
	}
	return call, nil
}

// hasTemplate reports whether a pattern uses a capture tag %{NAME}.
func hasTemplate(p string) bool {
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == '{' && (i == 0 || p[i-1] != '\\') {
			if j := strings.IndexByte(p[i:], '}'); j > 2 && validRuleName(p[i+2:i+j]) {
				return true
			}
		}
	}
	return false
}

// templateTags lists the tags a pattern uses.
func templateTags(p string) []string {
	var out []string
	for i := 0; i+1 < len(p); i++ {
		if p[i] == '%' && p[i+1] == '{' && (i == 0 || p[i-1] != '\\') {
			if j := strings.IndexByte(p[i:], '}'); j > 2 && validRuleName(p[i+2:i+j]) {
				out = append(out, p[i+2:i+j])
			}
		}
	}
	return out
}

// fillTemplate replaces %{NAME} with the quoted tag value.
func fillTemplate(p string, tags map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+1 < len(p) && p[i+1] == '{' && (i == 0 || p[i-1] != '\\') {
			if j := strings.IndexByte(p[i:], '}'); j > 2 && validRuleName(p[i+2:i+j]) {
				b.WriteString(quotePerl(tags[p[i+2:i+j]]))
				i += j
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// quotePerl escapes s for a Perl pattern, as \Q…\E would.
func quotePerl(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isWordRune(rune(c)) && c < 0x80 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
