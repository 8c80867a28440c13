package rescore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/internal/testenv"
)

func TestParseScores(t *testing.T) {
	const cf = `# a --scores file
score   ONE      1.5
score	FOUR     0.5 1.0 1.5 2.0   # n=2 (set 0 is taken)
score NEG -2
score ONE (0.25)            # relative: 1.75
score ESCAPED 3 \# not a comment, so this line is malformed

describe ONE ignored
header   ONE  Subject =~ /x/
lang de describe ONE Eins
`
	_, err := ParseScores("s.cf", strings.NewReader(cf))
	if err == nil || !strings.Contains(err.Error(), "s.cf:6:") {
		t.Fatalf("escaped # line: got %v, want an error at s.cf:6", err)
	}
	tab, err := ParseScores("s.cf", strings.NewReader(strings.Replace(cf, `\# not a comment, so this line is malformed`, "# fine", 1)))
	if err != nil {
		t.Fatal(err)
	}
	want := Table{"ONE": 1.75, "FOUR": 0.5, "NEG": -2, "ESCAPED": 3}
	if !equalTables(tab, want) {
		t.Errorf("got %v, want %v", tab, want)
	}
}

func TestParseScoresErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"score A", "x.cf:1: score A: want a rule name and 1 or 4 scores"},
		{"\n\nscore A 1 2", "x.cf:3:"},
		{"score A 1 2 3", "x.cf:1:"},
		{"score A one", `"one" is not a number`},
		{"score A +1", `"+1" is not a number`},
		{"score A 1e3", `"1e3" is not a number`},
		{"score A .5", `".5" is not a number`},
		{"score A (1)", "relative score without an earlier score"},
		{"score A-B 1", `"A-B" is not a rule name`},
		{"if (version >= 3\nendif", "x.cf:1: if (version >= 3: unbalanced parenthesis"},
		{"if frobnicate(X)\nendif", `unknown "frobnicate"`},
		{"endif", "x.cf:1: endif without if"},
		{"else", "x.cf:1: else without if"},
		{"ifplugin X\nscore A 1", "x.cf:2: 1 if block(s) not closed"},
	} {
		_, err := ParseScores("x.cf", strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	const cf = `
ifplugin Mail::SpamAssassin::Plugin::FreeMail
  score IN_PLUGIN 1
endif
if !plugin(Mail::SpamAssassin::Plugin::FreeMail)
  score IN_PLUGIN 9
endif
if (version >= 4.000000)
  score V4 1
else
  score V4 2
endif
if (version < 4.000000)
  score OLD 1
else
  if can(Mail::SpamAssassin::Conf::feature_welcomelist_blocklist) && has(Mail::SpamAssassin::Plugin::X::has_y)
    score NESTED 1
  else
    score NESTED 2
  endif
endif
if can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)
  score COMPAT 1
else
  score COMPAT 2
endif
enable_compat welcomelist_blocklist
if can(Mail::SpamAssassin::Conf::compat_welcomelist_blocklist)
  score COMPAT2 1
endif
if !(!plugin(Mail::SpamAssassin::Plugin::DKIM)) || version > 99
  score PARENS 1
endif
if perl_version >= 5.010000 && local_tests_only
  score PERL 1
endif
if (version >= 5)
  if plugin(X)
    score SKIPPED 1
  else
    score SKIPPED 2
  endif
endif
`
	tab, err := ParseScores("c.cf", strings.NewReader(cf))
	if err != nil {
		t.Fatal(err)
	}
	want := Table{"IN_PLUGIN": 1, "V4": 1, "NESTED": 1, "COMPAT": 2, "COMPAT2": 1, "PARENS": 1, "PERL": 1}
	if !equalTables(tab, want) {
		t.Errorf("got %v, want %v", tab, want)
	}
	ld := Loader{Version: 3.004006}
	dir := t.TempDir()
	writeFile(t, dir, "a.cf", cf)
	tab, err = ld.Load(filepath.Join(dir, "a.cf"))
	if err != nil {
		t.Fatal(err)
	}
	if tab["V4"] != 2 || tab["OLD"] != 1 {
		t.Errorf("version 3.4.6: V4=%v OLD=%v, want 2 and 1", tab["V4"], tab["OLD"])
	}
}

func TestLoadDirs(t *testing.T) {
	rules, site := t.TempDir(), t.TempDir()
	writeFile(t, rules, "10_rules.cf", `
header   HDR      Subject =~ /x/
body     T_TEST   /x/
meta     NICE     HDR && T_TEST
tflags   NICE     net nice
body     T_NICE   /y/
tflags   T_NICE   nice
meta     __SUB    HDR
uri      SCORED   /z/
score    SCORED   2.0 2.1 2.2 2.3
ifplugin Mail::SpamAssassin::Plugin::X
  body   IN_BLOCK /b/
endif
if (version < 3)
  body   SKIPPED  /s/
endif
full     RETFLAGGED /f/
tflags   RETFLAGGED nice
tflags   RETFLAGGED publish
`)
	writeFile(t, rules, "50_scores.cf", "score SCORED 3\nscore OVERRIDDEN 1\ninclude sub/extra.cf\n")
	writeFile(t, rules, "sub/extra.cf", "score FROM_INCLUDE 4\n")
	writeFile(t, rules, "notes.txt", "score IGNORED 1\n")
	writeFile(t, site, "local.cf", "score OVERRIDDEN 0.5\nscore SCORED (1)\n")
	writeFile(t, site, "init.pre", "loadplugin Mail::SpamAssassin::Plugin::X\nscore PRE 1\nscore OVERRIDDEN 7\n")
	var ld Loader
	tab, err := ld.Load(rules, site)
	if err != nil {
		t.Fatal(err)
	}
	want := Table{
		"HDR": 1, "T_TEST": 0.01, "NICE": -1, "T_NICE": -0.01, "SCORED": 4, "IN_BLOCK": 1,
		"RETFLAGGED": 1, "OVERRIDDEN": 0.5, "FROM_INCLUDE": 4, "PRE": 1,
	}
	if !equalTables(tab, want) {
		t.Errorf("got  %v\nwant %v", tab, want)
	}
}

func TestLoadWarnAndErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.cf", "score GOOD 1\nscore BAD 1 2\ninclude missing.cf\nscore ALSO_GOOD 2\n")
	var warned []string
	ld := Loader{Warn: func(err error) { warned = append(warned, err.Error()) }}
	tab, err := ld.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tab["GOOD"] != 1 || tab["ALSO_GOOD"] != 2 || len(tab) != 2 {
		t.Errorf("table %v", tab)
	}
	if len(warned) != 2 || !strings.Contains(warned[0], "a.cf:2: score BAD 1 2") || !strings.Contains(warned[1], "a.cf:3: include missing.cf") {
		t.Errorf("warnings %q", warned)
	}
	if _, err := (&Loader{}).Load(dir); err == nil || !strings.Contains(err.Error(), "a.cf:2:") {
		t.Errorf("strict load: %v", err)
	}
	if _, err := (&Loader{}).Load(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	// An include loop ends at the nesting bound.
	writeFile(t, dir, "loop.cf", "include loop.cf\n")
	if _, err := (&Loader{}).Load(filepath.Join(dir, "loop.cf")); err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("include loop: %v", err)
	}
}

func TestStockPaths(t *testing.T) {
	state, rules, site := t.TempDir(), t.TempDir(), t.TempDir()
	paths, v := stockPaths(state, rules, site)
	if len(paths) != 2 || paths[0] != rules || paths[1] != site || v != 0 {
		t.Errorf("no sa-update: %v %v", paths, v)
	}
	writeFile(t, state, "3.004006/updates_spamassassin_org.cf", "")
	writeFile(t, state, "4.000001/updates_spamassassin_org.cf", "")
	if err := os.MkdirAll(filepath.Join(state, "4.000002"), 0o755); err != nil { // no rules in it
		t.Fatal(err)
	}
	writeFile(t, state, "compiled/5.036/x.cf", "")
	paths, v = stockPaths(state, rules, filepath.Join(site, "missing"))
	if len(paths) != 1 || paths[0] != filepath.Join(state, "4.000001") || v != 4.000001 {
		t.Errorf("sa-update: %v %v", paths, v)
	}
}

// TestStockTable loads the SpamAssassin configuration installed on this
// machine and checks what SpamAssassin's own conventions say it must hold.
func TestStockTable(t *testing.T) {
	testenv.NeedProgram(t, "spamassassin", "spamassassin")
	paths, v := StockPaths()
	if len(paths) == 0 {
		t.Fatal("spamassassin installed but no rules directory found")
	}
	var warned []error
	ld := Loader{Version: v, Warn: func(err error) { warned = append(warned, err) }}
	tab, err := ld.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	if len(warned) > 0 {
		t.Errorf("the stock configuration has %d malformed lines, first %v", len(warned), warned[0])
	}
	if len(tab) < 1000 {
		t.Errorf("stock table has only %d rules", len(tab))
	}
	for name, s := range tab {
		if math.IsNaN(s) || math.Abs(s) > 1000 {
			t.Errorf("%s: score %v", name, s)
		}
	}
	t.Logf("%d rules scored from %v", len(tab), paths)
}

func FuzzParseScores(f *testing.F) {
	f.Add("score A 1\nscore B 0.5 1 2 3 # x\nscore A (1)\n")
	f.Add("if (version >= 4.000000)\nscore V 1\nelse\nscore V 2\nendif\n")
	f.Add("ifplugin X\nif !can(Y::compat_z) && perl_version > 5\nscore C -1.25\nendif\nendif\n")
	f.Add("score A (-1) (0) (1) (2)\nlang de score A 1\n")
	f.Fuzz(func(t *testing.T, in string) {
		tab, err := ParseScores("f.cf", strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.cf:") && !strings.Contains(err.Error(), "f.cf:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// What was parsed prints back to score lines that parse to the
		// same table.
		var b strings.Builder
		for name, s := range tab {
			if math.IsNaN(s) || math.IsInf(s, 0) {
				t.Fatalf("%s: %v", name, s)
			}
			fmt.Fprintf(&b, "score %s %s\n", name, formatScore(s))
		}
		again, err := ParseScores("again.cf", strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b.String())
		}
		if !equalTables(tab, again) {
			t.Fatalf("reparse: %v != %v", again, tab)
		}
	})
}

// formatScore prints s in the syntax score lines accept.
func formatScore(s float64) string {
	str := fmt.Sprintf("%.6f", s)
	str = strings.TrimRight(strings.TrimRight(str, "0"), ".")
	if str == "-0" || str == "" {
		return "0"
	}
	return str
}

func equalTables(a, b Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || math.Abs(v-w) > 1e-6 {
			return false
		}
	}
	return true
}

func writeFile(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkLoadStock(b *testing.B) {
	paths, v := StockPaths()
	if len(paths) == 0 {
		b.Skip("no SpamAssassin configuration installed")
	}
	ld := Loader{Version: v, Warn: func(error) {}}
	for b.Loop() {
		if _, err := ld.Load(paths...); err != nil {
			b.Fatal(err)
		}
	}
}
