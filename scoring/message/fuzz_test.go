package message

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailrep/mailrep/internal/corpus"
)

// FuzzParse feeds arbitrary messages to Parse: it must not panic, must not
// fail on an in-memory reader, and must keep its invariants.
func FuzzParse(f *testing.F) {
	f.Add([]byte(nestedMessage))
	f.Add([]byte("Subject: =?utf-8?b?w6k=?=\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n<p>caf=E9 <a href=3Dhttp://x.example>x</a>\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKYm9keQo=\n--b--\n"))
	f.Add([]byte("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n--d--\n"))
	f.Add([]byte("From x\nbad\nbad\nbad\nbad\n--\n\n\n\n"))
	// A few corpus messages when the corpus is present.
	if files, err := corpusSeedFiles(); err == nil {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && len(b) < 16<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := Limits{MaxParts: 50, MaxDepth: 8, MaxHeaders: 100, MaxHeaderLen: 4096, MaxBodyText: 64 << 10, Budget: 5 * time.Second}
		m, err := Parse(context.Background(), bytes.NewReader(in), lim)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if m.Size != int64(len(in)) {
			t.Fatalf("Size %d, input %d bytes", m.Size, len(in))
		}
		raw := m.RawHeader + m.RawBody
		if !strings.HasPrefix(string(in), raw) && !isMboxFrom(in) {
			t.Fatalf("RawHeader+RawBody is not a prefix of the input")
		}
		if !utf8.ValidString(m.Text) {
			t.Fatalf("Text is not UTF-8: %q", m.Text)
		}
		for _, h := range m.Headers {
			if !utf8.ValidString(h.Value) && utf8.ValidString(h.Raw) {
				t.Fatalf("header %q: Value not UTF-8: %q", h.Name, h.Value)
			}
		}
		if len(m.HTML) != len(m.HTMLStats) {
			t.Fatalf("%d HTML parts, %d stats", len(m.HTML), len(m.HTMLStats))
		}
		if len(m.Parts) > lim.MaxParts*2+1 {
			t.Fatalf("%d parts with MaxParts %d", len(m.Parts), lim.MaxParts)
		}
		for _, p := range m.Parts {
			if !strings.Contains(m.Text, p.Text) {
				t.Fatalf("part %s text not in Text", p.Path)
			}
		}
		for _, u := range m.URIs {
			if !hasScheme(u) {
				t.Fatalf("URI without scheme: %q", u)
			}
		}
		for _, l := range m.BodyLines() {
			if len(l) > maxBodyLineLength {
				t.Fatalf("body line of %d bytes", len(l))
			}
		}
		m.RawBodyLines()
		m.URIList(nil)
		for _, u := range m.URIList(func(tld string) bool { return tld == "com" || tld == "example" }) {
			if len(u) > maxURILength {
				t.Fatalf("URI of %d bytes", len(u))
			}
		}
	})
}

// corpusSeedFiles lists a sample of the corpus messages.
func corpusSeedFiles() ([]string, error) {
	root := corpus.Root()
	if root == "" {
		return nil, os.ErrNotExist
	}
	var out []string
	for _, dir := range []string{"ham", "spam"} {
		d := filepath.Join(root, "mail", dir)
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for i, e := range entries {
			if i%15 == 0 {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out, nil
}

// BenchmarkParse parses the corpus messages (and builds the body array),
// reporting messages per second of wall time and, at GOMAXPROCS=1, per
// second of CPU time.
func BenchmarkParse(b *testing.B) {
	files := corpusFiles(b)
	msgs := make([][]byte, len(files))
	var total int64
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = raw
		total += int64(len(raw))
	}
	ctx := context.Background()
	b.SetBytes(total / int64(len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	for i := 0; i < b.N; i++ {
		m, err := Parse(ctx, bytes.NewReader(msgs[i%len(msgs)]), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		m.BodyLines()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	// On a busy machine wall time overstates the cost; the CPU time the
	// process used is the figure to compare with the single-core target.
	if used := processCPU() - cpu; used > 0 && runtime.GOMAXPROCS(0) == 1 {
		b.ReportMetric(float64(b.N)/used.Seconds(), "msgs/cpu-s")
	}
}
