package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/corpus"
)

// smallLog is a short Postfix log in BSD style with short queue ids, two
// content-filter hops, a bounce notification and NOQUEUE lines in between.
const smallLog = `Jan 31 09:50:01 mx1 postfix/smtpd[100]: connect from a.example[192.0.2.1]
Jan 31 09:50:02 mx1 postfix/smtpd[100]: ED36AD08054: client=a.example[192.0.2.1], sasl_method=PLAIN, sasl_username=alice@example.org
Jan 31 09:50:02 mx1 postfix/cleanup[101]: ED36AD08054: message-id=<1@example.org>
Jan 31 09:50:02 mx1 postfix/qmgr[102]: ED36AD08054: from=<alice@example.org>, size=1000, nrcpt=1 (queue active)
Jan 31 09:50:03 mx1 postfix/smtpd[103]: 73635C808F: client=localhost[127.0.0.1]
Jan 31 09:50:03 mx1 postfix/smtpd[100]: NOQUEUE: reject: RCPT from b.example[192.0.2.2]: 554 5.7.1 Service unavailable; client [192.0.2.2] blocked using zen.spamhaus.org; from=<spam@bad.example> to=<x@example.org> proto=ESMTP helo=<b>
Jan 31 09:50:03 mx1 postfix/qmgr[102]: 73635C808F: from=<alice@example.org>, size=1200, nrcpt=1 (queue active)
Jan 31 09:50:03 mx1 postfix/smtp[104]: ED36AD08054: to=<bob@example.net>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 73635C808F)
Jan 31 09:50:03 mx1 postfix/qmgr[102]: ED36AD08054: removed
Jan 31 09:50:04 mx1 postfix/smtp[105]: 73635C808F: to=<bob@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.1] said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown (in reply to RCPT TO command))
Jan 31 09:50:04 mx1 postfix/bounce[106]: 73635C808F: sender non-delivery notification: 8A1B2C3D4E
Jan 31 09:50:04 mx1 postfix/qmgr[102]: 8A1B2C3D4E: from=<>, size=3000, nrcpt=1 (queue active)
Jan 31 09:50:04 mx1 postfix/qmgr[102]: 73635C808F: removed
Jan 31 09:50:05 mx1 postfix/local[107]: 8A1B2C3D4E: to=<alice@example.org>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Jan 31 09:50:05 mx1 postfix/qmgr[102]: 8A1B2C3D4E: removed
Jan 31 09:50:06 mx1 postfix/smtpd[100]: disconnect from a.example[192.0.2.1]
Jan 31 09:50:07 mx1 postfix/pickup[108]: 5FCA28903A: uid=1000 from=<carol>
Jan 31 09:50:07 mx1 postfix/qmgr[102]: 5FCA28903A: from=<carol@example.org>, size=10, nrcpt=1 (queue active)
Jan 31 09:50:08 mx1 postfix/smtp[104]: 5FCA28903A: to=<dave@example.com>, relay=mx.example.com[203.0.113.5]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 3XYZ)
Jan 31 09:50:08 mx1 postfix/qmgr[102]: 5FCA28903A: removed
`

func generate(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.log")
	var stderr bytes.Buffer
	if err := run(context.Background(), append([]string{"-o", out}, args...), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parsed is what the test reads back from a log: per queue id its lines
// with queue ids, timestamps and accounts masked, and the references.
type parsed struct {
	lines   int
	stories map[string][]string // qid → masked lines
	refs    []string            // every referenced queue id
	times   []time.Time
}

func parseLog(t *testing.T, log string) parsed {
	t.Helper()
	var in input
	p := parsed{stories: map[string][]string{}}
	for l := range strings.SplitSeq(strings.TrimSuffix(log, "\n"), "\n") {
		p.lines++
		ts, _, hlen, ok := in.parseTime(l)
		if !ok {
			t.Fatalf("line %d has no timestamp: %q", p.lines, l)
		}
		p.times = append(p.times, ts)
		rest := l[hlen:]
		_, msg, _ := strings.Cut(rest, "]: ")
		qid, body, ok := strings.Cut(msg, ": ")
		if !ok || !validQueueID(qid) {
			qid = ""
		}
		for _, m := range refMarkers {
			if _, after, ok := strings.Cut(msg, m); ok {
				end := 0
				for end < len(after) && isIDByte(after[end]) {
					end++
				}
				if validQueueID(after[:end]) {
					p.refs = append(p.refs, after[:end])
					body = strings.Replace(body, after[:end], "REF", 1)
				}
			}
		}
		if qid != "" {
			prog, _, _ := strings.Cut(strings.TrimSpace(rest), "[")
			p.stories[qid] = append(p.stories[qid], prog+" "+maskAccounts(body))
		}
	}
	return p
}

// maskAccounts hides the parts the generator rewrites per account.
func maskAccounts(s string) string {
	for _, key := range []string{"from=<", "sasl_username="} {
		i := strings.Index(s, key)
		if i < 0 {
			continue
		}
		j := i + len(key)
		k := j
		for k < len(s) && s[k] != '>' && s[k] != ',' && s[k] != ' ' {
			k++
		}
		if at := strings.LastIndexByte(s[j:k], '@'); at >= 0 || key == "sasl_username=" {
			s = s[:j] + "ACCOUNT" + s[k:]
		}
	}
	return s
}

// checkOutput verifies the generated log against its input: exact line
// count, timestamps that never decrease, queue ids all fresh, each output
// story a faithful copy of one input story, and hop references that link
// wherever the input's did.
func checkOutput(t *testing.T, inLog, outLog string, want int) {
	t.Helper()
	src := parseLog(t, inLog)
	out := parseLog(t, outLog)
	if out.lines != want {
		t.Fatalf("wrote %d lines, want %d", out.lines, want)
	}
	for i := 1; i < len(out.times); i++ {
		if out.times[i].Before(out.times[i-1]) {
			t.Fatalf("line %d: time %v before %v", i+1, out.times[i], out.times[i-1])
		}
	}
	shapes := map[string]bool{}
	for _, lines := range src.stories {
		shapes[strings.Join(lines, "\n")] = true
	}
	for qid, lines := range out.stories {
		if _, ok := src.stories[qid]; ok {
			t.Errorf("queue id %s of the input reused", qid)
		}
		if !shapes[strings.Join(lines, "\n")] {
			t.Errorf("story %s matches no input story:\n%s", qid, strings.Join(lines, "\n"))
		}
	}
	// A reference links in the output iff its target story has lines; in
	// the input every such target did too, so count both.
	linked := func(p parsed) (n int) {
		for _, r := range p.refs {
			if _, ok := p.stories[r]; ok {
				n++
			}
		}
		return n
	}
	if want%src.lines == 0 {
		k := want / src.lines
		if got, exp := linked(out), k*linked(src); got != exp {
			t.Errorf("%d linked references, want %d (%d replays)", got, exp, k)
		}
		if len(out.stories) != k*len(src.stories) {
			t.Errorf("%d stories, want %d", len(out.stories), k*len(src.stories))
		}
	}
	for _, r := range out.refs {
		if _, ok := src.stories[r]; ok {
			t.Errorf("reference %s not remapped", r)
		}
	}
}

func TestGenerateSmall(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.log")
	if err := os.WriteFile(in, []byte(smallLog), 0o644); err != nil {
		t.Fatal(err)
	}
	srcLines := strings.Count(smallLog, "\n")
	for _, n := range []int{0, 1, 7, srcLines, 3 * srcLines, 1000} {
		out := generate(t, "-lines", strconv.Itoa(n), "-accounts", "3", in)
		if n == 0 {
			if out != "" {
				t.Errorf("-lines 0 wrote %q", out)
			}
			continue
		}
		checkOutput(t, smallLog, out, n)
		// Every hop links, even in a cut-short last replay: all references
		// of this input name a local story ("3XYZ", the remote MX's id, is
		// no queue id).
		p := parseLog(t, out)
		for _, r := range p.refs {
			if _, ok := p.stories[r]; !ok {
				t.Errorf("n=%d: reference %s links to no story", n, r)
			}
		}
	}
	// Same seed, same output; another seed, other ids.
	a := generate(t, "-lines", "200", in)
	if b := generate(t, "-lines", "200", in); a != b {
		t.Error("output differs between runs with the same seed")
	}
	if c := generate(t, "-lines", "200", "-seed", "7", in); a == c {
		t.Error("output does not depend on the seed")
	}
	// Accounts: with -accounts 3 at most 3 account domains appear, and
	// with -accounts 0 the senders are kept.
	out := generate(t, "-lines", "400", "-accounts", "3", in)
	doms := map[string]bool{}
	for _, f := range strings.Fields(out) {
		if i := strings.Index(f, "@acct"); i >= 0 {
			doms[strings.TrimRight(f[i+1:], ">,")] = true
		}
	}
	if len(doms) == 0 || len(doms) > 3 {
		t.Errorf("account domains %v, want 1..3", doms)
	}
	if out := generate(t, "-lines", "40", "-accounts", "0", in); !strings.Contains(out, "from=<alice@example.org>") || strings.Contains(out, "acct") {
		t.Error("-accounts 0 rewrote senders")
	}
}

// TestGenerateCorpus multiplies the real pixelpark log (long queue ids,
// RFC 3339 headers, amavis hops).
func TestGenerateCorpus(t *testing.T) {
	files := corpus.Files(t, "logs/postfix", "pixelpark-postfix-logsums-mail.log")
	if len(files) == 0 {
		t.Skip("pixelpark log not in the corpus")
	}
	src, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(src), "\n")
	if testing.Short() {
		n = 20_000
	}
	out := generate(t, "-lines", strconv.Itoa(2*n), files[0])
	checkOutput(t, string(src), out, 2*n)
}

func TestDefaultInputAndHelp(t *testing.T) {
	corpus.Files(t, "logs/postfix", "pixelpark-postfix-logsums-mail.log")
	out := generate(t, "-lines", "1234")
	if got := strings.Count(out, "\n"); got != 1234 {
		t.Errorf("default input: %d lines, want 1234", got)
	}
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"-lines", "-o", "-accounts", "-seed"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("--help does not document %s", f)
		}
	}
	if err := run(context.Background(), []string{"-lines", "-5"}, &bytes.Buffer{}, &bytes.Buffer{}); !errors.As(err, new(usageError)) {
		t.Errorf("-lines -5: %v, want a usage error", err)
	}
	if err := run(context.Background(), []string{"-lines", "5", filepath.Join(t.TempDir(), "missing.log")}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("missing input: no error")
	}
}

func BenchmarkGenerate(b *testing.B) {
	name := filepath.Join(b.TempDir(), "in.log")
	if err := os.WriteFile(name, []byte(smallLog), 0o644); err != nil {
		b.Fatal(err)
	}
	var in input
	if err := in.readFile(name); err != nil {
		b.Fatal(err)
	}
	in.finish()
	b.ReportAllocs()
	const n = 100_000
	b.SetBytes(int64(len(smallLog) / strings.Count(smallLog, "\n") * n))
	for b.Loop() {
		g := newGenerator(&in, 500, 1)
		if err := g.write(context.Background(), discard{}, n); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
