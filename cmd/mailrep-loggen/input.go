package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// input is the parsed source logs: their lines in order, the message
// stories the lines belong to, and the groups of stories linked by hops.
type input struct {
	lines   []line
	styles  []style
	stories []story
	byKey   map[string]int32 // host + " " + queue id → story
	origIDs map[string]bool  // every queue id of the input
	parent  []int32          // union-find over stories
	groupSz []int32          // lines per group, indexed by root story
	span    time.Duration    // rel of the last line
	origin  time.Time        // time of the first line
	skipped int              // lines without a recognised header

	// per file while reading
	shift     time.Duration // added to the file's times to follow the previous file
	yearShift int           // BSD headers: years added after a New-Year rollover
}

// line is one input line, split so that it can be written again with a new
// timestamp and new queue ids, accounts and senders.
type line struct {
	rel   time.Duration // time since the first input line
	rest  string        // the line after its timestamp
	subs  []sub         // spans of rest to replace, in order
	style uint8
	story int32 // the story whose queue id leads the line, or -1
	group int32 // the root story of the line's group, or -1 for in-between lines
}

// sub is a span of line.rest to replace on output.
type sub struct {
	start, end int32
	kind       uint8
	story      int32 // for subQueueID
}

// Kinds of substitution.
const (
	subQueueID = iota // a queue id: the story's fresh id
	subDomain         // the domain of a sender address: the account's domain
	subSASL           // a SASL user name: the account's user
)

// story is one message on one host.
type story struct {
	qid   string
	lines int32
}

// style is how a line's timestamp is written.
type style struct {
	layout string
	loc    *time.Location
}

func (in *input) readFile(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if in.byKey == nil {
		in.byKey = make(map[string]int32)
		in.origIDs = make(map[string]bool)
	}
	text := string(data)
	in.yearShift = 0
	var first, prev time.Time
	for n := 1; len(text) > 0; n++ {
		l, rest, _ := strings.Cut(text, "\n")
		text = rest
		l = strings.TrimSuffix(l, "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		t, st, hlen, ok := in.parseTime(l)
		if !ok {
			in.skipped++
			continue
		}
		if st.layout == bsdLayout {
			t = t.AddDate(in.yearShift, 0, 0)
			if !prev.IsZero() && t.Before(prev.Add(-30*24*time.Hour)) {
				in.yearShift++ // Dec 31 → Jan 1
				t = t.AddDate(1, 0, 0)
			}
		}
		if first.IsZero() {
			first = t
			if in.origin.IsZero() {
				in.origin = t
			}
		}
		prev = t
		rel := t.Sub(first) + in.shift
		if rel < 0 {
			rel = 0
		}
		if err := in.addLine(l[hlen:], rel, in.styleIndex(st)); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if rel > in.span {
			in.span = rel
		}
	}
	in.shift = in.span + time.Second
	return nil
}

const (
	bsdLayout = "Jan _2 15:04:05"
	bsdYear   = 2000
	maxStyles = 255
)

// parseTime parses the timestamp at the start of l, returning it, how to
// write it again and its length. It knows BSD ("Mar 14 00:00:31") and RFC
// 3339 ("2023-03-14T00:00:31.185246+01:00", fraction and offset optional).
func (in *input) parseTime(l string) (time.Time, style, int, bool) {
	if len(l) > 16 && l[15] == ' ' && l[3] == ' ' && 'A' <= l[0] && l[0] <= 'Z' {
		t, err := time.Parse(bsdLayout, l[:15])
		if err != nil {
			return time.Time{}, style{}, 0, false
		}
		// BSD headers have no year; a fixed leap year keeps Feb 29 and
		// the output deterministic (the year is never written).
		t = t.AddDate(bsdYear, 0, 0)
		return t, style{layout: bsdLayout, loc: time.UTC}, 15, true
	}
	if len(l) < 20 || l[4] != '-' || l[10] != 'T' {
		return time.Time{}, style{}, 0, false
	}
	end := strings.IndexByte(l, ' ')
	if end < 0 {
		return time.Time{}, style{}, 0, false
	}
	ts := l[:end]
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, style{}, 0, false
	}
	layout := "2006-01-02T15:04:05"
	if i := strings.IndexByte(ts, '.'); i > 0 {
		d := 0
		for i+1+d < len(ts) && '0' <= ts[i+1+d] && ts[i+1+d] <= '9' {
			d++
		}
		layout += "." + strings.Repeat("0", d)
	}
	if strings.HasSuffix(ts, "Z") {
		layout += "Z07:00"
	} else {
		layout += "-07:00"
	}
	return t, style{layout: layout, loc: t.Location()}, end, true
}

func (in *input) styleIndex(st style) uint8 {
	_, off := time.Unix(0, 0).In(st.loc).Zone()
	for i, s := range in.styles {
		if s.layout == st.layout {
			if _, o := time.Unix(0, 0).In(s.loc).Zone(); o == off {
				return uint8(i)
			}
		}
	}
	if len(in.styles) == maxStyles {
		return 0
	}
	in.styles = append(in.styles, st)
	return uint8(len(in.styles) - 1)
}

// addLine splits rest (" host program[pid]: message") into literal text and
// substitutions, and files the line under its story.
func (in *input) addLine(rest string, rel time.Duration, st uint8) error {
	ln := line{rel: rel, rest: rest, style: st, story: -1, group: -1}
	i := 0
	for i < len(rest) && rest[i] == ' ' {
		i++
	}
	hostEnd := strings.IndexByte(rest[i:], ' ')
	if hostEnd <= 0 {
		in.lines = append(in.lines, ln) // header only: kept as is
		return nil
	}
	host := rest[i : i+hostEnd]
	colon := strings.Index(rest[i+hostEnd:], ": ")
	if colon < 0 {
		in.lines = append(in.lines, ln)
		return nil
	}
	msgAt := i + hostEnd + colon + 2
	msg := rest[msgAt:]

	// "QID: …"
	if c := strings.IndexByte(msg, ':'); c > 0 && c+1 < len(msg) && msg[c+1] == ' ' && validQueueID(msg[:c]) {
		s := in.storyOf(host, msg[:c])
		ln.story = s
		ln.subs = append(ln.subs, sub{start: int32(msgAt), end: int32(msgAt + c), kind: subQueueID, story: s})
	}
	// References to the queue ids a message was handed to or came from.
	var refs []int32
	for _, marker := range refMarkers {
		from := 0
		for {
			j := strings.Index(msg[from:], marker)
			if j < 0 {
				break
			}
			a := from + j + len(marker)
			b := a
			for b < len(msg) && isIDByte(msg[b]) {
				b++
			}
			from = b
			if !validQueueID(msg[a:b]) {
				continue
			}
			s := in.storyOf(host, msg[a:b])
			refs = append(refs, s)
			ln.subs = append(ln.subs, sub{start: int32(msgAt + a), end: int32(msgAt + b), kind: subQueueID, story: s})
		}
	}
	owner := ln.story
	if owner < 0 && len(refs) > 0 {
		owner = refs[0] // amavis: the line travels with the message it names
	}
	for _, r := range refs {
		if owner >= 0 {
			in.union(owner, r)
		}
	}
	if owner >= 0 {
		ln.group = owner // resolved to the root in finish
	}
	// Senders and SASL users become accounts (NOQUEUE rejects too).
	ln.subs = appendValueSubs(ln.subs, msg, msgAt, "from=<", '>', subDomain)
	ln.subs = appendValueSubs(ln.subs, msg, msgAt, "sasl_username=", ',', subSASL)
	sortSubs(ln.subs)
	if err := checkSubs(ln.subs, len(rest)); err != nil {
		return err
	}
	if ln.story >= 0 {
		in.stories[ln.story].lines++
	}
	in.lines = append(in.lines, ln)
	return nil
}

// refMarkers precede a queue id that is another story of the same host.
var refMarkers = [...]string{
	"queued as ", "forwarded as ", "notification: ", // Postfix
	"Queue-ID: ", "queued_as: ", // amavis
}

// appendValueSubs adds a substitution for every value after key in msg, up
// to the byte end: for subDomain the part after '@' of an address (an
// address without a domain, or the null sender, is left alone), for subSASL
// the whole value.
func appendValueSubs(subs []sub, msg string, msgAt int, key string, end byte, kind uint8) []sub {
	from := 0
	for {
		j := strings.Index(msg[from:], key)
		if j < 0 {
			return subs
		}
		a := from + j + len(key)
		b := a
		for b < len(msg) && msg[b] != end && msg[b] != ' ' {
			b++
		}
		from = b
		if kind == subDomain {
			at := strings.LastIndexByte(msg[a:b], '@')
			if at < 0 || a+at+1 == b {
				continue
			}
			a += at + 1
		}
		if a < b {
			subs = append(subs, sub{start: int32(msgAt + a), end: int32(msgAt + b), kind: kind})
		}
	}
}

func sortSubs(s []sub) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].start < s[j-1].start; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func checkSubs(s []sub, n int) error {
	prev := int32(0)
	for _, x := range s {
		if x.start < prev || x.end < x.start || int(x.end) > n {
			return fmt.Errorf("overlapping substitutions at byte %d", x.start)
		}
		prev = x.end
	}
	return nil
}

func (in *input) storyOf(host, qid string) int32 {
	key := host + " " + qid
	if s, ok := in.byKey[key]; ok {
		return s
	}
	s := int32(len(in.stories))
	in.byKey[key] = s
	in.origIDs[qid] = true
	in.stories = append(in.stories, story{qid: qid})
	in.parent = append(in.parent, s)
	return s
}

func (in *input) find(s int32) int32 {
	for in.parent[s] != s {
		in.parent[s] = in.parent[in.parent[s]]
		s = in.parent[s]
	}
	return s
}

func (in *input) union(a, b int32) {
	a, b = in.find(a), in.find(b)
	if a != b {
		in.parent[b] = a
	}
}

// finish resolves every line's group to its root and counts group sizes.
func (in *input) finish() {
	in.groupSz = make([]int32, len(in.stories))
	for i := range in.lines {
		if g := in.lines[i].group; g >= 0 {
			g = in.find(g)
			in.lines[i].group = g
			in.groupSz[g]++
		}
	}
}

// Postfix queue ids (see ingest/postfix): short ones are upper-case hex,
// long ones are base-52 time digits, a 'z', and base-51 inode digits.
const (
	minQueueID  = 6
	maxQueueID  = 32
	longTimePad = 10
	alphabet52  = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
	alphabet51  = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxy" // no z: inode digits, and ours
)

func isIDByte(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func validQueueID(s string) bool {
	if len(s) < minQueueID || len(s) > maxQueueID {
		return false
	}
	if isShortID(s) {
		return true
	}
	sep := strings.LastIndexByte(s, 'z')
	if sep < longTimePad || sep == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet52, s[i]) < 0 {
			return false
		}
	}
	return true
}

func isShortID(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
