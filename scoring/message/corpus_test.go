package message

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailrep/mailrep/internal/corpus"
)

// corpusFiles returns the messages of the shared corpus.
func corpusFiles(tb testing.TB) []string {
	tb.Helper()
	var files []string
	for _, dir := range []string{"mail/ham", "mail/spam", "mail/spam-modern-ccbync"} {
		if corpus.Root() == "" {
			tb.Skip("corpus not found")
		}
		if _, err := os.Stat(filepath.Join(corpus.Root(), dir)); err != nil {
			continue // not every copy of the corpus has every directory
		}
		files = append(files, corpus.Files(tb, dir, "*")...)
	}
	if len(files) == 0 {
		tb.Skip("no corpus messages")
	}
	return files
}

// TestCorpus parses every corpus message: no error, no limit hit, the raw
// header and body are the input, decoded text is valid UTF-8, and parts
// account for the text.
func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	var html, multipart, uris int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(context.Background(), bytes.NewReader(raw), Limits{})
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		name := filepath.Base(f)
		if len(m.Limits) > 0 {
			t.Errorf("%s: limits hit: %v", name, m.Limits)
		}
		if m.Size != int64(len(raw)) {
			t.Errorf("%s: Size %d, file has %d bytes", name, m.Size, len(raw))
		}
		if got := m.RawHeader + m.RawBody; got != string(raw) && !bytes.HasPrefix(raw, []byte("From ")) {
			t.Errorf("%s: RawHeader+RawBody is not the input", name)
		}
		if len(m.Headers) == 0 {
			t.Errorf("%s: no header fields", name)
		}
		if len(m.Parts) == 0 {
			t.Errorf("%s: no parts", name)
		}
		if !utf8.ValidString(m.Text) {
			t.Errorf("%s: Text is not valid UTF-8", name)
		}
		for _, h := range m.Headers {
			if !utf8.ValidString(h.Value) {
				t.Errorf("%s: header %s value is not valid UTF-8: %q", name, h.Name, h.Value)
			}
		}
		for _, p := range m.Parts {
			if p.Text != "" && !strings.Contains(m.Text, p.Text) {
				t.Errorf("%s: part %s text is not in Text", name, p.Path)
			}
			if p.Parent == "multipart/mixed" || p.Parent == "multipart/alternative" || p.Parent == "multipart/related" {
				multipart++
			}
		}
		if len(m.HTML) != len(m.HTMLStats) {
			t.Errorf("%s: %d HTML parts, %d stats", name, len(m.HTML), len(m.HTMLStats))
		}
		html += len(m.HTML)
		uris += len(m.URIs)
		for _, u := range m.URIs {
			if !hasScheme(u) {
				t.Errorf("%s: URI without scheme: %q", name, u)
			}
		}
	}
	t.Logf("%d messages: %d HTML parts, %d parts of multiparts, %d URIs", len(files), html, multipart, uris)
	if html == 0 || multipart == 0 || uris == 0 {
		t.Errorf("the corpus should have HTML, multipart messages and URIs")
	}
}
