package postfix

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

var testTime = time.Date(2023, 3, 14, 0, 8, 35, 917122000, time.UTC)

// rec builds a record as the syslog header parser would.
func rec(program, msg string) *ingest.Record {
	return &ingest.Record{Time: testTime, Host: "helga", Program: program, PID: 4242, Msg: msg,
		Line: "2023-03-14T00:08:35.917122+00:00 helga " + program + "[4242]: " + msg}
}

// want completes an expected event with the fields every event copies from
// the record.
func want(program, transport string, ev ingest.Event) ingest.Event {
	ev.Time, ev.Host, ev.Program, ev.PID = testTime, "helga", program, 4242
	ev.Source, ev.Transport = ingest.SourcePostfix, transport
	return ev
}

type parseCase struct {
	name      string
	program   string
	msg       string
	transport string         // expected Transport; defaults to the daemon
	want      []ingest.Event // only the message fields; nil = ignored
}

// Lines are real corpus lines (file named in the case) unless marked
// "constructed", in which case they follow Postfix's source format strings.
var parseCases = []parseCase{
	// smtpd receptions
	{name: "smtpd client with SASL (lograptor)", program: "postfix/smtpd",
		msg:  "4B80DE08044: client=stegosaurus.dinos.test[192.168.4.150], sasl_method=PLAIN, sasl_username=triceratops",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "4B80DE08044", ClientHost: "stegosaurus.dinos.test", ClientIP: "192.168.4.150", AuthUser: "triceratops"}}},
	{name: "submission client IPv6, long queue id (pixelpark)", program: "postfix/submission/smtpd", transport: "submission",
		msg:  "4PbCZy4PWKz3tBr: client=unknown[2a02:8109:b240:41c8:9264:99a9:1b0d:15c8], sasl_method=PLAIN, sasl_username=vmail@uhu-banane.net",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "4PbCZy4PWKz3tBr", ClientHost: "unknown", ClientIP: "2a02:8109:b240:41c8:9264:99a9:1b0d:15c8", AuthUser: "vmail@uhu-banane.net"}}},
	{name: "content filter re-injection (pixelpark)", program: "postfix/10025/smtpd", transport: "10025",
		msg:  "4PbC4z6W5Qz3tG3: client=localhost[127.0.0.1]",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "4PbC4z6W5Qz3tG3", ClientHost: "localhost", ClientIP: "127.0.0.1"}}},
	{name: "client with port and orig_queue_id (constructed)", program: "postfix-out2/smtpd", transport: "smtpd",
		msg:  "5FCA28903A: client=mx.example.com[192.0.2.7]:52344, orig_queue_id=4B80DE08044, orig_client=a.example.com[192.0.2.8]",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "5FCA28903A", ClientHost: "mx.example.com", ClientIP: "192.0.2.7"}}},

	{name: "qmqpd reception (constructed)", program: "postfix/qmqpd",
		msg:  "5FCA28903A: client=list.example.com[192.0.2.77]",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "5FCA28903A", ClientHost: "list.example.com", ClientIP: "192.0.2.77"}}},
	{name: "access WARN ignored (constructed)", program: "postfix/smtpd",
		msg: "NOQUEUE: warn: RCPT from unknown[192.0.2.9]: suspicious client; from=<s@example.com> to=<x@example.org> proto=ESMTP helo=<h>"},

	// pickup
	{name: "pickup uid (lograptor)", program: "postfix/pickup",
		msg:  "69EADD0808B: uid=300 from=<triceratops@dinos.test>",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "69EADD0808B", LocalUser: "300", Sender: "triceratops@dinos.test"}}},
	{name: "pickup uid 0 bare sender (grok pickup_0001)", program: "postfix/pickup",
		msg:  "D2FAE20586: uid=0 from=<fail2ban>",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "D2FAE20586", LocalUser: "0", Sender: "fail2ban"}}},
	{name: "pickup sender= (constructed)", program: "postfix/pickup",
		msg:  "D2FAE20586: sender=<www-data@example.com>",
		want: []ingest.Event{{Kind: ingest.KindReceived, QueueID: "D2FAE20586", Sender: "www-data@example.com"}}},

	// cleanup
	{name: "cleanup message-id (lograptor)", program: "postfix/cleanup",
		msg:  "4B80DE08044: message-id=<gondwana.LRH.2.11.1409210944216.21048@ceratops.dinos.test>",
		want: []ingest.Event{{Kind: ingest.KindInfo, QueueID: "4B80DE08044", MessageID: "gondwana.LRH.2.11.1409210944216.21048@ceratops.dinos.test"}}},
	{name: "cleanup message-id without brackets (grok cleanup_0010)", program: "postfix/cleanup",
		msg:  "ADD961003206D: message-id==?UTF-8?B?PDE5?=",
		want: []ingest.Event{{Kind: ingest.KindInfo, QueueID: "ADD961003206D", MessageID: "=?UTF-8?B?PDE5?="}}},
	{name: "cleanup resent-message-id ignored (constructed)", program: "postfix/cleanup", msg: "5FCA28903A: resent-message-id=<r1@example.com>"},
	{name: "cleanup empty message-id (grok cleanup_0002)", program: "postfix/cleanup", msg: "4104E3D: message-id=<>"},
	{name: "cleanup milter-reject (grok cleanup_0004)", program: "postfix/cleanup",
		msg:  "4104E3D: milter-reject: END-OF-MESSAGE from 061238241086.static.ctinets.com[61.238.241.86]: 5.7.1 Blocked by SpamAssassin; from=<wumt5@cchfdc.com> to=<voorzitter@example.com> proto=ESMTP helo=<ecsolved.com>",
		want: []ingest.Event{{Kind: ingest.KindRejected, QueueID: "4104E3D", ClientHost: "061238241086.static.ctinets.com", ClientIP: "61.238.241.86", Reply: "5.7.1 Blocked by SpamAssassin", DSN: "5.7.1", Sender: "wumt5@cchfdc.com", Recipient: "voorzitter@example.com"}}},
	{name: "cleanup header_checks reject (constructed)", program: "postfix/cleanup",
		msg:  "5FCA28903A: reject: header Subject: Buy now from mail.example.com[192.0.2.1]; from=<a@example.com> to=<b@example.org> proto=ESMTP helo=<mail.example.com>: 5.7.1 Spam subject",
		want: []ingest.Event{{Kind: ingest.KindRejected, QueueID: "5FCA28903A", ClientHost: "mail.example.com", ClientIP: "192.0.2.1", Reply: "5.7.1 Spam subject", DSN: "5.7.1", Sender: "a@example.com", Recipient: "b@example.org"}}},
	{name: "cleanup body_checks discard of a local submission (constructed)", program: "postfix/cleanup",
		msg:  "5FCA28903A: discard: body casino bonus from local; from=<www@example.com> to=<x@example.org>",
		want: []ingest.Event{{Kind: ingest.KindDiscarded, QueueID: "5FCA28903A", ClientHost: "local", Reply: "casino bonus", Sender: "www@example.com", Recipient: "x@example.org"}}},
	{name: "cleanup header hold (constructed)", program: "postfix/cleanup",
		msg:  "5FCA28903A: hold: header X-Spam-Flag: YES from localhost[127.0.0.1]; from=<a@example.com> to=<b@example.org> proto=ESMTP helo=<localhost>",
		want: []ingest.Event{{Kind: ingest.KindHeld, QueueID: "5FCA28903A", ClientHost: "localhost", ClientIP: "127.0.0.1", Reply: "X-Spam-Flag: YES", Sender: "a@example.com", Recipient: "b@example.org"}}},
	{name: "cleanup milter-header-redirect ignored (grok cleanup_0003)", program: "postfix/cleanup",
		msg: "4104E3D: milter-header-redirect: header X-Spam-Status: Yes, score=39.3 required=5.0 tests=ADVANCE_FE from 061238241086.static.ctinets.com[61.238.241.86]; from=<wumt5@cchfdc.com> to=<voorzitter@example.com> proto=ESMTP helo=<ecsolved.com>: tom@example.com"},
	{name: "cleanup warning ignored (grok cleanup_0006)", program: "postfix/cleanup",
		msg: "D8B07E3DB6: warning: header Subject: https://drive.google.com/file/d/0B8wxcvprDYVdlVsdf1kzOVkdisarmed/view?usp=sharing from o1678917x173.outbound-mail.sendgrid.net[167.89.17.173]; from=<bounces+2320708-7653-frank.test=hsdjasdd.co.uk@sendgrid.net> to=<frank.test@hsdjasdd.co.uk> proto=ESMTP helo=<o1678917x173.outbound-mail.sendgrid.net>"},
	{name: "cleanup prepend ignored (grok cleanup_0009)", program: "postfix/cleanup",
		msg: "48rT2v1hQrz1J0N: prepend: header X-Spam-Status: Yes, score=45.1 required=10.0 tests=ADVANCE_FE from mx2.example.org[192.0.2.41]; from=<SRS0=1sN3=5P=example.org=noreply@srs.example.org> to=<recipient@example.net> proto=ESMTP helo=<mx2.example.org>: X-Spam-Status: Yes"},

	// qmgr
	{name: "qmgr queue active (lograptor)", program: "postfix/qmgr",
		msg:  "ED36AD08054: from=<tarbosaurus@dinos.test>, size=179692, nrcpt=3 (queue active)",
		want: []ingest.Event{{Kind: ingest.KindQueued, QueueID: "ED36AD08054", Sender: "tarbosaurus@dinos.test", Size: 179692, Nrcpt: 3}}},
	{name: "qmgr removed, second instance (digineo)", program: "postfix-secondary/qmgr", transport: "qmgr",
		msg:  "AAB4D259B3: removed",
		want: []ingest.Event{{Kind: ingest.KindRemoved, QueueID: "AAB4D259B3"}}},
	{name: "qmgr expired null sender (grok qmgr_0004)", program: "postfix/qmgr",
		msg:  "585BC3F: from=<>, status=expired, returned to sender",
		want: []ingest.Event{{Kind: ingest.KindExpired, QueueID: "585BC3F"}}},
	{name: "qmgr force-expired (postfix_exporter)", program: "postfix/qmgr",
		msg:  "BACE842E73: from=<noreply@domain.com>, status=force-expired, returned to sender",
		want: []ingest.Event{{Kind: ingest.KindExpired, QueueID: "BACE842E73", Sender: "noreply@domain.com"}}},
	{name: "qmgr skipped ignored (grok qmgr_0006)", program: "postfix/qmgr", msg: "ED06590130AA1C9D6D862: skipped, still being delivered"},

	// deliveries
	{name: "smtp sent queued as (lograptor)", program: "postfix/smtp",
		msg:  "ED36AD08054: to=<stegosaurus@ceratops.dinos.test>, relay=antispam.dinos.test[192.168.9.10]:25, delay=1.5, delays=0.05/0/0.14/1.3, dsn=2.0.0, status=sent (250 Ok: queued as 73635C808F)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "ED36AD08054", Recipient: "stegosaurus@ceratops.dinos.test", RelayHost: "antispam.dinos.test", RelayIP: "192.168.9.10", DSN: "2.0.0", Reply: "250 Ok: queued as 73635C808F", NextQueueID: "73635C808F"}}},
	{name: "amavis hop, nested reply (pixelpark)", program: "postfix/amavis/smtp", transport: "amavis",
		msg:  "4PbC4x469Jz3tBr: to=<user01.test@uhu-banane.net>, orig_to=<frank@brehm-berlin.de>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.4, delays=0.29/0.02/0.01/2.1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4PbC4z6W5Qz3tG3)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "4PbC4x469Jz3tBr", Recipient: "user01.test@uhu-banane.net", RelayHost: "127.0.0.1", RelayIP: "127.0.0.1", DSN: "2.0.0", Reply: "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4PbC4z6W5Qz3tG3", NextQueueID: "4PbC4z6W5Qz3tG3"}}},
	{name: "local forwarded as (pixelpark)", program: "postfix/local",
		msg:  "4PbMVH1gW1z3tBr: to=<root@mail.uhu-banane.de>, relay=local, delay=0.05, delays=0.01/0.03/0/0.01, dsn=2.0.0, status=sent (forwarded as 4PbMVH1yTpz3tG3)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "4PbMVH1gW1z3tBr", Recipient: "root@mail.uhu-banane.de", RelayHost: "local", DSN: "2.0.0", Reply: "forwarded as 4PbMVH1yTpz3tG3", NextQueueID: "4PbMVH1yTpz3tG3"}}},
	{name: "pipe to dovecot with orig_to (lograptor)", program: "postfix/pipe",
		msg:  "4B80DE08044: to=<trex@dinos.test>, orig_to=<tyrannosaurus.rex@dinos.test>, relay=dovecot, delay=0.13, delays=0.04/0/0/0.09, dsn=2.0.0, status=sent (delivered via dovecot service)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "4B80DE08044", Recipient: "trex@dinos.test", RelayHost: "dovecot", DSN: "2.0.0", Reply: "delivered via dovecot service"}}},
	{name: "local bare addresses (grok local_0001)", program: "postfix/local",
		msg:  `2A22C263F6: to=user@hostname.example.com, orig_to=root@localhost, relay=local, delay=0.07, delays=0.04/0/0/0.03, dsn=2.0.0, status=sent (delivered to command: procmail -a "$EXTENSION")`,
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "2A22C263F6", Recipient: "user@hostname.example.com", RelayHost: "local", DSN: "2.0.0", Reply: `delivered to command: procmail -a "$EXTENSION"`}}},
	{name: "smtp deferred relay=none (zentyal)", program: "postfix/smtp",
		msg:  "6E06752608: to=<jag@gmail.com>, relay=none, delay=30, delays=0.06/0.02/30/0, dsn=4.4.1, status=deferred (connect to 192.168.45.120[192.168.45.120]:25: Connection timed out)",
		want: []ingest.Event{{Kind: ingest.KindDeferred, QueueID: "6E06752608", Recipient: "jag@gmail.com", RelayHost: "none", DSN: "4.4.1", Reply: "connect to 192.168.45.120[192.168.45.120]:25: Connection timed out"}}},
	{name: "smtp bounced (postfix_exporter)", program: "postfix/smtp",
		msg:  "732BB407C3: to=<redacted@domain.com>, relay=mail.domain.com[1.1.1.1]:25, delay=582, delays=563/16/1.7/0.81, dsn=5.0.0, status=bounced (host mail.domain.com[1.1.1.1] said: 554 DT:SPM 163 mx9,O8CowEDJVFKCokVaRhz+AA--.26016S3 1514513028,please see http://mail.domain.com/help/help_spam.htm?ip= (in reply to end of DATA command))",
		want: []ingest.Event{{Kind: ingest.KindBounced, QueueID: "732BB407C3", Recipient: "redacted@domain.com", RelayHost: "mail.domain.com", RelayIP: "1.1.1.1", DSN: "5.0.0", Reply: "host mail.domain.com[1.1.1.1] said: 554 DT:SPM 163 mx9,O8CowEDJVFKCokVaRhz+AA--.26016S3 1514513028,please see http://mail.domain.com/help/help_spam.htm?ip= (in reply to end of DATA command)"}}},
	{name: "smtp bounced IPv6 relay (grok smtp_0018)", program: "postfix/smtp",
		msg:  "4E74613FE76: to=<redacted@gmail.com>, relay=gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b]:25, delay=1.9, delays=0.05/0/1.1/0.71, dsn=5.7.1, status=bounced (host gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b] said: 550-5.7.1 message is likely unsolicited mail. (in reply to end of DATA command))",
		want: []ingest.Event{{Kind: ingest.KindBounced, QueueID: "4E74613FE76", Recipient: "redacted@gmail.com", RelayHost: "gmail-smtp-in.l.google.com", RelayIP: "2607:f8b0:400e:c04::1b", DSN: "5.7.1", Reply: "host gmail-smtp-in.l.google.com[2607:f8b0:400e:c04::1b] said: 550-5.7.1 message is likely unsolicited mail. (in reply to end of DATA command)"}}},
	{name: "lmtp to a socket, tls= field (grok smtp_0017, tls_features_0001)", program: "postfix/lmtp",
		msg:  "AD6E41CDC05C: to=<admin@example.com>, relay=sub1.example.com[private/dovecot-lmtp], delay=0.15, delays=0.04/0/0.02/0.08, tls=dane, dsn=2.0.0, status=sent (250 2.0.0 <admin@example.com> qYyyBMsl9FRuZQAAA15QOA Saved)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "AD6E41CDC05C", Recipient: "admin@example.com", RelayHost: "sub1.example.com", DSN: "2.0.0", Reply: "250 2.0.0 <admin@example.com> qYyyBMsl9FRuZQAAA15QOA Saved"}}},
	{name: "relay transport with conn_use, expired (constructed)", program: "postfix/relay/smtp", transport: "relay",
		msg:  "5FCA28903A: to=<u@example.net>, relay=mx.example.net[198.51.100.4]:25, conn_use=2, delay=432000, delays=431990/0/10/0, dsn=4.4.7, status=expired (host mx.example.net[198.51.100.4] said: 451 4.7.1 try later (in reply to RCPT TO command))",
		want: []ingest.Event{{Kind: ingest.KindExpired, QueueID: "5FCA28903A", Recipient: "u@example.net", RelayHost: "mx.example.net", RelayIP: "198.51.100.4", DSN: "4.4.7", Reply: "host mx.example.net[198.51.100.4] said: 451 4.7.1 try later (in reply to RCPT TO command)"}}},
	{name: "reply cut by a syslog length limit (constructed)", program: "postfix/smtp",
		msg:  "5FCA28903A: to=<u@example.net>, relay=mx.example.net[198.51.100.4]:25, delay=1, delays=0/0/0/1, dsn=5.7.1, status=bounced (host mx.example.net[198.51.100.4] said: 554 5.7.1 Rejected due to",
		want: []ingest.Event{{Kind: ingest.KindBounced, QueueID: "5FCA28903A", Recipient: "u@example.net", RelayHost: "mx.example.net", RelayIP: "198.51.100.4", DSN: "5.7.1", Reply: "host mx.example.net[198.51.100.4] said: 554 5.7.1 Rejected due to"}}},
	{name: "error agent deferral (grok error_0001)", program: "postfix/error",
		msg:  "2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, delays=63350/144/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)",
		want: []ingest.Event{{Kind: ingest.KindDeferred, QueueID: "2DC5552A34", Recipient: "user@yahoo.com", RelayHost: "none", DSN: "4.4.2", Reply: "delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO"}}},
	{name: "address verification result ignored (grok error_0002)", program: "postfix/error",
		msg: "3E29030F8637E: to=<user@yahoo.com>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=5.1.1, status=undeliverable-but-not-cached (User unknown in virtual alias table)"},
	{name: "discard agent (grok discard_0001)", program: "postfix/discard",
		msg:  "25F2E5E061: to=<george.desantis@test.example.com>, relay=none, delay=0.05, delays=0.05/0/0/0, dsn=2.0.0, status=sent (test.example.com)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "25F2E5E061", Recipient: "george.desantis@test.example.com", RelayHost: "none", DSN: "2.0.0", Reply: "test.example.com"}}},
	{name: "invalid next queue id not taken (SYNTHETIC)", program: "postfix/smtp",
		msg:  "123456789AB: to=<user@example.com>, relay=example.com[123.45.67.89]:123, delay=0.12, delays=0.12/0.12/0.12/0.12, dsn=1.2.3, status=sent (250 OK queued as aaaaaaaaaaaaa)",
		want: []ingest.Event{{Kind: ingest.KindDelivered, QueueID: "123456789AB", Recipient: "user@example.com", RelayHost: "example.com", RelayIP: "123.45.67.89", DSN: "1.2.3", Reply: "250 OK queued as aaaaaaaaaaaaa"}}},

	// smtpd / postscreen rejections
	{name: "NOQUEUE reject blocklist (grok smtpd_0009)", program: "postfix/smtpd",
		msg:  "NOQUEUE: reject: RCPT from news.zihan-promo.com[192.36.205.58]: 554 5.7.1 Service unavailable; Helo command [news.zihan-promo.com] blocked using dbl.spamhaus.org; http://www.spamhaus.org/query/dbl?domain=zihan-promo.com; from=<mark.alexander@zihan-promo.com> to=<tom@example.com> proto=ESMTP helo=<news.zihan-promo.com>",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientHost: "news.zihan-promo.com", ClientIP: "192.36.205.58", Reply: "554 5.7.1 Service unavailable; Helo command [news.zihan-promo.com] blocked using dbl.spamhaus.org; http://www.spamhaus.org/query/dbl?domain=zihan-promo.com", DSN: "5.7.1", Sender: "mark.alexander@zihan-promo.com", Recipient: "tom@example.com"}}},
	{name: "postscreen reject, comma envelope (pixelpark)", program: "postfix/postscreen",
		msg:  "NOQUEUE: reject: RCPT from [185.246.220.193]:62795: 550 5.7.1 Service unavailable; client [185.246.220.193] blocked using zen.spamhaus.org; from=<ripe@uhu-banane.de>, to=<zzzzzzzzzzzzzzzzzezihe@hotmail.com>, proto=ESMTP, helo=<3BqSwxw>",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientIP: "185.246.220.193", Reply: "550 5.7.1 Service unavailable; client [185.246.220.193] blocked using zen.spamhaus.org", DSN: "5.7.1", Sender: "ripe@uhu-banane.de", Recipient: "zzzzzzzzzzzzzzzzzezihe@hotmail.com"}}},
	{name: "postscreen CONNECT reject (grok postscreen_0023)", program: "postfix/postscreen",
		msg:  "NOQUEUE: reject: CONNECT from [1.2.3.4]:1337: too many connections",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientIP: "1.2.3.4", Reply: "too many connections"}}},
	{name: "smtpd reject with queue id (fail2ban)", program: "postfix/smtpd",
		msg:  "00ADB3C0899: reject: RCPT from example.com[192.0.2.1]: 550 5.1.1 <sales@server.com>: Recipient address rejected: User unknown in local recipient table; from=<xxxxxx@example.com> to=<sales@server.com> proto=ESMTP helo=<mail.example.com>",
		want: []ingest.Event{{Kind: ingest.KindRejected, QueueID: "00ADB3C0899", ClientHost: "example.com", ClientIP: "192.0.2.1", Reply: "550 5.1.1 <sales@server.com>: Recipient address rejected: User unknown in local recipient table", DSN: "5.1.1", Sender: "xxxxxx@example.com", Recipient: "sales@server.com"}}},
	{name: "smtpd BDAT reject, long id, instance+service (fail2ban)", program: "postfix-smo/submission/smtpd", transport: "submission",
		msg:  "44JCRG5tYPzCqt2: reject: BDAT from signing-milter.example.com[192.0.2.109]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> to=<some@example.com> proto=ESMTP helo=<domain.tld>",
		want: []ingest.Event{{Kind: ingest.KindRejected, QueueID: "44JCRG5tYPzCqt2", ClientHost: "signing-milter.example.com", ClientIP: "192.0.2.109", Reply: "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce", DSN: "5.5.3", Recipient: "some@example.com"}}},
	{name: "smtpd milter-reject (fail2ban)", program: "postfix/smtpd",
		msg:  "1D8CC1CA0A7F: milter-reject: DATA from 66-220-155-151.mail-mail.facebook.com[192.0.2.151]: 550 5.7.1 Command rejected; from=<security@mail.example.com> to=<hostmaster@example.com> proto=ESMTP helo=<192-0-2-151.mail-mail.example.com>",
		want: []ingest.Event{{Kind: ingest.KindRejected, QueueID: "1D8CC1CA0A7F", ClientHost: "66-220-155-151.mail-mail.facebook.com", ClientIP: "192.0.2.151", Reply: "550 5.7.1 Command rejected", DSN: "5.7.1", Sender: "security@mail.example.com", Recipient: "hostmaster@example.com"}}},
	{name: "VRFY reject without from= (grok smtpd_0017)", program: "postfix/smtpd",
		msg:  "NOQUEUE: reject: VRFY from unknown[2001:968:9999:20:88b:9b7d:2a54:2bd2]: 454 4.7.1 <aap@henk.com>: Relay access denied; to=<aap@henk.com> proto=SMTP helo=<me>",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientHost: "unknown", ClientIP: "2001:968:9999:20:88b:9b7d:2a54:2bd2", Reply: "454 4.7.1 <aap@henk.com>: Relay access denied", DSN: "4.7.1", Recipient: "aap@henk.com"}}},
	{name: "EHLO reject, proto only (fail2ban)", program: "postfix-incoming/smtpd", transport: "smtpd",
		msg:  "NOQUEUE: reject: EHLO from s271272.static.corbina.ru[78.107.251.238]: 504 5.5.2 <User>: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<User>",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientHost: "s271272.static.corbina.ru", ClientIP: "78.107.251.238", Reply: "504 5.5.2 <User>: Helo command rejected: need fully-qualified hostname", DSN: "5.5.2"}}},
	{name: "truncated reject without envelope (fail2ban)", program: "postfix/smtpd",
		msg:  "NOQUEUE: reject: VRFY from 72-53-132-234.cpe.distributel.net[72.53.132.234]: 550 5.1.1 : Recipient address rejected: User unknown in local recipient tab",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientHost: "72-53-132-234.cpe.distributel.net", ClientIP: "72.53.132.234", Reply: "550 5.1.1 : Recipient address rejected: User unknown in local recipient tab", DSN: "5.1.1"}}},
	{name: "empty helo and addresses (fail2ban)", program: "postfix/smtpd",
		msg:  "NOQUEUE: reject: RCPT from example.com[192.0.43.10]: 450 4.7.1 : Helo command rejected: Host not found; from=<> to=<> proto=ESMTP helo=",
		want: []ingest.Event{{Kind: ingest.KindRejected, ClientHost: "example.com", ClientIP: "192.0.43.10", Reply: "450 4.7.1 : Helo command rejected: Host not found", DSN: "4.7.1"}}},
	{name: "NOQUEUE discard (grok smtpd_0026)", program: "postfix/smtpd",
		msg:  "NOQUEUE: discard: MAIL from ccm231.constantcontact.com[208.75.123.231]: <bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com>: Sender address SPAM; from=<bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com> proto=ESMTP helo=<ccm231.constantcontact.com>",
		want: []ingest.Event{{Kind: ingest.KindDiscarded, ClientHost: "ccm231.constantcontact.com", ClientIP: "208.75.123.231", Reply: "<bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com>: Sender address SPAM", Sender: "bsdbdsfbw==_4343_sdfbddw==@in.constantcontact.com"}}},
	{name: "smtpd hold with queue id (constructed)", program: "postfix/smtpd",
		msg:  "5FCA28903A: hold: RCPT from unknown[192.0.2.9]: <x@example.org>: Recipient address triggers HOLD action; from=<s@example.com> to=<x@example.org> proto=ESMTP helo=<h>",
		want: []ingest.Event{{Kind: ingest.KindHeld, QueueID: "5FCA28903A", ClientHost: "unknown", ClientIP: "192.0.2.9", Reply: "<x@example.org>: Recipient address triggers HOLD action", Sender: "s@example.com", Recipient: "x@example.org"}}},
	{name: "proxy-reject without queue id (grok smtpd_0022)", program: "postfix/smtpd",
		msg:  "proxy-reject: END-OF-MESSAGE: 554 5.7.0 Reject, contact postmaster@example.com, id=31619-02 - spam; from=<> to=<user2@example2.com> proto=SMTP helo=<17.33.12.53>",
		want: []ingest.Event{{Kind: ingest.KindRejected, Reply: "554 5.7.0 Reject, contact postmaster@example.com, id=31619-02 - spam", DSN: "5.7.0", Recipient: "user2@example2.com"}}},
	{name: "reject_warning ignored (grok smtpd_0031)", program: "postfix/smtpd",
		msg: "NOQUEUE: reject_warning: RCPT from example.com[93.184.216.34]: 553 5.7.1 <sender@example.com>: Sender address rejected: not owned by user ph123; from=<sender@example.com> to=<recipient@example.com> proto=ESMTP helo=<example.com>"},
	{name: "NOQUEUE filter ignored (grok smtpd_0027)", program: "postfix/smtpd",
		msg: "NOQUEUE: filter: RCPT from unknown[85.25.255.255]: <mail@sender.com>: Sender address triggers FILTER smtp-amavis:[127.0.0.1]:10024; from=<mail@sender.com> to=<user@domain.com> proto=ESMTP helo=<plutoapp.biz>"},
	{name: "proxy-accept ignored (grok smtpd_0020)", program: "postfix/smtpd",
		msg: "proxy-accept: END-OF-MESSAGE: 250 2.0.0 from MTA(smtp:[127.0.0.1]:10013): 250 2.0.0 Ok: queued as DF66E940333; from=<user1@test.example.com> to=<user2@example2.com> proto=ESMTP helo=<[127.0.0.1]>"},

	// postsuper, bounce
	{name: "postsuper removed (grok postsuper_0001)", program: "postfix/postsuper", msg: "D4F2023DB: removed",
		want: []ingest.Event{{Kind: ingest.KindRemoved, QueueID: "D4F2023DB"}}},
	{name: "postsuper placed on hold (grok postsuper_0003)", program: "postfix/postsuper", msg: "D4F2023DB: placed on hold",
		want: []ingest.Event{{Kind: ingest.KindHeld, QueueID: "D4F2023DB"}}},
	{name: "postsuper released ignored (grok postsuper_0004)", program: "postfix/postsuper", msg: "D4F2023DB: released from hold"},
	{name: "postsuper requeued ignored (grok postsuper_0002)", program: "postfix/postsuper", msg: "D4F2023DB: requeued"},
	{name: "postsuper summary ignored (grok postsuper_0005)", program: "postfix/postsuper", msg: "Deleted: 115 messages"},
	{name: "bounce notification ignored (zentyal)", program: "postfix/bounce", msg: "72FEB28781: sender non-delivery notification: B876628785"},

	// ignored chatter
	{name: "smtp host said ignored (grok smtp_0020)", program: "postfix/smtp", msg: "ED59C3D: host mail2.example.com[1.74.253.23] said: 450 4.7.1 <user@example.com>: Recipient address rejected: Greylisted for 5 minutes (in reply to RCPT TO command)"},
	{name: "smtp TLS ignored (digineo)", program: "postfix/smtp", msg: "Verified TLS connection established to mx2.comcast.net[2001:558:fe21:2a::6]:25: TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)"},
	{name: "smtp PIX ignored (grok smtp_0031)", program: "postfix/smtp", msg: "B0ADE20FC7: enabling PIX workarounds: disable_esmtp delay_dotcrlf for example.com[93.184.216.34]:25"},
	{name: "smtpd connect ignored", program: "postfix/smtpd", msg: "connect from host1.uhu-banane.de[185.48.118.128]"},
	{name: "smtpd NOQUEUE lost connection ignored (fail2ban)", program: "postfix/smtpd", msg: "NOQUEUE: lost connection after CONNECT from unknown[192.0.2.25]"},
	{name: "smtpd warning with queue id ignored (zentyal)", program: "postfix/smtpd", msg: "warning: C48C428351: queue file size limit exceeded"},
	{name: "postscreen PASS OLD ignored", program: "postfix/postscreen", msg: "PASS OLD [185.48.118.128]:36942"},
	{name: "dnsblog ignored (grok dnsblog_0001)", program: "postfix/dnsblog", msg: "addr 61.238.241.86 listed by domain psbl.surriel.com as 127.0.0.2"},
	{name: "anvil ignored", program: "postfix/anvil", msg: "statistics: max connection rate 1/60s for (smtpd:61.238.241.86) at Oct 26 18:13:50"},
}

func TestParse(t *testing.T) {
	var p Parser
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			r := rec(tc.program, tc.msg)
			got, err := p.Parse(nil, r)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tr := tc.transport
			if tr == "" {
				tr = tc.program[strings.LastIndexByte(tc.program, '/')+1:]
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range tc.want {
				w := want(tc.program, tr, tc.want[i])
				if !equalEvent(got[i], w) {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], w)
				}
			}
		})
	}
}

func equalEvent(a, b ingest.Event) bool {
	if !a.Time.Equal(b.Time) || len(a.Rules) != 0 || len(b.Rules) != 0 {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// TestParseAppends checks that Parse appends to dst instead of overwriting.
func TestParseAppends(t *testing.T) {
	var p Parser
	dst := []ingest.Event{{Kind: ingest.KindInfo, QueueID: "KEEP"}}
	dst, err := p.Parse(dst, rec("postfix/qmgr", "AAB4D259B3: removed"))
	if err != nil || len(dst) != 2 || dst[0].QueueID != "KEEP" || dst[1].Kind != ingest.KindRemoved {
		t.Fatalf("got %+v, %v", dst, err)
	}
	// An error leaves dst as it was.
	dst, err = p.Parse(dst, rec("postfix/qmgr", "AAB4D259B3: from=<a@b>, size=x, nrcpt=1 (queue active)"))
	if err == nil || len(dst) != 2 {
		t.Fatalf("got %+v, %v", dst, err)
	}
}

func TestParseMalformed(t *testing.T) {
	cases := []struct{ program, msg, inErr string }{
		{"postfix/unknown", "foo", "unknown postfix daemon"},
		{"postfix1", "foo", "not a postfix daemon"},
		{"postfix/smtpd", "Unsupported", "postfix smtpd: unrecognised message"},
		{"postfix/smtpd", "NOQUEUE: reject: Unsupported", "postfix smtpd: reject line"},
		{"postfix/smtpd", "5FCA28903A: client=nobrackets", "bad client= value"},
		{"postfix/smtpd", "5FCA28903A: client=a[1.2.3.4]junk", "bad client= value"},
		{"postfix/qmgr", "5FCA28903A: from=<a@b>, size=12", "without nrcpt="},
		{"postfix/qmgr", "5FCA28903A: from=<a@b>, nrcpt=1", "without size="},
		{"postfix/qmgr", "5FCA28903A: from=<a@b>, status=weird, returned to sender", "unknown qmgr status"},
		{"postfix/qmgr", "5FCA28903A: from=a@b, size=1, nrcpt=1 (queue active)", "bad qmgr from= address"},
		{"postfix/qmgr", "abcdefgh: removed", "unrecognised message"},    // not a queue id alphabet
		{"postfix/qmgr", "4cDCnd66Hyz: removed", "unrecognised message"}, // long id without inode
		{"postfix/smtp", "5FCA28903A: to=<a@b>, relay=none, delay=1, dsn=2.0.0, status=delivered (x)", "unknown delivery status"},
		{"postfix/smtp", "5FCA28903A: to=<a@b>, relay=none, delay=1, dsn=2.0.0", "without status="},
		{"postfix/smtp", "5FCA28903A: to=<a@b>, delay=1, dsn=2.0.0, status=sent (ok)", "without relay="},
		{"postfix/smtp", "5FCA28903A: to=<a@b> relay=none", "separator"},
		{"postfix/smtp", "5FCA28903A: user@example.com, relay=example.com[1.2.3.4]:25, status=sent (x)", "unrecognised message"},
		{"postfix/pickup", "5FCA28903A: uid=x from=<a>", "bad pickup uid="},
		{"postfix/cleanup", "5FCA28903A: reject: lowercase junk", "reject line"},
	}
	var p Parser
	for _, tc := range cases {
		evs, err := p.Parse(nil, rec(tc.program, tc.msg))
		if err == nil {
			t.Errorf("%s %q: no error, events %+v", tc.program, tc.msg, evs)
			continue
		}
		if !errors.Is(err, ingest.ErrMalformed) {
			t.Errorf("%s %q: %v does not wrap ErrMalformed", tc.program, tc.msg, err)
		}
		if !strings.Contains(err.Error(), tc.inErr) {
			t.Errorf("%s %q: error %q does not mention %q", tc.program, tc.msg, err, tc.inErr)
		}
		if len(evs) != 0 {
			t.Errorf("%s %q: events on error: %+v", tc.program, tc.msg, evs)
		}
	}
}

func TestOwns(t *testing.T) {
	cases := []struct {
		program, transport, daemon string
	}{
		{"postfix/smtpd", "smtpd", "smtpd"},
		{"postfix/submission/smtpd", "submission", "smtpd"},
		{"postfix/smtps/smtpd", "smtps", "smtpd"},
		{"postfix/10025/smtpd", "10025", "smtpd"},
		{"postfix/relay/smtp", "relay", "smtp"},
		{"postfix/amavis/smtp", "amavis", "smtp"},
		{"postfix-out2/smtp", "smtp", "smtp"},
		{"postfix-smo/submission/smtpd", "submission", "smtpd"},
		{"postfix/postscreen", "postscreen", "postscreen"},
		{"postfix/cleanup", "cleanup", "cleanup"},
		{"postfix/qmgr", "qmgr", "qmgr"},
		{"postfix/pickup", "pickup", "pickup"},
		{"postfix/bounce", "bounce", "bounce"},
		{"postfix/postsuper", "postsuper", "postsuper"},
		{"postfix/error", "error", "error"},
		{"postfix/lmtp", "lmtp", "lmtp"},
		{"postfix/local", "local", "local"},
		{"postfix/virtual", "virtual", "virtual"},
		{"postfix/pipe", "pipe", "pipe"},
		{"postfix/discard", "discard", "discard"},
		{"postfix/a/b/smtp", "b", "smtp"},
	}
	for _, tc := range cases {
		if !Owns(tc.program) {
			t.Errorf("Owns(%q) = false", tc.program)
		}
		tr, d, ok := splitProgram(tc.program)
		if !ok || tr != tc.transport || d != tc.daemon {
			t.Errorf("splitProgram(%q) = %q, %q, %v; want %q, %q", tc.program, tr, d, ok, tc.transport, tc.daemon)
		}
	}
	for _, prog := range []string{"", "postfix", "postfix/", "postfix1", "postfix1/smtpd", "postfix-/smtpd",
		"postfix-x", "postfix//smtpd", "postfix/smtpd/", "postfix/a//smtpd", "sendmail", "exim", "sm-mta", "postfixsmtpd"} {
		if Owns(prog) {
			t.Errorf("Owns(%q) = true", prog)
		}
	}
}

func TestValidQueueID(t *testing.T) {
	for id, ok := range map[string]bool{
		"5FCA28903A":            true,
		"0F5383D":               true,
		"ED06590130AA1C9D6D862": true,
		"4cDCnd66Hyz1XPWFF":     true,
		"4PbC4z6W5Qz3tG3":       true, // time part may contain 'z'; the last one separates
		"NOQUEUE":               false,
		"5FCA2":                 false, // too short
		"5fca28903a":            false, // short ids are upper-case
		"aaaaaaaaaaaaa":         false, // vowels
		"4cDCnd66Hyz":           false, // no inode after the separator
		"4cDCnz66Hy1X":          false, // separator inside the time part
		"4cDCnd66Hyz1XPWFE":     false, // vowel
		"warning":               false,
		"":                      false,
		strings.Repeat("A", 33): false,
	} {
		if got := validQueueID(id); got != ok {
			t.Errorf("validQueueID(%q) = %v, want %v", id, got, ok)
		}
	}
}

func TestDSN(t *testing.T) {
	for in, want := range map[string]string{
		"554 5.7.1 Service unavailable":   "5.7.1",
		"550-5.7.1 [2607:4100] Our":       "5.7.1",
		"5.7.1 Blocked by SpamAssassin":   "5.7.1",
		"550 5.12.345 <user@example.com>": "5.12.345",
		"450 4.7.1":                       "4.7.1",
		"123 #1.2.3 Reasons":              "",
		"12 Malformed":                    "",
		"too many connections":            "",
		"550 5.7 nope":                    "",
		"550 5.7.1234 too long":           "",
		"":                                "",
	} {
		if got := dsnOf(in); got != want {
			t.Errorf("dsnOf(%q) = %q, want %q", in, got, want)
		}
	}
}
