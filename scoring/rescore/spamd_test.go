package rescore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/spamd"
	"github.com/mailrep/mailrep/internal/corpus"
	"github.com/mailrep/mailrep/internal/testenv"
)

// TestSpamdSelfConsistency runs Debian's spamd (local tests only, Bayes
// off) on corpus messages, parses the log it writes, and rescores every
// result with the stock score table read from the configuration spamd
// itself read: the table must reproduce spamd's exact score for every
// result line, so that no verdict changes.
//
// With MAILREP_SPAMD_LOG_OUT=FILE the log is also copied to FILE; that is
// how testdata/spamd/spamd.log was made (see its README).
func TestSpamdSelfConsistency(t *testing.T) {
	spamdBin := testenv.NeedProgram(t, "spamd", "spamd")
	spamc := testenv.NeedProgram(t, "spamc", "spamc")
	testenv.NeedProgram(t, "spamassassin", "spamassassin")
	msgs := sampleMessages(t)

	dir := t.TempDir()
	logPath := filepath.Join(dir, "spamd.log")
	port := startSpamd(t, spamdBin, spamc, dir, logPath)

	// Feed the messages one at a time, so the log's results are in this
	// order, and keep what spamc reports (spamd's "score/threshold").
	type fed struct{ account, reply string }
	var sent []fed
	for i, m := range msgs {
		account := []string{"shop", "blog", "forum"}[i%3]
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, spamc, "-d", "127.0.0.1", "-p", port, "-u", account, "-t", "100", "-c")
		f, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = f
		out, err := cmd.Output()
		f.Close()
		cancel()
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: spam
			t.Fatalf("spamc %s: %v", m, err)
		}
		sent = append(sent, fed{account, strings.TrimSpace(string(out))})
	}
	// spamd logs a result after it has answered spamc: wait for the last.
	waitForResults(t, logPath, len(msgs))
	stopSpamd(t, dir)

	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("MAILREP_SPAMD_LOG_OUT"); out != "" {
		if err := os.WriteFile(out, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	evs, companions := parseSpamdLog(t, raw)
	if len(evs) != len(msgs) || companions != len(msgs) {
		t.Fatalf("%d messages fed, %d result lines, %d score lines", len(msgs), len(evs), companions)
	}
	for i, ev := range evs {
		if want := sent[i].reply; fmt.Sprintf("%.1f/%.1f", ev.Score, ev.Threshold) != want || ev.LocalUser != sent[i].account {
			t.Errorf("result %d: %s %.1f/%.1f, spamc said %s %s", i, ev.LocalUser, ev.Score, ev.Threshold, sent[i].account, want)
		}
	}
	checkSelfConsistent(t, evs)
}

// TestSpamdLogSelfConsistency checks the committed spamd log the same way
// (no spamd needed, but the stock configuration it was made with).
func TestSpamdLogSelfConsistency(t *testing.T) {
	testenv.NeedProgram(t, "spamassassin", "spamassassin")
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "spamd", "spamd.log"))
	if err != nil {
		t.Fatal(err)
	}
	evs, companions := parseSpamdLog(t, raw)
	if len(evs) < 40 || companions != len(evs) {
		t.Fatalf("%d result lines, %d score lines", len(evs), companions)
	}
	checkSelfConsistent(t, evs)
}

func checkSelfConsistent(t *testing.T, evs []ingest.Event) {
	t.Helper()
	paths, version := StockPaths()
	ld := Loader{Version: version}
	table, err := ld.Load(paths...)
	if err != nil {
		t.Fatal(err)
	}
	var c Collector
	spam, rules, maxDiff := 0, 0, 0.0
	for i := range evs {
		ev := &evs[i]
		l, ok := FromEvent(ev)
		if !ok {
			t.Fatalf("result %d is not a filter result: %+v", i, ev)
		}
		v := Rescore(l, table, nil)
		for _, r := range v.Rules {
			rules++
			if r.Estimated {
				t.Errorf("%s: rule %s is not in the stock table %v", ev.MessageID, r.Name, paths)
			}
		}
		// spamd prints the score as SpamAssassin's "%2.1f", lowered to
		// threshold-0.1 for ham that would round up to the threshold.
		if got, want := displayScore(v.After, v.Threshold, v.SpamAfter), fmt.Sprintf("%.1f", ev.Score); got != want || v.Changed() {
			t.Errorf("%s (%s): table sum %.3f shows as %s, spamd logged %s (spam %v → %v)",
				ev.MessageID, ev.LocalUser, v.After, got, want, v.SpamBefore, v.SpamAfter)
		}
		if d := v.After - v.Before; d > maxDiff || -d > maxDiff {
			maxDiff = max(d, -d)
		}
		if v.SpamBefore {
			spam++
		}
		c.Add(ev.LocalUser, &v)
	}
	rep := c.Report()
	for _, a := range rep.Accounts {
		if a.ToSpam != 0 || a.ToHam != 0 {
			t.Errorf("account %s: to_spam %d, to_ham %d", a.Account, a.ToSpam, a.ToHam)
		}
	}
	if spam == 0 || spam == len(evs) {
		t.Errorf("%d of %d results spam: the sample should hold both", spam, len(evs))
	}
	t.Logf("%d results (%d spam, %d rule hits) reproduced by %d table scores from %v; largest |table sum - logged| %.3f",
		len(evs), spam, rules, len(table), paths, maxDiff)
}

// displayScore is how spamd prints a score on its "identified spam" and
// "clean message" lines (Mail::SpamAssassin::Util::get_tag_value_for_score).
func displayScore(score, threshold float64, spam bool) string {
	s := fmt.Sprintf("%.1f", score)
	r, _ := strconv.ParseFloat(fmt.Sprintf("%.1f", threshold), 64)
	if f, _ := strconv.ParseFloat(s, 64); spam || f < r {
		return s
	}
	return fmt.Sprintf("%.1f", r-0.1)
}

// parseSpamdLog reads spamd's own log file and returns its results, and
// how many companion score lines it holds.
func parseSpamdLog(t *testing.T, raw []byte) (evs []ingest.Event, companions int) {
	t.Helper()
	h := spamd.FileHeader{Host: "test", Location: time.UTC}
	p := spamd.New()
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		var rec ingest.Record
		if !h.Parse(sc.Text(), &rec) {
			t.Fatalf("line %d: not a SpamAssassin log line: %q", n, sc.Text())
		}
		if strings.HasPrefix(rec.Msg, "spamd: identified spam (") || strings.HasPrefix(rec.Msg, "spamd: clean message (") {
			companions++
		}
		got, err := p.Parse(nil, &rec)
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		for _, ev := range got {
			ev.Rules = append([]ingest.RuleHit(nil), ev.Rules...)
			ev.LocalUser, ev.MessageID = strings.Clone(ev.LocalUser), strings.Clone(ev.MessageID)
			evs = append(evs, ev)
		}
	}
	return evs, companions
}

// sampleMessages returns 20 ham and 20 spam messages of the corpus, evenly
// spaced.
func sampleMessages(t *testing.T) []string {
	var out []string
	for _, sub := range []string{"mail/ham", "mail/spam"} {
		files := corpus.Files(t, sub, "*")
		if len(files) < 20 {
			t.Fatalf("%s: %d messages", sub, len(files))
		}
		step := len(files) / 20
		for i := 0; i < 20; i++ {
			out = append(out, files[i*step])
		}
	}
	// Interleave ham and spam, so both reach every account.
	mixed := make([]string, 0, len(out))
	for i := 0; i < 20; i++ {
		mixed = append(mixed, out[i], out[20+i])
	}
	return mixed
}

// startSpamd starts spamd on a free loopback port — local tests only, no
// Bayes, no user configuration, logging to logPath — and returns the port
// once it answers spamc's ping. It is stopped in t.Cleanup.
func startSpamd(t *testing.T, spamdBin, spamc, dir, logPath string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	args := []string{"-L", "-x", "-i", "127.0.0.1", "-p", port, "-s", logPath,
		"-r", filepath.Join(dir, "spamd.pid"), "-m", "2", "--min-children=1", "--min-spare=1", "--max-spare=2",
		"--helper-home-dir=" + dir, "--timeout-child=100",
		"--cf=use_bayes 0", "--cf=bayes_auto_learn 0", "--cf=skip_rbl_checks 1"}
	if os.Geteuid() == 0 {
		// spamd does not scan as root; its children become nobody.
		args = append(args, "-u", "nobody")
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(spamdBin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("spamd exited: %v\n%s", err, stderr.String())
		default:
		}
		if exec.Command(spamc, "-d", "127.0.0.1", "-p", port, "-K").Run() == nil {
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("spamd did not answer on port %s\n%s", port, stderr.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitForResults waits until the log at path holds n result lines.
func waitForResults(t *testing.T, path string, n int) {
	t.Helper()
	for i := 0; ; i++ {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := bytes.Count(raw, []byte("spamd: result: "))
		if got >= n {
			return
		}
		if i == 100 {
			t.Fatalf("spamd logged %d of %d results", got, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopSpamd stops spamd (by the pid it wrote) so its log is complete.
func stopSpamd(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "spamd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("spamd %d did not stop", pid)
}
