package exim

import (
	"testing"

	"github.com/mailrep/mailrep/ingest"
)

// benchLines is a realistic mix of a shared outbound server's main log:
// per message an arrival, one or two deliveries, sometimes a deferral or
// bounce, Completed, plus connection noise and rejections.
var benchLines = []string{
	`1r6Bwm-000000002h3-2n4V <= info@shop.example H=(laptop) [203.0.113.7]:52114 I=[198.51.100.2]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_login:info@shop.example S=48213 id=a1b2c3@shop.example T="Your order #1234 has shipped" for bob@gmail.example`,
	`1r6Bwm-000000002h3-2n4V => bob@gmail.example R=dkim_lookuphost T=dkim_remote_smtp H=gmail-smtp-in.l.google.example [142.250.1.27]:25 I=[198.51.100.2]:41234 X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes DN="CN=mx.google.example" C="250 2.0.0 OK  1700000000 a1-20020a05600c000100b0040e000000si1234567wmq.123 - gsmtp"`,
	`1r6Bwm-000000002h3-2n4V Completed`,
	`cwd=/home/shopuser/public_html 4 args: /usr/sbin/sendmail -t -i -finfo@shop.example`,
	`1r6Bwn-000000002h4-3abc <= info@shop.example U=shopuser P=local S=2211 T="Contact form" for a@yahoo.example c@outlook.example`,
	`1r6Bwn-000000002h4-3abc == a@yahoo.example R=dkim_lookuphost T=dkim_remote_smtp defer (-44) H=mta5.am0.yahoodns.example [67.195.204.72]: SMTP error from remote mail server after RCPT TO:<a@yahoo.example>: 421 4.7.0 [TSS04] Messages from 198.51.100.2 temporarily deferred due to unexpected volume or user complaints`,
	`1r6Bwn-000000002h4-3abc ** c@outlook.example R=dkim_lookuphost T=dkim_remote_smtp H=outlook-com.olc.protection.outlook.example [52.101.1.1]: SMTP error from remote mail server after RCPT TO:<c@outlook.example>: 550 5.7.1 Unfortunately, messages from [198.51.100.2] weren't sent. (S3150)`,
	`H=test.com [1.2.3.4]:53343 F=<info@test.com> rejected RCPT <toto@toto.com>: "JunkMail rejected - test.com [1.2.3.4]:53343 is in an RBL: https://www.spamhaus.org/sbl/query/SBLCSS"`,
	`SMTP connection from [192.0.2.33]:5512 (TCP/IP connection count = 3)`,
	`dovecot_login authenticator failed for ([1.2.3.5]) [1.2.3.4]:55379: 535 Incorrect authentication data (set_id=info@test.com)`,
	`1r6Bwo-000000002h5-4xyz H=(laptop) [203.0.113.7]:52115 I=[198.51.100.2]:587 P=esmtpsa A=dovecot_login:info@shop.example F=<info@shop.example> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (URIBL domains: bad.example) (Spam score: 12.5) (Subject: Cheap) Spam report: URIBL_BLACK=7.5, HTML_MESSAGE=0.001, RDNS_NONE=1.274, CMAE Analysis: score 0" authenticated_id: info@shop.example account_owner: shopuser`,
	`1jmXgg-000AIC-89 -> sally@dummy.corp R=dnslookup T=remote_smtp_smarthost H=smarthost.test.corp [5.5.5.5] C="250 Received OK"`,
}

func BenchmarkParse(b *testing.B) {
	recs := make([]ingest.Record, len(benchLines))
	for i, l := range benchLines {
		recs[i] = ingest.Record{Host: "mx1", Program: "exim", PID: 4242, Msg: l, Line: l}
	}
	var p Parser
	dst := make([]ingest.Event, 0, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		dst, err = p.Parse(dst[:0], &recs[i%len(recs)])
		if err != nil {
			b.Fatal(err)
		}
	}
}
