package scoring

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"
)

type savedLedger struct {
	Version int
	Life    *Tables
	Windows []savedWindow
	Latest  time.Time
}

type savedWindow struct {
	Span    time.Duration
	Buckets []savedBucket
}

type savedBucket struct {
	Idx int64
	T   *Tables
}

const ledgerVersion = 1

// MarshalBinary saves the ledger's lifetime tables and windows.
func (l *Ledger) MarshalBinary() ([]byte, error) {
	s := savedLedger{Version: ledgerVersion, Life: l.life, Latest: l.latest}
	for _, w := range l.windows {
		sw := savedWindow{Span: w.span}
		for _, b := range w.buckets {
			if b.t != nil {
				sw.Buckets = append(sw.Buckets, savedBucket{b.idx, b.t})
			}
		}
		s.Windows = append(s.Windows, sw)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		return nil, fmt.Errorf("saving ledger: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary restores a ledger saved by MarshalBinary. Windows whose
// span is no longer configured are dropped; new ones start empty.
func (l *Ledger) UnmarshalBinary(data []byte) error {
	var s savedLedger
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return fmt.Errorf("restoring ledger: %w", err)
	}
	if s.Version != ledgerVersion {
		return fmt.Errorf("restoring ledger: version %d, want %d", s.Version, ledgerVersion)
	}
	if s.Life != nil {
		l.life = fill(s.Life)
	}
	l.latest = s.Latest
	for _, sw := range s.Windows {
		for _, w := range l.windows {
			if w.span != sw.Span {
				continue
			}
			for _, b := range sw.Buckets {
				w.buckets[b.Idx%int64(len(w.buckets))] = bucket{b.Idx, fill(b.T)}
			}
		}
	}
	return nil
}

// fill replaces nil maps (gob drops empty ones) with empty maps.
func fill(t *Tables) *Tables {
	if t.Accounts == nil {
		t.Accounts = make(map[string]*Counters)
	}
	if t.IPs == nil {
		t.IPs = make(map[string]*Counters)
	}
	if t.Domains == nil {
		t.Domains = make(map[string]*Counters)
	}
	return t
}
