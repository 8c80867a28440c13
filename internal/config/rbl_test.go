package config

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRBLDefaults(t *testing.T) {
	c, err := parse("m.yaml", nil, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := c.RBL
	want := RBL{
		Enabled:     true,
		Schedule:    "*/15 * * * *",
		Targets:     RBLTargets{FromLogs: true},
		Timeout:     2 * time.Second,
		Attempts:    3,
		Concurrency: 64,
		Damping:     2,
		History:     1000,
		RDNS:        true,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("RBL defaults = %+v, want %+v", r, want)
	}
}

func TestRBLParseValues(t *testing.T) {
	in := `
rbl:
  enabled: false
  lists: [spamhaus-zen, " bl.spamcop.net "]
  catalog_files: [/etc/mailrep/extra-lists.yaml]
  custom:
    - name: mine
      zone: BL.Example.NET.
      kind: IP
      ipv6: true
      delist_url: https://bl.example.net/
      codes:
        - {match: 127.0.0.2, meaning: trap}
        - {match: 127.0.0.3-127.0.0.9, severity: low}
    - name: friends
      zone: wl.example.net
      kind: ip
      purpose: allow
  resolvers: [127.0.0.1, "[::1]:5353", 192.0.2.53:53]
  dqs_key: ${DQS}
  abusix_key: abc-123
  schedule: "@every 10m"
  schedules: {uribl: "@hourly", spamhaus-zen: "5 * * * *"}
  targets:
    ips: [192.0.2.0/24, 198.51.100.7, "2001:db8::/112"]
    domains: [Example.COM., example.org]
    from_logs: no
  timeout: 1500ms
  attempts: 1
  concurrency: 4096
  rate: 20
  spread: 5m
  damping: 1
  history: 50
  rdns: false
`
	env := fakeEnv(nil, map[string]string{"DQS": "k3yk3y"}, "h")
	c, err := parse("m.yaml", []byte(in), env)
	if err != nil {
		t.Fatal(err)
	}
	r := c.RBL
	if r.Enabled || r.RDNS || r.Targets.FromLogs {
		t.Errorf("booleans not read: %+v", r)
	}
	if !slices.Equal(r.Lists, []string{"spamhaus-zen", "bl.spamcop.net"}) {
		t.Errorf("Lists = %q", r.Lists)
	}
	if !slices.Equal(r.CatalogFiles, []string{"/etc/mailrep/extra-lists.yaml"}) {
		t.Errorf("CatalogFiles = %q", r.CatalogFiles)
	}
	wantCustom := []RBLList{
		{Name: "mine", Zone: "bl.example.net", Kind: "ip", IPv6: true, Purpose: "block", DelistURL: "https://bl.example.net/", Severity: "medium",
			Codes: []RBLCode{{Match: "127.0.0.2", Meaning: "trap", Severity: "medium"}, {Match: "127.0.0.3-127.0.0.9", Severity: "low"}}},
		{Name: "friends", Zone: "wl.example.net", Kind: "ip", Purpose: "allow", Severity: "good"},
	}
	if !reflect.DeepEqual(r.Custom, wantCustom) {
		t.Errorf("Custom = %+v\nwant %+v", r.Custom, wantCustom)
	}
	if !slices.Equal(r.Resolvers, []string{"127.0.0.1", "[::1]:5353", "192.0.2.53:53"}) {
		t.Errorf("Resolvers = %q", r.Resolvers)
	}
	if r.DQSKey != "k3yk3y" || r.AbusixKey != "abc-123" {
		t.Errorf("keys = %q, %q", r.DQSKey, r.AbusixKey)
	}
	if r.Schedule != "@every 10m" || !reflect.DeepEqual(r.Schedules, map[string]string{"uribl": "@hourly", "spamhaus-zen": "5 * * * *"}) {
		t.Errorf("Schedule = %q, Schedules = %v", r.Schedule, r.Schedules)
	}
	wantIPs := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::/112")}
	if !slices.Equal(r.Targets.IPs, wantIPs) || !slices.Equal(r.Targets.Domains, []string{"example.com", "example.org"}) {
		t.Errorf("Targets = %+v", r.Targets)
	}
	if r.Timeout != 1500*time.Millisecond || r.Attempts != 1 || r.Concurrency != 4096 || r.Rate != 20 ||
		r.Spread != 5*time.Minute || r.Damping != 1 || r.History != 50 {
		t.Errorf("numbers = %+v", r)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("a parsed configuration fails Validate again: %v", err)
	}
}

// TestRBLErrors checks each validation error of the rbl section: it
// names file, line and key path.
func TestRBLErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty list name", "rbl:\n  lists: [zen, '']\n", `m.yaml:2: rbl.lists[1]: must not be empty`},
		{"duplicate list", "rbl:\n  lists:\n    - spamcop\n    - SpamCop\n", `m.yaml:4: rbl.lists[1]: "SpamCop" is listed twice (also lists[0])`},
		{"duplicate catalog file", "rbl:\n  catalog_files: [a.yaml, a.yaml]\n", `m.yaml:2: rbl.catalog_files[1]: "a.yaml" is listed twice`},
		{"resolver host name", "rbl:\n  resolvers:\n    - dns.example:53\n", `m.yaml:3: rbl.resolvers[0]: "dns.example:53" is not an IP address or ip:port`},
		{"resolver v6 without brackets", "rbl:\n  resolvers: ['::1:53', '::1:5353:x']\n", `rbl.resolvers[1]: "::1:5353:x" is not an IP address`},
		{"resolver port 0", "rbl:\n  resolvers: ['127.0.0.1:0']\n", `m.yaml:2: rbl.resolvers[0]: "127.0.0.1:0" has port 0`},
		{"resolver duplicate", "rbl:\n  resolvers: [127.0.0.1, '127.0.0.1:53']\n", `rbl.resolvers[1]: "127.0.0.1:53" is listed twice (also resolvers[0])`},
		{"bad dqs key", "rbl:\n  dqs_key: 'not a key.'\n", `m.yaml:2: rbl.dqs_key: is not a valid Spamhaus DQS key`},
		{"bad abusix key", "rbl:\n  abusix_key: a.b\n", `m.yaml:2: rbl.abusix_key: is not a valid Abusix key`},
		{"bad schedule", "rbl:\n  schedule: every hour\n", `m.yaml:2: rbl.schedule: "every hour" is not a cron expression`},
		{"six-field schedule", "rbl:\n  schedule: '0 */15 * * * *'\n", `m.yaml:2: rbl.schedule: "0 */15 * * * *" is not a cron expression`},
		{"never fires", "rbl:\n  schedule: '0 0 30 2 *'\n", `m.yaml:2: rbl.schedule: "0 0 30 2 *" is not a cron expression (5 fields, e.g. "*/15 * * * *", or @hourly, @every 10m): it never fires`},
		{"bad per-list schedule", "rbl:\n  schedules:\n    uribl: '61 * * * *'\n", `m.yaml:3: rbl.schedules["uribl"]: "61 * * * *" is not a cron expression`},
		{"target too large", "rbl:\n  targets:\n    ips: [10.0.0.0/15]\n", `m.yaml:3: rbl.targets.ips[0]: 10.0.0.0/15 has 131072 addresses; the most is 65536`},
		{"v6 target too large", "rbl:\n  targets:\n    ips: ['2001:db8::/64']\n", `rbl.targets.ips[0]: 2001:db8::/64 has 2^64 addresses`},
		{"v6 target huge", "rbl:\n  targets:\n    ips: ['::/0']\n", `rbl.targets.ips[0]: ::/0 has 2^128 addresses`},
		{"target not a prefix", "rbl:\n  targets:\n    ips: [example.com]\n", `m.yaml:3: rbl.targets.ips[0]: "example.com" is not an IP address or CIDR prefix`},
		{"domain is an IP", "rbl:\n  targets:\n    domains: [192.0.2.1]\n", `m.yaml:3: rbl.targets.domains[0]: "192.0.2.1" is an address: list it under rbl.targets.ips`},
		{"bad domain", "rbl:\n  targets:\n    domains: [a..b]\n", `m.yaml:3: rbl.targets.domains[0]: "a..b" is not a domain name`},
		{"bare label domain", "rbl:\n  targets:\n    domains: [localhost]\n", `rbl.targets.domains[0]: "localhost" is not a domain name`},
		{"duplicate domain", "rbl:\n  targets:\n    domains: [a.example, A.example.]\n", `rbl.targets.domains[1]: "A.example." is listed twice (also domains[0])`},
		{"custom without name", "rbl:\n  custom:\n    - {zone: a.example, kind: ip}\n", `m.yaml:3: rbl.custom[0].name: is required`},
		{"custom without zone", "rbl:\n  custom:\n    - {name: a, kind: ip}\n", `m.yaml:3: rbl.custom[0].zone: is required`},
		{"custom bad zone", "rbl:\n  custom:\n    - name: a\n      zone: a b.example\n      kind: ip\n", `m.yaml:4: rbl.custom[0].zone: "a b.example" is not a DNS zone name`},
		{"custom without kind", "rbl:\n  custom:\n    - {name: a, zone: a.example}\n", `m.yaml:3: rbl.custom[0].kind: is required (ip or domain)`},
		{"custom bad kind", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ipv4}\n", `rbl.custom[0].kind: "ipv4" is not ip or domain`},
		{"custom bad purpose", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ip, purpose: deny}\n", `rbl.custom[0].purpose: "deny" is not one of block, allow, reputation`},
		{"custom bad severity", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ip, severity: urgent}\n", `rbl.custom[0].severity: "urgent" is not one of critical, high`},
		{"custom bad delist", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ip, delist_url: mailto:x}\n", `rbl.custom[0].delist_url: "mailto:x" is not an http(s) URL`},
		{"custom duplicate name", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ip}\n    - {name: a, zone: b.example, kind: ip}\n", `m.yaml:4: rbl.custom[1].name: "a" is also custom[0]`},
		{"custom duplicate zone", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ip}\n    - {name: b, zone: A.example., kind: ip}\n", `m.yaml:4: rbl.custom[1].zone: "a.example" is also custom[0]`},
		{"code without match", "rbl:\n  custom:\n    - name: a\n      zone: a.example\n      kind: ip\n      codes:\n        - {meaning: x}\n", `m.yaml:7: rbl.custom[0].codes[0].match: "" is required`},
		{"code outside 127/8", "rbl:\n  custom:\n    - name: a\n      zone: a.example\n      kind: ip\n      codes:\n        - match: 10.0.0.2\n", `m.yaml:7: rbl.custom[0].codes[0].match: "10.0.0.2" is not an address in 127.0.0.0/8`},
		{"code range backwards", "rbl:\n  custom:\n    - name: a\n      zone: a.example\n      kind: ip\n      codes:\n        - match: 127.0.0.9-127.0.0.2\n", `rbl.custom[0].codes[0].match: "127.0.0.9-127.0.0.2" is not an ascending range`},
		{"code bad severity", "rbl:\n  custom:\n    - name: a\n      zone: a.example\n      kind: ip\n      codes:\n        - {match: 127.0.0.2, severity: bad}\n", `rbl.custom[0].codes[0].severity: "bad" is not one of`},
		{"unknown custom key", "rbl:\n  custom:\n    - {name: a, zone: a.example, kind: ip, mask: 2}\n", `m.yaml:3: unknown key "mask" in section "rbl.custom[0]"`},
		{"timeout zero", "rbl:\n  timeout: 0s\n", `m.yaml:2: rbl.timeout: 0s must be positive`},
		{"timeout long", "rbl:\n  timeout: 1m\n", `m.yaml:2: rbl.timeout: 1m is longer than the maximum 30s`},
		{"attempts", "rbl:\n  attempts: 0\n", `m.yaml:2: rbl.attempts: 0 is not between 1 and 10`},
		{"concurrency", "rbl:\n  concurrency: 4097\n", `m.yaml:2: rbl.concurrency: 4097 is not between 1 and 4096`},
		{"rate", "rbl:\n  rate: -1\n", `m.yaml:2: rbl.rate: -1 must not be negative`},
		{"rate float", "rbl:\n  rate: 0.5\n", `m.yaml:2: rbl.rate: "0.5" is not an integer`},
		{"spread negative", "rbl:\n  spread: -1s\n", `m.yaml:2: rbl.spread: -1s must not be negative`},
		{"spread longer than interval", "rbl:\n  schedule: '*/15 * * * *'\n  spread: 15m\n", `m.yaml:3: rbl.spread: 15m is not shorter than the 15m between runs of rbl.schedule "*/15 * * * *"`},
		{"spread irregular schedule", "rbl:\n  schedule: '0,5 * * * *'\n  spread: 10m\n", `rbl.spread: 10m is not shorter than the 5m between runs`},
		{"damping", "rbl:\n  damping: 0\n", `m.yaml:2: rbl.damping: 0 is not between 1 and 100`},
		{"history", "rbl:\n  history: 0\n", `m.yaml:2: rbl.history: 0 is not between 1 and 1000000`},
		{"unknown rbl key", "rbl:\n  dqs-key: x\n", `m.yaml:2: unknown key "dqs-key" in section "rbl" (did you mean "dqs_key"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("m.yaml", []byte(tt.in), noEnv)
			if err == nil {
				t.Fatalf("no error for\n%s", tt.in)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n%v\ndoes not contain\n%s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "m.yaml" || ce.Line == 0 || !strings.HasPrefix(ce.Path, "rbl") {
				t.Errorf("error %v is not an *Error with file, line and rbl path: %#v", err, ce)
			}
		})
	}
}

// TestRBLValidSchedules checks that the spread check accepts what it
// should: a spread shorter than the interval, and descriptors.
func TestRBLValidSchedules(t *testing.T) {
	for _, in := range []string{
		"rbl:\n  schedule: '*/15 * * * *'\n  spread: 14m59s\n",
		"rbl:\n  schedule: '@hourly'\n  spread: 30m\n",
		"rbl:\n  schedule: '@every 2h'\n  spread: 1h\n",
		"rbl:\n  schedule: '@daily'\n  spread: 12h\n",
		"rbl:\n  schedule: '0 9 * * 1-5'\n  spread: 20h\n",
		"rbl:\n  schedule: '@yearly'\n  spread: 30d\n",
		"rbl:\n  schedule: 'CRON_TZ=Europe/Berlin 0 3 * * *'\n",
	} {
		if _, err := parse("m.yaml", []byte(in), noEnv); err != nil {
			t.Errorf("parse(%q): %v", in, err)
		}
	}
}

// TestRBLKeysNeverShown makes sure neither Describe nor a validation
// error prints a key.
func TestRBLKeysNeverShown(t *testing.T) {
	const dqs, abusix = "dqsSECRETkey42", "abusixSECRET7"
	env := fakeEnv(nil, map[string]string{"DQS": dqs}, "h")
	c, err := parse("m.yaml", []byte("rbl:\n  dqs_key: ${DQS}\n  abusix_key: "+abusix+"\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c.Describe(&b)
	out := b.String()
	if strings.Contains(out, dqs) || strings.Contains(out, abusix) {
		t.Fatalf("Describe prints a key:\n%s", out)
	}
	for _, want := range []string{"DQS key     set", "Abusix key  set"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("Describe lacks %q:\n%s", want, out)
		}
	}

	d := defaultConfig(noEnv)
	b.Reset()
	d.Describe(&b)
	if !strings.Contains(b.String(), "not set") {
		t.Errorf("Describe of defaults does not say the keys are not set:\n%s", b.String())
	}

	const bad = "bad.SECRET value"
	_, err = parse("m.yaml", []byte("rbl:\n  dqs_key: '"+bad+"'\n  abusix_key: '"+bad+"'\n"), noEnv)
	if err == nil {
		t.Fatal("bad keys accepted")
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the validation error shows the key: %v", err)
	}
}

func TestRBLDescribe(t *testing.T) {
	in := `rbl:
  enabled: false
  lists: [spamhaus-zen, uribl]
  custom:
    - {name: mine, zone: bl.example.net, kind: ip}
  resolvers: ["127.0.0.1:5353"]
  schedule: "@hourly"
  schedules: {uribl: "@daily"}
  targets:
    ips: [192.0.2.1, 192.0.2.0/28]
    domains: [example.com]
  rate: 5
  spread: 10m
  damping: 3
`
	c, err := parse("m.yaml", []byte(in), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c.Describe(&b)
	out := b.String()
	for _, want := range []string{
		"Blocklists  disabled", "spamhaus-zen, uribl", "mine (bl.example.net, ip, block)", "127.0.0.1:5353",
		"@hourly", "uribl: @daily", "192.0.2.1, 192.0.2.0/28", "example.com",
		"2s timeout x 3 attempts, 64 at once, 5/s per zone, spread over 10m", "3 agreeing results", "1000 transitions",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe lacks %q:\n%s", want, out)
		}
	}

	b.Reset()
	defaultConfig(noEnv).Describe(&b)
	out = b.String()
	for _, want := range []string{"Blocklists  enabled", "the default set", "from /etc/resolv.conf", "*/15 * * * *", "no per-zone bound, burst", "from logs"} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe of defaults lacks %q:\n%s", want, out)
		}
	}
}

func TestMinInterval(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want time.Duration
	}{
		{"* * * * *", time.Minute},
		{"*/15 * * * *", 15 * time.Minute},
		{"0,50 * * * *", 10 * time.Minute},
		{"@hourly", time.Hour},
		{"@every 90s", 90 * time.Second},
		{"0 9 * * 1-5", 24 * time.Hour},
	} {
		s, err := parseSchedule(tt.spec)
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		if got := minInterval(s); got != tt.want {
			t.Errorf("minInterval(%q) = %s, want %s", tt.spec, got, tt.want)
		}
	}
}

func TestScheduleTimeZoneWithoutSpec(t *testing.T) {
	for _, spec := range []string{"TZ=UTC", "CRON_TZ=Europe/Berlin"} {
		_, err := Parse("t.yaml", []byte("rbl:\n  schedule: \""+spec+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), "rbl.schedule") {
			t.Errorf("%s: %v, want an error naming rbl.schedule", spec, err)
		}
	}
}
