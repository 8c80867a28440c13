package rbl

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// every fires at the multiples of d plus offset, so that schedules with
// related periods fire at the same instants, like cron expressions do at
// the same minute. Cron expressions cannot fire more than once a second,
// and these tests must not wait for seconds.
type every struct{ d, offset time.Duration }

func (e every) Next(t time.Time) time.Time {
	return t.Add(-e.offset).Truncate(e.d).Add(e.d + e.offset)
}

// far fires an hour from whenever it is asked.
type far struct{}

func (far) Next(t time.Time) time.Time { return t.Add(time.Hour) }

// recorder is a cycle function that records its calls and how many ran
// at once.
type recorder struct {
	mu        sync.Mutex
	calls     [][]string
	active    int
	maxActive int
	// hold, if set, is received from before a cycle returns (or until
	// the cycle's context is cancelled).
	hold chan struct{}
}

func (r *recorder) run(ctx context.Context, lists []string) {
	r.mu.Lock()
	r.calls = append(r.calls, lists)
	r.active++
	r.maxActive = max(r.maxActive, r.active)
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	r.active--
	r.mu.Unlock()
}

func (r *recorder) snapshot() (calls [][]string, maxActive int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.calls...), r.maxActive
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// waitFor polls cond until it holds, failing the test after a deadline
// generous enough for a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testScheduler(t *testing.T, main cron.Schedule, lists []string, overrides map[string]cron.Schedule, run func(context.Context, []string)) *Scheduler {
	t.Helper()
	specs := map[string]string{}
	for name := range overrides {
		specs[name] = "test schedule"
	}
	s, err := newScheduler("test schedule", main, lists, specs, overrides, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func TestSchedulerStartAndTicks(t *testing.T) {
	var r recorder
	s := testScheduler(t, every{d: 50 * time.Millisecond}, []string{"a", "b"}, nil, r.run)
	s.Start(context.Background())
	waitFor(t, "three cycles", func() bool { return r.count() >= 3 })
	s.Stop()
	calls, _ := r.snapshot()
	for i, c := range calls {
		if c != nil {
			t.Errorf("cycle %d got lists %q, want nil (all)", i, c)
		}
	}
	n := r.count()
	time.Sleep(150 * time.Millisecond)
	if r.count() != n {
		t.Fatalf("%d cycles ran after Stop", r.count()-n)
	}
	if !s.Next().IsZero() {
		t.Fatalf("Next() after Stop = %v, want zero", s.Next())
	}
}

// TestSchedulerRunsAtStart: the first cycle does not wait for the
// schedule.
func TestSchedulerRunsAtStart(t *testing.T) {
	var r recorder
	s := testScheduler(t, far{}, nil, nil, r.run)
	before := s.Next()
	if before.Before(time.Now().Add(50 * time.Minute)) {
		t.Fatalf("Next() before Start = %v, want about an hour from now", before)
	}
	s.Start(context.Background())
	waitFor(t, "the first cycle", func() bool { return r.count() == 1 })
	if n := s.Next(); n.Before(time.Now().Add(50 * time.Minute)) {
		t.Fatalf("Next() = %v, want about an hour from now", n)
	}
	s.Start(context.Background()) // a second Start does nothing
	time.Sleep(50 * time.Millisecond)
	if r.count() != 1 {
		t.Fatalf("%d cycles, want only the one at start", r.count())
	}
}

func TestSchedulerSkipsOverlap(t *testing.T) {
	r := recorder{hold: make(chan struct{})}
	s := testScheduler(t, every{d: 20 * time.Millisecond}, nil, nil, r.run)
	s.Start(context.Background())
	waitFor(t, "two skipped ticks", func() bool { return s.Skipped() >= 2 })
	if n := r.count(); n != 1 {
		t.Fatalf("%d cycles started while the first was running, want 1", n)
	}
	close(r.hold)
	waitFor(t, "a cycle after the slow one", func() bool { return r.count() >= 2 })
	s.Stop()
	if _, most := r.snapshot(); most != 1 {
		t.Fatalf("%d cycles ran at once", most)
	}
}

// TestSchedulerOverrides: a list with its own schedule runs alone on it,
// the others on the main schedule.
func TestSchedulerOverrides(t *testing.T) {
	var r recorder
	s := testScheduler(t, every{d: 200 * time.Millisecond, offset: 50 * time.Millisecond},
		[]string{"b", "a", "fast"},
		map[string]cron.Schedule{"fast": every{d: 200 * time.Millisecond, offset: 150 * time.Millisecond}},
		r.run)
	s.Start(context.Background())
	seen := func(want []string) bool {
		calls, _ := r.snapshot()
		for _, c := range calls[1:] {
			if reflect.DeepEqual(c, want) {
				return true
			}
		}
		return false
	}
	waitFor(t, "cycles of both schedules", func() bool {
		return r.count() > 1 && seen([]string{"fast"}) && seen([]string{"a", "b"})
	})
	s.Stop()
	calls, _ := r.snapshot()
	if calls[0] != nil {
		t.Errorf("cycle at start got %q, want nil (all)", calls[0])
	}
	for _, c := range calls[1:] {
		if !reflect.DeepEqual(c, []string{"fast"}) && !reflect.DeepEqual(c, []string{"a", "b"}) {
			t.Errorf("a cycle got lists %q", c)
		}
	}
}

// TestSchedulerMerge: schedules that fire at the same instant make one
// cycle.
func TestSchedulerMerge(t *testing.T) {
	var r recorder
	s := testScheduler(t, every{d: 200 * time.Millisecond},
		[]string{"a", "fast", "slow"},
		map[string]cron.Schedule{
			"fast": every{d: 100 * time.Millisecond},
			"slow": far{},
		},
		r.run)
	s.Start(context.Background())
	merged := func() bool {
		calls, _ := r.snapshot()
		for _, c := range calls[1:] {
			if reflect.DeepEqual(c, []string{"a", "fast"}) {
				return true
			}
		}
		return false
	}
	waitFor(t, "a merged cycle", func() bool { return r.count() > 1 && merged() })
	s.Stop()
	calls, _ := r.snapshot()
	for _, c := range calls[1:] {
		// "a" alone would mean the main schedule fired without the
		// override that fires at the same instant.
		if !reflect.DeepEqual(c, []string{"fast"}) && !reflect.DeepEqual(c, []string{"a", "fast"}) {
			t.Errorf("a cycle got lists %q, want [fast] or [a fast]", c)
		}
	}
}

// TestSchedulerStopWaits: Stop cancels the cycle's context and returns
// only after the cycle has.
func TestSchedulerStopWaits(t *testing.T) {
	started := make(chan struct{})
	var mu sync.Mutex
	finished := false
	s := testScheduler(t, far{}, nil, nil, func(ctx context.Context, _ []string) {
		close(started)
		<-ctx.Done()
		time.Sleep(100 * time.Millisecond) // winding down
		mu.Lock()
		finished = true
		mu.Unlock()
	})
	s.Start(context.Background())
	<-started
	s.Stop()
	mu.Lock()
	defer mu.Unlock()
	if !finished {
		t.Fatal("Stop returned before the running cycle")
	}
	s.Stop() // again: no effect
}

// TestSchedulerParentCancel: cancelling Start's context ends the loop and
// the running cycle.
func TestSchedulerParentCancel(t *testing.T) {
	r := recorder{hold: make(chan struct{})}
	s := testScheduler(t, every{d: 20 * time.Millisecond}, nil, nil, r.run)
	ctx, cancel := context.WithCancel(context.Background())
	s.Start(ctx)
	waitFor(t, "the first cycle", func() bool { return r.count() == 1 })
	cancel()
	waitFor(t, "the cycle to end", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.active == 0
	})
	waitFor(t, "Next to report nothing due", func() bool { return s.Next().IsZero() })
	s.Stop()
	if n := r.count(); n != 1 {
		t.Fatalf("%d cycles after cancellation, want 1", n)
	}
}

// TestSchedulerCron runs a real cron expression: a cycle at start and one
// on the next whole second.
func TestSchedulerCron(t *testing.T) {
	var r recorder
	s, err := NewScheduler("@every 1s", []string{"a"}, nil, r.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if n := time.Until(s.Next()); n <= 0 || n > time.Second {
		t.Fatalf("Next() is %v from now, want within a second", n)
	}
	s.Start(context.Background())
	waitFor(t, "a cycle on the tick", func() bool { return r.count() >= 2 })
	s.Stop()
	calls, _ := r.snapshot()
	if calls[0] != nil || calls[1] != nil {
		t.Fatalf("cycles got %q, want nil (all) twice", calls[:2])
	}
}

func TestSchedulerSpecs(t *testing.T) {
	noop := func(context.Context, []string) {}
	lists := []string{"spamhaus-zen", "spamcop"}
	good := []struct {
		spec      string
		overrides map[string]string
	}{
		{"*/15 * * * *", nil},
		{"@hourly", map[string]string{"spamcop": "0 */6 * * *"}},
		{"@every 10m", map[string]string{"spamcop": "@daily", "spamhaus-zen": "CRON_TZ=Europe/Berlin 30 3 * * 1-5"}},
	}
	for _, g := range good {
		if _, err := NewScheduler(g.spec, lists, g.overrides, noop, nil); err != nil {
			t.Errorf("NewScheduler(%q, %v): %v", g.spec, g.overrides, err)
		}
	}
	bad := []struct {
		spec      string
		overrides map[string]string
		want      []string
	}{
		{"", nil, []string{`rbl schedule ""`}},
		{"*/15 * * *", nil, []string{`rbl schedule "*/15 * * *"`, "expected exactly 5 fields"}},
		{"@every 200ms", nil, []string{"whole number of seconds"}},
		{"@every 1500ms", nil, []string{"whole number of seconds"}},
		{"@every -1m", nil, []string{"at least 1s"}},
		{"0 0 30 2 *", nil, []string{"never fires"}},
		{"TZ=UTC", nil, []string{"needs a schedule after it"}},
		{"CRON_TZ=Nowhere/Else 0 * * * *", nil, []string{"bad location"}},
		{"@hourly", map[string]string{"spamcop": "61 * * * *"}, []string{`rbl schedule of list spamcop "61 * * * *"`}},
		{"@hourly", map[string]string{"spamcop": "@weekly", "psbl": "@daily"}, []string{"list psbl: no such list"}},
		{"@hourly", map[string]string{"spamcop": "x", "spamhaus-zen": "y"}, []string{"list spamcop", "list spamhaus-zen"}},
	}
	for _, b := range bad {
		_, err := NewScheduler(b.spec, lists, b.overrides, noop, nil)
		if err == nil {
			t.Errorf("NewScheduler(%q, %v) accepted it", b.spec, b.overrides)
			continue
		}
		for _, w := range b.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("NewScheduler(%q, %v): error %q does not say %q", b.spec, b.overrides, err, w)
			}
		}
	}
	if _, err := NewScheduler("@hourly", nil, nil, nil, nil); err == nil {
		t.Error("NewScheduler accepted a nil cycle function")
	}
}

// TestSchedulerAllOverridden: when every list has its own schedule, the
// main one runs nothing and Next comes from the overrides.
func TestSchedulerAllOverridden(t *testing.T) {
	var r recorder
	s := testScheduler(t, every{d: 10 * time.Millisecond}, []string{"a"},
		map[string]cron.Schedule{"a": far{}}, r.run)
	if n := time.Until(s.Next()); n < 50*time.Minute {
		t.Fatalf("Next() is %v from now, want the override's hour", n)
	}
	s.Start(context.Background())
	time.Sleep(100 * time.Millisecond)
	if n := r.count(); n != 1 {
		t.Fatalf("%d cycles, want only the one at start", n)
	}
}

// FuzzScheduleSpec: no schedule expression panics, and an accepted one
// fires.
func FuzzScheduleSpec(f *testing.F) {
	for _, s := range []string{"*/15 * * * *", "@every 10m", "@hourly", "TZ=UTC", "CRON_TZ=UTC 0 3 * * *", "0 0 30 2 *", "1-5/2 */3 * JAN-MAR MON,FRI"} {
		f.Add(s)
	}
	noop := func(context.Context, []string) {}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := NewScheduler(spec, nil, nil, noop, nil)
		if err != nil {
			return
		}
		if s.Next().IsZero() {
			t.Fatalf("accepted %q, which never fires", spec)
		}
	})
}
