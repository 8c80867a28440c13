package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nxadm/tail"
)

// DefaultInterval is how often the Tailer checks each followed file for
// rotation and truncation. nxadm/tail's own poll interval is the same
// (250 ms).
const DefaultInterval = 250 * time.Millisecond

// Line is one line read by a Tailer.
type Line struct {
	// Path is the configured path the line was read under.
	Path string
	// Text is the line without its "\n" or "\r\n", cut to the Tailer's
	// MaxLine bytes. The Tailer does not reuse it.
	Text string
	// TooLong says Text was cut.
	TooLong bool
	// Pos is the position just after this line: save it once the line's
	// effects are committed, and a restart resumes with the next line.
	Pos Position
}

// A Tailer follows log files like "tail -F", emitting every line once, in
// order per file, with the exact Position after it.
//
// Each file is followed with github.com/nxadm/tail. The Tailer pins the file
// it follows by keeping its own descriptor open, and points nxadm/tail at
// /proc/self/fd/N (on Linux) so the tail reads exactly that file, never a
// successor that appeared under the same name. The Tailer itself watches for
// rotation: when the path names another file (rename-and-create,
// delete-and-recreate) and the old file has stopped growing for one
// Interval, it stops the tail, reads the rest of the old file through its
// pinned descriptor from the last offset it emitted, and moves on to the new
// file from offset 0. When the pinned file shrinks below the offset or its
// head changes (copytruncate), the rest of the old content is read from the
// copy beside it (found by head hash) and the file is re-read from 0.
//
// Limits: lines written to a copytruncate'd file between logrotate's copy
// and its truncate are in neither file and are lost by every tailer; a
// truncated file that grows past its old size within one Interval is
// recognised by its head hash only at the next check, and lines read in
// between come from the new content at the old offset. Lines written to a
// rotated file after the Tailer switched (a writer that reopens late) are
// not read. Across a restart, one rotation is recovered; a file rotated
// twice while mailrep was down loses the middle generation.
type Tailer struct {
	// Interval is how often each file is checked for rotation and
	// truncation, and how often a missing file is looked for
	// (DefaultInterval if zero). Set it before Run.
	Interval time.Duration
	// MaxLine cuts longer lines (DefaultMaxLine if zero). nxadm/tail reads
	// a line whole before the cut, so a huge line in a followed file costs
	// its size in memory once; rotated files finished by the Tailer itself
	// use bounded memory.
	MaxLine int

	paths []string
	start map[string]Position
	log   *slog.Logger
}

// NewTailer returns a Tailer for paths. start holds the positions saved by
// a previous run, keyed by path (it may be nil); a path without one is read
// from its beginning. logger receives per-file errors and rotation notices
// (slog.Default() if nil).
func NewTailer(paths []string, start map[string]Position, logger *slog.Logger) *Tailer {
	if logger == nil {
		logger = slog.Default()
	}
	st := make(map[string]Position, len(start))
	for k, v := range start {
		st[k] = v
	}
	return &Tailer{paths: append([]string(nil), paths...), start: st, log: logger}
}

// Run follows every file, sending its lines to out, until ctx is
// cancelled; then it stops and closes every tail and returns ctx.Err().
// A file that does not exist yet is waited for. Errors on one file are
// logged with its path and retried; they do not stop the others. Run
// returns an error at once if a path is empty or given twice.
func (t *Tailer) Run(ctx context.Context, out chan<- Line) error {
	seen := make(map[string]bool, len(t.paths))
	for _, p := range t.paths {
		if p == "" {
			return errors.New("source: empty path to tail")
		}
		if seen[p] {
			return fmt.Errorf("source: %s: tailed twice", p)
		}
		seen[p] = true
	}
	interval := t.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	maxLine := t.MaxLine
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	var wg sync.WaitGroup
	for _, p := range t.paths {
		fl := &follower{
			path:     p,
			out:      out,
			log:      t.log.With("path", p),
			interval: interval,
			maxLine:  maxLine,
		}
		start, ok := t.start[p]
		wg.Go(func() { fl.run(ctx, start, ok) })
	}
	wg.Wait()
	return ctx.Err()
}

// follower follows one configured path.
type follower struct {
	path     string
	out      chan<- Line
	log      *slog.Logger
	interval time.Duration
	maxLine  int

	// The pinned file and the position after the last emitted line.
	f   *os.File
	pos Position

	tl      *tail.Tail
	lastErr string // last logged open error, to log each cause once
}

// errStop says ctx was cancelled while a line was being emitted.
var errStop = errors.New("stopped")

func (fl *follower) run(ctx context.Context, start Position, haveStart bool) {
	defer fl.closeFile()
	if haveStart {
		if err := fl.resume(ctx, start); err != nil {
			return
		}
	}
	for ctx.Err() == nil {
		if fl.f == nil {
			if !fl.openNew(ctx) {
				return
			}
		}
		if err := fl.follow(ctx); err != nil {
			return
		}
	}
}

// resume positions the follower at start: in the file at path if it is
// still start's file, else after finishing start's file from wherever it
// was rotated to.
func (fl *follower) resume(ctx context.Context, start Position) error {
	start.Path = fl.path
	f, err := os.Open(fl.path)
	if err == nil {
		same, err := sameFile(f, start)
		if err != nil {
			fl.log.Warn("cannot check saved position", "pos", start, "err", err)
		}
		if same {
			fl.pin(f, start.Offset)
			return nil
		}
		f.Close()
	}
	if start.Offset > 0 {
		old, err := findRotated(fl.path, start)
		switch {
		case err != nil:
			fl.log.Warn("cannot look for rotated file", "err", err)
		case old == nil:
			fl.log.Warn("saved file is gone (deleted, or rotated and compressed); its unread lines are lost", "pos", start)
		default:
			fl.log.Info("finishing rotated file", "file", old.Name(), "offset", start.Offset)
			err := fl.drain(ctx, old, start.Offset)
			old.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil // run opens the current file from 0
}

// openNew waits for path to exist and pins it at offset 0. It returns false
// if ctx ended first.
func (fl *follower) openNew(ctx context.Context) bool {
	var timer *time.Timer
	for {
		f, err := os.Open(fl.path)
		if err == nil {
			var fi os.FileInfo
			fi, err = f.Stat()
			if err == nil && fi.Mode().IsRegular() {
				fl.lastErr = ""
				fl.pin(f, 0)
				return true
			}
			f.Close()
			if err == nil {
				err = fmt.Errorf("%s is not a regular file", fl.path)
			}
		}
		if !errors.Is(err, os.ErrNotExist) && err.Error() != fl.lastErr {
			fl.log.Error("cannot open log file; retrying", "err", err)
			fl.lastErr = err.Error()
		}
		if timer == nil {
			timer = time.NewTimer(fl.interval)
			defer timer.Stop()
		} else {
			timer.Reset(fl.interval)
		}
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
		}
	}
}

// pin makes f the followed file, positioned at offset.
func (fl *follower) pin(f *os.File, offset int64) {
	fl.closeFile()
	fl.f = f
	fl.pos = Position{Path: fl.path, Offset: offset}
	if fi, err := f.Stat(); err == nil {
		fl.pos.Dev, fl.pos.Ino = fileID(fi)
	}
	fl.setHead()
}

// setHead recomputes the head hash while the offset is within the first
// HeadSize bytes (afterwards the hash no longer changes).
func (fl *follower) setHead() {
	n := headLen(fl.pos.Offset)
	if n == fl.pos.HeadLen && fl.pos.Head != "" {
		return
	}
	h, err := hashHead(fl.f, n)
	if err != nil {
		// Truncated under us; the next check notices and re-reads.
		fl.log.Warn("cannot hash file head", "err", err)
		return
	}
	fl.pos.Head, fl.pos.HeadLen = h, n
}

func (fl *follower) closeFile() {
	fl.stopTail()
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}

// startTail starts nxadm/tail on the pinned file at the current offset.
func (fl *follower) startTail() error {
	name := fl.f.Name()
	// Read the pinned file through /proc so a successor created under
	// the same name is never read by mistake; fall back to the name
	// where /proc is unavailable.
	if proc := "/proc/self/fd/" + strconv.Itoa(int(fl.f.Fd())); sameInode(proc, fl.f) {
		name = proc
	}
	tl, err := tail.TailFile(name, tail.Config{
		Location:      &tail.SeekInfo{Offset: fl.pos.Offset, Whence: io.SeekStart},
		Follow:        true,
		ReOpen:        false, // rotation is the follower's job, see follow
		Poll:          true,
		CompleteLines: true,
		Logger:        slog.NewLogLogger(fl.log.Handler(), slog.LevelDebug),
	})
	if err != nil {
		return fmt.Errorf("tail %s: %w", fl.path, err)
	}
	fl.tl = tl
	return nil
}

func sameInode(name string, f *os.File) bool {
	a, err := os.Stat(name)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	return err == nil && os.SameFile(a, b)
}

func (fl *follower) stopTail() {
	if fl.tl != nil {
		// Stop makes a pending send give up, so it cannot block.
		_ = fl.tl.Stop()
		fl.tl = nil
	}
}

// follow emits the pinned file's lines until the file has been rotated
// away and finished (it returns nil with fl.f == nil), until the tail has to
// be restarted (nil with fl.f still pinned: the caller calls follow again),
// or until ctx ends (errStop).
func (fl *follower) follow(ctx context.Context) error {
	if err := fl.catchUp(ctx); err != nil {
		return err
	}
	if err := fl.startTail(); err != nil {
		fl.log.Error("cannot follow log file; retrying", "err", err)
		return sleep(ctx, fl.interval)
	}
	defer fl.stopTail()
	ticker := time.NewTicker(fl.interval)
	defer ticker.Stop()
	rotatedSize := int64(-1)
	for {
		select {
		case <-ctx.Done():
			return errStop
		case l, ok := <-fl.tl.Lines:
			if !ok {
				fl.log.Error("tail stopped; resuming after the last line", "offset", fl.pos.Offset, "err", fl.tl.Err())
				fl.tl = nil
				return sleep(ctx, fl.interval)
			}
			if l.Err != nil {
				continue // rate-limiter notice; no limiter is configured
			}
			want := fl.pos.Offset + int64(len(l.Text)) + 1
			if l.SeekInfo.Offset != want {
				// nxadm/tail reopened the file (it does so by itself
				// on truncation): its offsets no longer continue ours.
				// Restart it at our offset, after handling a
				// truncation if that is what happened.
				fl.log.Debug("tail offset jumped; re-checking the file", "want", want, "got", l.SeekInfo.Offset)
				fl.stopTail()
				if fl.truncated() {
					return fl.restartTruncated(ctx)
				}
				return nil
			}
			fl.pos.Offset = want
			if fl.pos.HeadLen < HeadSize {
				fl.setHead()
			}
			if err := fl.emit(ctx, strings.TrimSuffix(l.Text, "\r")); err != nil {
				return err
			}
		case <-ticker.C:
			if fl.truncated() {
				fl.stopTail()
				return fl.restartTruncated(ctx)
			}
			rotated, size := fl.rotated()
			if !rotated {
				rotatedSize = -1
				continue
			}
			if size != rotatedSize {
				// Give a writer that has not reopened yet one
				// interval to finish with the old file.
				rotatedSize = size
				continue
			}
			fl.log.Info("log file rotated; finishing the old file", "offset", fl.pos.Offset, "size", size)
			fl.stopTail()
			err := fl.drain(ctx, fl.f, fl.pos.Offset)
			fl.closeFile()
			return err
		}
	}
}

// rotated reports whether path now names a file other than the pinned one
// (and the pinned file's size). A missing path is not yet a rotation: the
// old file may still be written until its successor appears.
func (fl *follower) rotated() (bool, int64) {
	pfi, err := fl.f.Stat()
	if err != nil {
		return false, 0
	}
	fi, err := os.Stat(fl.path)
	if err != nil {
		return false, pfi.Size()
	}
	return !os.SameFile(fi, pfi), pfi.Size()
}

// truncated reports whether the pinned file is now shorter than the offset
// or its head changed: it was truncated (copytruncate) and maybe refilled.
func (fl *follower) truncated() bool {
	fi, err := fl.f.Stat()
	if err != nil {
		return false
	}
	if fi.Size() < fl.pos.Offset {
		return true
	}
	if fl.pos.HeadLen == 0 {
		return false
	}
	h, err := hashHead(fl.f, fl.pos.HeadLen)
	return err != nil || h != fl.pos.Head
}

// restartTruncated finishes the content the truncated pinned file had past
// the offset from the copy beside it, then sets the offset to 0. The tail
// must be stopped.
func (fl *follower) restartTruncated(ctx context.Context) error {
	fl.log.Info("log file truncated (copytruncate?); re-reading it from the start", "offset", fl.pos.Offset)
	if fl.pos.Offset > 0 {
		cp, err := findRotated(fl.path, fl.pos)
		switch {
		case err != nil:
			fl.log.Warn("cannot look for the copy of the truncated file", "err", err)
		case cp != nil:
			fl.log.Info("finishing the copy of the truncated file", "file", cp.Name(), "offset", fl.pos.Offset)
			err := fl.drain(ctx, cp, fl.pos.Offset)
			cp.Close()
			if err != nil {
				return err
			}
		default:
			fl.log.Warn("no copy of the truncated file found; its lines after the offset are lost", "offset", fl.pos.Offset)
		}
	}
	f := fl.f
	fl.f = nil // pin takes it over
	fl.pin(f, 0)
	return nil
}

// drain emits the lines of f (a rotated, deleted or copied file that is no
// longer written) from offset to its end, a last line without newline
// included, with positions that carry f's identity.
func (fl *follower) drain(ctx context.Context, f *os.File, offset int64) error {
	pos := Position{Path: fl.path, Offset: offset}
	if fi, err := f.Stat(); err == nil {
		pos.Dev, pos.Ino = fileID(fi)
	}
	setHead := func() {
		if n := headLen(pos.Offset); n != pos.HeadLen || pos.Head == "" {
			if h, err := hashHead(f, n); err == nil {
				pos.Head, pos.HeadLen = h, n
			}
		}
	}
	setHead()
	lr := newLineReader(io.NewSectionReader(f, offset, 1<<62), fl.maxLine)
	for {
		b, raw, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			fl.log.Error("cannot read the rest of the rotated file", "file", f.Name(), "offset", pos.Offset, "err", err)
			return nil
		}
		pos.Offset += raw
		if pos.HeadLen < HeadSize {
			setHead()
		}
		l := Line{Path: fl.path, Text: string(b), TooLong: tooLong, Pos: pos}
		select {
		case fl.out <- l:
		case <-ctx.Done():
			return errStop
		}
	}
}

// catchUp emits the complete lines the pinned file already holds past the
// offset with the Tailer's own reader, before nxadm/tail takes over at the
// end. nxadm/tail costs two lseek calls, three allocations and a goroutine
// hand-off per line (about 150,000 lines/s); a backlog after a restart is
// read here at the line reader's speed instead.
func (fl *follower) catchUp(ctx context.Context) error {
	fi, err := fl.f.Stat()
	if err != nil || fi.Size() <= fl.pos.Offset {
		return nil
	}
	lr := newLineReader(io.NewSectionReader(fl.f, fl.pos.Offset, fi.Size()-fl.pos.Offset), fl.maxLine)
	for {
		b, raw, tooLong, err := lr.next()
		if err == io.EOF || (err == nil && !lr.complete) {
			return nil // an incomplete last line is left to the tail
		}
		if err != nil {
			fl.log.Error("cannot read log file; following from the last line", "offset", fl.pos.Offset, "err", err)
			return nil
		}
		fl.pos.Offset += raw
		if fl.pos.HeadLen < HeadSize {
			fl.setHead()
		}
		l := Line{Path: fl.path, Text: string(b), TooLong: tooLong, Pos: fl.pos}
		select {
		case fl.out <- l:
		case <-ctx.Done():
			return errStop
		}
	}
}

// emit sends one line of the pinned file.
func (fl *follower) emit(ctx context.Context, text string) error {
	l := Line{Path: fl.path, Text: text, Pos: fl.pos}
	if len(text) > fl.maxLine {
		l.Text = strings.Clone(text[:fl.maxLine])
		l.TooLong = true
	}
	select {
	case fl.out <- l:
		return nil
	case <-ctx.Done():
		return errStop
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errStop
	case <-t.C:
		return nil
	}
}
