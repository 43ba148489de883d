package replica

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Walk is a scan that hands its entries over one by one, in tree.Compare
// order, as it goes, instead of gathering the whole tree: a caller merging
// it with other lists in path order keeps only what it needs. Directories
// are listed ahead of the walk by opt.Workers goroutines, nearest first,
// up to a bounded number of entries listed and not yet handed over. A
// replica that lists its whole tree at once (a TreeLister, which may list
// in any order) is listed whole first and kept, compactly, until handed
// over. Walk hashes nothing: files come with an unknown hash (opt.Known
// and opt.LazyHash are not used). What it hands over, entries and
// problems, is what Scan would find, in the same order.
//
// Next must be called until it returns false, or Close called, for the
// workers to end.
type Walk struct {
	ctx    context.Context
	cancel context.CancelFunc
	r      Replica
	opt    ScanOptions

	mu       sync.Mutex
	cond     sync.Cond
	pending  dirHeap // directories to list, nearest (lowest path) first
	buffered int     // entries of listings made and not yet walked
	ahead    int     // how many entries may be listed ahead (see SetAhead)
	stopped  bool
	temps    []string
	workers  sync.WaitGroup

	out    chan []WalkItem // batches of items, in order
	free   chan []WalkItem // batches handed over, for reuse
	batch  []WalkItem      // the batch being handed over
	pos    int
	err    error // why the walk stopped early
	walked chan struct{}

	entries, problems int // handed over so far
	lastProgress      time.Time
}

// WalkItem is one path a Walk hands over: an entry, or a path the walk
// could not take in (Problem non-nil; nothing under it is handed over).
type WalkItem struct {
	Scanned tree.Scanned
	Problem *Problem
}

// Path is the item's path.
func (it *WalkItem) Path() string {
	if it.Problem != nil {
		return it.Problem.Path
	}
	return it.Scanned.Path
}

// walkBuffer is how many entries may be listed ahead of the walk unless
// SetAhead says otherwise; a directory the walk needs is listed even
// beyond it. (A variable for tests.)
var walkBuffer = 1 << 13

// walkBatch is how many items are handed over at a time.
const walkBatch = 512

// dirJob is a directory of the walk, to be listed.
type dirJob struct {
	path     string
	claimed  bool // a worker or the walk is listing it (under Walk.mu)
	done     chan struct{}
	children children // sorted by name once listed
	err      error    // it could not be listed
}

// walkChild is one child of a listed directory, taken in or a problem.
type walkChild struct {
	info   Info   // as listed
	target string // a symlink's
	prob   *Problem
	dir    *dirJob // a directory to descend into
}

// closed is the done channel of directories listed by a TreeLister.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// NewWalk lists the root of r and starts walking it. It fails if the root
// cannot be listed.
func NewWalk(ctx context.Context, r Replica, opt ScanOptions) (*Walk, error) {
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Walk{ctx: ctx, cancel: cancel, r: r, opt: opt, out: make(chan []WalkItem, 4), free: make(chan []WalkItem, 6), walked: make(chan struct{}), ahead: walkBuffer}
	w.cond.L = &w.mu
	root := &dirJob{claimed: true, done: make(chan struct{})}
	if err := ctx.Err(); err != nil {
		cancel()
		return nil, fmt.Errorf("scan %s: %w", r, err)
	}
	if tl, ok := r.(TreeLister); ok {
		err := w.listTree(tl, root)
		switch {
		case err == nil:
			go w.walk(root)
			return w, nil
		case !errors.Is(err, ErrUnsupported):
			cancel()
			return nil, fmt.Errorf("scan %s: list the tree: %w", r, err)
		}
		root, w.temps = &dirJob{claimed: true, done: make(chan struct{})}, nil
	}
	w.list(root)
	if root.err != nil {
		cancel()
		return nil, fmt.Errorf("scan %s: list the root: %w", r, root.err)
	}
	for range opt.Workers {
		w.workers.Go(w.work)
	}
	go w.walk(root)
	return w, nil
}

// listTree takes in all that tl lists below root, as Scan does: an entry
// under a directory that was not taken in (ignored, internal, unlistable,
// or never listed) is dropped. It fails with ListTree's error, or when a
// path is listed twice.
func (w *Walk) listTree(tl TreeLister, root *dirJob) error {
	root.done = closed
	dirs := map[string]*dirJob{"": root}
	err := tl.ListTree(w.ctx, func(l Listed) error {
		d := dirs[l.Dir]
		if d == nil {
			return nil
		}
		sc, ok, prob, temp := w.opt.admit(l.Dir, &l.Info)
		c := walkChild{info: l.Info}
		switch {
		case prob != nil:
			c.prob = prob
		case temp != "":
			w.temps = append(w.temps, temp)
			return nil
		case !ok:
			return nil
		case l.Err != nil:
			c.prob = &Problem{Path: sc.Path, Err: l.Err}
		case l.Info.Kind == tree.Dir:
			c.dir = &dirJob{path: sc.Path, claimed: true, done: closed}
			dirs[sc.Path] = c.dir
		case l.Info.Kind == tree.Symlink:
			c.target = l.Target
		}
		d.children.add(&c)
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs {
		cs := &d.children
		cs.sort()
		for i := 1; i < cs.len(); i++ {
			if name := cs.name(cs.offs[i]); compareNames(name, cs.name(cs.offs[i-1])) == 0 {
				return fmt.Errorf("%q listed twice", joinName(d.path, name))
			}
		}
	}
	return nil
}

// Peek returns the next item without taking it; false at the end of the
// walk (see Err). The item may be reused once Next is called.
func (w *Walk) Peek() (*WalkItem, bool) {
	for w.pos == len(w.batch) {
		if w.batch != nil {
			select {
			case w.free <- w.batch[:0]:
			default:
			}
			w.batch, w.pos = nil, 0
		}
		b, ok := <-w.out
		if !ok {
			return nil, false
		}
		w.batch, w.pos = b, 0
	}
	return &w.batch[w.pos], true
}

// Next takes the item Peek returned.
func (w *Walk) Next() {
	w.batch[w.pos] = WalkItem{}
	w.pos++
}

// Err returns why the walk ended early, once Peek returned false: the
// context's end, or nil.
func (w *Walk) Err() error {
	<-w.walked
	if w.err != nil {
		return fmt.Errorf("scan %s: %w", w.r, w.err)
	}
	return nil
}

// Temps returns the stale temporaries found (see ScanResult.Temps), once
// Peek returned false.
func (w *Walk) Temps() []string {
	<-w.walked
	slices.SortFunc(w.temps, tree.Compare)
	return w.temps
}

// SetAhead sets how many entries may be listed ahead of what the walk
// handed over (the next directory always is); 0 restores the default. A
// caller that cannot take the walk in yet lets it list further meanwhile.
func (w *Walk) SetAhead(n int) {
	if n <= 0 {
		n = walkBuffer
	}
	w.mu.Lock()
	w.ahead = n
	w.mu.Unlock()
	w.cond.Broadcast()
}

// Close stops the walk, if it is not over, and waits for its goroutines.
func (w *Walk) Close() {
	w.cancel()
	for range w.out { // let the walk end
	}
	<-w.walked
}

// work lists directories until the walk ends.
func (w *Walk) work() {
	for {
		w.mu.Lock()
		for !w.stopped && (w.pending.Len() == 0 || w.buffered >= w.ahead) {
			w.cond.Wait()
		}
		if w.stopped {
			w.mu.Unlock()
			return
		}
		d := heap.Pop(&w.pending).(*dirJob)
		if d.claimed {
			w.mu.Unlock()
			continue
		}
		d.claimed = true
		w.mu.Unlock()
		w.list(d)
	}
}

// list lists directory d (claimed by the caller): its children, sorted by
// name, with symlink targets read, and its subdirectories queued.
func (w *Walk) list(d *dirJob) {
	defer close(d.done)
	infos, err := w.r.ReadDir(d.path)
	if err != nil {
		d.err = err
		return
	}
	var children children
	children.grow(infos)
	var temps []string
	var subdirs []*dirJob
	for i := range infos {
		sc, ok, prob, temp := w.opt.admit(d.path, &infos[i])
		c := walkChild{info: infos[i]}
		switch {
		case prob != nil:
			c.prob = prob
		case temp != "":
			temps = append(temps, temp)
			continue
		case !ok:
			continue
		case sc.Entry.Kind == tree.Dir:
			c.dir = &dirJob{path: sc.Path, done: make(chan struct{})}
			subdirs = append(subdirs, c.dir)
		case sc.Entry.Kind == tree.Symlink:
			target, err := w.r.Readlink(sc.Path)
			if err != nil {
				c.prob = &Problem{Path: sc.Path, Err: err}
			}
			c.target = target
		}
		children.add(&c)
	}
	children.sort()
	d.children = children
	w.mu.Lock()
	w.buffered += children.len()
	w.temps = append(w.temps, temps...)
	for _, sub := range subdirs {
		heap.Push(&w.pending, sub)
	}
	w.mu.Unlock()
	if len(subdirs) > 0 {
		w.cond.Broadcast()
	}
}

// await waits until directory d is listed, listing it itself when no
// worker has begun to (the workers may be held back by walkBuffer), and
// takes its children off the buffer.
func (w *Walk) await(d *dirJob) {
	w.mu.Lock()
	mine := !d.claimed
	d.claimed = true
	w.mu.Unlock()
	if mine {
		w.list(d)
	} else {
		<-d.done
	}
	w.mu.Lock()
	w.buffered -= d.children.len()
	w.mu.Unlock()
	w.cond.Broadcast()
}

// walk hands over the tree below root in order, then ends the workers.
func (w *Walk) walk(root *dirJob) {
	defer close(w.walked)
	defer w.workers.Wait()
	defer func() {
		w.mu.Lock()
		w.stopped = true
		w.mu.Unlock()
		w.cond.Broadcast()
	}()
	defer close(w.out)
	w.mu.Lock()
	w.buffered -= root.children.len()
	w.mu.Unlock()
	b := make([]WalkItem, 0, walkBatch)
	w.walkDir(root, &b)
	if len(b) > 0 && w.err == nil {
		w.send(b)
	}
	w.progress(true)
}

// walkDir hands over the children of listed directory d and, after each
// subdirectory, what lies under it. It returns false once the walk stops.
func (w *Walk) walkDir(d *dirJob, b *[]WalkItem) bool {
	for i := range d.children.len() {
		c, name := d.children.at(i)
		if c.dir != nil {
			w.await(c.dir)
			if c.dir.err != nil {
				c.prob = &Problem{Path: c.dir.path, Err: c.dir.err}
			}
		}
		if c.prob != nil {
			*b = append(*b, WalkItem{Problem: c.prob})
			w.problems++
		} else {
			sc := scannedOf(joinName(d.path, name), &c.info)
			sc.Entry.Target = c.target
			*b = append(*b, WalkItem{Scanned: sc})
			w.entries++
		}
		if len(*b) == walkBatch {
			if !w.send(*b) {
				return false
			}
			*b = w.newBatch()
		}
		if c.dir != nil && c.dir.err == nil && !w.walkDir(c.dir, b) {
			return false
		}
	}
	d.children = children{}
	return true
}

// newBatch returns an empty batch, one handed over before if it can.
func (w *Walk) newBatch() []WalkItem {
	select {
	case b := <-w.free:
		return b
	default:
		return make([]WalkItem, 0, walkBatch)
	}
}

// send hands a batch over; false when the walk is cancelled.
func (w *Walk) send(b []WalkItem) bool {
	w.progress(false)
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return false
	}
	select {
	case w.out <- b:
		return true
	case <-w.ctx.Done():
		w.err = w.ctx.Err()
		return false
	}
}

// progress calls opt.Progress if it is due (or forced).
func (w *Walk) progress(force bool) {
	if w.opt.Progress == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(w.lastProgress) < progressEvery {
		return
	}
	w.lastProgress = now
	w.opt.Progress(w.entries+w.problems, 0)
}

// dirHeap orders directories to list by path (tree.Compare): the walk
// needs the lowest first.
type dirHeap []*dirJob

func (h dirHeap) Len() int           { return len(h) }
func (h dirHeap) Less(i, j int) bool { return tree.Compare(h[i].path, h[j].path) < 0 }
func (h dirHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dirHeap) Push(x any)        { *h = append(*h, x.(*dirJob)) }
func (h *dirHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}
