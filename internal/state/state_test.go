package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPutGetReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "state")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("positions", "/var/log/mail.log"); err != nil || got != nil {
		t.Fatalf("Get on empty store = %q, %v; want nil, nil", got, err)
	}
	val := []byte(`{"offset":42}`)
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("positions", "/var/log/mail.log", val); err != nil {
			return err
		}
		if err := tx.Put("ledger", "acct:alice", []byte{0, 1, 2, 0xff}); err != nil {
			return err
		}
		return tx.Put("ledger", "acct:bob", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied the value
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database file: %v", err)
	}

	s, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	for _, c := range []struct {
		bucket, key string
		want        []byte
	}{
		{"positions", "/var/log/mail.log", []byte(`{"offset":42}`)},
		{"ledger", "acct:alice", []byte{0, 1, 2, 0xff}},
		{"ledger", "acct:bob", []byte{}},
		{"ledger", "acct:carol", nil},
		{"nosuchbucket", "k", nil},
	} {
		got, err := s.Get(c.bucket, c.key)
		if err != nil {
			t.Fatalf("Get(%s, %s): %v", c.bucket, c.key, err)
		}
		if !bytes.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("Get(%s, %s) = %q, want %q", c.bucket, c.key, got, c.want)
		}
	}

	var keys []string
	if err := s.ForEach("ledger", func(k string, v []byte) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "acct:alice,acct:bob" {
		t.Errorf("ForEach keys = %v", keys)
	}

	if err := s.Update(func(tx *Tx) error { return tx.Delete("ledger", "acct:alice") }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("ledger", "acct:alice"); got != nil {
		t.Errorf("after Delete: %q", got)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Delete("nosuchbucket", "k") }); err != nil {
		t.Errorf("Delete from missing bucket: %v", err)
	}
}

// TestUpdateAtomic checks that a failing transaction keeps none of its
// writes, so positions can never be committed without the state they cover.
func TestUpdateAtomic(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(func(tx *Tx) error { return tx.Put("pos", "f", []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("ledger encode failed")
	err = s.Update(func(tx *Tx) error {
		if err := tx.Put("pos", "f", []byte("2")); err != nil {
			return err
		}
		if got := string(tx.Get("pos", "f")); got != "2" {
			return fmt.Errorf("tx does not see its own write: %q", got)
		}
		if err := tx.Put("ledger", "w", []byte("x")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want wrapping %v", err, boom)
	}
	if got, _ := s.Get("pos", "f"); string(got) != "1" {
		t.Errorf("position after failed update = %q, want 1", got)
	}
	if got, _ := s.Get("ledger", "w"); got != nil {
		t.Errorf("ledger after failed update = %q, want nil", got)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Put("pos", "", []byte("x")) }); err == nil {
		t.Error("Put with empty key succeeded")
	}
}

func TestLockContention(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s2, err := Open(dir)
	if err == nil {
		s2.Close()
		s.Close()
		t.Fatal("second Open of a held store succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error %v does not wrap ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "locked by another mailrep process") || !strings.Contains(err.Error(), FileName) {
		t.Errorf("error %q does not explain the lock and name the file", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open waited %v for the lock", d)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err = Open(dir)
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	s2.Close()
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f); err == nil || !strings.Contains(err.Error(), "state directory") {
		t.Errorf("Open on a regular file: %v", err)
	}
}

func BenchmarkUpdate(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := bytes.Repeat([]byte("p"), 128)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Update(func(tx *Tx) error {
			if err := tx.Put("positions", "mail.log", val); err != nil {
				return err
			}
			return tx.Put("ledger", "acct", val)
		}); err != nil {
			b.Fatal(err)
		}
	}
}
