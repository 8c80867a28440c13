package queue

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/internal/testenv"
)

// postfixInstance is a private Postfix started for one test: its own
// configuration, queue and data directories under a temporary directory,
// smtpd on a free loopback port, Cyrus SASL with a sasldb, and nothing ever
// delivered (defer_transports = smtp; no local delivery).
type postfixInstance struct {
	t       *testing.T
	postfix string // the postfix command
	base    string
	conf    string
	queue   string
	port    int
}

// Test accounts in the instance's sasldb.
var saslUsers = map[string]string{"alice@mailrep-test.example": "s3cret", "bob@mailrep-test.example": "hunter2"}

func startPostfix(t *testing.T) *postfixInstance {
	t.Helper()
	postfix := testenv.NeedProgram(t, "postfix", "postfix")
	testenv.NeedProgram(t, "swaks", "swaks")
	saslpasswd := testenv.NeedProgram(t, "saslpasswd2", "sasl2-bin")
	if os.Geteuid() != 0 {
		if testenv.Integration() {
			t.Fatal("the Postfix test needs root: Postfix's master daemon runs as root")
		}
		t.Skip("the Postfix test needs root: Postfix's master daemon runs as root")
	}
	pfUser, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("the postfix package's user: %v", err)
	}
	uid, _ := strconv.Atoi(pfUser.Uid)
	gid, _ := strconv.Atoi(pfUser.Gid)

	base := t.TempDir()
	// Postfix daemons drop to the postfix user and then open the sasldb
	// and the data directory by absolute path: let them through.
	for d := base; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &postfixInstance{t: t, postfix: postfix, base: base,
		conf: filepath.Join(base, "conf"), queue: filepath.Join(base, "queue")}
	data := filepath.Join(base, "data")
	for _, d := range []string{p.conf, filepath.Join(p.conf, "sasl"), p.queue, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	sasldb := filepath.Join(p.conf, "sasldb2")
	for u, pw := range saslUsers {
		name, realm, _ := strings.Cut(u, "@")
		cmd := exec.Command(saslpasswd, "-p", "-c", "-f", sasldb, "-u", realm, name)
		cmd.Stdin = strings.NewReader(pw)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("saslpasswd2: %v\n%s", err, out)
		}
	}
	if err := os.Chmod(sasldb, 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(p.conf, "sasl", "smtpd.conf"), "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: "+sasldb+"\n")
	write(filepath.Join(p.conf, "main.cf"), fmt.Sprintf(`compatibility_level = 3.6
config_directory = %[1]s/conf
queue_directory = %[1]s/queue
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
myhostname = mx.mailrep-test.example
mydomain = mailrep-test.example
myorigin = $mydomain
mydestination =
alias_maps =
alias_database =
local_transport = error:local delivery disabled
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
defer_transports = smtp
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = %[1]s/conf/sasl
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination
smtpd_sender_restrictions = check_sender_access inline:{ {held@mailrep-test.example = HOLD} }
`, base))
	write(filepath.Join(p.conf, "master.cf"), fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`, p.port))

	p.run(postfix, "-c", p.conf, "check")
	p.run(postfix, "-c", p.conf, "start")
	t.Cleanup(p.stop)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			p.fail("smtpd did not listen within 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// run runs a command that must succeed.
func (p *postfixInstance) run(name string, args ...string) []byte {
	p.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		p.fail("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// fail ends the test with Postfix's own log.
func (p *postfixInstance) fail(format string, args ...any) {
	p.t.Helper()
	log, _ := os.ReadFile(filepath.Join(p.base, "maillog"))
	p.t.Fatalf(format+"\nPostfix log:\n%s", append(args, log)...)
}

func (p *postfixInstance) stop() {
	out, err := exec.Command(p.postfix, "-c", p.conf, "stop").CombinedOutput()
	if err != nil {
		p.t.Errorf("postfix stop: %v\n%s", err, out)
		return
	}
	// Wait for the daemons to let go of the queue before it is removed.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := exec.Command(p.postfix, "-c", p.conf, "status").Run(); err != nil {
			return
		}
	}
	p.t.Errorf("postfix did not stop within 10s")
}

// swaks submits one message over SMTP.
func (p *postfixInstance) swaks(args ...string) {
	p.t.Helper()
	base := []string{"--server", "127.0.0.1", "--port", strconv.Itoa(p.port), "--hide-all"}
	p.run("swaks", append(base, args...)...)
}

// postqueueEntry is one line of "postqueue -j".
type postqueueEntry struct {
	QueueName   string `json:"queue_name"`
	QueueID     string `json:"queue_id"`
	ArrivalTime int64  `json:"arrival_time"`
	Sender      string `json:"sender"`
	Recipients  []struct {
		Address string `json:"address"`
	} `json:"recipients"`
}

// postqueue lists the queue with Postfix's own reader, the oracle.
func (p *postfixInstance) postqueue() map[string]postqueueEntry {
	p.t.Helper()
	postqueue := testenv.NeedProgram(p.t, "postqueue", "postfix")
	out := p.run(postqueue, "-c", p.conf, "-j")
	m := map[string]postqueueEntry{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e postqueueEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			p.fail("postqueue -j line %q: %v", sc.Text(), err)
		}
		m[e.QueueID] = e
	}
	return m
}

// waitSettled waits until n messages sit in deferred or hold (none left in
// incoming or active) and returns what Scan read.
func (p *postfixInstance) waitSettled(n int) map[string]*Queued {
	p.t.Helper()
	var got map[string]*Queued
	for deadline := time.Now().Add(20 * time.Second); ; {
		got = map[string]*Queued{}
		settled := 0
		_, err := Scan(context.Background(), p.queue, KindPostfix, Options{}, func(q *Queued) error {
			got[q.QueueID] = q
			if q.Queue == "deferred" || q.Queue == "hold" {
				settled++
			}
			return nil
		})
		if err != nil {
			p.fail("scan: %v", err)
		}
		if settled == n && len(got) == n {
			return got
		}
		if time.Now().After(deadline) {
			p.fail("%d messages queued, %d of them deferred or held; want %d", len(got), settled, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queueSnapshot lists every file in the queue with its size, mode and times.
func queueSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			snap[path] = fmt.Sprintf("%d %v %v", fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// TestPostfixIntegration submits mail to a real Postfix — SASL PLAIN and
// LOGIN, unauthenticated from mynetworks, a held sender, a local sendmail
// submission, a long message with lines longer than line_length_limit — and
// checks that the reader finds every message with the right envelope,
// account and content, agreeing with postqueue -j, without touching the queue.
func TestPostfixIntegration(t *testing.T) {
	p := startPostfix(t)

	longLine := strings.Repeat("0123456789", 500) // 5000 bytes: cleanup splits it into L records
	var big strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&big, "line %04d of a long message, the same text again and again\n", i)
	}
	type sub struct {
		marker      string
		args        []string
		body        string
		sender      string
		rcpts       []string
		auth        string
		helo        string
		queue       string
		account     string
		localUser   string
		clientKnown bool
	}
	subs := []sub{
		{marker: "mailrep-plain", sender: "alice@mailrep-test.example",
			rcpts: []string{"carol@remote.example", "dave@remote.example"},
			args: []string{"--auth", "PLAIN", "--auth-user", "alice@mailrep-test.example", "--auth-password", "s3cret",
				"--helo", "client.mailrep-test.example"},
			body: "Plain and simple.\n" + longLine + "\nafter the long line\n",
			auth: "alice@mailrep-test.example", helo: "client.mailrep-test.example", queue: "deferred",
			account: "alice@mailrep-test.example", clientKnown: true},
		{marker: "mailrep-login", sender: "newsletter@customer.example",
			rcpts: []string{"erin@remote.example"},
			args: []string{"--auth", "LOGIN", "--auth-user", "bob@mailrep-test.example", "--auth-password", "hunter2",
				"--helo", "[127.0.0.1]"},
			body: big.String(),
			auth: "bob@mailrep-test.example", helo: "[127.0.0.1]", queue: "deferred",
			account: "bob@mailrep-test.example", clientKnown: true},
		{marker: "mailrep-noauth", sender: "script@customer.example",
			rcpts: []string{"frank@remote.example", "grace@remote.example", "heidi@remote.example"},
			args:  []string{"--helo", "web01.customer.example"},
			body:  "Sent by a script from mynetworks, no AUTH.\n",
			helo:  "web01.customer.example", queue: "deferred", account: "customer.example", clientKnown: true},
		{marker: "mailrep-held", sender: "held@mailrep-test.example",
			rcpts: []string{"ivan@remote.example"},
			args:  []string{"--helo", "held.mailrep-test.example"},
			body:  "Put on hold by the access map.\n",
			helo:  "held.mailrep-test.example", queue: "hold", account: "mailrep-test.example", clientKnown: true},
	}
	for _, s := range subs {
		data := fmt.Sprintf("From: <%s>\nTo: %s\nSubject: %s\nMessage-ID: <%s@mailrep-test.example>\n\n%s",
			s.sender, strings.Join(s.rcpts, ", "), s.marker, s.marker, s.body)
		args := append([]string{"--from", s.sender, "--to", strings.Join(s.rcpts, ","), "--data", "-"}, s.args...)
		cmd := exec.Command("swaks", append([]string{"--server", "127.0.0.1", "--port", strconv.Itoa(p.port), "--hide-all"}, args...)...)
		cmd.Stdin = strings.NewReader(data)
		if out, err := cmd.CombinedOutput(); err != nil {
			p.fail("swaks %s: %v\n%s", s.marker, err, out)
		}
	}
	// A wrong password is refused, and nothing is queued for it.
	cmd := exec.Command("swaks", "--server", "127.0.0.1", "--port", strconv.Itoa(p.port), "--hide-all",
		"--from", "alice@mailrep-test.example", "--to", "x@remote.example",
		"--auth", "PLAIN", "--auth-user", "alice@mailrep-test.example", "--auth-password", "wrong")
	if err := cmd.Run(); err == nil {
		p.fail("swaks with a wrong password succeeded")
	}
	// A local submission through sendmail/postdrop/pickup, as root.
	local := sub{marker: "mailrep-local", sender: "root@mailrep-test.example", rcpts: []string{"judy@remote.example"},
		body: "Submitted with sendmail by a local user.\n", queue: "deferred", account: "root", localUser: "root"}
	sendmail := strings.TrimSpace(string(p.run(testenv.NeedProgram(t, "postconf", "postfix"), "-c", p.conf, "-h", "sendmail_path")))
	cmd = exec.Command(sendmail, "-C", p.conf, "-f", local.sender, local.rcpts[0])
	cmd.Stdin = strings.NewReader("Subject: " + local.marker + "\n\n" + local.body)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.fail("sendmail: %v\n%s", err, out)
	}
	subs = append(subs, local)

	got := p.waitSettled(len(subs))
	oracle := p.postqueue()
	before := queueSnapshot(t, p.queue)
	byMarker := map[string]*Queued{}
	for _, q := range got {
		_, rest, ok := bytes.Cut(q.Content, []byte("\nSubject: "))
		if !ok {
			t.Errorf("%s: no Subject in\n%s", q.QueueID, q.Content)
			continue
		}
		marker, _, _ := bytes.Cut(rest, []byte("\n"))
		byMarker[string(marker)] = q
	}
	for _, s := range subs {
		q := byMarker[s.marker]
		if q == nil {
			t.Errorf("%s: not found in the queue", s.marker)
			continue
		}
		if q.Queue != s.queue || q.Sender != s.sender || !slices.Equal(q.Recipients, s.rcpts) || q.Pending != len(s.rcpts) {
			t.Errorf("%s: queue %q sender %q recipients %q pending %d", s.marker, q.Queue, q.Sender, q.Recipients, q.Pending)
		}
		if q.AuthUser != s.auth || q.HELO != s.helo || DefaultAccount(q) != s.account || q.LocalUser != s.localUser {
			t.Errorf("%s: auth %q helo %q account %q local user %q", s.marker, q.AuthUser, q.HELO, DefaultAccount(q), q.LocalUser)
		}
		if s.auth != "" && q.AuthMethod == "" {
			t.Errorf("%s: no SASL method", s.marker)
		}
		wantIP := netip.Addr{}
		if s.clientKnown {
			wantIP = netip.MustParseAddr("127.0.0.1")
		}
		if q.ClientIP != wantIP {
			t.Errorf("%s: client %v, want %v", s.marker, q.ClientIP, wantIP)
		}
		body := s.body
		if s.localUser == "" {
			body += "\n" // swaks ends the data it is given with an empty line
		}
		if !bytes.HasSuffix(q.Content, []byte("\n\n"+body)) || !bytes.HasPrefix(q.Content, []byte("Received: ")) {
			t.Errorf("%s: content does not end with the body sent:\n%q", s.marker, q.Content[max(0, len(q.Content)-300):])
		}
		if q.Truncated || q.ContentSize != int64(len(q.Content)) {
			t.Errorf("%s: truncated %v, size %d of %d", s.marker, q.Truncated, q.ContentSize, len(q.Content))
		}
		o, ok := oracle[q.QueueID]
		if !ok {
			t.Errorf("%s: queue id %s unknown to postqueue", s.marker, q.QueueID)
			continue
		}
		var oRcpts []string
		for _, r := range o.Recipients {
			oRcpts = append(oRcpts, r.Address)
		}
		if o.QueueName != q.Queue || o.Sender != q.Sender || !slices.Equal(oRcpts, q.Recipients) || o.ArrivalTime != q.Arrival.Unix() {
			t.Errorf("%s: postqueue says %+v", s.marker, o)
		}
	}
	if len(oracle) != len(subs) {
		t.Errorf("postqueue lists %d messages, want %d", len(oracle), len(subs))
	}

	// The same with a small cap: content cut, envelope intact.
	_, err := Scan(context.Background(), p.queue, KindPostfix, Options{MaxContent: 100}, func(q *Queued) error {
		full := got[q.QueueID]
		if !bytes.Equal(q.Content, full.Content[:100]) || !q.Truncated || q.ContentSize != full.ContentSize || q.Key() != full.Key() {
			t.Errorf("%s capped: %q truncated %v size %d", q.QueueID, q.Content, q.Truncated, q.ContentSize)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reading changed nothing in the queue (sizes, modes, mtimes).
	if after := queueSnapshot(t, p.queue); !maps.Equal(before, after) {
		t.Errorf("the queue changed while reading:\nbefore %v\nafter  %v", before, after)
	}

	t.Run("watch", func(t *testing.T) { testPostfixWatch(t, p, got) })
}

// testPostfixWatch runs a Watcher on the live queue: it hands over the
// messages already queued once, then a new submission once, even though
// Postfix moves it through incoming, active and deferred and rewrites its
// mtime.
func testPostfixWatch(t *testing.T, p *postfixInstance, queued map[string]*Queued) {
	reports := make(chan ScanReport, 100)
	w := &Watcher{
		Dirs:     []Dir{{p.queue, KindPostfix}},
		Interval: 300 * time.Millisecond,
		Settle:   50 * time.Millisecond,
		OnScan: func(r ScanReport) {
			select {
			case reports <- r:
			default: // never block the watcher
			}
		},
	}
	got := runWatcher(t, w)
	seen := map[string]int{}
	for range queued {
		select {
		case q := <-got:
			seen[q.QueueID]++
		case <-time.After(10 * time.Second):
			t.Fatalf("the watcher handed over %d of %d queued messages", len(seen), len(queued))
		}
	}
	for id := range queued {
		if seen[id] != 1 {
			t.Errorf("%s handed over %d times", id, seen[id])
		}
	}
	p.swaks("--from", "late@mailrep-test.example", "--to", "kim@remote.example",
		"--auth", "PLAIN", "--auth-user", "alice@mailrep-test.example", "--auth-password", "s3cret",
		"--header", "Subject: mailrep-late")
	var late *Queued
	select {
	case late = <-got:
	case <-time.After(10 * time.Second):
		p.fail("the new message was not handed over within 10s")
	}
	if late.Sender != "late@mailrep-test.example" || late.AuthUser != "alice@mailrep-test.example" || !bytes.Contains(late.Content, []byte("Subject: mailrep-late")) {
		t.Errorf("handed %+v", late)
	}
	// Several full scans later it has settled in deferred, not handed over again.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case q := <-got:
			t.Fatalf("%s (queue %s) handed over again", q.QueueID, q.Queue)
		case r := <-reports:
			var deferred int
			for _, c := range r.Counts {
				if c.Queue == "deferred" && c.Account == "alice@mailrep-test.example" {
					deferred = c.Messages
				}
			}
			if deferred == 2 && r.Stats.Files == len(queued)+1 {
				// Keep watching for one more scan interval.
				expectNothing(t, got, 2*w.Interval)
				return
			}
		case <-deadline:
			p.fail("the late message did not show in the deferred count within 10s")
		}
	}
}
