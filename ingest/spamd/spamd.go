// Package spamd parses the log lines of SpamAssassin's spamd into filter
// results (DESIGN §11). spamd logs each scanned message twice, from the
// child process that scanned it:
//
//	spamd: identified spam (7.4/5.0) for user:1001 in 0.2 seconds, 1234 bytes.
//	spamd: result: Y  7 - RULE1,RULE2 scantime=0.2,size=1234,user=user,uid=1001,
//	  required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=41234,mid=<m@x>,autolearn=no
//
// ("clean message (-1.0/5.0) …" and "result: . -1 - …" for ham). The result
// line names the rules that fired but gives the score truncated to an
// integer; the companion line before it gives the score to one decimal
// (SpamAssassin's "%2.1f", lowered to threshold-0.1 for ham that would round
// up to the threshold). The Parser joins the two by host and pid — the
// companion is always the line the same child logged just before — and
// emits one KindScored event per result line with the companion's score,
// the threshold (required_score), the verdict, the rule names (Rules,
// without scores: RulesUnscored), user= as LocalUser (the spamc -u value,
// often the hosting account), mid as MessageID and size. A result line
// whose companion is missing keeps the integer score.
//
// All other spamd lines (connections, prefork, setuid, processing) carry
// nothing to count and are ignored. ParseFileHeader reads the header of
// spamd's own log file (spamd -s FILE), whose lines are not syslog lines.
package spamd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

// Parser turns spamd records into events. It keeps the last companion
// line of each spamd child (by host and pid) until its result line, so it
// is not safe for concurrent use.
type Parser struct {
	pending map[int]companion
}

// companion is what an "identified spam"/"clean message" line says.
type companion struct {
	host      string
	at        time.Time
	score     float64
	threshold float64
	size      int64
}

// maxPending bounds the companions kept; each is normally consumed by the
// very next line of its process.
const maxPending = 4096

// maxAge is how long (in log time) a companion waits for its result line.
const maxAge = 10 * time.Minute

// New returns a Parser.
func New() *Parser { return &Parser{} }

var _ ingest.Parser = (*Parser)(nil)

// Owns reports whether a syslog program name is spamd's.
func Owns(program string) bool { return program == "spamd" }

// Parse appends the event of a result line to dst. Companion lines are
// remembered and yield nothing; other spamd lines are ignored.
func (p *Parser) Parse(dst []ingest.Event, rec *ingest.Record) ([]ingest.Event, error) {
	msg, ok := strings.CutPrefix(rec.Msg, "spamd: ")
	if !ok {
		return dst, nil
	}
	switch {
	case strings.HasPrefix(msg, "result: "):
		return p.result(dst, rec, msg[len("result: "):])
	case strings.HasPrefix(msg, "identified spam ("), strings.HasPrefix(msg, "clean message ("):
		return dst, p.companion(rec, msg)
	}
	return dst, nil
}

func malformed(why, s string) error {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Errorf("%w: spamd %s: %q", ingest.ErrMalformed, why, s)
}

// companion remembers "identified spam (S/T) for user:uid in N seconds, B
// bytes." and "clean message (S/T) …".
func (p *Parser) companion(rec *ingest.Record, msg string) error {
	_, rest, _ := strings.Cut(msg, "(")
	st, rest, ok := strings.Cut(rest, ") for ")
	if !ok {
		return malformed("score line without \"(score/threshold) for\"", msg)
	}
	s, t, ok := strings.Cut(st, "/")
	score, err1 := strconv.ParseFloat(s, 64)
	threshold, err2 := strconv.ParseFloat(t, 64)
	if !ok || err1 != nil || err2 != nil || !finite(score) || !finite(threshold) {
		return malformed("score line with a bad (score/threshold)", msg)
	}
	c := companion{at: rec.Time, score: score, threshold: threshold, size: -1}
	if i := strings.LastIndex(rest, ", "); i >= 0 {
		if n, ok := strings.CutSuffix(rest[i+2:], " bytes."); ok {
			if v, err := strconv.ParseInt(n, 10, 64); err == nil {
				c.size = v
			}
		}
	}
	if p.pending == nil {
		p.pending = make(map[int]companion)
	}
	if len(p.pending) >= maxPending {
		clear(p.pending)
	}
	if old, ok := p.pending[rec.PID]; ok && old.host == rec.Host {
		c.host = old.host
	} else {
		c.host = strings.Clone(rec.Host)
	}
	p.pending[rec.PID] = c
	return nil
}

// result parses "Y|. N - RULE,RULE key=value,key=value,…" (the rules may be
// empty, leaving two spaces).
func (p *Parser) result(dst []ingest.Event, rec *ingest.Record, s string) ([]ingest.Event, error) {
	if len(s) < 2 || (s[0] != 'Y' && s[0] != '.') || s[1] != ' ' {
		return dst, malformed("result line without Y or .", s)
	}
	spam := s[0] == 'Y'
	rest := strings.TrimLeft(s[2:], " ")
	num, rest, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(num)
	if err != nil {
		return dst, malformed("result line with a bad score", s)
	}
	rest, ok := strings.CutPrefix(rest, "- ")
	if !ok {
		return dst, malformed("result line without \" - \" before the rules", s)
	}
	rules, extra, _ := strings.Cut(rest, " ")

	// Reuse the slot (and its Rules array) past len(dst) if there is one.
	if len(dst) < cap(dst) {
		dst = dst[:len(dst)+1]
	} else {
		dst = append(dst, ingest.Event{})
	}
	ev := &dst[len(dst)-1]
	ev.Reset()
	ev.Time, ev.Host, ev.Program, ev.PID = rec.Time, rec.Host, rec.Program, rec.PID
	ev.Source, ev.Kind = ingest.SourceSpamd, ingest.KindScored
	ev.Spam = spam
	ev.Score = float64(n)
	ev.RulesUnscored = true
	for rules != "" {
		var name string
		name, rules, _ = strings.Cut(rules, ",")
		if name != "" {
			ev.Rules = append(ev.Rules, ingest.RuleHit{Name: name})
		}
	}
	haveThreshold := false
	ev.Size = -1
	for extra != "" {
		var item string
		item, extra, _ = strings.Cut(extra, ",")
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		switch k {
		case "required_score":
			t, err := strconv.ParseFloat(v, 64)
			if err != nil || !finite(t) {
				return dst[:len(dst)-1], malformed("result line with a bad required_score", s)
			}
			ev.Threshold, haveThreshold = t, true
		case "user":
			if v != "(unknown)" {
				ev.LocalUser = v
			}
		case "mid":
			if v != "(unknown)" {
				ev.MessageID = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
			}
		case "size":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				ev.Size = n
			}
		}
	}
	if !haveThreshold {
		return dst[:len(dst)-1], malformed("result line without required_score", s)
	}
	if c, ok := p.pending[rec.PID]; ok {
		delete(p.pending, rec.PID)
		if c.host == rec.Host && c.threshold == ev.Threshold && (c.size < 0 || ev.Size < 0 || c.size == ev.Size) &&
			!rec.Time.Before(c.at) && rec.Time.Sub(c.at) <= maxAge {
			ev.Score = c.score
		}
	}
	if ev.Size < 0 {
		ev.Size = 0
	}
	return dst, nil
}

func finite(f float64) bool { return f-f == 0 }
