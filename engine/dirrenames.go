package engine

import (
	"context"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// A directory renamed on one side shows up as a removed directory and a
// created one, each with a subtree of one-sided deletions or creations in
// the same direction. When both subtrees hold the same names, types and
// contents (compared by a hash over the whole subtree), the other side
// renames its directory in one operation.

// subtreeEnd returns the index after the last row under rows[i].
func subtreeEnd(rows []Row, i int) int {
	j := i + 1
	for j < len(rows) && tree.IsUnder(rows[j].Path, rows[i].Path) {
		j++
	}
	return j
}

// subtreeHash hashes the names (relative to rows[i]), kinds and contents
// of the subtree of directory row i, as side entry e gives them; ok is
// false when a row of it is not a plain one-sided move in direction dir
// that keeps (want) or removes (!want) the source entry.
func subtreeHash(rows []Row, ds []reconcile.Decision, i int, dir reconcile.Action, source bool) (tree.Hash, bool) {
	h := blake3.New(32, nil)
	end := subtreeEnd(rows, i)
	for j := i + 1; j < end; j++ {
		d := ds[j]
		src, dst := sides(d, dir)
		e := dst
		if source {
			e = src
		}
		if d.Under != "" || d.Action != dir || !e.Exists() || (source && dst.Exists()) || (!source && src.Exists()) {
			return tree.Hash{}, false
		}
		if e.Kind == tree.File && e.Hash.IsZero() {
			return tree.Hash{}, false
		}
		h.Write([]byte(rows[j].Path[len(rows[i].Path):]))
		h.Write([]byte{0, byte(e.Kind)})
		h.Write(e.Hash[:])
		h.Write([]byte(e.Target))
		h.Write([]byte{0})
	}
	var sum tree.Hash
	copy(sum[:], h.Sum(nil))
	return sum, end > i+1
}

// findDirRenames pairs created directories with removed ones of the same
// subtree, highest first; it returns created row -> removed row.
func findDirRenames(rows []Row, ds []reconcile.Decision) map[int]int {
	out := map[int]int{}
	for _, dir := range []reconcile.Action{reconcile.ToRemote, reconcile.ToLocal} {
		gone := map[tree.Hash][]int{}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under == "" && d.Action == dir && !src.Exists() && dst.Kind == tree.Dir {
				if h, ok := subtreeHash(rows, ds, i, dir, false); ok {
					gone[h] = append(gone[h], i)
				}
			}
		}
		if len(gone) == 0 {
			continue
		}
		used := map[int]bool{}
		covered := func(i int) bool { // under a directory already paired
			for to, from := range out {
				if tree.IsUnder(rows[i].Path, rows[to].Path) || tree.IsUnder(rows[i].Path, rows[from].Path) {
					return true
				}
			}
			return false
		}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under != "" || d.Action != dir || src.Kind != tree.Dir || dst.Exists() || covered(i) {
				continue
			}
			h, ok := subtreeHash(rows, ds, i, dir, true)
			if !ok {
				continue
			}
			for _, j := range gone[h] {
				if !used[j] && !covered(j) && !tree.IsUnder(rows[i].Path, rows[j].Path) && !tree.IsUnder(rows[j].Path, rows[i].Path) {
					used[j] = true
					out[i] = j
					break
				}
			}
		}
	}
	return out
}

// dirRenameStep renames target-side directories to where the other side
// moved them, before any directory is made; every path under both is then
// done. A rename that cannot be made falls back to the per-file steps.
func (a *applier) dirRenameStep(ctx context.Context) {
	for _, i := range rowsInOrder(a.dirRenames) {
		if ctx.Err() != nil {
			return
		}
		m, _ := a.move(i)
		from, _ := a.move(a.dirRenames[i])
		if err := a.renameOnTarget(m, from, true); err != nil {
			continue
		}
		a.completeSubtree(m, from)
		a.mu.Lock()
		a.res.Renamed++
		a.mu.Unlock()
	}
}

// completeSubtree records both subtrees of a directory rename as done: the
// old paths are gone, the new ones hold what the source side holds, with
// the fingerprints the target side's files had (a rename keeps them).
func (a *applier) completeSubtree(m, from move) {
	rows := a.plan.Rows
	for j := from.i; j < subtreeEnd(rows, from.i); j++ {
		mj, _ := a.move(j)
		a.completed(mj, tree.Fingerprint{})
	}
	oldFP := map[string]tree.Fingerprint{}
	for j := from.i; j < subtreeEnd(rows, from.i); j++ {
		s := rows[j].Local
		if m.dstSide == RemoteSide {
			s = rows[j].Remote
		}
		oldFP[rows[j].Path[len(from.path):]] = s.FP
	}
	for j := m.i; j < subtreeEnd(rows, m.i); j++ {
		mj, _ := a.move(j)
		a.completed(mj, oldFP[rows[j].Path[len(m.path):]])
	}
}
