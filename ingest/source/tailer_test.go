package source

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nxadm/tail/watch"
)

const testInterval = 20 * time.Millisecond

func TestMain(m *testing.M) {
	// nxadm/tail polls every 250 ms; poll faster so the tests run quickly.
	// Set before any tail starts.
	watch.POLL_DURATION = testInterval
	os.Exit(m.Run())
}

// tailRun is one Run of a Tailer whose lines a goroutine records.
type tailRun struct {
	cancel context.CancelFunc
	done   chan error
	coll   chan struct{}
}

// harness writes log lines, runs and restarts a Tailer and records what it
// consumed, to compare against what was written.
type harness struct {
	t       *testing.T
	dir     string
	path    string
	log     *slog.Logger
	seq     int
	written []string

	mu   sync.Mutex
	got  []string
	last map[string]Position
	// stopAt makes the consumer cancel the run once it has consumed
	// that many lines (0: never).
	stopAt int
	run    *tailRun
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	var logbuf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tailer log:\n%s", logbuf.String())
		}
	})
	return &harness{
		t: t, dir: dir, path: filepath.Join(dir, "mail.log"),
		log:  slog.New(slog.NewTextHandler(&syncWriter{w: &logbuf}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		last: map[string]Position{},
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// write appends n fresh lines to file (created if missing) and records them
// as expected.
func (h *harness) write(file string, n int) {
	h.t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	for range n {
		h.seq++
		// Vary the length so offsets are not multiples of anything.
		l := fmt.Sprintf("Apr  9 08:25:46 mx1 postfix/smtp[%d]: line %d %s", h.seq, h.seq, strings.Repeat("x", h.seq%37))
		h.written = append(h.written, l)
		b.WriteString(l + "\n")
	}
	if _, err := f.WriteString(b.String()); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// start runs a Tailer from the positions consumed so far, after a JSON round
// trip as the daemon's state store would do.
func (h *harness) start() {
	h.t.Helper()
	h.mu.Lock()
	raw, err := json.Marshal(h.last)
	h.mu.Unlock()
	if err != nil {
		h.t.Fatal(err)
	}
	var startPos map[string]Position
	if err := json.Unmarshal(raw, &startPos); err != nil {
		h.t.Fatal(err)
	}
	tl := NewTailer([]string{h.path}, startPos, h.log)
	tl.Interval = testInterval
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Line)
	r := &tailRun{cancel: cancel, done: make(chan error, 1), coll: make(chan struct{})}
	runDone := make(chan struct{})
	go func() {
		r.done <- tl.Run(ctx, out)
		close(runDone)
	}()
	go func() {
		defer close(r.coll)
		for {
			select {
			case l := <-out:
				h.mu.Lock()
				h.got = append(h.got, l.Text)
				h.last[l.Path] = l.Pos
				if h.stopAt > 0 && len(h.got) >= h.stopAt {
					h.stopAt = 0
					cancel()
				}
				h.mu.Unlock()
			case <-runDone:
				return
			}
		}
	}()
	h.run = r
}

// stop cancels the run and waits until Run has returned.
func (h *harness) stop() {
	h.t.Helper()
	h.run.cancel()
	h.waitStopped()
}

func (h *harness) waitStopped() {
	h.t.Helper()
	select {
	case err := <-h.run.done:
		if err != context.Canceled {
			h.t.Fatalf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return within 10s of cancellation")
	}
	<-h.run.coll
}

// waitAll waits until every written line has been consumed.
func (h *harness) waitAll(what string) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.mu.Lock()
		n := len(h.got)
		h.mu.Unlock()
		if n >= len(h.written) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: consumed %d of %d lines within 15s", what, n, len(h.written))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) check() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != len(h.written) {
		h.t.Errorf("consumed %d lines, wrote %d", len(h.got), len(h.written))
	}
	for i := range min(len(h.got), len(h.written)) {
		if h.got[i] != h.written[i] {
			h.t.Fatalf("line %d: consumed %q, wrote %q", i, h.got[i], h.written[i])
		}
	}
}

func (h *harness) rename(from, to string) {
	h.t.Helper()
	if err := os.Rename(from, to); err != nil {
		h.t.Fatal(err)
	}
}

// copyTruncate does what logrotate's copytruncate does.
func (h *harness) copyTruncate(to string) {
	h.t.Helper()
	data, err := os.ReadFile(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Truncate(h.path, 0); err != nil {
		h.t.Fatal(err)
	}
}

// TestTailerRotationsAndRestarts is the acceptance test: lines are appended,
// the file is rotated in all three styles while the Tailer runs and while it
// is stopped, the Tailer is stopped mid-stream and restarted from the last
// consumed Position, and at the end the consumed lines must equal exactly
// the written ones, in order.
func TestTailerRotationsAndRestarts(t *testing.T) {
	h := newHarness(t)
	p := h.path
	h.start() // the file does not exist yet: it is waited for
	time.Sleep(3 * testInterval)
	h.write(p, 50)
	h.waitAll("initial")

	// Rename-and-create while running; the writer keeps writing to the
	// old file for a moment before it reopens.
	h.write(p, 7) // not yet consumed when the rotation happens
	h.rename(p, p+".1")
	h.write(p+".1", 5)
	h.write(p, 30)
	h.waitAll("rename rotation")

	// copytruncate while running, with the tailer behind. The file is
	// large and refills with less than its old size (as after a daily
	// rotation), so the shrink is seen.
	h.write(p, 200)
	h.waitAll("before copytruncate")
	h.write(p, 20)
	h.rename(p+".1", p+".2")
	h.copyTruncate(p + ".1")
	h.write(p, 10)
	h.waitAll("copytruncate")

	// Delete-and-recreate while running: the tailer still holds the
	// deleted file and finishes it.
	h.write(p, 20)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	h.write(p, 15)
	h.waitAll("delete and recreate")

	// Stop mid-stream and restart from the last consumed position.
	h.mu.Lock()
	h.stopAt = len(h.got) + 37
	h.mu.Unlock()
	h.write(p, 100)
	h.waitStopped()
	h.mu.Lock()
	consumed := len(h.got)
	h.mu.Unlock()
	if consumed >= len(h.written) {
		t.Fatalf("stop mid-stream consumed everything (%d lines); the test did not stop mid-stream", consumed)
	}
	h.start()
	h.waitAll("restart mid-stream")

	// Rename rotation while stopped, with unread lines in the old file.
	h.stop()
	h.write(p, 10)
	h.rename(p+".1", p+".2")
	h.rename(p, p+".1")
	h.write(p, 10)
	h.start()
	h.waitAll("rename while stopped")

	// copytruncate while stopped.
	h.stop()
	h.write(p, 12)
	h.rename(p+".1", p+".2")
	h.copyTruncate(p + ".1")
	h.write(p, 4)
	h.start()
	h.waitAll("copytruncate while stopped")

	// Restart with nothing new, then a final append.
	h.stop()
	h.start()
	h.write(p, 3)
	h.waitAll("final")
	time.Sleep(10 * testInterval) // anything duplicated would show up now
	h.stop()
	h.check()

	// The last position points at the end of the current file.
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	last := h.last[p]
	dev, ino := fileID(fi)
	if last.Offset != fi.Size() || last.Dev != dev || last.Ino != ino || last.HeadLen != headLen(fi.Size()) {
		t.Errorf("last position %v, file size %d dev %d ino %d", last, fi.Size(), dev, ino)
	}
}

// TestTailerContent checks line content through the tailer: binary and
// invalid UTF-8 pass unchanged, CRLF is trimmed, long lines are cut and
// flagged, a final line without newline waits for its newline, and a broken
// path does not stop the others.
func TestTailerContent(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	broken := filepath.Join(dir, "broken.log")
	if err := os.Mkdir(broken, 0o700); err != nil { // not a regular file
		t.Fatal(err)
	}
	var logbuf syncWriter
	logbuf.w = &bytes.Buffer{}
	tl := NewTailer([]string{broken, good}, nil, slog.New(slog.NewTextHandler(&logbuf, nil)))
	tl.Interval = testInterval
	tl.MaxLine = 64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Line, 16)
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, out) }()

	l1, l2, l3 := "bin\x00\xff\xfe\xc3\x28 end\n", "crlf line\r\n", strings.Repeat("L", 100)+"\n"
	o1, o2, o3 := int64(len(l1)), int64(len(l1+l2)), int64(len(l1+l2+l3))
	content := l1 + l2 + l3 + "partial"
	if err := os.WriteFile(good, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []Line
	next := func() Line {
		t.Helper()
		select {
		case l := <-out:
			got = append(got, l)
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("no line within 10s; got %d", len(got))
		}
		return Line{}
	}
	if l := next(); l.Text != "bin\x00\xff\xfe\xc3\x28 end" || l.TooLong || l.Pos.Offset != o1 {
		t.Errorf("binary line: %q tooLong=%v offset %d", l.Text, l.TooLong, l.Pos.Offset)
	}
	if l := next(); l.Text != "crlf line" || l.Pos.Offset != o2 {
		t.Errorf("crlf line: %q offset %d", l.Text, l.Pos.Offset)
	}
	if l := next(); l.Text != strings.Repeat("L", 64) || !l.TooLong || l.Pos.Offset != o3 {
		t.Errorf("long line: len %d tooLong=%v offset %d", len(l.Text), l.TooLong, l.Pos.Offset)
	}
	select {
	case l := <-out:
		t.Fatalf("incomplete line delivered: %q", l.Text)
	case <-time.After(5 * testInterval):
	}
	f, err := os.OpenFile(good, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(" now complete\n")
	f.Close()
	if l := next(); l.Text != "partial now complete" || l.Pos.Offset != int64(len(content))+14 || l.Path != good {
		t.Errorf("completed line: %q offset %d path %s", l.Text, l.Pos.Offset, l.Path)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	logbuf.mu.Lock()
	logged := logbuf.w.(*bytes.Buffer).String()
	logbuf.mu.Unlock()
	if !strings.Contains(logged, "broken.log") || !strings.Contains(logged, "not a regular file") {
		t.Errorf("error on the broken path not logged with its path:\n%s", logged)
	}
}

func TestTailerConfigErrors(t *testing.T) {
	out := make(chan Line)
	for _, paths := range [][]string{{""}, {"a", "a"}} {
		if err := NewTailer(paths, nil, nil).Run(context.Background(), out); err == nil || err == context.Canceled {
			t.Errorf("Run(%q) = %v, want a configuration error", paths, err)
		}
	}
}

// TestResumeIdentity checks how a saved position is matched against the
// file found at start: same file resumes, a recreated file with a reused
// inode and different content restarts from 0, a file shorter than the
// offset restarts from 0.
func TestResumeIdentity(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.log")
	if err := os.WriteFile(p, []byte("first line\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	dev, ino := fileID(fi)
	head, err := hashHead(f, 11)
	if err != nil {
		t.Fatal(err)
	}
	pos := Position{Path: p, Dev: dev, Ino: ino, Head: head, HeadLen: 11, Offset: 11}
	if ok, err := sameFile(f, pos); !ok || err != nil {
		t.Errorf("same file not recognised: %v %v", ok, err)
	}
	other := pos
	other.Head = strings.Repeat("0", 64)
	if ok, _ := sameFile(f, other); ok {
		t.Error("file with another head (reused inode) taken for the saved one")
	}
	far := pos
	far.Offset = 1000
	if ok, _ := sameFile(f, far); ok {
		t.Error("file shorter than the offset taken for the saved one")
	}
	empty := Position{Path: p, Dev: dev, Ino: ino}
	if ok, _ := sameFile(f, empty); !ok {
		t.Error("offset-0 position not matched by inode")
	}
	// A copy beside the path is found by its head.
	if err := os.WriteFile(p+"-20240101", []byte("first line\nsecond line\nthird\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p+".2.gz", []byte("first line\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pos.Dev, pos.Ino = 0, 0
	r, err := findRotated(p, pos)
	if err != nil || r == nil || filepath.Base(r.Name()) != "m.log-20240101" {
		t.Fatalf("findRotated = %v, %v", r, err)
	}
	r.Close()
}

// BenchmarkTailer measures following a file that already holds 100,000
// lines: nxadm/tail's reading, the offset check and the channel hand-off.
func BenchmarkTailer(b *testing.B) {
	const n = 100000
	p := filepath.Join(b.TempDir(), "bench.log")
	var buf bytes.Buffer
	for i := range n {
		fmt.Fprintf(&buf, "Apr  9 08:25:46 mx1 postfix/smtp[%d]: 5FCA28903A: to=<alice@example.com>, relay=mx.example.com[192.0.2.1]:25, dsn=2.0.0, status=sent (250 OK)\n", i)
	}
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan Line, 1024)
		done := make(chan error, 1)
		tl := NewTailer([]string{p}, nil, quiet)
		go func() { done <- tl.Run(ctx, out) }()
		for range n {
			<-out
		}
		cancel()
		<-done
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
