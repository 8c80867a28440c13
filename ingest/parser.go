package ingest

import (
	"errors"
	"time"
)

// Record is one log line with its syslog (or bare Exim) header parsed off.
type Record struct {
	Time    time.Time
	Host    string
	Program string // e.g. "postfix/submission/smtpd", "exim", "sm-mta"
	PID     int    // 0 when the header has none
	Msg     string // the text after "program[pid]: "
	// Line is the whole line, for error messages.
	Line string
}

// A Parser turns the message of one record into events. It appends them to
// dst and returns the extended slice. A record the parser understands but
// that carries nothing to count (a connect line, a TLS line) yields no events
// and a nil error: it is "ignored". A record that claims to be the parser's
// but cannot be understood yields an error wrapping ErrMalformed.
//
// Parsers are called from one goroutine and may keep state (Sendmail's
// pid → AUTH join lives in the correlator, not here).
type Parser interface {
	Parse(dst []Event, rec *Record) ([]Event, error)
}

// ErrMalformed is wrapped by every error a parser returns for a line it
// owns but cannot understand.
var ErrMalformed = errors.New("malformed line")

// LineStats counts input lines by what became of them.
type LineStats struct {
	Total     int64 `json:"total"`
	Parsed    int64 `json:"parsed"`    // yielded at least one event
	Ignored   int64 `json:"ignored"`   // understood, nothing to count (or not a mail program's line)
	Malformed int64 `json:"malformed"` // no header, too long, or garbled for its parser
}

// Add adds o to s.
func (s *LineStats) Add(o LineStats) {
	s.Total += o.Total
	s.Parsed += o.Parsed
	s.Ignored += o.Ignored
	s.Malformed += o.Malformed
}
