package config

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error is one problem in a configuration: where it is and what is wrong.
// Parse and Validate (and Load, once the file is read) return one Error
// per problem, joined with errors.Join; use errors.As to inspect the
// first.
type Error struct {
	// File is the configuration file ("" when the Config was not loaded
	// from one).
	File string
	// Line is the 1-based line of the offending key or value (0: unknown).
	Line int
	// Path is the key path, e.g. "ips.transports[1].ip".
	Path string
	// Msg describes the problem, including the key path.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error formats the problem as "file:line: msg".
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// validator is implemented by section types; Validate calls it with the
// section's key path. It may normalise the section (lower-casing, sorting,
// building lookup indexes).
type validator interface {
	validate(ck *checker, path string)
}

// checker collects validation errors, naming the line each key path was
// found on when the Config came from a file.
type checker struct {
	file   string
	lines  map[string]int
	failed map[string]bool
	errs   []error
}

// errorf records a problem with the key at path. Paths whose value
// already failed to decode are not reported twice.
func (ck *checker) errorf(path, format string, args ...any) {
	if ck.failed[path] {
		return
	}
	ck.errs = append(ck.errs, &Error{
		File: ck.file,
		Line: ck.line(path),
		Path: path,
		Msg:  path + ": " + fmt.Sprintf(format, args...),
	})
}

// line returns the line of path, or of its nearest ancestor present in
// the file (a required key that is missing is reported at its parent).
func (ck *checker) line(path string) int {
	for path != "" {
		if l, ok := ck.lines[path]; ok {
			return l
		}
		switch {
		case strings.HasSuffix(path, `"]`):
			path = path[:strings.LastIndex(path, `["`)]
		case strings.HasSuffix(path, "]"):
			path = path[:strings.LastIndexByte(path, '[')]
		default:
			i := strings.LastIndexByte(path, '.')
			if i < 0 {
				return 0
			}
			path = path[:i]
		}
	}
	return 0
}

// Validate checks every value, reporting all problems joined (with file
// and line when the Config came from Load or Parse). It also normalises
// the configuration: aliases are lower-cased, windows sorted, and the
// index behind IPs.Resolve is built. Call it again after changing a
// Config by hand.
func (c *Config) Validate() error {
	return errors.Join(c.validate(nil)...)
}

func (c *Config) validate(failed map[string]bool) []error {
	ck := &checker{file: c.origin.file, lines: c.origin.lines, failed: failed}
	c.validateTop(ck)
	v := reflect.ValueOf(c).Elem()
	keys, index := yamlFields(v.Type())
	for _, k := range keys {
		if s, ok := v.Field(index[k]).Addr().Interface().(validator); ok {
			s.validate(ck, k)
		}
	}
	return ck.errs
}

const (
	minWindow = time.Minute
	maxWindow = 7 * day
)

// validateTop checks the top-level keys that are not sections.
func (c *Config) validateTop(ck *checker) {
	if strings.TrimSpace(c.StateDir) == "" {
		ck.errorf("state_dir", "must not be empty")
	}
	seen := map[string]int{}
	for i := range c.Sources {
		p := "sources[" + strconv.Itoa(i) + "]"
		c.Sources[i].validate(ck, p)
		if path := c.Sources[i].Path; path != "" {
			if j, dup := seen[path]; dup {
				ck.errorf(p+".path", "%q is already sources[%d]; every line would be counted twice", path, j)
			} else {
				seen[path] = i
			}
		}
	}

	if len(c.Windows) == 0 {
		ck.errorf("windows", "must list at least one window")
	}
	first := map[time.Duration]int{}
	for i, w := range c.Windows {
		p := "windows[" + strconv.Itoa(i) + "]"
		switch {
		case w < minWindow:
			ck.errorf(p, "%s is shorter than the minimum %s", formatDuration(w), formatDuration(minWindow))
		case w > maxWindow:
			ck.errorf(p, "%s is longer than the maximum %s", formatDuration(w), formatDuration(maxWindow))
		}
		if j, dup := first[w]; dup {
			ck.errorf(p, "%s is listed twice (also windows[%d])", formatDuration(w), j)
		} else {
			first[w] = i
		}
	}
	slices.Sort(c.Windows)

	if c.CheckpointInterval <= 0 {
		ck.errorf("checkpoint_interval", "%s must be positive", formatDuration(c.CheckpointInterval))
	}
}

const (
	minYear = 1970
	maxYear = 9999
)

func (s *Source) validate(ck *checker, path string) {
	switch {
	case s.Path == "":
		ck.errorf(path+".path", "is required")
	case strings.ContainsAny(s.Path, "*?["):
		ck.errorf(path+".path", "%q looks like a glob; globs are not supported, list each file", s.Path)
	}
	switch s.Format {
	case FormatAuto, FormatSyslog, FormatExim:
	default:
		ck.errorf(path+".format", "%q is not one of %s, %s, %s", s.Format, FormatAuto, FormatSyslog, FormatExim)
	}
	if strings.ContainsFunc(s.Host, isSpace) {
		ck.errorf(path+".host", "%q contains white space", s.Host)
	}
	if s.Year != 0 && (s.Year < minYear || s.Year > maxYear) {
		ck.errorf(path+".year", "%d is not 0 (infer) or a year between %d and %d", s.Year, minYear, maxYear)
	}
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

var attributions = []string{AttrAuth, AttrLocal, AttrSenderDomain, AttrSender}

func (a *Accounts) validate(ck *checker, path string) {
	if len(a.Precedence) == 0 {
		ck.errorf(path+".precedence", "must list at least one of %s", strings.Join(attributions, ", "))
	}
	for i, p := range a.Precedence {
		kp := path + ".precedence[" + strconv.Itoa(i) + "]"
		if !slices.Contains(attributions, p) {
			ck.errorf(kp, "%q is not one of %s", p, strings.Join(attributions, ", "))
			continue
		}
		if j := slices.Index(a.Precedence, p); j < i {
			ck.errorf(kp, "%q is listed twice (also precedence[%d])", p, j)
		}
	}
	if a.Aliases == nil {
		return
	}
	norm := make(map[string]string, len(a.Aliases))
	from := make(map[string]string, len(a.Aliases))
	for _, k := range sortedKeys(a.Aliases) {
		v := a.Aliases[k]
		kp := path + ".aliases[" + strconv.Quote(k) + "]"
		lk, lv := strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		switch {
		case lk == "":
			ck.errorf(kp, "an alias needs a non-empty name")
			continue
		case lv == "":
			ck.errorf(kp, "%q maps to an empty account", k)
			continue
		}
		if prev, dup := from[lk]; dup {
			ck.errorf(kp, "%q is the same alias as %q (aliases are case-insensitive)", k, prev)
			continue
		}
		from[lk] = k
		norm[lk] = lv
	}
	a.Aliases = norm
}

func (ips *IPs) validate(ck *checker, path string) {
	for i, p := range ips.Shared {
		if !p.IsValid() {
			ck.errorf(path+".shared["+strconv.Itoa(i)+"]", "is not a valid IP address or CIDR prefix")
		}
	}
	for _, h := range sortedKeys(ips.Hosts) {
		kp := path + ".hosts[" + strconv.Quote(h) + "]"
		switch {
		case h == "" || strings.ContainsFunc(h, isSpace):
			ck.errorf(kp, "%q is not a host name", h)
		case !ips.Hosts[h].IsValid():
			ck.errorf(kp, "an IP address is required")
		}
	}
	type ruleKey struct{ match, host string }
	seen := map[ruleKey]int{}
	for i, t := range ips.Transports {
		kp := path + ".transports[" + strconv.Itoa(i) + "]"
		switch {
		case t.Match == "":
			ck.errorf(kp+".match", "is required")
		case t.Match == "/" || strings.ContainsFunc(t.Match, isSpace):
			ck.errorf(kp+".match", "%q is not a program name, program prefix or transport name", t.Match)
		}
		if strings.ContainsFunc(t.Host, isSpace) {
			ck.errorf(kp+".host", "%q contains white space", t.Host)
		}
		if !t.IP.IsValid() {
			ck.errorf(kp+".ip", "is required")
		}
		k := ruleKey{t.Match, t.Host}
		if j, dup := seen[k]; dup && t.Match != "" {
			ck.errorf(kp, "duplicates %s.transports[%d] (match %q, host %q)", path, j, t.Match, t.Host)
		} else {
			seen[k] = i
		}
	}
	ips.index = buildIndex(ips)
}

func (c *Correlator) validate(ck *checker, path string) {
	if c.MaxMessages <= 0 {
		ck.errorf(path+".max_messages", "%d must be positive", c.MaxMessages)
	}
	if c.Expiry <= 0 {
		ck.errorf(path+".expiry", "%s must be positive", formatDuration(c.Expiry))
	}
}

func (h *HTTP) validate(ck *checker, path string) {
	if h.Listen == "" {
		return
	}
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		ck.errorf(path+".listen", "%q is not host:port", h.Listen)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		ck.errorf(path+".listen", "%q: port %q is not a number between 1 and 65535", h.Listen, port)
	}
	if host != "" && !validHost(host) {
		ck.errorf(path+".listen", "%q: %q is not an IP address or host name", h.Listen, host)
	}
}

// validHost reports whether s is an IP address or a syntactically valid
// DNS host name.
func validHost(s string) bool {
	if _, err := parseAddr(s); err == nil {
		return true
	}
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// sortedKeys returns m's keys in order, so errors come out in a stable
// order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
