package queue

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Dir is a queue directory to watch and its format.
type Dir struct {
	Path string
	Kind Kind
}

// Watcher hands every message that enters the watched queues to a callback
// once. It rescans each directory fully every Interval and, between scans,
// reads the files that file-system notifications name as soon as they have
// been quiet for Settle. A message is identified by its Key, so the moves
// of a Postfix message from incoming to active to deferred, and Exim's
// rewriting of -H after a delivery attempt, do not hand it over again.
//
// Files already seen with the same inode, size and modification time are not
// read again; changed ones are read envelope first, and the content is read
// only for a message not handled yet. After each full scan OnScan receives
// the queue's size per directory, queue and account.
//
// The zero Watcher is not usable: set Dirs. Run must not be called twice at once.
type Watcher struct {
	Dirs []Dir
	// Interval between full scans; default 30s.
	Interval time.Duration
	// Settle is how long a notified file must be quiet before it is read;
	// default 200ms (Postfix's cleanup writes a queue file, then marks it
	// complete; Exim writes -D before -H).
	Settle time.Duration
	// Options: content cap, Postfix queues, logger.
	Options Options
	// Account attributes messages for OnScan's counts; default DefaultAccount.
	Account func(*Queued) string
	// OnScan, if set, receives the result of every full scan.
	OnScan func(ScanReport)
	// Seen, if set, is asked about each message this Watcher has not handled
	// yet, before its content is read: true (e.g. a key persisted by an
	// earlier run) marks it handled without calling the callback.
	Seen func(Key) bool
	// Forget, if set, is told the keys of messages that have left the
	// queues (absent from two full scans in a row), so persisted keys can
	// be dropped.
	Forget func(Key)

	files   map[string]*fileState
	handled map[Key]uint64 // key → scan generation it was last seen in
	gen     uint64
	fsw     *fsnotify.Watcher
	pending map[string]bool
	rescan  bool // a notification said a full scan is due (overflow, new directory)
}

// ScanReport is the result of one full scan of all watched directories.
type ScanReport struct {
	Time     time.Time
	Duration time.Duration
	Stats    Stats
	// Counts holds one row per directory, queue and account, sorted.
	Counts []QueueCount
}

// QueueCount is the size of one queue for one account.
type QueueCount struct {
	Dir        string // the watched directory
	Queue      string // Postfix queue, Exim incoming/deferred/frozen, "" for .eml
	Account    string
	Messages   int
	Recipients int   // recipients not yet delivered
	Bytes      int64 // on disk
}

// fileState is what the Watcher remembers of a file between scans.
type fileState struct {
	ino     uint64
	size    int64
	mtime   time.Time
	key     Key
	queue   string
	account string
	pending int
	bytes   int64
	gen     uint64
}

const maxPending = 10000 // notified files remembered before falling back to a full scan

// Watch runs a Watcher over dirs with a full scan every interval.
func Watch(ctx context.Context, dirs []Dir, interval time.Duration, fn func(context.Context, *Queued) error) error {
	w := &Watcher{Dirs: dirs, Interval: interval}
	return w.Run(ctx, fn)
}

// Run scans until ctx is done, calling fn for each new message; it returns
// ctx.Err(). A message for which fn returns an error is not marked handled
// and is offered again at the next full scan. File-system notifications are
// an optimisation: when they cannot be set up, Run logs why and relies on the
// interval.
func (w *Watcher) Run(ctx context.Context, fn func(context.Context, *Queued) error) error {
	if len(w.Dirs) == 0 {
		return errors.New("queue watcher: no directories")
	}
	for _, d := range w.Dirs {
		if d.Kind < KindPostfix || d.Kind > KindEML {
			return errors.New("queue watcher: " + d.Path + ": unknown kind")
		}
	}
	interval := cmp.Or(w.Interval, 30*time.Second)
	settle := cmp.Or(w.Settle, 200*time.Millisecond)
	log := w.Options.logger()
	w.files = map[string]*fileState{}
	w.handled = map[Key]uint64{}
	w.pending = map[string]bool{}

	var events <-chan fsnotify.Event
	var errs <-chan error
	if fsw, err := fsnotify.NewWatcher(); err != nil {
		log.Warn("queue watcher: no file-system notifications, scanning on the interval only", "err", err)
	} else {
		w.fsw = fsw
		defer func() { _ = fsw.Close(); w.fsw = nil }()
		events, errs = fsw.Events, fsw.Errors
	}

	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	settleTimer := time.NewTimer(time.Hour)
	settleTimer.Stop()
	defer settleTimer.Stop()

	w.fullScan(ctx, fn)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			w.fullScan(ctx, fn)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.notified(ev)
			settleTimer.Reset(settle)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			log.Warn("queue watcher: notification error, rescanning", "err", err)
			w.rescan = true
			settleTimer.Reset(settle)
		case <-settleTimer.C:
			if w.rescan {
				w.fullScan(ctx, fn)
				continue
			}
			paths := make([]string, 0, len(w.pending))
			for p := range w.pending {
				paths = append(paths, p)
			}
			clear(w.pending)
			slices.Sort(paths)
			for _, p := range paths {
				if ctx.Err() != nil {
					break
				}
				if d, ok := w.dirOf(p); ok {
					_ = w.visit(ctx, d, p, fn, nil)
				}
			}
		}
	}
}

// notified records one file-system event.
func (w *Watcher) notified(ev fsnotify.Event) {
	d, ok := w.dirOf(ev.Name)
	if !ok {
		return
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
			// A new hashed or split subdirectory: watch it and read what
			// is already in it at the next full scan.
			w.watchTree(d, ev.Name)
			w.rescan = true
			return
		}
	}
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Chmod) {
		return // removed or renamed away: nothing to read here
	}
	name := filepath.Base(ev.Name)
	path := ev.Name
	switch d.Kind {
	case KindPostfix:
		if !isPostfixQueueID(name) {
			return
		}
	case KindExim:
		if id, ok := strings.CutSuffix(name, "-D"); ok {
			path = filepath.Join(filepath.Dir(ev.Name), id+"-H")
			name = id + "-H"
		}
		if !eximHFile(name) {
			return
		}
	case KindEML:
		if !strings.HasSuffix(name, ".eml") {
			return
		}
	}
	if len(w.pending) >= maxPending {
		w.rescan = true
		return
	}
	w.pending[path] = true
}

// dirOf returns the watched directory path is under.
func (w *Watcher) dirOf(path string) (Dir, bool) {
	best := -1
	for i, d := range w.Dirs {
		if rel, err := filepath.Rel(d.Path, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			if best < 0 || len(d.Path) > len(w.Dirs[best].Path) {
				best = i
			}
		}
	}
	if best < 0 {
		return Dir{}, false
	}
	return w.Dirs[best], true
}

// watchRoots returns the directories of d that hold message files.
func (w *Watcher) watchRoots(d Dir) []string {
	switch d.Kind {
	case KindPostfix:
		var roots []string
		for _, q := range w.Options.queues() {
			roots = append(roots, filepath.Join(d.Path, q))
		}
		return roots
	case KindExim:
		return []string{eximInput(d.Path)}
	}
	return []string{d.Path}
}

// watchTree adds notification watches on root and the subdirectories that
// can hold messages (single-character hash/split directories; every
// directory of an .eml tree).
func (w *Watcher) watchTree(d Dir, root string) {
	if w.fsw == nil {
		return
	}
	_ = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return nil
		}
		if path != root && d.Kind != KindEML && len(e.Name()) != 1 {
			return filepath.SkipDir
		}
		if err := w.fsw.Add(path); err != nil {
			w.Options.logger().Warn("queue watcher: cannot watch directory", "path", path, "err", err)
		}
		return nil
	})
}

// fullScan reads every watched directory, hands new messages to fn, prunes
// what left the queues and reports.
func (w *Watcher) fullScan(ctx context.Context, fn func(context.Context, *Queued) error) {
	start := time.Now()
	w.gen++
	w.rescan = false
	clear(w.pending)
	log := w.Options.logger()
	var st Stats
	counts := map[QueueCount]*QueueCount{}
	for _, d := range w.Dirs {
		for _, root := range w.watchRoots(d) {
			w.watchTree(d, root) // idempotent; picks up new subdirectories
		}
		files, err := list(d.Path, d.Kind, w.Options.queues())
		if err != nil {
			log.Warn("queue watcher: cannot list queue", "dir", d.Path, "kind", d.Kind, "err", err)
			continue
		}
		for _, f := range files {
			if ctx.Err() != nil {
				return
			}
			st.Files++
			fsState := w.visit(ctx, d, f, fn, &st)
			if fsState == nil {
				continue
			}
			k := QueueCount{Dir: d.Path, Queue: fsState.queue, Account: fsState.account}
			c := counts[k]
			if c == nil {
				c = &k
				counts[k] = c
			}
			c.Messages++
			c.Recipients += fsState.pending
			c.Bytes += fsState.bytes
		}
	}
	// Forget files not seen now, and keys not seen in this scan or the one
	// before (a message moving between queues during a scan may be missed
	// once).
	for p, s := range w.files {
		if s.gen != w.gen {
			delete(w.files, p)
		}
	}
	for k, g := range w.handled {
		if g+1 < w.gen {
			delete(w.handled, k)
			if w.Forget != nil {
				w.Forget(k)
			}
		}
	}
	if w.OnScan != nil {
		r := ScanReport{Time: start, Duration: time.Since(start), Stats: st}
		for _, c := range counts {
			r.Counts = append(r.Counts, *c)
		}
		slices.SortFunc(r.Counts, func(a, b QueueCount) int {
			return cmp.Or(cmp.Compare(a.Dir, b.Dir), cmp.Compare(a.Queue, b.Queue), cmp.Compare(a.Account, b.Account))
		})
		w.OnScan(r)
	}
}

// visit looks at one message file: unchanged files cost a stat, changed ones
// an envelope read, and only messages not handled yet are read whole and
// given to fn. It returns the file's state, or nil if it could not be read;
// st (nil for notified files) counts the outcome.
func (w *Watcher) visit(ctx context.Context, d Dir, path string, fn func(context.Context, *Queued) error, st *Stats) *fileState {
	log := w.Options.logger()
	count := func(err error) {
		if st != nil {
			st.count(err)
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotReady) {
			log.Warn("queue watcher: unreadable message file", "kind", d.Kind, "path", path, "err", err)
		}
	}
	fi, err := os.Lstat(path)
	if err != nil {
		count(err)
		return nil
	}
	if d.Kind == KindPostfix && fi.Mode().Perm()&0o100 == 0 {
		count(errNotReady)
		return nil
	}
	_, ino := fileID(fi)
	s := w.files[path]
	if s == nil || s.ino != ino || s.size != fi.Size() || !s.mtime.Equal(fi.ModTime()) {
		env, err := readFile(path, d.Kind, 0)
		if err != nil {
			count(err)
			return nil
		}
		account := DefaultAccount
		if w.Account != nil {
			account = w.Account
		}
		s = &fileState{ino: ino, size: fi.Size(), mtime: fi.ModTime(), key: env.Key(),
			queue: env.Queue, account: account(env), pending: env.Pending, bytes: env.Size}
		w.files[path] = s
	}
	s.gen = w.gen
	read := func() {
		if st != nil {
			st.Read++
		}
	}
	if _, ok := w.handled[s.key]; ok {
		w.handled[s.key] = w.gen
		read()
		return s
	}
	if w.Seen != nil && w.Seen(s.key) {
		w.handled[s.key] = w.gen
		read()
		return s
	}
	q, err := readFile(path, d.Kind, w.Options.limit())
	if err != nil {
		count(err)
		return s
	}
	read()
	if q.Key() != s.key {
		// Replaced between the two reads: let the next visit sort it out.
		delete(w.files, path)
		return s
	}
	if q.Truncated && st != nil {
		st.Truncated++
	}
	if err := fn(ctx, q); err != nil {
		log.Warn("queue watcher: message not handled, will retry", "queue_id", q.QueueID, "path", path, "err", err)
		return s
	}
	w.handled[s.key] = w.gen
	return s
}
