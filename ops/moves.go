package ops

import (
	"crypto/sha256"
	"sort"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Moves are the renames a plan carries out as renames on the target side
// instead of a deletion plus a transfer. Each map goes from the row of the
// new path to the row of the old one.
type Moves struct {
	// Files: a file one side renamed (a one-sided deletion and a one-sided
	// creation of the same content, in the same direction).
	Files map[int]int
	// Edits: a file one side renamed while the other side edited it at its
	// old path. FindMoves turns the delete/modify conflict of the old path
	// into a deletion; the edit ends at the new path on both sides.
	Edits map[int]int
	// Dirs: a directory one side renamed whole (same names, kinds and
	// contents under it; permission bits may differ).
	Dirs map[int]int
}

// FindMoves finds the renames among the decisions ds of rows (parallel
// slices in tree order). It changes the decision of the old path of every
// rename+edit it finds (see Moves.Edits). Ties are broken deterministically:
// the same inode on the source side first, then the same name, then the
// same parent directory, then tree order.
func FindMoves(rows []Row, ds []reconcile.Decision) Moves {
	m := Moves{Edits: findRenameEdits(rows, ds)}
	// rows a rename+edit or a directory rename already takes care of
	var covered []bool
	cover := func(k int) {
		if covered == nil {
			covered = make([]bool, len(rows))
		}
		covered[k] = true
	}
	for to, from := range m.Edits {
		cover(to)
		cover(from)
	}
	m.Dirs = findDirRenames(rows, ds, covered)
	for to, from := range m.Dirs {
		for _, i := range []int{to, from} {
			for k := i; k < subtreeEnd(rows, i); k++ {
				cover(k)
			}
		}
	}
	m.Files = findRenames(rows, ds, covered)
	return m
}

// findRenames pairs one-sided creations of files with one-sided deletions
// (same direction) whose target-side file holds the same content, outside
// the rows covered by directory renames.
func findRenames(rows []Row, ds []reconcile.Decision, covered []bool) map[int]int {
	out := map[int]int{}
	free := func(i int) bool { return covered == nil || !covered[i] }
	for _, dir := range []reconcile.Action{reconcile.ToRemote, reconcile.ToLocal} {
		gone := map[tree.Hash][]int{} // target-side content -> deletion rows
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under == "" && d.Action == dir && !src.Exists() && dst.Kind == tree.File && !dst.Hash.IsZero() && free(i) {
				gone[dst.Hash] = append(gone[dst.Hash], i)
			}
		}
		if len(gone) == 0 {
			continue
		}
		used := map[int]bool{}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under != "" || d.Action != dir || src.Kind != tree.File || dst.Exists() || src.Hash.IsZero() || !free(i) {
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
// elsewhere on the deleting side. The conflict's decision becomes a
// deletion in the rename's direction.
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
	t := target(dir)
	var free []int
	for _, j := range cands {
		if !used[j] && rows[j].Rec.Base.Exists() && tree.SameContent(rows[j].Rec.Base, rows[j].On(t).Entry) {
			free = append(free, j)
		}
	}
	if len(free) == 0 {
		return 0, false
	}
	to := rows[i]
	srcFP := to.On(t.Other()).FP
	score := func(j int) int {
		from := rows[j]
		oldFP := from.Rec.Local.FP
		if t == Local {
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

// subtreeEnd returns the index after the last row under rows[i].
func subtreeEnd(rows []Row, i int) int {
	j := i + 1
	for j < len(rows) && tree.IsUnder(rows[j].Path, rows[i].Path) {
		j++
	}
	return j
}

// subtreeHash hashes the names (relative to rows[i]), kinds and contents of
// the subtree of directory row i, on the source side (source) or the target
// side of direction dir; ok is false when a row of it is taken or not a
// plain one-sided creation (source) or deletion (!source) in direction dir.
// Permission bits are left out: a rename carries them over by chmod.
func subtreeHash(rows []Row, ds []reconcile.Decision, i int, dir reconcile.Action, source bool, taken []bool) (tree.Hash, bool) {
	h := sha256.New()
	end := subtreeEnd(rows, i)
	for j := i + 1; j < end; j++ {
		if taken != nil && taken[j] {
			return tree.Hash{}, false
		}
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
// subtree, highest first, leaving out subtrees that hold a taken row; it
// returns created row -> removed row.
func findDirRenames(rows []Row, ds []reconcile.Decision, taken []bool) map[int]int {
	out := map[int]int{}
	for _, dir := range []reconcile.Action{reconcile.ToRemote, reconcile.ToLocal} {
		gone := map[tree.Hash][]int{}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under == "" && d.Action == dir && !src.Exists() && dst.Kind == tree.Dir {
				if h, ok := subtreeHash(rows, ds, i, dir, false, taken); ok {
					gone[h] = append(gone[h], i)
				}
			}
		}
		if len(gone) == 0 {
			continue
		}
		used := map[int]bool{}
		covered := func(i int) bool { // overlapping a directory already paired
			for to, from := range out {
				for _, k := range []int{to, from} {
					a, b := rows[i].Path, rows[k].Path
					if a == b || tree.IsUnder(a, b) || tree.IsUnder(b, a) {
						return true
					}
				}
			}
			return false
		}
		for i, d := range ds {
			src, dst := sides(d, dir)
			if d.Under != "" || d.Action != dir || src.Kind != tree.Dir || dst.Exists() || covered(i) {
				continue
			}
			h, ok := subtreeHash(rows, ds, i, dir, true, taken)
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

// inOrder returns the keys of m in increasing order (tree order of rows).
func inOrder(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
