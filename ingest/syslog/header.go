// Package syslog parses the header of a mail log line — timestamp, host,
// program and pid — leaving the program's message for the MTA parsers.
//
// It understands the headers mail logs are written with in practice:
//
//	Jan  2 03:04:05 host prog[pid]: msg            BSD (RFC 3164), no year
//	2025-04-09T08:25:46.392405+00:00 host prog[pid]: msg   RFC 3339 (rsyslog high precision)
//	<22>1 2025-04-09T08:25:46.392Z host prog pid - - msg  RFC 5424
//	Jan  2 03:04:05 host/host prog[pid]: msg       rsyslog relayed "host/host"
//	2016-03-25 15:06:04 [1234] +0100 msg           bare Exim main log
//	2026-02-01 10:00:01.100 #1001(normal) <id>; …  rspamd's own log
//
// BSD timestamps carry no year: the Parser infers it from a reference time
// and follows the New-Year rollover within a file. Parsing is allocation-free
// in the common case (host and program names are interned, the time of the
// previous line is reused when the timestamp text repeats), because it runs
// once per line on the hottest path of mailrep.
package syslog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

// ErrNoHeader is wrapped by the error returned for a line without a
// recognisable header.
var ErrNoHeader = errors.New("no syslog header")

// Parser parses headers. The zero value is ready to use: BSD timestamps are
// then placed in the local time zone, in the year that puts them closest
// before time.Now(). A Parser keeps state (the inferred year, caches) and is
// not safe for concurrent use; use one per input stream.
type Parser struct {
	// DefaultHost is the host of lines whose header names none (bare Exim
	// and rspamd logs).
	DefaultHost string
	// Ref is the reference for year inference: the first BSD timestamp is
	// placed in the year that makes it no later than one day after Ref.
	// Zero means time.Now(). For replays of old files use the file's mtime.
	Ref time.Time
	// Year, if non-zero, fixes the year of the first BSD timestamp.
	Year int
	// Location is the zone of timestamps without an offset (BSD and bare
	// Exim without offset). Nil means time.Local.
	Location *time.Location

	year      int // year of the last BSD line; 0 until the first
	lastMonth time.Month

	lastStamp string // timestamp text of the previous line
	lastTime  time.Time
	lastHost  string
	programs  map[string]string
	zones     map[int]*time.Location
}

var monthIndex = func() map[string]time.Month {
	m := make(map[string]time.Month, 12)
	for mo := time.January; mo <= time.December; mo++ {
		m[mo.String()[:3]] = mo
	}
	return m
}()

func (p *Parser) loc() *time.Location {
	if p.Location != nil {
		return p.Location
	}
	return time.Local
}

func (p *Parser) fail(line, why string) error {
	ex := line
	if len(ex) > 60 {
		ex = ex[:60] + "…"
	}
	return fmt.Errorf("%w: %s in %q", ErrNoHeader, why, ex)
}

// Parse parses the header of line into rec. rec.Msg and rec.Line alias line.
func (p *Parser) Parse(line string, rec *ingest.Record) error {
	rec.Line = line
	rec.PID = 0
	if len(line) < 16 {
		return p.fail(line, "line too short")
	}
	c := line[0]
	switch {
	case c == '<':
		return p.parsePRI(line, rec)
	case c >= 'A' && c <= 'Z':
		return p.parseBSD(line, rec)
	case isDigit(c):
		if len(line) > 19 && line[4] == '-' && line[7] == '-' {
			if line[10] == 'T' {
				return p.parseRFC3339Header(line, rec)
			}
			if line[10] == ' ' {
				return p.parseBare(line, rec)
			}
		}
	}
	return p.fail(line, "unrecognised timestamp")
}

// parsePRI handles "<PRI>1 " RFC 5424 and "<PRI>" followed by a BSD header.
func (p *Parser) parsePRI(line string, rec *ingest.Record) error {
	end := strings.IndexByte(line[:min(len(line), 6)], '>')
	if end < 2 {
		return p.fail(line, "bad <PRI>")
	}
	for i := 1; i < end; i++ {
		if !isDigit(line[i]) {
			return p.fail(line, "bad <PRI>")
		}
	}
	rest := line[end+1:]
	if strings.HasPrefix(rest, "1 ") {
		return p.parse5424(line, rest[2:], rec)
	}
	if len(rest) > 0 && rest[0] >= 'A' && rest[0] <= 'Z' {
		err := p.parseBSD(rest, rec)
		rec.Line = line
		return err
	}
	return p.fail(line, "unknown header after <PRI>")
}

// parse5424: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG.
func (p *Parser) parse5424(line, s string, rec *ingest.Record) error {
	ts, s, ok := strings.Cut(s, " ")
	if !ok {
		return p.fail(line, "RFC 5424 header cut short")
	}
	t, err := p.rfc3339(ts)
	if err != nil {
		return p.fail(line, err.Error())
	}
	var host, app, procid string
	if host, s, ok = strings.Cut(s, " "); !ok {
		return p.fail(line, "RFC 5424 header cut short")
	}
	if app, s, ok = strings.Cut(s, " "); !ok {
		return p.fail(line, "RFC 5424 header cut short")
	}
	if procid, s, ok = strings.Cut(s, " "); !ok {
		return p.fail(line, "RFC 5424 header cut short")
	}
	if _, s, ok = strings.Cut(s, " "); !ok { // MSGID
		return p.fail(line, "RFC 5424 header cut short")
	}
	// STRUCTURED-DATA: "-" or one or more [id k="v"] elements.
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else {
		for strings.HasPrefix(s, "[") {
			i := sdEnd(s)
			if i < 0 {
				return p.fail(line, "unterminated RFC 5424 structured data")
			}
			s = s[i+1:]
		}
	}
	s = strings.TrimPrefix(s, " ")
	s = strings.TrimPrefix(s, "\ufeff") // BOM
	rec.Time = t
	rec.Host = p.internHost(host)
	if app == "-" {
		app = ""
	}
	rec.Program = p.internProgram(app)
	if procid != "-" {
		rec.PID, _ = atoi(procid)
	}
	rec.Msg = s
	return nil
}

// sdEnd returns the index of the "]" closing the SD-ELEMENT at s[0], honouring
// backslash escapes inside quoted values.
func sdEnd(s string) int {
	inQuote := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			inQuote = !inQuote
		case ']':
			if !inQuote {
				return i
			}
		}
	}
	return -1
}

// parseBSD: "Mmm dd HH:MM:SS host prog[pid]: msg"; dd may be " 2", "02" or "2".
func (p *Parser) parseBSD(line string, rec *ingest.Record) error {
	mo, ok := monthIndex[line[:3]]
	if !ok || line[3] != ' ' {
		return p.fail(line, "bad month")
	}
	i := 4
	if line[i] == ' ' {
		i++
	}
	day := 0
	for ; i < len(line) && isDigit(line[i]); i++ {
		day = day*10 + int(line[i]-'0')
	}
	if day < 1 || day > 31 || i+9 > len(line) || line[i] != ' ' {
		return p.fail(line, "bad day")
	}
	i++
	hh, mm, ss, ok := clock(line[i:])
	if !ok {
		return p.fail(line, "bad time of day")
	}
	stampEnd := i + 8
	// Optional fraction (rsyslog with high-precision BSD): ".123456".
	ns := 0
	if stampEnd < len(line) && line[stampEnd] == '.' {
		j := stampEnd + 1
		ns, stampEnd = fraction(line, j)
	}
	if stampEnd >= len(line) || line[stampEnd] != ' ' {
		return p.fail(line, "no host after timestamp")
	}
	stamp := line[:stampEnd]
	if stamp == p.lastStamp && p.year != 0 {
		rec.Time = p.lastTime
	} else {
		year := p.inferYear(mo, day)
		t := time.Date(year, mo, day, hh, mm, ss, ns, p.loc())
		if t.Day() != day { // Feb 30 and friends
			return p.fail(line, "bad date")
		}
		p.lastStamp, p.lastTime = stamp, t
		rec.Time = t
	}
	return p.hostProgram(line, line[stampEnd+1:], rec)
}

// inferYear returns the year of a BSD timestamp and follows rollovers.
func (p *Parser) inferYear(mo time.Month, day int) int {
	if p.year == 0 {
		ref := p.Ref
		if ref.IsZero() {
			ref = time.Now()
		}
		y := ref.Year()
		if p.Year != 0 {
			y = p.Year
		} else if time.Date(y, mo, day, 0, 0, 0, 0, p.loc()).After(ref.Add(48 * time.Hour)) {
			y--
		}
		p.year, p.lastMonth = y, mo
		return y
	}
	switch {
	case mo < p.lastMonth && p.lastMonth-mo >= 6:
		// Dec → Jan: a new year began.
		p.year++
		p.lastMonth = mo
	case mo > p.lastMonth && mo-p.lastMonth >= 6:
		// A straggler from last year after the rollover: don't move.
		return p.year - 1
	default:
		if mo > p.lastMonth {
			p.lastMonth = mo
		}
	}
	return p.year
}

// parseRFC3339Header: "2025-04-09T08:25:46.392405+00:00 host prog[pid]: msg".
func (p *Parser) parseRFC3339Header(line string, rec *ingest.Record) error {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return p.fail(line, "no host after timestamp")
	}
	stamp := line[:sp]
	if stamp == p.lastStamp && !p.lastTime.IsZero() {
		rec.Time = p.lastTime
	} else {
		t, err := p.rfc3339(stamp)
		if err != nil {
			return p.fail(line, err.Error())
		}
		p.lastStamp, p.lastTime = stamp, t
		rec.Time = t
	}
	return p.hostProgram(line, line[sp+1:], rec)
}

// rfc3339 parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" without allocating.
func (p *Parser) rfc3339(s string) (time.Time, error) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, errors.New("bad RFC 3339 timestamp")
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	hh, mm, ss, ok4 := clock(s[11:])
	if !ok1 || !ok2 || !ok3 || !ok4 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, errors.New("bad RFC 3339 timestamp")
	}
	i := 19
	ns := 0
	if i < len(s) && s[i] == '.' {
		ns, i = fraction(s, i+1)
	}
	if i >= len(s) {
		return time.Time{}, errors.New("RFC 3339 timestamp without zone")
	}
	loc, err := p.zone(s[i:])
	if err != nil {
		return time.Time{}, err
	}
	t := time.Date(y, time.Month(mo), d, hh, mm, ss, ns, loc)
	if t.Day() != d {
		return time.Time{}, errors.New("bad RFC 3339 date")
	}
	return t, nil
}

// zone parses "Z", "+HH:MM", "-HHMM" into a location (cached fixed zones).
func (p *Parser) zone(z string) (*time.Location, error) {
	if z == "Z" || z == "z" {
		return time.UTC, nil
	}
	if len(z) != 6 && len(z) != 5 || (z[0] != '+' && z[0] != '-') {
		return nil, errors.New("bad zone offset")
	}
	h, ok1 := digits(z[1:3])
	mz := z[3:]
	if mz[0] == ':' {
		mz = mz[1:]
	}
	m, ok2 := digits(mz)
	if !ok1 || !ok2 || len(mz) != 2 || h > 23 || m > 59 {
		return nil, errors.New("bad zone offset")
	}
	off := h*3600 + m*60
	if z[0] == '-' {
		off = -off
	}
	return p.fixedZone(off), nil
}

func (p *Parser) fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if l, ok := p.zones[off]; ok {
		return l
	}
	l := time.FixedZone("", off)
	if p.zones == nil {
		p.zones = make(map[int]*time.Location)
	}
	if len(p.zones) < 64 {
		p.zones[off] = l
	}
	return l
}

// parseBare handles lines that start with "YYYY-MM-DD HH:MM:SS": Exim's
// main log and rspamd's own log.
//
//	2016-03-25 15:06:04 1ajLoq-0001wC-Pk <= …
//	2016-03-25 15:06:04.123 [1234] -0500 1ajLoq-… <= …
//	2026-02-01 10:00:01.100 #1001(normal) <a1b2c3>; rspamd_task_write_log: …
func (p *Parser) parseBare(line string, rec *ingest.Record) error {
	y, ok1 := digits(line[0:4])
	mo, ok2 := digits(line[5:7])
	d, ok3 := digits(line[8:10])
	hh, mm, ss, ok4 := clock(line[11:])
	if !ok1 || !ok2 || !ok3 || !ok4 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return p.fail(line, "bad timestamp")
	}
	i := 19
	ns := 0
	if i < len(line) && line[i] == '.' {
		ns, i = fraction(line, i+1)
	}
	rest := line[i:]
	if !strings.HasPrefix(rest, " ") {
		return p.fail(line, "no message after timestamp")
	}
	rest = rest[1:]
	rec.Program = "exim"
	rec.PID = 0
	var loc *time.Location
	// Optional "[pid]" and "±HHMM" in either order.
	for k := 0; k < 2; k++ {
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 2 {
				return p.fail(line, "bad [pid]")
			}
			pid, ok := atoi(rest[1:end])
			if !ok {
				return p.fail(line, "bad [pid]")
			}
			rec.PID = pid
			rest = strings.TrimPrefix(rest[end+1:], " ")
		case len(rest) >= 6 && (rest[0] == '+' || rest[0] == '-') && isDigit(rest[1]) && rest[5] == ' ':
			l, err := p.zone(rest[:5])
			if err != nil {
				return p.fail(line, err.Error())
			}
			loc = l
			rest = rest[6:]
		}
	}
	if strings.HasPrefix(rest, "#") { // rspamd: "#pid(type) <tag>; module: msg"
		end := strings.IndexByte(rest, '(')
		if end > 1 {
			if pid, ok := atoi(rest[1:end]); ok {
				rec.PID = pid
				rec.Program = "rspamd"
				if j := strings.Index(rest, "; "); j > 0 {
					rest = rest[j+2:]
				}
			}
		}
	}
	if loc == nil {
		loc = p.loc()
	}
	stamp := line[:i]
	if stamp == p.lastStamp && p.lastTime.Location() == loc {
		rec.Time = p.lastTime
	} else {
		t := time.Date(y, time.Month(mo), d, hh, mm, ss, ns, loc)
		if t.Day() != d {
			return p.fail(line, "bad date")
		}
		p.lastStamp, p.lastTime = stamp, t
		rec.Time = t
	}
	rec.Host = p.DefaultHost
	rec.Msg = rest
	return nil
}

// hostProgram parses "host prog[pid]: msg" (host may be "host/host").
func (p *Parser) hostProgram(line, s string, rec *ingest.Record) error {
	// FreeBSD "syslogd -v" puts "<facility.level> " before the host.
	if strings.HasPrefix(s, "<") {
		if j := strings.Index(s, "> "); j > 0 && j < 24 {
			s = s[j+2:]
		}
	}
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return p.fail(line, "no program after host")
	}
	host := s[:sp]
	if j := strings.IndexByte(host, '/'); j > 0 {
		host = host[:j] // rsyslog "host/host"
	}
	rec.Host = p.internHost(host)
	s = s[sp+1:]
	// Program ends at "[" (pid follows) or ":".
	end := strings.IndexAny(s, "[: ")
	if end <= 0 {
		return p.fail(line, "no program")
	}
	prog := s[:end]
	switch s[end] {
	case '[':
		close := strings.IndexByte(s[end:], ']')
		if close < 0 {
			return p.fail(line, "unterminated [pid]")
		}
		pid, ok := atoi(s[end+1 : end+close])
		if !ok {
			return p.fail(line, "bad [pid]")
		}
		rec.PID = pid
		s = s[end+close+1:]
		if !strings.HasPrefix(s, ":") {
			return p.fail(line, "no ':' after program[pid]")
		}
		s = s[1:]
	case ':':
		s = s[end+1:]
	default:
		return p.fail(line, "no ':' after program")
	}
	rec.Program = p.internProgram(prog)
	if len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	// Solaris "[ID 197553 mail.info] " tag.
	if strings.HasPrefix(s, "[ID ") {
		if j := strings.IndexByte(s, ']'); j > 0 {
			s = strings.TrimPrefix(s[j+1:], " ")
		}
	}
	rec.Msg = s
	return nil
}

func (p *Parser) internHost(h string) string {
	if h == p.lastHost {
		return p.lastHost
	}
	p.lastHost = strings.Clone(h)
	return p.lastHost
}

// internProgram returns a string for prog that does not alias the line.
// Program names form a small set; the map is capped so garbage can't grow it.
func (p *Parser) internProgram(prog string) string {
	if s, ok := p.programs[prog]; ok {
		return s
	}
	s := strings.Clone(prog)
	if p.programs == nil {
		p.programs = make(map[string]string)
	}
	if len(p.programs) < 1024 {
		p.programs[s] = s
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func atoi(s string) (int, bool) {
	if len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	return digits(s)
}

// clock parses "HH:MM:SS" at the start of s.
func clock(s string) (hh, mm, ss int, ok bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	var o1, o2, o3 bool
	hh, o1 = digits(s[0:2])
	mm, o2 = digits(s[3:5])
	ss, o3 = digits(s[6:8])
	if !o1 || !o2 || !o3 || hh > 23 || mm > 59 || ss > 60 {
		return 0, 0, 0, false
	}
	return hh, mm, ss, true
}

// fraction parses the digits of a fractional second starting at s[i] and
// returns nanoseconds and the index after the digits.
func fraction(s string, i int) (int, int) {
	ns, scale := 0, 100000000
	for ; i < len(s) && isDigit(s[i]); i++ {
		if scale > 0 {
			ns += int(s[i]-'0') * scale
			scale /= 10
		}
	}
	return ns, i
}
