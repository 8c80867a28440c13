package message

import (
	"bufio"
	"bytes"
	"io"
)

// lineSrc yields the lines of a stream. Each call to next returns one line
// including its "\n" (a CRLF ending is returned as "\n"), or, for a line
// longer than the buffer, the next fragment of it. The slice is valid until
// the following call. bounds are the boundaries of the multiparts being
// read from this stream, outermost first.
type lineSrc struct {
	br      *bufio.Reader
	bounds  [][]byte
	mid     bool // the last slice returned did not end its line
	err     error
	pushed  bool
	push    []byte
	pushMid bool // mid as it was after the pushed slice
	pushCon bool // the pushed slice continued a line

	capture    *[]byte // raw bytes read are appended here …
	captureMax int     // … up to this length
	lastRaw    int     // raw bytes of the last slice appended to capture
	consumed   int64   // raw bytes returned by next

	// squeeze cuts runs of more than maxBlankLines whitespace-only lines
	// to their first line and last maxBlankLines-1, as SpamAssassin does
	// to message bodies. The lines after the first of a run are held
	// back until the run ends.
	squeeze   bool
	blanks    int      // length of the current run
	held      [][]byte // copies of held-back lines
	heldNext  int      // next held line to give out
	hasAfter  bool     // the line that ended the run, given out after held
	after     []byte
	afterCont bool
	afterMid  bool
	afterErr  error
}

// maxBlankLines is the longest run of blank lines SpamAssassin keeps.
const maxBlankLines = 20

// next returns the next line or line fragment; cont reports that it
// continues the line of the previous slice. It returns io.EOF at the end.
func (s *lineSrc) next() (line []byte, cont bool, err error) {
	if s.pushed {
		s.pushed = false
		s.mid = s.pushMid
		return s.push, s.pushCon, nil
	}
	if s.heldNext < len(s.held) {
		l := s.held[s.heldNext]
		s.heldNext++
		s.mid = false
		return l, false, nil
	}
	if s.hasAfter {
		s.hasAfter = false
		s.held, s.heldNext = s.held[:0], 0
		s.mid = s.afterMid
		return s.after, s.afterCont, s.afterErr
	}
	for {
		line, cont, err = s.read()
		if !s.squeeze {
			return line, cont, err
		}
		if err == nil && !cont && !s.mid && isBlank(line) {
			s.blanks++
			if s.blanks == 1 {
				return line, cont, nil
			}
			s.hold(line)
			continue
		}
		s.blanks = 0
		if len(s.held) == 0 {
			return line, cont, err
		}
		s.after, s.afterCont, s.afterMid, s.afterErr, s.hasAfter = line, cont, s.mid, err, true
		s.heldNext = 1
		s.mid = false
		return s.held[0], false, nil
	}
}

// hold keeps a copy of a blank line, dropping the oldest held one when
// maxBlankLines-1 are held.
func (s *lineSrc) hold(line []byte) {
	var buf []byte
	if len(s.held) == maxBlankLines-1 {
		buf = s.held[0][:0]
		copy(s.held, s.held[1:])
		s.held = s.held[:len(s.held)-1]
	} else if len(s.held) < cap(s.held) {
		buf = s.held[:len(s.held)+1][len(s.held)][:0]
	}
	s.held = append(s.held, append(buf, line...))
}

// read returns the next line or fragment from the buffer.
func (s *lineSrc) read() (line []byte, cont bool, err error) {
	cont = s.mid
	if s.err != nil {
		return nil, cont, s.err
	}
	line, err = s.br.ReadSlice('\n')
	switch {
	case err == nil:
		s.mid = false
	case err == bufio.ErrBufferFull:
		s.mid = true
	default:
		s.err = err
		if len(line) == 0 {
			return nil, cont, err
		}
		s.mid = false
	}
	s.lastRaw = 0
	s.consumed += int64(len(line))
	if s.capture != nil {
		if room := s.captureMax - len(*s.capture); room > 0 {
			n := min(room, len(line))
			*s.capture = append(*s.capture, line[:n]...)
			s.lastRaw = n
		}
	}
	if n := len(line); n >= 2 && line[n-1] == '\n' && line[n-2] == '\r' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, cont, nil
}

// unread gives back the slice last returned by next, with its cont flag.
func (s *lineSrc) unread(line []byte, cont bool) {
	s.pushed = true
	s.push = line
	s.pushCon = cont
	s.pushMid = s.mid
	s.mid = cont
}

// boundary reports which active boundary line is a delimiter of: the index
// into bounds (innermost match), and whether it is the closing delimiter
// ("--boundary--"); -1 if it is none.
func (s *lineSrc) boundary(line []byte, cont bool) (level int, final bool) {
	if cont || len(s.bounds) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return -1, false
	}
	rest := line[2:]
	for i := len(s.bounds) - 1; i >= 0; i-- {
		b := s.bounds[i]
		if !bytes.HasPrefix(rest, b) {
			continue
		}
		r := rest[len(b):]
		fin := false
		if len(r) >= 2 && r[0] == '-' && r[1] == '-' {
			fin = true
			r = r[2:]
		}
		if isBlank(r) {
			return i, fin
		}
	}
	return -1, false
}

// drain reads s to its end.
func (s *lineSrc) drain() error {
	for {
		if _, _, err := s.next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// isBlank reports whether b holds only whitespace.
func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' {
			return false
		}
	}
	return true
}
