package queue

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyTree copies the regular files under src to dst, keeping their
// permission bits.
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, b, fi.Mode().Perm()); err != nil {
			return err
		}
		return os.Chmod(target, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func scanIDs(t *testing.T, dir string, kind Kind, opt Options) ([]string, Stats) {
	t.Helper()
	var ids []string
	st, err := Scan(context.Background(), dir, kind, opt, func(q *Queued) error {
		ids = append(ids, q.Queue+"/"+q.QueueID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, st
}

func TestScanPostfix(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "postfix"), dir)

	ids, st := scanIDs(t, dir, KindPostfix, Options{})
	if want := []string{"deferred/4736F988140", "deferred/761B998817D", "hold/72BED98817B"}; !slices.Equal(ids, want) {
		t.Errorf("default queues: %q, want %q", ids, want)
	}
	if st != (Stats{Files: 3, Read: 3}) {
		t.Errorf("stats %+v", st)
	}
	ids, _ = scanIDs(t, dir, KindPostfix, Options{Queues: []string{"maildrop"}})
	if !slices.Equal(ids, []string{"maildrop/56121988106"}) {
		t.Errorf("maildrop: %q", ids)
	}

	// A file cleanup is still writing has no owner-execute bit yet; a
	// corrupt one is counted and logged; a name that is not a queue id
	// (an editor's backup, a lock) is not even listed.
	incoming := filepath.Join(dir, "incoming")
	if err := os.Mkdir(incoming, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "hold", "72BED98817B"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(incoming, "8A1B2C3D4E"), b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(incoming, "9A1B2C3D4E"), []byte("garbage, not records"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(incoming, "x.tmp"), b, 0o700); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	_, st = scanIDs(t, dir, KindPostfix, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if st != (Stats{Files: 5, Read: 3, Incomplete: 1, Failed: 1}) {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logged.String(), "9A1B2C3D4E") || strings.Contains(logged.String(), "8A1B2C3D4E") {
		t.Errorf("log:\n%s", logged.String())
	}
}

// TestScanVanished removes the next file while the scan is in the callback
// for the previous one, as delivery does: it is counted, not an error.
func TestScanVanished(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "postfix"), dir)
	var ids []string
	st, err := Scan(context.Background(), dir, KindPostfix, Options{}, func(q *Queued) error {
		ids = append(ids, q.QueueID)
		if q.QueueID == "4736F988140" {
			return os.Remove(filepath.Join(dir, "deferred", "7", "761B998817D"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"4736F988140", "72BED98817B"}) || st != (Stats{Files: 3, Read: 2, Vanished: 1}) {
		t.Errorf("ids %q stats %+v", ids, st)
	}

	// Exim: -D gone under a listed -H.
	edir := t.TempDir()
	copyTree(t, eximSpool, edir)
	st, err = Scan(context.Background(), edir, KindExim, Options{}, func(q *Queued) error {
		if q.QueueID == "1xV7b0-00007b-18" {
			return os.Remove(filepath.Join(edir, "input", "z", "1xV7az-00006g-1Q-D"))
		}
		return nil
	})
	if err != nil || st != (Stats{Files: 3, Read: 2, Vanished: 1}) {
		t.Errorf("exim: stats %+v, %v", st, err)
	}
}

func TestScanExim(t *testing.T) {
	want := []string{"incoming/1xV7b0-00007b-18", "incoming/1xV7az-00006g-1Q", "incoming/1xV7az-000071-2X"}
	// The spool directory, its input directory, and a flat input directory
	// (split_spool_directory off) all work.
	for _, dir := range []string{eximSpool, filepath.Join(eximSpool, "input")} {
		ids, st := scanIDs(t, dir, KindExim, Options{})
		if !slices.Equal(ids, want) || st != (Stats{Files: 3, Read: 3}) {
			t.Errorf("%s: %q, stats %+v", dir, ids, st)
		}
	}
	flat := t.TempDir()
	for _, sub := range []string{"0", "z"} {
		copyTree(t, filepath.Join(eximSpool, "input", sub), filepath.Join(flat, "input"))
	}
	// Journal and temporary files are not messages.
	if err := os.WriteFile(filepath.Join(flat, "input", "1xV7az-00006g-1Q-J"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flat, "input", "hdr.1234"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ids, st := scanIDs(t, flat, KindExim, Options{})
	if !slices.Equal(ids, []string{"incoming/1xV7az-00006g-1Q", "incoming/1xV7az-000071-2X", "incoming/1xV7b0-00007b-18"}) || st.Read != 3 || st.Files != 3 {
		t.Errorf("flat: %q, stats %+v", ids, st)
	}
}

func TestScanEML(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	msg := "From: a@x.example\nSubject: hi\n\n" + strings.Repeat("body line\n", 100)
	for _, name := range []string{"a.eml", "sub/b.eml", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(msg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []*Queued
	st, err := Scan(context.Background(), dir, KindEML, Options{MaxContent: 100}, func(q *Queued) error {
		got = append(got, q)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].QueueID != "a" || got[1].QueueID != "b" || st != (Stats{Files: 2, Read: 2, Truncated: 2}) {
		t.Fatalf("messages %d, stats %+v", len(got), st)
	}
	q := got[0]
	if string(q.Content) != msg[:100] || !q.Truncated || q.ContentSize != int64(len(msg)) || q.Sender != "" || q.Arrival != q.MTime {
		t.Errorf("eml: %+v", q)
	}
	full, err := ReadEML(filepath.Join(dir, "a.eml"), DefaultMaxContent)
	if err != nil || string(full.Content) != msg || full.Truncated {
		t.Errorf("uncapped: %v %q", err, clip(string(full.Content)))
	}
}

func TestScanErrors(t *testing.T) {
	ctx := context.Background()
	nop := func(*Queued) error { return nil }
	if _, err := Scan(ctx, t.TempDir(), KindPostfix, Options{}, nop); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty postfix dir: %v", err)
	}
	if _, err := Scan(ctx, filepath.Join("testdata", "postfix"), KindPostfix, Options{Queues: []string{"bounce"}}, nop); err == nil {
		t.Error("queue bounce accepted")
	}
	if _, err := Scan(ctx, filepath.Join(t.TempDir(), "none"), KindExim, Options{}, nop); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing exim dir: %v", err)
	}
	if _, err := Scan(ctx, filepath.Join(t.TempDir(), "none"), KindEML, Options{}, nop); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing eml dir: %v", err)
	}
	if _, err := Scan(ctx, t.TempDir(), Kind(9), Options{}, nop); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("kind 9: %v", err)
	}
	stop := errors.New("stop")
	n := 0
	st, err := Scan(ctx, eximSpool, KindExim, Options{}, func(*Queued) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 || st.Read != 1 {
		t.Errorf("callback error: %v after %d, stats %+v", err, n, st)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Scan(cctx, eximSpool, KindExim, Options{}, nop); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{KindPostfix, KindExim, KindEML} {
		got, err := ParseKind(strings.ToUpper(k.String()))
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseKind("sendmail"); err == nil {
		t.Error("sendmail accepted")
	}
	if Kind(0).String() != "Kind(0)" {
		t.Errorf("Kind(0) = %q", Kind(0).String())
	}
}

func TestDefaultAccount(t *testing.T) {
	for _, tc := range []struct {
		q    Queued
		want string
	}{
		{Queued{AuthUser: "Alice@X.example", LocalUser: "www-data", Sender: "a@y.example"}, "alice@x.example"},
		{Queued{LocalUser: "WWW-data", Sender: "a@y.example"}, "www-data"},
		{Queued{Sender: "a@Y.example"}, "y.example"},
		{Queued{Sender: "a@"}, ""},
		{Queued{}, ""},
	} {
		if got := DefaultAccount(&tc.q); got != tc.want {
			t.Errorf("DefaultAccount(%+v) = %q, want %q", tc.q, got, tc.want)
		}
	}
}
