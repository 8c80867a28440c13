package message

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/testenv"
)

// saRuleDirs are where Debian's spamassassin package puts its rules.
var saRuleDirs = []string{"/usr/share/spamassassin", "/var/lib/spamassassin"}

// saParse is what testdata/sa_parse.pl prints for one message.
type saParse struct {
	File    string              `json:"file"`
	Body    []string            `json:"body"`
	RawBody []string            `json:"rawbody"`
	URIs    []string            `json:"uris"`
	Headers map[string][]string `json:"headers"`
	Types   []string            `json:"types"`
	Flags   []string            `json:"flags"`
	HTML    []map[string]any    `json:"html"`
}

// TestAgainstSpamAssassin parses the corpus with SpamAssassin 4.0's own
// parser (Debian's spamassassin package, through testdata/sa_parse.pl) and
// with Parse, and compares what the rules see: the body array, header
// values, MIME part types, parse flags, the uri rule list and the HTML
// results. Known differences: text in a charset that SpamAssassin fails to
// decode strictly (it falls back to Windows-1252) and a few HTML counts
// that depend on how HTML::Parser splits text.
func TestAgainstSpamAssassin(t *testing.T) {
	testenv.NeedProgram(t, "spamassassin", "spamassassin")
	perl := testenv.NeedProgram(t, "perl", "perl")
	files := corpusFiles(t)
	rulesDir := ""
	for _, d := range saRuleDirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			rulesDir = d
			break
		}
	}
	if rulesDir == "" {
		t.Fatalf("no SpamAssassin rules in %v", saRuleDirs)
	}
	tlds := readTLDs(t, rulesDir)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, perl, append([]string{filepath.Join("testdata", "sa_parse.pl"), rulesDir}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sa_parse.pl: %v\n%s", err, stderr.String())
	}

	type score struct{ same, total int }
	var body, headers, types, flags, uris, html score
	report := func(what, file, format string, args ...any) {
		if testing.Verbose() {
			t.Logf("%s differs for %s: %s", what, filepath.Base(file), fmt.Sprintf(format, args...))
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var sa saParse
		if err := json.Unmarshal(sc.Bytes(), &sa); err != nil {
			t.Fatalf("sa_parse.pl output: %v", err)
		}
		raw, err := os.ReadFile(sa.File)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(context.Background(), bytes.NewReader(raw), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", sa.File, err)
		}

		body.total++
		if got := strings.Join(m.BodyLines(), ""); got == strings.Join(sa.Body, "") {
			body.same++
		} else {
			report("body", sa.File, "%d bytes, SpamAssassin %d", len(got), len(strings.Join(sa.Body, "")))
		}
		for name, want := range sa.Headers {
			headers.total++
			var got []string
			for _, h := range m.Get(name) {
				got = append(got, h.Value)
			}
			if reflect.DeepEqual(got, want) {
				headers.same++
			} else {
				report("header "+name, sa.File, "%q, SpamAssassin %q", got, want)
			}
		}
		types.total++
		var gotTypes []string
		for _, p := range m.Parts {
			if !p.container {
				gotTypes = append(gotTypes, p.ContentType)
			}
		}
		if reflect.DeepEqual(gotTypes, sa.Types) {
			types.same++
		} else {
			report("part types", sa.File, "%q, SpamAssassin %q", gotTypes, sa.Types)
		}
		flags.total++
		gotFlags := append([]string(nil), m.Anomalies...)
		sort.Strings(gotFlags)
		sort.Strings(sa.Flags)
		if len(gotFlags) == 0 && len(sa.Flags) == 0 || reflect.DeepEqual(gotFlags, sa.Flags) {
			flags.same++
		} else {
			report("flags", sa.File, "%q, SpamAssassin %q", gotFlags, sa.Flags)
		}
		uris.total++
		gotURIs := m.URIList(func(tld string) bool { return tlds[tld] })
		sort.Strings(gotURIs)
		if len(gotURIs) == 0 && len(sa.URIs) == 0 || reflect.DeepEqual(gotURIs, sa.URIs) {
			uris.same++
		} else {
			report("URIs", sa.File, "%q, SpamAssassin %q", gotURIs, sa.URIs)
		}
		for i, want := range sa.HTML {
			html.total++
			if i >= len(m.HTMLStats) {
				report("HTML parts", sa.File, "%d, SpamAssassin %d", len(m.HTMLStats), len(sa.HTML))
				continue
			}
			if diff := htmlDiff(&m.HTMLStats[i], want); diff == "" {
				html.same++
			} else {
				report("HTML results", sa.File, "%s", diff)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		s    score
		min  float64
	}{
		{"body arrays", body, 0.99},
		{"header values", headers, 1},
		{"part types", types, 1},
		{"parse flags", flags, 1},
		{"URI lists", uris, 0.99},
		{"HTML results", html, 0.94},
	} {
		share := float64(c.s.same) / math.Max(1, float64(c.s.total))
		t.Logf("%s: %d of %d as SpamAssassin's (%.1f%%)", c.what, c.s.same, c.s.total, 100*share)
		if c.s.total == 0 || share < c.min {
			t.Errorf("%s: %.1f%% as SpamAssassin's, want at least %.0f%%", c.what, 100*share, 100*c.min)
		}
	}
}

// htmlDiff compares HTML results with SpamAssassin's, returning "" when
// they agree.
func htmlDiff(st *HTMLStats, want map[string]any) string {
	var diffs []string
	for _, name := range []string{"length", "html_length", "non_space_len", "ratio", "image_area", "min_size", "max_size",
		"closed_extra_ratio", "bad_tag_ratio", "non_element_ratio", "obfuscation_ratio", "backhair_count",
		"font_low_contrast", "font_invalid_color", "font_face_bad", "embeds", "form_action_mailto", "uri_truncated"} {
		got, ok := st.Value(name)
		w, wantOK := want[name].(float64)
		if ok != wantOK || math.Abs(got-w) > 1e-6 {
			diffs = append(diffs, fmt.Sprintf("%s %v (%v), SpamAssassin %v (%v)", name, got, ok, w, wantOK))
		}
	}
	if inside, ok := want["inside"].(map[string]any); ok {
		got := map[string]any{}
		for k, v := range st.Inside {
			got[k] = float64(v)
		}
		if !reflect.DeepEqual(got, inside) {
			diffs = append(diffs, fmt.Sprintf("inside %v, SpamAssassin %v", got, inside))
		}
	}
	return strings.Join(diffs, "; ")
}

// readTLDs reads the util_rb_tld lists of the rules in dir.
func readTLDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.cf"))
	if err != nil {
		t.Fatal(err)
	}
	tlds := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "util_rb_tld" {
				for _, tld := range fields[1:] {
					tlds[strings.ToLower(tld)] = true
				}
			}
		}
	}
	if len(tlds) == 0 {
		t.Fatalf("no util_rb_tld lists in %s", dir)
	}
	return tlds
}
