package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// Plugin support. SpamAssassin rule files guard rules with
// `ifplugin Mail::SpamAssassin::Plugin::X` and `if plugin(…)`; mailrep
// answers "loaded" for exactly the plugins below, so that a rule file reads
// the same way it reads in a SpamAssassin that loads them.
//
// PluginImplemented: mailrep implements the plugin's rule types and (some
// of) its eval functions; evals it lacks are skipped rule by rule.
// PluginNetwork: the plugin only makes network or Bayes tests; its rules
// are read and then dropped from the no-network score set, so lint can
// name them (and a SpamAssassin run with -L sees the same rule structure).
const (
	PluginNotLoaded = iota
	PluginImplemented
	PluginNetwork
)

// Plugins maps each plugin mailrep answers "loaded" for to how it is
// supported. Plugins not listed are not loaded.
var Plugins = map[string]int{
	"Mail::SpamAssassin::Plugin::Check":              PluginImplemented,
	"Mail::SpamAssassin::Plugin::HeaderEval":         PluginImplemented,
	"Mail::SpamAssassin::Plugin::BodyEval":           PluginImplemented,
	"Mail::SpamAssassin::Plugin::HTMLEval":           PluginImplemented,
	"Mail::SpamAssassin::Plugin::MIMEEval":           PluginImplemented,
	"Mail::SpamAssassin::Plugin::RelayEval":          PluginImplemented,
	"Mail::SpamAssassin::Plugin::URIEval":            PluginImplemented,
	"Mail::SpamAssassin::Plugin::WLBLEval":           PluginImplemented,
	"Mail::SpamAssassin::Plugin::FreeMail":           PluginImplemented,
	"Mail::SpamAssassin::Plugin::MIMEHeader":         PluginImplemented,
	"Mail::SpamAssassin::Plugin::ReplaceTags":        PluginImplemented,
	"Mail::SpamAssassin::Plugin::ImageInfo":          PluginImplemented,
	"Mail::SpamAssassin::Plugin::VBounce":            PluginImplemented,
	"Mail::SpamAssassin::Plugin::HTTPSMismatch":      PluginImplemented,
	"Mail::SpamAssassin::Plugin::URIDetail":          PluginImplemented,
	"Mail::SpamAssassin::Plugin::WelcomeListSubject": PluginImplemented,
	"Mail::SpamAssassin::Plugin::WhiteListSubject":   PluginImplemented,
	"Mail::SpamAssassin::Plugin::DNSEval":            PluginNetwork,
	"Mail::SpamAssassin::Plugin::URIDNSBL":           PluginNetwork,
	"Mail::SpamAssassin::Plugin::SPF":                PluginNetwork,
	"Mail::SpamAssassin::Plugin::DKIM":               PluginNetwork,
	"Mail::SpamAssassin::Plugin::DMARC":              PluginNetwork,
	"Mail::SpamAssassin::Plugin::Razor2":             PluginNetwork,
	"Mail::SpamAssassin::Plugin::Pyzor":              PluginNetwork,
	"Mail::SpamAssassin::Plugin::SpamCop":            PluginNetwork,
	"Mail::SpamAssassin::Plugin::AskDNS":             PluginNetwork,
	"Mail::SpamAssassin::Plugin::HashBL":             PluginNetwork,
	"Mail::SpamAssassin::Plugin::Bayes":              PluginNetwork,
}

func pluginLoaded(name string) bool {
	return Plugins[strings.TrimSpace(name)] != PluginNotLoaded
}

// features answers can()/has() in conditionals: SpamAssassin 4.0.1's
// configuration features that mailrep's reader honours, and the has_*
// markers of the plugins above. Anything else is false.
var features = map[string]bool{
	"Mail::SpamAssassin::Conf::feature_bug6558_free":                         true,
	"Mail::SpamAssassin::Conf::feature_welcomelist_blocklist":                true,
	"Mail::SpamAssassin::Conf::perl_min_version_5010000":                     true,
	"Mail::SpamAssassin::Conf::feature_registryboundaries":                   true,
	"Mail::SpamAssassin::Conf::feature_dns_block_rule":                       true,
	"Mail::SpamAssassin::Conf::feature_yesno_takes_args":                     true,
	"Mail::SpamAssassin::Conf::feature_originating_ip_headers":               true,
	"Mail::SpamAssassin::Conf::feature_dns_local_ports_permit_avoid":         true,
	"Mail::SpamAssassin::Conf::feature_bayes_stopwords":                      true,
	"Mail::SpamAssassin::Conf::feature_capture_rules":                        true,
	"Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length":            true,
	"Mail::SpamAssassin::Plugin::MIMEEval::has_check_abundant_unicode_ratio": true,
	"Mail::SpamAssassin::Plugin::MIMEEval::has_check_for_ascii_text_illegal": true,
	"Mail::SpamAssassin::Plugin::DKIM::has_arc":                              true,
	"Mail::SpamAssassin::Plugin::URIDNSBL::has_uridnsbl_for_a":               true,
	"Mail::SpamAssassin::Plugin::URIDNSBL::has_tflags_domains_only":          true,
	"Mail::SpamAssassin::Plugin::SPF::has_check_for_spf_errors":              true,
}

// evalCondition evaluates the expression of an `if` line: SpamAssassin's
// restricted Perl (numbers, version, perl_version, plugin(), can(), has(),
// arithmetic, comparisons, !, &&, ||, parentheses).
func evalCondition(expr string) (bool, error) {
	p := &condParser{s: expr}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	p.space()
	if p.i < len(p.s) {
		return false, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return v != 0, nil
}

type condParser struct {
	s     string
	i     int
	depth int
}

func (p *condParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *condParser) accept(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (p *condParser) or() (float64, error) {
	v, err := p.and()
	if err != nil {
		return 0, err
	}
	for p.accept("||") {
		w, err := p.and()
		if err != nil {
			return 0, err
		}
		v = b2f(v != 0 || w != 0)
	}
	return v, nil
}

func (p *condParser) and() (float64, error) {
	v, err := p.cmp()
	if err != nil {
		return 0, err
	}
	for p.accept("&&") {
		w, err := p.cmp()
		if err != nil {
			return 0, err
		}
		v = b2f(v != 0 && w != 0)
	}
	return v, nil
}

func (p *condParser) cmp() (float64, error) {
	v, err := p.add()
	if err != nil {
		return 0, err
	}
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if p.accept(op) {
			w, err := p.add()
			if err != nil {
				return 0, err
			}
			switch op {
			case "<=":
				return b2f(v <= w), nil
			case ">=":
				return b2f(v >= w), nil
			case "==":
				return b2f(v == w), nil
			case "!=":
				return b2f(v != w), nil
			case "<":
				return b2f(v < w), nil
			default:
				return b2f(v > w), nil
			}
		}
	}
	return v, nil
}

func (p *condParser) add() (float64, error) {
	v, err := p.mul()
	if err != nil {
		return 0, err
	}
	for {
		switch {
		case p.accept("+"):
			w, err := p.mul()
			if err != nil {
				return 0, err
			}
			v += w
		case p.accept("-"):
			w, err := p.mul()
			if err != nil {
				return 0, err
			}
			v -= w
		default:
			return v, nil
		}
	}
}

func (p *condParser) mul() (float64, error) {
	v, err := p.unary()
	if err != nil {
		return 0, err
	}
	for {
		switch {
		case p.accept("*"):
			w, err := p.unary()
			if err != nil {
				return 0, err
			}
			v *= w
		case p.accept("/"):
			w, err := p.unary()
			if err != nil {
				return 0, err
			}
			if w == 0 {
				return 0, fmt.Errorf("division by zero")
			}
			v /= w
		default:
			return v, nil
		}
	}
}

func (p *condParser) unary() (float64, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 100 {
		return 0, fmt.Errorf("expression nested too deeply")
	}
	if p.accept("!") {
		v, err := p.unary()
		return b2f(v == 0), err
	}
	if p.accept("-") {
		v, err := p.unary()
		return -v, err
	}
	if p.accept("(") {
		v, err := p.or()
		if err != nil {
			return 0, err
		}
		if !p.accept(")") {
			return 0, fmt.Errorf("missing )")
		}
		return v, nil
	}
	p.space()
	start := p.i
	for p.i < len(p.s) && (isWordRune(rune(p.s[p.i])) || p.s[p.i] == '.') {
		p.i++
	}
	word := p.s[start:p.i]
	switch word {
	case "":
		return 0, fmt.Errorf("expected a value at %q", p.s[p.i:])
	case "version":
		return Version, nil
	case "perl_version":
		return perlVersion, nil
	case "plugin", "can", "has":
		if !p.accept("(") {
			return 0, fmt.Errorf("%s without (", word)
		}
		end := strings.IndexByte(p.s[p.i:], ')')
		if end < 0 {
			return 0, fmt.Errorf("%s( without )", word)
		}
		arg := strings.TrimSpace(p.s[p.i : p.i+end])
		p.i += end + 1
		if word == "plugin" {
			return b2f(pluginLoaded(arg)), nil
		}
		return b2f(features[arg]), nil
	}
	f, err := strconv.ParseFloat(word, 64)
	if err != nil {
		return 0, fmt.Errorf("unknown word %q", word)
	}
	return f, nil
}
