package engine

import (
	"context"
	"encoding/binary"
	"slices"
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
// settled), unless it keeps every row (Options.AllRows, a mount).

// mergeItem is one path on its way through the merge.
type mergeItem struct {
	path string
	rec  tree.Record
	sc   [2]tree.Scanned // Kind Absent: nothing on that side
	at   [2]int32        // position in the side's scan, or -1
	err  [2]error        // the side's file could not be hashed
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
	scans   [2]*replica.ScanResult
	prev    [2]*replica.ScanResult // a resident pair's previous scans, for their hashes
	fresh   [2]bool                // the scan was made by this refresh (its hashes may be filled in)
	hashIn  [2]bool                // unknown hashes of this side are computed (else left zero)
	compact bool                   // leave settled rows out of the plan

	// producer
	next    [2]int
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
	failed   [2][]int32      // scan positions of files that could not be hashed
	hashProb [2][]replica.Problem
	filter   contentFilter
	lastProg time.Time
}

// merge merges the journal with scans (whose problems are not in bad) into
// plan.Rows. fresh tells which scans this refresh made.
func (p *Pair) merge(ctx context.Context, plan *Plan, scans, prev [2]*replica.ScanResult, fresh [2]bool) error {
	m := &merger{
		p: p, ctx: ctx, plan: plan, scans: scans, prev: prev, fresh: fresh,
		reps:    [2]replica.Replica{p.Local, p.Remote},
		compact: !p.opt.Resident && !p.opt.AllRows,
		batches: make(chan *mergeBatch, 8),
		free:    make(chan *mergeBatch, 10),
		jobs:    make(chan hashJob, 2*p.workers),
	}
	m.hashIn[LocalSide] = fresh[LocalSide]
	m.hashIn[RemoteSide] = fresh[RemoteSide] && p.RemoteHashing() == HashInPlace
	for s := range scans {
		for _, pr := range scans[s].Problems {
			if m.bad == nil {
				m.bad = map[string]bool{}
			}
			m.bad[pr.Path] = true
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
	err := p.db.LoadKeys(func(key []byte, rec tree.Record) error {
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
		return err
	}
	m.progress(true)
	m.finishScans()
	if m.compact {
		return m.addCopySources()
	}
	return nil
}

// peek returns the path of the next entry of side s's scan.
func (m *merger) peek(s int) (string, bool) {
	es := m.scans[s].Entries
	if m.next[s] < len(es) {
		return es[m.next[s]].Path, true
	}
	return "", false
}

// takeScan moves side s's next entry into it.
func (m *merger) takeScan(it *mergeItem, s int) {
	k := m.next[s]
	it.sc[s] = m.scans[s].Entries[k]
	it.at[s] = int32(k)
	m.next[s]++
}

// emitBefore emits the scanned paths that come before key (all that are
// left when key is nil), which the journal has no record of.
func (m *merger) emitBefore(key []byte) {
	for {
		lp, lok := m.peek(int(LocalSide))
		rp, rok := m.peek(int(RemoteSide))
		path := lp
		switch {
		case !lok && !rok:
			return
		case !lok || rok && tree.Compare(rp, lp) < 0:
			path = rp
		}
		if key != nil && tree.CompareKey(path, key) >= 0 {
			return
		}
		it := mergeItem{path: path, at: [2]int32{-1, -1}}
		if lok && lp == path {
			m.takeScan(&it, int(LocalSide))
		}
		if rok && rp == path {
			m.takeScan(&it, int(RemoteSide))
		}
		m.emit(it)
	}
}

// emitAt emits the path of key, with its journal record.
func (m *merger) emitAt(key []byte, rec tree.Record) {
	it := mergeItem{rec: rec, at: [2]int32{-1, -1}}
	for s := range 2 {
		if p, ok := m.peek(s); ok && tree.CompareKey(p, key) == 0 {
			m.takeScan(&it, s)
			it.path = p
		}
	}
	if it.sc[LocalSide].Entry.Kind == tree.Absent && it.sc[RemoteSide].Entry.Kind == tree.Absent {
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
		if m.needsHash(p, Side(s)) {
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
func (m *merger) needsHash(it *mergeItem, s Side) bool {
	sc := &it.sc[s]
	if sc.Entry.Kind != tree.File || !sc.Entry.Hash.IsZero() {
		return false
	}
	fp, h, ok := m.known(it, s)
	if ok && !h.IsZero() && fp == sc.FP {
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
	if it.rec.Base.Exists() {
		pl.BaseCount++
	}
	failed := false
	for s := range 2 {
		if it.err[s] != nil {
			m.hashProb[s] = append(m.hashProb[s], replica.Problem{Path: it.path, Err: it.err[s]})
			m.failed[s] = append(m.failed[s], it.at[s])
			failed = true
		}
	}
	if failed || m.bad != nil && coveredBy(m.bad, it.path) {
		return
	}
	for s := range 2 {
		if at := it.at[s]; m.fresh[s] && at >= 0 {
			m.scans[s].Entries[at] = it.sc[s] // with its hash, for a resident pair's next scan
		}
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
	f := m.p.opt.ScanProgress
	if f == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(m.lastProg) < progressEvery {
		return
	}
	m.lastProg = now
	for s := range 2 {
		if m.fresh[s] {
			f(Side(s), len(m.scans[s].Entries)+len(m.scans[s].Problems), m.hashedBytes[s].Load())
		}
	}
}

// progressEvery is the least time between two progress reports.
const progressEvery = 100 * time.Millisecond

// finishScans makes each fresh scan what a scan that hashed as it went
// would have been: hashes counted, and files that could not be hashed
// taken out of its entries and made problems of their paths. Counts and
// Hashed of the plan are set from the scans.
func (m *merger) finishScans() {
	for s, r := range m.scans {
		// a path the scan could not take in is still there: a side
		// whose only file changed while hashed is not empty
		m.plan.Counts[s] = len(r.Entries) + len(r.Problems)
		if !m.fresh[s] {
			m.plan.Hashed[s] = r.Hashed
			continue
		}
		r.Hashed += int(m.hashed[s].Load())
		r.HashedBytes += m.hashedBytes[s].Load()
		m.plan.Hashed[s] = r.Hashed
		if len(m.failed[s]) == 0 {
			continue
		}
		if m.p.opt.Resident {
			gone := map[int32]bool{}
			for _, at := range m.failed[s] {
				gone[at] = true
			}
			kept := r.Entries[:0]
			for i, e := range r.Entries {
				if !gone[int32(i)] {
					kept = append(kept, e)
				}
			}
			clear(r.Entries[len(kept):])
			r.Entries = kept
		}
		r.Problems = append(r.Problems, m.hashProb[s]...)
		slices.SortStableFunc(r.Problems, func(a, b replica.Problem) int { return tree.Compare(a.Path, b.Path) })
	}
}

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
		if m.bad != nil && coveredBy(m.bad, path) || m.hashFailed(path) {
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

// hashFailed reports whether path is one whose file could not be hashed.
func (m *merger) hashFailed(path string) bool {
	for s := range m.hashProb {
		for _, pr := range m.hashProb[s] {
			if pr.Path == path {
				return true
			}
		}
	}
	return false
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
