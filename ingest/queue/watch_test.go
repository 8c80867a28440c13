package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// runWatcher runs w in the background with a callback that sends each
// message on the returned channel, waits for its first full scan (which
// sets up the notification watches), and stops w at the end of the test.
func runWatcher(t *testing.T, w *Watcher) <-chan *Queued {
	t.Helper()
	got := make(chan *Queued, 100)
	scanned := make(chan struct{})
	var once sync.Once
	onScan := w.OnScan
	w.OnScan = func(r ScanReport) {
		once.Do(func() { close(scanned) })
		if onScan != nil {
			onScan(r)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(_ context.Context, q *Queued) error {
			got <- q
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	})
	select {
	case <-scanned:
	case err := <-done:
		t.Fatalf("Run returned %v before its first scan", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no first scan within 10s")
	}
	return got
}

func expectMessage(t *testing.T, got <-chan *Queued, id string) *Queued {
	t.Helper()
	select {
	case q := <-got:
		if q.QueueID != id {
			t.Fatalf("handed %s, want %s", q.QueueID, id)
		}
		return q
	case <-time.After(5 * time.Second):
		t.Fatalf("%s not handed over within 5s", id)
	}
	return nil
}

func expectNothing(t *testing.T, got <-chan *Queued, wait time.Duration) {
	t.Helper()
	select {
	case q := <-got:
		t.Fatalf("handed %s (queue %s) again", q.QueueID, q.Queue)
	case <-time.After(wait):
	}
}

// TestWatcherPostfixNotifications follows one message through a Postfix
// queue the way Postfix moves it, with full scans out of the way (one hour),
// so only file-system notifications can find it.
func TestWatcherPostfixNotifications(t *testing.T) {
	dir := t.TempDir()
	for _, q := range []string{"incoming", "active", "deferred", "hold"} {
		if err := os.Mkdir(filepath.Join(dir, q), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "postfix", "deferred", "4", "4736F988140"))
	if err != nil {
		t.Fatal(err)
	}
	got := runWatcher(t, &Watcher{Dirs: []Dir{{dir, KindPostfix}}, Interval: time.Hour, Settle: 20 * time.Millisecond})

	// cleanup writes the file, then marks it complete with the execute bit.
	in := filepath.Join(dir, "incoming", "4736F988140")
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, got, 200*time.Millisecond)
	if err := os.Chmod(in, 0o700); err != nil {
		t.Fatal(err)
	}
	q := expectMessage(t, got, "4736F988140")
	if q.Queue != "incoming" || q.AuthUser != "alice@mailrep-test.example" || !strings.Contains(string(q.Content), "A line.") {
		t.Errorf("handed %+v", q)
	}

	// qmgr moves it to active, then to a new hashed deferred directory,
	// and sets its mtime to the next retry: not new.
	act := filepath.Join(dir, "active", "4736F988140")
	if err := os.Rename(in, act); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "deferred", "4"), 0o700); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // as qmgr would: the directory first, then the file
	def := filepath.Join(dir, "deferred", "4", "4736F988140")
	if err := os.Rename(act, def); err != nil {
		t.Fatal(err)
	}
	retry := time.Now().Add(5 * time.Minute)
	if err := os.Chtimes(def, retry, retry); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, got, 300*time.Millisecond)

	// A second message arriving straight in the new subdirectory is seen.
	b2, err := os.ReadFile(filepath.Join("testdata", "postfix", "deferred", "7", "761B998817D"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deferred", "4", "761B998817D"), b2, 0o700); err != nil {
		t.Fatal(err)
	}
	if q := expectMessage(t, got, "761B998817D"); q.LocalUser != "root" || q.Queue != "deferred" {
		t.Errorf("handed %+v", q)
	}
}

func TestWatcherEximNotifications(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "input")
	if err := os.MkdirAll(filepath.Join(in, "z"), 0o750); err != nil {
		t.Fatal(err)
	}
	got := runWatcher(t, &Watcher{Dirs: []Dir{{dir, KindExim}}, Interval: time.Hour, Settle: 20 * time.Millisecond})

	src := filepath.Join(eximSpool, "input", "z", "1xV7az-00006g-1Q")
	d, err := os.ReadFile(src + "-D")
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.ReadFile(src + "-H")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(in, "z", "1xV7az-00006g-1Q")
	// Exim writes -D, then -H under a temporary name renamed into place.
	if err := os.WriteFile(dst+"-D", d, 0o640); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, got, 200*time.Millisecond)
	tmp := filepath.Join(in, "z", "hdr.1234")
	if err := os.WriteFile(tmp, h, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst+"-H"); err != nil {
		t.Fatal(err)
	}
	if q := expectMessage(t, got, "1xV7az-00006g-1Q"); q.AuthUser != "alice@mailrep-test.example" || q.Queue != "incoming" {
		t.Errorf("handed %+v", q)
	}
	// After a delivery attempt Exim rewrites -H (new inode, no
	// -deliver_firsttime): the same message.
	h2 := strings.Replace(string(h), "-deliver_firsttime\n", "", 1)
	if err := os.WriteFile(tmp, []byte(h2), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst+"-H"); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, got, 300*time.Millisecond)
}

// TestWatcherFullScans drives full scans directly: counts per queue and
// account, Seen, retry after a callback error, Forget.
func TestWatcherFullScans(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "postfix"), dir)
	edir := t.TempDir()
	copyTree(t, eximSpool, edir)

	var (
		mu       sync.Mutex
		reports  []ScanReport
		forgot   []Key
		calls    []string
		failOnce = map[string]bool{"72BED98817B": true}
	)
	w := &Watcher{
		Dirs:    []Dir{{dir, KindPostfix}, {edir, KindExim}},
		OnScan:  func(r ScanReport) { reports = append(reports, r) },
		Forget:  func(k Key) { forgot = append(forgot, k) },
		Seen:    func(k Key) bool { return k.QueueID == "1xV7az-000071-2X" }, // handled by an earlier run
		Options: Options{MaxContent: 64},
	}
	w.files, w.handled, w.pending = map[string]*fileState{}, map[Key]uint64{}, map[string]bool{}
	fn := func(_ context.Context, q *Queued) error {
		mu.Lock()
		defer mu.Unlock()
		if len(q.Content) != 64 || !q.Truncated {
			t.Errorf("%s: content %d bytes, truncated %v", q.QueueID, len(q.Content), q.Truncated)
		}
		if failOnce[q.QueueID] {
			delete(failOnce, q.QueueID)
			return errors.New("ledger unavailable")
		}
		calls = append(calls, q.QueueID)
		return nil
	}
	ctx := context.Background()

	w.fullScan(ctx, fn)
	slices.Sort(calls)
	if want := []string{"1xV7az-00006g-1Q", "1xV7b0-00007b-18", "4736F988140", "761B998817D"}; !slices.Equal(calls, want) {
		t.Errorf("first scan handed %q, want %q", calls, want)
	}
	r := reports[0]
	if r.Stats != (Stats{Files: 6, Read: 6, Truncated: 5}) {
		t.Errorf("stats %+v", r.Stats)
	}
	want := []QueueCount{
		{Dir: dir, Queue: "deferred", Account: "alice@mailrep-test.example", Messages: 1, Recipients: 2, Bytes: 1236},
		{Dir: dir, Queue: "deferred", Account: "root", Messages: 1, Recipients: 1, Bytes: 583},
		{Dir: dir, Queue: "hold", Account: "mailrep-test.example", Messages: 1, Recipients: 1, Bytes: 1185},
		{Dir: edir, Queue: "incoming", Account: "alice@mailrep-test.example", Messages: 1, Recipients: 2, Bytes: 1222},
		{Dir: edir, Queue: "incoming", Account: "bob", Messages: 1, Recipients: 3, Bytes: 1242},
		{Dir: edir, Queue: "incoming", Account: "nobody", Messages: 1, Recipients: 1, Bytes: 926},
	}
	if dir > edir { // Counts are sorted by directory first
		want = append(want[3:], want[:3]...)
	}
	if !slices.Equal(r.Counts, want) {
		t.Errorf("counts:\n%+v\nwant\n%+v", r.Counts, want)
	}

	// The failed message is offered again; nothing else is.
	calls = nil
	w.fullScan(ctx, fn)
	if !slices.Equal(calls, []string{"72BED98817B"}) {
		t.Errorf("second scan handed %q", calls)
	}

	// Delivered: gone from the queue. Forgotten after two scans without it.
	if err := os.Remove(filepath.Join(dir, "hold", "72BED98817B")); err != nil {
		t.Fatal(err)
	}
	calls = nil
	w.fullScan(ctx, fn)
	if len(forgot) != 0 {
		t.Errorf("forgot %v after one scan", forgot)
	}
	w.fullScan(ctx, fn)
	if len(forgot) != 1 || forgot[0].QueueID != "72BED98817B" || len(calls) != 0 {
		t.Errorf("forgot %v, handed %q", forgot, calls)
	}
	if last := reports[len(reports)-1]; last.Stats.Files != 5 || len(last.Counts) != 5 {
		t.Errorf("last report %+v", last)
	}
}

func TestWatcherBadConfig(t *testing.T) {
	nop := func(context.Context, *Queued) error { return nil }
	if err := (&Watcher{}).Run(context.Background(), nop); err == nil {
		t.Error("no directories accepted")
	}
	if err := Watch(context.Background(), []Dir{{t.TempDir(), 0}}, time.Second, nop); err == nil {
		t.Error("kind 0 accepted")
	}
}

func TestWatcherDirOf(t *testing.T) {
	w := &Watcher{Dirs: []Dir{{"/spool", KindExim}, {"/spool/postfix", KindPostfix}}}
	for path, want := range map[string]string{
		"/spool/input/z/x-H":           "/spool",
		"/spool/postfix/deferred/4/AB": "/spool/postfix",
		"/spoolx/a":                    "",
		"/other":                       "",
	} {
		d, ok := w.dirOf(filepath.FromSlash(path))
		if got := d.Path; !ok && got != "" || got != filepath.FromSlash(want) {
			t.Errorf("dirOf(%s) = %q, %v; want %q", path, got, ok, want)
		}
	}
}
