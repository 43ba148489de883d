package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/ops"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// ErrChanged marks a path left alone because it changed after the scan.
var ErrChanged = replica.ErrChanged

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Progress, if set, is called with the number of bytes just copied.
	Progress func(n int64)
	// Now stamps the backup area of this run and its history entry; zero
	// means time.Now().
	Now time.Time
	// Command names the run in the pair's history: CommandSync (the
	// default), CommandCommit or CommandWatch.
	Command string
}

// Result tells what Apply did.
type Result struct {
	Applied   int                  // paths brought in step
	Bytes     int64                // file bytes copied between sides
	Renamed   int                  // files and directories renamed on the target side instead of transferred
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

// State of an operation during a run.
type opState uint8

const (
	opPending opState = iota
	opDone
	opFailed  // it ran and failed: nothing changed
	opSkipped // a dependency did not complete, so it did not run
)

// executor carries out one plan's operations (see package ops): in waves,
// each running every ready operation of the lowest class, skipping every
// operation whose dependency did not complete.
type executor struct {
	p       *Pair
	plan    *Plan
	opt     ApplyOptions
	reps    [2]replica.Replica
	backups [2]*backupArea
	batch   *journal.Batch

	mu        sync.Mutex
	res       Result
	state     []opState
	temps     map[int]string                // Stage op -> its temporary
	learned   map[int]tree.Hash             // Stage op -> hash computed while copying a file the scan did not hash
	installed map[int]replica.Info          // Install op -> what its path became, when the install said
	installOf map[int]int                   // Stage op -> the Install op of its temporary
	leaving   [2]map[string]bool            // per side: paths, lower-cased, that a rename or removal empties
	large     chan struct{}                 // one token per transfer of a file larger than replica.MaxSmall
	rowDone   []bool                        // rows brought in step
	touched   []bool                        // rows whose path an op changed without bringing it in step
	content   [2]map[tree.Hash]tree.Scanned // per side: a file for each content, built on demand
}

// Apply carries out the plan's operations with the commit protocol.
// Conflicts and paths under them are left untouched. Per-path failures are
// collected in Result.Problems; the error is for failures of the run as a
// whole.
func (p *Pair) Apply(ctx context.Context, plan *Plan, opt ApplyOptions) (*Result, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	mergeProbs := p.applyMerges(plan, opt.Now)
	e := &executor{
		p: p, plan: plan, opt: opt,
		reps:      [2]replica.Replica{p.Local, p.Remote},
		batch:     p.db.NewBatch(),
		state:     make([]opState, len(plan.Ops)),
		temps:     map[int]string{},
		learned:   map[int]tree.Hash{},
		installed: map[int]replica.Info{},
		installOf: map[int]int{},
		large:     make(chan struct{}, p.workers),
		rowDone:   make([]bool, len(plan.Rows)),
		touched:   make([]bool, len(plan.Rows)),
	}
	defer func() { e.batch.Cancel() }() // the batch commitWave started last
	e.leaving = [2]map[string]bool{{}, {}}
	for k, op := range plan.Ops {
		switch op.Kind {
		case ops.Install:
			e.installOf[op.Deps[0]] = k
		case ops.Rename:
			e.leaving[op.Side][strings.ToLower(op.From)] = true
		case ops.Remove:
			e.leaving[op.Side][strings.ToLower(op.Path)] = true
		}
	}
	e.backups = [2]*backupArea{newBackupArea(p.Local, opt.Now), newBackupArea(p.Remote, opt.Now)}
	e.res.Problems = append(e.res.Problems, plan.Problems...)
	e.res.Problems = append(e.res.Problems, mergeProbs...)
	e.res.Conflicts = plan.Conflicts()
	e.removeTemps()
	var err error
	for ctx.Err() == nil {
		wave := e.next()
		if len(wave) == 0 {
			break
		}
		e.parallel(ctx, wave, e.run)
		if err = e.commitWave(); err != nil {
			break
		}
	}
	e.removeStaleTemps()
	if err == nil {
		e.recordRest()
		err = e.commitWave()
	}
	if err == nil {
		if serr := p.db.Sync(); serr != nil {
			err = fmt.Errorf("write journal: %w", serr)
		}
	}
	// What Apply wrote may keep a fingerprint the last scans saw with other
	// content (SFTP has whole-second mtimes and no inode numbers): the next
	// scan trusts the journal, which Apply kept up to date, instead.
	p.mu.Lock()
	p.last = [2]*replica.ScanResult{}
	p.gen++
	p.mu.Unlock()
	if err == nil {
		p.pruneBases()
		err = ctx.Err()
	}
	p.recordRun(e, err)
	return &e.res, err
}

// next marks the operations whose dependencies failed as skipped, and
// returns the ready operations (every dependency done) of the lowest class.
func (e *executor) next() []int {
	ops := e.plan.Ops
	for changed := true; changed; {
		changed = false
		for k := range ops {
			if e.state[k] != opPending {
				continue
			}
			for _, d := range ops[k].Deps {
				if e.state[d] == opFailed || e.state[d] == opSkipped {
					e.skip(k, d)
					changed = true
					break
				}
			}
		}
	}
	var ready []int
	class := -1
	for k := range ops {
		if e.state[k] != opPending || !e.depsDone(k) {
			continue
		}
		c := ops[k].Kind.Class()
		switch {
		case class < 0 || c < class:
			class, ready = c, append(ready[:0], k)
		case c == class:
			ready = append(ready, k)
		}
	}
	return ready
}

func (e *executor) depsDone(k int) bool {
	for _, d := range e.plan.Ops[k].Deps {
		if e.state[d] != opDone {
			return false
		}
	}
	return true
}

// skip marks op k skipped because of op d; a skipped op that would have
// brought a path in step is reported, unless what it waited for is on the
// same path (that failure is reported already).
func (e *executor) skip(k, d int) {
	e.state[k] = opSkipped
	op, dep := &e.plan.Ops[k], &e.plan.Ops[d]
	if len(op.Done) > 0 && (dep.Path != op.Path || dep.Side != op.Side) {
		e.res.Problems = append(e.res.Problems, Problem{Side: op.Side, Path: op.Path,
			Err: fmt.Errorf("left as it was: it waits for the %s of %s on the %s side, which did not complete", dep.Kind, orRoot(dep.Path), dep.Side)})
	}
}

func orRoot(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// run runs op k and records its outcome; a Stage op with a fusable
// Install runs and records both.
func (e *executor) run(k int) {
	op := &e.plan.Ops[k]
	if i, ok := e.fusable(k, op); ok {
		err := e.putNew(k, i, op)
		e.finish(k, op, err)
		if err == nil {
			e.finish(i, &e.plan.Ops[i], nil)
		}
		return
	}
	e.finish(k, op, e.do(k, op))
}

// finish records the outcome err of op k.
func (e *executor) finish(k int, op *ops.Op, err error) {
	var stats [][2]replica.Info
	if err == nil {
		stats = e.stats(k, op) // before taking the lock: these are round trips
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.state[k] = opFailed
		e.res.Problems = append(e.res.Problems, Problem{Side: op.Side, Path: op.Path, Err: err})
		return
	}
	e.state[k] = opDone
	if op.Kind == ops.Stage {
		return
	}
	if op.Kind == ops.Rename {
		e.res.Renamed++
	}
	rowDone := false
	for i, d := range op.Done {
		e.record(k, op, d, stats[i])
		rowDone = rowDone || d.Row == op.Row
	}
	if !rowDone && !e.rowDone[op.Row] {
		// The path changed but is not in step yet (an old entry of
		// another kind was removed): should the run stop here, the next
		// one must not take the old base for agreed.
		e.touched[op.Row] = true
		rec := e.plan.Rows[op.Row].Rec
		rec.Base = tree.Entry{}
		e.put(op.Row, rec)
	}
}

// stats reads the fingerprints op's Done entries want recorded (those of
// the paths it wrote).
func (e *executor) stats(k int, op *ops.Op) [][2]replica.Info {
	out := make([][2]replica.Info, len(op.Done))
	e.mu.Lock()
	known, ok := e.installed[k]
	e.mu.Unlock()
	for i, d := range op.Done {
		for s := range e.reps {
			if ok && s == int(op.Side) && d.Row == op.Row {
				out[i][s] = known
				continue
			}
			if d.Stat[s] {
				info, err := e.reps[s].Lstat(e.plan.Rows[d.Row].Path)
				if err != nil {
					info = replica.Info{} // not known: the next scan hashes it again
				}
				out[i][s] = info
			}
		}
	}
	return out
}

// record writes the journal record of a row an op brought in step, with
// the fingerprints stats read. The caller holds e.mu.
func (e *executor) record(k int, op *ops.Op, d ops.Done, stat [2]replica.Info) {
	r := &e.plan.Rows[d.Row]
	e.rowDone[d.Row] = true
	e.res.Applied++
	if !d.Base.Exists() {
		if err := e.batch.Delete(r.Path); err != nil {
			e.res.Problems = append(e.res.Problems, Problem{Path: r.Path, Err: fmt.Errorf("journal: %w", err)})
		}
		return
	}
	base := d.Base
	if base.Kind == tree.File && base.Hash.IsZero() && op.Kind == ops.Install {
		base.Hash = e.learned[op.Deps[0]]
	}
	rec := tree.Record{Base: base}
	for s := range e.reps {
		fp := r.On(Side(s)).FP
		switch {
		case d.Stat[s]:
			fp = stat[s].FP
		case d.Moved >= 0 && !r.On(Side(s)).Entry.Exists():
			fp = e.plan.Rows[d.Moved].On(Side(s)).FP
		}
		c := tree.Cached{FP: fp, Hash: fileHash(base)}
		if s == int(LocalSide) {
			rec.Local = c
		} else {
			rec.Remote = c
		}
	}
	e.put(d.Row, rec)
}

// put writes a row's record into the batch. The caller holds e.mu.
func (e *executor) put(row int, rec tree.Record) {
	if err := e.batch.Put(e.plan.Rows[row].Path, rec); err != nil {
		e.res.Problems = append(e.res.Problems, Problem{Path: e.plan.Rows[row].Path, Err: fmt.Errorf("journal: %w", err)})
	}
}

// commitWave writes the journal records of a wave. What the wave wrote is
// durable already (every replica operation is, when it returns), so the
// journal never records as synced a path whose content or directory entry
// could still be lost.
func (e *executor) commitWave() error {
	if err := e.batch.Flush(); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	e.batch = e.p.db.NewBatch()
	return nil
}

func fileHash(e tree.Entry) tree.Hash {
	if e.Kind == tree.File {
		return e.Hash
	}
	return tree.Hash{}
}

func backupStamp(t time.Time) string {
	return t.UTC().Format(stampLayout) + "-" + randomHex()[:6]
}

// randomHex returns 16 random hex digits.
func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// removeTemps deletes the temporaries a crashed run of this pair left
// behind: only names of the exact form this pair gives its temporaries
// (the scan reports nothing else, and each name is checked again here).
func (e *executor) removeTemps() {
	for s, temps := range e.plan.Temps {
		own := e.p.tempMarkers(e.reps[s])
		for _, t := range temps {
			if m, ok := replica.ParseTempName(tree.Base(t)); ok && slices.Contains(own, m) {
				e.reps[s].Remove(t)
			}
		}
	}
}

// removeStaleTemps removes the temporaries staged but never installed.
func (e *executor) removeStaleTemps() {
	installed := map[int]bool{}
	for k, op := range e.plan.Ops {
		if op.Kind == ops.Install && e.state[k] == opDone {
			installed[op.Deps[0]] = true
		}
	}
	for k, tmp := range e.temps {
		if !installed[k] {
			e.reps[e.plan.Ops[k].Side].Remove(tmp)
		}
	}
}

// parallel runs fn over ks, as many at once as each op's side allows:
// the pair's number of workers on a local side, more across a link with
// latency (see replica.Pipelined), where an operation waits on round
// trips, not on a CPU or a disk, so that a sync of many small files takes
// as many round trips as it has files divided by how many are in flight.
func (e *executor) parallel(ctx context.Context, ks []int, fn func(int)) {
	var slots [2]chan struct{}
	for s, r := range e.reps {
		n := e.p.workers
		if pl, ok := r.(replica.Pipelined); ok {
			n = max(n, pl.InFlight())
		}
		slots[s] = make(chan struct{}, n)
	}
	do := func(k int) {
		s := e.plan.Ops[k].Side
		slots[s] <- struct{}{}
		defer func() { <-slots[s] }()
		fn(k)
	}
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < cap(slots[0])+cap(slots[1]) && w < len(ks); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range ch {
				do(k)
			}
		}()
	}
	for _, k := range ks {
		if ctx.Err() != nil {
			break
		}
		ch <- k
	}
	close(ch)
	wg.Wait()
}

// recordRest updates the journal for rows no op brought in step: equal
// paths get their agreed base, every path gets the fingerprints and hashes
// just seen so they are not hashed again.
func (e *executor) recordRest() {
	for i, r := range e.plan.Rows {
		if e.rowDone[i] {
			continue
		}
		rec := r.Rec
		d := e.plan.Decisions[i]
		if d.Action == reconcile.Equal {
			if !r.Local.Entry.Exists() {
				if r.Rec != (tree.Record{}) {
					if err := e.batch.Delete(r.Path); err != nil {
						e.res.Problems = append(e.res.Problems, Problem{Path: r.Path, Err: fmt.Errorf("journal: %w", err)})
					}
				}
				continue
			}
			if !sameRecordedBase(rec.Base, r.Local.Entry) {
				rec.Base = r.Local.Entry
			}
		}
		if e.touched[i] {
			rec.Base = tree.Entry{}
		}
		rec.Local = tree.Cached{FP: r.Local.FP, Hash: fileHash(r.Local.Entry)}
		rec.Remote = tree.Cached{FP: r.Remote.FP, Hash: fileHash(r.Remote.Entry)}
		if !r.Local.Entry.Exists() {
			rec.Local = tree.Cached{}
		}
		if !r.Remote.Entry.Exists() {
			rec.Remote = tree.Cached{}
		}
		if rec != r.Rec {
			e.put(i, rec)
		}
	}
}

// sameRecordedBase reports whether base already records e exactly enough
// (same result and same permission bits).
func sameRecordedBase(base, e tree.Entry) bool {
	return tree.Same(base, e) && base.Perm == e.Perm
}
