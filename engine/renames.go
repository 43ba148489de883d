package engine

import (
	"context"
	"sort"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// A rename on one side shows up as a deletion and a creation of the same
// content in the same direction. Instead of deleting the target side's file
// and transferring the new one, the target side's file is renamed.

// findRenames pairs one-sided creations of files with one-sided deletions
// (same direction) whose target-side file holds the same content. It
// returns creation row -> deletion row. Ties are broken deterministically:
// the same inode on the source side first, then the same name, then the
// same parent directory, then tree order.
func findRenames(rows []Row, ds []reconcile.Decision) map[int]int {
	out := map[int]int{}
	for _, dir := range []reconcile.Action{reconcile.ToRemote, reconcile.ToLocal} {
		gone := map[tree.Hash][]int{} // target-side content -> deletion rows
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under == "" && d.Action == dir && !src.Exists() && dst.Kind == tree.File && !dst.Hash.IsZero() {
				gone[dst.Hash] = append(gone[dst.Hash], i)
			}
		}
		if len(gone) == 0 {
			continue
		}
		used := map[int]bool{}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under != "" || d.Action != dir || src.Kind != tree.File || dst.Exists() || src.Hash.IsZero() {
				continue
			}
			if j, ok := bestSource(rows, i, gone[src.Hash], used, dir); ok {
				used[j] = true
				out[i] = j
			}
		}
	}
	return out
}

// findRenameEdits finds renames on one side of files the other side edited
// meanwhile: a delete/modify conflict whose base content was re-created
// elsewhere on the deleting side. Such a conflict is turned into a deletion
// by rename (the decision of the old path changes), and the pair is
// returned as new path row -> old path row, so the edit ends at the new
// path instead of being a conflict.
func findRenameEdits(rows []Row, ds []reconcile.Decision) map[int]int {
	out := map[int]int{}
	for _, dir := range []reconcile.Action{reconcile.ToRemote, reconcile.ToLocal} {
		kind := reconcile.DeleteModify // deleted on the source side of dir
		if dir == reconcile.ToLocal {
			kind = reconcile.ModifyDelete
		}
		gone := map[tree.Hash][]int{}
		for i, d := range ds {
			if d.Under == "" && d.Action == reconcile.Conflict && d.Kind == kind && d.Base.Kind == tree.File {
				if _, dst := sides(d, dir); dst.Kind == tree.File {
					gone[d.Base.Hash] = append(gone[d.Base.Hash], i)
				}
			}
		}
		if len(gone) == 0 {
			continue
		}
		used := map[int]bool{}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under != "" || d.Action != dir || src.Kind != tree.File || dst.Exists() || d.Base.Exists() || src.Hash.IsZero() {
				continue
			}
			for _, j := range gone[src.Hash] {
				if !used[j] && ds[j].Base.Size == src.Size {
					used[j] = true
					out[i] = j
					ds[j].Action, ds[j].Kind = dir, reconcile.NoConflict
					break
				}
			}
		}
	}
	return out
}

// sides returns a decision's source and target entries for a direction.
func sides(d reconcile.Decision, dir reconcile.Action) (src, dst tree.Entry) {
	if dir == reconcile.ToRemote {
		return d.Local, d.Remote
	}
	return d.Remote, d.Local
}

// bestSource picks the deletion row that most likely was renamed to row i.
func bestSource(rows []Row, i int, cands []int, used map[int]bool, dir reconcile.Action) (int, bool) {
	var free []int
	for _, j := range cands {
		if !used[j] && rows[j].Rec.Base.Exists() && tree.SameContent(rows[j].Rec.Base, entryOf(rows[j], dir, false)) {
			free = append(free, j)
		}
	}
	if len(free) == 0 {
		return 0, false
	}
	to := rows[i]
	srcFP := to.Local.FP
	if dir == reconcile.ToLocal {
		srcFP = to.Remote.FP
	}
	score := func(j int) int {
		from := rows[j]
		oldFP := from.Rec.Local.FP
		if dir == reconcile.ToLocal {
			oldFP = from.Rec.Remote.FP
		}
		s := 0
		if srcFP.Ino != 0 && srcFP.Ino == oldFP.Ino {
			s += 4
		}
		if tree.Base(from.Path) == tree.Base(to.Path) {
			s += 2
		}
		if tree.Parent(from.Path) == tree.Parent(to.Path) {
			s++
		}
		return s
	}
	sort.SliceStable(free, func(a, b int) bool { return score(free[a]) > score(free[b]) })
	return free[0], true
}

// entryOf returns the scanned entry of a row on the target (or source) side.
func entryOf(r Row, dir reconcile.Action, source bool) tree.Entry {
	if (dir == reconcile.ToRemote) == source {
		return r.Local.Entry
	}
	return r.Remote.Entry
}

// rowsInOrder returns the keys of m in increasing order (tree order of rows).
func rowsInOrder(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func (a *applier) isRenameTarget(i int) bool {
	_, ok := a.renames[i]
	return ok
}

// renameStep renames target-side files to where the other side moved them.
// A rename that cannot be made (the file changed or the target appeared)
// falls back to a deletion and a transfer in the later steps.
func (a *applier) renameStep(ctx context.Context) {
	for _, i := range rowsInOrder(a.renames) {
		if ctx.Err() != nil {
			return
		}
		m, _ := a.move(i)
		from, _ := a.move(a.renames[i])
		if a.blocked(m) || !a.claim(i) {
			continue
		}
		_, edited := a.plan.Edits[i]
		if err := a.renameOnTarget(m, from, !edited); err != nil {
			a.mu.Lock()
			if edited {
				// never fall back to deleting an edited file: leave both
				// paths alone, the conflict shows again next time
				a.done[from.i], a.done[i] = true, true
			} else {
				a.handled[i] = false // the files step brings it over instead
			}
			a.mu.Unlock()
			if edited {
				a.problem(from, err)
			}
			continue
		}
		a.completed(from, tree.Fingerprint{})
		if edited {
			if _, err := a.pullEdit(m, from); err != nil {
				a.problem(m, err)
			}
		} else if fp, err := a.statFP(m.dst, m.path); err != nil {
			a.problem(m, err)
		} else {
			a.completed(m, fp)
		}
		a.mu.Lock()
		a.res.Renamed++
		a.mu.Unlock()
	}
}

// pullEdit brings the target side's edited file, just renamed to m.path,
// back to the source side (where m.path holds the unedited content).
func (a *applier) pullEdit(m, from move) (tree.Fingerprint, error) {
	back := move{i: m.i, path: m.path, src: m.dst, dst: m.src, srcS: from.dstS, dstS: m.srcS, dstSide: 1 - m.dstSide}
	back.srcS.Path = m.path
	tmp, err := a.transfer(back)
	if err != nil {
		return tree.Fingerprint{}, err
	}
	if err := a.installTemp(back, tmp, back.dstS); err != nil {
		back.dst.Remove(tmp)
		return tree.Fingerprint{}, err
	}
	fp, err := a.statFP(back.dst, back.path)
	if err != nil {
		return fp, err
	}
	a.completed(back, fp)
	return fp, nil
}

// renameOnTarget renames from's target file to m's path, then gives it the
// source's permission bits when withPerm.
func (a *applier) renameOnTarget(m, from move, withPerm bool) error {
	if err := a.checkScanned(m.dst, from.path, from.dstS); err != nil {
		return err
	}
	if err := a.checkScanned(m.dst, m.path, tree.Scanned{}); err != nil {
		return err
	}
	if err := m.dst.Rename(from.path, m.path); err != nil {
		return err
	}
	if withPerm && from.dstS.Entry.Perm != m.srcS.Entry.Perm {
		return m.dst.Chmod(m.path, m.srcS.Entry.Perm)
	}
	return nil
}

// copyOnTarget makes m's temporary by copying a file the target side
// already holds with the same content, when the target replica can copy on
// its own side. The copy's source is checked against the scan before and
// after, so a file changed meanwhile is never used.
func (a *applier) copyOnTarget(m move) (string, bool) {
	c, ok := m.dst.(replica.Copier)
	if !ok {
		return "", false
	}
	src, ok := a.contentOnTarget(m)
	if !ok {
		return "", false
	}
	if a.checkScanned(m.dst, src.Path, src) != nil {
		return "", false
	}
	tmp, err := c.CopyTemp(src.Path, tree.Parent(m.path), m.srcS.Entry.Perm)
	if err != nil {
		return "", false
	}
	if a.checkScanned(m.dst, src.Path, src) != nil || m.dst.Chtimes(tmp, m.srcS.Entry.MtimeNs) != nil {
		m.dst.Remove(tmp)
		return "", false
	}
	a.mu.Lock()
	a.res.Copied++
	a.mu.Unlock()
	return tmp, true
}

// contentOnTarget finds a file on m's target side, as scanned, with the
// content m brings over.
func (a *applier) contentOnTarget(m move) (tree.Scanned, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	idx := a.content[m.dstSide]
	if idx == nil {
		idx = map[tree.Hash]tree.Scanned{}
		for _, r := range a.plan.Rows {
			s := r.Local
			if m.dstSide == RemoteSide {
				s = r.Remote
			}
			if s.Entry.Kind == tree.File && s.Entry.Size > 0 && !s.Entry.Hash.IsZero() {
				if _, dup := idx[s.Entry.Hash]; !dup {
					idx[s.Entry.Hash] = s
				}
			}
		}
		a.content[m.dstSide] = idx
	}
	s, ok := idx[m.srcS.Entry.Hash]
	return s, ok && s.Entry.Size == m.srcS.Entry.Size && !m.srcS.Entry.Hash.IsZero()
}
