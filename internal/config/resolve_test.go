package config

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func resolveFixture(t testing.TB) *Config {
	t.Helper()
	in := `
ips:
  default: 192.0.2.1
  hosts:
    mx1: 192.0.2.2
    mx2: 192.0.2.3
  transports:
    - {match: postfix-out2/smtp, ip: 192.0.2.10}
    - {match: postfix-out2/smtp, host: mx2, ip: 192.0.2.11}
    - {match: postfix-out2/, ip: 192.0.2.20}
    - {match: postfix-out2/, host: mx1, ip: 192.0.2.21}
    - {match: postfix-out2/relay/, ip: 192.0.2.22}
    - {match: remote_smtp, ip: 192.0.2.30}
    - {match: remote_smtp, host: mx1, ip: 192.0.2.31}
    - {match: sm-mta, ip: 192.0.2.40}
    - {match: bulk, host: mx3, ip: 192.0.2.50}
`
	c, err := parse("m.yaml", []byte(in), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestResolvePrecedence(t *testing.T) {
	c := resolveFixture(t)
	tests := []struct {
		host, program, transport string
		want                     string
	}{
		{"mx9", "postfix-out2/smtp", "smtp", "192.0.2.10"},          // exact program, any host
		{"mx2", "postfix-out2/smtp", "smtp", "192.0.2.11"},          // exact program, this host first
		{"mx1", "postfix-out2/smtp", "remote_smtp", "192.0.2.10"},   // exact program beats prefix and transport
		{"mx9", "postfix-out2/lmtp", "", "192.0.2.20"},              // prefix, any host
		{"mx1", "postfix-out2/lmtp", "", "192.0.2.21"},              // prefix, this host first
		{"mx1", "postfix-out2/relay/smtp", "", "192.0.2.22"},        // longest prefix beats host-specific shorter one
		{"mx9", "postfix-out2/submission/smtpd", "x", "192.0.2.20"}, // prefix beats Hosts
		{"mx9", "exim", "remote_smtp", "192.0.2.30"},                // transport name, any host
		{"mx1", "exim", "remote_smtp", "192.0.2.31"},                // transport name, this host first
		{"mx1", "postfix-out2/smtp2", "remote_smtp", "192.0.2.21"},  // prefix beats transport name
		{"mx9", "sm-mta", "", "192.0.2.40"},                         // Match without "/" as program
		{"mx9", "postfix/smtp", "sm-mta", "192.0.2.40"},             // ... and as transport name
		{"mx1", "postfix/smtp", "smtp", "192.0.2.2"},                // Hosts
		{"mx2", "", "", "192.0.2.3"},                                // Hosts with nothing else
		{"mx3", "exim", "bulk", "192.0.2.50"},                       // host-only rule on its host
		{"mx9", "exim", "bulk", "192.0.2.1"},                        // ... not elsewhere: Default
		{"", "postfix-out2", "", "192.0.2.1"},                       // no "/" after the name: not the prefix
		{"mx9", "postfix-out", "postfix-out2/", "192.0.2.1"},        // a prefix rule is no transport name
		{"mx9", "", "", "192.0.2.1"},                                // Default
	}
	for _, tt := range tests {
		want := netip.MustParseAddr(tt.want)
		if got := c.IPs.Resolve(tt.host, tt.program, tt.transport); got != want {
			t.Errorf("Resolve(%q, %q, %q) = %v, want %v", tt.host, tt.program, tt.transport, got, want)
		}
		unindexed := c.IPs
		unindexed.index = nil
		if got := unindexed.Resolve(tt.host, tt.program, tt.transport); got != want {
			t.Errorf("unindexed Resolve(%q, %q, %q) = %v, want %v", tt.host, tt.program, tt.transport, got, want)
		}
	}

	var none IPs
	if got := none.Resolve("mx1", "postfix/smtp", "smtp"); got.IsValid() {
		t.Errorf("empty IPs resolve to %v, want the zero Addr", got)
	}
}

// TestResolveIndexMatchesScan checks on random rule sets and queries that
// the index Validate builds gives the same answers as the plain scan.
func TestResolveIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	matches := []string{"postfix/", "postfix/smtp", "postfix/relay/", "postfix/relay/smtp", "smtp", "relay", "sm-mta", "remote_smtp", "a/b/"}
	hosts := []string{"", "mx1", "mx2"}
	programs := []string{"", "postfix/smtp", "postfix/relay/smtp", "postfix/relay/lmtp", "sm-mta", "exim", "a/b/c", "a/b/", "postfix/"}
	transports := []string{"", "smtp", "relay", "remote_smtp", "sm-mta", "postfix/"}
	for round := range 500 {
		var ips IPs
		for i := range rng.IntN(8) {
			ips.Transports = append(ips.Transports, TransportIP{
				Match: matches[rng.IntN(len(matches))],
				Host:  hosts[rng.IntN(len(hosts))],
				IP:    netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}),
			})
		}
		ips.index = buildIndex(&ips)
		plain := ips
		plain.index = nil
		for _, h := range hosts {
			for _, p := range programs {
				for _, tr := range transports {
					if a, b := ips.Resolve(h, p, tr), plain.Resolve(h, p, tr); a != b {
						t.Fatalf("round %d, rules %+v: Resolve(%q, %q, %q): index %v, scan %v", round, ips.Transports, h, p, tr, a, b)
					}
				}
			}
		}
	}
}

func TestResolveDoesNotAllocate(t *testing.T) {
	c := resolveFixture(t)
	program := strings.Clone("postfix-out2/relay/smtp")
	allocs := testing.AllocsPerRun(1000, func() {
		c.IPs.Resolve("mx1", program, "remote_smtp")
		c.IPs.Resolve("mx9", "exim", "none")
	})
	if allocs != 0 {
		t.Errorf("Resolve allocates %v times per call", allocs)
	}
	unindexed := c.IPs
	unindexed.index = nil
	allocs = testing.AllocsPerRun(1000, func() {
		unindexed.Resolve("mx1", program, "remote_smtp")
	})
	if allocs != 0 {
		t.Errorf("unindexed Resolve allocates %v times per call", allocs)
	}
}

func BenchmarkResolve(b *testing.B) {
	c := resolveFixture(b)
	queries := [][3]string{
		{"mx2", "postfix-out2/smtp", "smtp"},
		{"mx1", "postfix-out2/relay/smtp", ""},
		{"mx1", "exim", "remote_smtp"},
		{"mx9", "postfix/smtp", "smtp"},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := &queries[i&3]
		c.IPs.Resolve(q[0], q[1], q[2])
		i++
	}
}

func TestDescribeFileStatus(t *testing.T) {
	dir := t.TempDir()
	readable := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(readable, []byte("Jan  1 00:00:00 h postfix/smtp[1]: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := defaultConfig(noEnv)
	c.Sources = []Source{
		{Path: readable, Format: FormatSyslog},
		{Path: filepath.Join(dir, "gone.log"), Format: FormatExim, Host: "mx5", Year: 2016},
		{Path: dir, Format: FormatAuto},
	}
	c.HTTP.Listen = ""
	var b strings.Builder
	c.Describe(&b)
	out := b.String()
	lines := strings.Split(out, "\n")
	find := func(sub string) string {
		for _, l := range lines {
			if strings.Contains(l, sub) {
				return l
			}
		}
		t.Fatalf("no line with %q in:\n%s", sub, out)
		return ""
	}
	if l := find(readable); !strings.Contains(l, "readable, 37 B") || !strings.Contains(l, "(from each line)") {
		t.Errorf("readable source line = %q", l)
	}
	if l := find("gone.log"); !strings.Contains(l, "missing") || !strings.Contains(l, "mx5") || !strings.Contains(l, "2016") {
		t.Errorf("missing source line = %q", l)
	}
	if l := find(dir + " "); !strings.Contains(l, "is a directory") {
		t.Errorf("directory source line = %q", l)
	}
	if l := find("HTTP listen"); !strings.Contains(l, "disabled") {
		t.Errorf("HTTP line = %q", l)
	}
	// Columns are aligned: every source row starts its PATH column at
	// the same offset as the header.
	col := strings.Index(find("PATH"), "PATH")
	for _, p := range []string{readable, "gone.log"} {
		if got := strings.Index(find(p), "/"); got != col {
			t.Errorf("row for %s starts at column %d, header at %d", p, got, col)
		}
	}

	c.Sources = nil
	b.Reset()
	c.Describe(&b)
	if !strings.Contains(b.String(), "nothing to watch") {
		t.Errorf("Describe without sources:\n%s", b.String())
	}
}
