package sendmail

import (
	"testing"

	"github.com/mailrep/mailrep/ingest"
)

// benchLines is a mix shaped like a busy outbound Sendmail: receptions,
// deliveries, the AUTH line, rejections and diagnostics.
var benchLines = []string{
	"Apr  2 00:15:25 mta001 sendmail[32300]: u31FFPtp032300: from=<grandeur09@gmail.com>, size=5938, class=0, nrcpts=7, msgid=<201604011515.u31FFIAj012911@gmail.com>, proto=ESMTP, daemon=MTA, relay=[64.233.187.27]",
	"Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: to=<sent1@example.com>,<sent2@example.com>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=245938, relay=[93.184.216.34] [93.184.216.34], dsn=2.0.0, stat=Sent (ok:  Message 40279894 accepted)",
	"Sep  6 14:10:31 leo-laptop sm-mta[5070]: o86BAMbi005068: to=<XXXXXXX@yahoo.com>, ctladdr=<www-data@leo-laptop.home> (33/33), delay=00:00:09, xdelay=00:00:09, mailer=esmtp, pri=120535, relay=e.mx.mail.yahoo.com. [67.195.168.230], dsn=5.0.0, stat=Service unavailable",
	"Apr  2 00:15:25 mta001 sendmail[12566]: u31FFPtp032300: to=<deferred1@example.com>, delay=00:00:15, xdelay=00:00:15, mailer=esmtp, pri=34527, relay=[93.184.216.34] [93.184.216.34], dsn=4.3.5, stat=Deferred: 451 4.3.5 Server configuration problem",
	"Dec  6 14:06:32 a.mail.sonic.net sm-mta[9738]: AUTH=server, relay=173-228-127-4.dsl.dynamic.sonic.net [173.228.127.4] (may be forged), authid=augie, mech=PLAIN, bits=0",
	"Feb 25 03:01:10 kismet sm-acceptingconnections[27713]: s1P819mk027713: ruleset=check_rcpt, arg1=<asservnew@freemailhost.ru>, relay=128-68-136-133.broadband.corbina.ru [128.68.136.133], reject=550 5.7.1 <asservnew@freemailhost.ru>... Relaying denied. Proper authentication required.",
	"Oct 25 12:50:21 localhost sm-mta[6667]: STARTTLS=client, relay=gmail-smtp-in.l.google.com., version=TLSv1.2, verify=FAIL, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128",
	"Mar  6 16:55:28 s192-168-0-1 sm-mta[20949]: v26LtRA0020949: some-host-24.example.org [192.0.2.194] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
}

func BenchmarkParse(b *testing.B) {
	recs := make([]*ingest.Record, len(benchLines))
	bytes := 0
	for i, l := range benchLines {
		recs[i] = record(b, l)
		bytes += len(recs[i].Msg)
	}
	var p Parser
	dst := make([]ingest.Event, 0, 8)
	b.SetBytes(int64(bytes / len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		dst, err = p.Parse(dst[:0], recs[i%len(recs)])
		if err != nil {
			b.Fatal(err)
		}
	}
}
