package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is the kind of a rule, named as its .cf directive.
type Kind uint8

// Rule kinds.
const (
	KindHeader Kind = iota
	KindBody
	KindRawbody
	KindURI
	KindFull
	KindMeta
	KindMIMEHeader
	// KindContext rules are mailrep's own checks of the submission
	// context (authentication, HELO, recipients); see context.go.
	KindContext
	numKinds
)

var kindNames = [...]string{
	KindHeader:     "header",
	KindBody:       "body",
	KindRawbody:    "rawbody",
	KindURI:        "uri",
	KindFull:       "full",
	KindMeta:       "meta",
	KindMIMEHeader: "mimeheader",
	KindContext:    "context",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Area is where a hit came from, as reported in a Hit.
type Area string

// Areas of a hit.
const (
	AreaHeader  Area = "header"
	AreaBody    Area = "body"
	AreaURI     Area = "uri"
	AreaRawbody Area = "rawbody"
	AreaFull    Area = "full"
	AreaMeta    Area = "meta"
	AreaEval    Area = "eval"
	AreaContext Area = "context"
	AreaLimit   Area = "limit"
)

// Source is where a directive was read.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

func (s Source) String() string {
	if s.File == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// TFlags are a rule's tflags.
type TFlags struct {
	Net         bool `json:"net,omitempty"`
	Learn       bool `json:"learn,omitempty"`
	Nice        bool `json:"nice,omitempty"`
	NoAutolearn bool `json:"noautolearn,omitempty"`
	Multiple    bool `json:"multiple,omitempty"`
	// MaxHits caps the count of a multiple rule (0: no cap).
	MaxHits   int  `json:"maxhits,omitempty"`
	NoSubject bool `json:"nosubject,omitempty"`
	Publish   bool `json:"publish,omitempty"`
	UserConf  bool `json:"userconf,omitempty"`
	// RangeLo and RangeHi select MIME parts for mimeheader rules
	// (tflags range=x-y; 1 is the message's own header, 0 is open).
	RangeLo int  `json:"range_lo,omitempty"`
	RangeHi int  `json:"range_hi,omitempty"`
	Concat  bool `json:"concat,omitempty"`
	// Other holds flags that change nothing here (autolearn_force, noawl,
	// nolog, a, ns, domains_only …), kept for lint.
	Other []string `json:"other,omitempty"`
}

// HeaderSelector names what a header or mimeheader rule reads.
type HeaderSelector struct {
	// Name is the header field name, or a pseudo-header: ALL, ToCc,
	// MESSAGEID, EnvelopeFrom, X-Spam-Relays-*.
	Name string
	Raw  bool // :raw — undecoded, whitespace preserved
	Addr bool // :addr — the first address only
	Host bool // :host — the host part of the first address
	Dom  bool // :domain — the registrable domain of :host
	// DisplayName is the :name modifier — the first display name only.
	DisplayName bool
	// Exists is an exists:Name rule.
	Exists bool
	// IfUnset is the [if-unset: X] value used when the header is absent.
	IfUnset    string
	HasIfUnset bool
}

// EvalCall is an eval: rule's function and its arguments.
type EvalCall struct {
	Func string
	Args []string
}

func (e *EvalCall) String() string {
	q := make([]string, len(e.Args))
	for i, a := range e.Args {
		q[i] = "'" + a + "'"
	}
	return e.Func + "(" + strings.Join(q, ",") + ")"
}

// Rule is one loaded rule.
type Rule struct {
	Name        string
	Kind        Kind
	Source      Source
	Description string
	// Score is the score in the no-network, no-Bayes set.
	Score float64
	// ScoreSet reports that a score line named the rule (otherwise the
	// default applies: 1, −1 for nice rules, 0.01 for T_ rules, 0 for
	// __ sub-rules).
	ScoreSet bool
	TFlags   TFlags
	Priority int

	// Pattern rules (header, body, rawbody, uri, full, mimeheader).
	Pattern *Regexp
	Negate  bool // header X !~ /…/
	Header  HeaderSelector

	// Eval rules.
	Eval *EvalCall
	// evalFn is the implementation, bound at load time.
	evalFn evalFunc

	// Meta rules.
	Meta *MetaExpr

	// index in Ruleset.Rules, and position in the evaluation order.
	index int
}

// IsSubrule reports whether the rule is a __ sub-rule: never scored nor
// reported, only an input to meta rules.
func (r *Rule) IsSubrule() bool { return strings.HasPrefix(r.Name, "__") }

// IsEval reports whether the rule is an eval: rule.
func (r *Rule) IsEval() bool { return r.Eval != nil }

// area is the Area its hits are reported under.
func (r *Rule) area() Area {
	switch {
	case r.Eval != nil:
		return AreaEval
	case r.Kind == KindHeader || r.Kind == KindMIMEHeader:
		return AreaHeader
	case r.Kind == KindBody:
		return AreaBody
	case r.Kind == KindRawbody:
		return AreaRawbody
	case r.Kind == KindURI:
		return AreaURI
	case r.Kind == KindFull:
		return AreaFull
	case r.Kind == KindMeta:
		return AreaMeta
	case r.Kind == KindContext:
		return AreaContext
	}
	return Area(r.Kind.String())
}

// Ruleset is a loaded, checked set of rules ready to evaluate messages.
// It is immutable after Load and safe for concurrent use.
type Ruleset struct {
	// Rules in definition order (the last definition of a name wins).
	Rules  []*Rule
	byName map[string]*Rule
	// Threshold is required_score (default 5).
	Threshold float64

	// order is the evaluation order: non-meta rules by priority, then
	// meta rules in dependency order.
	order []*Rule

	// Data for eval built-ins.
	freemail      *globList
	freemailWL    *globList
	uriHostLists  map[string]domainList
	addrLists     map[string]*addrList
	tlds          map[string]bool // util_rb_tld
	twoLevel      map[string]bool // util_rb_2tld
	threeLevel    map[string]bool // util_rb_3tld
	redirectors   []*Regexp
	welcomeFrom   *addrList
	blocklistFrom *addrList
	// okLocales is ok_locales (nil: all).
	okLocales map[string]bool

	// prefilter indexes literals that pattern rules require.
	pre *prefilter
}

// Rule returns the rule called name, or nil.
func (rs *Ruleset) Rule(name string) *Rule { return rs.byName[name] }

// Names returns the names of all loaded rules, sorted.
func (rs *Ruleset) Names() []string {
	out := make([]string, 0, len(rs.Rules))
	for _, r := range rs.Rules {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}
