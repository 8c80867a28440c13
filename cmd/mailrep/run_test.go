//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/internal/testenv"
	"github.com/mailrep/mailrep/scoring"
)

// The mailrep binary under test, built once per test binary by
// buildMailrep and removed by TestMain.
var mailrepBin struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mailrepBin.dir != "" {
		os.RemoveAll(mailrepBin.dir)
	}
	os.Exit(code)
}

// raceEnabled reports whether the test binary was built with -race; the
// daemon under test is then built with -race too, so a data race in it
// fails the test.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// buildMailrep builds this package's command once and returns its path.
func buildMailrep(t *testing.T) string {
	t.Helper()
	goBin := testenv.NeedProgram(t, "go", "golang-go")
	mailrepBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "mailrep-bin-")
		if err != nil {
			mailrepBin.err = err
			return
		}
		mailrepBin.dir = dir
		mailrepBin.path = filepath.Join(dir, "mailrep")
		args := []string{"build"}
		if raceEnabled() {
			args = append(args, "-race")
		}
		args = append(args, "-o", mailrepBin.path, ".")
		out, err := exec.Command(goBin, args...).CombinedOutput()
		if err != nil {
			mailrepBin.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if mailrepBin.err != nil {
		t.Fatal(mailrepBin.err)
	}
	return mailrepBin.path
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testYear is the year of the generated BSD timestamps, fixed in the
// configuration of both the daemon and the replay.
const testYear = 2024

// writeConfig writes a configuration following logPath (listen "" turns
// HTTP off).
func writeConfig(t *testing.T, cfgPath, stateDir, logPath, listen string) {
	t.Helper()
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	cfg := fmt.Sprintf(`state_dir: %s
sources:
  - path: %s
    format: syslog
    host: mx1
    year: %d
accounts:
  precedence: [auth, local, sender_domain]
ips:
  shared: [192.0.2.0/28]
  default: 192.0.2.10
  transports:
    - match: bulk
      ip: 192.0.2.12
windows: [1h, 24h]
http:
  listen: %s
checkpoint_interval: 200ms
rbl:
  enabled: false
`, q(stateDir), q(logPath), testYear, q(listen))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// daemonProc is one "mailrep run" process.
type daemonProc struct {
	name   string
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
}

func (d *daemonProc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// runHarness drives daemons against one log file and state directory.
type runHarness struct {
	t        *testing.T
	ctx      context.Context
	bin      string
	dir      string
	stateDir string
	logPath  string
	client   *http.Client
	started  int
	procs    []*daemonProc
}

// start starts a daemon and waits until its HTTP listener answers. A port
// taken between freePort and the daemon's listen is retried with another.
func (h *runHarness) start() *daemonProc {
	t := h.t
	t.Helper()
	h.started++
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		cfg := filepath.Join(h.dir, fmt.Sprintf("run%d.yaml", h.started))
		writeConfig(t, cfg, h.stateDir, h.logPath, fmt.Sprintf("127.0.0.1:%d", port))
		d := &daemonProc{
			name:   fmt.Sprintf("daemon #%d", h.started),
			cmd:    exec.Command(h.bin, "run", "-c", cfg),
			base:   fmt.Sprintf("http://127.0.0.1:%d", port),
			stderr: &lockedBuffer{},
			done:   make(chan struct{}),
		}
		d.cmd.Stderr = d.stderr
		d.cmd.Stdout = d.stderr
		if err := d.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", d.name, err)
		}
		go func() { d.err = d.cmd.Wait(); close(d.done) }()
		h.procs = append(h.procs, d)
		err := h.waitReady(d)
		if err == nil {
			return d
		}
		if d.exited() && strings.Contains(d.stderr.String(), "http.listen") && attempt < 3 {
			t.Logf("%s could not listen on port %d (taken meanwhile?); retrying with another port", d.name, port)
			continue
		}
		t.Fatalf("%s: %v\nstderr:\n%s", d.name, err, d.stderr.String())
	}
}

// killAll is the cleanup: no daemon outlives the test.
func (h *runHarness) killAll() {
	for _, d := range h.procs {
		if !d.exited() {
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	}
}

func (h *runHarness) waitReady(d *daemonProc) error {
	for {
		resp, err := h.client.Get(d.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("exited before serving: %v", d.err)
		case <-h.ctx.Done():
			return fmt.Errorf("not serving /healthz before the test deadline (last error: %v)", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// health is the part of GET /healthz the test reads.
type health struct {
	Status string `json:"status"`
	Lines  struct {
		Total int64 `json:"total"`
	} `json:"lines"`
}

func (h *runHarness) getJSON(d *daemonProc, path string, v any) error {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// linesSeen returns the daemon's count of consumed lines.
func (h *runHarness) linesSeen(d *daemonProc) (int64, error) {
	var hz health
	if err := h.getJSON(d, "/healthz", &hz); err != nil {
		return 0, err
	}
	return hz.Lines.Total, nil
}

// waitLines polls /healthz until the daemon has consumed exactly want
// lines. More than want means lines were counted twice: it fails at once.
func (h *runHarness) waitLines(d *daemonProc, want int64, what string) {
	t := h.t
	t.Helper()
	var got int64
	var err error
	for {
		got, err = h.linesSeen(d)
		if err == nil && got == want {
			return
		}
		if err == nil && got > want {
			t.Fatalf("%s: %s: daemon counted %d lines, only %d were written: lines counted twice\nstderr:\n%s",
				d.name, what, got, want, d.stderr.String())
		}
		select {
		case <-d.done:
			t.Fatalf("%s: %s: exited (%v) after consuming %d of %d lines\nstderr:\n%s", d.name, what, d.err, got, want, d.stderr.String())
		case <-h.ctx.Done():
			t.Fatalf("%s: %s: consumed %d of %d lines before the test deadline (last error: %v): lines lost?\nstderr:\n%s",
				d.name, what, got, want, err, d.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// writeAndWaitForProgress writes lines and returns as soon as the daemon
// has consumed some of them, to stop it mid-stream.
func (h *runHarness) writeAndWaitForProgress(d *daemonProc, logf *syslogFile, lines []string, what string) {
	t := h.t
	t.Helper()
	before := logf.written
	logf.write(lines)
	for {
		n, err := h.linesSeen(d)
		if err == nil && n > before {
			t.Logf("%s after %d of %d lines", what, n, logf.written)
			return
		}
		select {
		case <-d.done:
			t.Fatalf("%s exited (%v)\nstderr:\n%s", d.name, d.err, d.stderr.String())
		case <-h.ctx.Done():
			t.Fatalf("%s: consumed none of the batch before the test deadline (%d, %v)", d.name, n, err)
		case <-time.After(time.Millisecond):
		}
	}
}

// stop sends SIGTERM and requires a clean exit (status 0, state saved).
func (h *runHarness) stop(d *daemonProc) {
	t := h.t
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", d.name, err)
	}
	select {
	case <-d.done:
	case <-h.ctx.Done():
		t.Fatalf("%s did not exit within the test deadline after SIGTERM\nstderr:\n%s", d.name, d.stderr.String())
	}
	if d.err != nil {
		t.Fatalf("%s: after SIGTERM: %v (want exit status 0)\nstderr:\n%s", d.name, d.err, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "state saved, exiting") {
		t.Errorf("%s exited 0 after SIGTERM without logging \"state saved, exiting\"\nstderr:\n%s", d.name, d.stderr.String())
	}
}

// kill sends SIGKILL: no chance to save state.
func (h *runHarness) kill(d *daemonProc) {
	t := h.t
	t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatalf("%s: SIGKILL: %v", d.name, err)
	}
	select {
	case <-d.done:
	case <-h.ctx.Done():
		t.Fatalf("%s did not die within the test deadline after SIGKILL", d.name)
	}
}

// checkLogs fails on data races and error-level log records of every
// daemon run.
func (h *runHarness) checkLogs() {
	for _, d := range h.procs {
		s := d.stderr.String()
		if strings.Contains(s, "WARNING: DATA RACE") {
			h.t.Errorf("%s: data race:\n%s", d.name, s)
			continue
		}
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, "lines are lost") {
				h.t.Errorf("%s logged: %s", d.name, l)
			}
		}
	}
}

// syslogFile plays syslogd (the writer, which keeps its descriptor across
// rotation until told to reopen) and logrotate, and records every line it
// writes, in order, in a reference file for the one-shot replay.
type syslogFile struct {
	t       *testing.T
	path    string
	f       *os.File // the writer's descriptor; nil until the first write
	ref     *os.File
	written int64
}

func (s *syslogFile) open() {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		s.t.Fatal(err)
	}
	s.f = f
}

// write appends lines, a few per write call like a busy syslogd.
func (s *syslogFile) write(lines []string) {
	s.t.Helper()
	if s.f == nil {
		s.open()
	}
	var buf strings.Builder
	for i, l := range lines {
		buf.WriteString(l)
		buf.WriteByte('\n')
		if i%7 == 6 || i == len(lines)-1 {
			if _, err := io.WriteString(s.f, buf.String()); err != nil {
				s.t.Fatal(err)
			}
			if _, err := io.WriteString(s.ref, buf.String()); err != nil {
				s.t.Fatal(err)
			}
			buf.Reset()
		}
	}
	s.written += int64(len(lines))
}

// size returns the current size of the log file.
func (s *syslogFile) size() int {
	s.t.Helper()
	fi, err := os.Stat(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	return int(fi.Size())
}

// linesBytes is the size of lines once written.
func linesBytes(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	return n
}

// reopen is syslogd's reaction to logrotate's postrotate HUP.
func (s *syslogFile) reopen() {
	if s.f != nil {
		s.f.Close()
	}
	s.open()
}

// shift renames path.N to path.N+1, highest first, like logrotate.
func (s *syslogFile) shift() {
	n := 1
	for {
		if _, err := os.Stat(fmt.Sprintf("%s.%d", s.path, n)); err != nil {
			break
		}
		n++
	}
	for ; n > 1; n-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", s.path, n-1), fmt.Sprintf("%s.%d", s.path, n)); err != nil {
			s.t.Fatal(err)
		}
	}
}

// rotateRename is logrotate's default: rename path to path.1. The writer
// keeps writing to the renamed file until reopen.
func (s *syslogFile) rotateRename() {
	s.shift()
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		s.t.Fatal(err)
	}
}

// rotateCopyTruncate is logrotate's copytruncate: copy path to path.1,
// then truncate path to 0; the writer keeps its (O_APPEND) descriptor.
func (s *syslogFile) rotateCopyTruncate() {
	s.shift()
	src, err := os.Open(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(s.path+".1", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		s.t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Truncate(s.path, 0); err != nil {
		s.t.Fatal(err)
	}
}

// deleteAndRecreate removes path and has the writer create it anew.
func (s *syslogFile) deleteAndRecreate() {
	if err := os.Remove(s.path); err != nil {
		s.t.Fatal(err)
	}
	s.reopen()
}

// story is one message's log lines (without the syslog header), written
// in order, interleaved with other stories.
type story struct {
	lines []string
	next  int
}

// expected counts what the generated lines must add up to, for a sanity
// check of the replay that the daemon is compared with.
type expected struct {
	lines, received, delivered, deferrals, bounced, rejected int64
}

// logGen writes realistic Postfix traffic for one host: submissions by
// SASL users of a few accounts, local pickups, deliveries, deferrals with
// blocklist and timeout replies, bounces, milter and NOQUEUE rejects, and
// some unrelated and garbled lines, with several messages in flight at once.
type logGen struct {
	rng    *rand.Rand
	clock  time.Time
	qid    uint64
	pid    int
	active []*story
	want   expected
}

func newLogGen(seed uint64) *logGen {
	return &logGen{
		rng:   rand.New(rand.NewPCG(seed, 0x6d61696c726570)),
		clock: time.Date(testYear, time.March, 5, 8, 0, 0, 0, time.Local),
		qid:   0x3A1C000000 + seed%1000*0x10000,
		pid:   20000,
	}
}

type sasl struct{ user, sender string }

var (
	saslUsers = []sasl{
		{"alice@shop-one.example", "alice@shop-one.example"},
		{"bob@shop-one.example", "orders@shop-one.example"},
		{"carol@news-two.example", "newsletter@news-two.example"},
		{"dave", "dave@blog-three.example"},
		{"erin@agency-four.example", "erin@agency-four.example"},
		{"erin@agency-four.example", "billing@client-five.example"},
	}
	rcptDomains = []struct{ domain, relay string }{
		{"gmail.com", "gmail-smtp-in.l.google.com[142.250.27.26]:25"},
		{"outlook.com", "outlook-com.olc.protection.outlook.com[52.101.68.9]:25"},
		{"t-online.de", "mx00.t-online.de[194.25.134.8]:25"},
		{"example.org", "mx.example.org[203.0.113.25]:25"},
		{"gmx.net", "mx00.emig.gmx.net[212.227.15.9]:25"},
	}
)

func (g *logGen) newQID() string {
	g.qid += 0x1F3B
	return fmt.Sprintf("%010X", g.qid)
}

func (g *logGen) newPID() int {
	g.pid += 1 + g.rng.IntN(40)
	return g.pid
}

// outcome returns a delivery line for rcpt and whether it was final.
func (g *logGen) outcome(prog string, pid int, qid, rcpt string, relay string, retry bool) (string, bool) {
	head := fmt.Sprintf("%s[%d]: %s: to=<%s>, ", prog, pid, qid, rcpt)
	delay := fmt.Sprintf("delay=%d.%d, delays=0.%d/0/0.%d/0.%d, ", 1+g.rng.IntN(9), g.rng.IntN(10), g.rng.IntN(10), g.rng.IntN(10), g.rng.IntN(10))
	host := relay[:strings.LastIndexByte(relay, ':')]
	ip := "192.0.2.10"
	if strings.Contains(prog, "/bulk/") {
		ip = "192.0.2.12"
	}
	r := g.rng.IntN(100)
	if retry {
		r = r / 2 // retries succeed more often
	}
	switch {
	case r < 62:
		g.want.delivered++
		return head + "relay=" + relay + ", " + delay + fmt.Sprintf("dsn=2.0.0, status=sent (250 2.0.0 OK  %d %x - gsmtp)", 1709625600+g.rng.IntN(9999), g.rng.Uint32()), true
	case r < 74:
		g.want.deferrals++
		return head + "relay=" + relay + ", " + delay + fmt.Sprintf("dsn=4.7.1, status=deferred (host %s said: 450 4.7.1 Service unavailable; Client host [%s] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/%s (in reply to RCPT TO command))", host, ip, ip), false
	case r < 80:
		g.want.deferrals++
		return head + "relay=none, " + delay + fmt.Sprintf("dsn=4.4.1, status=deferred (connect to %s:25: Connection timed out)", host), false
	case r < 90:
		g.want.bounced++
		return head + "relay=" + relay + ", " + delay + fmt.Sprintf("dsn=5.1.1, status=bounced (host %s said: 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command))", host, rcpt), true
	case r < 95:
		g.want.bounced++
		return head + "relay=" + relay + ", " + delay + fmt.Sprintf("dsn=5.7.1, status=bounced (host %s said: 554 5.7.1 Service unavailable; Client host [%s] blocked using b.barracudacentral.org (in reply to RCPT TO command))", host, ip), true
	default:
		g.want.deferrals++
		return head + "relay=" + relay + ", " + delay + fmt.Sprintf("dsn=4.7.0, status=deferred (host %s said: 421 4.7.0 [%s] Our system has detected an unusual rate of unsolicited mail originating from your IP address. (in reply to end of DATA command))", host, ip), false
	}
}

// deliveries appends the delivery attempts of rcpts, with one retry run
// for some deferred ones, and "removed" once every recipient is final.
func (g *logGen) deliveries(lines []string, qid, from string, size int, rcpts []string, bulk bool) []string {
	prog := "postfix/smtp"
	if bulk {
		prog = "postfix/bulk/smtp"
	}
	qmgr := fmt.Sprintf("postfix/qmgr[1187]: %s: from=<%s>, size=%d, nrcpt=%d (queue active)", qid, from, size, len(rcpts))
	lines = append(lines, qmgr)
	pending := rcpts
	for try := 0; try < 2 && len(pending) > 0; try++ {
		if try > 0 {
			if g.rng.IntN(3) == 0 {
				return lines // stays in the deferred queue
			}
			lines = append(lines, qmgr)
		}
		var left []string
		pid := g.newPID()
		for _, rcpt := range pending {
			d := rcptDomains[g.rng.IntN(len(rcptDomains))]
			for _, dd := range rcptDomains {
				if strings.HasSuffix(rcpt, "@"+dd.domain) {
					d = dd
				}
			}
			l, final := g.outcome(prog, pid, qid, rcpt, d.relay, try > 0)
			lines = append(lines, l)
			if !final {
				left = append(left, rcpt)
			}
		}
		pending = left
	}
	if len(pending) == 0 {
		lines = append(lines, fmt.Sprintf("postfix/qmgr[1187]: %s: removed", qid))
	}
	return lines
}

func (g *logGen) recipients() []string {
	n := 1 + g.rng.IntN(3)
	rcpts := make([]string, n)
	for i := range rcpts {
		d := rcptDomains[g.rng.IntN(len(rcptDomains))]
		rcpts[i] = fmt.Sprintf("user%d@%s", g.rng.IntN(500), d.domain)
	}
	return rcpts
}

// newStory makes the lines of one message (or one unrelated event).
func (g *logGen) newStory() *story {
	var lines []string
	client := fmt.Sprintf("unknown[198.51.100.%d]", 2+g.rng.IntN(200))
	r := g.rng.IntN(100)
	switch {
	case r < 68: // authenticated submission
		u := saslUsers[g.rng.IntN(len(saslUsers))]
		qid, pid := g.newQID(), g.newPID()
		rcpts := g.recipients()
		smtpd := fmt.Sprintf("postfix/submission/smtpd[%d]", pid)
		lines = append(lines,
			smtpd+": connect from "+client,
			fmt.Sprintf("%s: %s: client=%s, sasl_method=PLAIN, sasl_username=%s", smtpd, qid, client, u.user),
			fmt.Sprintf("postfix/cleanup[%d]: %s: message-id=<%s.%d@%s>", g.newPID(), qid, strings.ToLower(qid), g.rng.IntN(1e6), u.sender[strings.IndexByte(u.sender, '@')+1:]),
		)
		g.want.received++
		lines = g.deliveries(lines, qid, u.sender, 1200+g.rng.IntN(90000), rcpts, strings.HasPrefix(u.sender, "newsletter@"))
		// smtpd disconnects while the queue manager works.
		at := 4 + g.rng.IntN(len(lines)-3)
		disc := fmt.Sprintf("%s: disconnect from %s ehlo=1 auth=1 mail=1 rcpt=%d data=1 quit=1 commands=%d", smtpd, client, len(rcpts), 5+len(rcpts))
		lines = append(lines[:at], append([]string{disc}, lines[at:]...)...)
	case r < 82: // local submission (PHP mail() of a web site)
		qid := g.newQID()
		lines = append(lines,
			fmt.Sprintf("postfix/pickup[%d]: %s: uid=33 from=<www-data>", g.newPID(), qid),
			fmt.Sprintf("postfix/cleanup[%d]: %s: message-id=<%s@mx1.example.net>", g.newPID(), qid, strings.ToLower(qid)),
		)
		g.want.received++
		lines = g.deliveries(lines, qid, "www-data@mx1.example.net", 800+g.rng.IntN(5000), g.recipients(), false)
	case r < 87: // content rejected by a milter after DATA: the message
		// had a queue id, so its reception counts as well as its rejection
		g.want.received++
		g.want.rejected++
		u := saslUsers[g.rng.IntN(len(saslUsers))]
		qid, pid := g.newQID(), g.newPID()
		smtpd := fmt.Sprintf("postfix/submission/smtpd[%d]", pid)
		rcpt := g.recipients()[0]
		lines = append(lines,
			smtpd+": connect from "+client,
			fmt.Sprintf("%s: %s: client=%s, sasl_method=LOGIN, sasl_username=%s", smtpd, qid, client, u.user),
			fmt.Sprintf("postfix/cleanup[%d]: %s: message-id=<%s@%s>", g.newPID(), qid, strings.ToLower(qid), u.sender[strings.IndexByte(u.sender, '@')+1:]),
			fmt.Sprintf("postfix/cleanup[%d]: %s: milter-reject: END-OF-MESSAGE from %s: 5.7.1 Spam message rejected; from=<%s> to=<%s> proto=ESMTP helo=<ws%d>", g.newPID(), qid, client, u.sender, rcpt, g.rng.IntN(9)),
			smtpd+": disconnect from "+client+" ehlo=1 auth=1 mail=1 rcpt=1 data=0/1 quit=1 commands=5/6",
		)
	case r < 93: // relay attempt rejected before queueing
		g.want.rejected++
		lines = append(lines, fmt.Sprintf("postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[203.0.113.%d]: 554 5.7.1 <victim%d@gmail.com>: Relay access denied; from=<spam%d@bad.example> to=<victim%d@gmail.com> proto=ESMTP helo=<bad.example>",
			g.newPID(), 2+g.rng.IntN(200), r, r, r))
	case r < 97: // unrelated programs and postfix chatter
		lines = append(lines,
			fmt.Sprintf("dovecot[811]: imap-login: Login: user=<%s>, method=PLAIN, rip=198.51.100.%d, lip=192.0.2.10, mpid=%d, TLS", saslUsers[g.rng.IntN(len(saslUsers))].user, 2+g.rng.IntN(200), g.newPID()),
			fmt.Sprintf("postfix/anvil[1190]: statistics: max connection rate 2/60s for (submission:198.51.100.%d) at %s", 2+g.rng.IntN(200), g.clock.Format(time.Stamp)),
		)
	default: // a garbled line (no syslog header): counted as malformed
		lines = append(lines, "#GARBLED# "+strings.Repeat("x", 1+g.rng.IntN(40)))
	}
	return &story{lines: lines}
}

// line renders the next line of a random message in flight, starting new
// messages to keep several in flight.
func (g *logGen) line(startNew bool) (string, bool) {
	for startNew && len(g.active) < 6 {
		g.active = append(g.active, g.newStory())
	}
	if len(g.active) == 0 {
		return "", false
	}
	i := g.rng.IntN(len(g.active))
	s := g.active[i]
	body := s.lines[s.next]
	s.next++
	if s.next == len(s.lines) {
		g.active = append(g.active[:i], g.active[i+1:]...)
	}
	g.clock = g.clock.Add(time.Duration(g.rng.IntN(1500)) * time.Millisecond)
	g.want.lines++
	if strings.HasPrefix(body, "#GARBLED#") {
		return body, true
	}
	return g.clock.Format(time.Stamp) + " mx1 " + body, true
}

// batch returns the next n lines; some messages are left mid-way.
func (g *logGen) batch(n int) []string {
	out := make([]string, 0, n)
	for range n {
		l, _ := g.line(true)
		out = append(out, l)
	}
	return out
}

// finish returns the remaining lines of every message in flight.
func (g *logGen) finish() []string {
	var out []string
	for {
		l, ok := g.line(false)
		if !ok {
			return out
		}
		out = append(out, l)
	}
}

// ledgerView is what must be equal between the daemon's lifetime ledger
// and a one-shot replay of the same lines.
type ledgerView struct {
	Lines         ingest.LineStats
	Totals        scoring.Counters
	Accounts      []scoring.AccountRow
	IPs           []scoring.IPRow
	SenderDomains []scoring.DomainRow
	Blocklists    []scoring.ListRow
}

func toComparable(s scoring.Summary) ledgerView {
	return ledgerView{s.Lines, s.Totals, s.Accounts, s.IPs, s.SenderDomains, s.Blocklists}
}

// diffSummaries describes every difference between daemon and replay.
func diffSummaries(daemon, replay scoring.Summary) []string {
	var diffs []string
	if daemon.Lines != replay.Lines {
		diffs = append(diffs, fmt.Sprintf("lines: daemon %+v, replay %+v", daemon.Lines, replay.Lines))
	}
	if !reflect.DeepEqual(daemon.Totals, replay.Totals) {
		diffs = append(diffs, fmt.Sprintf("totals:\n  daemon %+v\n  replay %+v", daemon.Totals, replay.Totals))
	}
	table := func(name string, d, r map[string]scoring.Counters) {
		keys := map[string]bool{}
		for k := range d {
			keys[k] = true
		}
		for k := range r {
			keys[k] = true
		}
		for k := range keys {
			dc, dok := d[k]
			rc, rok := r[k]
			switch {
			case !dok:
				diffs = append(diffs, fmt.Sprintf("%s %q: only in the replay: %+v", name, k, rc))
			case !rok:
				diffs = append(diffs, fmt.Sprintf("%s %q: only in the daemon: %+v", name, k, dc))
			case !reflect.DeepEqual(dc, rc):
				diffs = append(diffs, fmt.Sprintf("%s %q:\n  daemon %+v\n  replay %+v", name, k, dc, rc))
			}
		}
	}
	table("account", accountMap(daemon.Accounts), accountMap(replay.Accounts))
	table("ip", ipMap(daemon.IPs), ipMap(replay.IPs))
	table("sender domain", domainMap(daemon.SenderDomains), domainMap(replay.SenderDomains))
	if len(diffs) == 0 && !reflect.DeepEqual(toComparable(daemon), toComparable(replay)) {
		diffs = append(diffs, fmt.Sprintf("row order or blocklists differ:\n  daemon %+v\n  replay %+v", toComparable(daemon), toComparable(replay)))
	}
	return diffs
}

func accountMap(rows []scoring.AccountRow) map[string]scoring.Counters {
	m := map[string]scoring.Counters{}
	for _, r := range rows {
		m[r.Account] = r.Counters
	}
	return m
}

func ipMap(rows []scoring.IPRow) map[string]scoring.Counters {
	m := map[string]scoring.Counters{}
	for _, r := range rows {
		m[r.IP] = r.Counters
	}
	return m
}

func domainMap(rows []scoring.DomainRow) map[string]scoring.Counters {
	m := map[string]scoring.Counters{}
	for _, r := range rows {
		m[r.Domain] = r.Counters
	}
	return m
}

// TestRunRestartRotationEqualsReplay is the acceptance test of "mailrep
// run": the daemon follows a log that is appended to, rotated in all three
// styles (rename-and-create, copytruncate, delete-and-recreate), rotated
// while the daemon is down, and whose daemon is stopped with SIGTERM and
// killed with SIGKILL mid-stream; its lifetime ledger must then equal a
// one-shot "mailrep replay" of exactly the lines written, in order.
func TestRunRestartRotationEqualsReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon (-short)")
	}
	bin := buildMailrep(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	dir := t.TempDir()
	h := &runHarness{
		t:        t,
		ctx:      ctx,
		bin:      bin,
		dir:      dir,
		stateDir: filepath.Join(dir, "state"),
		logPath:  filepath.Join(dir, "log", "mail.log"),
		client:   &http.Client{Timeout: 5 * time.Second},
	}
	t.Cleanup(h.killAll)
	if err := os.Mkdir(filepath.Dir(h.logPath), 0o750); err != nil {
		t.Fatal(err)
	}
	refPath := filepath.Join(dir, "reference.log")
	ref, err := os.Create(refPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	logf := &syslogFile{t: t, path: h.logPath, ref: ref}
	t.Cleanup(func() {
		if logf.f != nil {
			logf.f.Close()
		}
	})
	seed := uint64(time.Now().UnixNano())
	gen := newLogGen(seed)
	t.Logf("log generator seed %d", seed)

	// 1. The daemon starts before the log exists, then follows it.
	d := h.start()
	logf.write(gen.batch(600))
	h.waitLines(d, logf.written, "first batch")

	// 2. Rename-and-create: unread lines in the old file, lines written
	// to it after the rename (syslogd has not reopened yet), then lines
	// in the new file.
	logf.write(gen.batch(500))
	logf.rotateRename()
	logf.write(gen.batch(60))
	logf.reopen()
	logf.write(gen.batch(300))
	h.waitLines(d, logf.written, "after rename-and-create")

	// 3. Graceful stop mid-stream (what was read must be counted and
	// saved); lines and a rename rotation while it is down; the restarted
	// daemon finishes the rotated file, then the new one.
	h.writeAndWaitForProgress(d, logf, gen.batch(1500), "SIGTERM")
	h.stop(d)
	logf.write(gen.batch(300))
	logf.rotateRename()
	logf.reopen()
	logf.write(gen.batch(200))
	d = h.start()
	h.waitLines(d, logf.written, "after SIGTERM, rotation while down, restart")

	// 4. Copytruncate with lines not yet read; the truncated file is
	// refilled with fewer bytes than the daemon had read of it before
	// (a refill past the read offset within one check interval is a
	// documented limit of every tailer), then caught up with.
	read := logf.size()
	logf.write(gen.batch(600))
	logf.rotateCopyTruncate()
	refill := gen.batch(30)
	if n := linesBytes(refill); n >= read {
		t.Fatalf("test bug: refill of %d bytes after copytruncate is not below the %d bytes read", n, read)
	}
	logf.write(refill)
	h.waitLines(d, logf.written, "after copytruncate")
	logf.write(gen.batch(300))
	h.waitLines(d, logf.written, "after copytruncate, more lines")

	// 5. SIGKILL mid-stream: as soon as the daemon has started on a big
	// batch. The restarted daemon resumes from its last checkpoint.
	h.writeAndWaitForProgress(d, logf, gen.batch(2000), "SIGKILL")
	h.kill(d)
	// While it is down: the rest of the batch is written, and the file
	// is copytruncate'd and refilled.
	logf.write(gen.batch(200))
	logf.rotateCopyTruncate()
	logf.write(gen.batch(100))
	d = h.start()
	h.waitLines(d, logf.written, "after SIGKILL, copytruncate while down, restart")

	// 6. Delete-and-recreate, once the daemon has read the old file.
	logf.deleteAndRecreate()
	logf.write(gen.batch(300))
	h.waitLines(d, logf.written, "after delete-and-recreate")

	// 7. Finish every message in flight, so nothing waits in the
	// correlator (a replay counts what still waits at its end).
	logf.write(gen.finish())
	h.waitLines(d, logf.written, "final lines")

	var sum SummaryResponse
	if err := h.getJSON(d, "/api/v1/summary", &sum); err != nil {
		t.Fatal(err)
	}
	h.stop(d)

	// The state saved on exit gives the same summary after a restart.
	d = h.start()
	var again SummaryResponse
	if err := h.getJSON(d, "/api/v1/summary", &again); err != nil {
		t.Fatal(err)
	}
	if diffs := diffSummaries(again.Lifetime, sum.Lifetime); len(diffs) > 0 {
		t.Errorf("lifetime summary changed across a graceful restart (\"daemon\" = after, \"replay\" = before):\n%s", strings.Join(diffs, "\n"))
	}
	h.stop(d)
	h.checkLogs()
	if testing.Verbose() {
		for _, d := range h.procs {
			t.Logf("%s stderr:\n%s", d.name, d.stderr.String())
		}
	}

	// The one-shot replay of exactly the lines written.
	if err := ref.Sync(); err != nil {
		t.Fatal(err)
	}
	replayCfg := filepath.Join(dir, "replay.yaml")
	writeConfig(t, replayCfg, filepath.Join(dir, "replay-state"), refPath, "")
	cmd := exec.CommandContext(ctx, bin, "replay", "-c", replayCfg, "--format", "json", refPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mailrep replay: %v\n%s", err, stderr.String())
	}
	var rep ReplayReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("mailrep replay output: %v\n%s", err, out)
	}

	// The replay itself counts what was generated, so that equality
	// below cannot come from two empty or equally broken ledgers.
	w := gen.want
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"lines", rep.Lines.Total, w.lines},
		{"received", rep.Totals.Received, w.received},
		{"delivered", rep.Totals.Delivered, w.delivered},
		{"deferrals", rep.Totals.Deferrals, w.deferrals},
		{"bounced", rep.Totals.Bounced, w.bounced},
		{"rejected", rep.Totals.Rejected, w.rejected},
	} {
		if c.got != c.want {
			t.Errorf("replay of the reference log: %s = %d, generator wrote %d", c.name, c.got, c.want)
		}
	}
	if rep.Lines.Total != logf.written {
		t.Errorf("replay read %d lines, %d were written", rep.Lines.Total, logf.written)
	}
	if rep.Totals.BlocklistRejections == 0 || len(rep.Accounts) < 4 || len(rep.IPs) < 2 || len(rep.SenderDomains) < 5 || rep.Lines.Malformed == 0 {
		t.Errorf("replay summary lacks the generated variety: blocklist rejections %d, %d accounts, %d IPs, %d sender domains, %d malformed lines",
			rep.Totals.BlocklistRejections, len(rep.Accounts), len(rep.IPs), len(rep.SenderDomains), rep.Lines.Malformed)
	}

	if diffs := diffSummaries(sum.Lifetime, rep.Summary); len(diffs) > 0 {
		t.Errorf("daemon lifetime ledger differs from a one-shot replay of the same %d lines:\n%s", logf.written, strings.Join(diffs, "\n"))
	} else {
		t.Logf("daemon = replay over %d lines: %+v", logf.written, sum.Lifetime.Totals)
	}
}
