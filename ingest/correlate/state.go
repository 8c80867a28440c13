package correlate

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"time"
)

// savedState is the gob form of a Correlator.
type savedState struct {
	Version  int
	Messages []savedMessage
	PIDs     []savedPID
	Pending  []savedPending
	Clock    time.Time
	GenStart time.Time
	Stats    Stats
}

type savedMessage struct {
	Host, QID string
	Prev      bool // in the previous generation
	M         message
}

type savedPID struct {
	Host string
	PID  int
	ID   identity
}

type savedPending struct {
	Host, QID string
	At        time.Time
}

const stateVersion = 1

// MarshalBinary saves the correlator's live messages, pid identities,
// pending receptions and statistics, so a restarted daemon neither loses
// an account attribution nor counts a reception twice.
func (c *Correlator) MarshalBinary() ([]byte, error) {
	s := savedState{Version: stateVersion, Clock: c.clock, GenStart: c.genStart, Stats: c.stats}
	for k, m := range c.prev {
		s.Messages = append(s.Messages, savedMessage{k.host, k.qid, true, *m})
	}
	for k, m := range c.cur {
		s.Messages = append(s.Messages, savedMessage{k.host, k.qid, false, *m})
	}
	for k, id := range c.pids {
		s.PIDs = append(s.PIDs, savedPID{k.host, k.pid, id})
	}
	for _, p := range c.pending[c.pendingHead:] {
		s.Pending = append(s.Pending, savedPending{p.k.host, p.k.qid, p.at})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		return nil, fmt.Errorf("saving correlator state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary restores a state saved by MarshalBinary, replacing the
// correlator's current state.
func (c *Correlator) UnmarshalBinary(data []byte) error {
	var s savedState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return fmt.Errorf("restoring correlator state: %w", err)
	}
	if s.Version != stateVersion {
		return fmt.Errorf("restoring correlator state: version %d, want %d", s.Version, stateVersion)
	}
	c.cur = make(map[key]*message)
	c.prev = make(map[key]*message)
	for _, sm := range s.Messages {
		m := sm.M
		k := key{c.internHost(sm.Host), sm.QID}
		if sm.Prev {
			c.prev[k] = &m
		} else {
			c.cur[k] = &m
		}
	}
	c.pids = make(map[pidKey]identity)
	for _, p := range s.PIDs {
		c.pids[pidKey{c.internHost(p.Host), p.PID}] = p.ID
	}
	c.pending, c.pendingHead = c.pending[:0], 0
	for _, p := range s.Pending {
		c.pending = append(c.pending, pendingRecv{key{c.internHost(p.Host), p.QID}, p.At})
	}
	c.clock, c.genStart, c.stats = s.Clock, s.GenStart, s.Stats
	return nil
}
