package rescore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Table maps rule names to scores (SpamAssassin score set 0: no Bayes, no
// network tests — the set a rescoring can reproduce without the network
// and the Bayes database the filter had).
type Table map[string]float64

// Clone returns a copy of t.
func (t Table) Clone() Table {
	c := make(Table, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

// DefaultVersion is the SpamAssassin version "if (version >= …)" lines are
// evaluated against when the Loader names none: Debian 12's 4.0.1.
const DefaultVersion = 4.000001

// Loader reads SpamAssassin configuration files for their score table.
// It is deliberately not a rule loader: of a configuration it reads only
// what decides a rule's score —
//
//   - "score RULE n" and "score RULE n0 n1 n2 n3" (set 0 is taken), and the
//     relative form "score RULE (n)" that adds to the score set before;
//   - the rule definitions (header, body, rawbody, uri, full, meta,
//     mimeheader, askdns, uri* lookups) and "tflags RULE … nice", because a
//     rule defined without a score line gets SpamAssassin's default score:
//     1.0, or 0.01 for T_ rules, negated for nice rules;
//   - "if"/"ifplugin"/"else"/"endif" blocks (see cond for the model of
//     SpamAssassin they are evaluated against), "include FILE" (relative to
//     the including file) and "enable_compat NAME".
//
// Comments, "lang" lines and every other directive are skipped.
type Loader struct {
	// Version is SpamAssassin's version as in "if (version >= 4.000000)";
	// zero means DefaultVersion.
	Version float64
	// Warn, if set, receives each malformed line ("file:line: why"), which
	// is then skipped as SpamAssassin skips it. If nil, the first malformed
	// line fails the load.
	Warn func(error)
}

// Load reads the score table from paths in order: a directory contributes
// its *.pre and then its *.cf files in name order (all .pre files of all
// directories come first, as SpamAssassin reads them first), a file is read
// as it is. A later score line for a rule overrides an earlier one.
func (ld *Loader) Load(paths ...string) (Table, error) {
	l := ld.newLoader()
	var pre, cf []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("score table: %w", err)
		}
		if !st.IsDir() {
			cf = append(cf, p)
			continue
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("score table: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			switch filepath.Ext(e.Name()) {
			case ".pre":
				pre = append(pre, filepath.Join(p, e.Name()))
			case ".cf":
				cf = append(cf, filepath.Join(p, e.Name()))
			}
		}
	}
	for _, f := range append(pre, cf...) {
		if err := l.file(f); err != nil {
			return nil, err
		}
	}
	return l.finish(), nil
}

// ParseScores reads the score lines of one SpamAssassin-style file, such
// as the --scores file of "mailrep rescore": only rules named on score
// lines are in the table (no default scores), and every malformed score
// line is an error naming name:line.
func ParseScores(name string, r io.Reader) (Table, error) {
	ld := Loader{}
	l := ld.newLoader()
	if err := l.parse(name, r); err != nil {
		return nil, err
	}
	return l.scores, nil
}

// maxInclude bounds the nesting of "include" lines.
const maxInclude = 16

type loader struct {
	version float64
	warn    func(error)
	scores  Table
	defined map[string]bool // rules defined, in the order met
	nice    map[string]bool
	compat  map[string]bool
	depth   int
}

func (ld *Loader) newLoader() *loader {
	v := ld.Version
	if v == 0 {
		v = DefaultVersion
	}
	return &loader{
		version: v,
		warn:    ld.Warn,
		scores:  make(Table),
		defined: make(map[string]bool),
		nice:    make(map[string]bool),
		compat:  make(map[string]bool),
	}
}

// finish returns the table with SpamAssassin's default score for every
// rule defined without a score line.
func (l *loader) finish() Table {
	for name := range l.defined {
		if _, ok := l.scores[name]; ok {
			continue
		}
		s := 1.0
		if strings.HasPrefix(name, "T_") {
			s = 0.01
		}
		if l.nice[name] {
			s = -s
		}
		l.scores[name] = s
	}
	return l.scores
}

func (l *loader) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("score table: %w", err)
	}
	defer f.Close()
	return l.parse(path, f)
}

// ruleKinds are the directives that define a rule named by their first
// argument.
var ruleKinds = map[string]bool{
	"header": true, "body": true, "rawbody": true, "uri": true, "full": true, "meta": true,
	"mimeheader": true, "askdns": true, "urirhsbl": true, "urirhssub": true,
	"urinsrhsbl": true, "urinsrhssub": true, "urifullnsrhsbl": true, "urifullnsrhssub": true,
	"uridnsbl": true, "uridnssub": true, "uri_detail": true,
}

// ifFrame is one open if/ifplugin block: whether lines were being skipped
// when it opened (restored at its endif).
type ifFrame struct{ outerSkip bool }

func (l *loader) parse(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var stack []ifFrame
	skip := false
	n := 0
	for sc.Scan() {
		n++
		line := stripComment(sc.Text())
		if line == "" {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		key = strings.ReplaceAll(strings.ToLower(key), "-", "_")
		bad := func(format string, args ...any) error { return l.bad(name, n, format, args...) }
		switch key {
		case "if", "ifplugin":
			expr := value
			if key == "ifplugin" {
				expr = "plugin(" + value + ")"
			}
			stack = append(stack, ifFrame{outerSkip: skip})
			if skip {
				continue
			}
			ok, err := l.cond(expr)
			if err != nil {
				if e := bad("%s %s: %v", key, value, err); e != nil {
					return e
				}
			}
			skip = !ok
			continue
		case "else":
			if len(stack) == 0 {
				if e := bad("else without if"); e != nil {
					return e
				}
				continue
			}
			if !stack[len(stack)-1].outerSkip {
				skip = !skip
			}
			continue
		case "endif":
			if len(stack) == 0 {
				if e := bad("endif without if"); e != nil {
					return e
				}
				continue
			}
			skip = stack[len(stack)-1].outerSkip
			stack = stack[:len(stack)-1]
			continue
		}
		if skip {
			continue
		}
		switch key {
		case "lang":
			// Localised descriptions and rules apply to other locales;
			// spamd runs in the C locale.
		case "score":
			if err := l.score(value); err != nil {
				if e := bad("score %s: %v", value, err); e != nil {
					return e
				}
			}
		case "tflags":
			rule, flags, _ := strings.Cut(value, " ")
			if rule != "" {
				l.nice[rule] = hasWord(flags, "nice")
			}
		case "enable_compat":
			if value != "" {
				l.compat[value] = true
			}
		case "include":
			if err := l.include(name, value); err != nil {
				if e := bad("include %s: %v", value, err); e != nil {
					return e
				}
			}
		default:
			if ruleKinds[key] {
				rule, _, _ := strings.Cut(value, " ")
				if rule != "" && !strings.HasPrefix(rule, "__") {
					l.defined[rule] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("score table: %s:%d: %w", name, n, err)
	}
	if len(stack) > 0 {
		if e := l.bad(name, n, "%d if block(s) not closed by endif", len(stack)); e != nil {
			return e
		}
	}
	return nil
}

// bad reports a malformed line: as the error to return when there is no
// Warn function, else through it (and nil, to go on).
func (l *loader) bad(name string, n int, format string, args ...any) error {
	err := fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, args...))
	if l.warn == nil {
		return err
	}
	l.warn(err)
	return nil
}

func (l *loader) include(from, file string) error {
	if file == "" {
		return errors.New("no file named")
	}
	if l.depth >= maxInclude {
		return fmt.Errorf("nested deeper than %d includes", maxInclude)
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(filepath.Dir(from), file)
	}
	l.depth++
	defer func() { l.depth-- }()
	return l.file(file)
}

// stripComment removes a comment (a "#" not escaped by "\"), unescapes
// "\#" and trims the line, as SpamAssassin's parser does.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] != '\\') {
			s = s[:i]
			break
		}
	}
	if strings.Contains(s, `\#`) {
		s = strings.ReplaceAll(s, `\#`, "#")
	}
	return strings.TrimSpace(strings.ReplaceAll(s, "\t", " "))
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// scoreNumber is the number syntax SpamAssassin accepts on score lines.
var scoreNumber = regexp.MustCompile(`^-?[0-9]+(?:\.[0-9]+)?$`)

// score applies "RULE n" / "RULE n0 n1 n2 n3", possibly relative "(n)".
func (l *loader) score(value string) error {
	f := strings.Fields(value)
	if len(f) != 2 && len(f) != 5 {
		return errors.New("want a rule name and 1 or 4 scores")
	}
	rule := f[0]
	if !validRuleName(rule) {
		return fmt.Errorf("%q is not a rule name", rule)
	}
	relative := false
	var set0 float64
	for i, s := range f[1:] {
		if len(s) > 2 && s[0] == '(' && s[len(s)-1] == ')' {
			s = s[1 : len(s)-1]
			relative = true
		}
		if !scoreNumber.MatchString(s) {
			return fmt.Errorf("%q is not a number", s)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) {
			return fmt.Errorf("%q is not a number", s)
		}
		if i == 0 {
			set0 = v
		}
	}
	if relative {
		old, ok := l.scores[rule]
		if !ok {
			return errors.New("relative score without an earlier score")
		}
		set0 += old
	}
	l.scores[rule] = set0
	return nil
}

// validRuleName reports whether s can name a SpamAssassin rule.
func validRuleName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			return false
		}
	}
	return true
}

// StockPaths returns the configuration SpamAssassin itself reads on this
// machine, in its order: the newest sa-update directory
// (/var/lib/spamassassin/<version>, used instead of the packaged rules
// when present) or else /usr/share/spamassassin, then the site directory
// /etc/spamassassin. Missing directories are left out. version is the
// SpamAssassin version the sa-update directory was made for (0 if none).
func StockPaths() (paths []string, version float64) {
	return stockPaths("/var/lib/spamassassin", "/usr/share/spamassassin", "/etc/spamassassin")
}

func stockPaths(stateDir, rulesDir, siteDir string) (paths []string, version float64) {
	if ents, err := os.ReadDir(stateDir); err == nil {
		type cand struct {
			dir string
			v   float64
		}
		var cs []cand
		for _, e := range ents {
			v, err := strconv.ParseFloat(e.Name(), 64)
			if err != nil || !e.IsDir() || !strings.Contains(e.Name(), ".") {
				continue
			}
			d := filepath.Join(stateDir, e.Name())
			if m, _ := filepath.Glob(filepath.Join(d, "*.cf")); len(m) > 0 {
				cs = append(cs, cand{d, v})
			}
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].v > cs[j].v })
		if len(cs) > 0 {
			paths, version = append(paths, cs[0].dir), cs[0].v
		}
	}
	if len(paths) == 0 && isDir(rulesDir) {
		paths = append(paths, rulesDir)
	}
	if isDir(siteDir) {
		paths = append(paths, siteDir)
	}
	return paths, version
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
