package rbl

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind says what a list holds: IP addresses or domain names.
type Kind string

// List kinds.
const (
	KindIP     Kind = "ip"
	KindDomain Kind = "domain"
)

// Purpose says whether a listing is bad or good news.
type Purpose string

// List purposes.
const (
	// PurposeBlock lists bad senders (most DNSBLs).
	PurposeBlock Purpose = "block"
	// PurposeAllow lists good senders (list.dnswl.org): its codes carry
	// SeverityGood or a severity for "listed but not trusted".
	PurposeAllow Purpose = "allow"
	// PurposeReputation answers with a score for everyone it knows
	// (Mailspike rep.): bad, neutral and good codes.
	PurposeReputation Purpose = "reputation"
)

// Key names the kind of key a keyed zone needs.
const (
	KeySpamhausDQS = "spamhaus-dqs"
	KeyAbusix      = "abusix"
)

// Code is one answer code a list defines, or a range or bitmask of them.
type Code struct {
	// Match is one address ("127.0.0.2") or an inclusive range
	// ("127.0.1.102-127.0.1.106"). Empty with Mask set: any 127.0.0.x.
	Match string `yaml:"match"`
	// Mask, for bitmask lists (URIBL, SURBL), matches when the answer's
	// last octet has any of these bits set.
	Mask uint8 `yaml:"mask"`
	// Meaning is what the code means, in the list operator's words.
	Meaning string `yaml:"meaning"`
	// Severity of a listing with this code (listing codes only).
	Severity Severity `yaml:"severity"`
	// Error is the kind of error this code signals (error codes only).
	Error ErrorKind `yaml:"error"`

	lo, hi netip.Addr
}

// matches reports whether the answer address a is this code.
func (c *Code) matches(a netip.Addr) bool {
	if c.Mask != 0 {
		if !a.Is4() {
			return false
		}
		b := a.As4()
		if c.lo.IsValid() && (a.Less(c.lo) || c.hi.Less(a)) {
			return false
		}
		return b[3]&c.Mask != 0
	}
	return c.lo.IsValid() && !a.Less(c.lo) && !c.hi.Less(a)
}

func (c *Code) compile() error {
	if c.Match == "" {
		if c.Mask == 0 {
			return errors.New("code needs match or mask")
		}
		c.lo, c.hi = netip.MustParseAddr("127.0.0.0"), netip.MustParseAddr("127.0.0.255")
		return nil
	}
	lo, hi, isRange := strings.Cut(c.Match, "-")
	var err error
	if c.lo, err = netip.ParseAddr(strings.TrimSpace(lo)); err != nil {
		return fmt.Errorf("match %q: %w", c.Match, err)
	}
	c.hi = c.lo
	if isRange {
		if c.hi, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
			return fmt.Errorf("match %q: %w", c.Match, err)
		}
		if c.hi.Less(c.lo) || c.lo.Is4() != c.hi.Is4() {
			return fmt.Errorf("match %q: range end before start", c.Match)
		}
	}
	if !c.lo.Is4() || c.lo.As4()[0] != 127 || c.hi.As4()[0] != 127 {
		return fmt.Errorf("match %q: codes are IPv4 addresses in 127.0.0.0/8", c.Match)
	}
	return nil
}

// TestPoints are the names a zone-health probe looks up (RFC 5782 §5):
// Listed must be listed, Clean must not be.
type TestPoints struct {
	Listed string `yaml:"listed"`
	Clean  string `yaml:"clean"`
}

// List is one DNS list as the catalog describes it.
type List struct {
	// Name is how users enable the list ("spamhaus-zen").
	Name string `yaml:"name"`
	// Zone is the public DNS zone ("zen.spamhaus.org").
	Zone string `yaml:"zone"`
	// Kind is ip or domain.
	Kind Kind `yaml:"kind"`
	// Purpose is block (default), allow or reputation.
	Purpose Purpose `yaml:"purpose"`
	// IPv6 says the list answers IPv6 queries; IPv6 targets are not
	// queried against lists without it.
	IPv6 bool `yaml:"ipv6"`
	// Description says in a line what the list is.
	Description string `yaml:"description"`
	// Codes are the listing codes (and good codes on allow lists).
	Codes []Code `yaml:"codes"`
	// Errors are answer codes that signal an error, never a listing.
	Errors []Code `yaml:"errors"`
	// UnknownCodes says what an answer in 127.0.0.0/8 that is neither a
	// listing nor an error code means: "listed" (default, severity
	// UnknownSeverity) or "error" (ErrUnknownCode).
	UnknownCodes string `yaml:"unknown_codes"`
	// UnknownSeverity is the severity of an unknown listing code
	// (default medium).
	UnknownSeverity Severity `yaml:"unknown_severity"`
	// DelistURL is where a listed party requests removal.
	DelistURL string `yaml:"delist_url"`
	// Dead marks a zone that no longer works (closed, or answers
	// "listed" for everything); DeadReason says since when and why.
	Dead       bool   `yaml:"dead"`
	DeadReason string `yaml:"dead_reason"`
	// Key names the key a keyed zone needs (spamhaus-dqs, abusix);
	// KeyedZone is the zone to query with the key, "{key}" replaced.
	Key       string `yaml:"key"`
	KeyedZone string `yaml:"keyed_zone"`
	// KeyOptional is true when the zone also works without the key
	// (the public Spamhaus mirrors): then Key only changes the zone.
	KeyOptional bool `yaml:"key_optional"`
	// Test overrides the RFC 5782 test points.
	Test TestPoints `yaml:"test"`
	// NoHealthProbe skips the probe for zones that do not implement the
	// RFC 5782 test points.
	NoHealthProbe bool `yaml:"no_health_probe"`
	// Rate is the most queries per second mailrep sends to the zone
	// (0: only the global bounds apply).
	Rate float64 `yaml:"rate"`
	// Schedule overrides the rbl.schedule cron expression for this list.
	Schedule string `yaml:"schedule"`
	// Notes are advice for operators (registration, usage terms).
	Notes string `yaml:"notes"`

	// queryZone is the zone actually queried (keyed zone with the key).
	queryZone string
}

// QueryZone is the zone lookups go to: the keyed zone with the key filled
// in when a key is set, Zone otherwise. It must not be printed: it may
// contain a secret.
func (l *List) QueryZone() string {
	if l.queryZone != "" {
		return l.queryZone
	}
	return l.Zone
}

// WithKey returns a copy of l that queries the keyed zone with key.
func (l *List) WithKey(key string) *List {
	c := *l
	if key != "" && l.KeyedZone != "" {
		c.queryZone = strings.ReplaceAll(l.KeyedZone, "{key}", key)
	}
	return &c
}

// NeedsKey reports whether the list cannot be used without a key it does
// not have.
func (l *List) NeedsKey() bool {
	return l.Key != "" && !l.KeyOptional && l.queryZone == ""
}

// TestPoints returns the probe names: the configured ones, or RFC 5782's
// defaults for the list's kind.
func (l *List) TestPoints() TestPoints {
	t := l.Test
	if t.Listed == "" {
		if l.Kind == KindDomain {
			t.Listed = "test"
		} else {
			t.Listed = "127.0.0.2"
		}
	}
	if t.Clean == "" {
		if l.Kind == KindDomain {
			t.Clean = "invalid"
		} else {
			t.Clean = "127.0.0.1"
		}
	}
	return t
}

// Compile checks the entry and prepares its codes for matching. The
// catalog loader calls it; lists built in code must call it too.
func (l *List) Compile() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if l.Name == "" {
		bad("name is empty")
	}
	l.Zone = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(l.Zone)), ".")
	if !validZone(l.Zone) {
		bad("zone %q is not a DNS name", l.Zone)
	}
	switch l.Kind {
	case KindIP, KindDomain:
	case "":
		bad("kind is empty (ip or domain)")
	default:
		bad("kind %q is not ip or domain", l.Kind)
	}
	switch l.Purpose {
	case "":
		l.Purpose = PurposeBlock
	case PurposeBlock, PurposeAllow, PurposeReputation:
	default:
		bad("purpose %q is not block, allow or reputation", l.Purpose)
	}
	switch l.UnknownCodes {
	case "":
		l.UnknownCodes = string(StatusListed)
	case string(StatusListed), string(StatusError):
	default:
		bad("unknown_codes %q is not listed or error", l.UnknownCodes)
	}
	if l.UnknownSeverity == "" {
		l.UnknownSeverity = SeverityMedium
	} else if !l.UnknownSeverity.Valid() {
		bad("unknown_severity %q is not a severity", l.UnknownSeverity)
	}
	if l.Key != "" && l.Key != KeySpamhausDQS && l.Key != KeyAbusix {
		bad("key %q is not %s or %s", l.Key, KeySpamhausDQS, KeyAbusix)
	}
	if l.Key != "" && !strings.Contains(l.KeyedZone, "{key}") {
		bad("keyed_zone %q must contain {key}", l.KeyedZone)
	} else if l.KeyedZone != "" && !validZone(strings.ToLower(strings.ReplaceAll(l.KeyedZone, "{key}", "key"))) {
		bad("keyed_zone %q is not a DNS name with {key} in it", l.KeyedZone)
	}
	if l.Rate < 0 {
		bad("rate %v is negative", l.Rate)
	}
	for i := range l.Codes {
		c := &l.Codes[i]
		if err := c.compile(); err != nil {
			bad("codes[%d]: %v", i, err)
		}
		if !c.Severity.Valid() {
			bad("codes[%d] (%s): severity %q is not critical, high, medium, low, info or good", i, c.Match, c.Severity)
		}
		if c.Error != "" {
			bad("codes[%d] (%s): error: belongs under errors", i, c.Match)
		}
	}
	for i := range l.Errors {
		c := &l.Errors[i]
		if err := c.compile(); err != nil {
			bad("errors[%d]: %v", i, err)
		}
		if c.Error == "" {
			bad("errors[%d] (%s): error kind is empty", i, c.Match)
		}
	}
	return errors.Join(errs...)
}

// validZone reports whether s looks like a DNS zone name: dot-separated
// labels of letters, digits, '-' and '_', each 1-63 bytes.
func validZone(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '{' || c == '}') {
				return false
			}
		}
	}
	return true
}

// Catalog is the set of known lists, by name.
type Catalog struct {
	Lists []*List
	byKey map[string]*List
}

// catalogFile is the YAML document of a catalog.
type catalogFile struct {
	Lists []*List `yaml:"lists"`
}

// ParseCatalog parses a catalog document. name is used in errors (a file
// name). Every problem is reported, each with the list it belongs to.
func ParseCatalog(name string, data []byte) (*Catalog, error) {
	var f catalogFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("rbl catalog %s: %w", name, err)
	}
	c := &Catalog{}
	var errs []error
	// Within one document a repeated name or zone is a mistake (Add's
	// replacing is for merging one catalog over another).
	first := map[string]int{}
	for i, l := range f.Lists {
		if l == nil {
			errs = append(errs, fmt.Errorf("rbl catalog %s: lists[%d] is empty", name, i))
			continue
		}
		if err := c.Add(l); err != nil {
			errs = append(errs, fmt.Errorf("rbl catalog %s: lists[%d]: %w", name, i, err))
			continue
		}
		for _, k := range []string{"name " + l.Name, "zone " + l.Zone} {
			if j, dup := first[k]; dup {
				errs = append(errs, fmt.Errorf("rbl catalog %s: lists[%d]: %s: %s is already lists[%d]", name, i, listLabel(l), k, j))
			} else {
				first[k] = i
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Add compiles l and adds it to the catalog; a list with the same name
// or zone replaces the earlier one (so a user's entry overrides the
// built-in one).
func (c *Catalog) Add(l *List) error {
	if err := l.Compile(); err != nil {
		return fmt.Errorf("%s: %w", listLabel(l), err)
	}
	if c.byKey == nil {
		c.byKey = map[string]*List{}
	}
	if old := c.byKey[l.Name]; old != nil {
		c.remove(old)
	}
	if old := c.byKey[l.Zone]; old != nil {
		c.remove(old)
	}
	c.Lists = append(c.Lists, l)
	c.byKey[l.Name] = l
	c.byKey[l.Zone] = l
	return nil
}

func (c *Catalog) remove(l *List) {
	for i, x := range c.Lists {
		if x == l {
			c.Lists = append(c.Lists[:i], c.Lists[i+1:]...)
			break
		}
	}
	delete(c.byKey, l.Name)
	delete(c.byKey, l.Zone)
}

// Lookup finds a list by name or zone (case-insensitive, trailing dot
// ignored).
func (c *Catalog) Lookup(nameOrZone string) (*List, bool) {
	l, ok := c.byKey[nameOrZone]
	if !ok {
		l, ok = c.byKey[strings.TrimSuffix(strings.ToLower(nameOrZone), ".")]
	}
	return l, ok
}

func listLabel(l *List) string {
	switch {
	case l.Name != "" && l.Zone != "":
		return fmt.Sprintf("%s (%s)", l.Name, l.Zone)
	case l.Name != "":
		return l.Name
	case l.Zone != "":
		return l.Zone
	}
	return "unnamed list"
}
