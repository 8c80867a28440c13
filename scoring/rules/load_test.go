package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRules writes rule files into a temporary directory.
func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func findSkip(l []Finding, rule string) *Finding {
	for i := range l {
		if l[i].Rule == rule {
			return &l[i]
		}
	}
	return nil
}

func TestLoadDirectives(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"20_a.cf": `
# a comment
header   HDR_SUBJ   Subject =~ /free \#1/i   # trailing comment
describe HDR_SUBJ   Subject says free number one
score    HDR_SUBJ   2.5
body     BODY_X     /viagra/i
score    BODY_X     1.0 2.0 3.0 4.0
tflags   BODY_X     multiple maxhits=3
uri      URI_Y      /example\.com/
rawbody  RAW_Z      /<blink>/i
full     FULL_W     /^X-Foo: bar/m
header   __SUB      exists:X-Mailer
meta     META_M     (HDR_SUBJ && !BODY_X) || __SUB
meta     META_A     (BODY_X + URI_Y) >= 2
header   NEG_N      From !~ /@/ [if-unset: nobody@example.com]
mimeheader MIME_M   Content-Type =~ /html/
tflags   MIME_M     range=2-
priority BODY_X     -5
header   T_TESTING  Subject =~ /x/
header   NICE_ONE   Subject =~ /y/
tflags   NICE_ONE   nice
header   ZERO_ONE   Subject =~ /z/
score    ZERO_ONE   0
score    RELATIVE   (2)
required_score 6.5
`,
		"30_b.cf": `
# later files override
score HDR_SUBJ 3.0
`,
		"README": "not a rule file\n",
	})
	rs, lint, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Threshold != 6.5 {
		t.Errorf("threshold = %v, want 6.5", rs.Threshold)
	}
	h := rs.Rule("HDR_SUBJ")
	if h == nil || h.Score != 3.0 || h.Description != "Subject says free number one" || h.Header.Name != "Subject" {
		t.Fatalf("HDR_SUBJ = %+v", h)
	}
	if ok, _ := h.Pattern.match(newText("get FREE #1 now")); !ok {
		t.Error(`HDR_SUBJ: \# should stand for #`)
	}
	b := rs.Rule("BODY_X")
	if b.Score != 1.0 || !b.TFlags.Multiple || b.TFlags.MaxHits != 3 || b.Priority != -5 {
		t.Errorf("BODY_X = score %v tflags %+v priority %d", b.Score, b.TFlags, b.Priority)
	}
	if r := rs.Rule("T_TESTING"); r.Score != 0.01 {
		t.Errorf("T_ default score %v, want 0.01", r.Score)
	}
	if r := rs.Rule("NICE_ONE"); r.Score != -1 {
		t.Errorf("nice default score %v, want -1", r.Score)
	}
	if r := rs.Rule("__SUB"); r.Score != 0 || !r.Header.Exists {
		t.Errorf("__SUB = %+v", r)
	}
	if rs.Rule("ZERO_ONE") != nil || findSkip(lint.Dropped, "ZERO_ONE") == nil {
		t.Error("a rule scored 0 must be dropped and reported")
	}
	if n := rs.Rule("NEG_N"); !n.Negate || !n.Header.HasIfUnset || n.Header.IfUnset != "nobody@example.com" {
		t.Errorf("NEG_N = %+v", n)
	}
	if m := rs.Rule("MIME_M"); m.Kind != KindMIMEHeader || m.TFlags.RangeLo != 2 || m.TFlags.RangeHi != 0 {
		t.Errorf("MIME_M = %+v", m)
	}
	for kind, want := range map[string]int{"header": 5, "body": 1, "uri": 1, "rawbody": 1, "full": 1, "meta": 2, "mimeheader": 1} {
		if lint.Loaded[kind] != want {
			t.Errorf("loaded %s = %d, want %d (%v)", kind, lint.Loaded[kind], want, lint.Loaded)
		}
	}
	// The meta rules come after their inputs in the evaluation order.
	pos := map[string]int{}
	for i, r := range rs.order {
		pos[r.Name] = i
	}
	if pos["META_M"] < pos["HDR_SUBJ"] || pos["META_M"] < pos["__SUB"] {
		t.Error("meta evaluated before its inputs")
	}
	if pos["BODY_X"] > pos["HDR_SUBJ"] {
		t.Error("priority -5 should run before priority 0")
	}
}

func TestLoadConditionals(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.cf": `
ifplugin Mail::SpamAssassin::Plugin::HeaderEval
  header IN_PLUGIN Subject =~ /a/
endif
ifplugin Mail::SpamAssassin::Plugin::NoSuchPlugin
  header NOT_LOADED Subject =~ /a/
else
  header ELSE_BRANCH Subject =~ /a/
endif
if (version >= 3.004000)
  header NEW_ENOUGH Subject =~ /a/
endif
if (version < 3.000000)
  header TOO_OLD Subject =~ /a/
endif
if !plugin(Mail::SpamAssassin::Plugin::DKIM)
  header NO_DKIM Subject =~ /a/
endif
if can(Mail::SpamAssassin::Conf::feature_bug6558_free) && perl_version >= 5.010000
  header FEATURE Subject =~ /a/
endif
if can(Mail::SpamAssassin::Conf::feature_nonexistent)
  header NO_FEATURE Subject =~ /a/
endif
if (version >= 3.004000)
  if !plugin(Mail::SpamAssassin::Plugin::HeaderEval)
    header NESTED_FALSE Subject =~ /a/
  else
    header NESTED_TRUE Subject =~ /a/
  endif
endif
include sub/inc.cf
lang de describe IN_PLUGIN Deutsch
endif
`,
		"sub/inc.cf": "header INCLUDED Subject =~ /a/\nif (version >= 4)\n",
	})
	rs, lint, err := Load(filepath.Join(dir, "a.cf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"IN_PLUGIN", "ELSE_BRANCH", "NEW_ENOUGH", "FEATURE", "NESTED_TRUE", "INCLUDED"} {
		if rs.Rule(n) == nil {
			t.Errorf("%s not loaded", n)
		}
	}
	for _, n := range []string{"NOT_LOADED", "TOO_OLD", "NO_DKIM", "NO_FEATURE", "NESTED_FALSE"} {
		if rs.Rule(n) != nil {
			t.Errorf("%s loaded", n)
		}
	}
	var sawUnclosed, sawEndif bool
	for _, p := range lint.Problems {
		if strings.Contains(p.Reason, "without endif") && strings.HasSuffix(p.Source.File, "inc.cf") {
			sawUnclosed = true
		}
		if strings.Contains(p.Reason, "endif without if") {
			sawEndif = true
		}
	}
	if !sawUnclosed || !sawEndif {
		t.Errorf("problems %+v: want an unclosed if in inc.cf and a stray endif", lint.Problems)
	}
	if rs.Rule("IN_PLUGIN").Description != "" {
		t.Error("lang lines must not replace the description")
	}
}

func TestLoadSkipsWithReasons(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.cf": `
header UNKNOWN_EVAL    eval:check_something_mailrep_lacks()
header NET_EVAL        eval:check_rbl('x', 'zen.spamhaus.org.')
tflags NET_EVAL        net
meta   ONLY_NET        NET_EVAL
body   BAD_REGEX       /(unclosed/
body   PERL_ONLY       /\Gfoo/
meta   CYCLE_A         CYCLE_B && HDR
meta   CYCLE_B         CYCLE_A
header HDR             Subject =~ /x/
meta   BAD_META        HDR &&& HDR
header BAD_HEADER      Subject ~= /x/
body   EMPTY
report this is ignored
bayes_ignore_header X-Foo
`,
	})
	rs, lint, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for rule, want := range map[string]string{
		"UNKNOWN_EVAL": "unknown eval: check_something_mailrep_lacks",
		"BAD_REGEX":    "regex:",
		"PERL_ONLY":    "unsupported Perl regex feature",
		"CYCLE_A":      "meta dependency cycle",
		"CYCLE_B":      "meta dependency cycle",
		"BAD_META":     "meta expression",
		"BAD_HEADER":   "header rule",
		"EMPTY":        "definition is empty",
	} {
		f := findSkip(lint.Skipped, rule)
		if f == nil || !strings.Contains(f.Reason, want) {
			t.Errorf("%s: skip %+v, want reason containing %q", rule, f, want)
			continue
		}
		if f.Source.Line == 0 || !strings.HasSuffix(f.Source.File, "a.cf") {
			t.Errorf("%s: source %v", rule, f.Source)
		}
		if rs.Rule(rule) != nil {
			t.Errorf("%s loaded although skipped", rule)
		}
	}
	for _, rule := range []string{"NET_EVAL", "ONLY_NET"} {
		if findSkip(lint.Dropped, rule) == nil || rs.Rule(rule) != nil {
			t.Errorf("%s should be dropped from score set 0", rule)
		}
	}
	if rs.Rule("HDR") == nil {
		t.Error("HDR not loaded")
	}
	got := map[string]int{}
	for _, ig := range lint.Ignored {
		got[ig.Directive] = ig.Count
	}
	if got["report"] != 1 || got["bayes_ignore_header"] != 1 {
		t.Errorf("ignored = %+v", lint.Ignored)
	}
}

func TestLoadReplaceTags(t *testing.T) {
	dir := writeRules(t, map[string]string{
		"a.cf": `
replace_start <
replace_end   >
replace_tag   A   [a@]
replace_tag   G   [gk]
replace_tag   NUM <D>+
replace_tag   D   [0-9]
replace_inter SP  [\s_-]?
replace_post  P2  {1,2}
body   OBFU   /<inter SP><post P2><A><G><A>/i
body   NESTED /price <NUM>/
body   PLAIN  /<A>/
replace_rules OBFU NESTED
`,
	})
	rs, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, cases := range map[string]map[string]bool{
		"OBFU":   {"aga": true, "@-g_@": true, "aagg@": true, "abc": false},
		"NESTED": {"price 42": true, "price x": false},
		"PLAIN":  {"<A>": true, "a": false},
	} {
		r := rs.Rule(name)
		if r == nil {
			t.Fatalf("%s not loaded", name)
		}
		for text, want := range cases {
			if got, _ := r.Pattern.match(newText(text)); got != want {
				t.Errorf("%s (%s) on %q = %v, want %v", name, r.Pattern.Translation.Go, text, got, want)
			}
		}
	}
}

func TestEvalCondition(t *testing.T) {
	for expr, want := range map[string]bool{
		"(version >= 3.004000)": true,
		"version > 5":           false,
		"!(version >= 4)":       false,
		"plugin(Mail::SpamAssassin::Plugin::FreeMail)": true,
		"1 + 2 * 3 == 7": true,
		"(1 || 0) && !0": true,
	} {
		got, err := evalCondition(expr)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", expr, got, err, want)
		}
	}
	for _, bad := range []string{"version >=", "foo(bar)", "1 / 0", "((1)", "system('ls')"} {
		if _, err := evalCondition(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestParseMeta(t *testing.T) {
	names := []string{"__A1", "__A2", "__B", "C"}
	index := map[string]int{"__A1": 0, "__A2": 1, "__B": 2, "C": 3}
	for _, c := range []struct {
		expr string
		vals []float64
		want float64
	}{
		{"__A1 && __B", []float64{1, 0, 1, 0}, 1},
		{"__A1 && !__B", []float64{1, 0, 1, 0}, 0},
		{"(__A1 + __A2 + __B) >= 2", []float64{1, 1, 0, 0}, 1},
		{"rules_matching(__A*) > 1", []float64{1, 1, 0, 0}, 1},
		{"rules_matching(__A?) == 1", []float64{1, 0, 0, 0}, 1},
		{"C * 2 - 1", []float64{0, 0, 0, 3}, 5},
		{"__B || C", []float64{0, 0, 0, 4}, 4},
		{"UNDEFINED || __A1", []float64{0, 0, 0, 0}, 0},
		{"C / 0", []float64{0, 0, 0, 1}, 0},
		{"!C + 1", []float64{0, 0, 0, 1}, 1},
		{"__A1 > 0 && __A2 < 1 == 1", []float64{1, 0, 0, 0}, 1},
	} {
		m, err := ParseMeta(c.expr, names)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		m.bind(index)
		if got := m.eval(c.vals); got != c.want {
			t.Errorf("%s over %v = %v, want %v", c.expr, c.vals, got, c.want)
		}
	}
	for _, bad := range []string{"A &&", "(A", "A B", "A @ B", ""} {
		if _, err := ParseMeta(bad, names); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func writeFile(path, body string) error {
	return os.WriteFile(path, []byte(body), 0o644)
}
