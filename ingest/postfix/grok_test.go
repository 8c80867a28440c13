package postfix

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/internal/corpus"
)

// grokFragments are grok patterns of the postfix-grok-patterns test suite
// that match a fragment of a message (command counters, delays, relay,
// TLS features), not a whole message: their rows are skipped.
var grokFragments = map[string]bool{
	"POSTFIX_COMMAND_COUNTER_DATA": true,
	"POSTFIX_DELAYS":               true,
	"POSTFIX_RELAY":                true,
	"POSTFIX_TLS_FEATURES":         true,
}

// grokProgram maps a grok pattern name to the syslog program that logs
// such messages: POSTFIX_TRIVIAL_REWRITE is postfix/trivial-rewrite,
// POSTFIX_SCRIPT is postfix/postfix-script.
func grokProgram(pattern string) string {
	d, ok := strings.CutPrefix(pattern, "POSTFIX_")
	if !ok {
		return ""
	}
	d = strings.ReplaceAll(strings.ToLower(d), "_", "-")
	if d == "script" {
		d = "postfix-script"
	}
	return "postfix/" + d
}

// TestGrokMessages runs every message of the postfix-grok-patterns test
// suite (messages without syslog header) through the parser with a
// synthetic record whose program the grok pattern names. None may fail.
func TestGrokMessages(t *testing.T) {
	files := corpus.Files(t, "logs/postfix", "postfix-grok-patterns-messages.tsv")
	if len(files) != 1 {
		t.Fatalf("want one grok messages file, got %d", len(files))
	}
	var p Parser
	var evs []ingest.Event
	kinds := map[string]int{}
	rows := 0
	for i, ln := range readLines(t, files[0]) {
		cols := strings.SplitN(ln, "\t", 3)
		if len(cols) != 3 {
			t.Fatalf("row %d: want 3 columns, got %d", i+1, len(cols))
		}
		yaml, pattern, msg := cols[0], cols[1], cols[2]
		if grokFragments[pattern] {
			continue
		}
		prog := grokProgram(pattern)
		if !Owns(prog) {
			t.Errorf("%s: program %q for %s not owned", yaml, prog, pattern)
			continue
		}
		rows++
		rec := ingest.Record{Host: "h", Program: prog, PID: 1, Msg: msg}
		var err error
		evs, err = p.Parse(evs[:0], &rec)
		if err != nil {
			if !errors.Is(err, ingest.ErrMalformed) {
				t.Errorf("%s: error does not wrap ErrMalformed: %v", yaml, err)
			}
			t.Errorf("%s (%s): %v", yaml, prog, err)
			continue
		}
		for i := range evs {
			kinds[evs[i].Kind.String()]++
			checkEvent(t, yaml, 1, &rec, &evs[i])
		}
	}
	if rows < 150 {
		t.Errorf("only %d grok rows parsed", rows)
	}
	t.Logf("%d rows, events by kind: %v", rows, kinds)
}
