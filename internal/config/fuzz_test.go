package config

import (
	"errors"
	"io"
	"os"
	"testing"
)

// FuzzLoadBytes checks that no input makes Parse panic, and that Parse
// returns either a valid configuration or an error, never both or
// neither.
func FuzzLoadBytes(f *testing.F) {
	if data, err := os.ReadFile(examplePath); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"state_dir: ${X:-/tmp}\n",
		"ips:\n  transports:\n    - {match: a/, ip: 192.0.2.1}\n",
		"a: &x [*x]\nips: *x\n",
		"sources: &s\n  - path: /a\n  - *s\n",
		"windows: [1d, 1h, 1h]\ncorrelator: {expiry: 9999999999d}\n",
		"http: {listen: '[::1]:80'}\n",
		"? [a]\n: b\n",
		"--- !!map\n!!str x: !!int 1\n",
		"accounts:\n  aliases:\n    A: b\n    a: c\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("fuzz.yaml", data, noEnv)
		if (c == nil) == (err == nil) {
			t.Fatalf("parse returned config %v and error %v", c, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config fails Validate again: %v", err)
		}
		c.IPs.Resolve("h", "postfix/smtp", "smtp")
		c.Describe(io.Discard)
	})
}

func BenchmarkParseExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parse("m.yaml", data, noEnv); err != nil {
			b.Fatal(err)
		}
	}
}
