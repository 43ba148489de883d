package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// ErrChanged marks a path left alone because it changed after the scan.
var ErrChanged = errors.New("changed since the scan; left alone until the next run")

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Progress, if set, is called with the number of bytes just copied.
	Progress func(n int64)
	// Now stamps the backup area of this run; zero means time.Now().
	Now time.Time
}

// Result tells what Apply did.
type Result struct {
	Applied   int                  // paths brought in step
	Bytes     int64                // file bytes copied between sides
	Renamed   int                  // files renamed on the target side instead of transferred
	Copied    int                  // files copied on the target side instead of transferred
	Conflicts []reconcile.Decision // conflicts left untouched
	Problems  []Problem            // paths that could not be brought in step
}

// InSync reports whether both sides ended identical.
func (r *Result) InSync() bool { return len(r.Conflicts) == 0 && r.Failed() == 0 }

// Failed counts problems that are errors, not warnings.
func (r *Result) Failed() int {
	n := 0
	for _, p := range r.Problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

// applier carries one Apply run.
type applier struct {
	p       *Pair
	plan    *Plan
	opt     ApplyOptions
	batch   *journal.Batch
	done    []bool // per row: the journal already has its new record
	removed []bool // per row: phase 1 removed the target's old entry

	mu         sync.Mutex
	res        Result
	failed     map[string]bool // directories that could not be made or removed
	pending    map[string]bool // directories waiting for the removal of what holds their place
	backups    [2]*backupArea
	renames    map[int]int                   // creation row -> deletion row made by a rename
	dirRenames map[int]int                   // the same for whole directories
	handled    []bool                        // per row: a step took it on
	staged     map[int]string                // row -> temporary holding its new content
	learned    map[int]tree.Hash             // row -> hash computed while copying a file the scan did not hash
	content    [2]map[tree.Hash]tree.Scanned // per side: a file for each content, built on demand
}

// Apply carries out the plan's decisions with the commit protocol. Conflicts
// and paths under them are left untouched. Per-path failures are collected
// in Result.Problems; the error is for failures of the run as a whole.
func (p *Pair) Apply(ctx context.Context, plan *Plan, opt ApplyOptions) (*Result, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	a := &applier{
		p: p, plan: plan, opt: opt,
		batch:      p.db.NewBatch(),
		done:       make([]bool, len(plan.Rows)),
		removed:    make([]bool, len(plan.Rows)),
		failed:     map[string]bool{},
		pending:    map[string]bool{},
		renames:    findRenames(plan.Rows, plan.Decisions),
		dirRenames: findDirRenames(plan.Rows, plan.Decisions),
		handled:    make([]bool, len(plan.Rows)),
		staged:     map[int]string{},
		learned:    map[int]tree.Hash{},
	}
	for to, from := range plan.Edits {
		a.renames[to] = from
	}
	a.backups = [2]*backupArea{newBackupArea(p.Local, opt.Now), newBackupArea(p.Remote, opt.Now)}
	for _, pr := range plan.Problems {
		a.res.Problems = append(a.res.Problems, pr)
	}
	a.res.Conflicts = plan.Conflicts()
	a.removeTemps()
	// Directories first; then every new content is staged in temporaries
	// before anything is renamed, replaced or removed, so that a copy made
	// on the target side never reads a file a later step changes, and
	// chains and cycles of renames never overwrite a file still needed.
	steps := []func(context.Context){a.dirRenameStep, a.mkdirs, a.stage, a.renameStep, a.install, a.removals, a.mkdirs, a.files}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			break
		}
		step(ctx)
		if err := a.batch.Flush(); err != nil {
			return &a.res, fmt.Errorf("write journal: %w", err)
		}
		a.batch = p.db.NewBatch()
	}
	a.removeStaleStaged()
	a.recordRest()
	if err := a.batch.Flush(); err != nil {
		return &a.res, fmt.Errorf("write journal: %w", err)
	}
	if err := p.db.Sync(); err != nil {
		return &a.res, fmt.Errorf("write journal: %w", err)
	}
	// What Apply wrote may keep a fingerprint the last scans saw with other
	// content (SFTP has whole-second mtimes and no inode numbers): the next
	// scan trusts the journal, which Apply kept up to date, instead.
	p.last = [2]*replica.ScanResult{}
	return &a.res, ctx.Err()
}

func backupStamp(t time.Time) string {
	return t.UTC().Format("20060102-150405") + "-" + randomHex()[:6]
}

// randomHex returns 16 random hex digits.
func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// move describes one decision that copies or deletes: from src to dst.
type move struct {
	i          int
	path       string
	src, dst   replica.Replica
	srcS, dstS tree.Scanned
	dstSide    Side
}

func (a *applier) move(i int) (move, bool) {
	d := a.plan.Decisions[i]
	if d.Under != "" || (d.Action != reconcile.ToRemote && d.Action != reconcile.ToLocal) {
		return move{}, false
	}
	r := a.plan.Rows[i]
	m := move{i: i, path: r.Path}
	if d.Action == reconcile.ToRemote {
		m.src, m.dst, m.srcS, m.dstS, m.dstSide = a.p.Local, a.p.Remote, r.Local, r.Remote, RemoteSide
	} else {
		m.src, m.dst, m.srcS, m.dstS, m.dstSide = a.p.Remote, a.p.Local, r.Remote, r.Local, LocalSide
	}
	return m, true
}

// moves returns the moves selected by keep, in tree order.
func (a *applier) moves(keep func(m move) bool) []move {
	var out []move
	for i := range a.plan.Rows {
		if m, ok := a.move(i); ok && keep(m) {
			out = append(out, m)
		}
	}
	return out
}

func (a *applier) problem(m move, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.res.Problems = append(a.res.Problems, Problem{Side: m.dstSide, Path: m.path, Err: err})
}

func (a *applier) failDir(m move, err error) {
	a.problem(m, err)
	a.mu.Lock()
	a.failed[m.path] = true
	a.mu.Unlock()
}

// blocked reports whether a directory above m failed, so m is skipped.
func (a *applier) blocked(m move) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	parent := tree.Parent(m.path)
	return m.path != "" && (len(a.failed) > 0 && coveredBy(a.failed, parent) || len(a.pending) > 0 && coveredBy(a.pending, parent))
}

// completed records that m's path is now the same on both sides.
func (a *applier) completed(m move, dstFP tree.Fingerprint) {
	if m.srcS.Entry.Kind == tree.File && m.srcS.Entry.Hash.IsZero() {
		a.mu.Lock()
		m.srcS.Entry.Hash = a.learned[m.i]
		a.mu.Unlock()
	}
	rec := journal.Record{Base: m.srcS.Entry}
	srcSide := journal.Side{FP: m.srcS.FP, Hash: fileHash(m.srcS.Entry)}
	dstSide := journal.Side{FP: dstFP, Hash: fileHash(m.srcS.Entry)}
	if m.dstSide == RemoteSide {
		rec.Local, rec.Remote = srcSide, dstSide
	} else {
		rec.Local, rec.Remote = dstSide, srcSide
	}
	if !m.srcS.Entry.Exists() {
		a.journalDelete(m.path)
	} else {
		a.journalPut(m.path, rec)
	}
	a.mu.Lock()
	a.done[m.i] = true
	a.res.Applied++
	a.mu.Unlock()
}

func fileHash(e tree.Entry) tree.Hash {
	if e.Kind == tree.File {
		return e.Hash
	}
	return tree.Hash{}
}

func (a *applier) journalPut(path string, rec journal.Record) {
	if err := a.batch.Put(path, rec); err != nil {
		a.mu.Lock()
		a.res.Problems = append(a.res.Problems, Problem{Path: path, Err: fmt.Errorf("journal: %w", err)})
		a.mu.Unlock()
	}
}

func (a *applier) journalDelete(path string) {
	if err := a.batch.Delete(path); err != nil {
		a.mu.Lock()
		a.res.Problems = append(a.res.Problems, Problem{Path: path, Err: fmt.Errorf("journal: %w", err)})
		a.mu.Unlock()
	}
}

// removeTemps deletes temporaries a crashed run left behind.
func (a *applier) removeTemps() {
	reps := [2]replica.Replica{a.p.Local, a.p.Remote}
	for s, temps := range a.plan.Temps {
		for _, t := range temps {
			reps[s].Remove(t)
		}
	}
}

// removeStaleStaged removes temporaries that were staged but never
// installed (their install was refused).
func (a *applier) removeStaleStaged() {
	for i, tmp := range a.staged {
		if !a.done[i] {
			m, _ := a.move(i)
			m.dst.Remove(tmp)
		}
	}
}

// parallel runs fn over ms with the pair's number of workers.
func (a *applier) parallel(ctx context.Context, ms []move, fn func(move)) {
	ch := make(chan move)
	var wg sync.WaitGroup
	for w := 0; w < a.p.workers && w < len(ms); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range ch {
				fn(m)
			}
		}()
	}
	for _, m := range ms {
		if ctx.Err() != nil {
			break
		}
		ch <- m
	}
	close(ch)
	wg.Wait()
}

// recordRest updates the journal for rows no step completed: equal paths
// get their agreed base, every path gets the fingerprints and hashes just
// seen so they are not hashed again.
func (a *applier) recordRest() {
	for i, r := range a.plan.Rows {
		if a.done[i] {
			continue
		}
		rec := r.Rec
		d := a.plan.Decisions[i]
		if d.Action == reconcile.Equal {
			if !r.Local.Entry.Exists() {
				if r.Rec != (journal.Record{}) {
					a.journalDelete(r.Path)
				}
				continue
			}
			if !sameRecordedBase(rec.Base, r.Local.Entry) {
				rec.Base = r.Local.Entry
			}
		}
		if a.removed[i] {
			rec.Base = tree.Entry{}
		}
		rec.Local = journal.Side{FP: r.Local.FP, Hash: fileHash(r.Local.Entry)}
		rec.Remote = journal.Side{FP: r.Remote.FP, Hash: fileHash(r.Remote.Entry)}
		if !r.Local.Entry.Exists() {
			rec.Local = journal.Side{}
		}
		if !r.Remote.Entry.Exists() {
			rec.Remote = journal.Side{}
		}
		if rec != r.Rec {
			a.journalPut(r.Path, rec)
		}
	}
}

// sameRecordedBase reports whether base already records e exactly enough
// (same result and same permission bits).
func sameRecordedBase(base, e tree.Entry) bool {
	return tree.Same(base, e) && base.Perm == e.Perm
}
