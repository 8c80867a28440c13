package rbl

import (
	"hash/maphash"
	"sync"
	"time"
)

// cacheShards splits the answer cache so that hundreds of concurrent
// lookups rarely wait for the same lock.
const cacheShards = 64

type cacheKey struct {
	name  string
	qtype uint16
}

// answerCache is a bounded cache of answers, sharded by name hash. Each
// shard evicts with the CLOCK algorithm: a hit sets an entry's reference
// bit; when the shard is full, the hand sweeps the entries, taking the
// first that has expired or was not referenced since the last sweep, and
// clearing the bits it passes. Every operation is O(1) amortised and
// allocation-free once the shard is full.
//
// Each shard also holds the lookups in flight, so that concurrent
// lookups of one name send one query.
type answerCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.Mutex
	index   map[cacheKey]int32
	entries []cacheEntry
	hand    int
	limit   int
	flights map[cacheKey]*flight
}

type cacheEntry struct {
	key     cacheKey
	ans     Answer
	expires time.Duration // on the Client's monotonic clock
	ref     bool
}

// flight is a lookup in progress that other callers of the same name
// wait for.
type flight struct {
	done chan struct{}
	ans  Answer
	err  error
	// leaderGaveUp is set when the lookup failed because its caller's
	// context ended; waiters whose context is alive ask again.
	leaderGaveUp bool
}

func newAnswerCache(size int) *answerCache {
	c := &answerCache{seed: maphash.MakeSeed()}
	per := (size + cacheShards - 1) / cacheShards
	for i := range c.shards {
		c.shards[i] = cacheShard{
			index:   map[cacheKey]int32{},
			limit:   per,
			flights: map[cacheKey]*flight{},
		}
	}
	return c
}

func (c *answerCache) shard(k cacheKey) *cacheShard {
	h := maphash.String(c.seed, k.name) ^ uint64(k.qtype)*0x9e3779b97f4a7c15
	return &c.shards[h%cacheShards]
}

// get returns the cached answer for k if it has not expired by now, with
// Cached set and the remaining TTL. The caller holds s.mu.
func (s *cacheShard) get(k cacheKey, now time.Duration) (Answer, bool) {
	i, ok := s.index[k]
	if !ok {
		return Answer{}, false
	}
	e := &s.entries[i]
	if e.expires <= now {
		return Answer{}, false
	}
	e.ref = true
	a := e.ans
	a.Cached = true
	a.TTL = e.expires - now
	return a, true
}

// put stores a under k until expires. The caller holds s.mu.
func (s *cacheShard) put(k cacheKey, a Answer, expires, now time.Duration) {
	if i, ok := s.index[k]; ok {
		s.entries[i] = cacheEntry{key: k, ans: a, expires: expires}
		return
	}
	if len(s.entries) < s.limit {
		s.index[k] = int32(len(s.entries))
		s.entries = append(s.entries, cacheEntry{key: k, ans: a, expires: expires})
		return
	}
	// CLOCK sweep: at most one full turn clears every reference bit, so
	// the loop ends within two turns.
	for {
		e := &s.entries[s.hand]
		if e.ref && e.expires > now {
			e.ref = false
			s.hand = (s.hand + 1) % len(s.entries)
			continue
		}
		delete(s.index, e.key)
		*e = cacheEntry{key: k, ans: a, expires: expires}
		s.index[k] = int32(s.hand)
		s.hand = (s.hand + 1) % len(s.entries)
		return
	}
}
