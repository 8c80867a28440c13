package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// evalFunc evaluates an eval: rule on one message. It returns the rule's
// value (0: no hit; SpamAssassin meta rules read the value) and a short
// note of where it matched for the hit's Where field.
type evalFunc func(m *msgState) (float64, string)

// evalEnv is what an eval builder may consult: the ruleset's lists and the
// rule's kind.
type evalEnv struct {
	rs   *Ruleset
	kind Kind
}

// evalSpec describes an eval function.
type evalSpec struct {
	// build checks the arguments and returns the implementation.
	build func(env *evalEnv, args []string) (evalFunc, error)
	// network is non-empty for functions that need the network, Bayes or
	// state mailrep does not keep: their rules are dropped from score set
	// 0 with this reason.
	network string
}

// evalRegistry holds every eval function mailrep knows, implemented or
// classified as network-only.
var evalRegistry = map[string]evalSpec{}

func registerNetwork(reason string, names ...string) {
	for _, n := range names {
		evalRegistry[n] = evalSpec{network: reason}
	}
}

func init() {
	registerNetwork("DNS blocklist lookup (network)",
		"check_rbl", "check_rbl_sub", "check_rbl_txt", "check_rbl_from_host", "check_rbl_from_domain",
		"check_rbl_envfrom", "check_rbl_headers", "check_rbl_ns_from", "check_rbl_rcvd",
		"check_dns_sender", "check_uridnsbl", "check_hashbl_bodyre", "check_hashbl_emails",
		"check_hashbl_uris", "check_hashbl_attachments", "check_hashbl_tag", "check_senders_reputation",
		"check_access_database")
	registerNetwork("SPF (network)",
		"check_for_spf_fail", "check_for_spf_helo_fail", "check_for_spf_helo_neutral",
		"check_for_spf_helo_none", "check_for_spf_helo_pass", "check_for_spf_helo_permerror",
		"check_for_spf_helo_softfail", "check_for_spf_helo_temperror", "check_for_spf_neutral",
		"check_for_spf_none", "check_for_spf_pass", "check_for_spf_permerror", "check_for_spf_softfail",
		"check_for_spf_temperror", "check_for_spf_welcomelist_from", "check_for_spf_whitelist_from",
		"check_for_def_spf_welcomelist_from", "check_for_def_spf_whitelist_from")
	registerNetwork("DKIM/ARC/DMARC verification (network)",
		"check_dkim_adsp", "check_dkim_dependable", "check_dkim_signall", "check_dkim_signed",
		"check_dkim_signsome", "check_dkim_testing", "check_dkim_valid", "check_dkim_valid_author_sig",
		"check_dkim_valid_envelopefrom", "check_arc_signed", "check_arc_valid",
		"check_for_dkim_welcomelist_from", "check_for_dkim_whitelist_from",
		"check_for_def_dkim_welcomelist_from", "check_for_def_dkim_whitelist_from",
		"check_dmarc_missing", "check_dmarc_none", "check_dmarc_pass", "check_dmarc_quarantine",
		"check_dmarc_reject")
	registerNetwork("collaborative checksum service (network)",
		"check_razor2", "check_razor2_range", "check_pyzor", "check_dcc", "check_dcc_reputation_range")
	registerNetwork("needs Bayes training", "check_bayes")
	registerNetwork("needs the auto-welcomelist or reputation database",
		"check_from_in_auto_welcomelist", "check_from_in_auto_whitelist", "check_txrep")
	registerNetwork("URL shortener resolution (network)", "short_url", "short_url_chained")
}

type evalBuilder func(env *evalEnv, args []string) (evalFunc, error)

// register adds an implemented eval function.
func register(name string, build evalBuilder) {
	evalRegistry[name] = evalSpec{build: build}
}

// argsExactly wraps a builder that takes exactly n arguments.
func argsExactly(n int, b evalBuilder) evalBuilder {
	return argsBetween(n, n, b)
}

// argsBetween wraps a builder that takes min to max arguments.
func argsBetween(min, max int, b evalBuilder) evalBuilder {
	return func(env *evalEnv, args []string) (evalFunc, error) {
		if len(args) < min || len(args) > max {
			if min == max {
				return nil, fmt.Errorf("want %d arguments, got %d", min, len(args))
			}
			return nil, fmt.Errorf("want %d to %d arguments, got %d", min, max, len(args))
		}
		return b(env, args)
	}
}

// parseBound reads a numeric bound; "", "undef" and "inf" give def.
func parseBound(s string, def float64) (float64, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "undef", "inf", "+inf":
		return def, nil
	case "-inf":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", s)
	}
	return f, nil
}

// parseRange reads a lower and upper bound.
func parseRange(lo, hi string) (float64, float64, error) {
	l, err := parseBound(lo, math.Inf(-1))
	if err != nil {
		return 0, 0, err
	}
	h, err := parseBound(hi, math.Inf(1))
	if err != nil {
		return 0, 0, err
	}
	return l, h, nil
}

// parseComparison reads "OP NUMBER" (OP one of < <= > >= == !=) as a test.
func parseComparison(s string) (func(float64) bool, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if !strings.HasPrefix(s, op) {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(s[len(op):]), 64)
		if err != nil {
			return nil, fmt.Errorf("bad comparison %q", s)
		}
		switch op {
		case "<=":
			return func(v float64) bool { return v <= n }, nil
		case ">=":
			return func(v float64) bool { return v >= n }, nil
		case "==":
			return func(v float64) bool { return v == n }, nil
		case "!=":
			return func(v float64) bool { return v != n }, nil
		case "<":
			return func(v float64) bool { return v < n }, nil
		default:
			return func(v float64) bool { return v > n }, nil
		}
	}
	return nil, fmt.Errorf("bad comparison %q", s)
}
