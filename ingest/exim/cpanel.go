package exim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailrep/mailrep/ingest"
)

// cPanel's outbound scanner runs SpamAssassin as the cpaneleximscanner user
// on mail leaving the server and logs its verdict through Exim:
//
//	ID H=… [ip]:port … rejected after DATA: "SpamAssassin as cpaneleximscanner
//	  detected OUTGOING smtp message as spam (URIBL domains: …) (Spam score:
//	  12.5) (Subject: …) Spam report: RULE=score, … CMAE Analysis: …"
//	  authenticated_id: user@dom account_owner: cpuser
//	ID H=… [ip]:port Warning: "SpamAssassin as cpaneleximscanner detected
//	  OUTGOING smtp message as NOT spam (-1.0)"
//
// Local (PHP) submissions say "OUTGOING not smtp message".
const scannerPrefix = "SpamAssassin as cpaneleximscanner detected OUTGOING "

// verdict is what a scanner text says.
type verdict struct {
	spam  bool
	score float64
}

// parseVerdict reads the verdict and score of a scanner text (the inner
// text of the quoted string). ok is false for other SpamAssassin texts.
func parseVerdict(text string) (v verdict, ok bool, err error) {
	rest, found := strings.CutPrefix(text, scannerPrefix)
	if !found {
		return v, false, nil
	}
	rest = strings.TrimPrefix(rest, "not ")
	rest, found = strings.CutPrefix(rest, "smtp message as ")
	if !found {
		return v, false, fmt.Errorf("cPanel scanner text without \"smtp message as\"")
	}
	switch {
	case strings.HasPrefix(rest, "NOT spam ("):
		rest = rest[len("NOT spam ("):]
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return v, false, errors.New("cPanel scanner NOT spam score not closed")
		}
		v.score, err = strconv.ParseFloat(rest[:end], 64)
		if err != nil {
			return v, false, fmt.Errorf("cPanel scanner score: %w", err)
		}
	case strings.HasPrefix(rest, "spam"):
		v.spam = true
		i := strings.Index(rest, "(Spam score: ")
		if i < 0 {
			return v, false, errors.New("cPanel scanner spam verdict without \"(Spam score: \"")
		}
		rest = rest[i+len("(Spam score: "):]
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return v, false, errors.New("cPanel scanner spam score not closed")
		}
		v.score, err = strconv.ParseFloat(rest[:end], 64)
		if err != nil {
			return v, false, fmt.Errorf("cPanel scanner score: %w", err)
		}
	default:
		return v, false, fmt.Errorf("cPanel scanner verdict %q", cut(rest, 20))
	}
	return v, true, nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// scannerReject fills ev (already a KindRejected event carrying the
// connection fields) from a cPanel scanner reject text, turning it into
// KindFiltered. ok is false when the text is another SpamAssassin text,
// which is then an ordinary rejection.
func (l *line) scannerReject(ev *ingest.Event, s string) (ok bool, err error) {
	end := skipQuoted(s, 0)
	text := unquote(s[:end])
	v, ok, err := parseVerdict(text)
	if err != nil || !ok {
		return false, err
	}
	ev.Source = ingest.SourceCPanel
	ev.Spam = v.spam
	ev.Score = v.score
	ev.Reply = text
	if v.spam {
		ev.Kind = ingest.KindFiltered
		parseRules(ev, text)
	} else {
		ev.Kind = ingest.KindScored
	}
	scannerAccount(ev, s[end:])
	return true, nil
}

// scannerWarning handles "H=… Warning: \"SpamAssassin as cpaneleximscanner
// …\"": a verdict that did not stop the message (KindScored). done is
// false for other warnings, which are ignored.
func (l *line) scannerWarning(s string) (done bool, err error) {
	i := strings.Index(s, "Warning: \"SpamAssassin as ")
	q := i + len("Warning: ")
	end := skipQuoted(s, q)
	text := unquote(s[q:end])
	v, ok, err := parseVerdict(text)
	if err != nil || !ok {
		return false, err
	}
	ev := l.add(ingest.KindScored)
	ev.Source = ingest.SourceCPanel
	ev.Spam = v.spam
	ev.Score = v.score
	f := fields{ev: ev, role: inbound}
	t := tokenizer{s: s[:i]}
	for {
		tok, _, ok := t.next()
		if !ok {
			break
		}
		f.token(tok)
	}
	if v.spam {
		parseRules(ev, text)
	}
	scannerAccount(ev, s[end:])
	return true, nil
}

// scannerAccount reads "authenticated_id: user@dom account_owner: cpuser"
// after the quoted scanner text.
func scannerAccount(ev *ingest.Event, s string) {
	if _, v, ok := strings.Cut(s, "authenticated_id: "); ok {
		v, _, _ = strings.Cut(v, " ")
		if v != "" {
			ev.AuthUser = v
		}
	}
	if _, v, ok := strings.Cut(s, "account_owner: "); ok {
		v, _, _ = strings.Cut(v, " ")
		if v != "" {
			ev.LocalUser = v
		}
	}
}

// parseRules reads "Spam report: RULE=score, RULE=score, …" (up to " CMAE
// Analysis:" or the end) into ev.Rules. Items that are not NAME=number are
// skipped: the report is free text as far as Exim is concerned.
func parseRules(ev *ingest.Event, text string) {
	i := strings.LastIndex(text, "Spam report: ")
	if i < 0 {
		return
	}
	rep := text[i+len("Spam report: "):]
	if j := strings.Index(rep, " CMAE Analysis:"); j >= 0 {
		rep = rep[:j]
	}
	for rep != "" {
		var item string
		item, rep, _ = strings.Cut(rep, ",")
		item = strings.TrimSpace(item)
		name, score, ok := strings.Cut(item, "=")
		if !ok || name == "" || strings.IndexByte(name, ' ') >= 0 {
			continue
		}
		f, err := strconv.ParseFloat(score, 64)
		if err != nil {
			continue
		}
		ev.Rules = append(ev.Rules, ingest.RuleHit{Name: name, Score: f})
	}
}

// outbound parses cPanel's "SMTP connection outbound <epoch> <msgid>
// <sender domain> <recipient>". With a pid it yields KindAuth joining the
// pid to the queue id; without one it carries nothing and is ignored.
func (l *line) outbound(s string) error {
	epoch, s, _ := strings.Cut(s, " ")
	id, s, _ := strings.Cut(s, " ")
	_, rcpt, ok := strings.Cut(s, " ")
	if !allDigits(epoch) || !IsMessageID(id) || !ok || rcpt == "" || strings.IndexByte(rcpt, ' ') >= 0 {
		return errors.New("\"SMTP connection outbound\" is not \"<epoch> <msgid> <domain> <recipient>\"")
	}
	if l.pid == 0 {
		return nil
	}
	ev := l.add(ingest.KindAuth)
	ev.Source = ingest.SourceCPanel
	ev.Recipient = rcpt
	return nil
}

// cwd parses the "cwd=/home/USER/public_html 4 args: /usr/sbin/sendmail -t
// -i" line Exim writes (log_selector +arguments) when a local process
// submits mail. With a pid and a home directory it yields KindAuth
// {PID, LocalUser}: the following "<=" line of that pid is the user's.
func (l *line) cwd(s string) error {
	dir, rest, ok := strings.Cut(s, " ")
	if !ok {
		return errors.New("cwd= line without arguments")
	}
	n, rest, _ := strings.Cut(rest, " ")
	if !allDigits(n) || !strings.HasPrefix(rest, "args:") {
		return errors.New("cwd= line without \"N args:\"")
	}
	user := homeUser(dir)
	if l.pid == 0 || user == "" {
		return nil
	}
	ev := l.add(ingest.KindAuth)
	ev.Source = ingest.SourceCPanel
	ev.LocalUser = user
	return nil
}

// homeUser returns USER for a directory under /home/USER (cPanel also uses
// /home2, /home3, …), or "".
func homeUser(dir string) string {
	rest, ok := strings.CutPrefix(dir, "/home")
	if !ok {
		return ""
	}
	i := 0
	for i < len(rest) && isDigit(rest[i]) {
		i++
	}
	if i >= len(rest) || rest[i] != '/' {
		return ""
	}
	user, _, _ := strings.Cut(rest[i+1:], "/")
	return user
}
