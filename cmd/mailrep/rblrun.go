package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/internal/state"
	"github.com/mailrep/mailrep/rbl"
	"github.com/mailrep/mailrep/scoring"
)

// State-store keys of the blocklist monitor.
const (
	bucketRBL  = "rbl"
	keyHistory = "history"
)

// maxLogDomains bounds the sender domains taken from the logs per cycle:
// the busiest ones are checked, so a host with tens of thousands of
// customer domains does not flood the domain lists.
const maxLogDomains = 1000

// pruneAfter is how long the history keeps a (target, zone) pair that no
// cycle checks any more.
const pruneAfter = 7 * 24 * time.Hour

// rblMonitor runs the scheduled blocklist checks inside "mailrep run":
// each cycle checks the configured targets and the outbound IPs and
// sender domains the logs show, feeds the results to the history and
// saves it; GET /api/v1/rbl serves the current states.
type rblMonitor struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *state.Store
	setup   *rblSetup
	checker *rbl.Checker
	hist    *rbl.History
	sched   *rbl.Scheduler
	// fromLogs returns the outbound IPs and sender domains seen in the
	// logs, busiest first.
	fromLogs func() (ips, domains []string)

	mu     sync.Mutex // guards last
	last   *cycleInfo
	cycles int
}

// cycleInfo is what the status API shows of the last cycle.
type cycleInfo struct {
	Started  time.Time        `json:"started"`
	Finished time.Time        `json:"finished"`
	Lists    []string         `json:"lists"`
	Targets  int              `json:"targets"`
	Summary  rbl.Summary      `json:"summary"`
	Zones    []rbl.ZoneHealth `json:"zones"`
	RDNS     []rbl.RDNS       `json:"rdns,omitempty"`
}

func newRBLMonitor(cfg *config.Config, store *state.Store, fromLogs func() ([]string, []string), logger *slog.Logger) (*rblMonitor, error) {
	setup, err := newRBLSetup(cfg, nil, nil, 0)
	if err != nil {
		return nil, err
	}
	for _, f := range setup.findings {
		logger.Warn("blocklist configuration", "severity", f.Severity, "list", f.List, "finding", f.Message)
	}
	m := &rblMonitor{
		cfg: cfg, log: logger, store: store, setup: setup, fromLogs: fromLogs,
		checker: setup.checker(cfg, cfg.RBL.RDNS),
		hist:    rbl.NewHistory(cfg.RBL.Damping, cfg.RBL.History),
	}
	if b, err := store.Get(bucketRBL, keyHistory); err != nil {
		return nil, fmt.Errorf("reading the listing history: %w", err)
	} else if b != nil {
		if err := m.hist.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("state store %s: listing history: %w", store.Path(), err)
		}
	}
	names := make([]string, len(setup.lists))
	overrides := map[string]string{}
	for i, l := range setup.lists {
		names[i] = l.Name
		if l.Schedule != "" {
			overrides[l.Name] = l.Schedule
		}
		for k, spec := range cfg.RBL.Schedules {
			if k == l.Name || k == l.Zone {
				overrides[l.Name] = spec
			}
		}
	}
	m.sched, err = rbl.NewScheduler(cfg.RBL.Schedule, names, overrides, m.cycle, logger)
	if err != nil {
		return nil, usageError{err}
	}
	return m, nil
}

// targets are the configured targets plus, with rbl.targets.from_logs,
// the outbound IPs and the busiest sender domains of the logs.
func (m *rblMonitor) targets() []rbl.Target {
	var args []string
	if t, err := configuredTargets(m.cfg); err != nil {
		m.log.Error("rbl.targets", "err", err)
	} else {
		for _, x := range t {
			args = append(args, x.String())
		}
	}
	if m.cfg.RBL.Targets.FromLogs && m.fromLogs != nil {
		ips, domains := m.fromLogs()
		args = append(args, ips...)
		args = append(args, domains[:min(len(domains), maxLogDomains)]...)
	}
	var out []rbl.Target
	for _, a := range args {
		// One by one, so that a garbled domain from a log line drops only
		// itself.
		t, err := rbl.ParseTargets([]string{a})
		if err != nil {
			m.log.Debug("not a blocklist target", "target", a, "err", err)
			continue
		}
		out = append(out, t...)
	}
	seen := map[rbl.Target]bool{}
	return slices.DeleteFunc(out, func(t rbl.Target) bool {
		dup := seen[t]
		seen[t] = true
		return dup
	})
}

// cycle runs one check of the lists named (nil: all), records the results
// in the history and saves it.
func (m *rblMonitor) cycle(ctx context.Context, names []string) {
	lists := m.setup.lists
	if names != nil {
		lists = slices.DeleteFunc(slices.Clone(lists), func(l *rbl.List) bool { return !slices.Contains(names, l.Name) })
	}
	targets := m.targets()
	if len(lists) == 0 || len(targets) == 0 {
		m.log.Info("blocklist cycle skipped: nothing to check", "lists", len(lists), "targets", len(targets))
		return
	}
	rep := m.checker.Check(ctx, lists, targets)
	if ctx.Err() != nil {
		// Stopped mid-cycle: the lookups not done are errors of our own
		// making, not news about the lists.
		m.log.Info("blocklist cycle interrupted; results not recorded")
		return
	}
	var changed []rbl.Transition
	for _, r := range rep.Results {
		if t, ok := m.hist.Observe(r); ok {
			changed = append(changed, t)
		}
	}
	for _, t := range changed {
		m.log.Warn("blocklist state changed", "target", t.Target, "list", t.List, "zone", t.Zone,
			"from", t.From, "to", t.To, "codes", t.Codes, "txt", t.TXT)
	}
	// Forget pairs no cycle has checked for a week: targets that left
	// the configuration or the logs. Their transitions stay.
	if n := m.hist.Prune(time.Now().Add(-pruneAfter)); n > 0 {
		m.log.Info("listing history: forgot targets no longer checked", "pairs", n)
	}
	if err := m.save(); err != nil {
		m.log.Error("saving the listing history", "err", err)
	}
	info := &cycleInfo{Started: rep.Started, Finished: rep.Finished, Targets: rep.Summary.Targets,
		Summary: rep.Summary, Zones: rep.Zones, RDNS: rep.RDNS}
	for _, l := range lists {
		info.Lists = append(info.Lists, l.Name)
	}
	m.mu.Lock()
	m.last = info
	m.cycles++
	m.mu.Unlock()
	m.log.Info("blocklist cycle done", "targets", rep.Summary.Targets, "lists", len(lists),
		"listed", rep.Summary.Listed, "errors", rep.Summary.Errors, "unhealthy_zones", rep.Summary.UnhealthyZones,
		"transitions", len(changed), "took", rep.Finished.Sub(rep.Started).Round(time.Millisecond))
}

// save writes the history to the state store.
func (m *rblMonitor) save() error {
	b, err := m.hist.MarshalBinary()
	if err != nil {
		return err
	}
	return m.store.Update(func(tx *state.Tx) error { return tx.Put(bucketRBL, keyHistory, b) })
}

// RBLResponse is the body of GET /api/v1/rbl.
type RBLResponse struct {
	// States are the current per (target, zone) states, listed first.
	States []rbl.State `json:"states"`
	// Transitions are the most recent state changes, newest first.
	Transitions []rbl.Transition `json:"transitions"`
	// LastCycle describes the last finished cycle (null before the first).
	LastCycle *cycleInfo `json:"last_cycle"`
	// Cycles counts the cycles finished since the daemon started.
	Cycles int `json:"cycles"`
	// NextCycle is when the schedule fires next.
	NextCycle time.Time `json:"next_cycle"`
	// Damping is how many agreeing results change a state.
	Damping int `json:"damping"`
}

// serveRBL handles GET /api/v1/rbl[?listed=1][&transitions=N].
func (m *rblMonitor) serveRBL(w http.ResponseWriter, r *http.Request) {
	n := 100
	if s := r.URL.Query().Get("transitions"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			http.Error(w, "transitions: want a non-negative integer", http.StatusBadRequest)
			return
		}
		n = v
	}
	states := m.hist.States()
	if r.URL.Query().Get("listed") == "1" {
		states = m.hist.Listed()
	}
	m.mu.Lock()
	resp := RBLResponse{States: states, Transitions: m.hist.Transitions(n), LastCycle: m.last, Cycles: m.cycles,
		NextCycle: m.sched.Next(), Damping: m.cfg.RBL.Damping}
	m.mu.Unlock()
	if resp.States == nil {
		resp.States = []rbl.State{}
	}
	if resp.Transitions == nil {
		resp.Transitions = []rbl.Transition{}
	}
	writeJSON(w, resp)
}

// logTargets returns the outbound IPs and sender domains of the ledger's
// largest window, busiest first. It is rblMonitor.fromLogs.
func (d *daemon) logTargets() (ips, domains []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.led.Lifetime()
	if ws := d.led.Windows(); len(ws) > 0 {
		t = d.led.Window(ws[len(ws)-1], d.led.Latest())
	}
	sorted := func(m map[string]*scoring.Counters) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			return cmp.Or(cmp.Compare(m[b].Activity(), m[a].Activity()), cmp.Compare(a, b))
		})
		return keys
	}
	return sorted(t.IPs), sorted(t.Domains)
}
