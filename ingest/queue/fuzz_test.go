package queue

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkQueued asserts what must hold for any successfully parsed message.
func checkQueued(t *testing.T, q *Queued, limit int64) {
	t.Helper()
	if int64(len(q.Content)) > limit {
		t.Fatalf("content %d bytes over the cap %d", len(q.Content), limit)
	}
	if q.ContentSize < int64(len(q.Content)) || q.Truncated != (q.ContentSize > int64(len(q.Content))) {
		t.Fatalf("content %d bytes, size %d, truncated %v", len(q.Content), q.ContentSize, q.Truncated)
	}
	if q.Pending < 0 || q.Pending > len(q.Recipients) {
		t.Fatalf("pending %d of %d recipients", q.Pending, len(q.Recipients))
	}
}

func FuzzParsePostfix(f *testing.F) {
	_ = filepath.WalkDir(filepath.Join("testdata", "postfix"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(path, ".md") {
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b, int64(100))
				f.Add(b, int64(0))
			}
		}
		return nil
	})
	var p pfFile
	p.rec(recSize, "             10              40               1               0              10               0")
	p.rec(recTime, "1700000000 1").rec(recFrom, "a@x").rec(recRcpt, "r@x").rec(recPtr, "0").rec(recMesg, "")
	p.rec(recCont, "Subj").rec(recNorm, "ect: x").rec(recXtra, "").rec(recEnd, "")
	f.Add(p.Bytes(), int64(1<<10))
	f.Fuzz(func(t *testing.T, data []byte, limit int64) {
		limit = max(min(limit, 1<<20), 0)
		q, err := ParsePostfix(bytes.NewReader(data), limit)
		if err != nil {
			return
		}
		if limit > 0 {
			checkQueued(t, q, limit)
		}
	})
}

func FuzzParseEximHeader(f *testing.F) {
	hs, _ := filepath.Glob(filepath.Join(eximSpool, "input", "*", "*-H"))
	for _, h := range hs {
		if b, err := os.ReadFile(h); err == nil {
			f.Add(b, int64(200))
		}
	}
	f.Add([]byte(eximH+eximHdr(' ', "Subject: x\n")), int64(1<<10))
	f.Fuzz(func(t *testing.T, data []byte, limit int64) {
		limit = max(min(limit, 1<<20), 0)
		q, err := ParseEximHeader(bytes.NewReader(data), limit)
		if err != nil {
			return
		}
		checkQueued(t, q, limit)
		if !validEximID(q.QueueID) {
			t.Fatalf("accepted message id %q", q.QueueID)
		}
	})
}
