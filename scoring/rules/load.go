package rules

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Version is the SpamAssassin version mailrep answers to `if (version …)`
// in rule files: the rule language of SpamAssassin 4.0.1, whose stock rules
// mailrep is compared with.
const Version = 4.000001

// perlVersion answers `perl_version` (Debian 12's perl 5.36).
const perlVersion = 5.036000

// maxIncludeDepth bounds include recursion.
const maxIncludeDepth = 20

// maxFileSize bounds one rule file.
const maxFileSize = 64 << 20

// Load reads SpamAssassin-style rule files and directories (a directory's
// *.pre files, then its *.cf files, each in lexical order, as SpamAssassin
// reads its configuration directories) and returns the ruleset with its
// lint report. Rules mailrep cannot run are skipped and listed in the
// report, never fatal; an error means a path could not be read.
func Load(paths ...string) (*Ruleset, *LintReport, error) {
	l := newLoader()
	for _, p := range paths {
		if err := l.loadPath(p); err != nil {
			return nil, nil, err
		}
	}
	rs := l.finish()
	return rs, l.lint, nil
}

// LoadFS is Load over a file system (for embedded rule sets).
func LoadFS(fsys fs.FS, paths ...string) (*Ruleset, *LintReport, error) {
	l := newLoader()
	l.fsys = fsys
	for _, p := range paths {
		if err := l.loadPath(p); err != nil {
			return nil, nil, err
		}
	}
	rs := l.finish()
	return rs, l.lint, nil
}

// ruleDef accumulates what the files say about one rule name.
type ruleDef struct {
	name        string
	kind        Kind
	src         Source
	defined     bool
	value       string // the rule's definition text after the name
	describe    string
	score       float64
	scoreSet    bool
	tflags      TFlags
	tflagsSet   bool
	priority    int
	replaceTags bool
	skip        string // reason the definition cannot be used
	order       int
}

type loader struct {
	fsys  fs.FS
	lint  *LintReport
	defs  map[string]*ruleDef
	order int
	// conditional stack for the current file
	cond []condFrame

	replaceTag   map[string]string
	replacePre   map[string]string
	replaceInter map[string]string
	replacePost  map[string]string
	replaceStart string
	replaceEnd   string

	threshold     float64
	freemail      *globList
	freemailWL    *globList
	uriHostLists  map[string]domainList
	addrLists     map[string]*addrList
	tlds          map[string]bool
	twoLevel      map[string]bool
	threeLevel    map[string]bool
	redirectors   []*Regexp
	welcomeFrom   *addrList
	blocklistFrom *addrList
	okLocales     map[string]bool
	depth         int
}

type condFrame struct {
	active   bool // lines in this frame are read
	parent   bool // the enclosing frame was active
	sawElse  bool
	src      Source
	directve string
}

func newLoader() *loader {
	return &loader{
		lint:          newLintReport(),
		defs:          map[string]*ruleDef{},
		replaceTag:    map[string]string{},
		replacePre:    map[string]string{},
		replaceInter:  map[string]string{},
		replacePost:   map[string]string{},
		replaceStart:  "<",
		replaceEnd:    ">",
		threshold:     5,
		freemail:      newGlobList(true),
		freemailWL:    newGlobList(false),
		uriHostLists:  map[string]domainList{},
		addrLists:     map[string]*addrList{},
		tlds:          map[string]bool{},
		twoLevel:      map[string]bool{},
		threeLevel:    map[string]bool{},
		welcomeFrom:   newAddrList(),
		blocklistFrom: newAddrList(),
	}
}

func (l *loader) stat(p string) (fs.FileInfo, error) {
	if l.fsys != nil {
		return fs.Stat(l.fsys, filepath.ToSlash(p))
	}
	return os.Stat(p)
}

func (l *loader) readDir(p string) ([]string, error) {
	var names []string
	if l.fsys != nil {
		ents, err := fs.ReadDir(l.fsys, filepath.ToSlash(p))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	} else {
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

func (l *loader) readFile(p string) ([]byte, error) {
	var f io.ReadCloser
	var err error
	if l.fsys != nil {
		f, err = l.fsys.Open(filepath.ToSlash(p))
	} else {
		f, err = os.Open(p)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxFileSize)
	}
	return b, nil
}

func (l *loader) loadPath(p string) error {
	st, err := l.stat(p)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return l.loadFile(p)
	}
	names, err := l.readDir(p)
	if err != nil {
		return fmt.Errorf("rules: read directory %s: %w", p, err)
	}
	for _, ext := range []string{".pre", ".cf"} {
		for _, n := range names {
			if strings.HasSuffix(n, ext) {
				if err := l.loadFile(filepath.Join(p, n)); err != nil {
					return err
				}
			}
		}
	}
	l.lint.Files = append(l.lint.Files, p)
	return nil
}

func (l *loader) loadFile(p string) error {
	data, err := l.readFile(p)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if l.depth == 0 {
		l.lint.FilesRead++
	}
	saved := l.cond
	l.cond = nil
	l.parse(p, data)
	if len(l.cond) > 0 {
		f := l.cond[len(l.cond)-1]
		l.lint.problem(f.src, "", fmt.Sprintf("%s without endif at end of file", f.directve))
	}
	l.cond = saved
	return nil
}

// active reports whether lines are read at this point.
func (l *loader) active() bool {
	return len(l.cond) == 0 || l.cond[len(l.cond)-1].active
}

// parse reads the lines of one file.
func (l *loader) parse(file string, data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), maxFileSize)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		src := Source{File: file, Line: lineNo}
		line := cleanLine(sc.Text())
		if line == "" {
			continue
		}
		key, value := splitKey(line)
		if l.conditional(key, value, src) {
			continue
		}
		if !l.active() {
			continue
		}
		if key == "lang" {
			// Localised descriptions and reports: mailrep reports in
			// English.
			l.lint.ignore(src, "lang", "localised text (mailrep uses the default language)")
			continue
		}
		if key == "require_version" {
			if v := strings.TrimSpace(value); v != "@@VERSION@@" {
				if f, err := strconv.ParseFloat(v, 64); err != nil || f != Version {
					l.lint.problem(src, "", fmt.Sprintf("require_version %s: file written for another SpamAssassin version; rest of file skipped", v))
					return
				}
			}
			continue
		}
		if key == "include" {
			l.include(file, value, src)
			continue
		}
		l.directive(key, value, src)
	}
	if err := sc.Err(); err != nil {
		l.lint.problem(Source{File: file, Line: lineNo + 1}, "", fmt.Sprintf("read error: %v", err))
	}
}

func (l *loader) include(file, value string, src Source) {
	target := strings.TrimSpace(value)
	if target == "" {
		l.lint.problem(src, "", "include without a file name")
		return
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(file), target)
	}
	if l.depth >= maxIncludeDepth {
		l.lint.problem(src, "", "include nested too deeply: "+target)
		return
	}
	l.depth++
	defer func() { l.depth-- }()
	if err := l.loadFile(target); err != nil {
		l.lint.problem(src, "", err.Error())
	}
}

// cleanLine strips comments (an unescaped #) and surrounding space, and
// unescapes \#, as SpamAssassin does before reading a line.
func cleanLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] != '\\') {
			s = s[:i]
			break
		}
	}
	s = strings.ReplaceAll(s, `\#`, "#")
	return strings.TrimSpace(s)
}

// splitKey splits a line into its lower-cased directive and the rest.
func splitKey(line string) (string, string) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return strings.ReplaceAll(strings.ToLower(line), "-", "_"), ""
	}
	return strings.ReplaceAll(strings.ToLower(line[:i]), "-", "_"), strings.TrimSpace(line[i+1:])
}

// conditional handles if/ifplugin/else/endif; it reports whether the line
// was one of them.
func (l *loader) conditional(key, value string, src Source) bool {
	switch key {
	case "if", "ifplugin":
		parent := l.active()
		cond := false
		if parent {
			var err error
			if key == "ifplugin" {
				cond = pluginLoaded(strings.TrimSpace(value))
			} else {
				cond, err = evalCondition(value)
				if err != nil {
					l.lint.problem(src, "", fmt.Sprintf("if %s: %v (block skipped)", value, err))
				}
			}
		}
		l.cond = append(l.cond, condFrame{active: parent && cond, parent: parent, src: src, directve: key})
		return true
	case "else":
		if len(l.cond) == 0 {
			l.lint.problem(src, "", "else without if")
			return true
		}
		f := &l.cond[len(l.cond)-1]
		if f.sawElse {
			l.lint.problem(src, "", "second else for one if")
		}
		f.sawElse = true
		f.active = f.parent && !f.active
		return true
	case "endif":
		if len(l.cond) == 0 {
			l.lint.problem(src, "", "endif without if")
			return true
		}
		l.cond = l.cond[:len(l.cond)-1]
		return true
	}
	return false
}

// def returns the accumulated definition of name.
func (l *loader) def(name string) *ruleDef {
	d := l.defs[name]
	if d == nil {
		l.order++
		d = &ruleDef{name: name, order: l.order}
		l.defs[name] = d
	}
	return d
}

var ruleKinds = map[string]Kind{
	"header":     KindHeader,
	"body":       KindBody,
	"rawbody":    KindRawbody,
	"uri":        KindURI,
	"full":       KindFull,
	"meta":       KindMeta,
	"mimeheader": KindMIMEHeader,
}

// validRuleName reports whether s is a SpamAssassin test name.
func validRuleName(s string) bool {
	if s == "" || len(s) > 200 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordRune(rune(s[i])) {
			return false
		}
	}
	return true
}

func (l *loader) directive(key, value string, src Source) {
	if kind, ok := ruleKinds[key]; ok {
		name, rest := splitKey2(value)
		if !validRuleName(name) {
			l.lint.problem(src, name, fmt.Sprintf("%s: invalid rule name %q", key, name))
			return
		}
		if rest == "" {
			l.lint.skip(src, name, kind.String(), "definition is empty")
			return
		}
		d := l.def(name)
		if d.defined && d.kind != kind {
			l.lint.problem(src, name, fmt.Sprintf("redefined as %s (was %s at %s)", kind, d.kind, d.src))
		}
		d.defined, d.kind, d.value, d.src, d.skip = true, kind, rest, src, ""
		// A later definition moves the rule to its new place.
		l.order++
		d.order = l.order
		return
	}
	switch key {
	case "describe":
		name, rest := splitKey2(value)
		if validRuleName(name) {
			l.def(name).describe = rest
		}
	case "score":
		l.score(value, src)
	case "tflags":
		name, rest := splitKey2(value)
		if !validRuleName(name) {
			l.lint.problem(src, name, "tflags: invalid rule name")
			return
		}
		d := l.def(name)
		d.tflags, d.tflagsSet = parseTFlags(rest), true
	case "priority":
		name, rest := splitKey2(value)
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if !validRuleName(name) || err != nil {
			l.lint.problem(src, name, "priority: want NAME INTEGER")
			return
		}
		l.def(name).priority = n
	case "required_score", "required_hits":
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			l.lint.problem(src, "", key+": not a number")
			return
		}
		l.threshold = f
	case "loadplugin", "tryplugin":
		name, _ := splitKey2(value)
		l.lint.Plugins = appendUnique(l.lint.Plugins, name)
		if !pluginLoaded(name) {
			l.lint.ignore(src, key, "plugin "+name+" is not implemented by mailrep")
		}
	case "replace_tag", "replace_pre", "replace_inter", "replace_post":
		name, rest := splitKey2(value)
		m := map[string]map[string]string{"replace_tag": l.replaceTag, "replace_pre": l.replacePre,
			"replace_inter": l.replaceInter, "replace_post": l.replacePost}[key]
		m[name] = rest
	case "replace_rules":
		for _, n := range strings.Fields(value) {
			l.def(n).replaceTags = true
		}
	case "replace_start":
		l.replaceStart = value
	case "replace_end":
		l.replaceEnd = value
	case "freemail_domains":
		for _, d := range strings.Fields(value) {
			l.freemail.add(d)
		}
	case "freemail_whitelist", "freemail_welcomelist":
		for _, d := range strings.Fields(value) {
			l.freemailWL.add(d)
		}
	case "util_rb_tld":
		for _, d := range strings.Fields(value) {
			l.tlds[strings.ToLower(d)] = true
		}
	case "util_rb_2tld":
		for _, d := range strings.Fields(value) {
			l.twoLevel[strings.ToLower(d)] = true
		}
	case "util_rb_3tld":
		for _, d := range strings.Fields(value) {
			l.threeLevel[strings.ToLower(d)] = true
		}
	case "clear_util_rb":
		l.tlds, l.twoLevel, l.threeLevel = map[string]bool{}, map[string]bool{}, map[string]bool{}
	case "enlist_uri_host", "delist_uri_host":
		list, hosts, ok := parseListDirective(value)
		if !ok {
			l.lint.problem(src, "", key+": want (LISTNAME) host…")
			return
		}
		dl := l.uriHostLists[list]
		if dl == nil {
			dl = domainList{}
			l.uriHostLists[list] = dl
		}
		for _, h := range hosts {
			if key == "enlist_uri_host" {
				dl.add(h)
			} else {
				dl.remove(h)
			}
		}
	case "enlist_addrlist", "delist_addrlist":
		list, addrs, ok := parseListDirective(value)
		if !ok {
			l.lint.problem(src, "", key+": want (LISTNAME) address…")
			return
		}
		al := l.addrLists[list]
		if al == nil {
			al = newAddrList()
			l.addrLists[list] = al
		}
		for _, a := range addrs {
			if key == "enlist_addrlist" {
				al.add(a)
			} else {
				al.remove(a)
			}
		}
	case "welcomelist_from", "whitelist_from":
		for _, a := range strings.Fields(value) {
			l.welcomeFrom.add(a)
		}
	case "unwelcomelist_from", "unwhitelist_from":
		for _, a := range strings.Fields(value) {
			l.welcomeFrom.remove(a)
		}
	case "blocklist_from", "blacklist_from":
		for _, a := range strings.Fields(value) {
			l.blocklistFrom.add(a)
		}
	case "unblocklist_from", "unblacklist_from":
		for _, a := range strings.Fields(value) {
			l.blocklistFrom.remove(a)
		}
	case "redirector_pattern":
		re, err := CompileRegex(value)
		if err != nil {
			l.lint.ignore(src, key, "pattern not usable: "+err.Error())
			return
		}
		l.redirectors = append(l.redirectors, re)
	case "ok_locales":
		l.okLocales = map[string]bool{}
		for _, loc := range strings.Fields(value) {
			l.okLocales[strings.ToLower(loc)] = true
		}
	case "test", "reuse":
		l.lint.ignore(src, key, ignoredReasons[key])
	default:
		reason, ok := ignoredReasons[key]
		if !ok {
			reason = "directive not used by mailrep"
		}
		l.lint.ignore(src, key, reason)
	}
}

// ignoredReasons explains directives read and ignored.
var ignoredReasons = map[string]string{
	"test":                             "rule self-test (sa-update QA)",
	"reuse":                            "mass-check rule reuse",
	"adsp_override":                    "needs DKIM verification (network)",
	"def_welcomelist_auth":             "needs SPF/DKIM authentication (network)",
	"def_whitelist_auth":               "needs SPF/DKIM authentication (network)",
	"welcomelist_auth":                 "needs SPF/DKIM authentication (network)",
	"whitelist_auth":                   "needs SPF/DKIM authentication (network)",
	"def_welcomelist_from_dkim":        "needs DKIM verification (network)",
	"def_whitelist_from_dkim":          "needs DKIM verification (network)",
	"def_welcomelist_from_spf":         "needs SPF (network)",
	"def_whitelist_from_spf":           "needs SPF (network)",
	"welcomelist_from_rcvd":            "needs trusted relay configuration",
	"whitelist_from_rcvd":              "needs trusted relay configuration",
	"bayes_ignore_header":              "Bayes setting (mailrep uses score set 0, no Bayes)",
	"bayes_stopword":                   "Bayes setting (mailrep uses score set 0, no Bayes)",
	"bayes_stopword_nl":                "Bayes setting (mailrep uses score set 0, no Bayes)",
	"uridnsbl_skip_domain":             "network setting (no DNS while scoring)",
	"urirhssub":                        "network rule (no DNS while scoring)",
	"uridnssub":                        "network rule (no DNS while scoring)",
	"urirhsbl":                         "network rule (no DNS while scoring)",
	"uridnsbl":                         "network rule (no DNS while scoring)",
	"askdns":                           "network rule (no DNS while scoring)",
	"dns_block_rule":                   "network setting (no DNS while scoring)",
	"dns_local_ports_avoid":            "network setting (no DNS while scoring)",
	"dns_query_restriction":            "network setting (no DNS while scoring)",
	"report":                           "report template (mailrep writes its own)",
	"unsafe_report":                    "report template (mailrep writes its own)",
	"clear_report_template":            "report template (mailrep writes its own)",
	"add_header":                       "header rewriting (mailrep never modifies mail)",
	"remove_header":                    "header rewriting (mailrep never modifies mail)",
	"report_safe":                      "message rewriting (mailrep never modifies mail)",
	"report_contact":                   "report template (mailrep writes its own)",
	"ok_locales":                       "TextCat/locale plugin not implemented",
	"ok_languages":                     "TextCat/locale plugin not implemented",
	"url_shortener":                    "DecodeShortURLs plugin (network)",
	"url_shortener_get":                "DecodeShortURLs plugin (network)",
	"originating_ip_headers":           "relay trust setting",
	"fns_ignore_headers":               "FromNameSpoof plugin not implemented",
	"fns_ignore_dkim":                  "FromNameSpoof plugin not implemented",
	"fns_check":                        "FromNameSpoof plugin not implemented",
	"replace_inter":                    "",
	"required_score":                   "",
	"hashbl_ignore":                    "network setting (no DNS while scoring)",
	"envelope_sender_header":           "mailrep takes the envelope from the queue",
	"trusted_networks":                 "relay trust setting",
	"internal_networks":                "relay trust setting",
	"use_bayes":                        "Bayes setting (mailrep uses score set 0, no Bayes)",
	"use_auto_whitelist":               "auto-welcomelist not implemented",
	"use_auto_welcomelist":             "auto-welcomelist not implemented",
	"use_txrep":                        "TxRep not implemented",
	"dcc_timeout":                      "network setting (no DNS while scoring)",
	"razor_timeout":                    "network setting (no DNS while scoring)",
	"pyzor_timeout":                    "network setting (no DNS while scoring)",
	"bayes_auto_learn":                 "Bayes setting (mailrep uses score set 0, no Bayes)",
	"skip_rbl_checks":                  "network setting (no DNS while scoring)",
	"util_rb_tld_exclude":              "",
	"freemail_import_whitelist_auth":   "needs SPF/DKIM authentication (network)",
	"freemail_import_welcomelist_auth": "needs SPF/DKIM authentication (network)",
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// splitKey2 splits "NAME rest" at the first run of white space.
func splitKey2(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

// parseListDirective reads "(LISTNAME) item item …".
func parseListDirective(v string) (string, []string, bool) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "(") {
		return "", nil, false
	}
	end := strings.IndexByte(v, ')')
	if end < 0 {
		return "", nil, false
	}
	return strings.TrimSpace(v[1:end]), strings.Fields(v[end+1:]), true
}

func (l *loader) score(value string, src Source) {
	name, rest := splitKey2(value)
	if !validRuleName(name) {
		l.lint.problem(src, name, "score: invalid rule name")
		return
	}
	// "score NAME 1.0 # comment" has its comment stripped already; scores
	// may be parenthesised (kept fixed by the re-scorer).
	fields := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(rest))
	if len(fields) != 1 && len(fields) != 4 {
		l.lint.problem(src, name, fmt.Sprintf("score: want 1 or 4 values, got %d", len(fields)))
		return
	}
	f, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		l.lint.problem(src, name, "score: "+err.Error())
		return
	}
	d := l.def(name)
	d.score, d.scoreSet = f, true
}

// parseTFlags reads a tflags value.
func parseTFlags(v string) TFlags {
	var t TFlags
	for _, f := range strings.Fields(v) {
		key, val, _ := strings.Cut(f, "=")
		switch key {
		case "net":
			t.Net = true
		case "learn":
			t.Learn = true
		case "nice":
			t.Nice = true
		case "noautolearn":
			t.NoAutolearn = true
		case "multiple":
			t.Multiple = true
		case "maxhits":
			if n, err := strconv.Atoi(val); err == nil && n > 0 {
				t.MaxHits = n
			}
		case "nosubject":
			t.NoSubject = true
		case "publish":
			t.Publish = true
		case "userconf":
			t.UserConf = true
		case "concat":
			t.Concat = true
		case "range":
			lo, hi, hasDash := strings.Cut(val, "-")
			a, _ := strconv.Atoi(lo)
			if !hasDash {
				t.RangeLo, t.RangeHi = a, a
				continue
			}
			b, _ := strconv.Atoi(hi)
			t.RangeLo, t.RangeHi = a, b
		default:
			t.Other = append(t.Other, f)
		}
	}
	return t
}

// errSkip marks a rule definition that cannot be used, with the reason.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

func skipf(format string, args ...any) error {
	return errSkip{fmt.Sprintf(format, args...)}
}

var _ = errors.New
