// Package watch reports the changes under a directory tree as they happen,
// so that a long-running mount or `sync --watch` rescans only when
// something changed instead of at an interval. It watches every directory
// of the tree (inotify through fsnotify), adding new directories as they
// appear, and delivers the changed paths in debounced batches. When events
// are lost (the kernel's queue overflowed) it says so, and the caller
// rescans everything; when a directory cannot be watched (the per-user
// watch limit) it says so once, and the caller falls back to periodic
// rescans.
//
// Watching only reads: a directory swapped for a symlink between the walk
// and the watch may be watched where the symlink points, which gives
// spurious changes (a rescan), never an action outside the tree.
package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Batch is what changed since the last batch.
type Batch struct {
	// Paths are the changed paths relative to the root, '/'-separated
	// ("" for the root itself), sorted, without repeats. A directory's
	// path may stand for anything under it (a directory that appeared
	// with content already inside).
	Paths []string
	// Overflow: changes were lost; only a full rescan is exact.
	Overflow bool
}

// Options tune a Watcher.
type Options struct {
	// Skip, if set, names directories (relative paths) not to watch,
	// nor report changes under.
	Skip func(rel string) bool
	// Quiet is how long no new change must come before a batch is
	// delivered; 0 means 200 ms.
	Quiet time.Duration
	// MaxDelay is the longest a change waits while changes keep coming;
	// 0 means 1 s.
	MaxDelay time.Duration
}

// Watcher watches one tree.
type Watcher struct {
	root    string
	opt     Options
	fw      *fsnotify.Watcher
	batches chan Batch
	lost    chan struct{} // tests: as if the kernel's queue overflowed
	stall   chan struct{} // tests: events are not read until it is closed
	done    chan struct{}
	wg      sync.WaitGroup

	mu         sync.Mutex
	incomplete error // why some directory is not watched (the first reason)
}

// New watches the tree at root (an absolute directory path).
func New(root string, opt Options) (*Watcher, error) {
	return newWatcher(root, opt, nil)
}

func newWatcher(root string, opt Options, stall chan struct{}) (*Watcher, error) {
	if opt.Quiet <= 0 {
		opt.Quiet = 200 * time.Millisecond
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = time.Second
	}
	fw, err := fsnotify.NewBufferedWatcher(1024)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	w := &Watcher{root: filepath.Clean(root), opt: opt, fw: fw, batches: make(chan Batch, 1), lost: make(chan struct{}), stall: stall, done: make(chan struct{})}
	if err := w.fw.Add(w.root); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	w.addTree(w.root)
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// Batches delivers the changes. It is closed when the Watcher is.
func (w *Watcher) Batches() <-chan Batch { return w.batches }

// Incomplete returns why some directory of the tree is not watched (nil if
// all are): changes there are seen only by rescans.
func (w *Watcher) Incomplete() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.incomplete
}

// Close stops watching and closes Batches.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	err := w.fw.Close()
	w.wg.Wait()
	return err
}

// addTree watches every directory under dir (dir itself is watched
// already), without following symlinks.
func (w *Watcher) addTree(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == dir {
			return nil // a directory that vanished or cannot be read: its parent's events tell
		}
		if w.skip(p) {
			return filepath.SkipDir
		}
		if err := w.fw.Add(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			w.failed(p, err)
			return filepath.SkipDir
		}
		return nil
	})
}

// failed records that directory p could not be watched.
func (w *Watcher) failed(p string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.incomplete == nil {
		w.incomplete = fmt.Errorf("cannot watch %s (changes under it are seen at rescans only): %w", p, err)
	}
}

// rel is p relative to the root, '/'-separated; ok is false outside it.
func (w *Watcher) rel(p string) (string, bool) {
	if p == w.root {
		return "", true
	}
	r, ok := strings.CutPrefix(p, w.root+string(filepath.Separator))
	if !ok {
		return "", false
	}
	return filepath.ToSlash(r), true
}

func (w *Watcher) skip(p string) bool {
	if w.opt.Skip == nil {
		return false
	}
	r, ok := w.rel(p)
	return !ok || (r != "" && w.opt.Skip(r))
}

// skipped reports whether changed path r lies in a skipped directory (or
// is one).
func (w *Watcher) skipped(r string) bool {
	if w.opt.Skip == nil {
		return false
	}
	for a := r; a != ""; a = tree.Parent(a) {
		if w.opt.Skip(a) {
			return true
		}
	}
	return false
}

// loop gathers events into batches: a batch is ready once no change came
// for Quiet, or MaxDelay after its first change, and waits (gathering
// more) until the caller takes it.
func (w *Watcher) loop() {
	defer w.wg.Done()
	defer close(w.batches)
	if w.stall != nil {
		<-w.stall
	}
	pending := map[string]bool{}
	overflow := false
	var first time.Time // when the first pending change came
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var out chan Batch // w.batches while ready holds a batch
	var ready Batch
	changed := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		timer.Reset(min(w.opt.Quiet, first.Add(w.opt.MaxDelay).Sub(now)))
	}
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			r, inside := w.rel(ev.Name)
			if !inside || w.skipped(r) {
				continue
			}
			if ev.Has(fsnotify.Create) && isDir(ev.Name) {
				// a new directory: watch it and what it already holds
				// (made before the watch), reported through its path
				if err := w.fw.Add(ev.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					w.failed(ev.Name, err)
				}
				w.addTree(ev.Name)
			}
			pending[r] = true
			changed()
		case _, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			// a lost event (fsnotify.ErrEventOverflow) or an unknown
			// failure: only a full rescan is exact
			overflow = true
			changed()
		case <-w.lost:
			overflow = true
			changed()
		case <-timer.C:
			if len(pending) > 0 || overflow {
				ready = mergeBatch(ready, pending, overflow)
				pending, overflow, first = map[string]bool{}, false, time.Time{}
				out = w.batches
			}
		case out <- ready:
			out, ready = nil, Batch{}
		}
	}
}

// mergeBatch adds pending paths (and an overflow) to b.
func mergeBatch(b Batch, pending map[string]bool, overflow bool) Batch {
	seen := map[string]bool{}
	for _, p := range b.Paths {
		seen[p] = true
	}
	for p := range pending {
		if !seen[p] {
			b.Paths = append(b.Paths, p)
			seen[p] = true
		}
	}
	sort.Strings(b.Paths)
	b.Overflow = b.Overflow || overflow
	return b
}

// isDir reports whether p is a directory (not a symlink to one).
func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}
