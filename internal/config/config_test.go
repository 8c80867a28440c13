package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeEnv is a machine with the given files, variables and host name.
func fakeEnv(files []string, vars map[string]string, host string) environment {
	return environment{
		exists: func(p string) bool { return slices.Contains(files, p) },
		lookup: func(k string) (string, bool) {
			v, ok := vars[k]
			return v, ok
		},
		hostname: func() (string, error) {
			if host == "" {
				return "", errors.New("no host name")
			}
			return host, nil
		},
	}
}

var noEnv = fakeEnv(nil, nil, "testhost")

func TestDefault(t *testing.T) {
	c := defaultConfig(fakeEnv([]string{"/var/log/maillog", "/var/log/exim_mainlog"}, nil, "mx9"))
	want := []Source{
		{Path: "/var/log/maillog", Format: FormatSyslog, Host: "mx9"},
		{Path: "/var/log/exim_mainlog", Format: FormatExim, Host: "mx9"},
	}
	if !reflect.DeepEqual(c.Sources, want) {
		t.Errorf("Sources = %+v, want %+v", c.Sources, want)
	}
	if c.StateDir != "./mailrep-state" {
		t.Errorf("StateDir = %q, want ./mailrep-state", c.StateDir)
	}
	if got := []string{AttrAuth, AttrLocal, AttrSenderDomain}; !slices.Equal(c.Accounts.Precedence, got) {
		t.Errorf("Precedence = %v, want %v", c.Accounts.Precedence, got)
	}
	if c.Correlator.MaxMessages != 200000 || c.Correlator.Expiry != 120*time.Hour {
		t.Errorf("Correlator = %+v", c.Correlator)
	}
	if !slices.Equal(c.Windows, []time.Duration{time.Hour, 24 * time.Hour}) {
		t.Errorf("Windows = %v", c.Windows)
	}
	if c.HTTP.Listen != "127.0.0.1:9848" || c.CheckpointInterval != 5*time.Second {
		t.Errorf("HTTP = %+v, CheckpointInterval = %v", c.HTTP, c.CheckpointInterval)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("default config is invalid: %v", err)
	}

	x := defaultConfig(fakeEnv(nil, map[string]string{"XDG_STATE_HOME": "/home/u/.local/state"}, ""))
	if want := filepath.Join("/home/u/.local/state", "mailrep"); x.StateDir != want {
		t.Errorf("StateDir with XDG_STATE_HOME = %q, want %q", x.StateDir, want)
	}
	if len(x.Sources) != 0 {
		t.Errorf("Sources on a machine without logs = %v, want none", x.Sources)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default() on this machine is invalid: %v", err)
	}
}

func TestDefaultSourceCandidates(t *testing.T) {
	got := DefaultSourceCandidates()
	for _, p := range []string{"/var/log/mail.log", "/var/log/maillog", "/var/log/exim4/mainlog", "/var/log/exim/main.log", "/var/log/exim_mainlog"} {
		if !slices.Contains(got, p) {
			t.Errorf("DefaultSourceCandidates() lacks %s", p)
		}
	}
	got[0] = "changed"
	if DefaultSourceCandidates()[0] == "changed" {
		t.Error("DefaultSourceCandidates returns the package's own slice")
	}
}

func TestParseKeepsDefaults(t *testing.T) {
	env := fakeEnv([]string{"/var/log/mail.log"}, nil, "h")
	for _, in := range []string{"", "# only a comment\n", "accounts:\nhttp: ~\n", "---\n"} {
		c, err := parse("m.yaml", []byte(in), env)
		if err != nil {
			t.Fatalf("parse(%q): %v", in, err)
		}
		d := defaultConfig(env)
		d.origin, c.origin = origin{}, origin{}
		d.IPs.index, c.IPs.index = nil, nil
		c.Accounts.Aliases = nil
		if !reflect.DeepEqual(c, d) {
			t.Errorf("parse(%q) = %+v, want defaults %+v", in, c, d)
		}
	}
}

func TestParseValues(t *testing.T) {
	in := `
state_dir: /var/lib/mailrep
sources:
  - path: /var/log/exim4/mainlog
    format: exim
  - path: /srv/old/maillog
    format: syslog
    host: old1
    year: 2016
accounts:
  precedence: [local, sender]
  strip_domain: yes
  aliases:
    WebMaster@Example.COM: Example
ips:
  shared: [192.0.2.0/24, 192.0.2.77/24, 198.51.100.7, "2001:db8::1", "::ffff:203.0.113.9"]
  default: 192.0.2.1
  hosts: {mx1: 192.0.2.2}
  transports:
    - {match: postfix-out2/smtp, ip: 192.0.2.12}
correlator: {max_messages: 1_000, expiry: 1d12h}
windows: [24h, 15m, 7d]
http: {listen: ""}
checkpoint_interval: 1m30s
`
	c, err := parse("m.yaml", []byte(in), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	wantSources := []Source{
		{Path: "/var/log/exim4/mainlog", Format: FormatExim, Host: "testhost"},
		{Path: "/srv/old/maillog", Format: FormatSyslog, Host: "old1", Year: 2016},
	}
	if !reflect.DeepEqual(c.Sources, wantSources) {
		t.Errorf("Sources = %+v, want %+v", c.Sources, wantSources)
	}
	if c.StateDir != "/var/lib/mailrep" {
		t.Errorf("StateDir = %q", c.StateDir)
	}
	if !slices.Equal(c.Accounts.Precedence, []string{AttrLocal, AttrSender}) || !c.Accounts.StripDomain {
		t.Errorf("Accounts = %+v", c.Accounts)
	}
	if !reflect.DeepEqual(c.Accounts.Aliases, map[string]string{"webmaster@example.com": "example"}) {
		t.Errorf("Aliases = %v, want lower-cased", c.Accounts.Aliases)
	}
	wantShared := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::1/128"),
		netip.MustParsePrefix("203.0.113.9/32"),
	}
	if !slices.Equal(c.IPs.Shared, wantShared) {
		t.Errorf("Shared = %v, want %v", c.IPs.Shared, wantShared)
	}
	if c.IPs.Default != netip.MustParseAddr("192.0.2.1") || c.IPs.Hosts["mx1"] != netip.MustParseAddr("192.0.2.2") {
		t.Errorf("IPs = %+v", c.IPs)
	}
	if c.Correlator.MaxMessages != 1000 || c.Correlator.Expiry != 36*time.Hour {
		t.Errorf("Correlator = %+v", c.Correlator)
	}
	if want := []time.Duration{15 * time.Minute, 24 * time.Hour, 7 * day}; !slices.Equal(c.Windows, want) {
		t.Errorf("Windows = %v, want sorted %v", c.Windows, want)
	}
	if c.HTTP.Listen != "" || c.CheckpointInterval != 90*time.Second {
		t.Errorf("HTTP = %+v, CheckpointInterval = %v", c.HTTP, c.CheckpointInterval)
	}
	if got := c.IPs.Resolve("mx1", "postfix-out2/smtp", "smtp"); got != netip.MustParseAddr("192.0.2.12") {
		t.Errorf("Resolve = %v", got)
	}
}

// TestParseErrors checks that each kind of error names file, line and
// key path.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"unknown top-level key", "state_dir: x\nfrobnicate: 1\n",
			`m.yaml:2: unknown key "frobnicate" at top level`},
		{"unknown key in section", "ips:\n  default: 192.0.2.1\n  bogus: 1\n",
			`m.yaml:3: unknown key "bogus" in section "ips"`},
		{"unknown key in list item", "ips:\n  transports:\n    - match: smtp\n      ip: 192.0.2.1\n      port: 25\n",
			`m.yaml:5: unknown key "port" in section "ips.transports[0]"`},
		{"suggestion", "checkpoint-interval: 5s\n",
			`m.yaml:1: unknown key "checkpoint-interval" at top level (did you mean "checkpoint_interval"?)`},
		{"duplicate key", "http:\n  listen: :1\n  listen: :2\n",
			`m.yaml:3: duplicate key "listen" in section "http" (first on line 2)`},
		{"bad IP", "ips:\n  transports:\n    - match: a\n      ip: 192.0.2.1\n    - match: b\n      ip: 10.0.0.300\n",
			`m.yaml:6: ips.transports[1].ip: "10.0.0.300" is not an IP address`},
		{"IP with zone", "ips:\n  default: fe80::1%eth0\n",
			`m.yaml:2: ips.default: "fe80::1%eth0" is not an IP address`},
		{"bad CIDR", "ips:\n  shared:\n    - 192.0.2.0/33\n",
			`m.yaml:3: ips.shared[0]: "192.0.2.0/33" is not an IP address or CIDR prefix`},
		{"bad host IP", "ips:\n  hosts:\n    mx1: nope\n",
			`m.yaml:3: ips.hosts["mx1"]: "nope" is not an IP address`},
		{"missing host IP", "ips:\n  hosts:\n    mx1: \"\"\n",
			`m.yaml:3: ips.hosts["mx1"]: an IP address is required`},
		{"bad duration", "correlator:\n  expiry: 5 days\n",
			`m.yaml:2: correlator.expiry: "5 days" is not a duration`},
		{"duration without unit", "checkpoint_interval: 30\n",
			`m.yaml:1: checkpoint_interval: "30" is not a duration`},
		{"negative cap", "correlator:\n  max_messages: -5\n",
			`m.yaml:2: correlator.max_messages: -5 must be positive`},
		{"zero expiry", "correlator:\n  expiry: 0s\n",
			`m.yaml:2: correlator.expiry: 0s must be positive`},
		{"not an integer", "correlator:\n  max_messages: lots\n",
			`m.yaml:2: correlator.max_messages: "lots" is not an integer`},
		{"not a boolean", "accounts:\n  strip_domain: maybe\n",
			`m.yaml:2: accounts.strip_domain: "maybe" is not a boolean`},
		{"unknown format", "sources:\n  - path: /x\n    format: journald\n",
			`m.yaml:3: sources[0].format: "journald" is not one of auto, syslog, exim`},
		{"missing path", "sources:\n  - format: exim\n",
			`m.yaml:2: sources[0].path: is required`},
		{"glob path", "sources:\n  - path: /var/log/mail*.log\n",
			`m.yaml:2: sources[0].path: "/var/log/mail*.log" looks like a glob`},
		{"duplicate source", "sources:\n  - path: /a\n  - path: /a\n",
			`m.yaml:3: sources[1].path: "/a" is already sources[0]`},
		{"bad year", "sources:\n  - path: /a\n    year: 16\n",
			`m.yaml:3: sources[0].year: 16 is not 0 (infer) or a year`},
		{"unknown precedence", "accounts:\n  precedence: [auth, uid]\n",
			`m.yaml:2: accounts.precedence[1]: "uid" is not one of auth, local, sender_domain, sender`},
		{"duplicate precedence", "accounts:\n  precedence: [auth, local, auth]\n",
			`m.yaml:2: accounts.precedence[2]: "auth" is listed twice`},
		{"empty precedence", "accounts:\n  precedence: []\n",
			`m.yaml:2: accounts.precedence: must list at least one`},
		{"empty alias", "accounts:\n  aliases:\n    x: \"\"\n",
			`m.yaml:3: accounts.aliases["x"]: "x" maps to an empty account`},
		{"case-duplicate alias", "accounts:\n  aliases:\n    A@x: a\n    a@X: b\n",
			`m.yaml:4: accounts.aliases["a@X"]: "a@X" is the same alias as "A@x"`},
		{"transport without ip", "ips:\n  transports:\n    - match: smtp\n",
			`m.yaml:3: ips.transports[0].ip: is required`},
		{"transport without match", "ips:\n  transports:\n    - ip: 192.0.2.1\n",
			`m.yaml:3: ips.transports[0].match: is required`},
		{"duplicate transport", "ips:\n  transports:\n    - {match: smtp, ip: 192.0.2.1}\n    - {match: smtp, ip: 192.0.2.2}\n",
			`m.yaml:4: ips.transports[1]: duplicates ips.transports[0]`},
		{"short window", "windows: [30s]\n", `m.yaml:1: windows[0]: 30s is shorter than the minimum 1m`},
		{"long window", "windows:\n  - 1h\n  - 8d\n", `m.yaml:3: windows[1]: 8d is longer than the maximum 7d`},
		{"duplicate window", "windows: [1h, 60m]\n", `m.yaml:1: windows[1]: 1h is listed twice`},
		{"no windows", "windows: []\n", `m.yaml:1: windows: must list at least one window`},
		{"listen without port", "http:\n  listen: localhost\n", `m.yaml:2: http.listen: "localhost" is not host:port`},
		{"listen bad port", "http:\n  listen: 127.0.0.1:99999\n", `m.yaml:2: http.listen: "127.0.0.1:99999": port "99999" is not a number`},
		{"listen bad host", "http:\n  listen: \"bad host!:80\"\n", `m.yaml:2: http.listen: "bad host!:80": "bad host!" is not an IP address or host name`},
		{"empty state dir", "state_dir: \"\"\n", `m.yaml:1: state_dir: must not be empty`},
		{"list for scalar", "state_dir: [a]\n", `m.yaml:1: state_dir: expected a single value, got a list`},
		{"scalar for list", "windows: 1h\n", `m.yaml:1: windows: expected a list, got the scalar "1h"`},
		{"scalar for section", "ips: 192.0.2.1\n", `m.yaml:1: ips: expected a mapping, got the scalar "192.0.2.1"`},
		{"non-mapping document", "- a\n", `m.yaml:1: expected a mapping, got a list`},
		{"unset variable", "http:\n  listen: ${MAILREP_LISTEN}\n",
			`m.yaml:2: http.listen: environment variable "MAILREP_LISTEN" is not set`},
		{"bad variable name", "state_dir: ${1X}\n", `m.yaml:1: state_dir: invalid variable name "1X"`},
		{"unterminated variable", "state_dir: ${X\n", `m.yaml:1: state_dir: unterminated "${X"`},
		{"syntax error", "http:\n  listen: [\n", `m.yaml:2: invalid YAML: did not find expected node content`},
		{"two documents", "state_dir: a\n---\nstate_dir: b\n", `m.yaml:2: more than one YAML document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("m.yaml", []byte(tt.in), noEnv)
			if err == nil {
				t.Fatalf("no error, config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "m.yaml" || ce.Line == 0 {
				t.Errorf("error %v is not an *Error with file and line: %#v", err, ce)
			}
		})
	}
}

// TestAllErrorsReported checks that problems are collected, not just the
// first, in file order, and that a value which failed to decode is not
// reported a second time by validation.
func TestAllErrorsReported(t *testing.T) {
	in := `state_dir: ""
unknown: 1
ips:
  transports:
    - match: smtp
      ip: 10.0.0.300
correlator:
  max_messages: -1
windows: [1s]
`
	_, err := parse("m.yaml", []byte(in), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"m.yaml:1: state_dir:",
		"m.yaml:2: unknown key",
		`m.yaml:6: ips.transports[0].ip: "10.0.0.300"`,
		"m.yaml:8: correlator.max_messages:",
		"m.yaml:9: windows[0]:",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestEnvSubstitution(t *testing.T) {
	vars := map[string]string{"HOST": "mx7", "EMPTY": "", "PORT": "9999", "IP": "192.0.2.99", "STRIP": "true", "DAYS": "3d"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"${HOST}", "mx7"},
		{"a-${HOST}-b", "a-mx7-b"},
		{"${HOST}${HOST}", "mx7mx7"},
		{"${UNSET:-fallback}", "fallback"},
		{"${EMPTY:-fallback}", "fallback"},
		{"${EMPTY}", ""},
		{"${HOST:-fallback}", "mx7"},
		{"${UNSET:-}", ""},
		{"${UNSET:-a:-b}", "a:-b"},
		{"$HOST", "$HOST"},
		{"cost $5 ${HOST}", "cost $5 mx7"},
		{"$${HOST}", "${HOST}"},
		{"$", "$"},
	}
	for _, tt := range tests {
		got, err := expandEnv(tt.in, lookup)
		if err != nil || got != tt.want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"${UNSET}", "${}", "${HOST", "${A B}", "${:-x}"} {
		if got, err := expandEnv(bad, lookup); err == nil {
			t.Errorf("expandEnv(%q) = %q, want an error", bad, got)
		}
	}

	in := `
http: {listen: "127.0.0.1:${PORT}"}
ips: {default: "${IP}", hosts: {"${HOST}": 192.0.2.1}}
accounts: {strip_domain: "${STRIP}"}
correlator: {expiry: "${DAYS}", max_messages: "${MAX:-42}"}
`
	c, err := parse("m.yaml", []byte(in), fakeEnv(nil, vars, "h"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:9999" || c.IPs.Default != netip.MustParseAddr("192.0.2.99") ||
		!c.Accounts.StripDomain || c.Correlator.Expiry != 72*time.Hour || c.Correlator.MaxMessages != 42 {
		t.Errorf("substituted config = %+v", c)
	}
	if _, ok := c.IPs.Hosts["${HOST}"]; !ok {
		t.Errorf("keys must not be substituted: Hosts = %v", c.IPs.Hosts)
	}
}

func TestDurations(t *testing.T) {
	good := map[string]time.Duration{
		"5d": 5 * day, "1d12h": 36 * time.Hour, "1.5d": 36 * time.Hour, "90s": 90 * time.Second,
		"2h30m": 150 * time.Minute, "0": 0, "-1d": -day, "+2d": 2 * day, "1h1d": 25 * time.Hour,
	}
	for in, want := range good {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "5", "5 d", "5dd", "1x", "-", "d5", "999999999999d", "106751d24h"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
	format := map[time.Duration]string{
		time.Hour: "1h", 24 * time.Hour: "24h", 120 * time.Hour: "5d", 90 * time.Minute: "1h30m",
		5 * time.Second: "5s", 0: "0s", time.Minute: "1m", 1500 * time.Millisecond: "1.5s",
	}
	for d, want := range format {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := parseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
	p := filepath.Join(t.TempDir(), "mailrep.yaml")
	if err := os.WriteFile(p, []byte("http:\n  listen: \":80\"\n  nope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p+`:3: unknown key "nope" in section "http"`) {
		t.Errorf("Load error = %v, want it to name %s:3", err, p)
	}
	big := make([]byte, maxFileSize+1)
	if err := os.WriteFile(p, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); !errors.Is(err, errTooLarge) {
		t.Errorf("Load(huge) error = %v, want errTooLarge", err)
	}
}

// TestValidateHandBuilt checks Validate on a Config that did not come
// from a file: errors name the key path only.
func TestValidateHandBuilt(t *testing.T) {
	c := defaultConfig(noEnv)
	c.Correlator.MaxMessages = 0
	c.IPs.Transports = []TransportIP{{Match: "smtp"}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"correlator.max_messages: 0 must be positive", "ips.transports[0].ip: is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), ".yaml") {
		t.Errorf("error %q names a file", err)
	}
}

// TestSchemaTypesDecodable walks Config and fails if a field has a type
// the decoder cannot handle, so a new section cannot silently break
// loading.
func TestSchemaTypesDecodable(t *testing.T) {
	var walk func(t reflect.Type, path string) []string
	walk = func(typ reflect.Type, path string) (bad []string) {
		switch typ {
		case durationType, addrType, prefixType:
			return nil
		}
		switch typ.Kind() {
		case reflect.String, reflect.Int, reflect.Bool, reflect.Float64:
			return nil
		case reflect.Slice:
			return walk(typ.Elem(), path+"[]")
		case reflect.Map:
			if typ.Key().Kind() != reflect.String {
				return []string{path}
			}
			return walk(typ.Elem(), path+"[]")
		case reflect.Struct:
			keys, index := yamlFields(typ)
			for _, k := range keys {
				bad = append(bad, walk(typ.Field(index[k]).Type, joinPath(path, k))...)
			}
			return bad
		}
		return []string{path}
	}
	if bad := walk(reflect.TypeFor[Config](), ""); len(bad) > 0 {
		t.Errorf("fields with undecodable types: %v", bad)
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("windows:\n")
	for range maxErrors + 20 {
		b.WriteString("  - nope\n")
	}
	_, err := parse("m.yaml", []byte(b.String()), noEnv)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "m.yaml: and 20 more errors" {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}
