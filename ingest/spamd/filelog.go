package spamd

import (
	"strconv"
	"strings"
	"time"

	"github.com/mailrep/mailrep/ingest"
)

// FileHeader parses the header of the lines SpamAssassin writes to its own
// log file (spamd -s FILE, --syslog=FILE), which are not syslog lines:
//
//	Sun Nov 22 13:28:14 2026 [2923] info: spamd: result: .  0 - …
//
// (Perl's localtime, the pid, the level). The zero value places times in
// time.Local and names no host. It caches the last timestamp and is not
// safe for concurrent use; use one per input.
type FileHeader struct {
	// Host names the lines (they carry none).
	Host string
	// Location is the zone of the timestamps; nil means time.Local.
	Location *time.Location

	lastStamp string
	lastTime  time.Time
}

// stampLayout is Perl's scalar localtime.
const stampLayout = "Mon Jan _2 15:04:05 2006"

// Parse fills rec from line and reports whether line has SpamAssassin's
// file-log header. rec.Program is "spamd", rec.Msg the text after the
// level ("spamd: result: …"); rec.Msg and rec.Line alias line.
func (h *FileHeader) Parse(line string, rec *ingest.Record) bool {
	const n = len(stampLayout)
	if len(line) < n+5 || line[3] != ' ' || line[7] != ' ' || line[n] != ' ' || line[n+1] != '[' {
		return false
	}
	stamp := line[:n]
	rest := line[n+2:]
	end := strings.IndexByte(rest, ']')
	if end < 1 || end > 10 {
		return false
	}
	pid, err := strconv.Atoi(rest[:end])
	if err != nil || pid < 0 {
		return false
	}
	rest, ok := strings.CutPrefix(rest[end+1:], " ")
	if !ok {
		return false
	}
	level, msg, ok := strings.Cut(rest, ": ")
	if !ok || len(level) == 0 || len(level) > 8 || strings.IndexByte(level, ' ') >= 0 {
		return false
	}
	loc := h.Location
	if loc == nil {
		loc = time.Local
	}
	t := h.lastTime
	if stamp != h.lastStamp || t.Location() != loc {
		var err error
		t, err = time.ParseInLocation(stampLayout, stamp, loc)
		if err != nil {
			return false
		}
		h.lastStamp, h.lastTime = strings.Clone(stamp), t
	}
	*rec = ingest.Record{Time: t, Host: h.Host, Program: "spamd", PID: pid, Msg: msg, Line: line}
	return true
}
