// Command mailrep-loggen writes a large Postfix log for benchmarks by
// multiplying the message stories of real Postfix logs.
//
// It reads one or more real logs and groups their lines into stories: the
// lines of one message, keyed by (host, queue id), joined with the messages
// they hand over to ("queued as", "forwarded as", bounce notifications,
// amavis Queue-ID/queued_as). Lines that belong to no message (connections,
// NOQUEUE rejects, postscreen, TLS) stay in between as they are. It then
// replays the input again and again, in its original interleaving, giving
// every story of every replay fresh queue ids in the style of the original
// (short hex or long), remapping the references to them so content-filter
// hops still link, spreading senders and SASL users over -accounts accounts,
// and rewriting timestamps, in the header style of each line, so that they
// never decrease. It stops at exactly -lines lines; the last replay keeps
// only whole stories (and fills up with in-between lines), so every written
// hop links. Output is deterministic for a given input and -seed.
//
// Usage:
//
//	mailrep-loggen [-lines N] [-o FILE] [-accounts N] [-seed N] [FILE…]
//
// Without FILE it reads the shared corpus's pixelpark Postfix log, found at
// ../shared/corpus beside the module root (the project never ships corpus
// files; they are read where they are at run time).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

// defaultInput is the corpus log read when no file is given, relative to
// the corpus root.
const defaultInput = "logs/postfix/pixelpark-postfix-logsums-mail.log"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "mailrep-loggen:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "mailrep-loggen:", err)
		os.Exit(1)
	}
}

// usageError marks a bad command line (exit status 2).
type usageError struct{ error }

// options are the command-line settings.
type options struct {
	lines    int64
	out      string
	accounts int
	seed     uint64
	inputs   []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("mailrep-loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.lines, "lines", 1_000_000, "write exactly `N` lines")
	fs.StringVar(&o.out, "o", "", "write to `FILE` instead of standard output")
	fs.IntVar(&o.accounts, "accounts", 500, "spread senders and SASL users over `N` accounts (0 keeps them)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for queue ids and account choice (same seed, same output)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: mailrep-loggen [-lines N] [-o FILE] [-accounts N] [-seed N] [FILE...]

Writes an N-line Postfix log for benchmarks by replaying the message stories
of real Postfix logs (FILE..., default the shared corpus's `+defaultInput+`
found at ../shared/corpus beside the module root) with fresh queue ids,
consistently remapped hop references, senders and SASL users spread over
-accounts accounts, and timestamps that never decrease.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, usageError{err}
	}
	o.inputs = fs.Args()
	if o.lines < 0 {
		return o, usageError{fmt.Errorf("-lines %d: must not be negative", o.lines)}
	}
	if o.accounts < 0 {
		return o, usageError{fmt.Errorf("-accounts %d: must not be negative", o.accounts)}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if len(o.inputs) == 0 {
		root, err := corpusRoot()
		if err != nil {
			return usageError{fmt.Errorf("no input file given and %w", err)}
		}
		o.inputs = []string{filepath.Join(root, defaultInput)}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	var in input
	for _, name := range o.inputs {
		if err := in.readFile(name); err != nil {
			return err
		}
	}
	if in.skipped > 0 {
		log.Warn("skipped lines without a recognised syslog header", "lines", in.skipped)
	}
	in.finish()
	if len(in.lines) == 0 && o.lines > 0 {
		return fmt.Errorf("%s: no usable log lines", strings.Join(o.inputs, ", "))
	}

	w := stdout
	var f *os.File
	if o.out != "" {
		if f, err = os.Create(o.out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g := newGenerator(&in, o.accounts, o.seed)
	start := time.Now()
	if err := g.write(ctx, bw, o.lines); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", outName(o.out), err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", o.out, err)
		}
	}
	log.Info("wrote log", "lines", o.lines, "out", outName(o.out), "input_lines", len(in.lines),
		"stories", len(in.stories), "replays", g.replays, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

func outName(s string) string {
	if s == "" {
		return "standard output"
	}
	return s
}

// corpusRoot finds ../shared/corpus beside the module root (the directory
// holding go.mod, searched upwards from the working directory).
func corpusRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpus")
			if st, err := os.Stat(c); err == nil && st.IsDir() {
				return c, nil
			}
			return "", fmt.Errorf("the corpus %s does not exist", c)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no module root (go.mod) above the working directory to find the corpus from")
		}
		dir = parent
	}
}
