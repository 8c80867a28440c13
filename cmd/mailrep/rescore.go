package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/pipeline"
	"github.com/mailrep/mailrep/ingest/source"
	"github.com/mailrep/mailrep/internal/config"
	"github.com/mailrep/mailrep/scoring"
	"github.com/mailrep/mailrep/scoring/rescore"
)

// rescoreTextRules is how many rules the text output shows per account
// (JSON has them all).
const rescoreTextRules = 12

func cmdRescore(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rescore", "[-c FILE] [--rules PATH]… [--scores FILE] [--format text|json] LOGFILE…",
		"Replay logs and re-apply a score table to every spam-filter result in them\n"+
			"(spamd, rspamd, cPanel's outbound scanner): per account, how many messages\n"+
			"would change verdict and which rules drive the change. Before is what the\n"+
			"filter logged; after is the rescored verdict. Rules whose score the log\n"+
			"carries (rspamd, cPanel) keep it unless --scores names them; spamd logs\n"+
			"rule names only, so their scores come from the table. LOGFILE may be\n"+
			"gzip-compressed; - reads standard input.", stdout)
	cfgPath := fs.String("c", "", "configuration `file` (accounts, sources, correlator and scoring sections are used: scoring.rules and scoring.scores\n"+
		"are the defaults of --rules and --scores, scoring.accounts the per-account overrides)")
	var rules listFlag
	fs.Var(&rules, "rules", "SpamAssassin configuration `path` (directory of .cf files, or a file) whose score lines make\n"+
		"the table; repeatable, later paths override earlier ones (default: the sa-update directory\n"+
		"or /usr/share/spamassassin, then /etc/spamassassin)")
	scoresPath := fs.String("scores", "", "`file` of SpamAssassin \"score RULE value\" lines that override the table for every account")
	format := fs.String("format", "text", "output `format`: text or json")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("--format must be text or json, not %q", *format)
	}
	if len(files) == 0 {
		return usagef("no LOGFILE given (use - for standard input)")
	}
	cfg, _, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	warn := func(err error) { fmt.Fprintf(stderr, "mailrep rescore: warning: %v\n", err) }
	if len(rules) == 0 {
		rules = cfg.Scoring.Rules
	}
	scoreFiles := slices.Clone(cfg.Scoring.Scores)
	if *scoresPath != "" {
		scoreFiles = append(scoreFiles, *scoresPath)
	}
	rs, tableDesc, err := rescorer(rules, scoreFiles, warn)
	if err != nil {
		return err
	}
	rs.Overrides = accountOverrides(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := rescoreLogs(ctx, cfg, rs, files, logger)
	if err != nil {
		return err
	}
	if len(res.errs) == len(files) && res.lines.Total == 0 {
		for _, e := range res.errs {
			fmt.Fprintf(stderr, "mailrep rescore: %s\n", e)
		}
		return usageError{errNoInput}
	}
	if res.unscored > 0 && res.unreproduced > 0 {
		warn(fmt.Errorf("%d of %d results logged without rule scores (spamd) are not reproduced by the score table "+
			"(largest difference %.2f, message %s): the filter ran with other scores — another score set (network tests, "+
			"Bayes), sa-update rules or local rules; pass them with --rules", res.unreproduced, res.unscored, res.worst, res.worstID))
	}
	if res.estimated > 0 {
		warn(fmt.Errorf("%d rule hit(s) of rules the score table does not know (%s): they keep the part of the logged score "+
			"the table does not explain", res.estimated, strings.Join(res.unknown, ", ")))
	}
	rep := res.coll.Report()
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeRescoreText(stdout, rep, res, files, tableDesc)
	}
	if len(res.errs) > 0 {
		for _, e := range res.errs {
			fmt.Fprintf(stderr, "mailrep rescore: %s\n", e)
		}
		return usageError{errNoInput}
	}
	return nil
}

// rescorer builds the score table from --rules (or the stock SpamAssassin
// configuration) and the overrides from scoring.scores and --scores (later
// files win), and describes them.
func rescorer(rules []string, scoresPaths []string, warn func(error)) (*rescore.Rescorer, string, error) {
	paths := rules
	var version float64
	if len(paths) == 0 {
		paths, version = rescore.StockPaths()
		if len(paths) == 0 {
			return nil, "", usagef("no SpamAssassin configuration found (/usr/share/spamassassin, /etc/spamassassin): name one with --rules")
		}
	}
	ld := rescore.Loader{Version: version, Warn: warn}
	table, err := ld.Load(paths...)
	if err != nil {
		return nil, "", usageError{err}
	}
	desc := fmt.Sprintf("%d rules from %s", len(table), strings.Join(paths, ", "))
	rs := &rescore.Rescorer{Table: table}
	for _, p := range scoresPaths {
		f, err := os.Open(p)
		if err != nil {
			return nil, "", usageError{fmt.Errorf("--scores or scoring.scores: %w", err)}
		}
		t, err := rescore.ParseScores(p, f)
		f.Close()
		if err != nil {
			return nil, "", usageError{fmt.Errorf("--scores or scoring.scores: %w", err)}
		}
		if rs.Scores == nil {
			rs.Scores = rescore.Table{}
		}
		maps.Copy(rs.Scores, t)
		desc += fmt.Sprintf("; %d score(s) from %s", len(t), p)
	}
	return rs, desc, nil
}

// rescoreResult is what a rescoring replay collected.
type rescoreResult struct {
	coll  rescore.Collector
	lines ingest.LineStats
	errs  []string

	unscored, unreproduced int     // results without rule scores; those the table does not reproduce
	worst                  float64 // their largest difference
	worstID                string
	estimated              int      // hits of rules the table does not know
	unknown                []string // their names (a few)
}

// rescoreSink rescores each filter result the pipeline delivers.
type rescoreSink struct {
	attr scoring.Attribution
	rs   *rescore.Rescorer
	res  *rescoreResult
	seen map[string]bool
}

// reproduceTolerance is how far a table sum may be from a score spamd
// printed with one decimal (and lowered to threshold-0.1 for ham).
const reproduceTolerance = 0.1

func (s *rescoreSink) Record(ev *ingest.Event) {
	l, ok := rescore.FromEvent(ev)
	if !ok {
		return
	}
	account := s.attr.Account(ev)
	v := s.rs.Rescore(account, l)
	s.res.coll.Add(account, &v)
	if !ev.RulesUnscored {
		return
	}
	s.res.unscored++
	known := true
	for _, r := range v.Rules {
		if r.Estimated {
			known = false
			s.res.estimated++
			if !s.seen[r.Name] && len(s.res.unknown) < 10 {
				s.seen[r.Name] = true
				s.res.unknown = append(s.res.unknown, r.Name)
			}
		}
	}
	if d := math.Abs(v.Unexplained); known && d > reproduceTolerance+1e-9 {
		s.res.unreproduced++
		if d > s.res.worst {
			s.res.worst, s.res.worstID = d, strings.Clone(ev.MessageID)
		}
	}
}

// rescoreLogs replays files through one pipeline whose sink rescores.
func rescoreLogs(ctx context.Context, cfg *config.Config, rs *rescore.Rescorer, files []string, logger *slog.Logger) (*rescoreResult, error) {
	res := &rescoreResult{}
	sink := &rescoreSink{attr: attribution(cfg), rs: rs, res: res, seen: make(map[string]bool)}
	p := pipeline.New(correlatorConfig(cfg), sink, logger)
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rc, err := source.Open(name)
		if err != nil {
			res.errs = append(res.errs, err.Error())
			continue
		}
		in := p.Input(name, inputOptions(cfg, name))
		err = source.Lines(ctx, rc, pipeline.MaxLine, func(line string, tooLong bool) error {
			in.Line(line, tooLong)
			return nil
		})
		rc.Close()
		if err != nil {
			res.errs = append(res.errs, fmt.Sprintf("%s: after line %d: %v", name, in.Lines(), err))
		}
	}
	p.Flush()
	res.lines = p.Stats()
	return res, nil
}

// writeRescoreText prints the report for people: a table of accounts,
// then per account the rules that drive the changes.
func writeRescoreText(w io.Writer, rep *rescore.Report, res *rescoreResult, files []string, tableDesc string) {
	l := res.lines
	fmt.Fprintf(w, "mailrep rescore of %d file(s): %s lines (%s parsed, %s ignored, %s malformed), %s filter results\n",
		len(files), num(l.Total), num(l.Parsed), num(l.Ignored), num(l.Malformed), num(int64(rep.Messages)))
	fmt.Fprintf(w, "score table: %s\n", tableDesc)
	if len(rep.Accounts) == 0 {
		fmt.Fprintf(w, "\nNo spam-filter results (spamd, rspamd, cPanel scanner) in the input.\n")
		return
	}
	var toSpam, toHam int
	fmt.Fprintf(w, "\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "account\tmessages\tspam before\tspam after\tto spam\tto ham\t\n")
	for _, a := range rep.Accounts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t\n", accountName(a.Account), a.Messages, a.SpamBefore, a.SpamAfter, a.ToSpam, a.ToHam)
		toSpam += a.ToSpam
		toHam += a.ToHam
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d message(s) change verdict: %d to spam, %d to ham.\n", toSpam+toHam, toSpam, toHam)
	for _, a := range rep.Accounts {
		fmt.Fprintf(w, "\n%s: %d of %d message(s) change verdict (%d to spam, %d to ham)\n",
			accountName(a.Account), a.ToSpam+a.ToHam, a.Messages, a.ToSpam, a.ToHam)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  rule\thits\tscore before\tscore after\tin changes\n")
		n := min(len(a.Rules), rescoreTextRules)
		for _, r := range a.Rules[:n] {
			fmt.Fprintf(tw, "  %s\t%d\t%.3f\t%.3f\t%d\n", r.Name, r.Hits, r.ScoreBefore, r.ScoreAfter, r.Changes)
		}
		tw.Flush()
		if more := len(a.Rules) - n; more > 0 {
			fmt.Fprintf(w, "  … and %d more rule(s) (--format json lists them all)\n", more)
		}
	}
}

func accountName(a string) string {
	if a == "" {
		return "(none)"
	}
	return a
}

// accountOverrides are scoring.accounts as rescoring overrides.
func accountOverrides(cfg *config.Config) map[string]rescore.Override {
	if len(cfg.Scoring.Accounts) == 0 {
		return nil
	}
	out := make(map[string]rescore.Override, len(cfg.Scoring.Accounts))
	for name, a := range cfg.Scoring.Accounts {
		out[strings.ToLower(name)] = rescore.Override{Disabled: a.DisabledRules, Scores: a.Scores, Threshold: a.Threshold}
	}
	return out
}
