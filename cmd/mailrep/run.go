package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/correlate"
	"github.com/mailrep/mailrep/ingest/pipeline"
	"github.com/mailrep/mailrep/ingest/source"
	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/internal/state"
	"github.com/mailrep/mailrep/scoring"
)

// State store keys. Positions, correlator and ledger are written in one
// transaction, so a saved position never runs ahead of the counts it covers.
const (
	bucketIngest  = "ingest"
	keyPositions  = "positions"
	keyCorrelator = "correlator"
	keyLedger     = "ledger"
	keyLines      = "lines"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "[-c FILE]",
		"Follow the configured log files (rotation-safe, positions saved in the state\n"+
			"directory), count outbound outcomes per account, IP and sender domain in\n"+
			"sliding windows, check the shared IPs and sending domains on DNS blocklists\n"+
			"on the rbl.schedule, and serve GET /healthz, /api/v1/summary and /api/v1/rbl.\n"+
			"SIGTERM or SIGINT saves state and exits.", stdout)
	cfg, from, err := loadConfigOnly(fs, args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if len(cfg.Sources) == 0 {
		return usagef("no log file to watch (configuration: %s); none of %v exists here: add sources", from, config.DefaultSourceCandidates())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := newDaemon(cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	logger.Info("mailrep starting", "config", from, "sources", len(cfg.Sources), "state", d.store.Path(), "listen", cfg.HTTP.Listen)
	return d.run(ctx, nil)
}

// daemon is "mailrep run": tailer → pipeline → ledger, checkpoints, HTTP.
type daemon struct {
	cfg   *config.Config
	log   *slog.Logger
	store *state.Store

	mu        sync.Mutex // guards everything below
	led       *scoring.Ledger
	pipe      *pipeline.Pipeline
	inputs    map[string]*pipeline.Input
	positions map[string]source.Position
	dirty     bool
	lastSaved time.Time
	started   time.Time

	// rbl runs the scheduled blocklist checks (nil: rbl.enabled false).
	rbl *rblMonitor
}

// savedLines is the JSON form of the line counters.
type savedLines struct {
	Stats  ingest.LineStats `json:"stats"`
	Inputs map[string]int64 `json:"inputs"`
}

func newDaemon(cfg *config.Config, logger *slog.Logger) (*daemon, error) {
	store, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	d := &daemon{
		cfg:       cfg,
		log:       logger,
		store:     store,
		led:       scoring.NewLedger(attribution(cfg), &cfg.IPs, cfg.Windows...),
		inputs:    make(map[string]*pipeline.Input),
		positions: make(map[string]source.Position),
		started:   time.Now(),
	}
	d.pipe = pipeline.New(correlatorConfig(cfg), d.led, logger)
	for _, s := range cfg.Sources {
		d.inputs[s.Path] = d.pipe.Input(s.Path, pipeline.InputOptions{Host: s.Host, Year: s.Year})
	}
	if err := d.restore(); err != nil {
		store.Close()
		return nil, err
	}
	if cfg.RBL.Enabled {
		if d.rbl, err = newRBLMonitor(cfg, store, d.logTargets, logger); err != nil {
			store.Close()
			return nil, err
		}
	}
	return d, nil
}

// restore loads the last checkpoint. A missing checkpoint is a first start.
func (d *daemon) restore() error {
	get := func(key string) ([]byte, error) {
		b, err := d.store.Get(bucketIngest, key)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the state store: %w", key, err)
		}
		return b, nil
	}
	pos, err := get(keyPositions)
	if err != nil || pos == nil {
		return err
	}
	if err := json.Unmarshal(pos, &d.positions); err != nil {
		return fmt.Errorf("state store %s: positions: %w", d.store.Path(), err)
	}
	if b, err := get(keyCorrelator); err != nil {
		return err
	} else if b != nil {
		if err := d.pipe.Correlator().UnmarshalBinary(b); err != nil {
			return fmt.Errorf("state store %s: %w", d.store.Path(), err)
		}
	}
	if b, err := get(keyLedger); err != nil {
		return err
	} else if b != nil {
		if err := d.led.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("state store %s: %w", d.store.Path(), err)
		}
	}
	if b, err := get(keyLines); err != nil {
		return err
	} else if b != nil {
		var sl savedLines
		if err := json.Unmarshal(b, &sl); err != nil {
			return fmt.Errorf("state store %s: lines: %w", d.store.Path(), err)
		}
		d.pipe.SetStats(sl.Stats)
		for p, n := range sl.Inputs {
			if in := d.inputs[p]; in != nil {
				in.SetLines(n)
			}
		}
	}
	d.log.Info("resumed from checkpoint", "positions", len(d.positions), "correlator", d.pipe.Correlator().Stats().Live)
	return nil
}

// checkpoint saves positions, correlator, ledger and line counts in one
// transaction.
func (d *daemon) checkpoint() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.dirty {
		return nil
	}
	pos, err := json.Marshal(d.positions)
	if err != nil {
		return err
	}
	corr, err := d.pipe.Correlator().MarshalBinary()
	if err != nil {
		return err
	}
	led, err := d.led.MarshalBinary()
	if err != nil {
		return err
	}
	sl := savedLines{Stats: d.pipe.Stats(), Inputs: make(map[string]int64)}
	for p, in := range d.inputs {
		sl.Inputs[p] = in.Lines()
	}
	lines, err := json.Marshal(sl)
	if err != nil {
		return err
	}
	err = d.store.Update(func(tx *state.Tx) error {
		for _, kv := range [...]struct {
			k string
			v []byte
		}{{keyPositions, pos}, {keyCorrelator, corr}, {keyLedger, led}, {keyLines, lines}} {
			if err := tx.Put(bucketIngest, kv.k, kv.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	d.dirty = false
	d.lastSaved = time.Now()
	return nil
}

func (d *daemon) close() {
	if err := d.store.Close(); err != nil {
		d.log.Error("closing state store", "err", err)
	}
}

// run follows the sources until ctx ends, then saves state. If ready is
// not nil it receives the HTTP listener's address once serving (tests).
func (d *daemon) run(ctx context.Context, ready chan<- string) error {
	var srv *http.Server
	if d.cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http.listen %s: %w", d.cfg.HTTP.Listen, err)
		}
		srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("http server", "err", err)
			}
		}()
		if ready != nil {
			ready <- ln.Addr().String()
		}
	} else if ready != nil {
		ready <- ""
	}

	if d.rbl != nil {
		d.rbl.sched.Start(ctx)
		defer d.rbl.sched.Stop()
	}

	paths := make([]string, 0, len(d.cfg.Sources))
	for _, s := range d.cfg.Sources {
		paths = append(paths, s.Path)
	}
	d.mu.Lock()
	start := make(map[string]source.Position, len(d.positions))
	for k, v := range d.positions {
		start[k] = v
	}
	d.mu.Unlock()
	tailer := source.NewTailer(paths, start, d.log)
	tailer.MaxLine = pipeline.MaxLine
	lines := make(chan source.Line, 4096)
	tctx, cancelTail := context.WithCancel(ctx)
	defer cancelTail()
	tailDone := make(chan error, 1)
	go func() { tailDone <- tailer.Run(tctx, lines) }()

	interval := d.cfg.CheckpointInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case l := <-lines:
			d.consume(l)
		case <-tick.C:
			if err := d.checkpoint(); err != nil {
				d.log.Error("checkpoint failed; will retry", "err", err)
			}
		case err := <-tailDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				runErr = err
			}
			break loop
		}
	}
	// The tailer has stopped: what it already sent is read, count it.
	for {
		select {
		case l := <-lines:
			d.consume(l)
			continue
		default:
		}
		break
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	if err := d.checkpoint(); err != nil {
		return err
	}
	d.log.Info("state saved, exiting", "lines", d.pipe.Stats().Total)
	return runErr
}

func (d *daemon) consume(l source.Line) {
	d.mu.Lock()
	in := d.inputs[l.Path]
	if in == nil {
		in = d.pipe.Input(l.Path, pipeline.InputOptions{})
		d.inputs[l.Path] = in
	}
	in.Line(l.Text, l.TooLong)
	d.positions[l.Path] = l.Pos
	d.dirty = true
	d.mu.Unlock()
}

// SummaryResponse is the JSON of GET /api/v1/summary.
type SummaryResponse struct {
	// Now is the end of the windows: the current time, or the newest log
	// time with ?at=latest.
	Now        time.Time                  `json:"now"`
	Windows    map[string]scoring.Summary `json:"windows"`
	Lifetime   scoring.Summary            `json:"lifetime"`
	Correlator correlate.Stats            `json:"correlator"`
	Malformed  []pipeline.Malformed       `json:"malformed_samples"`
}

func (d *daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		body := map[string]any{
			"status":          "ok",
			"uptime_seconds":  int64(time.Since(d.started).Seconds()),
			"lines":           d.pipe.Stats(),
			"last_checkpoint": nil, // none yet since start
		}
		if !d.lastSaved.IsZero() {
			body["last_checkpoint"] = d.lastSaved
		}
		d.mu.Unlock()
		writeJSON(w, body)
	})
	mux.HandleFunc("GET /api/v1/summary", func(w http.ResponseWriter, r *http.Request) {
		top := 0
		if s := r.URL.Query().Get("top"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				http.Error(w, "top must be a non-negative integer", http.StatusBadRequest)
				return
			}
			top = n
		}
		d.mu.Lock()
		now := time.Now()
		if r.URL.Query().Get("at") == "latest" {
			now = d.led.Latest()
		}
		lines := d.pipe.Stats()
		resp := SummaryResponse{
			Now:        now,
			Windows:    make(map[string]scoring.Summary),
			Lifetime:   scoring.Summarize(d.led.Lifetime(), lines, top),
			Correlator: d.pipe.Correlator().Stats(),
			Malformed:  append([]pipeline.Malformed{}, d.pipe.Samples()...),
		}
		for _, w := range d.led.Windows() {
			resp.Windows[windowName(w)] = scoring.Summarize(d.led.Window(w, now), lines, top)
		}
		d.mu.Unlock()
		writeJSON(w, resp)
	})
	mux.HandleFunc("GET /api/v1/rbl", func(w http.ResponseWriter, r *http.Request) {
		if d.rbl == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"blocklist checks are off (rbl.enabled: false)"}`+"\n")
			return
		}
		d.rbl.serveRBL(w, r)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// windowName formats a window span the way the config writes it: 1h, 24h, 7d.
func windowName(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
