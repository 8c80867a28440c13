// Package config owns mailrep's configuration: the schema of mailrep.yaml,
// loading it (with ${ENV} substitution and strict unknown-key checking),
// the built-in defaults used when no file is given, validation that reports
// every problem with its file, line and key path, the outbound-IP mapping
// used on the hot path (IPs.Resolve), and the human summary printed by
// "mailrep config check".
//
// Adding a section means adding a struct type with yaml tags and a field
// on Config, with setDefaults and validate methods on the new type:
// decoding, unknown-key and duplicate-key checks, line tracking, defaults
// and validation are driven by reflection over the yaml tags and those
// methods. Describe then needs the section's lines, and
// configs/mailrep.example.yaml its keys (a test enforces the latter).
package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"time"
)

// Config is the whole mailrep configuration. The zero value is not useful:
// start from Default or Load.
type Config struct {
	// StateDir holds the embedded state store (tail positions, correlator
	// entries, ledger windows, listing history).
	StateDir string `yaml:"state_dir"`
	// Sources are the log files "mailrep run" follows.
	Sources []Source `yaml:"sources"`
	// Accounts says how a message is attributed to a customer account.
	Accounts Accounts `yaml:"accounts"`
	// IPs describes the outbound IPs and how deliveries map to them.
	IPs IPs `yaml:"ips"`
	// Correlator bounds the queue-id correlator's memory.
	Correlator Correlator `yaml:"correlator"`
	// Windows are the sliding windows the ledger keeps per account, IP
	// and sender domain, ascending and unique.
	Windows []time.Duration `yaml:"windows"`
	// HTTP configures the listener for /metrics and the status API.
	HTTP HTTP `yaml:"http"`
	// CheckpointInterval is how often "mailrep run" saves tail positions
	// and state.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// RBL configures the DNS blocklist checks.
	RBL RBL `yaml:"rbl"`
	// Scoring configures spam scoring, rescoring and the watched queues.
	Scoring Scoring `yaml:"scoring"`

	// origin remembers where the configuration came from, so that
	// Validate can name file and line.
	origin origin
}

// origin is the file a Config was parsed from and the line of every key
// path found in it.
type origin struct {
	file  string
	lines map[string]int
}

// Log file formats accepted in Source.Format.
const (
	// FormatAuto detects the header of every line (syslog or bare Exim).
	FormatAuto = "auto"
	// FormatSyslog is a syslog file: BSD, RFC 3339 or RFC 5424 headers.
	FormatSyslog = "syslog"
	// FormatExim is a bare Exim main log, without a syslog header.
	FormatExim = "exim"
)

// Source is one log file to follow.
type Source struct {
	// Path is the file name; globs are not supported.
	Path string `yaml:"path"`
	// Format is FormatAuto, FormatSyslog or FormatExim.
	Format string `yaml:"format"`
	// Host names the server for lines that carry no host (bare Exim).
	// Load and Default fill it with os.Hostname() when it is empty.
	Host string `yaml:"host"`
	// Year is the year of BSD timestamps (which have none) when replaying
	// old files; 0 infers it from the file's mtime or the current time.
	Year int `yaml:"year"`
}

func (s *Source) setDefaults() { s.Format = FormatAuto }

// Attribution steps accepted in Accounts.Precedence.
const (
	// AttrAuth is the authenticated user (SASL, Exim A=, Sendmail authid).
	AttrAuth = "auth"
	// AttrLocal is the local submitting user (pickup uid, Exim U=).
	AttrLocal = "local"
	// AttrSenderDomain is the domain of the envelope sender.
	AttrSenderDomain = "sender_domain"
	// AttrSender is the whole envelope sender address.
	AttrSender = "sender"
)

// Accounts configures account attribution.
type Accounts struct {
	// Precedence lists the attribution steps tried in order; the first
	// that yields a value names the account.
	Precedence []string `yaml:"precedence"`
	// StripDomain turns "user@domain" authenticated ids into "user".
	StripDomain bool `yaml:"strip_domain"`
	// Aliases maps an attributed identity to the account it belongs to,
	// e.g. "webmaster@example.com" to "example". Validate lower-cases
	// keys and values.
	Aliases map[string]string `yaml:"aliases"`
}

func (a *Accounts) setDefaults() {
	a.Precedence = []string{AttrAuth, AttrLocal, AttrSenderDomain}
}

// IPs describes the server's outbound IPs. Postfix and Sendmail do not
// log the address they bind to, so the mapping from syslog program,
// transport and host to an IP is configured here; see Resolve.
type IPs struct {
	// Shared are the outbound IPs and networks shared by many customers;
	// a bare IP is stored as a /32 or /128.
	Shared []netip.Prefix `yaml:"shared"`
	// Default is the outbound IP when nothing else tells (zero: none).
	Default netip.Addr `yaml:"default"`
	// Hosts maps a syslog host name to its default outbound IP.
	Hosts map[string]netip.Addr `yaml:"hosts"`
	// Transports map programs and transports to outbound IPs.
	Transports []TransportIP `yaml:"transports"`

	// index is built by Validate for Resolve.
	index *ipIndex
}

// TransportIP maps deliveries to an outbound IP.
type TransportIP struct {
	// Match is a syslog program name (e.g. "postfix-out2/smtp", "sm-mta"),
	// a program prefix ending in "/" (e.g. "postfix-out2/"), or a
	// transport name (Exim T=, Postfix master.cf service). A Match without
	// a trailing "/" is tried as a program name first, then as a
	// transport name.
	Match string `yaml:"match"`
	// Host restricts the rule to one syslog host ("" = any host).
	Host string `yaml:"host"`
	// IP is the outbound address.
	IP netip.Addr `yaml:"ip"`
}

// Correlator bounds the queue-id correlator.
type Correlator struct {
	// MaxMessages caps the messages held in memory at once.
	MaxMessages int `yaml:"max_messages"`
	// Expiry drops a message not seen for this long (Postfix's
	// maximal_queue_lifetime is 5d).
	Expiry time.Duration `yaml:"expiry"`
}

func (c *Correlator) setDefaults() {
	c.MaxMessages = 200000
	c.Expiry = 5 * 24 * time.Hour
}

// HTTP configures the HTTP listener.
type HTTP struct {
	// Listen is the host:port to listen on; "" disables the listener.
	Listen string `yaml:"listen"`
}

func (h *HTTP) setDefaults() { h.Listen = "127.0.0.1:9848" }

// defaulter is implemented by section and list-element types that have
// non-zero defaults.
type defaulter interface{ setDefaults() }

// maxErrors bounds the problems reported for one file: past that, a
// person fixes the first ones and runs the check again.
const maxErrors = 100

// maxFileSize bounds the configuration file Load reads.
const maxFileSize = 4 << 20

// environment is the seam between the package and the machine, so tests
// do not depend on the host's files, variables or name.
type environment struct {
	exists   func(path string) bool
	lookup   func(name string) (string, bool)
	hostname func() (string, error)
}

// osEnv is the real machine.
var osEnv = environment{
	exists: func(path string) bool {
		st, err := os.Stat(path)
		return err == nil && st.Mode().IsRegular()
	},
	lookup:   os.LookupEnv,
	hostname: os.Hostname,
}

// defaultSource is one candidate default log file.
type defaultSource struct {
	path, format string
}

// sourceCandidates are the usual MTA log files, in the order they are
// probed. mail.log / maillog carry Postfix and Sendmail (and Exim when it
// logs to syslog); the Exim main logs have no syslog header.
var sourceCandidates = []defaultSource{
	{"/var/log/mail.log", FormatSyslog},    // Debian, Ubuntu
	{"/var/log/maillog", FormatSyslog},     // RHEL, Fedora, FreeBSD
	{"/var/log/exim4/mainlog", FormatExim}, // Debian exim4
	{"/var/log/exim/main.log", FormatExim}, // RHEL exim
	{"/var/log/exim_mainlog", FormatExim},  // cPanel
}

// DefaultSourceCandidates returns the log files Default probes, in order.
func DefaultSourceCandidates() []string {
	out := make([]string, len(sourceCandidates))
	for i, c := range sourceCandidates {
		out[i] = c.path
	}
	return out
}

// Default returns the built-in configuration used when no file is given:
// the candidate log files that exist on this machine, state under
// $XDG_STATE_HOME/mailrep (or ./mailrep-state), sources' Host set to
// os.Hostname(), and the documented defaults of every other key.
func Default() *Config { return defaultConfig(osEnv) }

func defaultConfig(env environment) *Config {
	c := &Config{
		StateDir:           "./mailrep-state",
		Windows:            []time.Duration{time.Hour, 24 * time.Hour},
		CheckpointInterval: 5 * time.Second,
	}
	if x, ok := env.lookup("XDG_STATE_HOME"); ok && x != "" {
		c.StateDir = filepath.Join(x, "mailrep")
	}
	setSectionDefaults(c)
	for _, cand := range sourceCandidates {
		if env.exists(cand.path) {
			c.Sources = append(c.Sources, Source{Path: cand.path, Format: cand.format})
		}
	}
	c.fillHosts(env)
	return c
}

// fillHosts gives sources without a host the machine's name.
func (c *Config) fillHosts(env environment) {
	var name string
	for i := range c.Sources {
		if c.Sources[i].Host != "" {
			continue
		}
		if name == "" {
			n, err := env.hostname()
			if err != nil || n == "" {
				return
			}
			name = n
		}
		c.Sources[i].Host = name
	}
}

// Load reads, decodes and validates the YAML configuration file at path.
// Keys the file leaves out keep their defaults (see Default). All problems
// found are returned joined; each names the file, the line and the key.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: %s: %w", path, errTooLarge)
	}
	return parse(path, data, osEnv)
}

var errTooLarge = fmt.Errorf("file larger than %d bytes", maxFileSize)

// Parse decodes and validates a configuration held in memory; name is
// used in error messages. Load is Parse on a file's contents.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, osEnv)
}

func parse(name string, data []byte, env environment) (*Config, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: %s: %w", name, errTooLarge)
	}
	c := defaultConfig(env)
	c.origin = origin{file: name, lines: map[string]int{}}
	d := decoder{file: name, env: env, lines: c.origin.lines}
	if err := d.decodeDocument(data, c); err != nil {
		return nil, err
	}
	c.fillHosts(env)
	errs := append(d.errs, c.validate(d.failed)...)
	// Report in file order, as a person reads the file.
	slices.SortStableFunc(errs, func(a, b error) int { return errLine(a) - errLine(b) })
	if len(errs) > maxErrors {
		n := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], &Error{File: name, Msg: fmt.Sprintf("and %d more errors", n)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// setSectionDefaults applies the defaults of every section of c.
func setSectionDefaults(c *Config) {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if df, ok := f.Addr().Interface().(defaulter); ok {
			df.setDefaults()
		}
	}
}

// errLine is the line an *Error names (0 for any other error).
func errLine(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}
