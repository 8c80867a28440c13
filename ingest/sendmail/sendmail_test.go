package sendmail

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
	"github.com/mailrep/mailrep/ingest/syslog"
)

// record parses a whole log line with the syslog header parser, as the
// pipeline does.
func record(t testing.TB, line string) *ingest.Record {
	t.Helper()
	p := syslog.Parser{Ref: time.Date(2017, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC}
	var rec ingest.Record
	if err := p.Parse(line, &rec); err != nil {
		t.Fatalf("syslog header of %q: %v", line, err)
	}
	return &rec
}

// ev builds an expected event; the header facts are filled in by the test.
type ev = ingest.Event

// Lines are real log lines from public sources (mail-list posts, fail2ban
// and grok test logs, Sendmail's own format strings) unless marked
// "constructed"; constructed lines follow Sendmail's format strings.
var parseTests = []struct {
	name string
	line string
	want []ev
}{
	{
		name: "from= remote, literal relay",
		line: "Apr  2 00:15:25 mta001 sendmail[32300]: u31FFPtp032300: from=<grandeur09@gmail.com>, size=5938, class=0, nrcpts=7, msgid=<201604011515.u31FFIAj012911@gmail.com>, proto=ESMTP, daemon=MTA, relay=[64.233.187.27]",
		want: []ev{
			{Kind: ingest.KindReceived, QueueID: "u31FFPtp032300", Sender: "grandeur09@gmail.com", Size: 5938, Nrcpt: 7, MessageID: "201604011515.u31FFIAj012911@gmail.com", ClientIP: "64.233.187.27"},
			{Kind: ingest.KindQueued, QueueID: "u31FFPtp032300", Sender: "grandeur09@gmail.com", Size: 5938, Nrcpt: 7, MessageID: "201604011515.u31FFIAj012911@gmail.com", ClientIP: "64.233.187.27"},
		},
	},
	{
		name: "from= with bodytype and may be forged",
		line: "Aug 14 11:59:58 yyyy sendmail[30222]: r0NNNlC0030222: from=<bounce-25497-9881290652-user=example.com@example.com>, size=6420, class=0, nrcpts=1, msgid=<0.0.9881290652.3772024cf8879cycvau18081.0@example.com>, bodytype=8BITMIME, proto=ESMTP, daemon=MTA, relay=[192.0.43.15] (may be forged)",
		want: []ev{
			{Kind: ingest.KindReceived, QueueID: "r0NNNlC0030222", Sender: "bounce-25497-9881290652-user=example.com@example.com", Size: 6420, Nrcpt: 1, MessageID: "0.0.9881290652.3772024cf8879cycvau18081.0@example.com", ClientIP: "192.0.43.15"},
			{Kind: ingest.KindQueued, QueueID: "r0NNNlC0030222", Sender: "bounce-25497-9881290652-user=example.com@example.com", Size: 6420, Nrcpt: 1, MessageID: "0.0.9881290652.3772024cf8879cycvau18081.0@example.com", ClientIP: "192.0.43.15"},
		},
	},
	{
		name: "from= named relay",
		line: "Nov  7 13:52:47 b.mx.sonic.net sm-mta[29841]: qA7LqlqC029841: from=<augie@corp.sonic.net>, size=1391, class=0, nrcpts=1, msgid=<509AD829.8000902@corp.sonic.net>, proto=ESMTP, daemon=MTA, relay=a.mail.sonic.net [64.142.16.245]",
		want: []ev{
			{Kind: ingest.KindReceived, QueueID: "qA7LqlqC029841", Sender: "augie@corp.sonic.net", Size: 1391, Nrcpt: 1, MessageID: "509AD829.8000902@corp.sonic.net", ClientHost: "a.mail.sonic.net", ClientIP: "64.142.16.245"},
			{Kind: ingest.KindQueued, QueueID: "qA7LqlqC029841", Sender: "augie@corp.sonic.net", Size: 1391, Nrcpt: 1, MessageID: "509AD829.8000902@corp.sonic.net", ClientHost: "a.mail.sonic.net", ClientIP: "64.142.16.245"},
		},
	},
	{
		name: "from= local submission via MSP",
		line: "Oct 25 12:50:21 localhost sendmail[6666]: v9PCoLxI006666: from=dmitriano, size=127, class=0, nrcpts=1, msgid=<201710251250.v9PCoLxI006666@localhost.localdomain>, relay=dmitriano@localhost",
		want: []ev{
			{Kind: ingest.KindReceived, QueueID: "v9PCoLxI006666", Sender: "dmitriano", Size: 127, Nrcpt: 1, MessageID: "201710251250.v9PCoLxI006666@localhost.localdomain", ClientHost: "localhost", LocalUser: "dmitriano"},
			{Kind: ingest.KindQueued, QueueID: "v9PCoLxI006666", Sender: "dmitriano", Size: 127, Nrcpt: 1, MessageID: "201710251250.v9PCoLxI006666@localhost.localdomain", ClientHost: "localhost", LocalUser: "dmitriano"},
		},
	},
	{
		name: "from= with nrcpts=0 queued nothing",
		line: "Nov  3 11:35:30 Microsoft sendmail[26254]: rA37ZTSC026254: from=<davaojk25@domain.com>, size=0, class=0, nrcpts=0, bodytype=8BITMIME, proto=ESMTP, daemon=MTA, relay=163.23.32.95.dsl-dynamic.vsi.ru [95.32.23.163]",
	},
	{
		name: "to= two recipients sent",
		line: "Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: to=<sent1@example.com>,<sent2@example.com>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=245938, relay=[93.184.216.34] [93.184.216.34], dsn=2.0.0, stat=Sent (ok:  Message 40279894 accepted)",
		want: []ev{
			{Kind: ingest.KindDelivered, QueueID: "u31FFPtp032300", Recipient: "sent1@example.com", RelayIP: "93.184.216.34", DSN: "2.0.0", Reply: "Sent (ok:  Message 40279894 accepted)", Transport: "esmtp"},
			{Kind: ingest.KindDelivered, QueueID: "u31FFPtp032300", Recipient: "sent2@example.com", RelayIP: "93.184.216.34", DSN: "2.0.0", Reply: "Sent (ok:  Message 40279894 accepted)", Transport: "esmtp"},
		},
	},
	{
		name: "to= deferred",
		line: "Apr  2 00:15:25 mta001 sendmail[12566]: u31FFPtp032300: to=<deferred1@example.com>, delay=00:00:15, xdelay=00:00:15, mailer=esmtp, pri=34527, relay=[93.184.216.34] [93.184.216.34], dsn=4.3.5, stat=Deferred: 451 4.3.5 Server configuration problem",
		want: []ev{
			{Kind: ingest.KindDeferred, QueueID: "u31FFPtp032300", Recipient: "deferred1@example.com", RelayIP: "93.184.216.34", DSN: "4.3.5", Reply: "Deferred: 451 4.3.5 Server configuration problem", Transport: "esmtp"},
		},
	},
	{
		name: "to= deferred without text, relay without address",
		line: "Nov 12 14:40:08 b.mail.sonic.net sm-mta[17605]: qACMe8E2017601: to=<augie@corp.sonic.net>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=127125, relay=mta6.am0.yahoodns.net., dsn=4.0.0, stat=Deferred",
		want: []ev{
			{Kind: ingest.KindDeferred, QueueID: "qACMe8E2017601", Recipient: "augie@corp.sonic.net", RelayHost: "mta6.am0.yahoodns.net", DSN: "4.0.0", Reply: "Deferred", Transport: "esmtp"},
		},
	},
	{
		name: "to= MSP hop to sm-mta with ctladdr user (uid/gid)",
		line: "Oct 25 12:50:21 localhost sendmail[6666]: v9PCoLxI006666: to=Vasya <unixappdev@gmail.com>, ctladdr=dmitriano (1000/1000), delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30127, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (v9PCoLiO006667 Message accepted for delivery)",
		want: []ev{
			{Kind: ingest.KindDelivered, QueueID: "v9PCoLxI006666", NextQueueID: "v9PCoLiO006667", Recipient: "unixappdev@gmail.com", LocalUser: "dmitriano", RelayIP: "127.0.0.1", DSN: "2.0.0", Reply: "Sent (v9PCoLiO006667 Message accepted for delivery)", Transport: "relay"},
		},
	},
	{
		name: "to= MSP hop, bare recipient, ctladdr www-data",
		line: "Sep  6 14:10:22 leo-laptop sendmail[5066]: o86BAMBS005066: to=XXXXXX@yahoo.com, ctladdr=www-data (33/33), delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30310, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, stat=Sent (o86BAMbi005068 Message accepted for delivery)",
		want: []ev{
			{Kind: ingest.KindDelivered, QueueID: "o86BAMBS005066", NextQueueID: "o86BAMbi005068", Recipient: "XXXXXX@yahoo.com", LocalUser: "www-data", RelayIP: "127.0.0.1", DSN: "2.0.0", Reply: "Sent (o86BAMbi005068 Message accepted for delivery)", Transport: "relay"},
		},
	},
	{
		name: "to= bounce, ctladdr address (uid/gid), FQDN relay",
		line: "Sep  6 14:10:31 leo-laptop sm-mta[5070]: o86BAMbi005068: to=<XXXXXXX@yahoo.com>, ctladdr=<www-data@leo-laptop.home> (33/33), delay=00:00:09, xdelay=00:00:09, mailer=esmtp, pri=120535, relay=e.mx.mail.yahoo.com. [67.195.168.230], dsn=5.0.0, stat=Service unavailable",
		want: []ev{
			{Kind: ingest.KindBounced, QueueID: "o86BAMbi005068", Recipient: "XXXXXXX@yahoo.com", LocalUser: "www-data", RelayHost: "e.mx.mail.yahoo.com", RelayIP: "67.195.168.230", DSN: "5.0.0", Reply: "Service unavailable", Transport: "esmtp"},
		},
	},
	{
		name: "to= bounce over IPv6",
		line: "Oct 25 12:50:21 localhost sm-mta[6667]: v9PCoLiO006667: to=<unixappdev@gmail.com>, ctladdr=<dmitriano@localhost.localdomain> (1000/1000), delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30364, relay=gmail-smtp-in.l.google.com. [IPv6:2a00:1450:400c:c08:0:0:0:1b], dsn=5.0.0, stat=Service unavailable",
		want: []ev{
			{Kind: ingest.KindBounced, QueueID: "v9PCoLiO006667", Recipient: "unixappdev@gmail.com", LocalUser: "dmitriano", RelayHost: "gmail-smtp-in.l.google.com", RelayIP: "2a00:1450:400c:c08:0:0:0:1b", DSN: "5.0.0", Reply: "Service unavailable", Transport: "esmtp"},
		},
	},
	{
		name: "to= local mailer bounce",
		line: "Oct 25 13:43:06 localhost sm-mta[7087]: v9PDh53r007087: to=MAILER-DAEMON, delay=00:00:00, mailer=local, pri=30000, dsn=5.1.1, stat=User unknown",
		want: []ev{
			{Kind: ingest.KindBounced, QueueID: "v9PDh53r007087", Recipient: "MAILER-DAEMON", DSN: "5.1.1", Reply: "User unknown", Transport: "local"},
		},
	},
	{
		name: "to= local delivery, ctladdr without brackets",
		line: "Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: to=root@localhost.localdomain, ctladdr=root@localhost.localdomain (0/0), delay=00:00:00, xdelay=00:00:00, mailer=local, pri=245938, dsn=2.0.0, stat=Sent",
		want: []ev{
			{Kind: ingest.KindDelivered, QueueID: "u31FFPtp032300", Recipient: "root@localhost.localdomain", LocalUser: "root", DSN: "2.0.0", Reply: "Sent", Transport: "local"},
		},
	},
	{
		name: "to= three recipients, remote Sendmail queue id is a next hop",
		line: "Nov 13 14:52:10 a.mail.sonic.net sm-mta[16961]: qADMh0cd016570: to=<augie@corp.sonic.net>,<augie@sonic.net>,<augie@schwer.us>, delay=00:09:09, xdelay=00:00:09, mailer=esmtp, pri=4437228, relay=ign-com.mail.eo.outlook.com. [216.32.180.22], dsn=2.0.0, stat=Sent (<00b601cdc1f0$4d506a80$e7f13f80$@com> [InternalId=14475985] Queued mail for delivery)",
		want: []ev{
			{Kind: ingest.KindDelivered, QueueID: "qADMh0cd016570", Recipient: "augie@corp.sonic.net", RelayHost: "ign-com.mail.eo.outlook.com", RelayIP: "216.32.180.22", DSN: "2.0.0", Reply: "Sent (<00b601cdc1f0$4d506a80$e7f13f80$@com> [InternalId=14475985] Queued mail for delivery)", Transport: "esmtp"},
			{Kind: ingest.KindDelivered, QueueID: "qADMh0cd016570", Recipient: "augie@sonic.net", RelayHost: "ign-com.mail.eo.outlook.com", RelayIP: "216.32.180.22", DSN: "2.0.0", Reply: "Sent (<00b601cdc1f0$4d506a80$e7f13f80$@com> [InternalId=14475985] Queued mail for delivery)", Transport: "esmtp"},
			{Kind: ingest.KindDelivered, QueueID: "qADMh0cd016570", Recipient: "augie@schwer.us", RelayHost: "ign-com.mail.eo.outlook.com", RelayIP: "216.32.180.22", DSN: "2.0.0", Reply: "Sent (<00b601cdc1f0$4d506a80$e7f13f80$@com> [InternalId=14475985] Queued mail for delivery)", Transport: "esmtp"},
		},
	},
	{
		name: "to= relay to a remote Sendmail",
		line: "Nov  7 13:52:47 b.mx.sonic.net sm-mta[29846]: qA7LqlqC029841: to=<augie@corp.sonic.net>, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=121391, relay=lds.sonic.net. [69.12.221.231], dsn=2.0.0, stat=Sent (qA7Lqlbm023338 Message accepted for delivery)",
		want: []ev{
			{Kind: ingest.KindDelivered, QueueID: "qA7LqlqC029841", NextQueueID: "qA7Lqlbm023338", Recipient: "augie@corp.sonic.net", RelayHost: "lds.sonic.net", RelayIP: "69.12.221.231", DSN: "2.0.0", Reply: "Sent (qA7Lqlbm023338 Message accepted for delivery)", Transport: "esmtp"},
		},
	},
	{
		name: "to= old Sendmail without dsn, long recipient list split with [more] (constructed)",
		line: "Dec 20 03:12:54 bellicha sendmail[15866]: fBKBCn615864: to=<a@example.com>,<b@example.com>, [more], delay=00:00:05, xdelay=00:00:05, mailer=esmtp, pri=52124, relay=smtp.example.net [192.0.2.9], stat=Host unknown",
		want: []ev{
			{Kind: ingest.KindBounced, QueueID: "fBKBCn615864", Recipient: "a@example.com", RelayHost: "smtp.example.net", RelayIP: "192.0.2.9", Reply: "Host unknown", Transport: "esmtp"},
			{Kind: ingest.KindBounced, QueueID: "fBKBCn615864", Recipient: "b@example.com", RelayHost: "smtp.example.net", RelayIP: "192.0.2.9", Reply: "Host unknown", Transport: "esmtp"},
		},
	},
	{
		name: "to= queue lifetime exceeded (constructed)",
		line: "Oct 24 04:18:57 host sm-mta[4499]: g9J7o0Ds022688: to=<user@example.org>, delay=5+01:28:57, xdelay=00:00:00, mailer=esmtp, pri=8490691, relay=mx.example.org., dsn=4.4.7, stat=Cannot send message for 5 days",
		want: []ev{
			{Kind: ingest.KindExpired, QueueID: "g9J7o0Ds022688", Recipient: "user@example.org", RelayHost: "mx.example.org", DSN: "4.4.7", Reply: "Cannot send message for 5 days", Transport: "esmtp"},
		},
	},
	{
		name: "to= echo of a rejection (no mailer) counts nothing",
		line: "Nov 12 16:12:42 b.mail.sonic.net sm-mta[13756]: qAD0Cg5c013756: to=<augie@corp.sonic.net>, delay=00:00:00, pri=30747, stat=Mail Rejected: high volume mailings not allowed. Contact support@sonic.net for more information.",
	},
	{
		name: "to= queued counts nothing (constructed)",
		line: "Oct 25 12:50:21 localhost sendmail[6666]: v9PCoLxI006666: to=<a@example.com>, ctladdr=dmitriano (1000/1000), delay=00:00:00, mailer=relay, pri=30127, stat=queued",
	},
	{
		name: "AUTH=server with host",
		line: "Dec  6 11:43:12 b.mail.sonic.net sm-mta[29813]: AUTH=server, relay=127.0.0.1.dsl.dynamic.sonic.net [127.0.0.1], authid=augie, mech=PLAIN, bits=0",
		want: []ev{{Kind: ingest.KindAuth, AuthUser: "augie", ClientHost: "127.0.0.1.dsl.dynamic.sonic.net", ClientIP: "127.0.0.1"}},
	},
	{
		name: "AUTH=server literal",
		line: "Dec  6 12:02:33 a.mail.sonic.net sm-mta[19515]: AUTH=server, relay=[67.59.198.131], authid=augie, mech=PLAIN, bits=0",
		want: []ev{{Kind: ingest.KindAuth, AuthUser: "augie", ClientIP: "67.59.198.131"}},
	},
	{
		name: "AUTH=server may be forged, user@domain",
		line: "Dec  6 14:06:32 a.mail.sonic.net sm-mta[9738]: AUTH=server, relay=173-228-127-4.dsl.dynamic.sonic.net [173.228.127.4] (may be forged), authid=augie@sonic.net, mech=LOGIN, bits=0",
		want: []ev{{Kind: ingest.KindAuth, AuthUser: "augie@sonic.net", ClientHost: "173-228-127-4.dsl.dynamic.sonic.net", ClientIP: "173.228.127.4"}},
	},
	{
		name: "AUTH=server with queue id (constructed)",
		line: "Jun  4 11:41:12 hostname sm-mta[47019]: 56CF8Qni047019: AUTH=server, relay=[IPv6:2001:db8::bbbb], authid=whatever, mech=LOGIN, bits=0",
		want: []ev{{Kind: ingest.KindAuth, QueueID: "56CF8Qni047019", AuthUser: "whatever", ClientIP: "2001:db8::bbbb"}},
	},
	{
		name: "ruleset check_rcpt relaying denied",
		line: "Feb 25 03:01:10 kismet sm-acceptingconnections[27713]: s1P819mk027713: ruleset=check_rcpt, arg1=<asservnew@freemailhost.ru>, relay=128-68-136-133.broadband.corbina.ru [128.68.136.133], reject=550 5.7.1 <asservnew@freemailhost.ru>... Relaying denied. Proper authentication required.",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "s1P819mk027713", Recipient: "asservnew@freemailhost.ru", ClientHost: "128-68-136-133.broadband.corbina.ru", ClientIP: "128.68.136.133", DSN: "5.7.1", Reply: "550 5.7.1 <asservnew@freemailhost.ru>... Relaying denied. Proper authentication required."}},
	},
	{
		name: "ruleset check_rcpt may be forged",
		line: "Feb 23 21:36:14 petermurray sm-mta[22248]: s1NLaDQT022248: ruleset=check_rcpt, arg1=<dautareuk2@hotmail.it>, relay=int0.client.access.azadnet.net [80.253.155.119] (may be forged), reject=550 5.7.1 <dautareuk2@hotmail.it>... Relaying denied. IP name possibly forged [80.253.155.119]",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "s1NLaDQT022248", Recipient: "dautareuk2@hotmail.it", ClientHost: "int0.client.access.azadnet.net", ClientIP: "80.253.155.119", DSN: "5.7.1", Reply: "550 5.7.1 <dautareuk2@hotmail.it>... Relaying denied. IP name possibly forged [80.253.155.119]"}},
	},
	{
		name: "ruleset check_mail",
		line: "Jul 11 11:50:02 chaosophia sm-mta[70721]: s6B8n6u6070721: ruleset=check_mail, arg1=<noreply@ekbar.biz>, relay=ekb1.ekbar.biz [198.49.76.107] (may be forged), reject=451 4.1.8 Domain of sender address noreply@ekbar.biz does not resolve",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "s6B8n6u6070721", Sender: "noreply@ekbar.biz", ClientHost: "ekb1.ekbar.biz", ClientIP: "198.49.76.107", DSN: "4.1.8", Reply: "451 4.1.8 Domain of sender address noreply@ekbar.biz does not resolve"}},
	},
	{
		name: "ruleset check_relay without queue id",
		line: "Feb 24 01:46:44 petermurray sm-mta[24422]: ruleset=check_relay, arg1=leased-line-54-82.telecom.by, arg2=217.21.54.82, relay=leased-line-54-82.telecom.by [217.21.54.82], reject=421 4.3.2 Connection rate limit exceeded.",
		want: []ev{{Kind: ingest.KindRejected, ClientHost: "leased-line-54-82.telecom.by", ClientIP: "217.21.54.82", DSN: "4.3.2", Reply: "421 4.3.2 Connection rate limit exceeded."}},
	},
	{
		name: "ruleset tls_server judges the remote server: nothing to count",
		line: "Dec  4 10:24:32 c.spam.sonic.net sendmail[32283]: ruleset=tls_server, arg1=SOFTWARE, relay=goransoncpa-com.mail.eo.outlook.com, reject=403 4.7.0 TLS handshake failed.",
	},
	{
		name: "ruleset discard (constructed)",
		line: "Feb 24 01:46:44 petermurray sm-mta[24422]: s1NLaDQT022249: ruleset=check_mail, arg1=<spam@example.com>, relay=[192.0.2.7], discard",
		want: []ev{{Kind: ingest.KindDiscarded, QueueID: "s1NLaDQT022249", Sender: "spam@example.com", ClientIP: "192.0.2.7"}},
	},
	{
		name: "Milter data reject",
		line: "Sep  7 02:43:30 mail sm-mta[63495]: k876hJS0063495: Milter: data, reject=550 5.7.1 Blocked by SpamAssassin",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "k876hJS0063495", DSN: "5.7.1", Reply: "550 5.7.1 Blocked by SpamAssassin"}},
	},
	{
		name: "Milter data reject without enhanced code",
		line: "Jan 10 18:00:34 smtp sendmail[5759]: i04Axx2c005759: Milter: data, reject=511 Virus found in email!",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "i04Axx2c005759", Reply: "511 Virus found in email!"}},
	},
	{
		name: "Milter rcpt reject (constructed)",
		line: "Sep  7 02:43:30 mail sm-mta[63495]: k876hJS0063495: Milter: to=<victim@example.com>, reject=550 5.7.1 Command rejected",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "k876hJS0063495", Recipient: "victim@example.com", DSN: "5.7.1", Reply: "550 5.7.1 Command rejected"}},
	},
	{
		name: "Milter connect reject (constructed)",
		line: "Sep  7 02:43:30 mail sm-mta[63495]: k876hJS0063495: Milter: connect: host=bad.example.net, addr=192.0.2.66, reject=554 5.7.1 Go away",
		want: []ev{{Kind: ingest.KindRejected, QueueID: "k876hJS0063495", ClientHost: "bad.example.net", ClientIP: "192.0.2.66", DSN: "5.7.1", Reply: "554 5.7.1 Go away"}},
	},
	{
		name: "Milter data discard",
		line: "Sep 10 08:23:11 mailhost sm-mta[12345]: q2G1H0Wc002825: Milter: data, discard",
		want: []ev{{Kind: ingest.KindDiscarded, QueueID: "q2G1H0Wc002825"}},
	},
	{
		name: "done",
		line: "Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: done; delay=00:00:00, ntries=2",
		want: []ev{{Kind: ingest.KindRemoved, QueueID: "u31FFPtp032300"}},
	},
}

var ignoredLines = []string{
	"Apr  2 00:15:25 mta001 sendmail[32300]: u31FFPtp032300: Milter: no active filter",
	"Nov  7 13:52:47 b.mx.sonic.net sm-mta[29841]: qA7LqlqC029841: Milter add: header: X-Sonic-SB-IP-RBLs: IP RBLs sorbs-spam.",
	"Apr  2 00:15:25 mta001 sendmail[32302]: u31FFPtp032300: SMTP outgoing connect on [192.168.198.81]",
	"Oct 25 12:50:21 localhost sm-mta[6667]: v9PCoLiO006667: v9PCoLiP006667: DSN: Service unavailable",
	"Oct 25 13:43:06 localhost sm-mta[7087]: v9PDh53r007087: v9PDh53s007087: return to sender: User unknown",
	"Oct 24 04:18:57 host sm-mta[4499]: g9J7o0Ds022688: g9N5EwE5004499: postmaster notify: User unknown",
	"Oct 25 13:43:06 localhost sm-mta[7087]: v9PDh53r007087: Saved message in /var/lib/sendmail/dead.letter",
	"Oct 24 04:18:57 host sm-mta[4499]: g9N5EwE3004499: Losing q5/qfg9N5EwE3004499: savemail panic",
	"Oct 24 04:18:57 host sm-mta[4499]: g9N5EwE3004499: SYSERR(root): savemail: cannot save rejected email anywhere",
	"Oct 25 13:43:05 localhost sendmail[7086]: v9PDh5oH007086: Authentication-Warning: localhost.localdomain: dmitriano set sender to unixappdev@gmail.com using -f",
	"Oct 25 12:50:21 localhost sm-mta[6667]: STARTTLS=client, relay=gmail-smtp-in.l.google.com., version=TLSv1.2, verify=FAIL, cipher=ECDHE-RSA-AES128-GCM-SHA256, bits=128/128",
	"Dec  6 11:56:09 b.mail.sonic.net sm-mta[10180]: STARTTLS=server, relay=173-8-135-25-SFBA.hfc.comcastbusiness.net [173.8.135.25], version=TLSv1/SSLv3, verify=NO, cipher=AES128-SHA, bits=128/128",
	"Nov 30 14:46:00 d.spam.sonic.net sendmail[12906]: STARTTLS: write error=syscall error (-1), errno=104, get_error=error:00000000:lib(0):func(0):reason(0), retry=99, ssl_err=5",
	"Feb 16 23:33:20 smtp1 sm-mta[5133]: s1GNXHYB005133: [190.5.230.178]: possible SMTP attack: command=AUTH, count=5",
	"Feb 24 13:00:17 kismet sm-acceptingconnections[1499]: s1OHxxSn001499: 192.241.70.95.dsl.static.turk.net [95.70.241.192] (may be forged): possible SMTP attack: command=AUTH, count=6",
	"Feb 25 04:02:27 relay1 sendmail[16664]: 06I02CNi016764: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=user@example.com, relay=example.com [192.0.2.3] (may be forged)",
	"Mar  6 16:55:28 s192-168-0-1 sm-mta[20949]: v26LtRA0020949: some-host-24.example.org [192.0.2.194] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
	"Jul 31 13:03:43 alarmpi sm-mta[24291]: 56VFYCxS024291: lost input channel from mail.aqicn.org [139.162.120.196] to MTA-v4 after rcpt",
	"Feb 27 10:53:06 batman sm-mta[44307]: s1R9r60D044307: rejecting commands from  [209.15.212.253] due to pre-greeting traffic after 0 seconds",
	"Feb 23 21:18:47 batman sm-mta[93301]: s1NKIkZa093301: [76.72.174.70]: EXPN root [rejected]",
	"Feb 22 14:02:44 batman sm-mta[4030]: s1MD2hsd004030: rrcs-24-73-201-194.se.biz.rr.com [24.73.201.194]: VRFY root [rejected]",
	"Nov  3 11:35:30 Microsoft sendmail[26254]: rA37ZTSC026250: <arhipov@domain.com>... No such user here",
	"Jun 17 14:37:39 robin sm-mta[2794]: 55HIbcGI002794: <baduser@yourhost.com>... User unknown",
}

func TestParse(t *testing.T) {
	var p Parser
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			rec := record(t, tt.line)
			got, err := p.Parse(nil, rec)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := make([]ingest.Event, len(tt.want))
			for i, w := range tt.want {
				w.Time, w.Host, w.Program, w.PID = rec.Time, rec.Host, rec.Program, rec.PID
				w.Source = ingest.SourceSendmail
				want[i] = w
			}
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("line %q\n got %d events:", tt.line, len(got))
				for _, e := range got {
					t.Errorf("  %+v", e)
				}
				t.Errorf(" want %d events:", len(want))
				for _, e := range want {
					t.Errorf("  %+v", e)
				}
			}
		})
	}
}

func TestParseKeepsHeaderFacts(t *testing.T) {
	rec := record(t, "Dec  6 12:02:33 a.mail.sonic.net sm-mta[19515]: AUTH=server, relay=[67.59.198.131], authid=augie, mech=PLAIN, bits=0")
	got, err := New().Parse(nil, rec)
	if err != nil || len(got) != 1 {
		t.Fatalf("Parse = %v, %v", got, err)
	}
	e := got[0]
	if e.Host != "a.mail.sonic.net" || e.Program != "sm-mta" || e.PID != 19515 || e.Source != ingest.SourceSendmail {
		t.Errorf("header facts: host %q program %q pid %d source %v", e.Host, e.Program, e.PID, e.Source)
	}
	if want := time.Date(2017, 12, 6, 12, 2, 33, 0, time.UTC); !e.Time.Equal(want) {
		t.Errorf("time %v, want %v", e.Time, want)
	}
}

func TestParseAppends(t *testing.T) {
	var p Parser
	dst := []ingest.Event{{Kind: ingest.KindScored}}
	dst, err := p.Parse(dst, record(t, parseTests[0].line))
	if err != nil {
		t.Fatal(err)
	}
	if len(dst) != 3 || dst[0].Kind != ingest.KindScored || dst[1].Kind != ingest.KindReceived || dst[2].Kind != ingest.KindQueued {
		t.Errorf("Parse did not append after existing events: %+v", dst)
	}
}

func TestIgnored(t *testing.T) {
	var p Parser
	for _, line := range ignoredLines {
		got, err := p.Parse(nil, record(t, line))
		if err != nil || len(got) != 0 {
			t.Errorf("%q: got %d events, err %v; want ignored", line, len(got), err)
		}
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct{ msg, wantInErr string }{
		{"", "empty"},
		{"u31FFPtp032300: frobnicated the flux capacitor", "unrecognised"},
		{"something entirely different", "unrecognised"},
		{"from=<a@example.com>, size=1, class=0, nrcpts=1", "without a queue id"},
		{"u31FFPtp032300: from=<a@example.com>, size=big, class=0, nrcpts=1, relay=[192.0.2.1]", "size=big"},
		{"u31FFPtp032300: from=<a@example.com>, size=10, class=0, nrcpts=-1, relay=[192.0.2.1]", "nrcpts=-1"},
		{"u31FFPtp032300: from=<a@example.com>, class=0, relay=[192.0.2.1]", "without size="},
		{"u31FFPtp032300: to=<a@example.com>, delay=00:00:00, mailer=esmtp, pri=1, relay=[192.0.2.1]", "without stat="},
		{"u31FFPtp032300: to=, delay=00:00:00, mailer=esmtp, pri=1, dsn=2.0.0, stat=Sent", "without a recipient"},
		{"to=<a@example.com>, delay=00:00:00, stat=Sent", "without a queue id"},
		{"AUTH=server, relay=[192.0.2.1], mech=PLAIN, bits=0", "without authid="},
		{"u31FFPtp032300: ruleset=check_rcpt, arg1=<a@example.com>, relay=[192.0.2.1]", "without reject="},
		{"u31FFPtp032300: from=<a@example.com>, size=10, !!!", "bad size=10, !!!"},
		{"u31FFPtp032300: ruleset=, arg1=<a@example.com>, reject=550 5.7.1 no", "without a ruleset name"},
	}
	var p Parser
	for _, tt := range tests {
		rec := &ingest.Record{Host: "h", Program: "sm-mta", Msg: tt.msg, Line: tt.msg}
		got, err := p.Parse(nil, rec)
		if !errors.Is(err, ingest.ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", tt.msg, err)
			continue
		}
		if len(got) != 0 {
			t.Errorf("%q: %d events with an error", tt.msg, len(got))
		}
		if !strings.Contains(err.Error(), tt.wantInErr) {
			t.Errorf("%q: error %q does not mention %q", tt.msg, err, tt.wantInErr)
		}
	}
}

func TestOwns(t *testing.T) {
	for prog, want := range map[string]bool{
		"sendmail":                true,
		"sm-mta":                  true,
		"sm-msp-queue":            true,
		"sm-acceptingconnections": true,
		"sm-mta-out2":             true,
		"sendmail-out":            true,
		"sendmail[123]":           true,
		"sm-":                     false,
		"sendmail-":               false,
		"postfix/smtp":            false,
		"exim":                    false,
		"smtpd":                   false,
		"":                        false,
	} {
		if got := Owns(prog); got != want {
			t.Errorf("Owns(%q) = %v, want %v", prog, got, want)
		}
	}
}

func TestHelpers(t *testing.T) {
	for in, want := range map[string][2]string{
		"host.example. [192.0.2.1] (may be forged)": {"host.example", "192.0.2.1"},
		"[192.0.2.1]":             {"", "192.0.2.1"},
		"[192.0.2.1] [192.0.2.1]": {"", "192.0.2.1"},
		"h [IPv6:2001:db8::1]":    {"h", "2001:db8::1"},
		"mx.example.org.":         {"mx.example.org", ""},
		"user@localhost":          {"user@localhost", ""},
		"":                        {"", ""},
	} {
		h, ip := splitRelay(in)
		if h != want[0] || ip != want[1] {
			t.Errorf("splitRelay(%q) = %q, %q; want %q, %q", in, h, ip, want[0], want[1])
		}
	}
	for in, want := range map[string]string{
		"<www-data@leo-laptop.home> (33/33)": "www-data",
		"root (0/0)":                         "root",
		"root@localhost.localdomain":         "root",
		"<a@b>":                              "a",
	} {
		if got := localPart(in); got != want {
			t.Errorf("localPart(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"550 5.7.1 <a>... Relaying denied": "5.7.1",
		"421-4.7.28 slow down":             "4.7.28",
		"511 Virus found":                  "",
		"550 5.7.1":                        "5.7.1",
		"55":                               "",
		"550 9.9.9 no":                     "",
		"550 5..1 no":                      "",
	} {
		if got := replyDSN(in); got != want {
			t.Errorf("replyDSN(%q) = %q, want %q", in, got, want)
		}
	}
	var got []string
	for s := `"Doe, John" <j@example.com>,<b@example.com>,c@example.com,`; s != ""; {
		var r string
		r, s = nextRecipient(s)
		got = append(got, r)
	}
	if want := []string{"j@example.com", "b@example.com", "c@example.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nextRecipient split = %q, want %q", got, want)
	}
}
