package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// eximSpool is the spool of a real Exim 4.96 (testdata/exim-spool/README.md).
var eximSpool = filepath.Join("..", "..", "testdata", "exim-spool", "spool")

func TestEximRealSpool(t *testing.T) {
	tests := []struct {
		id, sub      string
		sender       string
		rcpts        []string
		auth, method string
		helo         string
		client       string
		server       string
		uid          int
		user         string
		protocol     string
		arrival      time.Time
		has, hasNot  []string
	}{
		{
			id: "1xV7az-00006g-1Q", sub: "z",
			sender: "alice@mailrep-test.example", rcpts: []string{"carol@remote.example", "dave@remote.example"},
			auth: "alice@mailrep-test.example", method: "plain", helo: "client.mailrep-test.example",
			client: "127.0.0.1", server: "127.0.0.1:48003", uid: -1, protocol: "esmtpa",
			arrival: time.Unix(1795354025, 441256000),
			has: []string{
				"Received: from [127.0.0.1] (helo=client.mailrep-test.example)\n\tby mx",
				"X-Folded: first part of a header that is folded\n onto a second line\nX-Mailrep-Test: smtp\n\nHello Carol and Dave,\n",
				"-- \nAlice\n",
			},
		},
		{
			id: "1xV7az-000071-2X", sub: "z",
			sender: "bob@mailrep-test.example", rcpts: []string{"erin@remote.example", "frank@remote.example", "grace@remote.example"},
			auth: "bob", method: "login", helo: "[127.0.0.1]",
			client: "127.0.0.1", server: "127.0.0.1:48003", uid: -1, protocol: "esmtpa",
			arrival: time.Unix(1795354025, 788961000),
			has:     []string{"From: Bob <bob@mailrep-test.example>\n", "Content-Transfer-Encoding: 8bit\nX-Mailrep-Test: smtp\n\nBonjour"},
			// The rewritten headers are kept in -H as deleted (*) ones.
			hasNot: []string{"legacy.mailrep-test.example", "X-rewrote-sender"},
		},
		{
			id: "1xV7b0-00007b-18", sub: "0",
			sender: "nobody@mailrep-test.example", rcpts: []string{"someone@remote.example"},
			uid: 65534, user: "nobody", protocol: "local",
			arrival: time.Unix(1795354026, 351009000),
			has:     []string{"X-PHP-Originating-Script: 33:contact.php\n", "X-Mailrep-Test: local\n\nName: Someone\nMessage: please call me back.\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			h := filepath.Join(eximSpool, "input", tc.sub, tc.id+"-H")
			q, err := ReadExim(h, DefaultMaxContent)
			if err != nil {
				t.Fatal(err)
			}
			if q.QueueID != tc.id || q.Queue != "incoming" || q.Kind != KindExim || q.Path != h {
				t.Errorf("id %q queue %q kind %v path %q", q.QueueID, q.Queue, q.Kind, q.Path)
			}
			if q.Sender != tc.sender || !slices.Equal(q.Recipients, tc.rcpts) || q.Pending != len(tc.rcpts) {
				t.Errorf("sender %q recipients %q pending %d", q.Sender, q.Recipients, q.Pending)
			}
			if q.AuthUser != tc.auth || q.AuthMethod != tc.method || q.HELO != tc.helo || q.Protocol != tc.protocol {
				t.Errorf("auth %q method %q helo %q protocol %q", q.AuthUser, q.AuthMethod, q.HELO, q.Protocol)
			}
			if got := addrString(q.ClientIP); got != tc.client {
				t.Errorf("client %q, want %q", got, tc.client)
			}
			if got := addrPortString(q.ServerAddr); got != tc.server {
				t.Errorf("server %q, want %q", got, tc.server)
			}
			if q.LocalUID != tc.uid || q.LocalUser != tc.user {
				t.Errorf("local %d %q, want %d %q", q.LocalUID, q.LocalUser, tc.uid, tc.user)
			}
			if !q.Arrival.Equal(tc.arrival) {
				t.Errorf("arrival %v, want %v", q.Arrival, tc.arrival)
			}
			if !bytes.HasPrefix(q.Content, []byte("Received: ")) {
				t.Errorf("content does not start with the Received header: %q", clip(string(q.Content)))
			}
			for _, s := range tc.has {
				if !bytes.Contains(q.Content, []byte(s)) {
					t.Errorf("content lacks %q:\n%s", s, q.Content)
				}
			}
			for _, s := range tc.hasNot {
				if bytes.Contains(q.Content, []byte(s)) {
					t.Errorf("content has %q:\n%s", s, q.Content)
				}
			}
			if q.Truncated || q.ContentSize != int64(len(q.Content)) {
				t.Errorf("truncated %v size %d of %d", q.Truncated, q.ContentSize, len(q.Content))
			}
			hs, err := os.Stat(h)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := os.Stat(strings.TrimSuffix(h, "-H") + "-D")
			if err != nil {
				t.Fatal(err)
			}
			if _, ino := fileID(ds); q.Inode != ino || q.Size != hs.Size()+ds.Size() {
				t.Errorf("inode %d size %d", q.Inode, q.Size)
			}

			e, err := ReadExim(h, 0)
			if err != nil {
				t.Fatal(err)
			}
			if e.Key() != q.Key() || e.AuthUser != q.AuthUser || !slices.Equal(e.Recipients, q.Recipients) || len(e.Content) != 0 {
				t.Errorf("envelope-only read differs: %+v", e)
			}
			c, err := ReadExim(h, 100)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Content, q.Content[:100]) || !c.Truncated || c.ContentSize != q.ContentSize {
				t.Errorf("capped: %q truncated %v size %d", c.Content, c.Truncated, c.ContentSize)
			}
		})
	}
}

// eximH is a -H file exercising what the real spool does not: the 4.97
// message id format, the documented ip.port addresses, a non-recipients
// tree, one_time and DSN recipient lines, an -aclc value with a newline, a
// quoted-for-lookup option, a frozen message.
const eximH = `1xV7az-0000000006g-0001-H
exim 101 101
<>
1700000000 1
-aclc ip 11
192.0.2.1
x
-(pgsql)auth_id carol
--host_address 2001:db8::1.2525
-interface_address 192.0.2.25.587
-frozen 1700000100
-spam_score_int 12
YY two@x.example
NN one@x.example
NN three@x.example
4
one@x.example
two@x.example parent@x.example 16,0#1
four@x.example rfc822;four@x.example 21,7 bounce@x.example 16,1#3
three@x.example

`

func TestParseEximHeaderSynthetic(t *testing.T) {
	h := eximH + eximHdr(' ', "Subject: x\n") + eximHdr('*', "To: deleted@x.example\n") + eximHdr('T', "To: shown@x.example,\n y\n")
	q, err := ParseEximHeader(strings.NewReader(h), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if q.QueueID != "1xV7az-0000000006g-0001" || q.Sender != "" || q.Queue != "frozen" || q.AuthUser != "carol" {
		t.Errorf("id %q sender %q queue %q auth %q", q.QueueID, q.Sender, q.Queue, q.AuthUser)
	}
	if q.ClientIP != netip.MustParseAddr("2001:db8::1") || q.ServerAddr != netip.MustParseAddrPort("192.0.2.25:587") {
		t.Errorf("client %v server %v", q.ClientIP, q.ServerAddr)
	}
	if want := []string{"one@x.example", "two@x.example", "four@x.example", "three@x.example"}; !slices.Equal(q.Recipients, want) {
		t.Errorf("recipients %q, want %q", q.Recipients, want)
	}
	if q.Pending != 1 { // one, two and three are in the delivered tree
		t.Errorf("pending %d", q.Pending)
	}
	if q.LocalUID != -1 {
		t.Errorf("local uid %d for a message with a host address", q.LocalUID)
	}
	if want := "Subject: x\nTo: shown@x.example,\n y\n"; string(q.Content) != want {
		t.Errorf("headers %q, want %q", q.Content, want)
	}
}

// eximHdr formats a header as -H stores it: length, flag, space, text.
func eximHdr(flag byte, text string) string {
	return fmt.Sprintf("%03d%c %s", len(text), flag, text)
}

func TestParseEximHeaderBad(t *testing.T) {
	good := "1xV7az-00006g-1Q-H\nexim 1 1\n<a@x>\n1700000000 0\n-local\nXX\n1\nr@x\n\n011  Subject: x\n"
	if _, err := ParseEximHeader(strings.NewReader(good), 100); err != nil {
		t.Fatalf("the good file: %v", err)
	}
	tests := []struct {
		name string
		h    string
		want error
	}{
		{"empty", "", ErrIncomplete},
		{"bad id", strings.Replace(good, "1xV7az-00006g-1Q-H", "hello-H", 1), ErrMalformed},
		{"bad caller", strings.Replace(good, "exim 1 1", "exim", 1), ErrMalformed},
		{"bad uid", strings.Replace(good, "exim 1 1", "exim x 1", 1), ErrMalformed},
		{"bad sender", strings.Replace(good, "<a@x>", "a@x", 1), ErrMalformed},
		{"bad time", strings.Replace(good, "1700000000 0", "soon", 1), ErrMalformed},
		{"bad tree", strings.Replace(good, "XX", "QQ a@x", 1), ErrMalformed},
		{"tree cut short", strings.Replace(good, "XX", "YY a@x", 1), ErrMalformed},
		{"bad count", strings.Replace(good, "\n1\n", "\nmany\n", 1), ErrMalformed},
		{"too few recipients", strings.Replace(good, "\n1\n", "\n5\n", 1), ErrIncomplete},
		{"no blank line", strings.Replace(good, "r@x\n\n", "r@x\nq@x\n", 1), ErrMalformed},
		{"header cut short", strings.Replace(good, "011  Subject: x\n", "099  Subject: x\n", 1), ErrIncomplete},
		{"header without length", good + "Subject: y\n", ErrMalformed},
		{"bad acl length", strings.Replace(good, "-local", "-aclm x many", 1), ErrMalformed},
		{"acl value cut short", strings.Replace(good, "-local\nXX\n1\nr@x\n\n011  Subject: x\n", "-aclm x 500\nabc", 1), ErrIncomplete},
		{"long line", strings.Replace(good, "<a@x>", "<"+strings.Repeat("a", 70000)+">", 1), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEximHeader(strings.NewReader(tc.h), 100)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEximRecipient(t *testing.T) {
	for line, want := range map[string]string{
		"a@x.example":                                 "a@x.example",
		"a@x.example e@x.example 11,0#1":              "a@x.example",
		"a@x.example  0,-1#1":                         "a@x.example",
		"a@x.example rfc822;a@x.example 18,0  0,-1#3": "a@x.example",
		"odd#name@x.example":                          "odd#name@x.example",
		"a b#1":                                       "a b#1",
		"a@x.example x 99,0#1":                        "a@x.example x 99,0#1",
	} {
		if got := eximRecipient(line); got != want {
			t.Errorf("eximRecipient(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestParseEximAddrPort(t *testing.T) {
	for in, want := range map[string]string{
		"[127.0.0.1]:46618":   "127.0.0.1:46618",
		"[2001:db8::1]:25":    "[2001:db8::1]:25",
		"127.0.0.1.46618":     "127.0.0.1:46618",
		"2001:db8::1.25":      "[2001:db8::1]:25",
		"::ffff:192.0.2.1.25": "192.0.2.1:25",
		"192.0.2.1":           "192.0.2.1:0",
		"nonsense":            "",
		"[1.2.3.4]:x":         "",
	} {
		ap, ok := parseEximAddrPort(in)
		got := ""
		if ok {
			got = ap.String()
		}
		if got != want {
			t.Errorf("parseEximAddrPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadEximVanishedData(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(eximSpool, "input", "z", "1xV7az-00006g-1Q-H")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	h := filepath.Join(dir, "1xV7az-00006g-1Q-H")
	if err := os.WriteFile(h, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadExim(h, 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("-H without -D: error %v, want fs.ErrNotExist", err)
	}
	// A -D whose first line names another message is refused.
	if err := os.WriteFile(strings.TrimSuffix(h, "-H")+"-D", []byte("1xV7az-000071-2X-D\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadExim(h, 1<<10); !errors.Is(err, ErrMalformed) {
		t.Errorf("mismatched -D: error %v, want ErrMalformed", err)
	}
	// An -H file whose first line names another message is refused too.
	other := filepath.Join(dir, "1xV7az-000071-2X-H")
	if err := os.WriteFile(other, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadExim(other, 100); !errors.Is(err, ErrMalformed) {
		t.Errorf("mismatched -H: error %v, want ErrMalformed", err)
	}
}
