package exim

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

var testTime = time.Date(2020, 6, 19, 4, 51, 49, 0, time.UTC)

func rec(msg string, pid int) *ingest.Record {
	return &ingest.Record{Time: testTime, Host: "mx1", Program: "exim", PID: pid, Msg: msg, Line: msg}
}

// base returns the header facts every event of rec(…, pid) carries.
func base(kind ingest.Kind, qid string, pid int) ingest.Event {
	return ingest.Event{Time: testTime, Host: "mx1", Program: "exim", PID: pid,
		Source: ingest.SourceExim, Kind: kind, QueueID: qid}
}

func with(ev ingest.Event, f func(*ingest.Event)) ingest.Event {
	f(&ev)
	return ev
}

func TestParse(t *testing.T) {
	arrival := func(e *ingest.Event) {
		e.Sender = "aaron@domain.com"
		e.ClientHost = "localhost"
		e.ClientIP = "127.0.0.1"
		e.AuthUser = "aaron@domain.com"
		e.Size = 4315
		e.MessageID = "d2b648f00f1a1b0813c483d552778dc6@domain.com"
		e.Nrcpt = 1
	}
	const qid = "1gsu1C-003dCu-Hb"
	tests := []struct {
		name string
		msg  string
		pid  int
		want []ingest.Event
	}{
		{
			name: "arrival with auth, quoted subject and recipients (logstash spec)",
			msg:  `1gsu1C-003dCu-Hb <= aaron@domain.com H=localhost (10.5.40.204) [127.0.0.1]:39753 I=[127.0.0.1]:25 P=esmtpa A=dovecot_plain:aaron@domain.com S=4315 M8S=0 id=d2b648f00f1a1b0813c483d552778dc6@domain.com T="what's up?!? ;-)" from <aaron@domain.com> for aaron+forward@domain.com`,
			pid:  28107,
			want: []ingest.Event{
				with(base(ingest.KindReceived, qid, 28107), arrival),
				with(base(ingest.KindQueued, qid, 28107), arrival),
			},
		},
		{
			name: "local arrival with escaped quotes in subject",
			msg:  `1j1Z2g-00Faoy-Uh <= example@strawberry.active-ns.com U=example P=local T="[Examples Galore] Please moderate: \"Hello world!\"" for admin@example.net`,
			want: func() []ingest.Event {
				f := func(e *ingest.Event) {
					e.Sender = "example@strawberry.active-ns.com"
					e.LocalUser = "example"
					e.Nrcpt = 1
				}
				return []ingest.Event{with(base(ingest.KindReceived, "1j1Z2g-00Faoy-Uh", 0), f), with(base(ingest.KindQueued, "1j1Z2g-00Faoy-Uh", 0), f)}
			}(),
		},
		{
			name: "bounce arrival, 4.97 id, authenticator without id",
			msg:  `1r6Bwm-000000002h3-2n4V <= <> R=1jmFYj-00039V-QX U=Debian-exim P=local A=fixed_plain S=8656`,
			want: func() []ingest.Event {
				f := func(e *ingest.Event) { e.LocalUser = "Debian-exim"; e.Size = 8656 }
				return []ingest.Event{with(base(ingest.KindReceived, "1r6Bwm-000000002h3-2n4V", 0), f), with(base(ingest.KindQueued, "1r6Bwm-000000002h3-2n4V", 0), f)}
			}(),
		},
		{
			name: "delivery with TLS DN and confirmation",
			msg:  `1jmH1t-0000dO-Un => harry@bar.corp R=dnslookup T=remote_smtp H=mail.bar.corp [7.7.7.7]:25 I=[192.0.2.10]:41234 X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=yes DN="C=US,ST=Notia,L=Nowhere,O=Bar Corp,CN=mail.bar.corp" C="250 2.6.0 <E1jmH1t-0000dO-Un@smtp.test.corp> Queued mail for delivery"`,
			want: []ingest.Event{with(base(ingest.KindDelivered, "1jmH1t-0000dO-Un", 0), func(e *ingest.Event) {
				e.Recipient = "harry@bar.corp"
				e.Transport = "remote_smtp"
				e.RelayHost = "mail.bar.corp"
				e.RelayIP = "7.7.7.7"
				e.OutboundIP = "192.0.2.10"
				e.Reply = "250 2.6.0 <E1jmH1t-0000dO-Un@smtp.test.corp> Queued mail for delivery"
				e.DSN = "2.6.0"
			})},
		},
		{
			name: "extra address same delivery",
			msg:  `1jmXgg-000AIC-89 -> sally@dummy.corp R=dnslookup T=remote_smtp_smarthost H=smarthost.test.corp [5.5.5.5] C="250 Received OK"`,
			want: []ingest.Event{with(base(ingest.KindDelivered, "1jmXgg-000AIC-89", 0), func(e *ingest.Event) {
				e.Recipient = "sally@dummy.corp"
				e.Transport = "remote_smtp_smarthost"
				e.RelayHost = "smarthost.test.corp"
				e.RelayIP = "5.5.5.5"
				e.Reply = "250 Received OK"
			})},
		},
		{
			name: "local delivery reports the original address",
			msg:  `10HmaZ-000000005vi-0000 => userx <userx@test.ex> R=r1 T=t1 QT=q.qqqs DT=q.qqqs`,
			want: []ingest.Event{with(base(ingest.KindDelivered, "10HmaZ-000000005vi-0000", 0), func(e *ingest.Event) {
				e.Recipient = "userx@test.ex"
				e.Transport = "t1"
			})},
		},
		{name: "suppressed delivery", msg: `1jmXgg-000AIC-89 *> x@y.example R=r T=t`},
		{
			name: "bounce with DN and SMTP error",
			msg:  `1jmKso-0009d4-Uf ** molly@zee.corp R=dnslookup T=remote_smtp H=mail.zee.corp [3.3.3.3] X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=yes DN="C=US,ST=Fake,L=Lost,O=Zee Corp,CN=mail.zee.corp": SMTP error from remote mail server after end of data: 554 5.2.0 mKr3jsd25ZIfXmKr4jFD2w Recipient Mailbox Full [504]`,
			pid:  789,
			want: []ingest.Event{with(base(ingest.KindBounced, "1jmKso-0009d4-Uf", 789), func(e *ingest.Event) {
				e.Recipient = "molly@zee.corp"
				e.Transport = "remote_smtp"
				e.RelayHost = "mail.zee.corp"
				e.RelayIP = "3.3.3.3"
				e.Reply = "SMTP error from remote mail server after end of data: 554 5.2.0 mKr3jsd25ZIfXmKr4jFD2w Recipient Mailbox Full [504]"
				e.DSN = "5.2.0"
			})},
		},
		{
			name: "bounce, recipient ends with colon",
			msg:  `1jmFYj-00039V-QX ** bob@null.corp: retry timeout exceeded`,
			want: []ingest.Event{with(base(ingest.KindBounced, "1jmFYj-00039V-QX", 0), func(e *ingest.Event) {
				e.Recipient = "bob@null.corp"
				e.Reply = "retry timeout exceeded"
			})},
		},
		{
			name: "bounce with lone colon after fields",
			msg:  `10HmaX-000000005vi-0000 ** f1@test.ex R=to_server T=remote_smtp H=127.0.0.1 [127.0.0.1] X=TLS1.x:ke-RSA-AES256-SHAnnn:xxx CV=yes : SMTP error from remote mail server after RCPT TO:<f1@test.ex>: 550 we really do not like you`,
			want: []ingest.Event{with(base(ingest.KindBounced, "10HmaX-000000005vi-0000", 0), func(e *ingest.Event) {
				e.Recipient = "f1@test.ex"
				e.Transport = "remote_smtp"
				e.RelayHost = "127.0.0.1"
				e.RelayIP = "127.0.0.1"
				e.Reply = "SMTP error from remote mail server after RCPT TO:<f1@test.ex>: 550 we really do not like you"
			})},
		},
		{
			name: "deferral with defer code and broken host bracket",
			msg:  `1raAV4-009jr4-9x == jack@test.corp R=dnslookup T=remote_smtp defer (-44) H=(relay.test.corp) [4.4.4.4: SMTP error from remote mail server after RCPT TO:<jack@test.corp>: 450 4.7.1 <jack@test.corp>: Recipient address rejected: Recipient not available`,
			want: []ingest.Event{with(base(ingest.KindDeferred, "1raAV4-009jr4-9x", 0), func(e *ingest.Event) {
				e.Recipient = "jack@test.corp"
				e.Transport = "remote_smtp"
				e.RelayIP = "4.4.4.4"
				e.Reply = "SMTP error from remote mail server after RCPT TO:<jack@test.corp>: 450 4.7.1 <jack@test.corp>: Recipient address rejected: Recipient not available"
				e.DSN = "4.7.1"
			})},
		},
		{
			name: "deferral with defer code then colon",
			msg:  `1jmFYj-00039V-QX == bob@null.corp R=dnslookup T=remote_smtp defer (110): Connection timed out`,
			want: []ingest.Event{with(base(ingest.KindDeferred, "1jmFYj-00039V-QX", 0), func(e *ingest.Event) {
				e.Recipient = "bob@null.corp"
				e.Transport = "remote_smtp"
				e.Reply = "Connection timed out"
			})},
		},
		{name: "completed", msg: `1jmH1s-000AVD-5t Completed QT=1s`, want: []ingest.Event{base(ingest.KindRemoved, "1jmH1s-000AVD-5t", 0)}},
		{name: "frozen", msg: `10HmaY-000000005vi-0000 Frozen (delivery error message)`, want: []ingest.Event{base(ingest.KindHeld, "10HmaY-000000005vi-0000", 0)}},
		{name: "message is frozen", msg: `10HmaY-000000005vi-0000 Message is frozen`},
		{name: "unfrozen", msg: `10HmaY-000000005vi-0000 Unfrozen by forced delivery`},
		{name: "removed by", msg: `10HmaY-000000005vi-0000 removed by root`},
		{name: "host error before deferral", msg: `1jmFYj-00039V-QX H=null.corp [6.6.6.6] Connection timed out`},
		{name: "SMTP error preceding line", msg: `1jmFYj-00039V-QX SMTP error from remote mail server after RCPT TO:<a@b>: 451 try later`},
		{name: "error ignored", msg: `10HmaZ-000000005vi-0000 userz@domain.com: error ignored`},
		{name: "sender verify fail", msg: `H=tata.test.biz [1.2.3.4]:41584 sender verify fail for <toto@test.biz>: The mail server does not recognize toto@test.biz as a valid sender.`},
		{name: "authenticator failed", msg: `dovecot_login authenticator failed for ([1.2.3.5]) [1.2.3.4]:55379: 535 Incorrect authentication data (set_id=info@test.com)`},
		{name: "syslog-wrapped line with inner pid", msg: `[8003] SMTP protocol error in "AUTH LOGIN" H=(User) [192.0.2.29]:4816 I=[192.0.2.1]:25 Ci=8003 LOGIN authentication mechanism not supported`},
		{
			name: "rejected RCPT with TLS fields and quoted reply",
			msg:  `H=test.com [1.2.3.4]:53343 X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=no A=dovecot_login:u@test.com F=<info@test.com> rejected RCPT <toto@toto.com>: "JunkMail rejected - test.com [1.2.3.4]:53343 is in an RBL: https://www.spamhaus.org/sbl/query/SBLCSS"`,
			want: []ingest.Event{with(base(ingest.KindRejected, "", 0), func(e *ingest.Event) {
				e.ClientHost = "test.com"
				e.ClientIP = "1.2.3.4"
				e.AuthUser = "u@test.com"
				e.Sender = "info@test.com"
				e.Recipient = "toto@toto.com"
				e.Reply = "JunkMail rejected - test.com [1.2.3.4]:53343 is in an RBL: https://www.spamhaus.org/sbl/query/SBLCSS"
			})},
		},
		{
			name: "rejected after DATA with message id",
			msg:  `1Unmew-0000ea-SE H=egeftech.static.otenet.gr [83.235.177.148]:32706 I=[1.2.3.4]:25 F=auguriesvbd40@google.com rejected after DATA: This message contains a virus (Sanesecurity.Junk.39934.UNOFFICIAL).`,
			pid:  2516,
			want: []ingest.Event{with(base(ingest.KindRejected, "1Unmew-0000ea-SE", 2516), func(e *ingest.Event) {
				e.ClientHost = "egeftech.static.otenet.gr"
				e.ClientIP = "83.235.177.148"
				e.Sender = "auguriesvbd40@google.com"
				e.Reply = "This message contains a virus (Sanesecurity.Junk.39934.UNOFFICIAL)."
			})},
		},
		{
			name: "rejected by non-SMTP ACL",
			msg:  `10HmaY-000000005vi-0000 F=<userx@test1> rejected by non-SMTP ACL: don't like sender userx@test1`,
			want: []ingest.Event{with(base(ingest.KindRejected, "10HmaY-000000005vi-0000", 0), func(e *ingest.Event) {
				e.Sender = "userx@test1"
				e.Reply = "don't like sender userx@test1"
			})},
		},
		{
			name: "temporarily rejected connection",
			msg:  `H=test.sa.com [1.2.3.4]:18146 temporarily rejected connection in "connect" ACL: "Host is ratelimited (1.9/1h max:1.2)"`,
			want: []ingest.Event{with(base(ingest.KindRejected, "", 0), func(e *ingest.Event) {
				e.ClientHost = "test.sa.com"
				e.ClientIP = "1.2.3.4"
				e.Reply = "Host is ratelimited (1.9/1h max:1.2)"
			})},
		},
		{
			name: "rejected EHLO",
			msg:  `H=(x.y.z) [10.9.8.10] U=CALLER rejected EHLO or HELO x.y.z`,
			want: []ingest.Event{with(base(ingest.KindRejected, "", 0), func(e *ingest.Event) {
				e.ClientIP = "10.9.8.10"
				// U= after H= is the remote host's ident answer, not a local user.
				e.Reply = "EHLO or HELO x.y.z"
			})},
		},
		{
			name: "rejected from sender, CHUNKING",
			msg:  `rejected from <someone@some.domain> H=(tester) [127.0.0.1]: Non-CRLF-terminated header, under CHUNKING: message abandoned`,
			want: []ingest.Event{with(base(ingest.KindRejected, "", 0), func(e *ingest.Event) {
				e.Sender = "someone@some.domain"
				e.ClientIP = "127.0.0.1"
				e.Reply = "Non-CRLF-terminated header, under CHUNKING: message abandoned"
			})},
		},
		{
			name: "cPanel outbound scanner reject",
			msg:  `1r6Bwm-000000002h3-2n4V H=(laptop) [203.0.113.7]:52114 I=[198.51.100.2]:587 P=esmtpsa A=dovecot_login:info@shop.example F=<info@shop.example> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (URIBL domains: bad.example) (Spam score: 12.5) (Subject: Cheap, cheap) Spam report: URIBL_BLACK=7.5, HTML_MESSAGE=0.001, RDNS_NONE=1.274, CMAE Analysis: score 0" authenticated_id: info@shop.example account_owner: shopuser`,
			pid:  4242,
			want: []ingest.Event{with(base(ingest.KindFiltered, "1r6Bwm-000000002h3-2n4V", 4242), func(e *ingest.Event) {
				e.Source = ingest.SourceCPanel
				e.ClientIP = "203.0.113.7"
				e.Sender = "info@shop.example"
				e.AuthUser = "info@shop.example"
				e.LocalUser = "shopuser"
				e.Score = 12.5
				e.Spam = true
				e.Rules = []ingest.RuleHit{{Name: "URIBL_BLACK", Score: 7.5}, {Name: "HTML_MESSAGE", Score: 0.001}, {Name: "RDNS_NONE", Score: 1.274}}
				e.Reply = "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (URIBL domains: bad.example) (Spam score: 12.5) (Subject: Cheap, cheap) Spam report: URIBL_BLACK=7.5, HTML_MESSAGE=0.001, RDNS_NONE=1.274, CMAE Analysis: score 0"
			})},
		},
		{
			name: "cPanel outbound scanner NOT spam warning",
			msg:  `1dOyLV-000359-20 H=localhost (server.example) [127.0.0.1]:40312 Warning: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as NOT spam (-1.0)"`,
			want: []ingest.Event{with(base(ingest.KindScored, "1dOyLV-000359-20", 0), func(e *ingest.Event) {
				e.Source = ingest.SourceCPanel
				e.ClientHost = "localhost"
				e.ClientIP = "127.0.0.1"
				e.Score = -1.0
			})},
		},
		{name: "other scanner warning", msg: `1dOyLV-000359-20 H=localhost [127.0.0.1]:40312 Warning: Message has been scanned: no virus or other harmful content was found`},
		{
			name: "cPanel SMTP connection outbound with pid",
			msg:  `1dOyLV-000359-20 SMTP connection outbound 1498361781 1dOyLV-000359-20 domain.com user@externaldomain.com`,
			pid:  13591,
			want: []ingest.Event{with(base(ingest.KindAuth, "1dOyLV-000359-20", 13591), func(e *ingest.Event) {
				e.Source = ingest.SourceCPanel
				e.Recipient = "user@externaldomain.com"
			})},
		},
		{name: "cPanel SMTP connection outbound without pid", msg: `1dOyLV-000359-20 SMTP connection outbound 1498361781 1dOyLV-000359-20 domain.com user@externaldomain.com`},
		{
			name: "cPanel cwd line under /home",
			msg:  `cwd=/home/hotellito/public_html 4 args: /usr/sbin/sendmail -t -i -fwebhostingcosmoteam@gmail.com`,
			pid:  17814,
			want: []ingest.Event{with(base(ingest.KindAuth, "", 17814), func(e *ingest.Event) {
				e.Source = ingest.SourceCPanel
				e.LocalUser = "hotellito"
			})},
		},
		{name: "cwd line outside /home", msg: `cwd=/var/www/alaveteli/alaveteli 7 args: /usr/sbin/sendmail -i -t -f a@b -- c@d`, pid: 17814},
		{name: "cwd line without pid", msg: `cwd=/home2/bob 3 args: /usr/sbin/sendmail -t -i`},
	}
	var p Parser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Parse(nil, rec(tt.msg, tt.pid))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], tt.want[i]) {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	for _, msg := range []string{
		`1jmH1s-000AVD-5t <= `,
		`1jmH1s-000AVD-5t => `,
		`1jmH1s-000AVD-5t something Exim never writes`,
		`1dOyLV-000359-20 SMTP connection outbound soon 1dOyLV-000359-20 domain.com user@x`,
		`cwd=/home/bob`,
		`cwd=/home/bob x args: y`,
		`event msg:complete data ""`,
		`H=a [1.2.3.4] weird token rejected RCPT <a@b>: no`,
		`1r6Bwm-000000002h3-2n4V H=a [1.2.3.4] F=<a@b> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (no score)"`,
	} {
		dst := make([]ingest.Event, 1, 4)
		got, err := (&Parser{}).Parse(dst, rec(msg, 1))
		if !errors.Is(err, ingest.ErrMalformed) {
			t.Errorf("Parse(%q) error = %v, want ErrMalformed", msg, err)
		}
		if len(got) != 1 {
			t.Errorf("Parse(%q) changed dst length to %d on error", msg, len(got))
		}
	}
}

func TestReuseKeepsRules(t *testing.T) {
	var p Parser
	line := `1r6Bwm-000000002h3-2n4V H=[203.0.113.7]:5 F=<a@b> rejected after DATA: "SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (Spam score: 9.1) Spam report: A=1, B=2" authenticated_id: a@b account_owner: u`
	dst, err := p.Parse(nil, rec(line, 0))
	if err != nil || len(dst) != 1 || len(dst[0].Rules) != 2 {
		t.Fatalf("first parse: %v %+v", err, dst)
	}
	dst, err = p.Parse(dst[:0], rec(`1jmH1s-000AVD-5t Completed`, 0))
	if err != nil || len(dst) != 1 || len(dst[0].Rules) != 0 || dst[0].Kind != ingest.KindRemoved {
		t.Fatalf("reused slot kept stale data: %v %+v", err, dst)
	}
}

func TestOwns(t *testing.T) {
	for prog, want := range map[string]bool{
		"exim": true, "exim4": true, "exim[1234]": true, "exim4[9]": true,
		"exim[": false, "eximstats": false, "postfix/smtp": false, "": false, "sm-mta": false,
	} {
		if got := Owns(prog); got != want {
			t.Errorf("Owns(%q) = %v, want %v", prog, got, want)
		}
	}
}

func TestIsMessageID(t *testing.T) {
	for id, want := range map[string]bool{
		"1ajLoq-0001wC-Pk": true, "1r6Bwm-000000002h3-2n4V": true, "10HmaX-000000005vi-0000": true,
		"0tACW1-0005MB-00": true, "1ajLoq-0001wC-P!": false, "1ajLoq_0001wC-Pk": false,
		"1r6Bwm-000000002h3-2n4": false, "": false,
	} {
		if got := IsMessageID(id); got != want {
			t.Errorf("IsMessageID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestStripInnerHeader(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		pid     int
	}{
		{"2021-07-17 23:20:49 plain_server authenticator failed", "plain_server authenticator failed", 0},
		{"2020-06-20 01:32:57.123 +0200 [789] 1jmKso-0009d4-Uf Completed", "1jmKso-0009d4-Uf Completed", 789},
		{"[8003] SMTP protocol error", "SMTP protocol error", 8003},
		{"[abc] x", "[abc] x", 0},
	} {
		out, pid := stripInnerHeader(tc.in)
		if out != tc.out || pid != tc.pid {
			t.Errorf("stripInnerHeader(%q) = %q, %d; want %q, %d", tc.in, out, pid, tc.out, tc.pid)
		}
	}
}
