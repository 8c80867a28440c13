package pipeline

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/correlate"
	"github.com/mailrep/mailrep/ingest/source"
)

type counter struct{ kinds map[ingest.Kind]int }

func (c *counter) Record(ev *ingest.Event) {
	if c.kinds == nil {
		c.kinds = map[ingest.Kind]int{}
	}
	c.kinds[ev.Kind]++
}

const story = `Nov 20 09:00:02 mx1 postfix/submission/smtpd[4101]: 3F2A1C0041: client=client1.example.net[198.51.100.10], sasl_method=PLAIN, sasl_username=alice@shop.example
Nov 20 09:00:02 mx1 postfix/cleanup[4102]: 3F2A1C0041: message-id=<20261120090002.1@shop.example>
Nov 20 09:00:02 mx1 postfix/qmgr[900]: 3F2A1C0041: from=<alice@shop.example>, size=4210, nrcpt=1 (queue active)
Nov 20 09:00:04 mx1 postfix/smtp[4103]: 3F2A1C0041: to=<customer@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=2.1, delays=0.1/0/0.6/1.4, dsn=4.7.1, status=deferred (host mx.example.com[192.0.2.1] said: 450 4.7.1 Service unavailable; Client host [192.0.2.25] blocked using bl.spamcop.net (in reply to RCPT TO command))
Nov 20 09:00:05 mx1 postfix/qmgr[900]: 3F2A1C0041: removed
`

// Bad input — a 10 MB line, invalid UTF-8, binary garbage, a garbled
// Postfix line — is counted as malformed, costs bounded memory, and does
// not disturb the lines around it.
func TestBadInputIsCountedNotFatal(t *testing.T) {
	var in bytes.Buffer
	in.WriteString(story[:strings.Index(story, "\n")+1]) // the client= line
	in.WriteString("Nov 20 09:00:02 mx1 postfix/smtpd[1]: ")
	in.Write(bytes.Repeat([]byte("A"), 10<<20))
	in.WriteString("\n")
	in.WriteString("Nov 20 09:00:02 mx1 postfix/smtp[1]: \xff\xfe\xfd invalid utf-8 \xc3\x28\n")
	in.Write([]byte{0, 1, 2, 3, 0xff, 0x80, '\n'})
	in.WriteString("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\n")
	in.WriteString("Nov 20 09:00:02 mx1 postfix/qmgr[900]: 3F2A1C0041: from=<alice@shop.example>, size=notanumber, nrcpt=1 (queue active)\n")
	in.WriteString(story[strings.Index(story, "\n")+1:])

	c := &counter{}
	p := New(correlate.Config{}, c, nil)
	inp := p.Input("bad", InputOptions{Year: 2026, Location: time.UTC})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := source.Lines(context.Background(), &in, MaxLine, func(line string, tooLong bool) error {
		inp.Line(line, tooLong)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	p.Flush()
	st := p.Stats()
	if st.Total != 10 {
		t.Errorf("total lines %d, want 10", st.Total)
	}
	if st.Malformed < 4 {
		t.Errorf("malformed %d, want >= 4 (10 MB line, invalid UTF-8, binary, NULs): %+v", st.Malformed, p.Samples())
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("reading a 10 MB line allocated %d bytes; want bounded (< 4 MiB)", got)
	}
	// The story around the garbage is still counted.
	if c.kinds[ingest.KindReceived] != 1 || c.kinds[ingest.KindDeferred] != 1 {
		t.Errorf("story disturbed by bad lines: %v", c.kinds)
	}
	if st.Total != st.Parsed+st.Ignored+st.Malformed {
		t.Errorf("line stats do not add up: %+v", st)
	}
	for _, s := range p.Samples() {
		if s.Input != "bad" || s.Line < 1 || s.Error == "" {
			t.Errorf("malformed sample does not say where: %+v", s)
		}
	}
}

func FuzzPipeline(f *testing.F) {
	for _, l := range strings.Split(story, "\n") {
		f.Add(l)
	}
	f.Add("2016-03-25 15:06:04 1ajLoq-0001wC-Pk <= a@b.c H=x [1.2.3.4] P=esmtp S=100")
	f.Add("Apr  2 00:15:25 mta001 sendmail[32300]: u31FFPtp032300: from=<a@b.c>, size=5938, class=0, nrcpts=7, msgid=<x@y>, proto=ESMTP, daemon=MTA, relay=[64.233.187.27]")
	f.Fuzz(func(t *testing.T, line string) {
		c := &counter{}
		p := New(correlate.Config{MaxMessages: 16}, c, nil)
		in := p.Input("fuzz", InputOptions{})
		in.Line(line, false)
		in.Line(line, false)
		p.Flush()
		st := p.Stats()
		if st.Total != 2 || st.Total != st.Parsed+st.Ignored+st.Malformed {
			t.Fatalf("stats do not add up: %+v", st)
		}
	})
}

// BenchmarkPipeline measures parse + correlate on a realistic Postfix story
// (with a no-op sink); cmd/mailrep-loggen and docs/benchmarks.md measure the
// whole replay on a million-line log.
func BenchmarkPipeline(b *testing.B) {
	lines := strings.Split(strings.TrimSpace(story), "\n")
	p := New(correlate.Config{}, &counter{}, nil)
	in := p.Input("bench", InputOptions{Year: 2026, Location: time.UTC})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		in.Line(lines[i%len(lines)], false)
	}
}
