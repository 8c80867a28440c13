// Package source owns getting log lines into mailrep: replaying files start
// to end (plain, gzip-compressed, or standard input) with a fast, bounded
// line reader, and following live log files with github.com/nxadm/tail while
// keeping an exact, restart-safe Position per file across log rotation
// (rename-and-create, copytruncate, delete-and-recreate).
//
// Positions are plain JSON-serialisable values: the daemon stores the
// Position of the last line it has fully processed in the same state-store
// transaction as the state that line produced, and hands the saved positions
// back to NewTailer on the next start.
package source

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"
)

// DefaultMaxLine is the line length limit Lines applies when maxLine <= 0.
// Syslog lines are far shorter (rsyslog's default limit is 8 KiB); anything
// longer is garbage or an attack and is cut.
const DefaultMaxLine = 64 << 10

// readBufSize is the read buffer of the line reader. Large enough that the
// per-read overhead vanishes and several thousand lines are scanned per
// refill.
const readBufSize = 256 << 10

// Stdin is the name Open understands as standard input.
const Stdin = "-"

// Open opens a log file for replay. The name "-" is standard input (which
// Close leaves open). Gzip-compressed input is decompressed transparently,
// recognised by its magic bytes whatever its name, so "mail.log.1" that is
// really compressed and "mail.log.gz" both work; concatenated gzip members
// are read as one stream. Errors, including decompression errors returned
// later by Read, name the file.
func Open(name string) (io.ReadCloser, error) {
	if name == Stdin {
		return wrap("standard input", os.Stdin, io.NopCloser(nil))
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err) // *PathError names the file
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("source: %s: is a directory", name)
	}
	rc, err := wrap(name, f, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return rc, nil
}

// wrap peeks at r's first bytes and returns a reader that decompresses gzip
// input and names the input in errors. c is closed by Close.
func wrap(name string, r io.Reader, c io.Closer) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, readBufSize)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("source: read %s: %w", name, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("source: %s: gzip header: %w", name, err)
		}
		return &namedReader{name: name, r: zr, closers: []io.Closer{zr, c}}, nil
	}
	return &namedReader{name: name, r: br, closers: []io.Closer{c}}, nil
}

// namedReader adds the input's name to read errors and closes the
// decompressor and the file together.
type namedReader struct {
	name    string
	r       io.Reader
	closers []io.Closer
}

func (n *namedReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("source: read %s: %w", n.name, err)
	}
	return k, err
}

func (n *namedReader) Close() error {
	var errs []error
	for _, c := range n.closers {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("source: close %s: %w", n.name, err))
		}
	}
	return errors.Join(errs...)
}

// Lines reads r line by line and calls fn for each line, without its "\n"
// or "\r\n" terminator. A final line without a newline is delivered too.
//
// A line longer than maxLine bytes (DefaultMaxLine if maxLine <= 0) is not
// buffered whole: fn receives its first maxLine bytes with tooLong set and
// the rest of the line is skipped, so memory stays bounded by maxLine plus
// the read buffer whatever the input.
//
// The line passed to fn aliases Lines' read buffer (it is built with
// unsafe.String, copying nothing) and is valid only until fn returns: fn
// must strings.Clone anything it keeps. Bytes are passed through unchanged,
// including invalid UTF-8 and NULs.
//
// Lines stops at the first error of fn, returning it unwrapped; on a read
// error, returning it; and when ctx is cancelled (checked every few thousand
// lines), returning ctx.Err(). It returns nil at the end of the input.
func Lines(ctx context.Context, r io.Reader, maxLine int, fn func(line string, tooLong bool) error) error {
	lr := newLineReader(r, maxLine)
	done := ctx.Done()
	for n := 0; ; n++ {
		if n&4095 == 0 && done != nil {
			select {
			case <-done:
				return ctx.Err()
			default:
			}
		}
		line, _, tooLong, err := lr.next()
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := fn(unsafe.String(unsafe.SliceData(line), len(line)), tooLong); err != nil {
			return err
		}
	}
}

// lineReader splits a stream into lines with bounded memory and reports how
// many raw bytes (terminator included) each line occupied, which the tailer
// needs for exact offsets.
type lineReader struct {
	br      *bufio.Reader
	maxLine int
	long    []byte // first maxLine bytes of an overlong line
	// complete says whether the last line next returned ended with a
	// newline (false for a final line cut short by the end of input).
	complete bool
}

func newLineReader(r io.Reader, maxLine int) *lineReader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	size := readBufSize
	if maxLine+2 > size {
		size = maxLine + 2 // a maxLine line plus "\r\n" must fit
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), maxLine: maxLine}
}

// next returns the next line without its terminator, the raw bytes it
// occupied, and whether it was cut to maxLine. The line is valid until the
// next call. A final line without a newline is returned as a line; after it
// next returns io.EOF.
func (lr *lineReader) next() (line []byte, raw int64, tooLong bool, err error) {
	b, err := lr.br.ReadSlice('\n')
	lr.complete = err == nil
	switch {
	case err == nil:
		raw = int64(len(b))
		b = trimEOL(b)
		if len(b) > lr.maxLine {
			return b[:lr.maxLine], raw, true, nil
		}
		return b, raw, false, nil
	case err == bufio.ErrBufferFull:
		// Longer than the buffer, hence longer than maxLine: keep its
		// head, skip to its end.
		lr.long = append(lr.long[:0], b[:lr.maxLine]...)
		raw = int64(len(b))
		for {
			b, err = lr.br.ReadSlice('\n')
			raw += int64(len(b))
			if err != bufio.ErrBufferFull {
				break
			}
		}
		lr.complete = err == nil
		if err != nil && err != io.EOF {
			return nil, 0, false, err
		}
		return lr.long, raw, true, nil
	case err == io.EOF:
		if len(b) == 0 {
			return nil, 0, false, io.EOF
		}
		raw = int64(len(b))
		b = trimEOL(b)
		if len(b) > lr.maxLine {
			return b[:lr.maxLine], raw, true, nil
		}
		return b, raw, false, nil
	default:
		return nil, 0, false, err
	}
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
