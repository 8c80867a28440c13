package rspamd

import (
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
)

// benchLines are task lines of the shapes rspamd writes, with realistic
// symbol lists and options, and one line of the kind the parser ignores.
var benchLines = []string{
	"2026-02-01 10:00:01 #4493(rspamd_proxy) <94f35d>; proxy; rspamd_task_write_log: id: <a18aec2f-a5e8-48d4-83aa-498a9656f8ae@ind1s06mta1781.xt.local>, qid: <3E6337624A6>, ip: 2a00:1450:4864:20::532, user: joe@shop.example, from: <dawnlord66@gmail.com>, (default: F (no action): [-2.91/11.00] [ARC_ALLOW(-1.00){google.com:s=arc-20240605:i=2;},DMARC_POLICY_ALLOW(-1.00){email.trivago.com;reject;},MANY_INVISIBLE_PARTS(1.00){10;},R_DKIM_ALLOW(-1.00){email.trivago.com:s=200608;s6.y.mc.salesforce.com:s=fbldkim6;},IP_SCORE(-0.04){ip: (0.22), ipnet: 10.154.192.0/20(0.18), asn: 14061(0.23), country: US(-0.81);},MIME_GOOD(-0.10){multipart/alternative;text/plain;},RCVD_NO_TLS_LAST(0.10){},ASN(0.00){asn:15169, ipnet:2a00:1450::/32, country:US;}]), len: 54321, time: 256.862ms, dns req: 6, digest: <0123456789abcdef0123456789abcdef>, rcpts: <user@example.test>, mime_rcpts: <user@example.test>",
	"2026-02-01 10:00:02 #4493(rspamd_proxy) <94f35e>; proxy; rspamd_task_write_log: id: <E1pwgnI-00DQGx-NA.octo03@web.heise.de>, qid: <1BBB9602BE>, ip: 2a02:2e0:3fe:1001::beef, from: <emailcheck-robot@ct.de>, (default: T (reject): [7.31/12.00] [CLAM_VIRUS(4.00){Win.Test.EICAR_HDB-1;},MIME_BAD_EXTENSION(4.00){com;},DMARC_POLICY_ALLOW(-0.50){ct.de;none;},R_SPF_ALLOW(-0.20){+ip6:2a02:2e0:3fe:1001::/64:c;},MIME_GOOD(-0.10){multipart/mixed;text/plain;},ONCE_RECEIVED(0.10){}]), len: 2048, time: 120.5ms, dns req: 42",
	"2026-02-01 10:00:03 #1001(normal) <a1b2c3>; task; rspamd_message_parse: loaded message; id: <m@x>; queue-id: <Q1>; size: 2348; checksum: <b1035f4fb07162ba88053d9e38df9c93>",
}

// BenchmarkParse reports lines per second through the parser (header
// parsing excluded).
func BenchmarkParse(b *testing.B) {
	hp := &syslog.Parser{Year: 2026, DefaultHost: "mx", Location: time.UTC}
	recs := make([]*ingest.Record, len(benchLines))
	bytes := 0
	for i, l := range benchLines {
		recs[i] = &ingest.Record{}
		if err := hp.Parse(l, recs[i]); err != nil {
			b.Fatal(err)
		}
		bytes += len(recs[i].Msg)
	}
	var p Parser
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
