// Package pipeline turns log lines into counted events: it parses the syslog
// header, routes the record to the parser of the program that logged it,
// classifies remote rejection replies and feeds the correlator. One Pipeline
// serves any number of inputs (each with its own header state, so each file
// infers its own year); all of them share one correlator, because a message
// may be logged across files.
package pipeline

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/correlate"
	"github.com/mailrep/mailrep/ingest/exim"
	"github.com/mailrep/mailrep/ingest/postfix"
	"github.com/mailrep/mailrep/ingest/rspamd"
	"github.com/mailrep/mailrep/ingest/sendmail"
	"github.com/mailrep/mailrep/ingest/spamd"
	"github.com/mailrep/mailrep/ingest/syslog"
)

// MaxLine is the longest line parsed; longer lines are malformed.
const MaxLine = 64 << 10

// Pipeline is not safe for concurrent use: feed it from one goroutine.
type Pipeline struct {
	corr    *correlate.Correlator
	log     *slog.Logger
	postfix ingest.Parser
	exim    ingest.Parser
	smail   ingest.Parser
	spamd   ingest.Parser
	rspamd  ingest.Parser
	route   map[string]ingest.Parser // program → parser (nil: not ours)
	stats   ingest.LineStats
	events  []ingest.Event
	// malformed samples, for "replay" to show where the problems are
	samples []Malformed
	// MaxSamples bounds the malformed examples kept (DefaultSamples).
	MaxSamples int
}

// Malformed describes one line that could not be understood.
type Malformed struct {
	Input string `json:"input"`
	Line  int64  `json:"line"`
	Error string `json:"error"`
}

// DefaultSamples is how many malformed examples a pipeline keeps.
const DefaultSamples = 20

// New returns a pipeline feeding sink through a correlator configured by cc.
// logger may be nil.
func New(cc correlate.Config, sink correlate.Sink, logger *slog.Logger) *Pipeline {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{
		corr:    correlate.New(cc, sink),
		log:     logger,
		postfix: postfix.New(),
		exim:    exim.New(),
		smail:   sendmail.New(),
		spamd:   spamd.New(),
		rspamd:  rspamd.New(),
		route:   make(map[string]ingest.Parser),

		MaxSamples: DefaultSamples,
	}
}

// Correlator returns the pipeline's correlator (for stats and state).
func (p *Pipeline) Correlator() *correlate.Correlator { return p.corr }

// Stats returns the line counts so far.
func (p *Pipeline) Stats() ingest.LineStats { return p.stats }

// Samples returns up to MaxSamples examples of malformed lines.
func (p *Pipeline) Samples() []Malformed { return p.samples }

// Flush counts what the correlator still holds back; call at end of replay.
func (p *Pipeline) Flush() { p.corr.Flush() }

// Input is one stream of lines (a file, stdin, a tailed path).
type Input struct {
	p    *Pipeline
	name string
	hdr  syslog.Parser
	sa   spamd.FileHeader // spamd's own log file (spamd -s FILE)
	n    int64
	rec  ingest.Record
}

// InputOptions describe an input's header context.
type InputOptions struct {
	// Host names lines whose header has none (bare Exim logs).
	Host string
	// Ref is the reference time for BSD year inference (file mtime for
	// replays; zero = now). Year, if set, fixes the year instead.
	Ref  time.Time
	Year int
	// Location for timestamps without offset; nil = time.Local.
	Location *time.Location
}

// Input returns a new input named name (used in error messages).
func (p *Pipeline) Input(name string, o InputOptions) *Input {
	return &Input{p: p, name: name, hdr: syslog.Parser{
		DefaultHost: o.Host, Ref: o.Ref, Year: o.Year, Location: o.Location,
	}, sa: spamd.FileHeader{Host: o.Host, Location: o.Location}}
}

// Name returns the input's name.
func (in *Input) Name() string { return in.name }

// Lines returns how many lines the input has consumed.
func (in *Input) Lines() int64 { return in.n }

// SetLines sets the line counter (after resuming from a saved position).
func (in *Input) SetLines(n int64) { in.n = n }

// Line consumes one line (without its newline). tooLong marks a line that
// was cut at the reader's limit: it is counted as malformed.
func (in *Input) Line(line string, tooLong bool) {
	p := in.p
	in.n++
	p.stats.Total++
	if tooLong || len(line) > MaxLine {
		p.malformed(in, fmt.Errorf("line longer than %d bytes", MaxLine))
		return
	}
	if len(line) == 0 {
		p.stats.Ignored++
		return
	}
	rec := &in.rec
	if err := in.hdr.Parse(line, rec); err != nil && !in.sa.Parse(line, rec) {
		p.malformed(in, err)
		return
	}
	parser, ok := p.route[rec.Program]
	if !ok {
		parser = p.routeFor(rec.Program)
		if len(p.route) < 4096 {
			p.route[rec.Program] = parser
		}
	}
	if parser == nil {
		p.stats.Ignored++
		return
	}
	evs, err := parser.Parse(p.events[:0], rec)
	p.events = evs[:0]
	if err != nil {
		p.malformed(in, err)
		return
	}
	if len(evs) == 0 {
		p.stats.Ignored++
		return
	}
	p.stats.Parsed++
	for i := range evs {
		ev := &evs[i]
		if ev.Reply != "" && ev.Class == ingest.ClassNone &&
			(ev.Kind == ingest.KindDeferred || ev.Kind == ingest.KindBounced || ev.Kind == ingest.KindExpired) {
			ev.Class, ev.Blocklist = ingest.Classify(ev.Reply)
		}
		p.corr.Process(ev)
	}
}

func (p *Pipeline) routeFor(program string) ingest.Parser {
	switch {
	case postfix.Owns(program):
		return p.postfix
	case exim.Owns(program):
		return p.exim
	case sendmail.Owns(program):
		return p.smail
	case spamd.Owns(program):
		return p.spamd
	case rspamd.Owns(program):
		return p.rspamd
	}
	return nil
}

func (p *Pipeline) malformed(in *Input, err error) {
	p.stats.Malformed++
	if len(p.samples) < p.MaxSamples {
		p.samples = append(p.samples, Malformed{Input: in.name, Line: in.n, Error: err.Error()})
	}
	if p.stats.Malformed <= DefaultSamples {
		p.log.Debug("malformed line", "input", in.name, "line", in.n, "err", err)
	}
}

// SetStats restores line counts saved by a previous run.
func (p *Pipeline) SetStats(s ingest.LineStats) { p.stats = s }
