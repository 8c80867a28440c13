package config

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scoring configures spam scoring: the rule files, the score table and
// threshold, per-account overrides (used by "mailrep rescore" and the
// scoring of queued mail), and the mail queues "mailrep run" watches.
type Scoring struct {
	// Rules are SpamAssassin .cf files or directories (read in lexical
	// order); empty means SpamAssassin's stock rules as spamd reads them
	// (the newest sa-update directory or /usr/share/spamassassin, then
	// /etc/spamassassin).
	Rules []string `yaml:"rules"`
	// Scores are files of "score RULE value" lines that override the
	// table for every account.
	Scores []string `yaml:"scores"`
	// Threshold is the score at which a message is spam.
	Threshold float64 `yaml:"threshold"`
	// Accounts are per-account overrides, by account name as attributed
	// (see accounts).
	Accounts map[string]ScoringAccount `yaml:"accounts"`
	// Queues are the mail queues whose outbound messages are scored.
	Queues []Queue `yaml:"queues"`
	// QueueInterval is how often the queues are rescanned (file-system
	// notifications trigger scans in between).
	QueueInterval time.Duration `yaml:"queue_interval"`
}

// ScoringAccount overrides scoring for one account.
type ScoringAccount struct {
	// DisabledRules never hit for this account.
	DisabledRules []string `yaml:"disabled_rules"`
	// Scores replace rule scores for this account.
	Scores map[string]float64 `yaml:"scores"`
	// Threshold replaces the threshold for this account (0: the global).
	Threshold float64 `yaml:"threshold"`
	// AllowRecipients are addresses (or @domain) whose mail never counts
	// against the account, such as abuse-report addresses.
	AllowRecipients []string `yaml:"allow_recipients"`
}

// Queue is one mail queue to watch.
type Queue struct {
	// Path is the queue directory: Postfix's queue_directory
	// (/var/spool/postfix), Exim's spool_directory (/var/spool/exim4),
	// or a directory of .eml files.
	Path string `yaml:"path"`
	// Kind is postfix, exim or eml.
	Kind string `yaml:"kind"`
}

// Queue kinds.
const (
	QueuePostfix = "postfix"
	QueueExim    = "exim"
	QueueEML     = "eml"
)

func (s *Scoring) setDefaults() {
	s.Threshold = 5
	s.QueueInterval = 30 * time.Second
}

func (s *Scoring) validate(ck *checker, path string) {
	if math.IsNaN(s.Threshold) || math.IsInf(s.Threshold, 0) || s.Threshold <= 0 || s.Threshold > 1000 {
		ck.errorf(path+".threshold", "%v: want a score above 0 and at most 1000", s.Threshold)
	}
	if s.QueueInterval < time.Second || s.QueueInterval > 24*time.Hour {
		ck.errorf(path+".queue_interval", "%s: want 1s to 24h", formatDuration(s.QueueInterval))
	}
	for i, r := range s.Rules {
		if strings.TrimSpace(r) == "" {
			ck.errorf(path+".rules["+strconv.Itoa(i)+"]", "is empty")
		}
	}
	for i, r := range s.Scores {
		if strings.TrimSpace(r) == "" {
			ck.errorf(path+".scores["+strconv.Itoa(i)+"]", "is empty")
		}
	}
	for _, name := range sortedKeys(s.Accounts) {
		kp := path + ".accounts[" + strconv.Quote(name) + "]"
		a := s.Accounts[name]
		if strings.TrimSpace(name) == "" {
			ck.errorf(kp, "needs an account name")
		}
		if a.Threshold < 0 || math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0) || a.Threshold > 1000 {
			ck.errorf(kp+".threshold", "%v: want 0 (the global threshold) or a score up to 1000", a.Threshold)
		}
		for rule, v := range a.Scores {
			if !validRuleName(rule) {
				ck.errorf(kp+".scores", "%q is not a rule name (letters, digits, _)", rule)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1000 {
				ck.errorf(kp+".scores["+strconv.Quote(rule)+"]", "%v is not a score", v)
			}
		}
		for i, rule := range a.DisabledRules {
			if !validRuleName(rule) {
				ck.errorf(kp+".disabled_rules["+strconv.Itoa(i)+"]", "%q is not a rule name (letters, digits, _)", rule)
			}
		}
		for i, r := range a.AllowRecipients {
			if at := strings.LastIndexByte(r, '@'); at < 0 || at == len(r)-1 || strings.ContainsAny(r, " \t<>") {
				ck.errorf(kp+".allow_recipients["+strconv.Itoa(i)+"]", "%q is not an address or @domain", r)
			}
		}
	}
	for i, q := range s.Queues {
		kp := path + ".queues[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(q.Path) == "" {
			ck.errorf(kp+".path", "is empty")
		}
		if !slices.Contains([]string{QueuePostfix, QueueExim, QueueEML}, q.Kind) {
			ck.errorf(kp+".kind", "%q: want postfix, exim or eml", q.Kind)
		}
	}
}

// validRuleName reports whether s looks like a SpamAssassin rule name.
func validRuleName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Scoring) describe(p func(string, ...any)) {
	rules := "SpamAssassin's stock rules (sa-update dir or /usr/share/spamassassin, then /etc/spamassassin)"
	if len(s.Rules) > 0 {
		rules = strings.Join(s.Rules, ", ")
	}
	p("scoring\trules\t%s", rules)
	if len(s.Scores) > 0 {
		p("\tscore overrides\t%s", strings.Join(s.Scores, ", "))
	}
	p("\tthreshold\t%v", s.Threshold)
	if len(s.Accounts) > 0 {
		p("\taccount overrides\t%s", strings.Join(sortedKeys(s.Accounts), ", "))
	}
	if len(s.Queues) == 0 {
		p("\tqueues\tnone")
	}
	for _, q := range s.Queues {
		p("\tqueue\t%s %s (%s)", q.Kind, q.Path, fileStatus(q.Path))
	}
}
