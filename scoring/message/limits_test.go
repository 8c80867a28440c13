package message

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repeatReader yields pattern (whose length divides 64 KiB) repeated
// until n bytes.
type repeatReader struct {
	pattern string
	n       int64
	block   []byte
	off     int
}

func (r *repeatReader) Read(b []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if r.block == nil {
		r.block = []byte(strings.Repeat(r.pattern, (64<<10)/len(r.pattern)))
	}
	if int64(len(b)) > r.n {
		b = b[:r.n]
	}
	k := 0
	for k < len(b) {
		c := copy(b[k:], r.block[r.off:])
		r.off = (r.off + c) % len(r.block)
		k += c
	}
	r.n -= int64(k)
	return k, nil
}

// bomb parses r with default limits and checks it stays within the
// budget (plus slack for a loaded machine) and maxAlloc bytes allocated.
func bomb(t *testing.T, r io.Reader, maxAlloc uint64) *Message {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	m, err := Parse(context.Background(), r, Limits{})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if limit := DefaultBudget + 500*time.Millisecond; elapsed > limit {
		t.Errorf("took %v, budget %v", elapsed, DefaultBudget)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxAlloc {
		t.Errorf("allocated %d MiB, want at most %d MiB", alloc>>20, maxAlloc>>20)
	}
	t.Logf("%v, %d KiB allocated, limits %v", elapsed, (after.TotalAlloc-before.TotalAlloc)>>10, m.Limits)
	return m
}

func wantLimit(t *testing.T, m *Message, name string) {
	t.Helper()
	if !m.HitLimit(name) {
		t.Errorf("limit %q not recorded: %v", name, m.Limits)
	}
}

func TestBombManyParts(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: parts\nContent-Type: multipart/mixed; boundary=b\n\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, "--b\nContent-Type: text/plain\n\npart %d\n", i)
	}
	b.WriteString("--b--\n")
	m := bomb(t, strings.NewReader(b.String()), 16<<20)
	wantLimit(t, m, LimitParts)
	if len(m.Parts) != DefaultMaxParts {
		t.Errorf("%d parts analysed, want %d", len(m.Parts), DefaultMaxParts)
	}
	if m.Size != int64(b.Len()) {
		t.Errorf("Size %d, want the whole message (%d)", m.Size, b.Len())
	}
}

func TestBombDeepNesting(t *testing.T) {
	var b strings.Builder
	b.WriteString("Subject: deep\n")
	const depth = 100
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\ninnermost\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	m := bomb(t, strings.NewReader(b.String()), 8<<20)
	wantLimit(t, m, LimitDepth)
	if len(m.Parts) != 1 || m.Parts[0].ContentType != "multipart/mixed" {
		t.Errorf("want one opaque multipart at the depth limit, got %d parts", len(m.Parts))
	}
}

func TestBombLongBase64Line(t *testing.T) {
	for _, ct := range []string{"application/octet-stream", "text/plain"} {
		t.Run(ct, func(t *testing.T) {
			head := "Subject: big\nContent-Type: " + ct + "\nContent-Transfer-Encoding: base64\n\n"
			r := io.MultiReader(strings.NewReader(head), &repeatReader{pattern: "QUJD", n: 50 << 20}, strings.NewReader("\n"))
			m := bomb(t, r, 64<<20)
			wantLimit(t, m, LimitSize)
			if m.Size != DefaultMaxSize {
				t.Errorf("Size %d, want %d", m.Size, DefaultMaxSize)
			}
			p := m.Parts[0]
			n := int64(DefaultMaxSize - len(head)) // base64 characters read
			want := n/4*3 + []int64{0, 0, 1, 2}[n%4]
			if p.Size != want {
				t.Errorf("decoded size %d, want %d", p.Size, want)
			}
			if ct == "text/plain" {
				wantLimit(t, m, LimitText)
				if len(m.Text) != DefaultMaxBodyText || !strings.HasPrefix(m.Text, "ABCABC") {
					t.Errorf("Text has %d bytes, want %d", len(m.Text), DefaultMaxBodyText)
				}
			}
			if len(m.RawBody) != DefaultMaxBodyText {
				t.Errorf("RawBody has %d bytes, want the cap %d", len(m.RawBody), DefaultMaxBodyText)
			}
		})
	}
}

func TestBombLongHeader(t *testing.T) {
	msg := "Subject: " + strings.Repeat("A", 1<<20) + "\nX-After: kept\n\nbody\n"
	m := bomb(t, strings.NewReader(msg), 16<<20)
	wantLimit(t, m, LimitHeaderLen)
	if v := m.First("Subject"); len(v) >= DefaultMaxHeaderLen || len(v) < DefaultMaxHeaderLen-100 {
		t.Errorf("Subject kept %d bytes, want about %d", len(v), DefaultMaxHeaderLen)
	}
	if m.First("X-After") != "kept" || m.Text != "body\n" {
		t.Errorf("the rest of the message was lost: X-After %q, Text %q", m.First("X-After"), m.Text)
	}
	if !contains(m.Anomalies, "truncated_header") {
		t.Errorf("Anomalies = %v", m.Anomalies)
	}
}

func TestManyHeaders(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "X-H%d: v\n", i)
	}
	b.WriteString("Subject: last\n\nbody\n")
	m := parseString(t, b.String())
	wantLimit(t, m, LimitHeaders)
	if len(m.Headers) != DefaultMaxHeaders || m.Text != "body\n" {
		t.Errorf("%d headers, Text %q", len(m.Headers), m.Text)
	}
}

// slowReader yields a endless body slowly.
type slowReader struct{ head string }

func (r *slowReader) Read(b []byte) (int, error) {
	if r.head != "" {
		n := copy(b, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	time.Sleep(time.Millisecond)
	return copy(b, "line of text\n"), nil
}

func TestBudget(t *testing.T) {
	lim := Limits{Budget: 100 * time.Millisecond}
	start := time.Now()
	m, err := Parse(context.Background(), &slowReader{head: "Subject: slow\n\n"}, lim)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > lim.Budget+400*time.Millisecond {
		t.Errorf("took %v with a budget of %v", elapsed, lim.Budget)
	}
	wantLimit(t, m, LimitBudget)
	if m.First("Subject") != "slow" || !strings.HasPrefix(m.Text, "line of text\n") {
		t.Errorf("what was read is lost: %q / %q", m.First("Subject"), m.Text)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, err := Parse(ctx, &slowReader{head: "Subject: slow\n\n"}, Limits{Budget: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

type failingReader struct{}

var errBroken = errors.New("disk on fire")

func (failingReader) Read([]byte) (int, error) { return 0, errBroken }

func TestReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("Subject: x\n\npartial"), failingReader{})
	m, err := Parse(context.Background(), r, Limits{})
	if !errors.Is(err, errBroken) || m != nil {
		t.Errorf("Parse = %v, %v; want the read error", m, err)
	}
}

func TestSmallLimits(t *testing.T) {
	msg := "Subject: s\nContent-Type: text/plain\n\n" + strings.Repeat("é", 100)
	m, err := Parse(context.Background(), strings.NewReader(msg), Limits{MaxBodyText: 51})
	if err != nil {
		t.Fatal(err)
	}
	wantLimit(t, m, LimitText)
	// The cut falls inside a character, which is dropped, so that the
	// text is still read as UTF-8.
	if m.Text != strings.Repeat("é", 25) {
		t.Errorf("Text = %q", m.Text)
	}
	m, err = Parse(context.Background(), strings.NewReader(msg), Limits{MaxSize: 20})
	if err != nil {
		t.Fatal(err)
	}
	wantLimit(t, m, LimitSize)
	if m.Size != 20 || m.RawHeader+m.RawBody != msg[:20] {
		t.Errorf("Size %d, raw %q", m.Size, m.RawHeader+m.RawBody)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPathologicalInputs feeds inputs that would take quadratic time in a
// naive implementation; each must finish well within the budget.
func TestPathologicalInputs(t *testing.T) {
	const n = 200000
	html := func(body string) string {
		return "Subject: x\nContent-Type: text/html\n\n" + body + "\n"
	}
	tests := map[string]string{
		"closing parens after a URL": "Subject: x\n\nhttp://x.example/" + strings.Repeat(")", n) + "\n",
		"many text pieces in a link": html("<a href=http://x.example/>" + strings.Repeat("a<b></b>", n/8) + "</a>"),
		"unclosed fonts":             html(strings.Repeat("<font color=red>", n/16) + strings.Repeat("</font>", n/16)),
		"many attributes":            html("<a " + strings.Repeat("x=1 ", n/4) + "href=http://y.example/>y</a>"),
		"unclosed title":             html("<title>" + strings.Repeat("t<b>", n/4)),
		"many at signs":              "Subject: x\n\n" + strings.Repeat("a@b.example ", n/12) + "\n",
		"long line without breaks":   "Content-Type: text/plain\n\n" + strings.Repeat("x", 900000) + "\n",
		"many encoded words":         "Subject: " + strings.Repeat("=?utf-8?q?a?= ", 4000) + "\n\nx\n",
	}
	for name, msg := range tests {
		start := time.Now()
		m, err := Parse(context.Background(), strings.NewReader(msg), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m.BodyLines()
		m.RawBodyLines()
		if elapsed := time.Since(start); elapsed > DefaultBudget/4 {
			t.Errorf("%s: took %v", name, elapsed)
		}
		if m.HitLimit(LimitBudget) {
			t.Errorf("%s: budget spent", name)
		}
	}
}
