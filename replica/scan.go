package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/tree"
)

// ErrChangedWhileReading: a file's fingerprint changed while it was being
// hashed or copied, so the bytes read are not trustworthy.
var ErrChangedWhileReading = errors.New("file changed while being read")

// errNotHandled is the cause of a Warning problem for a socket, fifo or device.
var errNotHandled = errors.New("not a regular file, directory or symlink: skipped")

// Known returns what was last recorded for a file path on this side: its
// fingerprint and hash. ok is false when nothing is recorded.
type Known func(path string) (fp tree.Fingerprint, h tree.Hash, ok bool)

// ScanOptions tune Scan. The zero value scans and hashes everything.
type ScanOptions struct {
	// Ignore reports whether a path is to be left out (a directory with its
	// subtree). nil: nothing is ignored. Internal names (tree.Internal) are
	// always skipped without calling it. It is called from several
	// goroutines at once.
	Ignore func(path string, isDir bool) bool
	// Known lets Scan reuse a recorded hash when a file's fingerprint is
	// identical to the recorded one. nil: every file is hashed. It is
	// called from several goroutines at once.
	Known Known
	// Workers is how many ReadDir, Readlink and hash calls run at once;
	// 0 means 8.
	Workers int
	// LazyHash leaves the hash of a file unknown (zero) instead of reading
	// it when Known has nothing for its fingerprint: for replicas where
	// hashing means downloading, the caller hashes only what a decision
	// needs.
	LazyHash bool
	// Progress, if set, is called from time to time with the number of
	// entries taken in and the bytes hashed so far, and once at the end.
	// Calls never overlap.
	Progress func(entries int, hashedBytes int64)
	// TempMarkers are the markers of the temporaries this scan reports
	// in Temps (see ParseTempName; "" stands for the unmarked form). nil:
	// every temporary of either form. A temporary with another marker
	// belongs to another pair sharing the tree and is passed over.
	TempMarkers []string
	// ReportReserved makes every other name under tree.InternalPrefix (a
	// name that is not a temporary in TempMarkers, and not the backup area
	// or the merges of a mount at the root) a Warning problem: such a file is the user's, under a
	// name myrrorfs never syncs.
	ReportReserved bool
}

// ErrReservedName is the cause of the Warning problem for a name that
// begins with tree.InternalPrefix but is not one myrrorfs made.
var ErrReservedName = errors.New("name reserved for myrrorfs's own files (" + tree.InternalPrefix + "*): neither synced nor removed; rename it to sync it")

// Problem is a path the scan could not take in. The path is not in
// ScanResult.Entries, nor is anything under it; a sync must leave the path
// and its subtree alone on both sides.
type Problem struct {
	Path string
	Err  error
	// Warning: skipped on purpose (socket, fifo, device, invalid name);
	// otherwise an error (unreadable directory or file, or a file that
	// changed or vanished while being hashed).
	Warning bool
}

// ScanResult is what Scan found.
type ScanResult struct {
	// Entries holds every entry except the root, sorted by tree.Compare.
	// Files carry Hash, symlinks Target; Perm, Size and MtimeNs come from
	// stat (for a hashed file, from the stat taken with its hash).
	Entries []tree.Scanned
	// Temps are the paths of stale temporaries (names ParseTempName
	// accepts, with a marker in ScanOptions.TempMarkers), sorted, found in
	// every directory that was scanned.
	Temps []string
	// Problems are sorted by path.
	Problems []Problem
	// Hashed counts the files hashed by this scan (fingerprint unknown or
	// changed) and HashedBytes their sizes.
	Hashed      int
	HashedBytes int64
}

// Scan walks r from its root without following symlinks, listing
// directories, reading symlinks and hashing files over opt.Workers
// goroutines. It fails only if the root cannot be listed or ctx is done;
// anything unreadable below the root becomes a Problem.
//
// When r is a TreeLister, Scan takes its listing in instead of calling
// ReadDir and Readlink, with the same result; it hashes as before.
func Scan(ctx context.Context, r Replica, opt ScanOptions) (*ScanResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", r, err)
	}
	if tl, ok := r.(TreeLister); ok {
		res, err := scanListed(ctx, r, tl, opt)
		if !errors.Is(err, ErrUnsupported) {
			return res, err
		}
	}
	root, err := r.ReadDir("")
	if err != nil {
		return nil, fmt.Errorf("scan %s: list the root: %w", r, err)
	}
	s := newScanner(ctx, r, opt)
	s.takeDir("", root)
	if err := s.run(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", r, err)
	}
	return s.finish(), nil
}

// scanListed is Scan through tl: it takes the listing in while the workers
// hash what needs it. An error wrapping ErrUnsupported means tl listed
// nothing and r is to be walked instead.
func scanListed(ctx context.Context, r Replica, tl TreeLister, opt ScanOptions) (*ScanResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newScanner(ctx, r, opt)
	s.pending = 1 // the listing itself, so that no worker stops before it ends
	var lerr error
	listed := make(chan struct{})
	go func() {
		defer close(listed)
		lerr = s.feed(tl)
		if lerr != nil {
			cancel()
		}
		s.done()
	}()
	err := s.run()
	<-listed
	switch {
	case errors.Is(lerr, ErrUnsupported):
		return nil, lerr
	case lerr != nil:
		return nil, fmt.Errorf("scan %s: list the tree: %w", r, lerr)
	case err != nil:
		return nil, fmt.Errorf("scan %s: %w", r, err)
	}
	res := s.finish()
	if p, dup := firstDuplicate(res.Entries); dup {
		return nil, fmt.Errorf("scan %s: list the tree: %q listed twice", r, p)
	}
	return res, nil
}

// firstDuplicate returns the first path that sorted entries hold twice.
func firstDuplicate(entries []tree.Scanned) (string, bool) {
	for i := 1; i < len(entries); i++ {
		if entries[i].Path == entries[i-1].Path {
			return entries[i].Path, true
		}
	}
	return "", false
}

// scanner is the state of one Scan.
type scanner struct {
	ctx context.Context
	r   Replica
	opt ScanOptions

	mu        sync.Mutex
	cond      sync.Cond
	leaves    []tree.Scanned // files to hash, symlinks to read: taken first
	dirs      []tree.Scanned // directories to list
	pending   int            // queued plus running jobs
	cancelled bool

	resMu   sync.Mutex
	res     ScanResult       // Entries stays empty until finish
	chunks  [][]tree.Scanned // entries, one chunk per directory listing
	singles [][]tree.Scanned // entries taken in one by one (hashed files, symlinks, directories), in blocks

	entries      atomic.Int64
	hashedBytes  atomic.Int64
	progressMu   sync.Mutex
	lastProgress atomic.Int64 // unix ns of the last Progress call
}

func newScanner(ctx context.Context, r Replica, opt ScanOptions) *scanner {
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	s := &scanner{ctx: ctx, r: r, opt: opt}
	s.cond.L = &s.mu
	return s
}

// run starts the workers and waits until every job is done or ctx ends.
func (s *scanner) run() error {
	stop := context.AfterFunc(s.ctx, func() {
		s.mu.Lock()
		s.cancelled = true
		s.mu.Unlock()
		s.cond.Broadcast()
	})
	defer stop()
	var wg sync.WaitGroup
	for range s.opt.Workers {
		wg.Go(s.work)
	}
	wg.Wait()
	s.mu.Lock()
	cancelled := s.cancelled
	s.mu.Unlock()
	if cancelled {
		return s.ctx.Err()
	}
	return nil
}

// work runs jobs until none is left.
func (s *scanner) work() {
	for {
		job, ok := s.next()
		if !ok {
			return
		}
		switch job.Entry.Kind {
		case tree.Dir:
			s.listDir(job)
		case tree.File:
			s.hashFile(job)
		case tree.Symlink:
			s.readLink(job)
		}
		s.done()
	}
}

// next waits for a job; ok is false when the scan is over or cancelled.
func (s *scanner) next() (job tree.Scanned, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.cancelled && len(s.leaves) == 0 && len(s.dirs) == 0 && s.pending > 0 {
		s.cond.Wait()
	}
	if s.ctx.Err() != nil {
		s.cancelled = true
	}
	if s.cancelled {
		return job, false
	}
	if q := &s.leaves; len(*q) > 0 {
		return pop(q), true
	}
	if q := &s.dirs; len(*q) > 0 {
		return pop(q), true
	}
	return job, false
}

// pop takes the last job of q.
func pop(q *[]tree.Scanned) tree.Scanned {
	n := len(*q) - 1
	job := (*q)[n]
	(*q)[n] = tree.Scanned{}
	*q = (*q)[:n]
	return job
}

// done marks a job finished and wakes every worker when none is left.
func (s *scanner) done() {
	s.mu.Lock()
	s.pending--
	last := s.pending == 0
	s.mu.Unlock()
	if last {
		s.cond.Broadcast()
	}
}

// push queues jobs for the workers.
func (s *scanner) push(leaves, dirs []tree.Scanned) {
	n := len(leaves) + len(dirs)
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.leaves = append(s.leaves, leaves...)
	s.dirs = append(s.dirs, dirs...)
	s.pending += n
	s.mu.Unlock()
	if n == 1 {
		s.cond.Signal()
	} else {
		s.cond.Broadcast()
	}
}

// listDir lists directory job and takes its children in; the directory
// itself is an entry only once it could be listed.
func (s *scanner) listDir(job tree.Scanned) {
	infos, err := s.r.ReadDir(job.Path)
	if err != nil {
		s.addProblem(Problem{Path: job.Path, Err: err})
		return
	}
	s.addOne(job)
	s.takeDir(job.Path, infos)
}

// batch is what one directory listing contributes.
type batch struct {
	entries  []tree.Scanned
	temps    []string
	problems []Problem
	leaves   []tree.Scanned
	dirs     []tree.Scanned
}

// takeDir sorts the children of dir into entries, temporaries, problems and
// further jobs.
func (s *scanner) takeDir(dir string, infos []Info) {
	b := batch{entries: make([]tree.Scanned, 0, s.filesToReuse(infos))}
	for i := range infos {
		s.takeChild(&b, dir, &infos[i])
	}
	s.add(b.entries, b.temps, b.problems)
	s.push(b.leaves, b.dirs)
}

// filesToReuse guesses how many of infos will be entries at once: the
// files, when recorded hashes may be reused or hashing is left to later.
func (s *scanner) filesToReuse(infos []Info) int {
	if s.opt.Known == nil && !s.opt.LazyHash {
		return 0
	}
	n := 0
	for i := range infos {
		if infos[i].Kind == tree.File {
			n++
		}
	}
	return n
}

// takeChild takes one child of dir into b.
func (s *scanner) takeChild(b *batch, dir string, info *Info) {
	sc, ok := s.admit(b, dir, info)
	if !ok {
		return
	}
	switch info.Kind {
	case tree.Dir:
		b.dirs = append(b.dirs, sc)
	case tree.Symlink:
		b.leaves = append(b.leaves, sc)
	case tree.File:
		s.takeFile(b, sc)
	}
}

// admit decides whether child info of dir is to be taken in, and returns
// its entry (without hash or target) when it is. A child it leaves out may
// leave a note in b: a Warning problem for an invalid name or a special
// file, a temporary for an internal name that is one. An ignored child
// leaves none.
func (s *scanner) admit(b *batch, dir string, info *Info) (tree.Scanned, bool) {
	sc, ok, prob, temp := s.opt.admit(dir, info)
	switch {
	case prob != nil:
		b.problems = append(b.problems, *prob)
	case temp != "":
		b.temps = append(b.temps, temp)
	}
	return sc, ok
}

// admit decides whether child info of dir is to be taken in, and returns
// its entry (without hash or target) when it is (ok). A child left out may
// come with a Warning problem (an invalid name, a special file, a reserved
// name when opt asks) or be a temporary of this scan's pair (temp is its
// path); an ignored child comes with neither.
func (opt *ScanOptions) admit(dir string, info *Info) (sc tree.Scanned, ok bool, prob *Problem, temp string) {
	p := tree.Join(dir, info.Name)
	if err := tree.ValidName(info.Name); err != nil {
		return sc, false, &Problem{Path: p, Err: fmt.Errorf("%q: %w", info.Name, err), Warning: true}, ""
	}
	if tree.Internal(p) {
		prob, temp := opt.internal(dir, p, info.Name)
		return sc, false, prob, temp
	}
	if opt.Ignore != nil && opt.Ignore(p, info.Kind == tree.Dir) {
		return sc, false, nil, ""
	}
	if info.Kind == tree.Absent {
		return sc, false, &Problem{Path: p, Err: errNotHandled, Warning: true}, ""
	}
	return scannedOf(p, info), true, nil, ""
}

// scannedOf is the entry at path p of a child listed as info (without hash
// or target).
func scannedOf(p string, info *Info) tree.Scanned {
	sc := tree.Scanned{
		Path:  p,
		Entry: tree.Entry{Kind: info.Kind, Perm: info.Perm},
		FP:    info.FP,
	}
	if info.Kind == tree.File {
		sc.Entry.Size, sc.Entry.MtimeNs = info.Size, info.MtimeNs
	}
	return sc
}

// internal tells what internal name p (name in dir) is: a temporary of
// this scan's pair (temp), a name that is not myrrorfs's (a Warning
// problem, when asked), or neither.
func (opt *ScanOptions) internal(dir, p, name string) (prob *Problem, temp string) {
	if m, ok := ParseTempName(name); ok {
		if opt.TempMarkers == nil || slices.Contains(opt.TempMarkers, m) {
			return nil, p
		}
		if m != "" {
			return nil, "" // another pair's
		}
	}
	if !opt.ReportReserved || (dir == "" && (name == tree.BackupDir || name == tree.MergedDir || tree.InTrash(p))) {
		return nil, ""
	}
	return &Problem{Path: p, Err: ErrReservedName, Warning: true}, ""
}

// takeFile takes file sc into b as an entry when its hash is known (or
// left unknown: LazyHash), else as a job to hash it.
func (s *scanner) takeFile(b *batch, sc tree.Scanned) {
	if s.reuse(&sc) || s.opt.LazyHash {
		b.entries = append(b.entries, sc)
	} else {
		b.leaves = append(b.leaves, sc)
	}
}

// feedBatch is how many listed entries the feeder takes in at a time.
const feedBatch = 1024

// feeder takes a TreeLister's entries in, a batch at a time, as the walk
// takes in listings. It runs on one goroutine.
type feeder struct {
	s    *scanner
	dirs map[string]bool // directories taken in: only their children are wanted
	b    batch
	n    int // entries seen since the last flush
}

// feed takes in everything tl lists and returns ListTree's error.
func (s *scanner) feed(tl TreeLister) error {
	f := &feeder{s: s, dirs: map[string]bool{"": true}}
	err := tl.ListTree(s.ctx, f.take)
	f.flush()
	return err
}

// take takes one listed entry in; one under a directory that was not taken
// in (ignored, internal, unlistable, or never listed) is dropped.
func (f *feeder) take(l Listed) error {
	if !f.dirs[l.Dir] {
		return nil
	}
	sc, ok := f.s.admit(&f.b, l.Dir, &l.Info)
	switch {
	case !ok:
	case l.Err != nil:
		f.b.problems = append(f.b.problems, Problem{Path: sc.Path, Err: l.Err})
	case l.Info.Kind == tree.Dir:
		f.dirs[sc.Path] = true
		f.b.entries = append(f.b.entries, sc)
	case l.Info.Kind == tree.Symlink:
		sc.Entry.Target = l.Target
		f.b.entries = append(f.b.entries, sc)
	case l.Info.Kind == tree.File:
		f.s.takeFile(&f.b, sc)
	}
	if f.n++; f.n == feedBatch {
		f.flush()
	}
	return nil
}

// flush hands the batch to the result and the workers.
func (f *feeder) flush() {
	f.s.add(f.b.entries, f.b.temps, f.b.problems)
	f.s.push(f.b.leaves, nil)
	f.b = batch{entries: make([]tree.Scanned, 0, feedBatch)}
	f.n = 0
}

// reuse sets sc's hash from Known when the recorded fingerprint is sc's own.
func (s *scanner) reuse(sc *tree.Scanned) bool {
	if s.opt.Known == nil {
		return false
	}
	fp, h, ok := s.opt.Known(sc.Path)
	if !ok || h.IsZero() || !tree.SameFile(fp, sc.FP) {
		return false
	}
	sc.Entry.Hash = h
	return true
}

// hashAttempts is how many times a file that changes while it is hashed
// is hashed before it is given up as a problem of its path.
const hashAttempts = 3

// hashRetryDelay is the pause before the second attempt (doubled before
// each further one).
var hashRetryDelay = 20 * time.Millisecond

// hashFile hashes file job and takes it in with the fingerprint seen while
// hashing. A file that changes while it is hashed is hashed again, a few
// times; then it is a problem of its path (the side is not empty for it).
func (s *scanner) hashFile(job tree.Scanned) {
	if err := HashScanned(s.ctx, s.r, &job); err != nil {
		s.addProblem(Problem{Path: job.Path, Err: err})
		return
	}
	size := job.FP.Size
	s.hashedBytes.Add(size)
	s.resMu.Lock()
	s.res.Hashed++
	s.res.HashedBytes += size
	s.resMu.Unlock()
	s.addOne(job)
}

// HashScanned hashes file sc.Path of r as Scan does and sets sc's hash,
// fingerprint, size, mtime and permission bits from what was read. A file
// that changes while it is hashed is hashed again, a few times, before the
// error (wrapping ErrChangedWhileReading) is returned; ctx ends the waits
// between attempts.
func HashScanned(ctx context.Context, r Replica, sc *tree.Scanned) error {
	h, fp, err := HashFile(r, sc.Path)
	for i, d := 1, hashRetryDelay; i < hashAttempts && errors.Is(err, ErrChangedWhileReading) && pause(ctx, d); i, d = i+1, d*2 {
		h, fp, err = HashFile(r, sc.Path)
	}
	if err != nil {
		return err
	}
	sc.FP = fp
	sc.Entry.Hash = h
	sc.Entry.Size, sc.Entry.MtimeNs = fp.Size, fp.MtimeNs
	if fp.Mode != 0 {
		sc.Entry.Perm = fp.Mode & 0o7777
	}
	return nil
}

// pause waits for d; false if ctx ended meanwhile.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// readLink reads the target of symlink job and takes it in.
func (s *scanner) readLink(job tree.Scanned) {
	target, err := s.r.Readlink(job.Path)
	if err != nil {
		s.addProblem(Problem{Path: job.Path, Err: err})
		return
	}
	job.Entry.Target = target
	s.addOne(job)
}

func (s *scanner) addProblem(p Problem) { s.add(nil, nil, []Problem{p}) }

// singlesBlock is how many single entries are gathered per allocation.
const singlesBlock = 1024

// addOne takes in one entry.
func (s *scanner) addOne(sc tree.Scanned) {
	s.resMu.Lock()
	if n := len(s.singles); n == 0 || len(s.singles[n-1]) == singlesBlock {
		s.singles = append(s.singles, make([]tree.Scanned, 0, singlesBlock))
	}
	last := &s.singles[len(s.singles)-1]
	*last = append(*last, sc)
	s.resMu.Unlock()
	s.entries.Add(1)
	s.progress(false)
}

// add takes in a directory's entries (kept as they are: the caller must not
// reuse the slice), temporaries and problems, and reports progress.
func (s *scanner) add(entries []tree.Scanned, temps []string, problems []Problem) {
	if len(entries)+len(temps)+len(problems) == 0 {
		return
	}
	s.resMu.Lock()
	if len(entries) > 0 {
		s.chunks = append(s.chunks, entries)
	}
	s.res.Temps = append(s.res.Temps, temps...)
	s.res.Problems = append(s.res.Problems, problems...)
	s.resMu.Unlock()
	s.entries.Add(int64(len(entries)))
	s.progress(false)
}

// progressEvery is the least time between two Progress calls.
const progressEvery = 100 * time.Millisecond

// progress calls opt.Progress if it is due (or forced), never twice at once.
func (s *scanner) progress(force bool) {
	if s.opt.Progress == nil {
		return
	}
	now := time.Now().UnixNano()
	if !force && now-s.lastProgress.Load() < int64(progressEvery) {
		return
	}
	if force {
		s.progressMu.Lock()
	} else if !s.progressMu.TryLock() {
		return
	}
	defer s.progressMu.Unlock()
	s.lastProgress.Store(now)
	s.opt.Progress(int(s.entries.Load()), s.hashedBytes.Load())
}

// finish sorts the result and makes the last Progress call.
func (s *scanner) finish() *ScanResult {
	// a copy, so that the result does not keep the scanner (and what its
	// options reference) alive
	res := new(ScanResult)
	*res = s.res
	res.Entries = s.flatten()
	slices.SortFunc(res.Entries, func(a, b tree.Scanned) int { return tree.Compare(a.Path, b.Path) })
	slices.SortFunc(res.Temps, tree.Compare)
	slices.SortFunc(res.Problems, func(a, b Problem) int { return tree.Compare(a.Path, b.Path) })
	s.progress(true)
	return res
}

// flatten gathers every entry into one slice of exactly the right size.
func (s *scanner) flatten() []tree.Scanned {
	s.chunks = append(s.chunks, s.singles...)
	s.singles = nil
	n := 0
	for _, c := range s.chunks {
		n += len(c)
	}
	all := make([]tree.Scanned, 0, n)
	for i, c := range s.chunks {
		all = append(all, c...)
		s.chunks[i] = nil
	}
	s.chunks = nil
	return all
}

// HashFile returns the BLAKE3-256 hash of regular file p and the
// fingerprint of the file that was read. It uses r's Hasher when r has one;
// otherwise it reads the file through Open between two Lstat calls and
// fails with ErrChangedWhileReading if their fingerprints differ.
func HashFile(r Replica, p string) (tree.Hash, tree.Fingerprint, error) {
	if h, ok := r.(Hasher); ok {
		return h.Hash(p)
	}
	before, err := r.Lstat(p)
	if err != nil {
		return tree.Hash{}, tree.Fingerprint{}, err
	}
	if before.Kind != tree.File {
		return tree.Hash{}, tree.Fingerprint{}, fmt.Errorf("hash %s in %s: %s, not a regular file", p, r, before.Kind)
	}
	sum, err := hashContent(r, p)
	if err != nil {
		return tree.Hash{}, tree.Fingerprint{}, err
	}
	after, err := r.Lstat(p)
	if err != nil {
		return tree.Hash{}, tree.Fingerprint{}, err
	}
	if after.FP != before.FP {
		return tree.Hash{}, tree.Fingerprint{}, fmt.Errorf("hash %s in %s: %w", p, r, ErrChangedWhileReading)
	}
	return sum, after.FP, nil
}

// hashContent reads p through Open and hashes it.
func hashContent(r Replica, p string) (tree.Hash, error) {
	rc, err := r.Open(p)
	if err != nil {
		return tree.Hash{}, err
	}
	h := blake3.New(32, nil)
	_, err = io.Copy(h, rc)
	cerr := rc.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return tree.Hash{}, fmt.Errorf("hash %s in %s: %w", p, r, err)
	}
	var sum tree.Hash
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
