package rbl

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// StatusUnknown is the history's state of a (target, zone) pair before
// enough agreeing results have established whether it is listed or clean.
// Only the history uses it: a lookup's Result is never unknown (it is an
// error with a kind instead).
const StatusUnknown Status = "unknown"

// Defaults for NewHistory.
const (
	// DefaultDamping is how many consecutive agreeing results change a
	// state when NewHistory is given less than 1.
	DefaultDamping = 2
	// DefaultKeep is how many transitions are retained when NewHistory is
	// given less than 1.
	DefaultKeep = 1000
)

// History tracks the listing state of every (target, zone) pair across
// cycles and records the transitions between states (DESIGN §7, issue #3
// item 6). It is safe for concurrent use.
//
// # Damping
//
// A state changes only after damping consecutive results agree on the new
// state; a single answer from a lagging mirror or a flapping resolver does
// not page anyone. The rules:
//
//   - Errors (and any result that is neither listed nor clean) never flip
//     a state and do not take part in streaks: they neither break a streak
//     nor extend it. An error says nothing about the listing, so it must not
//     count as evidence for it; and if errors broke streaks, a zone that
//     times out every other cycle would keep a real listing from ever being
//     confirmed. They are recorded in LastError, LastErrorAt and Errors.
//   - A pair starts unknown. The first damping agreeing results establish
//     its state. Becoming listed is recorded as a transition unknown→listed
//     (a listing found on the first cycles is news); becoming clean is
//     established silently, because a transition per clean pair would fill
//     the transition log with 65,536 × zones lines of noise on first start.
//   - A change of codes while listed (say 127.0.0.10 PBL → 127.0.0.2 SBL) is
//     a transition listed→listed carrying the old and the new codes. It is
//     damped like any other change: list mirrors are updated at different
//     times, so during propagation answers alternate between old and new
//     codes. Codes are compared as sets, because resolvers rotate the order
//     of A records.
//   - Times are those of the results (Result.Checked). ListedSince,
//     DelistedAt, Since and a transition's At are the time of the first
//     result of the streak that established the change — when the change
//     was first seen, not when damping confirmed it (ConfirmedAt).
//
// Allow lists and reputation lists report good news as listed with
// SeverityGood; the history tracks them like any listing and every
// transition carries the severity, so alerting can ignore them.
type History struct {
	damping int
	keep    int

	mu      sync.Mutex
	entries map[pairKey]*entry
	// trans is a ring of the most recent transitions: next is the slot of
	// the next one, full says whether the ring has wrapped.
	trans []Transition
	next  int
	full  bool
}

// NewHistory returns an empty history in which a state changes after
// damping consecutive agreeing results (DefaultDamping if damping < 1) and
// which retains the keep most recent transitions (DefaultKeep if keep < 1),
// dropping the oldest.
func NewHistory(damping, keep int) *History {
	if damping < 1 {
		damping = DefaultDamping
	}
	if keep < 1 {
		keep = DefaultKeep
	}
	return &History{
		damping: damping,
		keep:    keep,
		entries: make(map[pairKey]*entry),
	}
}

// State is the history's view of one (target, zone) pair, as served by the
// daemon's GET /api/v1/rbl. Times that do not apply are zero and left out of
// the JSON.
type State struct {
	Target string `json:"target"`
	Zone   string `json:"zone"`
	List   string `json:"list"`
	// Status is listed, clean or unknown (not yet established).
	Status Status `json:"status"`
	// Since is when the current status began: the first result of the
	// streak that established it.
	Since time.Time `json:"since,omitzero"`
	// ListedSince is when the current or, while clean, the most recent
	// listing began.
	ListedSince time.Time `json:"listed_since,omitzero"`
	// LastSeenListed is the time of the last listed result of the current
	// or most recent listing.
	LastSeenListed time.Time `json:"last_seen_listed,omitzero"`
	// DelistedAt is when the most recent listing ended; zero while listed.
	DelistedAt time.Time `json:"delisted_at,omitzero"`
	// Codes, Meanings, Severity, TXT and DelistURL are those of the latest
	// listed result while listed, and empty otherwise.
	Codes     []string `json:"codes,omitempty"`
	Meanings  []string `json:"meanings,omitempty"`
	Severity  Severity `json:"severity,omitempty"`
	TXT       string   `json:"txt,omitempty"`
	DelistURL string   `json:"delist_url,omitempty"`
	// LastChecked is the time of the latest result, whatever its status.
	LastChecked time.Time `json:"last_checked,omitzero"`
	// LastError and LastErrorAt are the kind and time of the latest error
	// result; they stay after later results succeed.
	LastError   ErrorKind `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Errors counts the error results since the latest listed or clean
	// one: 0 means the latest lookup was determined.
	Errors int `json:"errors,omitempty"`
	// Pending is the status that PendingCount consecutive results have
	// agreed on without yet reaching the damping threshold; for a pending
	// change of codes, Pending is listed and PendingCodes the new codes.
	Pending      Status    `json:"pending,omitempty"`
	PendingCount int       `json:"pending_count,omitempty"`
	PendingCodes []string  `json:"pending_codes,omitempty"`
	PendingSince time.Time `json:"pending_since,omitzero"`
}

// Transition is one recorded change of a pair's state.
type Transition struct {
	Target string `json:"target"`
	Zone   string `json:"zone"`
	List   string `json:"list"`
	// From and To are the states before and after; listed→listed is a
	// change of codes.
	From Status `json:"from"`
	To   Status `json:"to"`
	// At is when the change was first seen (the first result of the
	// streak); ConfirmedAt is the result that completed the damping.
	At          time.Time `json:"at"`
	ConfirmedAt time.Time `json:"confirmed_at"`
	// Codes and Meanings are the new listing's (empty for →clean);
	// PrevCodes are the codes of the listing that ended or changed.
	Codes     []string `json:"codes,omitempty"`
	Meanings  []string `json:"meanings,omitempty"`
	PrevCodes []string `json:"prev_codes,omitempty"`
	// Severity is the new listing's, or for →clean that of the listing
	// that ended, so alerting can ignore good-news lists in both
	// directions.
	Severity Severity `json:"severity,omitempty"`
	// TXT is the new listing's TXT record (empty for →clean).
	TXT string `json:"txt,omitempty"`
}

// pairKey identifies a (target, zone) pair.
type pairKey struct{ target, zone string }

// Internal status codes: an entry is kept small because the daemon tracks
// 65,536 × zones of them.
const (
	stUnknown uint8 = iota
	stListed
	stClean
	stCount
)

var statusNames = [stCount]Status{stUnknown: StatusUnknown, stListed: StatusListed, stClean: StatusClean}

func statusCode(s Status) (uint8, bool) {
	switch s {
	case StatusListed:
		return stListed, true
	case StatusClean:
		return stClean, true
	}
	return 0, false
}

// listing holds the details of a listed result.
type listing struct {
	codes, meanings []string
	severity        Severity
	txt, delistURL  string
}

func newListing(r *Result) *listing {
	return &listing{
		codes:     slices.Clone(r.Codes),
		meanings:  slices.Clone(r.Meanings),
		severity:  r.Severity,
		txt:       r.TXT,
		delistURL: r.DelistURL,
	}
}

// refresh takes the details that may change without a change of codes
// from the latest listed result.
func (l *listing) refresh(r *Result) {
	l.severity, l.txt, l.delistURL = r.Severity, r.TXT, r.DelistURL
}

// entry is one pair's state. Times are Unix nanoseconds, 0 for none.
type entry struct {
	list          string
	status        uint8
	pending       uint8 // stUnknown: nothing pending
	pendingCount  int32
	errors        int32
	lastError     ErrorKind
	since         int64
	listedSince   int64
	lastSeen      int64 // last seen listed
	delistedAt    int64
	lastChecked   int64
	lastErrorAt   int64
	pendingSince  int64
	cur, pendList *listing
}

func (e *entry) clearPending() {
	e.pending, e.pendingCount, e.pendingSince, e.pendList = stUnknown, 0, 0, nil
}

// Observe records one lookup result and reports the transition it
// completed, if any. The bool is false when the result changed no state,
// and also when it established a first clean state, which is not recorded
// (see History).
func (h *History) Observe(r Result) (Transition, bool) {
	at := unixNano(r.Checked)
	if at == 0 {
		at = time.Now().UnixNano()
	}
	k := pairKey{r.Target, r.Zone}

	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entries[k]
	if e == nil {
		e = &entry{list: r.List}
		h.entries[k] = e
	}
	if r.List != "" {
		e.list = r.List
	}
	e.lastChecked = max(e.lastChecked, at)

	st, ok := statusCode(r.Status)
	if !ok {
		if e.errors < math.MaxInt32 {
			e.errors++
		}
		e.lastError, e.lastErrorAt = r.Error, at
		if e.lastError == "" {
			e.lastError = ErrBadAnswer
		}
		return Transition{}, false
	}
	e.errors = 0

	if st == e.status && (st != stListed || sameCodes(e.cur.codes, r.Codes)) {
		// The result agrees with the current state: any pending change
		// was a blip.
		e.clearPending()
		if st == stListed {
			e.lastSeen = max(e.lastSeen, at)
			e.cur.refresh(&r)
		}
		return Transition{}, false
	}

	if st == e.pending && (st != stListed || sameCodes(e.pendList.codes, r.Codes)) {
		e.pendingCount++
		if st == stListed {
			e.pendList.refresh(&r)
		}
	} else {
		e.pending, e.pendingCount, e.pendingSince = st, 1, at
		e.pendList = nil
		if st == stListed {
			e.pendList = newListing(&r)
		}
	}
	if int(e.pendingCount) < h.damping {
		return Transition{}, false
	}
	t, recorded := h.confirm(k, e, at)
	if recorded {
		// The recorded copy shares the entry's slices; the caller gets
		// its own.
		t.Codes, t.Meanings, t.PrevCodes = slices.Clone(t.Codes), slices.Clone(t.Meanings), slices.Clone(t.PrevCodes)
	}
	return t, recorded
}

// confirm makes e's pending state current. at is the confirming result's
// time.
func (h *History) confirm(k pairKey, e *entry, at int64) (Transition, bool) {
	t := Transition{
		Target:      k.target,
		Zone:        k.zone,
		List:        e.list,
		From:        statusNames[e.status],
		To:          statusNames[e.pending],
		At:          timeOf(e.pendingSince),
		ConfirmedAt: timeOf(at),
	}
	if e.cur != nil {
		t.PrevCodes = e.cur.codes
	}
	switch e.pending {
	case stListed:
		l := e.pendList
		t.Codes, t.Meanings, t.Severity, t.TXT = l.codes, l.meanings, l.severity, l.txt
		if e.status != stListed {
			e.since, e.listedSince, e.delistedAt = e.pendingSince, e.pendingSince, 0
		}
		e.cur, e.lastSeen = l, at
	case stClean:
		if e.cur != nil {
			t.Severity = e.cur.severity
			e.delistedAt = e.pendingSince
		}
		e.since, e.cur = e.pendingSince, nil
	}
	first := e.status == stUnknown
	e.status = e.pending
	e.clearPending()
	if first && e.status == stClean {
		return Transition{}, false
	}
	h.record(t)
	return t, true
}

func (h *History) record(t Transition) {
	if len(h.trans) < h.keep {
		h.trans = append(h.trans, t)
		return
	}
	h.trans[h.next] = t
	h.next = (h.next + 1) % h.keep
	h.full = true
}

// sameCodes reports whether a and b hold the same codes, in any order.
// Answers have a handful of codes, so the quadratic count allocates
// nothing and is faster than sorting.
func sameCodes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, c := range a {
		if count(a, c) != count(b, c) {
			return false
		}
	}
	return true
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// State returns the state of the (target, zone) pair, and false if the
// history has never observed it.
func (h *History) State(target, zone string) (State, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.entries[pairKey{target, zone}]
	if !ok {
		return State{}, false
	}
	return e.state(pairKey{target, zone}), true
}

// States returns every pair's state: listed pairs first, then the others,
// each group ordered by target (IP addresses in address order before
// domains) and zone.
func (h *History) States() []State {
	return h.collect(func(*entry) bool { return true })
}

// Listed returns the states of the pairs that are listed with a severity
// other than SeverityGood (the bad news, as Result.Listed counts it), in
// States' order.
func (h *History) Listed() []State {
	return h.collect(func(e *entry) bool { return e.status == stListed && e.cur.severity != SeverityGood })
}

func (h *History) collect(keep func(*entry) bool) []State {
	h.mu.Lock()
	out := make([]State, 0, len(h.entries))
	for k, e := range h.entries {
		if keep(e) {
			out = append(out, e.state(k))
		}
	}
	h.mu.Unlock()
	slices.SortFunc(out, compareStates)
	return out
}

func compareStates(a, b State) int {
	if al, bl := a.Status == StatusListed, b.Status == StatusListed; al != bl {
		if al {
			return -1
		}
		return 1
	}
	if c := compareTargets(a.Target, b.Target); c != 0 {
		return c
	}
	return cmp.Compare(a.Zone, b.Zone)
}

// compareTargets orders IP addresses by address before domain names by
// name.
func compareTargets(a, b string) int {
	if a == b {
		return 0
	}
	aa, aerr := netip.ParseAddr(a)
	ba, berr := netip.ParseAddr(b)
	switch {
	case aerr == nil && berr == nil:
		if c := aa.Compare(ba); c != 0 {
			return c
		}
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

func (e *entry) state(k pairKey) State {
	s := State{
		Target:         k.target,
		Zone:           k.zone,
		List:           e.list,
		Status:         statusNames[e.status],
		Since:          timeOf(e.since),
		ListedSince:    timeOf(e.listedSince),
		LastSeenListed: timeOf(e.lastSeen),
		DelistedAt:     timeOf(e.delistedAt),
		LastChecked:    timeOf(e.lastChecked),
		LastError:      e.lastError,
		LastErrorAt:    timeOf(e.lastErrorAt),
		Errors:         int(e.errors),
		PendingCount:   int(e.pendingCount),
		PendingSince:   timeOf(e.pendingSince),
	}
	if e.pending != stUnknown {
		s.Pending = statusNames[e.pending]
	}
	if e.cur != nil {
		s.Codes = slices.Clone(e.cur.codes)
		s.Meanings = slices.Clone(e.cur.meanings)
		s.Severity, s.TXT, s.DelistURL = e.cur.severity, e.cur.txt, e.cur.delistURL
	}
	if e.pendList != nil && e.status == stListed {
		s.PendingCodes = slices.Clone(e.pendList.codes)
	}
	return s
}

// Transitions returns the n most recent transitions, newest first (all
// retained ones if n < 1 or n exceeds them).
func (h *History) Transitions(n int) []Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	total := len(h.trans)
	if n < 1 || n > total {
		n = total
	}
	out := make([]Transition, 0, n)
	// The newest is just before next once the ring is full, else last.
	newest := total - 1
	if h.full {
		newest = (h.next - 1 + total) % total
	}
	for i := range n {
		t := h.trans[(newest-i+total)%total]
		t.Codes, t.Meanings, t.PrevCodes = slices.Clone(t.Codes), slices.Clone(t.Meanings), slices.Clone(t.PrevCodes)
		out = append(out, t)
	}
	return out
}

// Len returns the number of pairs the history tracks.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.entries)
}

// Prune forgets the pairs whose latest result is older than olderThan —
// targets or zones no longer configured — and returns how many it removed.
// Their recorded transitions are kept.
func (h *History) Prune(olderThan time.Time) int {
	limit := unixNano(olderThan)
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k, e := range h.entries {
		if e.lastChecked < limit {
			delete(h.entries, k)
			n++
		}
	}
	return n
}

// unixNano converts t to Unix nanoseconds, the zero time to 0. (Times
// outside the years 1678–2262 have no such representation; no lookup
// result carries one.)
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Persistence.

// historyVersion is the version of the MarshalBinary format. Bump it when
// the meaning of a saved field changes; gob itself tolerates added and
// removed fields.
const historyVersion = 1

// savedHistory is the MarshalBinary format. Entries are grouped by zone so
// the zone and list names are stored once per zone, not once per pair: the
// daemon saves 65,536 × zones pairs.
type savedHistory struct {
	Version     int
	Zones       []savedZone
	Transitions []Transition
}

type savedZone struct {
	Zone    string
	Lists   []string // distinct list names; savedEntry.List indexes it
	Entries []savedEntry
}

type savedEntry struct {
	Target                                   string
	List                                     int
	Status, Pending                          uint8
	PendingCount, Errors                     int32
	LastError                                ErrorKind
	Since, ListedSince, LastSeen, DelistedAt int64
	LastChecked, LastErrorAt, PendingSince   int64
	Cur, PendList                            *savedListing
}

type savedListing struct {
	Codes, Meanings []string
	Severity        Severity
	TXT, DelistURL  string
}

func saveListing(l *listing) *savedListing {
	if l == nil {
		return nil
	}
	return &savedListing{l.codes, l.meanings, l.severity, l.txt, l.delistURL}
}

func loadListing(s *savedListing) *listing {
	if s == nil {
		return nil
	}
	return &listing{s.Codes, s.Meanings, s.Severity, s.TXT, s.DelistURL}
}

// MarshalBinary saves the states and the retained transitions, for the
// daemon to store in its state store (bucket "rbl", key "history"). A /16
// × 4 zones history is about 10 MB and takes a few hundred milliseconds to
// encode, so save it once per cycle rather than at every checkpoint.
func (h *History) MarshalBinary() ([]byte, error) {
	h.mu.Lock()
	s := savedHistory{Version: historyVersion}
	// Size each zone's entries first: appending 65,536 entries per zone
	// would copy them over and over.
	type zoneIndex struct{ i, n int }
	zones := map[string]*zoneIndex{}
	for k := range h.entries {
		z := zones[k.zone]
		if z == nil {
			z = &zoneIndex{i: len(s.Zones)}
			zones[k.zone] = z
			s.Zones = append(s.Zones, savedZone{Zone: k.zone})
		}
		z.n++
	}
	for _, z := range zones {
		s.Zones[z.i].Entries = make([]savedEntry, 0, z.n)
	}
	for k, e := range h.entries {
		z := &s.Zones[zones[k.zone].i]
		// A zone belongs to one list (or a few, if the catalog renamed
		// it): a linear search beats a map.
		li := slices.Index(z.Lists, e.list)
		if li < 0 {
			li = len(z.Lists)
			z.Lists = append(z.Lists, e.list)
		}
		z.Entries = append(z.Entries, savedEntry{
			Target: k.target, List: li,
			Status: e.status, Pending: e.pending,
			PendingCount: e.pendingCount, Errors: e.errors, LastError: e.lastError,
			Since: e.since, ListedSince: e.listedSince, LastSeen: e.lastSeen, DelistedAt: e.delistedAt,
			LastChecked: e.lastChecked, LastErrorAt: e.lastErrorAt, PendingSince: e.pendingSince,
			Cur: saveListing(e.cur), PendList: saveListing(e.pendList),
		})
	}
	// Oldest first, so that loading replays them into the ring in order.
	s.Transitions = make([]Transition, 0, len(h.trans))
	if h.full {
		s.Transitions = append(s.Transitions, h.trans[h.next:]...)
		s.Transitions = append(s.Transitions, h.trans[:h.next]...)
	} else {
		s.Transitions = append(s.Transitions, h.trans...)
	}
	h.mu.Unlock()

	// Encoding needs no lock: s shares only strings and the code slices
	// of listings, which are never modified once made.
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		return nil, fmt.Errorf("rbl history: save: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary replaces h's states and transitions with those saved by
// MarshalBinary. h keeps its own damping and keep: if keep is smaller than
// the saved transitions, the oldest are dropped. On an error h is
// unchanged; the error names what is wrong with data.
func (h *History) UnmarshalBinary(data []byte) error {
	var s savedHistory
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return fmt.Errorf("rbl history: restore: not a saved history: %w", err)
	}
	if s.Version != historyVersion {
		return fmt.Errorf("rbl history: restore: format version %d, want %d", s.Version, historyVersion)
	}
	entries := make(map[pairKey]*entry)
	for zi := range s.Zones {
		z := &s.Zones[zi]
		if z.Zone == "" {
			return fmt.Errorf("rbl history: restore: zone %d has no name", zi)
		}
		for i := range z.Entries {
			se := &z.Entries[i]
			k := pairKey{se.Target, z.Zone}
			if err := checkSaved(z, se); err != nil {
				return fmt.Errorf("rbl history: restore: %s in %s: %w", se.Target, z.Zone, err)
			}
			if entries[k] != nil {
				return fmt.Errorf("rbl history: restore: %s in %s: saved twice", se.Target, z.Zone)
			}
			entries[k] = &entry{
				list: z.Lists[se.List], status: se.Status, pending: se.Pending,
				pendingCount: se.PendingCount, errors: se.Errors, lastError: se.LastError,
				since: se.Since, listedSince: se.ListedSince, lastSeen: se.LastSeen, delistedAt: se.DelistedAt,
				lastChecked: se.LastChecked, lastErrorAt: se.LastErrorAt, pendingSince: se.PendingSince,
				cur: loadListing(se.Cur), pendList: loadListing(se.PendList),
			}
		}
	}
	for i, t := range s.Transitions {
		if err := checkTransition(t); err != nil {
			return fmt.Errorf("rbl history: restore: transition %d (%s in %s): %w", i, t.Target, t.Zone, err)
		}
	}
	trans := s.Transitions
	if len(trans) > h.keep {
		trans = trans[len(trans)-h.keep:]
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = entries
	h.trans, h.next, h.full = make([]Transition, 0, min(h.keep, len(trans))), 0, false
	for _, t := range trans {
		h.record(t)
	}
	return nil
}

// checkSaved checks the invariants Observe relies on, so that a damaged
// store cannot make it dereference a missing listing.
func checkSaved(z *savedZone, se *savedEntry) error {
	switch {
	case se.Target == "":
		return errors.New("empty target")
	case se.List < 0 || se.List >= len(z.Lists):
		return fmt.Errorf("list index %d out of range (%d lists)", se.List, len(z.Lists))
	case se.Status >= stCount:
		return fmt.Errorf("status code %d out of range", se.Status)
	case se.Pending >= stCount:
		return fmt.Errorf("pending status code %d out of range", se.Pending)
	case (se.Status == stListed) != (se.Cur != nil):
		return errors.New("listing details do not match the status")
	case (se.Pending == stListed) != (se.PendList != nil):
		return errors.New("pending listing details do not match the pending status")
	case se.Pending == stUnknown && se.PendingCount != 0:
		return fmt.Errorf("pending count %d with nothing pending", se.PendingCount)
	case se.Pending != stUnknown && se.PendingCount < 1:
		return fmt.Errorf("pending count %d with a pending status", se.PendingCount)
	case se.Pending != stUnknown && se.Pending == se.Status && se.Status != stListed:
		return errors.New("pending status equals the current one")
	case se.Errors < 0:
		return fmt.Errorf("negative error count %d", se.Errors)
	}
	return nil
}

func checkTransition(t Transition) error {
	switch {
	case t.Target == "" || t.Zone == "":
		return errors.New("empty target or zone")
	case t.From != StatusUnknown && t.From != StatusListed && t.From != StatusClean:
		return fmt.Errorf("bad from status %q", t.From)
	case t.To != StatusListed && t.To != StatusClean:
		return fmt.Errorf("bad to status %q", t.To)
	}
	return nil
}
