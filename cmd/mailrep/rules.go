package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mailrep/mailrep/scoring/rescore"
	"github.com/mailrep/mailrep/scoring/rules"
)

const rulesLintArgs = "[-c FILE] [--format text|json] [-v] [PATH…]"

const rulesLintDoc = `Load SpamAssassin rule files or directories (a directory's *.pre and *.cf
files in lexical order, as SpamAssassin reads them) the way mailrep's rules
engine does, and report how many rules loaded by kind, how their regular
expressions run (RE2, or RE2 prefilter plus the time-bounded backtracking
engine), every rule skipped with file:line and the reason (Perl-only regex
feature, unknown eval, meta cycle, ...), the rules dropped from the
no-network, no-Bayes score set, and the directives read but not used.
With no PATH, the configured scoring.rules, else SpamAssassin's own
configuration on this machine (sa-update's directory or
/usr/share/spamassassin, then /etc/spamassassin).

Exit codes: 0 every rule loaded, 1 some rule was skipped or a line is
malformed (dropped network and Bayes rules do not count: that is the
no-network score set by design), 2 usage error or a path cannot be read.`

func cmdRules(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("missing subcommand: mailrep rules lint %s", rulesLintArgs)
	}
	switch args[0] {
	case "lint":
		return cmdRulesLint(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintf(stdout, "Usage: mailrep rules lint %s\n\n%s\n", rulesLintArgs, rulesLintDoc)
		return flag.ErrHelp
	}
	return usagef("unknown subcommand %q: mailrep rules lint %s", args[0], rulesLintArgs)
}

// lintOutput is the JSON document of mailrep rules lint.
type lintOutput struct {
	Paths []string `json:"paths"`
	*rules.LintReport
}

func cmdRulesLint(args []string, stdout, _ io.Writer) error {
	fs := newFlags("rules lint", rulesLintArgs, rulesLintDoc, stdout)
	cfgPath := fs.String("c", "", "configuration `file` (its scoring.rules are the default PATHs)")
	format := fs.String("format", "text", "output `format`: text or json")
	verbose := fs.Bool("v", false, "also list every dropped rule and where each ignored directive first appears")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: want text or json", *format)
	}
	if len(paths) == 0 {
		cfg, _, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		paths = cfg.Scoring.Rules
		if len(paths) == 0 {
			paths, _ = rescore.StockPaths()
		}
		if len(paths) == 0 {
			return usagef("no PATH given, no scoring.rules configured and no SpamAssassin rules found")
		}
	}
	_, lint, err := rules.Load(paths...)
	if err != nil {
		return usageError{err}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lintOutput{Paths: paths, LintReport: lint}); err != nil {
			return err
		}
	} else {
		writeLint(stdout, paths, lint, *verbose)
	}
	if len(lint.Skipped) > 0 || len(lint.Problems) > 0 {
		return findingError{fmt.Sprintf("%d rules skipped, %d problems", len(lint.Skipped), len(lint.Problems))}
	}
	return nil
}

// counts formats a map of counts as "a 3, b 2", largest first.
func counts(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	slices.SortFunc(l, func(a, b kv) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return cmp.Compare(a.k, b.k)
	})
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.v)
	}
	return strings.Join(parts, ", ")
}

func writeLint(w io.Writer, paths []string, l *rules.LintReport, verbose bool) {
	fmt.Fprintf(w, "Paths: %s (%d files)\n", strings.Join(paths, " "), l.FilesRead)
	fmt.Fprintf(w, "Loaded: %d rules (%s)\n", l.LoadedTotal, counts(l.Loaded))
	fmt.Fprintf(w, "Regex: %d RE2, %d backtracking with RE2 prefilter", l.Regex.RE2, l.Regex.Backtracking)
	if len(l.Regex.Features) > 0 {
		fmt.Fprintf(w, " (%s)", counts(l.Regex.Features))
	}
	fmt.Fprintf(w, ", %d unsupported\n", l.Regex.Unsupported)
	if n := len(l.NetFlaggedKept); n > 0 {
		fmt.Fprintf(w, "Kept: %d rules with tflags net or learn that make no network or Bayes test themselves\n", n)
	}

	fmt.Fprintf(w, "\nDropped from the no-network, no-Bayes score set: %d", len(l.Dropped))
	if len(l.Dropped) > 0 {
		fmt.Fprintf(w, " (%s)", counts(l.DropReasons()))
	}
	fmt.Fprintln(w)
	if verbose {
		writeFindings(w, l.Dropped)
	}

	fmt.Fprintf(w, "\nSkipped: %d rules", len(l.Skipped))
	if len(l.Skipped) > 0 {
		fmt.Fprintf(w, " (%s)", counts(l.SkipReasons()))
	}
	fmt.Fprintln(w)
	writeFindings(w, l.Skipped)

	if len(l.Problems) > 0 {
		fmt.Fprintf(w, "\nProblems: %d\n", len(l.Problems))
		writeFindings(w, l.Problems)
	}

	total := 0
	for _, ig := range l.Ignored {
		total += ig.Count
	}
	fmt.Fprintf(w, "\nIgnored directives: %d lines of %d kinds\n", total, len(l.Ignored))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, ig := range l.Ignored {
		if verbose {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t(first at %s)\n", ig.Directive, ig.Count, ig.Reason, ig.First)
		} else {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", ig.Directive, ig.Count, ig.Reason)
		}
	}
	tw.Flush()
}

func writeFindings(w io.Writer, fs []rules.Finding) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fs {
		kind := f.Kind
		if kind == "" {
			kind = "-"
		}
		rule := f.Rule
		if rule == "" {
			rule = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Source, rule, kind, f.Reason)
	}
	tw.Flush()
}
