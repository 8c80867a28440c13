package queue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Options configure reading a queue.
type Options struct {
	// MaxContent caps the content kept per message: DefaultMaxContent if
	// 0; negative reads envelopes only (Postfix and Exim skip the content
	// entirely, which is what a queue-size count needs).
	MaxContent int64
	// Queues lists the Postfix queues read; default incoming, active,
	// deferred and hold. "maildrop" is opt-in: the pickup daemon gives a
	// message a new queue id when it moves it to incoming, so a message
	// seen in both would be handled twice.
	Queues []string
	// Logger receives a warning for each unreadable file (default: discard).
	Logger *slog.Logger
}

// DefaultQueues are the Postfix queues read unless Options.Queues says otherwise.
var DefaultQueues = []string{"incoming", "active", "deferred", "hold"}

func (o Options) limit() int64 {
	switch {
	case o.MaxContent == 0:
		return DefaultMaxContent
	case o.MaxContent < 0:
		return 0
	}
	return o.MaxContent
}

func (o Options) queues() []string {
	if len(o.Queues) == 0 {
		return DefaultQueues
	}
	return o.Queues
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Stats counts what a scan found.
type Stats struct {
	Files      int // message files listed
	Read       int // messages read
	Vanished   int // files gone between listing and reading (delivered, moved)
	Incomplete int // Postfix files not yet marked complete (still being written)
	Failed     int // unreadable, malformed or cut-short files (logged)
	Truncated  int // messages whose content was cut at the cap
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Files += o.Files
	s.Read += o.Read
	s.Vanished += o.Vanished
	s.Incomplete += o.Incomplete
	s.Failed += o.Failed
	s.Truncated += o.Truncated
}

// count classifies a read error.
func (s *Stats) count(err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.Vanished++
	case errors.Is(err, errNotReady):
		s.Incomplete++
	default:
		s.Failed++
	}
}

// errNotReady says a Postfix queue file lacks its owner-execute bit: cleanup
// and postdrop set it only once the file is complete.
var errNotReady = fmt.Errorf("%w: queue file not marked complete yet", ErrIncomplete)

// Scan reads every message in the queue at dir — a Postfix queue_directory,
// an Exim spool directory (or its input directory), or a directory of .eml
// files — and calls fn with each, in directory order. Files that vanish,
// are still being written or cannot be parsed are skipped and counted; a
// non-nil error from fn stops the scan and is returned. The error is also
// non-nil when dir cannot be listed or ctx is done.
func Scan(ctx context.Context, dir string, kind Kind, opt Options, fn func(*Queued) error) (Stats, error) {
	var st Stats
	files, err := list(dir, kind, opt.queues())
	if err != nil {
		return st, err
	}
	log := opt.logger()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Files++
		q, err := readFile(f, kind, opt.limit())
		if err != nil {
			st.count(err)
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotReady) {
				log.Warn("queue: unreadable message file", "kind", kind, "path", f, "err", err)
			}
			continue
		}
		st.Read++
		if q.Truncated && opt.limit() > 0 {
			st.Truncated++
		}
		if err := fn(q); err != nil {
			return st, err
		}
	}
	return st, nil
}

// readFile reads one listed message file of the given kind.
func readFile(path string, kind Kind, limit int64) (*Queued, error) {
	switch kind {
	case KindPostfix:
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrMalformed)
		}
		if fi.Mode().Perm()&0o100 == 0 {
			return nil, fmt.Errorf("%s: %w", path, errNotReady)
		}
		return ReadPostfix(path, limit)
	case KindExim:
		return ReadExim(path, limit)
	case KindEML:
		return ReadEML(path, limit)
	}
	return nil, fmt.Errorf("queue kind %v: %w", kind, errors.ErrUnsupported)
}

// list returns the message files of the queue at dir: Postfix queue files,
// Exim -H files, .eml files.
func list(dir string, kind Kind, queues []string) ([]string, error) {
	var out []string
	switch kind {
	case KindPostfix:
		found := false
		for _, q := range queues {
			if !slices.Contains(postfixQueues, q) {
				return nil, fmt.Errorf("postfix queue %q: want one of %s", q, strings.Join(postfixQueues, ", "))
			}
			root := filepath.Join(dir, q)
			if _, err := os.Stat(root); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("postfix queue: %w", err)
			}
			found = true
			var err error
			if out, err = listHashed(root, out, isPostfixQueueID); err != nil {
				return nil, err
			}
		}
		if !found {
			return nil, fmt.Errorf("postfix queue %s: none of %s found: %w", dir, strings.Join(queues, ", "), fs.ErrNotExist)
		}
	case KindExim:
		root := eximInput(dir)
		var err error
		if out, err = listHashed(root, out, eximHFile); err != nil {
			return nil, err
		}
	case KindEML:
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if path != dir && errors.Is(err, fs.ErrNotExist) {
					return nil // removed while walking
				}
				return err
			}
			if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".eml") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("eml directory: %w", err)
		}
	default:
		return nil, fmt.Errorf("queue kind %v: %w", kind, errors.ErrUnsupported)
	}
	return out, nil
}

// eximInput returns the directory holding -H files: dir/input if dir is a
// spool directory, else dir itself.
func eximInput(dir string) string {
	in := filepath.Join(dir, "input")
	if fi, err := os.Stat(in); err == nil && fi.IsDir() {
		return in
	}
	return dir
}

// listHashed appends to out the files in root whose names pass ok, looking
// into single-character subdirectories too: Postfix's hashed queues
// (deferred/4/…, deeper with hash_queue_depth) and Exim's
// split_spool_directory (input/z/…).
func listHashed(root string, out []string, ok func(string) bool) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return out, fmt.Errorf("queue directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.IsDir() && len(name) == 1:
			var err error
			if out, err = listHashed(filepath.Join(root, name), out, ok); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return out, err
			}
		case e.Type().IsRegular() && ok(name):
			out = append(out, filepath.Join(root, name))
		}
	}
	return out, nil
}

// isPostfixQueueID accepts Postfix queue file names: short ids (hex
// digits) and long ids (base-52 time, 'z', base-51 inode and microseconds).
func isPostfixQueueID(name string) bool {
	if len(name) < 6 || len(name) > 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !('0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z') {
			return false
		}
	}
	return true
}
