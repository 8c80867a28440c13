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

// pfFile builds a Postfix queue file record by record, as cleanup writes
// them: type byte, length in 7-bit groups, data.
type pfFile struct{ bytes.Buffer }

func (f *pfFile) rec(typ byte, data string) *pfFile {
	f.WriteByte(typ)
	n := len(data)
	for {
		b := byte(n & 0x7f)
		if n >>= 7; n > 0 {
			b |= 0x80
		}
		f.WriteByte(b)
		if n == 0 {
			break
		}
	}
	f.WriteString(data)
	return f
}

// body writes content lines as N records, splitting lines longer than
// limit into L records as cleanup does with line_length_limit.
func (f *pfFile) body(text string, limit int) *pfFile {
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		for len(line) > limit {
			f.rec(recCont, line[:limit])
			line = line[limit:]
		}
		f.rec(recNorm, line)
	}
	return f
}

func TestPostfixRealQueueFiles(t *testing.T) {
	// Files written by Debian's Postfix 3.7 (see testdata/postfix/README.md).
	tests := []struct {
		path                 string
		queue                string
		sender               string
		rcpts                []string
		auth, method, helo   string
		client               string
		server               string
		uid                  int
		user                 string
		arrival              time.Time
		contentHas, firstHdr string
	}{
		{
			path: "deferred/4/4736F988140", queue: "deferred",
			sender: "alice@mailrep-test.example", rcpts: []string{"carol@remote.example", "dave@remote.example"},
			auth: "alice@mailrep-test.example", method: "PLAIN", helo: "client.mailrep-test.example",
			client: "127.0.0.1", server: "127.0.0.1:33715", uid: -1,
			arrival:    time.Unix(1795354106, 285069000),
			contentHas: "\n\nA line.\n", firstHdr: "Received: from client.mailrep-test.example (localhost [127.0.0.1])\n",
		},
		{
			path: "deferred/7/761B998817D", queue: "deferred",
			sender: "root@mailrep-test.example", rcpts: []string{"frank@remote.example"},
			uid: 0, user: "root", arrival: time.Unix(1795354106, 482659000),
			contentHas: "Subject: local\n", firstHdr: "Received: by mx.mailrep-test.example (Postfix, from userid 0)\n",
		},
		{
			path: "hold/72BED98817B", queue: "hold",
			sender: "held@mailrep-test.example", rcpts: []string{"erin@remote.example"},
			helo: "anon.mailrep-test.example", client: "127.0.0.1", server: "127.0.0.1:33715", uid: -1,
			arrival:    time.Unix(1795354106, 469351000),
			contentHas: "X-Mailer: swaks", firstHdr: "Received: from anon.mailrep-test.example",
		},
		{
			// A maildrop file from postdrop: no size record, the owner is
			// the submitter (in the checkout: whoever checked it out).
			path: "maildrop/56121988106", queue: "maildrop",
			sender: "root@mailrep-test.example", rcpts: []string{"gina@remote.example"},
			uid: -2, arrival: time.Unix(1795354115, 352448000),
			contentHas: "\n\nbody2\n", firstHdr: "Subject: dropped\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			path := filepath.Join("testdata", "postfix", filepath.FromSlash(tc.path))
			q, err := ReadPostfix(path, DefaultMaxContent)
			if err != nil {
				t.Fatal(err)
			}
			if q.QueueID != filepath.Base(path) || q.Queue != tc.queue || q.Kind != KindPostfix {
				t.Errorf("id %q queue %q kind %v", q.QueueID, q.Queue, q.Kind)
			}
			if q.Sender != tc.sender || !slices.Equal(q.Recipients, tc.rcpts) || q.Pending != len(tc.rcpts) {
				t.Errorf("sender %q recipients %q pending %d", q.Sender, q.Recipients, q.Pending)
			}
			if q.AuthUser != tc.auth || q.AuthMethod != tc.method || q.HELO != tc.helo {
				t.Errorf("auth %q method %q helo %q", q.AuthUser, q.AuthMethod, q.HELO)
			}
			if got := addrString(q.ClientIP); got != tc.client {
				t.Errorf("client %q, want %q", got, tc.client)
			}
			if got := addrPortString(q.ServerAddr); got != tc.server {
				t.Errorf("server %q, want %q", got, tc.server)
			}
			switch tc.uid {
			case -2:
				st, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if q.LocalUID != fileOwner(st) || q.LocalUser == "" {
					t.Errorf("maildrop uid %d user %q, want the owner %d", q.LocalUID, q.LocalUser, fileOwner(st))
				}
			default:
				if q.LocalUID != tc.uid || q.LocalUser != tc.user {
					t.Errorf("local uid %d user %q, want %d %q", q.LocalUID, q.LocalUser, tc.uid, tc.user)
				}
			}
			if !q.Arrival.Equal(tc.arrival) {
				t.Errorf("arrival %v, want %v", q.Arrival, tc.arrival)
			}
			if !bytes.Contains(q.Content, []byte(tc.contentHas)) || !bytes.HasPrefix(q.Content, []byte(tc.firstHdr)) {
				t.Errorf("content:\n%s", q.Content)
			}
			if q.Truncated || q.ContentSize != int64(len(q.Content)) {
				t.Errorf("truncated %v size %d, content %d bytes", q.Truncated, q.ContentSize, len(q.Content))
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			_, ino := fileID(st)
			if q.Size != st.Size() || q.Inode != ino || !q.MTime.Equal(st.ModTime()) {
				t.Errorf("size %d inode %d mtime %v", q.Size, q.Inode, q.MTime)
			}

			// Envelope only: the same envelope, no content.
			e, err := ReadPostfix(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			if e.Sender != q.Sender || !slices.Equal(e.Recipients, q.Recipients) || e.AuthUser != q.AuthUser ||
				e.LocalUID != q.LocalUID || e.Key() != q.Key() {
				t.Errorf("envelope-only read differs: %+v", e)
			}
			if len(e.Content) != 0 || !e.Truncated {
				t.Errorf("envelope-only read kept %d bytes of content (truncated %v)", len(e.Content), e.Truncated)
			}

			// A cap in the middle keeps a prefix and says so.
			c, err := ReadPostfix(path, 40)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Content, q.Content[:40]) || !c.Truncated || c.ContentSize != q.ContentSize {
				t.Errorf("capped: %q truncated %v size %d", c.Content, c.Truncated, c.ContentSize)
			}
		})
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func addrPortString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func TestParsePostfixRecords(t *testing.T) {
	var f pfFile
	f.rec(recSize, fmt.Sprintf("%15d %15d %15d %15d %15d %15d", 0, 0, 2, 0, 0, 0))
	f.rec(recTime, "1700000000 5")
	f.rec(recAttr, "client_address=10.0.0.7")
	f.rec(recAttr, "log_client_address=2001:db8::25") // original client behind a content filter
	f.rec(recAttr, "client_name=filter.local")
	f.rec(recAttr, "log_client_name=unknown")
	f.rec(recAttr, "log_helo_name=[192.0.2.1]")
	f.rec(recAttr, "sasl_username=Bob")
	f.rec(recAttr, "no-equals-sign")
	f.rec(recFrom, "")
	f.rec('L', "filter-transport") // L in the envelope is a filter, not content
	f.rec('O', "orig@x.example")
	f.rec(recDone, "done@x.example")
	f.rec('/', "cancelled@x.example")
	f.rec(recRcpt, "todo@x.example")
	f.rec(recPtr, fmt.Sprintf("%15d", 0)) // placeholder
	f.rec(recMesg, fmt.Sprintf("%15d", 0))
	long := strings.Repeat("x", 5000)
	f.body("Subject: one\n\n"+long+"\nlast", 2048)
	f.rec('w', "padding")
	f.rec(recXtra, "")
	f.rec(recRcpt, "extracted@x.example")
	f.rec(recEnd, "")

	q, err := ParsePostfix(bytes.NewReader(f.Bytes()), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: one\n\n" + long + "\nlast\n"; string(q.Content) != want {
		t.Errorf("content %q…", clip(string(q.Content)))
	}
	if q.Sender != "" || !slices.Equal(q.Recipients, []string{"done@x.example", "todo@x.example", "extracted@x.example"}) || q.Pending != 2 {
		t.Errorf("sender %q recipients %q pending %d", q.Sender, q.Recipients, q.Pending)
	}
	if q.ClientIP != netip.MustParseAddr("2001:db8::25") || q.ClientHost != "" /* the original client had no name; filter.local is the filter */ || q.HELO != "[192.0.2.1]" || q.AuthUser != "Bob" {
		t.Errorf("client %v host %q helo %q auth %q", q.ClientIP, q.ClientHost, q.HELO, q.AuthUser)
	}
	if q.LocalUID != -1 {
		t.Errorf("local uid %d for a message with a client", q.LocalUID)
	}
	if !q.Arrival.Equal(time.Unix(1700000000, 5000)) {
		t.Errorf("arrival %v", q.Arrival)
	}
}

// TestParsePostfixPointers follows pointer records the way Postfix links
// headers a milter inserted and recipients appended after the fact.
func TestParsePostfixPointers(t *testing.T) {
	var f pfFile
	f.rec(recTime, "1700000000")
	f.rec(recFrom, "a@x.example")
	f.rec(recRcpt, "r1@x.example")
	ptr1 := f.Len()
	f.rec(recPtr, fmt.Sprintf("%15d", 0)) // patched below: to the appended recipient
	back1 := f.Len()
	f.rec(recMesg, "")
	f.rec(recNorm, "Received: by mx (Postfix, from userid 1000)")
	ptr2 := f.Len()
	f.rec(recPtr, fmt.Sprintf("%15d", 0)) // patched below: to the inserted header
	back2 := f.Len()
	f.rec(recNorm, "Subject: s")
	f.rec(recNorm, "")
	f.rec(recNorm, "body")
	f.rec(recXtra, "")
	f.rec(recEnd, "")
	appended := f.Len()
	f.rec(recRcpt, "r2@x.example")
	f.rec(recPtr, fmt.Sprintf("%15d", back1))
	inserted := f.Len()
	f.rec(recNorm, "X-Milter: added")
	f.rec(recPtr, fmt.Sprintf("%15d", back2))
	b := f.Bytes()
	patch := func(at, to int) {
		var p pfFile
		p.rec(recPtr, fmt.Sprintf("%15d", to))
		copy(b[at:], p.Bytes())
	}
	patch(ptr1, appended)
	patch(ptr2, inserted)

	q, err := ParsePostfix(bytes.NewReader(b), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Recipients, []string{"r1@x.example", "r2@x.example"}) {
		t.Errorf("recipients %q", q.Recipients)
	}
	if want := "Received: by mx (Postfix, from userid 1000)\nX-Milter: added\nSubject: s\n\nbody\n"; string(q.Content) != want {
		t.Errorf("content %q, want %q", q.Content, want)
	}
	if q.LocalUID != 1000 {
		t.Errorf("local uid %d", q.LocalUID)
	}
}

func TestParsePostfixBad(t *testing.T) {
	good := func() *pfFile {
		var f pfFile
		f.rec(recTime, "1700000000").rec(recFrom, "a@x.example").rec(recRcpt, "r@x.example").rec(recMesg, "")
		f.rec(recNorm, "Subject: s")
		return &f
	}
	loop := good()
	at := loop.Len()
	loop.rec(recPtr, fmt.Sprintf("%15d", at))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrIncomplete},
		{"no end record", good().Bytes(), ErrIncomplete},
		{"record past end of file", append(good().Bytes(), recNorm, 50, 'x'), ErrIncomplete},
		{"length without end", append(good().Bytes(), recNorm, 0x80), ErrIncomplete},
		{"length too long", append(good().Bytes(), recNorm, 0xff, 0xff, 0xff, 0xff, 0x7f), ErrMalformed},
		{"pointer loop", loop.Bytes(), ErrMalformed},
		{"pointer outside", good().rec(recPtr, "99999").Bytes(), ErrMalformed},
		{"pointer garbage", good().rec(recPtr, "x").Bytes(), ErrMalformed},
		{"end inside content", good().rec(recEnd, "").Bytes(), ErrMalformed},
		{"content after extracted", good().rec(recXtra, "").rec(recMesg, "").Bytes(), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePostfix(bytes.NewReader(tc.data), 100)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadPostfixVanished(t *testing.T) {
	_, err := ReadPostfix(filepath.Join(t.TempDir(), "deferred", "ABCDEF123"), 10)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want fs.ErrNotExist", err)
	}
}

func TestPostfixQueueOf(t *testing.T) {
	for path, want := range map[string]string{
		"/var/spool/postfix/deferred/4/4736F988140":   "deferred",
		"/var/spool/postfix/deferred/4/7/4736F988140": "deferred",
		"/var/spool/postfix/active/4736F988140":       "active",
		"/var/spool/postfix/maildrop/4736F988140":     "maildrop",
		"/elsewhere/4736F988140":                      "",
		"4736F988140":                                 "",
	} {
		if got := postfixQueueOf(filepath.FromSlash(path)); got != want {
			t.Errorf("postfixQueueOf(%s) = %q, want %q", path, got, want)
		}
	}
}
