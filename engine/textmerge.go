package engine

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/merge3"
	"github.com/myrrorfs/myrrorfs/ops"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// Three-way merges of text conflicts. A file myrrorfs copies from one side
// to the other that is text and at most the merge limit in size has its
// content kept in the pair's base store (journal.Bases) under its hash,
// which is the hash of the base the copy records. When both sides later
// modify it differently, the base content is known: the scan merges the
// two versions (merge3, git merge-file's rules). A clean merge is carried
// out by Apply like a resolution made in the view: the merged text
// replaces the local version (which goes to the local backup area), the
// path's base moves to the remote version, and the merged text then goes
// to the remote like any local change (the remote version to the remote
// backup area). A crash between the two steps leaves a conflict whose
// merge is the merged text itself.

// DefaultMergeLimit is the size of the largest file merged (and whose base
// content is kept).
const DefaultMergeLimit = 1 << 20

// Merge is the three-way merge of a modify/modify conflict on a text file.
type Merge struct {
	Path string
	// Data is the merged text, with conflict markers when Conflicts > 0.
	Data      []byte
	Conflicts int
}

// Clean reports whether the merge needs no one to look at it.
func (m *Merge) Clean() bool { return m.Conflicts == 0 }

// merging reports whether the pair merges text conflicts.
func (p *Pair) merging() bool { return !p.opt.NoMerge }

// mergeLimit is the pair's merge limit.
func (p *Pair) mergeLimit() int64 {
	if p.opt.MergeLimit > 0 {
		return p.opt.MergeLimit
	}
	return DefaultMergeLimit
}

// bases returns the pair's base store.
func (p *Pair) bases() *journal.Bases { return p.db.Bases() }

// keepBase stores data, the content of hash h about to become a base,
// when it is text the pair would merge. Failures only cost a merge.
func (p *Pair) keepBase(h tree.Hash, data []byte) {
	if !p.merging() || int64(len(data)) > p.mergeLimit() || !merge3.IsText(data) {
		return
	}
	p.bases().Put(h, data)
}

// pruneBases drops, about once a day, the stored base contents no base of
// the journal holds any more (and the oldest beyond the store's limit).
func (p *Pair) pruneBases() {
	b := p.bases()
	if !b.PruneDue(24 * time.Hour) {
		return
	}
	held := map[tree.Hash]bool{}
	err := p.db.Load(func(_ string, rec journal.Record) error {
		if rec.Base.Kind == tree.File {
			held[rec.Base.Hash] = true
		}
		return nil
	})
	if err == nil {
		b.Prune(func(h tree.Hash) bool { return held[h] })
	}
}

// baseCapture collects, for keepBase, the bytes of a copy small enough to
// be merged, and stops at the first that is not text.
type baseCapture struct {
	buf   bytes.Buffer
	limit int64
	over  bool
}

func (c *baseCapture) Write(b []byte) (int, error) {
	if !c.over && int64(c.buf.Len()+len(b)) <= c.limit && merge3.IsText(b) {
		c.buf.Write(b)
	} else {
		c.over = true
	}
	return len(b), nil
}

// findMerges merges the modify/modify conflicts on text files whose base
// content is stored, for plan.Merges. A version that cannot be read, or
// whose content is no longer the scanned one, is simply not merged.
func (p *Pair) findMerges(ctx context.Context, plan *Plan) {
	plan.Merges = nil
	if !p.merging() {
		return
	}
	limit := p.mergeLimit()
	for i := range plan.Decisions {
		d := &plan.Decisions[i]
		if ctx.Err() != nil {
			return
		}
		if !mergeable(*d, limit) {
			continue
		}
		res, ok := p.merge3(d, limit)
		if !ok {
			continue
		}
		if d.Settled != reconcile.NoConflict {
			if res.Conflicts > 0 {
				continue // the preference settles it
			}
			// a clean merge beats a preference: the conflict is the merge's
			d.Action, d.Kind, d.Settled, d.LocalWon = reconcile.Conflict, d.Settled, reconcile.NoConflict, false
		}
		plan.Merges = append(plan.Merges, Merge{Path: plan.Rows[i].Path, Data: res.Merged, Conflicts: res.Conflicts})
	}
}

// merge3 merges the three versions of d, or returns what it found for
// them before (a mount rescans often: the remote version is not read
// again each time).
//
// A resident pair (a mount) scans while holding the pair, and its gestures
// wait meanwhile: it never reads a version there, but takes the merges
// PrepareMerges made beforehand, without holding the pair.
func (p *Pair) merge3(d *reconcile.Decision, limit int64) (merge3.Result, bool) {
	key := [3]tree.Hash{d.Base.Hash, d.Local.Hash, d.Remote.Hash}
	p.mergeMu.Lock()
	tr, known := p.merges[key]
	p.mergeMu.Unlock()
	if known || p.opt.Resident {
		return tr.res, tr.ok
	}
	return p.mergeNow(d, key, limit)
}

// tried is the outcome of a merge of three versions: a lasting failure (no
// base content kept, a side that is not text) is kept too, so that the
// versions are not read again at each scan.
type tried struct {
	res merge3.Result
	ok  bool
}

// PrepareMerges merges, reading their versions, the conflicts of ds that
// a text merge may settle and that were not merged before, for the next
// scan of a resident pair to take (see merge3). It may run while another
// goroutine uses the pair, and reports whether it merged anything new.
func (p *Pair) PrepareMerges(ctx context.Context, ds []reconcile.Decision) bool {
	if !p.merging() {
		return false
	}
	limit := p.mergeLimit()
	added := false
	for i := range ds {
		d := &ds[i]
		if ctx.Err() != nil || !mergeable(*d, limit) {
			continue
		}
		key := [3]tree.Hash{d.Base.Hash, d.Local.Hash, d.Remote.Hash}
		p.mergeMu.Lock()
		_, known := p.merges[key]
		p.mergeMu.Unlock()
		if known {
			continue
		}
		if _, ok := p.mergeNow(d, key, limit); ok {
			added = true
		}
	}
	return added
}

// mergeNow reads the three versions of d and merges them, keeping the
// result under key.
func (p *Pair) mergeNow(d *reconcile.Decision, key [3]tree.Hash, limit int64) (merge3.Result, bool) {
	var tr tried
	if base, ok := p.bases().Get(d.Base.Hash, limit); ok {
		local, err := p.ReadVersion(LocalSide, d.Path, d.Local, limit)
		var remote []byte
		if err == nil {
			remote, err = p.ReadVersion(RemoteSide, d.Path, d.Remote, limit)
		}
		if err != nil {
			return tr.res, false // perhaps for a moment: not kept
		}
		tr.res, err = merge3.Merge(base, local, remote, merge3.Labels{Local: "local", Remote: "remote"})
		tr.ok = err == nil
	}
	p.mergeMu.Lock()
	if p.merges == nil || len(p.merges) >= 64 {
		p.merges = map[[3]tree.Hash]tried{}
	}
	p.merges[key] = tr
	p.mergeMu.Unlock()
	return tr.res, tr.ok
}

// mergeable reports whether d is a conflict a text merge may settle (or
// one a preference settled): both sides modified a file (keeping the
// executable bit the same), all three versions hashed and within the limit.
func mergeable(d reconcile.Decision, limit int64) bool {
	mm := d.Action == reconcile.Conflict && d.Under == "" && d.Kind == reconcile.ModifyModify
	if !mm && d.Settled != reconcile.ModifyModify {
		return false
	}
	for _, e := range []tree.Entry{d.Base, d.Local, d.Remote} {
		if e.Kind != tree.File || e.Hash.IsZero() || e.Size > limit {
			return false
		}
	}
	return d.Local.Exec() == d.Remote.Exec()
}

// MergeAt returns the plan's merge of path, if it has one.
func (pl *Plan) MergeAt(path string) (*Merge, bool) {
	for i := range pl.Merges {
		if pl.Merges[i].Path == path {
			return &pl.Merges[i], true
		}
	}
	return nil, false
}

// IsMerged reports whether the decision on path is settled by a clean merge.
func (pl *Plan) IsMerged(path string) bool {
	m, ok := pl.MergeAt(path)
	return ok && m.Clean()
}

// applyMerges carries out the plan's clean merges (see the top of this
// file), then decides the merged paths again and rebuilds the plan's
// operations, so that Apply sends the merged text to the remote. A merge
// that cannot be carried out (the local version changed since the scan)
// is reported and its conflict stays.
func (p *Pair) applyMerges(plan *Plan, now time.Time) []Problem {
	var probs []Problem
	done := 0
	for _, m := range plan.Merges {
		if !m.Clean() {
			continue
		}
		if err := p.takeMerge(plan, m.Path, m.Data, now); err != nil {
			probs = append(probs, Problem{Side: LocalSide, Path: m.Path, Err: fmt.Errorf("merge not carried out: %w", err)})
			continue
		}
		p.NoteMerge(m.Path) // for the history
		done++
	}
	if done > 0 {
		plan.Merges = keepUnclean(plan.Merges)
		plan.reconcile()
		plan.Moves = ops.FindMoves(plan.Rows, plan.Decisions)
		plan.Ops = ops.Build(plan.Rows, plan.Decisions, plan.Moves)
	}
	return probs
}

// TakeMerges carries out the plan's clean merges now, as Apply would first
// (a mount does, so that its view shows a merged path as one file), and
// leaves the plan deciding what follows from them.
func (p *Pair) TakeMerges(plan *Plan) []Problem {
	for _, m := range plan.Merges {
		if m.Clean() {
			return p.applyMerges(plan, time.Now())
		}
	}
	return nil
}

// keepUnclean returns the merges that were not carried out.
func keepUnclean(ms []Merge) []Merge {
	var out []Merge
	for _, m := range ms {
		if !m.Clean() {
			out = append(out, m)
		}
	}
	return out
}

// takeMerge makes data the local version of the conflict at path (the
// scanned local version goes to the local backup area) and moves the
// path's base to the scanned remote version, updating the plan's row.
func (p *Pair) takeMerge(plan *Plan, path string, data []byte, now time.Time) error {
	i := -1
	for k := range plan.Rows {
		if plan.Rows[k].Path == path {
			i = k
			break
		}
	}
	if i < 0 {
		return fmt.Errorf("not in the plan")
	}
	row := &plan.Rows[i]
	info, err := p.installLocal(path, row.Local, row.Local.Entry.Perm, data, now)
	if err != nil {
		return err
	}
	if err := p.SetBases([]BaseChange{{Path: path, Entry: row.Remote.Entry}}); err != nil {
		return err
	}
	h := tree.Hash(blake3.Sum256(data))
	p.keepBase(h, data)
	row.Rec.Base = row.Remote.Entry
	row.Local.Entry = tree.Entry{Kind: tree.File, Perm: row.Local.Entry.Perm, Size: int64(len(data)), MtimeNs: info.MtimeNs, Hash: h}
	row.Local.FP = info.FP
	return nil
}

// installLocal writes data at path in LOCAL through a temporary renamed into
// place, if path still holds want; the version it replaces goes to the
// local backup area.
func (p *Pair) installLocal(path string, want tree.Scanned, perm uint32, data []byte, now time.Time) (replica.Info, error) {
	tmp, err := replica.WriteTemp(p.Local, tree.Parent(path), perm, now.UnixNano(), data)
	if err != nil {
		return replica.Info{}, err
	}
	info, _, err := newBackupArea(p.Local, now).install(tmp, path, want)
	if err != nil {
		p.Local.Remove(tmp)
		return replica.Info{}, err
	}
	if info.Kind == tree.Absent {
		info, err = p.Local.Lstat(path)
	}
	return info, err
}
