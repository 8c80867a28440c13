package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mailrep/mailrep/ingest/correlate"
	"github.com/mailrep/mailrep/ingest/pipeline"
	"github.com/mailrep/mailrep/ingest/source"
	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/scoring"
)

// ReplayReport is the JSON document "mailrep replay --format json" prints:
// the ledger summary plus the correlator's statistics and examples of
// malformed lines.
type ReplayReport struct {
	scoring.Summary
	Correlator correlate.Stats      `json:"correlator"`
	Malformed  []pipeline.Malformed `json:"malformed_samples"`
	Errors     []string             `json:"errors,omitempty"`
}

func cmdReplay(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", "[-c FILE] [--format text|json] [--top N] FILE…",
		"Read mail logs start to end, in the order given, and print what was sent by\n"+
			"whom through which IP and what the remote servers answered. FILE may be\n"+
			"gzip-compressed; - reads standard input.", stdout)
	cfgPath := fs.String("c", "", "configuration `file` (accounts, ips, correlator sections are used)")
	format := fs.String("format", "text", "output `format`: text or json")
	top := fs.Int("top", -1, "show the top `N` accounts, IPs and domains (default: 10 for text, all for json)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format must be text or json, not %q", *format)
	}
	if len(files) == 0 {
		return usagef("no FILE given (use - for standard input)")
	}
	cfg, _, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	n := *top
	if n < 0 {
		n = 10
		if *format == "json" {
			n = 0
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := replay(ctx, cfg, files, n, pipeline.DefaultSamples, logger)
	if err != nil {
		return err
	}
	if len(rep.Errors) == len(files) && rep.Lines.Total == 0 {
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "mailrep replay: %s\n", e)
		}
		return usageError{errNoInput}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeText(stdout, rep, files)
	}
	if len(rep.Errors) > 0 {
		for _, e := range rep.Errors {
			fmt.Fprintf(stderr, "mailrep replay: %s\n", e)
		}
		return usageError{errNoInput}
	}
	return nil
}

// replay reads files through one pipeline and returns the report. Files
// that cannot be opened or read to the end are named in Errors; what was
// read before an error is kept.
func replay(ctx context.Context, cfg *config.Config, files []string, top, samples int, logger *slog.Logger) (*ReplayReport, error) {
	led := scoring.NewLedger(attribution(cfg), &cfg.IPs)
	p := pipeline.New(correlatorConfig(cfg), led, logger)
	p.MaxSamples = samples
	var errs []string
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rc, err := source.Open(name)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		in := p.Input(name, inputOptions(cfg, name))
		err = source.Lines(ctx, rc, pipeline.MaxLine, func(line string, tooLong bool) error {
			in.Line(line, tooLong)
			return nil
		})
		rc.Close()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: after line %d: %v", name, in.Lines(), err))
		}
	}
	p.Flush()
	return &ReplayReport{
		Summary:    scoring.Summarize(led.Lifetime(), p.Stats(), top),
		Correlator: p.Correlator().Stats(),
		Malformed:  append([]pipeline.Malformed{}, p.Samples()...),
		Errors:     errs,
	}, nil
}

// inputOptions returns the header context of a file: a configured source
// with the same path lends its host and year.
func inputOptions(cfg *config.Config, name string) pipeline.InputOptions {
	o := pipeline.InputOptions{Ref: fileRef(name)}
	abs, _ := filepath.Abs(name)
	for _, s := range cfg.Sources {
		if sa, _ := filepath.Abs(s.Path); sa == abs {
			o.Host, o.Year = s.Host, s.Year
			return o
		}
	}
	if h, err := os.Hostname(); err == nil {
		o.Host = h
	}
	return o
}

// errNoInput is returned when replay could not read some input.
var errNoInput = errors.New("some input could not be read")

// fileRef returns the reference time for BSD year inference of a file: its
// modification time (a log's last line was written then).
func fileRef(name string) time.Time {
	if name == "-" {
		return time.Time{}
	}
	st, err := os.Stat(name)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}
