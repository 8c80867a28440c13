package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// perlCases were checked against perl 5.36 (qr// on a byte string, as
// SpamAssassin compiles its rules): pattern, modifiers, text, whether Perl
// matches.
var perlCases = []struct {
	pattern, mods, text string
	want                bool
}{
	{`foo$`, "", "foo\n", true},
	{`foo$`, "", "foo\nx", false},
	{`foo$`, "m", "foo\nx", true},
	{`^bar`, "m", "foo\nbar", true},
	{`^bar`, "", "foo\nbar", false},
	{`a.c`, "", "a\nc", false},
	{`a.c`, "s", "a\nc", true},
	{`\xe4`, "i", "\xc4", false},
	{`\xe4`, "i", "\xe4", true},
	{`[\xe4]`, "i", "\xc4", false},
	{`[a-c\xe4]+x`, "i", "B\xe4X", true},
	{`HELLO`, "i", "hello", true},
	{`[^a]`, "i", "A", false},
	{`[^a]b`, "i", "Ab", false},
	{`ab(?=c)`, "", "abc", true},
	{`ab(?=c)`, "", "abd", false},
	{`ab(?!c)`, "", "abc", false},
	{`ab(?!c)`, "", "abd", true},
	{`(?<=x)ab`, "", "xab", true},
	{`(?<=x)ab`, "", "yab", false},
	{`(?<!x)ab`, "", "xab", false},
	{`(?<!x)ab`, "", "yab", true},
	{`(a)\1`, "", "aa", true},
	{`(a)\1`, "", "ab", false},
	{`(?<n>b)\k<n>`, "", "bb", true},
	{`\bfoo\b`, "", "\xe9foo\xe9", true},
	{`\bfoo\b`, "", "afoob", false},
	{`\w+`, "", "\xe9", false},
	{`\s`, "", "\x0b", true},
	{`\s`, "", "\xa0", false},
	{`\h`, "", "\xa0", true},
	{`\d{2,}`, "", "a12", true},
	{`a{,2}b`, "", "ab", true},
	{`a{,2}b`, "", "a{,2}b", true},
	{`a++b`, "", "aab", true},
	{`a++a`, "", "aaa", false},
	{`(?>a+)b`, "", "aab", true},
	{`(?>a+)a`, "", "aaa", false},
	{`a\Z`, "", "a\n", true},
	{`a\z`, "", "a\n", false},
	{`a\z`, "", "a", true},
	{`(?i:a)b`, "", "AB", false},
	{`(?i:a)b`, "", "Ab", true},
	{`a(?i)b`, "", "aB", true},
	{`(?x) a b # comment`, "", "ab", true},
	{`a b`, "x", "ab", true},
	{`a\ b`, "x", "a b", true},
	{`a[ ]b`, "x", "a b", true},
	{`[[:alpha:]]+1`, "", "abc1", true},
	{`[[:^digit:]]`, "", "5", false},
	{`[\d-z]`, "", "-", true},
	{`[a\-z]`, "", "-", true},
	{`[a-]`, "", "-", true},
	{`[]a]`, "", "]", true},
	{`[^]a]`, "", "]", false},
	{`\x41`, "", "A", true},
	{`\x{263a}`, "", "\xe2\x98\xba", false},
	{`\xe2\x98\xba`, "", "\xe2\x98\xba", true},
	{`\101`, "", "A", true},
	{`\cA`, "", "\x01", true},
	{`\e`, "", "\x1b", true},
	{`\N`, "", "\n", false},
	{`\N`, "", "a", true},
	{`\Rx`, "", "\r\nx", true},
	{`\p{L}`, "", "\xe9", true},
	{`\p{Lu}`, "", "A", true},
	{`\P{L}`, "", "1", true},
	{`a|b|`, "", "c", true},
	{`(?#comment)a`, "", "a", true},
	{`(?^i:A)b`, "", "ab", true},
	{`(?i)(?^:A)`, "", "a", false},
	{`(?s-i:a.b)`, "i", "A\nb", false},
	{`(?s-i:a.b)`, "i", "a\nb", true},
	{`^(?:(?!foo).)*$`, "", "barbaz", true},
	{`^(?:(?!foo).)*$`, "", "barfoo", false},
	{`\$\d`, "", "$5", true},
	{`\/`, "", "/", true},
	{`a{1000}b`, "", "ab", false},
	{`(?:a|ab)(?:c|bcd)(?:d*)`, "", "abcd", true},
	{`.{2,3}\K!`, "", "ab!", true},
}

func TestTranslateMatchesPerl(t *testing.T) {
	for _, c := range perlCases {
		re, err := CompileRegex("/" + c.pattern + "/" + c.mods)
		if err != nil {
			t.Errorf("/%s/%s: %v", c.pattern, c.mods, err)
			continue
		}
		got, err := re.match(newText(c.text))
		if err != nil {
			t.Errorf("/%s/%s on %q: %v", c.pattern, c.mods, c.text, err)
			continue
		}
		if got != c.want {
			t.Errorf("/%s/%s on %q = %v, Perl says %v (Go %q exact=%v, backtrack %q)",
				c.pattern, c.mods, c.text, got, c.want, re.Translation.Go, re.Translation.Exact, re.Translation.Backtrack)
		}
	}
}

func TestTranslateExactness(t *testing.T) {
	for _, c := range []struct {
		perl  string
		exact bool
		feat  string
	}{
		{`/foo\s+bar/i`, true, ""},
		{`/a(?=b)/`, false, "look-around"},
		{`/(a)\1/`, false, "back-reference"},
		{`/x(?>a+)/`, true, ""}, // atomic at the end changes nothing
		{`/(?>a+)b/`, false, "atomic group or possessive quantifier"},
		{`/\d++$/`, false, "atomic group or possessive quantifier"},
		{`/ab\d++/`, true, ""},
		{`/a$b/`, false, "$ or \\Z before more pattern"},
		{`/(?:x{1,100}){100}/`, false, "repeat count too large for RE2"},
	} {
		tr, err := TranslateRegex(c.perl)
		if err != nil {
			t.Errorf("%s: %v", c.perl, err)
			continue
		}
		if tr.Exact != c.exact {
			t.Errorf("%s: exact = %v, want %v (%q)", c.perl, tr.Exact, c.exact, tr.Go)
		}
		if c.feat != "" && !strings.Contains(strings.Join(tr.Features, ","), c.feat) {
			t.Errorf("%s: features %v, want %q", c.perl, tr.Features, c.feat)
		}
		if !tr.Exact && tr.Backtrack == "" {
			t.Errorf("%s: no backtracking pattern", c.perl)
		}
	}
}

func TestTranslateDelimiters(t *testing.T) {
	for _, c := range []struct{ perl, text string }{
		{`m{a/b}i`, "A/B"},
		{`m|https?://x\|y|`, "http://x|y"},
		{`m!a\!b!`, "a!b"},
		{`/a\/b/`, "a/b"},
		{`m(a(b)c)`, "abc"},
		{`m<a>`, "a"},
	} {
		re, err := CompileRegex(c.perl)
		if err != nil {
			t.Errorf("%s: %v", c.perl, err)
			continue
		}
		if ok, _ := re.match(newText(c.text)); !ok {
			t.Errorf("%s does not match %q (Go %q)", c.perl, c.text, re.Translation.Go)
		}
	}
}

func TestTranslateErrors(t *testing.T) {
	for _, c := range []struct {
		perl        string
		unsupported bool
	}{
		{`foo`, false},
		{`/foo`, false},
		{`/foo/q`, false},
		{`/a**/`, false},
		{`/(a/`, false},
		{`/a)/`, false},
		{`/[a/`, false},
		{`/*a/`, false},
		{`/\1/`, false},
		{`/\k<x>(?<y>a)/`, false},
		{`/[z-a]/`, false},
		{`/\Ga/`, true},
		{`/(?R)/`, true},
		{`/(?(1)a|b)/`, true},
		{`/(*FAIL)/`, true},
		{`/\Ufoo/`, true},
		{`/\p{NoSuchProperty}/`, true},
	} {
		_, err := TranslateRegex(c.perl)
		if err == nil {
			t.Errorf("%s: no error", c.perl)
			continue
		}
		if got := errors.Is(err, ErrUnsupported); got != c.unsupported {
			t.Errorf("%s: unsupported = %v, want %v (%v)", c.perl, got, c.unsupported, err)
		}
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		perl string
		text string
		max  int
		want int
	}{
		{`/a/`, "banana", 0, 3},
		{`/a/`, "banana", 2, 2},
		{`/an(?=a)/`, "banana", 0, 2},
		{`/x/`, "banana", 0, 0},
		{`/(?:)/`, "ab", 0, 3},
	} {
		re, err := CompileRegex(c.perl)
		if err != nil {
			t.Fatal(err)
		}
		got, err := re.count(newText(c.text), c.max)
		if err != nil || got != c.want {
			t.Errorf("%s on %q max %d = %d, %v; want %d", c.perl, c.text, c.max, got, err, c.want)
		}
	}
}

func TestBacktrackTimeout(t *testing.T) {
	// Catastrophic backtracking: the RE2 prefilter (a superset) matches,
	// the backtracking confirmation must give up within the bound.
	re, err := CompileRegex(`/^(a+)+(?<!a)$/`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = re.match(newText(strings.Repeat("a", 40)))
	if d := time.Since(start); d > 10*BacktrackTimeout {
		t.Errorf("match took %v, bound is %v", d, BacktrackTimeout)
	}
	if !errors.Is(err, errBacktrackTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestLatin1View(t *testing.T) {
	for _, s := range []string{"", "plain", "caf\xc3\xa9", "\xff\x00\x80", "a\xe4b"} {
		v := latin1View(s)
		if got := viewSlice(v, 0, len(v)); got != s {
			t.Errorf("round trip of %q = %q", s, got)
		}
		if len([]rune(v)) != len(s) {
			t.Errorf("view of %q has %d characters, want %d", s, len([]rune(v)), len(s))
		}
	}
}
