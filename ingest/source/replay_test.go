package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/internal/corpus"
)

type gotLine struct {
	text    string
	tooLong bool
}

func collect(t testing.TB, r io.Reader, maxLine int) []gotLine {
	t.Helper()
	var out []gotLine
	err := Lines(context.Background(), r, maxLine, func(line string, tooLong bool) error {
		out = append(out, gotLine{strings.Clone(line), tooLong})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLinesShapes(t *testing.T) {
	for _, c := range []struct {
		name, in string
		max      int
		want     []gotLine
	}{
		{"empty", "", 0, nil},
		{"one", "a\n", 0, []gotLine{{"a", false}}},
		{"no final newline", "a\nbc", 0, []gotLine{{"a", false}, {"bc", false}}},
		{"crlf", "a\r\nb\r\n\r\n", 0, []gotLine{{"a", false}, {"b", false}, {"", false}}},
		{"lone cr kept inside", "a\rb\n", 0, []gotLine{{"a\rb", false}}},
		{"empty lines", "\n\n", 0, []gotLine{{"", false}, {"", false}}},
		{"cut at max", "12345\n123\n1234", 4, []gotLine{{"1234", true}, {"123", false}, {"1234", false}}},
		{"cut final line", "123456", 4, []gotLine{{"1234", true}}},
		{"crlf at max is not too long", "1234\r\n", 4, []gotLine{{"1234", false}}},
		{"binary passes through", "\x00\xff\xfe bad \xc3\x28\n\x1b[31m\n", 0,
			[]gotLine{{"\x00\xff\xfe bad \xc3\x28", false}, {"\x1b[31m", false}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := collect(t, strings.NewReader(c.in), c.max)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %+q, want %+q", fmt.Sprint(got), fmt.Sprint(c.want))
			}
		})
	}
}

// TestLinesAcrossBufferBoundaries checks lines that straddle refills and a
// maxLine larger than the default buffer.
func TestLinesAcrossBufferBoundaries(t *testing.T) {
	var in strings.Builder
	var want []gotLine
	for i := 0; i < 20000; i++ {
		l := strings.Repeat(string(rune('a'+i%26)), i%97) + fmt.Sprint(i)
		in.WriteString(l + "\n")
		want = append(want, gotLine{l, false})
	}
	got := collect(t, iotestHalfReader{strings.NewReader(in.String())}, 0)
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, got[i].text, want[i].text)
		}
	}

	big := strings.Repeat("x", readBufSize+100)
	got = collect(t, strings.NewReader(big+"\nnext\n"), readBufSize+200)
	if len(got) != 2 || got[0].text != big || got[0].tooLong || got[1].text != "next" {
		t.Errorf("maxLine above buffer size: got %d lines, first tooLong=%v", len(got), got[0].tooLong)
	}
}

// iotestHalfReader returns at most half of what is asked, to exercise short reads.
type iotestHalfReader struct{ r io.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:len(p)/2]
	}
	return h.r.Read(p)
}

// lineSource produces a 10 MB line followed by a normal one without ever
// holding the big line in memory.
type lineSource struct {
	left int
	tail string
}

func (s *lineSource) Read(p []byte) (int, error) {
	if s.left > 0 {
		n := min(len(p), s.left)
		for i := range p[:n] {
			p[i] = 'A' + byte(i%26)
		}
		s.left -= n
		return n, nil
	}
	if s.tail == "" {
		return 0, io.EOF
	}
	n := copy(p, s.tail)
	s.tail = s.tail[n:]
	return n, nil
}

func TestLinesHugeLineBoundedMemory(t *testing.T) {
	const huge = 10 << 20
	src := &lineSource{left: huge, tail: "\nafter\n"}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var got []gotLine
	err := Lines(context.Background(), src, 1000, func(line string, tooLong bool) error {
		got = append(got, gotLine{strings.Clone(line), tooLong})
		return nil
	})
	runtime.ReadMemStats(&ms1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2", len(got))
	}
	if !got[0].tooLong || len(got[0].text) != 1000 || got[0].text[:3] != "ABC" {
		t.Errorf("huge line: tooLong=%v len=%d", got[0].tooLong, len(got[0].text))
	}
	if got[1] != (gotLine{"after", false}) {
		t.Errorf("line after the huge one = %+v", got[1])
	}
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 2<<20 {
		t.Errorf("reading a 10 MB line allocated %d bytes; want bounded (< 2 MiB)", alloc)
	}
}

func TestLinesStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Lines(context.Background(), strings.NewReader("a\nb\nc\n"), 0, func(string, bool) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("err=%v after %d lines", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Lines(ctx, strings.NewReader("a\n"), 0, func(string, bool) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err=%v", err)
	}
	readErr := errors.New("disk on fire")
	err = Lines(context.Background(), io.MultiReader(strings.NewReader("a\n"), errReader{readErr}), 0,
		func(string, bool) error { return nil })
	if !errors.Is(err, readErr) {
		t.Errorf("read error: err=%v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func writeGzip(t *testing.T, path string, parts ...string) {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts { // one gzip member per part, like concatenated rotations
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readAllLines(t *testing.T, name string) []string {
	t.Helper()
	rc, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	if err := Lines(context.Background(), rc, 0, func(l string, _ bool) error {
		out = append(out, strings.Clone(l))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenGzipAndPlain(t *testing.T) {
	dir := t.TempDir()
	gz := filepath.Join(dir, "mail.log.2.gz")
	writeGzip(t, gz, "one\ntwo\n", "three\n")
	// Compressed content without the .gz suffix is detected by magic.
	disguised := filepath.Join(dir, "mail.log.1")
	writeGzip(t, disguised, "four\n")
	plain := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(plain, []byte("five\nsix"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		gz: "one two three", disguised: "four", plain: "five six", empty: "",
	} {
		if got := strings.Join(readAllLines(t, name), " "); got != want {
			t.Errorf("%s: got %q, want %q", filepath.Base(name), got, want)
		}
	}
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.log")
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), "nope.log") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	// A gzip stream cut short: the error comes from Read and names the file.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("line of log text\n"), 1000))
	zw.Close()
	cut := filepath.Join(dir, "cut.log.gz")
	if err := os.WriteFile(cut, buf.Bytes()[:buf.Len()/2], 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := Open(cut)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	err = Lines(context.Background(), rc, 0, func(string, bool) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "cut.log.gz") {
		t.Errorf("truncated gzip: %v", err)
	}
	bad := filepath.Join(dir, "bad.gz")
	if err := os.WriteFile(bad, []byte{0x1f, 0x8b, 0, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "bad.gz") {
		t.Errorf("bad gzip header: %v", err)
	}
}

func TestOpenStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	go func() {
		zw := gzip.NewWriter(w)
		zw.Write([]byte("from stdin\n\xff\xfe\n"))
		zw.Close()
		w.Close()
	}()
	got := readAllLines(t, "-")
	if strings.Join(got, "|") != "from stdin|\xff\xfe" {
		t.Errorf("stdin: %q", got)
	}
	// Close must leave stdin open.
	if _, err := r.Stat(); err != nil {
		t.Errorf("stdin closed by Close: %v", err)
	}
}

// TestCorpusRoundTrip replays every corpus log and checks that the lines
// reassemble to the file's bytes exactly (modulo a final newline).
func TestCorpusRoundTrip(t *testing.T) {
	for _, sub := range []string{"logs/postfix", "logs/exim", "logs/sendmail", "logs/spamd", "logs/rspamd"} {
		for _, name := range corpus.Files(t, sub, "*") {
			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > 1 && raw[0] == 0x1f && raw[1] == 0x8b {
				continue
			}
			var b strings.Builder
			long := 0
			rc, err := Open(name)
			if err != nil {
				t.Fatal(err)
			}
			err = Lines(context.Background(), rc, 0, func(l string, tooLong bool) error {
				if tooLong {
					long++
				}
				b.WriteString(l)
				b.WriteByte('\n')
				return nil
			})
			rc.Close()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := strings.ReplaceAll(string(raw), "\r\n", "\n")
			if !strings.HasSuffix(want, "\n") && want != "" {
				want += "\n"
			}
			if long == 0 && b.String() != want {
				t.Errorf("%s: lines do not reassemble to the file", filepath.Base(name))
			}
		}
	}
}

func benchInput() []byte {
	var b bytes.Buffer
	lines := []string{
		"Apr  9 08:25:46 mx1 postfix/smtp[12345]: 5FCA28903A: to=<alice@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=0.52, delays=0.01/0/0.2/0.31, dsn=2.0.0, status=sent (250 2.0.0 OK 1712651146 x1si123 - gsmtp)",
		"Apr  9 08:25:46 mx1 postfix/smtpd[2222]: 5FCA28903A: client=unknown[198.51.100.7], sasl_method=LOGIN, sasl_username=bob@example.net",
		"2016-03-25 15:06:04 1ajLoq-0001wC-Pk => carol@example.org R=dnslookup T=remote_smtp H=mx.example.org [203.0.113.5] X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 C=\"250 OK\"",
	}
	for b.Len() < 64<<20 {
		for _, l := range lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func BenchmarkLines(b *testing.B) {
	in := benchInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		err := Lines(context.Background(), bytes.NewReader(in), 0, func(line string, _ bool) error {
			n += len(line)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no lines")
	}
}

func FuzzLines(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), 3)
	f.Add([]byte("\x1f\x8b\x08\x00"), 0)
	f.Add([]byte(strings.Repeat("x", 300)+"\n\n"), 16)
	f.Fuzz(func(t *testing.T, in []byte, maxLine int) {
		maxLine %= 1 << 16
		var total int
		err := Lines(context.Background(), bytes.NewReader(in), maxLine, func(line string, tooLong bool) error {
			limit := maxLine
			if limit <= 0 {
				limit = DefaultMaxLine
			}
			if len(line) > limit || (tooLong && len(line) != limit) {
				t.Fatalf("line of %d bytes, tooLong=%v, maxLine %d", len(line), tooLong, limit)
			}
			total += len(line)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if total > len(in) {
			t.Fatalf("delivered %d bytes from %d", total, len(in))
		}
		// Open must not panic on arbitrary file content either.
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, in, 0o600); err != nil {
			t.Fatal(err)
		}
		if rc, err := Open(p); err == nil {
			_ = Lines(context.Background(), rc, maxLine, func(string, bool) error { return nil })
			rc.Close()
		}
	})
}
