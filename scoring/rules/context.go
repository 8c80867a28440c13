package rules

import (
	"fmt"
	"net/netip"
	"strings"
)

// Context rules are mailrep's own checks of how a message was submitted,
// from the envelope and connection facts the queue or log gives
// (message.Context). They fire only when the fact they need is known, so
// a bare .eml file never hits them. Their names, scores and descriptions
// are fixed here; per-account overrides may disable or rescore them like
// any rule.

// ContextRule describes one context rule.
type ContextRule struct {
	Name        string
	Score       float64
	Description string
}

// Context rule names.
const (
	RuleUnauthSubmission = "MAILREP_UNAUTH_SUBMISSION"
	RuleInvalidHELO      = "MAILREP_INVALID_HELO"
	RuleFromNotAuthUser  = "MAILREP_FROM_NOT_AUTH_DOMAIN"
	RuleManyRecipients   = "MAILREP_MANY_RCPTS"
	RuleBulkRecipients   = "MAILREP_BULK_RCPTS"
	RuleAbuseRecipients  = "MAILREP_TO_ABUSE_DESK"
)

// Recipient counts for the many/bulk recipient rules (allow-listed
// recipients are not counted).
const (
	ManyRecipients = 25
	BulkRecipients = 100
)

// ContextRules lists the context rules with their default scores.
var ContextRules = []ContextRule{
	{RuleUnauthSubmission, 1.5, "Submitted over the network without authentication"},
	{RuleInvalidHELO, 1.0, "Client HELO is not a domain name or address literal"},
	{RuleFromNotAuthUser, 1.5, "From domain unlike the authenticated user's domain"},
	{RuleManyRecipients, 1.0, fmt.Sprintf("At least %d envelope recipients", ManyRecipients)},
	{RuleBulkRecipients, 2.0, fmt.Sprintf("At least %d envelope recipients", BulkRecipients)},
	{RuleAbuseRecipients, -3.0, "Addressed only to abuse desks or spam-report services"},
}

func contextRule(name string) ContextRule {
	for _, c := range ContextRules {
		if c.Name == name {
			return c
		}
	}
	return ContextRule{Name: name}
}

// abuseDesks are recipient patterns of abuse desks and spam-report
// services: mail to them quotes spam, so it must not count as spam.
var abuseDesks = func() *globList {
	g := newGlobList(false)
	for _, p := range []string{
		"abuse@*", "spam@*", "phishing@*", "report-spam@*", "reportspam@*",
		"*@submit.spamcop.net", "*@spam.spamcop.net", "*@reports.spamcop.net",
		"spam@uce.gov", "reportphishing@apwg.org", "phishing-report@us-cert.gov",
		"report@phishing.gov.uk", "abuse@*.*", "*@abuse.*",
	} {
		g.add(p)
	}
	return g
}()

// contextHits evaluates the context rules.
func (m *msgState) contextHits() []Hit {
	c := &m.msg.Context
	var hits []Hit
	add := func(name, where string) {
		cr := contextRule(name)
		hits = append(hits, Hit{Name: cr.Name, Score: cr.Score, Description: cr.Description, Area: AreaContext, Where: where})
	}
	if !c.Authenticated && c.ClientIP.IsValid() && !c.ClientIP.IsLoopback() {
		add(RuleUnauthSubmission, c.ClientIP.String())
	}
	if c.HELO != "" && !validHELO(c.HELO) {
		add(RuleInvalidHELO, c.HELO)
	}
	if c.Authenticated && c.AuthUser != "" {
		if ad := addrDomain(c.AuthUser); ad != "" {
			if from, _ := firstAddress(m.msg.First("From")); from != "" {
				fd := addrDomain(from)
				if fd != "" && m.rs.registeredDomain(fd) != m.rs.registeredDomain(ad) {
					add(RuleFromNotAuthUser, fd+" vs "+ad)
				}
			}
		}
	}
	counted, abuse := 0, 0
	for _, r := range c.Recipients {
		if abuseDesks.match(strings.Trim(r, "<> ")) {
			abuse++
		}
		if !m.over.allowed(r) {
			counted++
		}
	}
	switch {
	case counted >= BulkRecipients:
		add(RuleBulkRecipients, fmt.Sprintf("%d recipients", counted))
	case counted >= ManyRecipients:
		add(RuleManyRecipients, fmt.Sprintf("%d recipients", counted))
	}
	if abuse > 0 && abuse == len(c.Recipients) {
		add(RuleAbuseRecipients, strings.Trim(c.Recipients[0], "<> "))
	}
	return hits
}

// validHELO reports whether a HELO name is a fully-qualified domain name
// or an address literal ([192.0.2.1], [IPv6:2001:db8::1]).
func validHELO(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		a := strings.TrimPrefix(h[1:len(h)-1], "IPv6:")
		_, err := netip.ParseAddr(a)
		return err == nil
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return false // a bare address must be bracketed
	}
	h = strings.TrimSuffix(h, ".")
	labels := strings.Split(h, ".")
	if len(labels) < 2 || len(h) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return true
		}
	}
	return false // all-numeric top-level label
}
