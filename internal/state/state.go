// Package state owns mailrep's embedded state store: one bbolt file,
// mailrep.db, under the configured state_dir. It holds tail positions,
// correlator entries, ledger windows, listing history and alert state as
// opaque values in named buckets.
//
// The store's one guarantee that the rest of mailrep builds on is the atomic
// multi-write: Update commits every Put and Delete of one call together or
// not at all, so the daemon can write tail positions in the same transaction
// as the state they cover and a restart never sees positions that run ahead
// of that state (DESIGN §7).
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the name of the database file inside the state directory.
const FileName = "mailrep.db"

// lockTimeout bounds how long Open waits for another process to release the
// database's file lock before reporting ErrLocked.
const lockTimeout = time.Second

// ErrLocked is wrapped by the error Open returns when another process (or
// another Store in this process) holds the database open.
var ErrLocked = errors.New("state store is locked by another mailrep process")

// Store is an open state database. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the state database in dir, creating dir
// with mode 0750 if it does not exist. If another process holds the
// database, Open gives up after about a second with an error wrapping
// ErrLocked that names the file.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("state: empty state directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("state: create state directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("state store %s is locked by another mailrep process (waited %v): %w", path, lockTimeout, ErrLocked)
		}
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close releases the database and its lock. Pending Update calls finish
// first.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", s.path, err)
	}
	return nil
}

// Get returns a copy of the value stored under key in bucket, or nil and a
// nil error if the bucket or the key does not exist.
func (s *Store) Get(bucket, key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			// bbolt's value is only valid inside the transaction.
			out = append(make([]byte, 0, len(v)), v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: get %s/%s: %w", bucket, key, err)
	}
	return out, nil
}

// ForEach calls fn for every key of bucket in key order, in one read
// transaction. The value is only valid during the call; fn must copy what it
// keeps. A missing bucket is empty. An error from fn stops the walk and is
// returned wrapped.
func (s *Store) ForEach(bucket string, fn func(key string, value []byte) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
	if err != nil {
		return fmt.Errorf("state: read bucket %s: %w", bucket, err)
	}
	return nil
}

// Tx is one read-write transaction passed to the function given to Update.
// It must not be used after that function returns.
type Tx struct {
	tx *bolt.Tx
}

// Put stores value under key in bucket, creating the bucket if needed. The
// value is copied into the database when the transaction commits; the caller
// may reuse value after Update returns, but not before.
func (t *Tx) Put(bucket, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("state: put %s: empty key", bucket)
	}
	b, err := t.tx.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("state: bucket %q: %w", bucket, err)
	}
	if value == nil {
		// bbolt treats a nil value like an empty one; keep that explicit.
		value = []byte{}
	}
	if err := b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("state: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Delete removes key from bucket. Deleting a missing key or from a missing
// bucket is not an error.
func (t *Tx) Delete(bucket, key string) error {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	if err := b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("state: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Get returns the value under key in bucket as seen by this transaction
// (including its own uncommitted writes), or nil if absent. The slice is only
// valid until the transaction ends.
func (t *Tx) Get(bucket, key string) []byte {
	b := t.tx.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

// Update runs fn in one read-write transaction and commits every write it
// made atomically (and durably: bbolt fsyncs on commit). If fn returns an
// error or panics, nothing it wrote is kept; fn's error is returned wrapped.
func (s *Store) Update(fn func(tx *Tx) error) error {
	err := s.db.Update(func(btx *bolt.Tx) error {
		return fn(&Tx{tx: btx})
	})
	if err != nil {
		return fmt.Errorf("state: update %s: %w", s.path, err)
	}
	return nil
}
