package engine

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// The merge walks the journal and both sides' scans together in path
// order (tree.Compare), one row per path. A file whose scan left its hash
// unknown takes the hash recorded for its side when its fingerprint is the
// recorded one; otherwise it is hashed then, by a pool of workers, while
// the merge goes on. Rows leave the merge in path order, once their hashes
// are in, and a plan keeps only those Apply has something to do with (see
// settled), unless it keeps every row (Options.AllRows, a mount). A side
// that is walked (replica.Walk) is never held whole in memory. With
// Options.Checksum nothing recorded is trusted: every file of a side
// scanned now is hashed (the remote's by download when no agent hashes
// them in place), so a row is settled only if its content is the base's.

// source is one side's scan in path order: entries, and the paths the
// scan could not take in (problems).
type source interface {
	// head returns the next path, with its entry or its problem.
	head() (path string, sc *tree.Scanned, prob *replica.Problem, ok bool)
	next()
}

// walkSource is a side being walked.
type walkSource struct{ w *replica.Walk }

func (s walkSource) head() (string, *tree.Scanned, *replica.Problem, bool) {
	it, ok := s.w.Peek()
	if !ok {
		return "", nil, nil, false
	}
	if it.Problem != nil {
		return it.Problem.Path, nil, it.Problem, true
	}
	return it.Scanned.Path, &it.Scanned, nil, true
}

func (s walkSource) next() { s.w.Next() }

// scanSource is a side scanned whole.
type scanSource struct {
	res  *replica.ScanResult
	i, j int // next entry, next problem
}

func (s *scanSource) head() (string, *tree.Scanned, *replica.Problem, bool) {
	es, ps := s.res.Entries, s.res.Problems
	switch {
	case s.i < len(es) && (s.j == len(ps) || tree.Compare(es[s.i].Path, ps[s.j].Path) < 0):
		return es[s.i].Path, &es[s.i], nil, true
	case s.j < len(ps):
		return ps[s.j].Path, nil, &ps[s.j], true
	}
	return "", nil, nil, false
}

func (s *scanSource) next() {
	es, ps := s.res.Entries, s.res.Problems
	if s.i < len(es) && (s.j == len(ps) || tree.Compare(es[s.i].Path, ps[s.j].Path) < 0) {
		s.i++
	} else {
		s.j++
	}
}

// mergeItem is one path on its way through the merge, or a problem of one
// side (prob), which leaves out the rows at and under its path.
type mergeItem struct {
	path string
	rec  tree.Record
	sc   [2]tree.Scanned // Kind Absent: nothing on that side
	err  [2]error        // the side's file could not be hashed
	prob *replica.Problem
	side Side // prob's
}

// mergeBatchSize is how many paths go through the merge together.
const mergeBatchSize = 256

// mergeBatch is a run of consecutive paths; wg counts its hash jobs.
type mergeBatch struct {
	items []mergeItem
	wg    sync.WaitGroup
}

// hashJob hashes one side's file of an item.
type hashJob struct {
	b    *mergeBatch
	it   *mergeItem
	side Side
}

// merger is the state of one merge.
type merger struct {
	p       *Pair
	ctx     context.Context
	reps    [2]replica.Replica
	src     [2]source
	prev    [2]*replica.ScanResult // a resident pair's previous scans, for their hashes
	fresh   [2]bool                // the side was scanned by this refresh (its unknown hashes may be filled in)
	hashIn  [2]bool                // unknown hashes of this side are computed (else left zero)
	rehash  [2]bool                // every file of this side is hashed, what is known of it ignored (Options.Checksum)
	compact bool                   // leave settled rows out of the plan
	keep    [2]*replica.ScanResult // a resident pair's fresh scans, rebuilt with their hashes

	// producer
	cur     *mergeBatch
	batches chan *mergeBatch
	free    chan *mergeBatch
	jobs    chan hashJob

	// hash workers
	hashed      [2]atomic.Int64
	hashedBytes [2]atomic.Int64

	// consumer
	plan     *Plan
	bad      map[string]bool // paths a scan could not take in
	probs    [2][]Problem    // each side's, in path order
	failed   map[string]bool // paths whose file could not be hashed
	filter   contentFilter
	lastProg time.Time
}

// merge merges the journal with each side's scan into plan.Rows (all of
// them with all, else see merger.compact), and sets the plan's problems
// and counts. fresh tells which sides this refresh
// scanned; a resident pair's fresh scans are rebuilt, with the hashes
// found, into keep.
func (p *Pair) merge(ctx context.Context, plan *Plan, src [2]source, prev [2]*replica.ScanResult, fresh [2]bool, all bool) (keep [2]*replica.ScanResult, err error) {
	m := &merger{
		p: p, ctx: ctx, plan: plan, src: src, prev: prev, fresh: fresh,
		reps:    [2]replica.Replica{p.Local, p.Remote},
		compact: !p.opt.Resident && !p.opt.AllRows && !all,
		batches: make(chan *mergeBatch, 8),
		free:    make(chan *mergeBatch, 10),
		jobs:    make(chan hashJob, 2*p.workers),
	}
	m.hashIn[LocalSide] = fresh[LocalSide]
	m.hashIn[RemoteSide] = fresh[RemoteSide] && (p.RemoteHashing() == HashInPlace || p.opt.Checksum)
	for s := range fresh {
		m.rehash[s] = fresh[s] && p.opt.Checksum
	}
	for s := range fresh {
		if fresh[s] && p.opt.Resident {
			m.keep[s] = &replica.ScanResult{}
		}
	}
	var workers sync.WaitGroup
	for range p.workers {
		workers.Go(m.hashWorker)
	}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for b := range m.batches {
			b.wg.Wait()
			for i := range b.items {
				m.take(&b.items[i])
				b.items[i] = mergeItem{}
			}
			b.items = b.items[:0]
			select {
			case m.free <- b:
			default:
			}
			m.progress(false)
		}
	}()
	err = p.db.LoadKeys(func(key []byte, rec tree.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m.emitBefore(key)
		m.emitAt(key, rec)
		return nil
	})
	if err == nil {
		m.emitBefore(nil)
	}
	m.flush()
	close(m.batches)
	<-consumed
	close(m.jobs)
	workers.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return keep, err
	}
	m.progress(true)
	for s := range m.probs {
		plan.Hashed[s] += int(m.hashed[s].Load())
		plan.HashedBytes[s] += m.hashedBytes[s].Load()
		for _, pr := range m.probs[s] {
			plan.Problems = append(plan.Problems, pr)
		}
		if k := m.keep[s]; k != nil {
			k.Hashed, k.HashedBytes = int(m.hashed[s].Load()), m.hashedBytes[s].Load()
		}
	}
	if m.compact {
		err = m.addCopySources()
	}
	return m.keep, err
}

// emitBefore emits the paths the scans hold before key (all that are left
// when key is nil), which the journal has no record of, and the problems
// at or before key.
func (m *merger) emitBefore(key []byte) {
	for {
		best, path, isProb := -1, "", false
		for s := range m.src {
			p, _, prob, ok := m.src[s].head()
			if !ok {
				continue
			}
			// the lowest path; a problem before an entry of the same path
			if c := tree.Compare(p, path); best < 0 || c < 0 || c == 0 && prob != nil && !isProb {
				best, path, isProb = s, p, prob != nil
			}
		}
		if best < 0 {
			return
		}
		if key != nil {
			if c := tree.CompareKey(path, key); c > 0 || c == 0 && !isProb {
				return
			}
		}
		if isProb {
			_, _, prob, _ := m.src[best].head()
			m.emit(mergeItem{path: path, prob: prob, side: Side(best)})
			m.src[best].next()
			continue
		}
		it := mergeItem{path: path}
		m.takeAt(&it, func(p string) bool { return p == path })
		m.emit(it)
	}
}

// takeAt moves into it each side's next entry whose path is at says so.
func (m *merger) takeAt(it *mergeItem, at func(string) bool) {
	for s := range m.src {
		if p, sc, prob, ok := m.src[s].head(); ok && prob == nil && at(p) {
			it.sc[s] = *sc
			it.path = p
			m.src[s].next()
		}
	}
}

// emitAt emits the path of key, with its journal record.
func (m *merger) emitAt(key []byte, rec tree.Record) {
	it := mergeItem{rec: rec}
	m.takeAt(&it, func(p string) bool { return tree.CompareKey(p, key) == 0 })
	if it.path == "" && len(key) > 0 {
		it.path = tree.PathFromKey(key)
	}
	m.emit(it)
}

// emit adds an item to the current batch and starts the hashing it needs.
func (m *merger) emit(it mergeItem) {
	b := m.cur
	if b == nil {
		select {
		case b = <-m.free:
		default:
			b = &mergeBatch{items: make([]mergeItem, 0, mergeBatchSize)}
		}
		m.cur = b
	}
	b.items = append(b.items, it)
	p := &b.items[len(b.items)-1]
	for s := range 2 {
		if p.prob == nil && m.needsHash(p, Side(s)) {
			b.wg.Add(1)
			m.jobs <- hashJob{b: b, it: p, side: Side(s)}
		}
	}
	if len(b.items) == mergeBatchSize {
		m.flush()
	}
}

// flush hands the current batch to the consumer.
func (m *merger) flush() {
	if m.cur != nil && len(m.cur.items) > 0 {
		m.batches <- m.cur
		m.cur = nil
	}
}

// needsHash fills in the hash of side s's file from what is known of it
// (the previous scan of a resident pair, else the journal) when its
// fingerprint is the known one, and reports whether it must be hashed.
// With Options.Checksum every file a fresh scan found is hashed, whatever
// is known of it.
func (m *merger) needsHash(it *mergeItem, s Side) bool {
	sc := &it.sc[s]
	if sc.Entry.Kind != tree.File || !sc.Entry.Hash.IsZero() {
		return false
	}
	if m.rehash[s] {
		return true
	}
	fp, h, ok := m.known(it, s)
	if ok && !h.IsZero() && tree.SameFile(fp, sc.FP) {
		sc.Entry.Hash = h
		return false
	}
	return m.hashIn[s]
}

// known returns what was last seen of an item's file on side s.
func (m *merger) known(it *mergeItem, s Side) (tree.Fingerprint, tree.Hash, bool) {
	if prev := m.prev[s]; prev != nil {
		m.p.mu.Lock() // learnRemote may be filling in a hash
		ps, ok := lookupScan(prev, it.path)
		m.p.mu.Unlock()
		if ok && ps.Entry.Kind == tree.File {
			return ps.FP, ps.Entry.Hash, true
		}
	}
	c := it.rec.Local
	if s == RemoteSide {
		c = it.rec.Remote
	}
	return c.FP, c.Hash, !c.Hash.IsZero()
}

// hashWorker hashes files until the jobs end.
func (m *merger) hashWorker() {
	for j := range m.jobs {
		sc := &j.it.sc[j.side]
		err := m.ctx.Err()
		if err == nil {
			err = replica.HashScanned(m.ctx, m.reps[j.side], sc)
		}
		if err != nil {
			j.it.err[j.side] = err
		} else {
			m.hashed[j.side].Add(1)
			m.hashedBytes[j.side].Add(sc.FP.Size)
		}
		j.b.wg.Done()
	}
}

// take receives the next item, in path order, with its hashes.
func (m *merger) take(it *mergeItem) {
	pl := m.plan
	if it.prob != nil {
		pr := *it.prob
		m.probs[it.side] = append(m.probs[it.side], Problem{Side: it.side, Path: pr.Path, Err: pr.Err, Warning: pr.Warning})
		pl.Counts[it.side]++
		if k := m.keep[it.side]; k != nil {
			k.Problems = append(k.Problems, pr)
		}
		if m.bad == nil {
			m.bad = map[string]bool{}
		}
		m.bad[it.path] = true
		return
	}
	if it.rec.Base.Exists() {
		pl.BaseCount++
	}
	failed := false
	for s := range 2 {
		if !it.sc[s].Entry.Exists() {
			continue
		}
		// a path the scan could not take in is still there: a side
		// whose only file changed while hashed is not empty
		pl.Counts[s]++
		k := m.keep[s]
		if it.err[s] != nil {
			m.probs[s] = append(m.probs[s], Problem{Side: Side(s), Path: it.path, Err: it.err[s]})
			if k != nil {
				k.Problems = append(k.Problems, replica.Problem{Path: it.path, Err: it.err[s]})
			}
			failed = true
		} else if k != nil {
			k.Entries = append(k.Entries, it.sc[s]) // with its hash, for the next scan
		}
	}
	if failed {
		if m.failed == nil {
			m.failed = map[string]bool{}
		}
		m.failed[it.path] = true
		return
	}
	if m.bad != nil && coveredBy(m.bad, it.path) {
		return
	}
	row := Row{Path: it.path, Rec: it.rec, Local: it.sc[LocalSide], Remote: it.sc[RemoteSide]}
	row.Local.Path, row.Remote.Path = it.path, it.path
	if m.compact && settled(&row) {
		pl.Settled++
		if row.Rec.Base.Kind != tree.Dir {
			pl.settledFiles++
		}
		if e := row.Local.Entry; e.Kind == tree.File && e.Size > 0 {
			m.filter.add(e.Hash)
		}
		return
	}
	pl.Rows = append(pl.Rows, row)
}

// settled reports whether Apply has nothing to do with row r whatever
// the other rows hold: both sides hold what the base records (with the
// base's permission bits on the local side) and the journal holds the
// fingerprints and hashes just seen. Such a row is decided equal, lies
// under no conflict (its parent directories are directories on both
// sides, hence equal), and Apply writes no journal record for it (see
// recordRest). A plan may leave it out.
func settled(r *Row) bool {
	l, rm := r.Local.Entry, r.Remote.Entry
	if !l.Exists() || !rm.Exists() {
		return false
	}
	b := r.Rec.Base
	return sameRecordedBase(b, l) && tree.Same(b, rm) &&
		r.Rec.Local == (tree.Cached{FP: r.Local.FP, Hash: fileHash(l)}) &&
		r.Rec.Remote == (tree.Cached{FP: r.Remote.FP, Hash: fileHash(rm)})
}

// progress reports the hashing done so far, at most every progressEvery
// (unless forced).
func (m *merger) progress(force bool) {
	if m.p.opt.ScanProgress == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(m.lastProg) < progressEvery {
		return
	}
	m.lastProg = now
	for s := range 2 {
		if m.fresh[s] && m.hashIn[s] {
			m.p.reportProgress(Side(s), -1, m.hashedBytes[s].Load())
		}
	}
}

// progressEvery is the least time between two progress reports.
const progressEvery = 100 * time.Millisecond

// contentFilter tells, with few false positives, whether a content hash is
// among those added: a Bloom filter of 2^23 bits keyed by two 32-bit
// slices of the (uniformly random) hash, allocated on first use.
type contentFilter struct{ bits []uint64 }

const contentFilterBits = 1 << 23

func (f *contentFilter) add(h tree.Hash) {
	if f.bits == nil {
		f.bits = make([]uint64, contentFilterBits/64)
	}
	for _, k := range f.keys(h) {
		f.bits[k/64] |= 1 << (k % 64)
	}
}

func (f *contentFilter) has(h tree.Hash) bool {
	if f.bits == nil {
		return false
	}
	for _, k := range f.keys(h) {
		if f.bits[k/64]&(1<<(k%64)) == 0 {
			return false
		}
	}
	return true
}

func (f *contentFilter) keys(h tree.Hash) [2]uint32 {
	return [2]uint32{
		binary.LittleEndian.Uint32(h[0:]) % contentFilterBits,
		binary.LittleEndian.Uint32(h[4:]) % contentFilterBits,
	}
}

// addCopySources brings back into a compact plan the settled files whose
// content a kept row holds: Apply makes a file whose content the target
// side holds already by a copy there (see copyOnTarget) and looks for that
// content among the plan's rows. A settled row is rebuilt from its journal
// record, which holds what the scans saw of it.
func (m *merger) addCopySources() error {
	pl := m.plan
	_, lc := m.p.Local.(replica.Copier)
	_, rc := m.p.Remote.(replica.Copier)
	if !lc && !rc {
		return nil
	}
	wanted := map[tree.Hash]bool{}
	for i := range pl.Rows {
		for _, e := range []tree.Entry{pl.Rows[i].Local.Entry, pl.Rows[i].Remote.Entry} {
			if e.Kind == tree.File && e.Size > 0 && m.filter.has(e.Hash) {
				wanted[e.Hash] = true
			}
		}
	}
	if len(wanted) == 0 {
		return nil
	}
	var extra []Row
	k := 0 // the first kept row not before the current record
	err := m.p.db.LoadKeys(func(key []byte, rec tree.Record) error {
		for k < len(pl.Rows) && tree.CompareKey(pl.Rows[k].Path, key) < 0 {
			k++
		}
		if k < len(pl.Rows) && tree.CompareKey(pl.Rows[k].Path, key) == 0 {
			return nil
		}
		if rec.Base.Kind != tree.File || rec.Base.Size == 0 || !wanted[rec.Base.Hash] {
			return nil
		}
		path := tree.PathFromKey(key)
		if m.bad != nil && coveredBy(m.bad, path) || m.failed[path] {
			return nil
		}
		row := Row{Path: path, Rec: rec,
			Local:  recordedScan(path, rec.Base, rec.Local),
			Remote: recordedScan(path, rec.Base, rec.Remote)}
		if settled(&row) {
			extra = append(extra, row)
		}
		return nil
	})
	if err != nil || len(extra) == 0 {
		return err
	}
	rows := make([]Row, 0, len(pl.Rows)+len(extra))
	i, j := 0, 0
	for i < len(pl.Rows) || j < len(extra) {
		if j == len(extra) || i < len(pl.Rows) && tree.Compare(pl.Rows[i].Path, extra[j].Path) < 0 {
			rows = append(rows, pl.Rows[i])
			i++
		} else {
			rows = append(rows, extra[j])
			j++
		}
	}
	pl.Rows = rows
	pl.Settled -= len(extra)
	pl.settledFiles -= len(extra)
	return nil
}

// recordedScan is what a scan saw of a settled file whose record holds
// base and, for its side, c.
func recordedScan(path string, base tree.Entry, c tree.Cached) tree.Scanned {
	e := tree.Entry{Kind: base.Kind, Perm: base.Perm, Size: base.Size, MtimeNs: c.FP.MtimeNs, Hash: c.Hash}
	if c.FP.Mode != 0 {
		e.Perm = c.FP.Mode & 0o7777
	}
	return tree.Scanned{Path: path, Entry: e, FP: c.FP}
}
