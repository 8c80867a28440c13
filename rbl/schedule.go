package rbl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Scheduler runs blocklist check cycles on cron schedules (issue #3 item
// 5): one cycle of every list at Start, then a cycle whenever a schedule
// fires. Lists with a schedule of their own run on it, the others on the
// main schedule; schedules that fire at the same moment are merged into
// one cycle. Cycles never overlap: a tick that comes while a cycle is
// still running is skipped, logged and counted, so a slow cycle delays
// nothing but itself and the resolvers never see two cycles at once.
//
// The Scheduler only reads the cron expressions' firing times
// (cron.Schedule.Next) and keeps its own loop rather than running a
// cron.Cron, because merging entries that fire together and guarding
// against overlap across all of them both need one place that sees every
// entry.
type Scheduler struct {
	run     func(ctx context.Context, lists []string)
	log     *slog.Logger
	entries []schedEntry
	// all is every list name, sorted; a cycle that covers all of them is
	// passed to run as nil.
	all []string

	mu      sync.Mutex
	next    []time.Time // per entry, once started
	started bool
	stopped bool
	cancel  context.CancelFunc
	running bool
	skipped int
	wg      sync.WaitGroup
}

// schedEntry is one schedule and the lists it runs.
type schedEntry struct {
	// what names the schedule in logs and errors: "rbl.schedule" or the
	// list name of an override.
	what  string
	spec  string
	sched cron.Schedule
	// lists are the names the entry covers, sorted; nil means all (the
	// main schedule when no list names are known).
	lists []string
}

// NewScheduler parses the main schedule spec and the per-list overrides
// (list name -> spec) with cron.ParseStandard: five fields ("*/15 * * * *")
// or a descriptor (@hourly, @every 10m; @every needs a whole number of
// seconds, at least 1s). lists names every list the cycles check; each
// override must name one of them. run is called for each cycle with the
// names of the lists due, or nil when all of them are; logger may be nil.
//
// An error names the spec that is wrong and, for an override, its list.
func NewScheduler(spec string, lists []string, overrides map[string]string, run func(ctx context.Context, lists []string), logger *slog.Logger) (*Scheduler, error) {
	main, err := ParseSchedule(spec)
	if err != nil {
		return nil, fmt.Errorf("rbl schedule %q: %w", spec, err)
	}
	over := make(map[string]cron.Schedule, len(overrides))
	specs := make(map[string]string, len(overrides))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		s, err := ParseSchedule(overrides[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("rbl schedule of list %s %q: %w", name, overrides[name], err))
			continue
		}
		over[name], specs[name] = s, overrides[name]
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return newScheduler(spec, main, lists, specs, over, run, logger)
}

// newScheduler builds a Scheduler from parsed schedules; tests give it
// schedules that fire every few milliseconds, which cron expressions
// cannot.
func newScheduler(spec string, main cron.Schedule, lists []string, specs map[string]string, overrides map[string]cron.Schedule, run func(context.Context, []string), logger *slog.Logger) (*Scheduler, error) {
	if run == nil {
		return nil, errors.New("rbl schedule: no cycle function")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	all := slices.Clone(lists)
	slices.Sort(all)
	all = slices.Compact(all)
	s := &Scheduler{run: run, log: logger, all: all}

	var rest []string
	for _, name := range all {
		if _, ok := overrides[name]; !ok {
			rest = append(rest, name)
		}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(overrides)) {
		if _, ok := slices.BinarySearch(all, name); !ok {
			errs = append(errs, fmt.Errorf("rbl schedule of list %s: no such list is checked (lists: %s)", name, strings.Join(all, ", ")))
			continue
		}
		s.entries = append(s.entries, schedEntry{what: name, spec: specs[name], sched: overrides[name], lists: []string{name}})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	switch {
	case len(all) == 0:
		// No names known: the main schedule runs everything.
		s.entries = append(s.entries, schedEntry{what: "rbl.schedule", spec: spec, sched: main})
	case len(rest) > 0:
		s.entries = append(s.entries, schedEntry{what: "rbl.schedule", spec: spec, sched: main, lists: rest})
	}
	// (When every list has its own schedule the main one runs nothing.)
	return s, nil
}

// ParseSchedule parses a cron expression the way NewScheduler documents;
// the configuration uses it to validate rbl.schedule and rbl.schedules.
func ParseSchedule(spec string) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	// cron.ParseStandard slices out of range on a time zone prefix with
	// nothing after it ("TZ=UTC"); refuse that before it gets there, and
	// turn any other panic of the parser into an error.
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, errors.New("a time zone needs a schedule after it (\"CRON_TZ=Europe/Berlin 0 3 * * *\")")
	}
	defer func() {
		if p := recover(); p != nil {
			sched, err = nil, fmt.Errorf("not a cron expression (%v)", p)
		}
	}()
	sched, err = cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	if _, ok := sched.(cron.ConstantDelaySchedule); ok {
		// The parser rounds a delay up to a second and truncates
		// fractions silently; say so instead.
		_, d, _ := strings.Cut(spec, "@every ")
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < time.Second || dur%time.Second != 0 {
			return nil, errors.New("@every needs a whole number of seconds, at least 1s")
		}
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, errors.New("it never fires")
	}
	return sched, nil
}

// Start runs a cycle of every list at once and then cycles as the
// schedules fire, until Stop or until ctx is cancelled. The context passed
// to run is derived from ctx and cancelled by Stop. Start returns at once;
// calling it again, or after Stop, does nothing.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		s.log.Warn("rbl scheduler already started or stopped; Start ignored")
		return
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	now := time.Now()
	s.next = make([]time.Time, len(s.entries))
	for i, e := range s.entries {
		s.next[i] = e.sched.Next(now)
	}
	s.startLocked(ctx, nil, "start")
	s.wg.Add(1)
	go s.loop(ctx)
}

// loop waits for the earliest schedule to fire and starts its cycle.
func (s *Scheduler) loop(ctx context.Context) {
	defer s.wg.Done()
	defer func() {
		// Stopped, or ctx was cancelled: nothing is due any more.
		s.mu.Lock()
		s.next = nil
		s.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		wake := s.earliestLocked()
		s.mu.Unlock()
		if wake.IsZero() {
			// No schedule fires again.
			<-ctx.Done()
			return
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		s.tick(ctx, time.Now())
	}
}

// tick starts the cycle of every entry due at now, merged, unless a cycle
// is running. Every due entry moves to its next firing after now: firings
// missed while the machine was suspended are not run one by one.
func (s *Scheduler) tick(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || ctx.Err() != nil {
		return
	}
	var due []int
	for i, e := range s.entries {
		if n := s.next[i]; !n.IsZero() && !n.After(now) {
			due = append(due, i)
			s.next[i] = e.sched.Next(now)
		}
	}
	if len(due) == 0 {
		// Woken early by a wall clock step; the loop sleeps again.
		return
	}
	lists, whats := s.mergeLocked(due)
	if !s.startLocked(ctx, lists, strings.Join(whats, ", ")) {
		s.skipped++
		s.log.Warn("rbl cycle skipped: the previous cycle is still running",
			"schedules", whats, "lists", listsAttr(lists), "skipped_total", s.skipped)
	}
}

// mergeLocked returns the lists of the due entries (nil for all) and the
// names of their schedules.
func (s *Scheduler) mergeLocked(due []int) (lists, whats []string) {
	for _, i := range due {
		e := s.entries[i]
		whats = append(whats, e.what)
		if e.lists == nil {
			return nil, whats
		}
		lists = append(lists, e.lists...)
	}
	slices.Sort(lists)
	lists = slices.Compact(lists)
	if len(lists) == len(s.all) {
		return nil, whats
	}
	return lists, whats
}

// startLocked starts a cycle of lists unless one is running, and reports
// whether it did.
func (s *Scheduler) startLocked(ctx context.Context, lists []string, why string) bool {
	if s.running {
		return false
	}
	s.running = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
		}()
		start := time.Now()
		s.log.Debug("rbl cycle started", "by", why, "lists", listsAttr(lists))
		s.run(ctx, lists)
		s.log.Debug("rbl cycle finished", "by", why, "lists", listsAttr(lists), "took", time.Since(start))
	}()
	return true
}

func listsAttr(lists []string) any {
	if lists == nil {
		return "all"
	}
	return lists
}

func (s *Scheduler) earliestLocked() time.Time {
	var t time.Time
	for _, n := range s.next {
		if !n.IsZero() && (t.IsZero() || n.Before(t)) {
			t = n
		}
	}
	return t
}

// Next returns when the next cycle is due: the earliest next firing of
// the schedules (computed from now before Start), or the zero time after
// Stop.
func (s *Scheduler) Next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return time.Time{}
	case s.started:
		return s.earliestLocked()
	}
	var t time.Time
	now := time.Now()
	for _, e := range s.entries {
		if n := e.sched.Next(now); !n.IsZero() && (t.IsZero() || n.Before(t)) {
			t = n
		}
	}
	return t
}

// Skipped returns how many ticks were skipped because a cycle was still
// running.
func (s *Scheduler) Skipped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// Stop cancels the running cycle's context, stops the schedules and waits
// for the cycle to return. It may be called more than once, and before
// Start.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	s.stopped = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
