package rbl

import (
	"fmt"
	"time"
)

// Status is the outcome of one (target, zone) lookup.
type Status string

// The three outcomes. There is deliberately no fourth: a lookup whose
// outcome cannot be determined is StatusError with an ErrorKind.
const (
	StatusListed Status = "listed"
	StatusClean  Status = "clean"
	StatusError  Status = "error"
)

// ErrorKind says why a lookup could not be determined.
type ErrorKind string

// Error kinds. The names are stable: they appear in JSON output, the
// history and metrics.
const (
	// ErrTimeout: no resolver answered within the timeout, after retries.
	ErrTimeout ErrorKind = "timeout"
	// ErrServfail: the resolver answered SERVFAIL (the list's servers
	// could not be reached or refused the resolver).
	ErrServfail ErrorKind = "servfail"
	// ErrRefused: REFUSED, or a list's own "query refused" code (URIBL
	// and SURBL answer 127.0.0.1).
	ErrRefused ErrorKind = "refused"
	// ErrPublicResolver: the list refuses queries that come through a
	// public/open resolver (Spamhaus 127.255.255.254).
	ErrPublicResolver ErrorKind = "public-resolver"
	// ErrOverQuota: the query volume limit is exceeded (Spamhaus
	// 127.255.255.255).
	ErrOverQuota ErrorKind = "over-quota"
	// ErrZoneTypo: the list says the zone name is wrong (Spamhaus
	// 127.255.255.252).
	ErrZoneTypo ErrorKind = "zone-typo"
	// ErrBadKey: a keyed zone rejected the key (Spamhaus DQS
	// 127.255.255.250/.251), or a keyed zone is configured without one.
	ErrBadKey ErrorKind = "bad-key"
	// ErrIPOnDomainList: an IP was queried against a domain list
	// (Spamhaus DBL 127.0.1.255).
	ErrIPOnDomainList ErrorKind = "ip-on-domain-list"
	// ErrRewrittenNXDOMAIN: an answer outside 127.0.0.0/8, which means a
	// resolver (or ISP) rewrites NXDOMAIN to an address of its own.
	ErrRewrittenNXDOMAIN ErrorKind = "nxdomain-rewritten"
	// ErrUnknownCode: an answer code the list does not define, on a list
	// whose catalog entry says such codes are errors (SpamRATS).
	ErrUnknownCode ErrorKind = "unknown-code"
	// ErrBadAnswer: some other DNS response code (FORMERR, NOTIMP, …) or
	// a malformed answer.
	ErrBadAnswer ErrorKind = "bad-answer"
	// ErrNetwork: the resolver could not be reached (connection refused,
	// no route).
	ErrNetwork ErrorKind = "network"
	// ErrZoneUnhealthy: the zone failed its RFC 5782 health probe in this
	// cycle, so none of its answers can be trusted.
	ErrZoneUnhealthy ErrorKind = "zone-unhealthy"
)

// Severity ranks a listing. The zero value is no severity (clean or error).
type Severity string

// Severities, from most to least urgent. SeverityGood is for allow lists
// and reputation lists: a "listing" that is good news.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
	SeverityInfo     Severity = "info"
	SeverityGood     Severity = "good"
)

// rank orders severities: higher is more urgent; unknown is 0.
func (s Severity) rank() int {
	switch s {
	case SeverityCritical:
		return 6
	case SeverityHigh:
		return 5
	case SeverityMedium:
		return 4
	case SeverityLow:
		return 3
	case SeverityInfo:
		return 2
	case SeverityGood:
		return 1
	}
	return 0
}

// Valid reports whether s is one of the defined severities.
func (s Severity) Valid() bool { return s.rank() > 0 }

// Worse reports whether s is more urgent than t.
func (s Severity) Worse(t Severity) bool { return s.rank() > t.rank() }

// Result is the typed outcome of looking up one target in one zone.
type Result struct {
	// Target is the IP address or domain as checked.
	Target string `json:"target"`
	// Zone is the DNS zone queried (for keyed zones, without the key).
	Zone string `json:"zone"`
	// List is the catalog name of the list.
	List string `json:"list"`
	// Status is listed, clean or error.
	Status Status `json:"status"`
	// Codes are all A records of a listing, in answer order.
	Codes []string `json:"codes"`
	// Meanings are the catalog meanings of Codes, one per code.
	Meanings []string `json:"meanings"`
	// Severity is the most urgent severity among Codes.
	Severity Severity `json:"severity,omitempty"`
	// TXT is the list's TXT record for a listing (or for an error code,
	// where lists explain it), strings joined with " ".
	TXT string `json:"txt,omitempty"`
	// Error is the kind of error for StatusError.
	Error ErrorKind `json:"error,omitempty"`
	// Detail says in words what happened and, for errors, what to do.
	Detail string `json:"detail,omitempty"`
	// DelistURL is where the listed party can request removal.
	DelistURL string `json:"delist_url,omitempty"`
	// Checked is when the lookup finished.
	Checked time.Time `json:"checked"`
}

// Listed reports whether r is a listing that is bad news (any severity
// but good).
func (r *Result) Listed() bool { return r.Status == StatusListed && r.Severity != SeverityGood }

func (r Result) String() string {
	switch r.Status {
	case StatusListed:
		return fmt.Sprintf("%s in %s: listed %v (%s)", r.Target, r.Zone, r.Codes, r.Severity)
	case StatusError:
		return fmt.Sprintf("%s in %s: error %s: %s", r.Target, r.Zone, r.Error, r.Detail)
	}
	return fmt.Sprintf("%s in %s: %s", r.Target, r.Zone, r.Status)
}

// Health is the outcome of a zone's RFC 5782 probe.
type Health string

// Zone health values.
const (
	HealthOK     Health = "ok"
	HealthFailed Health = "failed"
)

// ZoneHealth is one zone's probe result in a cycle.
type ZoneHealth struct {
	Zone   string `json:"zone"`
	List   string `json:"list"`
	Health Health `json:"health"`
	// Error is the kind of failure when Health is failed.
	Error ErrorKind `json:"error,omitempty"`
	// Detail says what failed and what to do about it.
	Detail string `json:"detail,omitempty"`
}
