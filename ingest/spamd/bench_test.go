package spamd

import (
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
)

// benchLines are what a busy spamd logs per message: the connection, the
// companion score line and the result line.
var benchLines = []string{
	"Nov 22 13:28:15 mx spamd[2924]: spamd: connection from localhost [127.0.0.1]:49016 to port 783, fd 5",
	"Nov 22 13:28:15 mx spamd[2924]: spamd: identified spam (9.4/5.0) for bob:1001 in 0.2 seconds, 4877 bytes.",
	"Nov 22 13:28:15 mx spamd[2924]: spamd: result: Y  9 - FREEMAIL_ENVFROM_END_DIGIT,FREEMAIL_FROM,FSL_HELO_NON_FQDN_1,HELO_NO_DOMAIN,HTML_EXTRA_CLOSE,HTML_FONT_TINY_NORDNS,HTML_MESSAGE,INVALID_DATE_TZ_ABSURD,MIME_HTML_ONLY,RDNS_NONE,SPOOFED_FREEMAIL,SPOOFED_FREEMAIL_NO_RDNS,UNPARSEABLE_RELAY scantime=0.2,size=4877,user=bob,uid=1001,required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=49016,mid=<0103c1042001882DD_IT7@dd_it7>,autolearn=disabled",
	"Nov 22 13:28:14 mx spamd[2923]: spamd: clean message (0.0/5.0) for alice:1002 in 0.3 seconds, 5155 bytes.",
	"Nov 22 13:28:14 mx spamd[2923]: spamd: result: .  0 - HEADER_FROM_DIFFERENT_DOMAINS,MAILING_LIST_MULTI scantime=0.3,size=5155,user=alice,uid=1002,required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=48970,mid=<13258.1030015585@munnari.OZ.AU>,autolearn=disabled",
}

// BenchmarkParse reports lines per second through the parser (header
// parsing excluded).
func BenchmarkParse(b *testing.B) {
	hp := &syslog.Parser{Year: 2026, Location: time.UTC}
	recs := make([]*ingest.Record, len(benchLines))
	bytes := 0
	for i, l := range benchLines {
		recs[i] = record(b, hp, l)
		bytes += len(recs[i].Msg)
	}
	p := New()
	dst := make([]ingest.Event, 0, 4)
	b.SetBytes(int64(bytes / len(recs)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		var err error
		dst, err = p.Parse(dst[:0], recs[n%len(recs)])
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkFileHeader(b *testing.B) {
	h := FileHeader{Location: time.UTC}
	line := "Sun Nov 22 13:28:14 2026 [2923] info: spamd: result: .  0 - HEADER_FROM_DIFFERENT_DOMAINS,MAILING_LIST_MULTI scantime=0.3"
	var rec ingest.Record
	n := 0
	for b.Loop() {
		if !h.Parse(line, &rec) {
			b.Fatal("not parsed")
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
