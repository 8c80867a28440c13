package config

import (
	"strings"
	"testing"
	"time"
)

func TestScoringSection(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`scoring:
  threshold: 6.5
  accounts:
    shop:
      disabled_rules: [FREEMAIL_FROM]
      scores: {HTML_MESSAGE: 0.25, BAYES_99: -1e-1}
      threshold: 8
      allow_recipients: [abuse@example.net, "@reports.example.org"]
  queues:
    - {path: /var/spool/postfix, kind: postfix}
  queue_interval: 1m
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Scoring
	if s.Threshold != 6.5 || s.QueueInterval != time.Minute || len(s.Queues) != 1 {
		t.Errorf("%+v", s)
	}
	a := s.Accounts["shop"]
	if a.Threshold != 8 || a.Scores["HTML_MESSAGE"] != 0.25 || a.Scores["BAYES_99"] != -0.1 || len(a.AllowRecipients) != 2 {
		t.Errorf("account override %+v", a)
	}
	if d := Default(); d.Scoring.Threshold != 5 || d.Scoring.QueueInterval != 30*time.Second {
		t.Errorf("defaults %+v", d.Scoring)
	}
}

func TestScoringErrors(t *testing.T) {
	_, err := Parse("t.yaml", []byte(`scoring:
  threshold: high
  accounts:
    shop:
      scores: {"bad rule": 1}
      threshold: -1
      allow_recipients: [nobody]
  queues:
    - {path: "", kind: qmail}
  queue_interval: 0s
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`t.yaml:2: scoring.threshold: "high" is not a number`,
		`scoring.accounts["shop"].scores: "bad rule" is not a rule name`,
		`scoring.accounts["shop"].threshold`,
		`scoring.accounts["shop"].allow_recipients[0]: "nobody"`,
		`scoring.queues[0].path: is empty`,
		`scoring.queues[0].kind: "qmail"`,
		`scoring.queue_interval`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
