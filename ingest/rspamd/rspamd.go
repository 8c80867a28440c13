// Package rspamd parses rspamd's task log lines — one per scanned message —
// into filter results (DESIGN §11):
//
//	rspamd_task_write_log: id: <mid>, qid: <QID>, ip: 192.0.2.5, user: joe,
//	  from: <joe@example.com>, (default: T (add header): [8.50/15.00]
//	  [BAYES_SPAM(5.10){100.00%;},RBL_X(4.00){192.0.2.5:from;}]), len: 1234,
//	  time: 50.1ms, dns req: 10, digest: <…>, rcpts: <…>
//
// whether written to rspamd's own log file ("#pid(worker) <tag>; task;"
// before it, see ingest/syslog) or through syslog ("rspamd[pid]: <tag>;
// task; …"). Symbol options in "{}" are free text — commas, parentheses,
// semicolons, colons — so the symbol list is split by a brace-aware
// scanner. Older formats are read too: without the "default: T" metric
// prefix ("(no action): [1.5/15.0] [SYM(1.0),…]"), and without per-symbol
// scores and options ("[SYM1,SYM2]"), which sets RulesUnscored.
//
// Each task line yields one KindScored event: score and threshold (the
// reject score rspamd prints), Spam from the T/F flag (or, without one,
// from the action: reject, add header, rewrite subject, discard and
// quarantine are spam), the symbols as Rules, user: as AuthUser (the
// authenticated sender), qid as QueueID (so the correlator joins the
// MTA's facts), id as MessageID, ip as ClientIP, from as Sender and len
// as Size. Skipped tasks ("S") and every other rspamd line are ignored.
package rspamd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// Parser turns rspamd records into events. It keeps no state.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

var _ ingest.Parser = (*Parser)(nil)

// Owns reports whether a syslog program name is rspamd's (the syslog
// parser also names the lines of rspamd's own log file "rspamd").
func Owns(program string) bool { return program == "rspamd" }

const marker = "rspamd_task_write_log: "

// Parse appends the event of a task log line to dst.
func (p *Parser) Parse(dst []ingest.Event, rec *ingest.Record) ([]ingest.Event, error) {
	i := strings.Index(rec.Msg, marker)
	if i < 0 {
		return dst, nil
	}
	n := len(dst)
	if n < cap(dst) {
		dst = dst[:n+1]
	} else {
		dst = append(dst, ingest.Event{})
	}
	ev := &dst[n]
	ev.Reset()
	ev.Time, ev.Host, ev.Program, ev.PID = rec.Time, rec.Host, rec.Program, rec.PID
	ev.Source, ev.Kind = ingest.SourceRspamd, ingest.KindScored
	skipped, err := parseTask(ev, rec.Msg[i+len(marker):])
	if err != nil {
		return dst[:n], fmt.Errorf("%w: rspamd task line: %v: %q", ingest.ErrMalformed, err, excerpt(rec.Msg[i:]))
	}
	if skipped {
		return dst[:n], nil
	}
	return dst, nil
}

func excerpt(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// parseTask fills ev from the text after "rspamd_task_write_log: ".
func parseTask(ev *ingest.Event, s string) (skipped bool, err error) {
	// "key: value, " fields up to the metric's "(".
	for s != "" && s[0] != '(' {
		key, rest, ok := strings.Cut(s, ": ")
		if !ok || strings.ContainsAny(key, ",()[]") {
			return false, errors.New("no \"(action): [score/threshold]\"")
		}
		var val string
		val, s, err = fieldValue(rest)
		if err != nil {
			return false, fmt.Errorf("%s: %w", key, err)
		}
		switch key {
		case "id":
			if val != "undef" {
				ev.MessageID = val
			}
		case "qid":
			ev.QueueID = val
		case "ip":
			ev.ClientIP = val
		case "user":
			ev.AuthUser = val
		case "from":
			ev.Sender = val
		}
	}
	if s == "" {
		return false, errors.New("no \"(action): [score/threshold]\"")
	}
	s, skipped, err = parseMetric(ev, s[1:])
	if err != nil || skipped {
		return skipped, err
	}
	// ", len: N, time: …" after the metric.
	if _, rest, ok := strings.Cut(s, "len: "); ok {
		num, _, _ := strings.Cut(rest, ",")
		if v, err := strconv.ParseInt(num, 10, 64); err == nil && v >= 0 {
			ev.Size = v
		}
	}
	return false, nil
}

// fieldValue reads a value ending at ", " (or the end); a value in angle
// brackets ends at its ">" and loses them.
func fieldValue(s string) (val, rest string, err error) {
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return "", "", errors.New("unclosed <")
		}
		val, rest = s[1:end], s[end+1:]
		if rest != "" {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, ", "); !ok {
				rest, ok = strings.CutPrefix(rest, ",")
				if !ok {
					return "", "", errors.New("no \",\" after <…>")
				}
			}
		}
		return val, strings.TrimLeft(rest, " "), nil
	}
	val, rest, _ = strings.Cut(s, ",")
	return strings.TrimSpace(val), strings.TrimLeft(rest, " "), nil
}

// parseMetric parses, after the opening "(", either
//
//	default: T (action): [score/threshold] [symbols])
//
// or the older "action): [score/threshold] [symbols]", and returns what
// follows.
func parseMetric(ev *ingest.Event, s string) (rest string, skipped bool, err error) {
	flag := byte(0)
	nested := false
	// "NAME: F (" — a metric name, the verdict flag, the action in parens.
	if name, r, ok := strings.Cut(s, ": "); ok && !strings.ContainsAny(name, " ()[]") &&
		len(r) > 3 && strings.IndexByte("TFS", r[0]) >= 0 && r[1] == ' ' && r[2] == '(' {
		flag, s, nested = r[0], r[3:], true
	}
	action, s, ok := strings.Cut(s, "): [")
	if !ok || action == "" || strings.ContainsAny(action, "()[]") {
		return "", false, errors.New("no \"(action): [\"")
	}
	if flag == 'S' {
		return "", true, nil
	}
	scores, s, ok := strings.Cut(s, "] [")
	if !ok {
		return "", false, errors.New("no \"[score/threshold] [\"")
	}
	sc, th, ok := strings.Cut(scores, "/")
	score, err1 := strconv.ParseFloat(sc, 64)
	threshold, err2 := strconv.ParseFloat(th, 64)
	if !ok || err1 != nil || !finite(score) {
		return "", false, fmt.Errorf("bad [score/threshold] %q", scores)
	}
	if err2 != nil || !finite(threshold) {
		threshold = 0 // "nan" when no reject action is configured: not logged
	}
	ev.Score, ev.Threshold = score, threshold
	switch flag {
	case 'T':
		ev.Spam = true
	case 'F':
	default:
		switch action {
		case "reject", "add header", "rewrite subject", "discard", "quarantine":
			ev.Spam = true
		}
	}
	s, err = parseSymbols(ev, s)
	if err != nil {
		return "", false, err
	}
	if nested {
		var ok bool
		if s, ok = strings.CutPrefix(s, ")"); !ok {
			return "", false, errors.New("no \")\" after the symbols")
		}
	}
	return s, false, nil
}

// parseSymbols reads "SYM(score){options},SYM…]" — score and options
// optional — up to the closing "]", which it consumes.
func parseSymbols(ev *ingest.Event, s string) (rest string, err error) {
	scored := 0
	i := 0
	for {
		if i >= len(s) {
			return "", errors.New("symbol list not closed by \"]\"")
		}
		if s[i] == ']' {
			break
		}
		start := i
		for i < len(s) && symbolByte(s[i]) {
			i++
		}
		name := s[start:i]
		if name == "" {
			return "", fmt.Errorf("empty symbol name at %q", excerpt(s[start:]))
		}
		h := ingest.RuleHit{Name: name}
		if i < len(s) && s[i] == '(' {
			end := strings.IndexByte(s[i:], ')')
			if end < 0 {
				return "", fmt.Errorf("symbol %s: score not closed", name)
			}
			v, err := strconv.ParseFloat(s[i+1:i+end], 64)
			if err != nil || !finite(v) {
				return "", fmt.Errorf("symbol %s: bad score %q", name, s[i+1:i+end])
			}
			h.Score = v
			scored++
			i += end + 1
		}
		if i < len(s) && s[i] == '{' {
			end := optionsEnd(s[i:])
			if end < 0 {
				return "", fmt.Errorf("symbol %s: options not closed", name)
			}
			i += end
		}
		ev.Rules = append(ev.Rules, h)
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		if i >= len(s) || s[i] != ']' {
			return "", fmt.Errorf("symbol %s: unexpected text %q", name, excerpt(s[i:]))
		}
	}
	if len(ev.Rules) > 0 && scored == 0 {
		ev.RulesUnscored = true
	} else if scored != len(ev.Rules) {
		return "", errors.New("symbols with and without scores")
	}
	return s[i+1:], nil
}

// optionsEnd returns the length of the options "{…}" at the start of s, or
// -1. Options are free text — commas, parentheses, semicolons, even lone
// braces — so they end at the first "}" that is followed by the next
// symbol ("," then a name and "(", "{", "," or "]") or by the "]" that
// closes the list.
func optionsEnd(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i] != '}' {
			continue
		}
		if i+1 == len(s) || s[i+1] == ']' {
			return i + 1
		}
		if s[i+1] == ',' && startsSymbol(s[i+2:]) {
			return i + 1
		}
	}
	return -1
}

// startsSymbol reports whether s starts with a symbol name followed by
// what may follow one.
func startsSymbol(s string) bool {
	i := 0
	for i < len(s) && symbolByte(s[i]) {
		i++
	}
	return i > 0 && i < len(s) && strings.IndexByte("({,]", s[i]) >= 0
}

// symbolByte reports whether c may be part of a symbol name.
func symbolByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func finite(f float64) bool { return f-f == 0 }
