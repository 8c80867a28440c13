package syslog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

func TestParseHeaders(t *testing.T) {
	utc := time.UTC
	ref := time.Date(2024, 9, 1, 0, 0, 0, 0, utc)
	cases := []struct {
		line            string
		time            time.Time
		host, prog, msg string
		pid             int
	}{
		{"Oct  1 11:47:51 u86 postfix/smtpd[10242]: connect from unknown[192.168.9.1]",
			time.Date(2023, 10, 1, 11, 47, 51, 0, utc), "u86", "postfix/smtpd", "connect from unknown[192.168.9.1]", 10242},
		{"Jun 04 22:24:28 machine postfix/smtpd[3967801]: NOQUEUE: x",
			time.Date(2024, 6, 4, 22, 24, 28, 0, utc), "machine", "postfix/smtpd", "NOQUEUE: x", 3967801},
		{"Jan 1 00:00:00 hostname postfix/postscreen[12345]: CONNECT from [1.2.3.4]:1 to [5.6.7.8]:25",
			time.Date(2024, 1, 1, 0, 0, 0, 0, utc), "hostname", "postfix/postscreen", "CONNECT from [1.2.3.4]:1 to [5.6.7.8]:25", 12345},
		{"2023-03-14T00:00:31.185246+01:00 helga postfix/postscreen[3163107]: PASS OLD [185.48.118.128]:36942",
			time.Date(2023, 3, 13, 23, 0, 31, 185246000, utc), "helga", "postfix/postscreen", "PASS OLD [185.48.118.128]:36942", 3163107},
		{"2024-08-29T01:08:59Z machine postfix/submission/smtpd[1]: x",
			time.Date(2024, 8, 29, 1, 8, 59, 0, utc), "machine", "postfix/submission/smtpd", "x", 1},
		{"<22>1 2025-04-09T08:25:46.392Z mx1 postfix/smtp 4711 - - 5FCA28903A: removed",
			time.Date(2025, 4, 9, 8, 25, 46, 392000000, utc), "mx1", "postfix/smtp", "5FCA28903A: removed", 4711},
		{`<22>1 2025-04-09T08:25:46Z mx1 exim - - [meta sequenceId="1" x="a\]b"] 1ajLoq-0001wC-Pk Completed`,
			time.Date(2025, 4, 9, 8, 25, 46, 0, utc), "mx1", "exim", "1ajLoq-0001wC-Pk Completed", 0},
		{"<22>Feb 16 23:33:20 smtp1 sm-mta[5133]: s1GNXHYB005133: x",
			time.Date(2024, 2, 16, 23, 33, 20, 0, utc), "smtp1", "sm-mta", "s1GNXHYB005133: x", 5133},
		{"Jun 29 16:04:19 server/server exim[1234]: H=test.com [1.2.3.4]:53343 F=<a@b> rejected RCPT <c@d>: x",
			time.Date(2024, 6, 29, 16, 4, 19, 0, utc), "server", "exim", "H=test.com [1.2.3.4]:53343 F=<a@b> rejected RCPT <c@d>: x", 1234},
		{"2016-03-25 15:06:04 1ajLoq-0001wC-Pk <= a@b.c H=x [1.2.3.4] P=esmtp S=100",
			time.Date(2016, 3, 25, 15, 6, 4, 0, utc), "dflt", "exim", "1ajLoq-0001wC-Pk <= a@b.c H=x [1.2.3.4] P=esmtp S=100", 0},
		{"2016-03-25 15:06:04.123 [4242] +0100 1ajLoq-0001wC-Pk Completed",
			time.Date(2016, 3, 25, 14, 6, 4, 123000000, utc), "dflt", "exim", "1ajLoq-0001wC-Pk Completed", 4242},
		{"2016-03-25 15:06:04 -0500 [4242] 1ajLoq-0001wC-Pk Completed",
			time.Date(2016, 3, 25, 20, 6, 4, 0, utc), "dflt", "exim", "1ajLoq-0001wC-Pk Completed", 4242},
		{"2026-02-01 10:00:01.100 #1001(normal) <a1b2c3>; rspamd_task_write_log: id: <m>",
			time.Date(2026, 2, 1, 10, 0, 1, 100000000, utc), "dflt", "rspamd", "rspamd_task_write_log: id: <m>", 1001},
		{"Jun 17 14:37:39 <mail.notice> robin sm-mta[2794]: s5HCbdaB002794: x",
			time.Date(2024, 6, 17, 14, 37, 39, 0, utc), "robin", "sm-mta", "s5HCbdaB002794: x", 2794},
		{"Feb 11 16:49:24 letterman postfix/qmgr[8204]: [ID 197553 mail.info] AAB4D259B1: removed",
			time.Date(2024, 2, 11, 16, 49, 24, 0, utc), "letterman", "postfix/qmgr", "AAB4D259B1: removed", 8204},
	}
	for _, c := range cases {
		p := Parser{Ref: ref, Location: utc, DefaultHost: "dflt"}
		var rec ingest.Record
		if err := p.Parse(c.line, &rec); err != nil {
			t.Errorf("Parse(%q): %v", c.line, err)
			continue
		}
		if !rec.Time.Equal(c.time) || rec.Host != c.host || rec.Program != c.prog || rec.Msg != c.msg || rec.PID != c.pid {
			t.Errorf("Parse(%q)\n got  %v %q %q pid=%d %q\n want %v %q %q pid=%d %q", c.line,
				rec.Time, rec.Host, rec.Program, rec.PID, rec.Msg, c.time, c.host, c.prog, c.pid, c.msg)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	for _, line := range []string{
		"", "Jan", "Jan 1 00:00:00", "Foo 1 00:00:00 hostname",
		"Jan: 1 00:00:00 hostname postfix/postscreen[12345]: foo",
		"Jan 1 00:00:00 hostname postfix/postscreen[abcde]: foo",
		"Jan 1 00:00:00 hostname postfix/postscreen[12345",
		"Jan 1 00:00:00 hostname postfix/postscreen",
		"Feb 30 00:00:00 hostname postfix/postscreen[1]: x",
		"2024-13-01T00:00:00Z host prog[1]: x",
		"2024-01-01T00:00:00 host prog[1]: x",
		"<abc>1 2024-01-01T00:00:00Z h a p m - x",
		"\x00\x01\x02 binary garbage that is long enough",
	} {
		var p Parser
		var rec ingest.Record
		err := p.Parse(line, &rec)
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want ErrNoHeader", line)
		} else if !errors.Is(err, ErrNoHeader) {
			t.Errorf("Parse(%q) error %v does not wrap ErrNoHeader", line, err)
		}
	}
}

func TestYearRollover(t *testing.T) {
	p := Parser{Ref: time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC), Location: time.UTC}
	lines := []struct {
		line string
		year int
	}{
		{"Dec 31 23:59:58 h postfix/qmgr[1]: A: removed", 2024},
		{"Dec 31 23:59:59 h postfix/qmgr[1]: A: removed", 2024},
		{"Jan  1 00:00:01 h postfix/qmgr[1]: A: removed", 2025},
		{"Dec 31 23:59:59 h postfix/qmgr[1]: late straggler", 2024},
		{"Jan  1 00:00:02 h postfix/qmgr[1]: A: removed", 2025},
		{"Feb  1 00:00:02 h postfix/qmgr[1]: A: removed", 2025},
	}
	for _, l := range lines {
		var rec ingest.Record
		if err := p.Parse(l.line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Time.Year() != l.year {
			t.Errorf("%q: year %d, want %d", l.line, rec.Time.Year(), l.year)
		}
	}
	// A file replayed a year later keeps its own year when Year is fixed.
	q := Parser{Year: 2019, Location: time.UTC}
	var rec ingest.Record
	if err := q.Parse("Mar  1 00:00:00 h p[1]: x", &rec); err != nil || rec.Time.Year() != 2019 {
		t.Errorf("fixed year: %v %v", rec.Time, err)
	}
}

func TestTimeCacheDoesNotLeakAcrossFormats(t *testing.T) {
	p := Parser{Ref: time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC), Location: time.UTC}
	var a, b ingest.Record
	_ = p.Parse("2016-03-25 15:06:04 +0100 1ajLoq-0001wC-Pk Completed", &a)
	_ = p.Parse("2016-03-25 15:06:04 1ajLoq-0001wC-Pk Completed", &b)
	if a.Time.Equal(b.Time) {
		t.Errorf("times with and without offset must differ: %v %v", a.Time, b.Time)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Oct  1 11:47:51 u86 postfix/smtpd[10242]: connect from unknown[192.168.9.1]",
		"2023-03-14T00:00:31.185246+01:00 helga postfix/postscreen[3163107]: PASS OLD",
		"<22>1 2025-04-09T08:25:46.392Z mx1 postfix/smtp 4711 - [a b=\"c\"] msg",
		"2016-03-25 15:06:04.123 [4242] +0100 1ajLoq-0001wC-Pk Completed",
		"2026-02-01 10:00:01.100 #1001(normal) <a1b2c3>; rspamd_task_write_log: id",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var p Parser
		var rec ingest.Record
		if err := p.Parse(line, &rec); err == nil {
			if !strings.Contains(line, rec.Msg) {
				t.Fatalf("Msg %q is not part of the line", rec.Msg)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	lines := []string{
		"Oct  1 11:47:51 u86 postfix/smtpd[10242]: DBED828417: client=unknown[192.168.9.1], sasl_method=PLAIN, sasl_username=macaco@monos.org",
		"Oct  1 11:47:51 u86 postfix/cleanup[10247]: DBED828417: message-id=<465387.531879486-sendEmail@huginn>",
		"2023-03-14T00:00:31.185246+01:00 helga postfix/postscreen[3163107]: PASS OLD [185.48.118.128]:36942",
		"2023-03-14T00:00:31.292246+01:00 helga postfix/postscreen[3163107]: PASS OLD [185.48.118.128]:36942",
	}
	var p Parser
	var rec ingest.Record
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := p.Parse(lines[i&3], &rec); err != nil {
			b.Fatal(err)
		}
	}
}
