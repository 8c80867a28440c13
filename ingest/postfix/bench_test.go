package postfix

import (
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
	"github.com/mailrep/mailrep/internal/corpus"
)

// benchLines is a realistic mix for a busy outbound server: per message
// smtpd connect/client/disconnect, cleanup, qmgr, one or two deliveries,
// removed, plus TLS chatter, postscreen and rejects. Real corpus lines.
var benchLines = [][2]string{
	{"postfix/postscreen", "CONNECT from [185.48.118.128]:36942 to [188.34.187.246]:25"},
	{"postfix/postscreen", "PASS OLD [185.48.118.128]:36942"},
	{"postfix/smtpd", "connect from host1.uhu-banane.de[185.48.118.128]"},
	{"postfix/smtpd", "Anonymous TLS connection established from host1.uhu-banane.de[185.48.118.128]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"},
	{"postfix/submission/smtpd", "4PbCZy4PWKz3tBr: client=unknown[2a02:8109:b240:41c8:9264:99a9:1b0d:15c8], sasl_method=PLAIN, sasl_username=vmail@uhu-banane.net"},
	{"postfix/cleanup", "4PbCZy4PWKz3tBr: message-id=<gondwana.LRH.2.11.1409210944216.21048@ceratops.dinos.test>"},
	{"postfix/qmgr", "4PbCZy4PWKz3tBr: from=<tarbosaurus@dinos.test>, size=179692, nrcpt=3 (queue active)"},
	{"postfix/smtpd", "disconnect from host1.uhu-banane.de[185.48.118.128] ehlo=2 starttls=1 quit=1 commands=4"},
	{"postfix/smtp", "Verified TLS connection established to gmail-smtp-in.l.google.com[108.177.14.26]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256"},
	{"postfix/smtp", "838FC8A5F: to=<someone@example.com>, relay=gmail-smtp-in.l.google.com[173.194.76.27]:25, delay=1.6, delays=0.78/0/0.3/0.52, dsn=2.0.0, status=sent (250 2.0.0 OK  1632412662 aaaaaaaaaaaaaaa.511 - gsmtp)"},
	{"postfix/amavis/smtp", "4PbC4x469Jz3tBr: to=<user01.test@uhu-banane.net>, orig_to=<frank@brehm-berlin.de>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.4, delays=0.29/0.02/0.01/2.1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4PbC4z6W5Qz3tG3)"},
	{"postfix/smtp", "732BB407C3: to=<redacted@domain.com>, relay=mail.domain.com[1.1.1.1]:25, delay=6.2, delays=0.1/0/5.2/0.87, dsn=4.0.0, status=deferred (host mail.domain.com[1.1.1.1] said: 451 DT:SPM 163 mx40,WsCowAAnEhlCoEVa5GjcAA--.20089S3 1514512452, please try again 15min later (in reply to end of DATA command))"},
	{"postfix/qmgr", "4PbCZy4PWKz3tBr: removed"},
	{"postfix/pickup", "69EADD0808B: uid=300 from=<triceratops@dinos.test>"},
	{"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.246]: 550 5.7.25 Client host rejected: cannot find your hostname, [192.0.2.246]; from=<laqqubtbyop@example.com> to=<sxhcpltqhpex@example.com> proto=ESMTP helo=<[192.0.2.246]>"},
	{"postfix/postscreen", "NOQUEUE: reject: RCPT from [185.246.220.193]:62795: 550 5.7.1 Service unavailable; client [185.246.220.193] blocked using zen.spamhaus.org; from=<ripe@uhu-banane.de>, to=<zzzzzzzzzzzzzzzzzezihe@hotmail.com>, proto=ESMTP, helo=<3BqSwxw>"},
	{"postfix/dnsblog", "addr 185.246.220.193 listed by domain zen.spamhaus.org as 127.0.0.4"},
	{"postfix/postscreen", "DNSBL rank 3 for [111.73.45.149]:1038"},
	{"postfix/anvil", "statistics: max connection rate 1/60s for (smtpd:61.238.241.86) at Oct 26 18:13:50"},
	{"postfix/smtpd", "lost connection after AUTH from unknown[192.168.9.1]"},
}

// BenchmarkParse measures the per-line cost over benchLines, reusing the
// event slice as the pipeline does.
func BenchmarkParse(b *testing.B) {
	recs := make([]ingest.Record, len(benchLines))
	for i, l := range benchLines {
		recs[i] = ingest.Record{Host: "helga", Program: l[0], PID: 1, Msg: l[1]}
	}
	var p Parser
	var dst []ingest.Event
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

// BenchmarkParseCorpus measures Parse alone over the Postfix lines of the
// largest real log in the corpus (three days of a production server,
// dominated by postscreen, dnsblog and smtpd chatter), headers parsed
// beforehand.
func BenchmarkParseCorpus(b *testing.B) {
	files := corpus.Files(b, "logs/postfix", "pixelpark-postfix-logsums-mail.log")
	if len(files) != 1 {
		b.Skip("pixelpark log not in corpus")
	}
	hp := syslog.Parser{Year: 2023, Location: time.UTC}
	var recs []ingest.Record
	for _, ln := range readLines(b, files[0]) {
		var r ingest.Record
		if hp.Parse(ln, &r) == nil && Owns(r.Program) {
			recs = append(recs, r)
		}
	}
	var p Parser
	var dst []ingest.Event
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
