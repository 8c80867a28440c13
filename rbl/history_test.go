package rbl

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/state"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at is the time of cycle i, ten minutes apart.
func at(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Minute) }

func listedAt(target, zone string, i int, codes ...string) Result {
	meanings := make([]string, len(codes))
	for j, c := range codes {
		meanings[j] = "meaning of " + c
	}
	return Result{
		Target: target, Zone: zone, List: "list-" + zone, Status: StatusListed,
		Codes: codes, Meanings: meanings, Severity: SeverityHigh,
		TXT: "listed, see https://example.org/" + target, DelistURL: "https://example.org/delist",
		Checked: at(i),
	}
}

func cleanAt(target, zone string, i int) Result {
	return Result{Target: target, Zone: zone, List: "list-" + zone, Status: StatusClean, Checked: at(i)}
}

func errorAt(target, zone string, i int, kind ErrorKind) Result {
	return Result{Target: target, Zone: zone, List: "list-" + zone, Status: StatusError, Error: kind, Checked: at(i)}
}

func mustState(t *testing.T, h *History, target, zone string) State {
	t.Helper()
	s, ok := h.State(target, zone)
	if !ok {
		t.Fatalf("no state for %s in %s", target, zone)
	}
	return s
}

// TestHistoryDamping feeds N listed then N clean results for N = 1, 2, 3
// and checks that each change happens exactly at the Nth result and is
// dated by the first.
func TestHistoryDamping(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("N=", n), func(t *testing.T) {
			h := NewHistory(n, 0)
			i := 0
			// A first clean streak establishes clean silently.
			for j := 1; j <= n; j++ {
				if tr, ok := h.Observe(cleanAt("192.0.2.1", "z.test", i)); ok {
					t.Fatalf("clean result %d recorded a transition: %+v", j, tr)
				}
				i++
			}
			if s := mustState(t, h, "192.0.2.1", "z.test"); s.Status != StatusClean || !s.Since.Equal(at(0)) {
				t.Fatalf("after %d clean results: status %s since %v, want clean since %v", n, s.Status, s.Since, at(0))
			}
			first := i
			for j := 1; j <= n; j++ {
				tr, ok := h.Observe(listedAt("192.0.2.1", "z.test", i, "127.0.0.2"))
				i++
				if j < n {
					if ok {
						t.Fatalf("listed result %d of %d recorded a transition", j, n)
					}
					s := mustState(t, h, "192.0.2.1", "z.test")
					if s.Status != StatusClean || s.Pending != StatusListed || s.PendingCount != j {
						t.Fatalf("after listed result %d: status %s pending %s×%d, want clean pending listed×%d", j, s.Status, s.Pending, s.PendingCount, j)
					}
					continue
				}
				if !ok || tr.From != StatusClean || tr.To != StatusListed {
					t.Fatalf("listed result %d of %d: transition %+v %v, want clean→listed", j, n, tr, ok)
				}
				if !tr.At.Equal(at(first)) || !tr.ConfirmedAt.Equal(at(i-1)) {
					t.Errorf("transition at %v confirmed %v, want %v and %v", tr.At, tr.ConfirmedAt, at(first), at(i-1))
				}
				if !reflect.DeepEqual(tr.Codes, []string{"127.0.0.2"}) || tr.Severity != SeverityHigh || tr.TXT == "" {
					t.Errorf("transition details %+v", tr)
				}
			}
			s := mustState(t, h, "192.0.2.1", "z.test")
			if s.Status != StatusListed || !s.ListedSince.Equal(at(first)) || !s.Since.Equal(at(first)) ||
				!s.LastSeenListed.Equal(at(i-1)) || !s.DelistedAt.IsZero() || s.Pending != "" || s.PendingCount != 0 {
				t.Fatalf("listed state %+v", s)
			}
			delisted := i
			for j := 1; j <= n; j++ {
				tr, ok := h.Observe(cleanAt("192.0.2.1", "z.test", i))
				i++
				if ok != (j == n) {
					t.Fatalf("clean result %d of %d: recorded %v", j, n, ok)
				}
				if ok && (tr.From != StatusListed || tr.To != StatusClean || !tr.At.Equal(at(delisted)) ||
					!reflect.DeepEqual(tr.PrevCodes, []string{"127.0.0.2"}) || tr.Codes != nil || tr.Severity != SeverityHigh) {
					t.Fatalf("delisting transition %+v", tr)
				}
			}
			s = mustState(t, h, "192.0.2.1", "z.test")
			if s.Status != StatusClean || !s.DelistedAt.Equal(at(delisted)) || !s.Since.Equal(at(delisted)) ||
				!s.ListedSince.Equal(at(first)) || !s.LastSeenListed.Equal(at(delisted-1)) || s.Codes != nil || s.Severity != "" {
				t.Fatalf("delisted state %+v", s)
			}
			if got := h.Transitions(0); len(got) != 2 || got[0].To != StatusClean || got[1].To != StatusListed {
				t.Fatalf("transitions %+v, want clean←listed newest first", got)
			}
		})
	}
}

// TestHistoryFirstState: from unknown, a listing is recorded as a
// transition and a clean state is established silently.
func TestHistoryFirstState(t *testing.T) {
	h := NewHistory(2, 0)
	if _, ok := h.State("192.0.2.1", "z.test"); ok {
		t.Fatal("state of a pair never observed")
	}
	h.Observe(cleanAt("192.0.2.1", "z.test", 0))
	if s := mustState(t, h, "192.0.2.1", "z.test"); s.Status != StatusUnknown || s.Pending != StatusClean || s.PendingCount != 1 {
		t.Fatalf("after one clean result: %+v, want unknown pending clean", s)
	}
	if _, ok := h.Observe(cleanAt("192.0.2.1", "z.test", 1)); ok {
		t.Fatal("unknown→clean recorded")
	}
	h.Observe(listedAt("192.0.2.2", "z.test", 0, "127.0.0.2"))
	tr, ok := h.Observe(listedAt("192.0.2.2", "z.test", 1, "127.0.0.2"))
	if !ok || tr.From != StatusUnknown || tr.To != StatusListed || !tr.At.Equal(at(0)) {
		t.Fatalf("unknown→listed: %+v %v", tr, ok)
	}
	if s := mustState(t, h, "192.0.2.2", "z.test"); !s.ListedSince.Equal(at(0)) {
		t.Fatalf("listed since %v, want %v", s.ListedSince, at(0))
	}
	if got := h.Transitions(0); len(got) != 1 {
		t.Fatalf("transitions %+v, want only the listing", got)
	}
}

// TestHistoryErrors: errors neither flip, break nor extend a streak, and
// are counted.
func TestHistoryErrors(t *testing.T) {
	h := NewHistory(2, 0)
	h.Observe(cleanAt("192.0.2.1", "z.test", 0))
	h.Observe(cleanAt("192.0.2.1", "z.test", 1))

	// Listed, error, listed: the error does not break the streak, and the
	// listing dates from the first listed result.
	h.Observe(listedAt("192.0.2.1", "z.test", 2, "127.0.0.2"))
	if _, ok := h.Observe(errorAt("192.0.2.1", "z.test", 3, ErrTimeout)); ok {
		t.Fatal("an error completed a transition")
	}
	s := mustState(t, h, "192.0.2.1", "z.test")
	if s.Status != StatusClean || s.PendingCount != 1 || s.Errors != 1 || s.LastError != ErrTimeout || !s.LastErrorAt.Equal(at(3)) {
		t.Fatalf("after an error mid-streak: %+v", s)
	}
	tr, ok := h.Observe(listedAt("192.0.2.1", "z.test", 4, "127.0.0.2"))
	if !ok || tr.To != StatusListed || !tr.At.Equal(at(2)) {
		t.Fatalf("listed, error, listed: %+v %v, want a listing at %v", tr, ok, at(2))
	}
	s = mustState(t, h, "192.0.2.1", "z.test")
	if s.Errors != 0 || s.LastError != ErrTimeout || !s.ListedSince.Equal(at(2)) || !s.LastChecked.Equal(at(4)) {
		t.Fatalf("after the listing: %+v", s)
	}

	// A run of errors of every kind leaves the listing alone.
	for i, kind := range []ErrorKind{ErrTimeout, ErrServfail, ErrRefused, ErrPublicResolver, ErrZoneUnhealthy} {
		if _, ok := h.Observe(errorAt("192.0.2.1", "z.test", 5+i, kind)); ok {
			t.Fatalf("error %s completed a transition", kind)
		}
	}
	s = mustState(t, h, "192.0.2.1", "z.test")
	if s.Status != StatusListed || s.Errors != 5 || s.LastError != ErrZoneUnhealthy || s.Pending != "" || !s.LastSeenListed.Equal(at(4)) {
		t.Fatalf("after five errors: %+v", s)
	}

	// Clean, error, clean delists: errors do not extend or break.
	h.Observe(cleanAt("192.0.2.1", "z.test", 10))
	h.Observe(errorAt("192.0.2.1", "z.test", 11, ErrTimeout))
	if s := mustState(t, h, "192.0.2.1", "z.test"); s.Status != StatusListed {
		t.Fatalf("clean then error: %s, want still listed", s.Status)
	}
	if tr, ok := h.Observe(cleanAt("192.0.2.1", "z.test", 12)); !ok || tr.To != StatusClean || !tr.At.Equal(at(10)) {
		t.Fatalf("clean, error, clean: %+v %v", tr, ok)
	}

	// A pair seen only through errors stays unknown; an error result
	// without a kind is still an error.
	h.Observe(Result{Target: "192.0.2.9", Zone: "z.test", Status: StatusError, Checked: at(0)})
	if s := mustState(t, h, "192.0.2.9", "z.test"); s.Status != StatusUnknown || s.LastError != ErrBadAnswer || s.Errors != 1 {
		t.Fatalf("pair seen only through an error: %+v", s)
	}
}

// TestHistoryBlips: a single disagreeing result between agreeing ones is
// forgotten.
func TestHistoryBlips(t *testing.T) {
	h := NewHistory(2, 0)
	seq := []Result{
		listedAt("192.0.2.1", "z.test", 0, "127.0.0.2"),
		listedAt("192.0.2.1", "z.test", 1, "127.0.0.2"), // listed
		cleanAt("192.0.2.1", "z.test", 2),
		listedAt("192.0.2.1", "z.test", 3, "127.0.0.2"), // blip forgotten
		cleanAt("192.0.2.1", "z.test", 4),
		listedAt("192.0.2.1", "z.test", 5, "127.0.0.2"), // again
		cleanAt("192.0.2.1", "z.test", 6),
		cleanAt("192.0.2.1", "z.test", 7), // clean since 6
		listedAt("192.0.2.1", "z.test", 8, "127.0.0.4"),
		cleanAt("192.0.2.1", "z.test", 9), // blip forgotten
		listedAt("192.0.2.1", "z.test", 10, "127.0.0.4"),
		listedAt("192.0.2.1", "z.test", 11, "127.0.0.4"), // listed since 10
	}
	var got []string
	for _, r := range seq {
		if tr, ok := h.Observe(r); ok {
			got = append(got, fmt.Sprintf("%s→%s@%s", tr.From, tr.To, tr.At.Format("15:04")))
		}
	}
	want := []string{"unknown→listed@12:00", "listed→clean@13:00", "clean→listed@13:40"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("transitions %q, want %q", got, want)
	}
	s := mustState(t, h, "192.0.2.1", "z.test")
	if !s.ListedSince.Equal(at(10)) || !s.DelistedAt.IsZero() || !reflect.DeepEqual(s.Codes, []string{"127.0.0.4"}) {
		t.Fatalf("relisted state %+v", s)
	}
}

// TestHistoryCodeChange: a change of codes while listed is a damped
// listed→listed transition; the order of the codes does not matter.
func TestHistoryCodeChange(t *testing.T) {
	h := NewHistory(2, 0)
	h.Observe(listedAt("192.0.2.1", "zen.test", 0, "127.0.0.2", "127.0.0.10"))
	h.Observe(listedAt("192.0.2.1", "zen.test", 1, "127.0.0.10", "127.0.0.2"))
	if _, ok := h.Observe(listedAt("192.0.2.1", "zen.test", 2, "127.0.0.10", "127.0.0.2")); ok {
		t.Fatal("a reordering of the same codes was a transition")
	}
	if s := mustState(t, h, "192.0.2.1", "zen.test"); s.Pending != "" {
		t.Fatalf("reordered codes left a pending change: %+v", s)
	}

	r := listedAt("192.0.2.1", "zen.test", 3, "127.0.0.4")
	r.Severity, r.TXT = SeverityCritical, "xbl"
	if _, ok := h.Observe(r); ok {
		t.Fatal("a code change was recorded without damping")
	}
	s := mustState(t, h, "192.0.2.1", "zen.test")
	if s.Pending != StatusListed || s.PendingCount != 1 || !reflect.DeepEqual(s.PendingCodes, []string{"127.0.0.4"}) ||
		!reflect.DeepEqual(s.Codes, []string{"127.0.0.2", "127.0.0.10"}) {
		t.Fatalf("pending code change: %+v", s)
	}
	r.Checked = at(4)
	tr, ok := h.Observe(r)
	if !ok || tr.From != StatusListed || tr.To != StatusListed || !tr.At.Equal(at(3)) ||
		!reflect.DeepEqual(tr.PrevCodes, []string{"127.0.0.2", "127.0.0.10"}) ||
		!reflect.DeepEqual(tr.Codes, []string{"127.0.0.4"}) || tr.Severity != SeverityCritical || tr.TXT != "xbl" {
		t.Fatalf("code change transition %+v %v", tr, ok)
	}
	s = mustState(t, h, "192.0.2.1", "zen.test")
	if !s.ListedSince.Equal(at(0)) || !s.Since.Equal(at(0)) || !reflect.DeepEqual(s.Meanings, []string{"meaning of 127.0.0.4"}) ||
		s.Severity != SeverityCritical || s.PendingCodes != nil {
		t.Fatalf("after the code change, the listing still dates from the first result: %+v", s)
	}
}

// TestHistoryLatestDetails: while listed, TXT and severity follow the
// latest listed result.
func TestHistoryLatestDetails(t *testing.T) {
	h := NewHistory(1, 0)
	h.Observe(listedAt("192.0.2.1", "z.test", 0, "127.0.0.2"))
	r := listedAt("192.0.2.1", "z.test", 1, "127.0.0.2")
	r.TXT = "new text"
	h.Observe(r)
	if s := mustState(t, h, "192.0.2.1", "z.test"); s.TXT != "new text" || !s.LastSeenListed.Equal(at(1)) {
		t.Fatalf("state %+v, want the latest TXT", s)
	}
}

// TestHistoryGood: allow-list listings are tracked and carry their
// severity, and Listed leaves them out.
func TestHistoryGood(t *testing.T) {
	h := NewHistory(1, 0)
	good := listedAt("192.0.2.1", "list.dnswl.test", 0, "127.0.15.0")
	good.Severity = SeverityGood
	tr, ok := h.Observe(good)
	if !ok || tr.Severity != SeverityGood {
		t.Fatalf("allow-list transition %+v %v", tr, ok)
	}
	h.Observe(listedAt("192.0.2.1", "bl.test", 0, "127.0.0.2"))
	if l := h.Listed(); len(l) != 1 || l[0].Zone != "bl.test" {
		t.Fatalf("Listed() = %+v, want only bl.test", l)
	}
	good.Status, good.Checked = StatusClean, at(1)
	if tr, ok := h.Observe(good); !ok || tr.Severity != SeverityGood {
		t.Fatalf("leaving an allow list: %+v %v, want severity good", tr, ok)
	}
}

func TestHistoryStatesOrder(t *testing.T) {
	h := NewHistory(1, 0)
	h.Observe(cleanAt("192.0.2.10", "a.test", 0))
	h.Observe(cleanAt("example.org", "d.test", 0))
	h.Observe(cleanAt("192.0.2.9", "b.test", 0))
	h.Observe(cleanAt("192.0.2.9", "a.test", 0))
	h.Observe(listedAt("2001:db8::1", "a.test", 0, "127.0.0.2"))
	h.Observe(listedAt("192.0.2.200", "a.test", 0, "127.0.0.2"))
	h.Observe(errorAt("192.0.2.1", "a.test", 0, ErrTimeout))
	var got []string
	for _, s := range h.States() {
		got = append(got, s.Target+" "+s.Zone+" "+string(s.Status))
	}
	want := []string{
		"192.0.2.200 a.test listed",
		"2001:db8::1 a.test listed",
		"192.0.2.1 a.test unknown",
		"192.0.2.9 a.test clean",
		"192.0.2.9 b.test clean",
		"192.0.2.10 a.test clean",
		"example.org d.test clean",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("States order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if h.Len() != len(want) {
		t.Fatalf("Len %d, want %d", h.Len(), len(want))
	}
}

func TestHistoryTransitionsKeep(t *testing.T) {
	h := NewHistory(1, 3)
	for i := range 5 {
		h.Observe(listedAt(fmt.Sprintf("192.0.2.%d", i), "z.test", i, "127.0.0.2"))
	}
	all := h.Transitions(0)
	var got []string
	for _, tr := range all {
		got = append(got, tr.Target)
	}
	if want := []string{"192.0.2.4", "192.0.2.3", "192.0.2.2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("kept transitions %q, want %q", got, want)
	}
	if two := h.Transitions(2); len(two) != 2 || two[0].Target != "192.0.2.4" || two[1].Target != "192.0.2.3" {
		t.Fatalf("Transitions(2) = %+v", two)
	}
	if len(h.Transitions(10)) != 3 {
		t.Fatal("Transitions(10) did not return all three")
	}
	// The caller's copy is its own.
	all[0].Codes[0] = "changed"
	if h.Transitions(1)[0].Codes[0] != "127.0.0.2" {
		t.Fatal("Transitions shares its codes with the history")
	}
}

func TestHistoryPrune(t *testing.T) {
	h := NewHistory(1, 0)
	h.Observe(listedAt("192.0.2.1", "z.test", 0, "127.0.0.2"))
	h.Observe(cleanAt("192.0.2.2", "z.test", 5))
	h.Observe(errorAt("192.0.2.3", "z.test", 6, ErrTimeout))
	if n := h.Prune(at(5)); n != 1 {
		t.Fatalf("Prune removed %d, want 1", n)
	}
	if _, ok := h.State("192.0.2.1", "z.test"); ok {
		t.Fatal("pruned pair still there")
	}
	if h.Len() != 2 || len(h.Transitions(0)) != 1 {
		t.Fatalf("after Prune: %d pairs, %d transitions; want 2 and the transition kept", h.Len(), len(h.Transitions(0)))
	}
}

func TestHistoryStateJSON(t *testing.T) {
	h := NewHistory(1, 0)
	h.Observe(cleanAt("192.0.2.1", "z.test", 0))
	b, err := json.Marshal(mustState(t, h, "192.0.2.1", "z.test"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"listed_since", "delisted_at", "last_seen_listed", "last_error_at", "pending_since", "codes", "errors"} {
		if _, ok := m[k]; ok {
			t.Errorf("clean state's JSON has %q: %s", k, b)
		}
	}
	for _, k := range []string{"target", "zone", "list", "status", "since", "last_checked"} {
		if _, ok := m[k]; !ok {
			t.Errorf("clean state's JSON lacks %q: %s", k, b)
		}
	}
}

// busyHistory returns a history with pairs in every kind of state:
// unknown, clean, listed, pending either way, a pending code change,
// errors, and wrapped transitions.
func busyHistory() *History {
	h := NewHistory(2, 4)
	for i := range 3 {
		h.Observe(listedAt("192.0.2.1", "a.test", i, "127.0.0.2"))
		h.Observe(cleanAt("192.0.2.2", "a.test", i))
		h.Observe(cleanAt("192.0.2.2", "b.test", i))
		h.Observe(listedAt("example.org", "dbl.test", i, "127.0.1.2", "127.0.1.4"))
	}
	h.Observe(listedAt("192.0.2.1", "a.test", 3, "127.0.0.4")) // code change pending
	h.Observe(listedAt("192.0.2.2", "a.test", 3, "127.0.0.2")) // listing pending
	h.Observe(cleanAt("example.org", "dbl.test", 3))           // delisting pending
	h.Observe(errorAt("example.org", "dbl.test", 4, ErrServfail))
	h.Observe(errorAt("192.0.2.3", "a.test", 0, ErrTimeout)) // unknown
	for i := range 5 {
		h.Observe(listedAt(fmt.Sprintf("198.51.100.%d", i), "c.test", 0, "127.0.0.3"))
		h.Observe(listedAt(fmt.Sprintf("198.51.100.%d", i), "c.test", 1, "127.0.0.3"))
	}
	return h
}

// inUTC returns v with every time.Time in UTC, so that states restored
// from gob (which keeps offsets, not locations) compare with DeepEqual.
func inUTC[T any](v []T) []T {
	b, _ := json.Marshal(v)
	var out []T
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	rv := reflect.ValueOf(out)
	for i := range rv.Len() {
		e := rv.Index(i)
		for j := range e.NumField() {
			if f, ok := e.Field(j).Addr().Interface().(*time.Time); ok && !f.IsZero() {
				*f = f.UTC()
			}
		}
	}
	return out
}

func TestHistoryMarshalRoundTrip(t *testing.T) {
	h := busyHistory()
	data, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	g := NewHistory(2, 4)
	if err := g.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	assertSameHistory(t, h, g)

	// The restored history carries on where the saved one stopped: its
	// pending changes complete with one more result.
	tr, ok := g.Observe(listedAt("192.0.2.1", "a.test", 5, "127.0.0.4"))
	if !ok || tr.From != StatusListed || !tr.At.Equal(at(3)) {
		t.Fatalf("pending code change after restore: %+v %v", tr, ok)
	}
	if tr, ok := g.Observe(cleanAt("example.org", "dbl.test", 5)); !ok || tr.To != StatusClean || !tr.At.Equal(at(3)) {
		t.Fatalf("pending delisting after restore: %+v %v", tr, ok)
	}

	// A smaller keep drops the oldest transitions.
	small := NewHistory(2, 2)
	if err := small.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if got, want := inUTC(small.Transitions(0)), inUTC(h.Transitions(2)); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored into keep=2: %+v, want %+v", got, want)
	}
}

func assertSameHistory(t *testing.T, want, got *History) {
	t.Helper()
	if g, w := inUTC(got.States()), inUTC(want.States()); !reflect.DeepEqual(g, w) {
		t.Fatalf("restored states differ:\n got %+v\nwant %+v", g, w)
	}
	if g, w := inUTC(got.Transitions(0)), inUTC(want.Transitions(0)); !reflect.DeepEqual(g, w) {
		t.Fatalf("restored transitions differ:\n got %+v\nwant %+v", g, w)
	}
	if len(want.States()) == 0 || len(want.Transitions(0)) == 0 {
		t.Fatal("comparing empty histories")
	}
}

// TestHistoryStore saves the history in a real state store, reopens it and
// restores.
func TestHistoryStore(t *testing.T) {
	dir := t.TempDir()
	h := busyHistory()
	st, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(func(tx *state.Tx) error {
		if err := tx.Put("positions", "some-file", []byte("42")); err != nil {
			return err
		}
		return tx.Put("rbl", "history", data)
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	saved, err := st.Get("rbl", "history")
	if err != nil {
		t.Fatal(err)
	}
	g := NewHistory(2, 4)
	if err := g.UnmarshalBinary(saved); err != nil {
		t.Fatal(err)
	}
	assertSameHistory(t, h, g)
}

func TestHistoryUnmarshalErrors(t *testing.T) {
	good, err := busyHistory().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	encode := func(s savedHistory) []byte {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	entry := func(mod func(*savedEntry)) []byte {
		e := savedEntry{Target: "192.0.2.1", Status: stClean}
		mod(&e)
		return encode(savedHistory{Version: historyVersion, Zones: []savedZone{{Zone: "z.test", Lists: []string{"l"}, Entries: []savedEntry{e}}}})
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a saved history"},
		{"garbage", []byte("not gob at all"), "not a saved history"},
		{"truncated", good[:len(good)/2], "not a saved history"},
		{"version", encode(savedHistory{Version: 99}), "format version 99"},
		{"zone name", encode(savedHistory{Version: historyVersion, Zones: []savedZone{{Entries: []savedEntry{{Target: "x"}}}}}), "zone 0 has no name"},
		{"target", entry(func(e *savedEntry) { e.Target = "" }), "empty target"},
		{"list index", entry(func(e *savedEntry) { e.List = 3 }), "list index 3"},
		{"status", entry(func(e *savedEntry) { e.Status = 7 }), "status code 7"},
		{"listed without details", entry(func(e *savedEntry) { e.Status = stListed }), "listing details"},
		{"pending count", entry(func(e *savedEntry) { e.Pending = stListed; e.PendList = &savedListing{} }), "pending count 0"},
		{"count without pending", entry(func(e *savedEntry) { e.PendingCount = 2 }), "with nothing pending"},
		{"errors", entry(func(e *savedEntry) { e.Errors = -1 }), "negative error count"},
		{"twice", encode(savedHistory{Version: historyVersion, Zones: []savedZone{
			{Zone: "z.test", Lists: []string{"l"}, Entries: []savedEntry{{Target: "a", Status: stClean}}},
			{Zone: "z.test", Lists: []string{"l"}, Entries: []savedEntry{{Target: "a", Status: stClean}}},
		}}), "saved twice"},
		{"transition", encode(savedHistory{Version: historyVersion, Transitions: []Transition{{Target: "a", Zone: "z", From: "x", To: StatusListed}}}), `bad from status "x"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := busyHistory()
			before := inUTC(h.States())
			err := h.UnmarshalBinary(c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !reflect.DeepEqual(inUTC(h.States()), before) {
				t.Fatal("a failed UnmarshalBinary changed the history")
			}
		})
	}
}

// FuzzHistoryUnmarshal: no input panics, and whatever loads is a history
// that works: it observes, lists and saves again.
func FuzzHistoryUnmarshal(f *testing.F) {
	good, err := busyHistory().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add([]byte{})
	empty, _ := NewHistory(0, 0).MarshalBinary()
	f.Add(empty)
	f.Fuzz(func(t *testing.T, data []byte) {
		h := NewHistory(2, 3)
		if err := h.UnmarshalBinary(data); err != nil {
			if !strings.HasPrefix(err.Error(), "rbl history: restore: ") {
				t.Fatalf("error without the prefix: %v", err)
			}
			return
		}
		for _, s := range h.States() {
			h.Observe(listedAt(s.Target, s.Zone, 9, "127.0.0.2"))
			h.Observe(cleanAt(s.Target, s.Zone, 10))
			h.Observe(errorAt(s.Target, s.Zone, 11, ErrTimeout))
		}
		h.Listed()
		h.Transitions(2)
		again, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := NewHistory(2, 3).UnmarshalBinary(again); err != nil {
			t.Fatalf("a loaded history saves into something that does not load: %v", err)
		}
	})
}

// TestHistoryConcurrent observes from several goroutines while others
// read and save; run with -race.
func TestHistoryConcurrent(t *testing.T) {
	h := NewHistory(2, 50)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				target := fmt.Sprintf("192.0.2.%d", i%50)
				if (i/50+w)%2 == 0 {
					h.Observe(listedAt(target, "z.test", i, "127.0.0.2"))
				} else {
					h.Observe(cleanAt(target, "z.test", i))
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			h.States()
			h.Listed()
			h.Transitions(5)
			if _, err := h.MarshalBinary(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if h.Len() != 50 {
		t.Fatalf("%d pairs, want 50", h.Len())
	}
}

// BenchmarkHistoryObserve measures a steady-state cycle: every pair of a
// /16 × 4 zones established, most clean, one in 256 listed. One op is one
// Observe.
func BenchmarkHistoryObserve(b *testing.B) {
	zones := []string{"zen.test", "bl.test", "psbl.test", "bb.test"}
	base := netip.MustParseAddr("10.1.0.0")
	var results []Result
	a := base
	for i := range 1 << 16 {
		target := a.String()
		for _, z := range zones {
			r := cleanAt(target, z, 0)
			if i%256 == 0 {
				r = listedAt(target, z, 0, "127.0.0.2", "127.0.0.4")
			}
			results = append(results, r)
		}
		a = a.Next()
	}
	h := NewHistory(2, 0)
	for range 2 {
		for _, r := range results {
			h.Observe(r)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.Observe(results[i%len(results)])
	}
}

// BenchmarkHistorySave measures saving and restoring a /16 × 4 zones
// history, as the daemon does after each cycle and at start.
func BenchmarkHistorySave(b *testing.B) {
	h := NewHistory(2, 0)
	a := netip.MustParseAddr("10.1.0.0")
	for range 1 << 16 {
		for _, z := range []string{"zen.test", "bl.test", "psbl.test", "bb.test"} {
			h.Observe(cleanAt(a.String(), z, 0))
			h.Observe(cleanAt(a.String(), z, 1))
		}
		a = a.Next()
	}
	data, err := h.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.MarshalBinary(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := NewHistory(2, 0).UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
