package ops

import (
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Build returns the operations that carry out the one-sided decisions ds
// of rows (parallel slices in tree order), with the renames of mv.
// Conflicts and paths under them get no operation. The result is in tree
// order of targets, and every dependency comes before its dependents.
func Build(rows []Row, ds []reconcile.Decision, mv Moves) []Op {
	b := &builder{rows: rows, ds: ds}
	for s := range b.made {
		b.made[s] = map[string]int{}
		b.gone[s] = map[string]int{}
	}
	b.skip = map[int]bool{}
	for _, from := range mv.Files {
		b.skip[from] = true
	}
	for _, from := range mv.Edits {
		b.skip[from] = true
	}
	for to, from := range mv.Dirs {
		for _, i := range []int{to, from} {
			for k := i; k < subtreeEnd(rows, i); k++ {
				b.skip[k] = true
			}
		}
	}
	for i := range rows {
		if j, ok := mv.Dirs[i]; ok {
			b.dirRename(i, j)
		} else if j, ok := mv.Edits[i]; ok {
			b.renameEdit(i, j)
		} else if j, ok := mv.Files[i]; ok {
			b.fileRename(i, j)
		} else if !b.skip[i] {
			b.row(i)
		}
	}
	b.removalDeps()
	return b.ops
}

type builder struct {
	rows []Row
	ds   []reconcile.Decision
	ops  []Op
	made [2]map[string]int // per side: directory -> op that makes it
	gone [2]map[string]int // per side: directory -> op that removes it
	skip map[int]bool      // rows an operation of another row takes care of
}

func (b *builder) add(op Op) int {
	b.ops = append(b.ops, op)
	return len(b.ops) - 1
}

// parent returns the op that makes the nearest ancestor directory of p on
// side s, if one does.
func (b *builder) parent(s Side, p string) []int {
	for a := tree.Parent(p); a != ""; a = tree.Parent(a) {
		if k, ok := b.made[s][a]; ok {
			return []int{k}
		}
	}
	return nil
}

// row plans a plain one-sided decision.
func (b *builder) row(i int) {
	d := b.ds[i]
	if d.Under != "" || (d.Action != reconcile.ToRemote && d.Action != reconcile.ToLocal) {
		return
	}
	t := target(d.Action)
	r := &b.rows[i]
	src, dst := r.On(t.Other()), r.On(t)
	done := Done{Row: i, Base: src.Entry, Moved: -1}
	done.Stat[t] = true
	if !src.Entry.Exists() {
		k := b.add(Op{Kind: Remove, Side: t, Path: r.Path, Want: dst, Row: i, Done: []Done{{Row: i, Moved: -1}}})
		if dst.Entry.Kind == tree.Dir {
			b.gone[t][r.Path] = k
		}
		return
	}
	deps := b.parent(t, r.Path)
	want := dst
	if dst.Entry.Exists() && dst.Entry.Kind != src.Entry.Kind {
		k := b.add(Op{Kind: Remove, Side: t, Path: r.Path, Want: dst, Row: i})
		if dst.Entry.Kind == tree.Dir {
			b.gone[t][r.Path] = k
		}
		deps = append(deps, k)
		want = tree.Scanned{Path: r.Path}
	}
	switch {
	case src.Entry.Kind == tree.Dir:
		if dst.Entry.Kind == tree.Dir {
			return // directories are equal by existence
		}
		b.made[t][r.Path] = b.add(Op{Kind: Mkdir, Side: t, Path: r.Path, Want: want, Entry: src.Entry, Row: i, Deps: deps, Done: []Done{done}})
	case want.Entry.Kind == tree.File && tree.SameContent(src.Entry, want.Entry):
		b.add(Op{Kind: Chmod, Side: t, Path: r.Path, Want: want, Entry: src.Entry, Row: i, Deps: deps, Done: []Done{done}})
	default:
		st := b.add(Op{Kind: Stage, Side: t, Path: r.Path, From: r.Path, Src: src, Entry: src.Entry, Row: i, Deps: b.parent(t, r.Path)})
		b.add(Op{Kind: Install, Side: t, Path: r.Path, Want: want, Entry: src.Entry, Row: i, Deps: append([]int{st}, deps...), Done: []Done{done}})
	}
}

// renamed returns what a rename leaves at path p: s, without the
// fingerprint fields a rename may change.
func renamed(s tree.Scanned, p string) tree.Scanned {
	s.Path = p
	s.FP.CtimeNs = 0
	return s
}

// fileRename plans the rename on the target side of the file of row j to
// row i's path (where the source side moved it), then its permission bits.
func (b *builder) fileRename(i, j int) {
	t := target(b.ds[i].Action)
	to, from := &b.rows[i], &b.rows[j]
	src, old := to.On(t.Other()), from.On(t)
	done := Done{Row: i, Base: src.Entry, Moved: -1}
	done.Stat[t] = true
	rn := Op{Kind: Rename, Side: t, Path: to.Path, From: from.Path, Want: old, Row: i, Deps: b.parent(t, to.Path), Done: []Done{{Row: j, Moved: -1}}}
	if old.Entry.Perm == src.Entry.Perm {
		rn.Done = append(rn.Done, done)
		b.add(rn)
		return
	}
	k := b.add(rn)
	b.add(Op{Kind: Chmod, Side: t, Path: to.Path, Want: renamed(old, to.Path), Entry: src.Entry, Row: i, Deps: []int{k}, Done: []Done{done}})
}

// renameEdit plans a file renamed from row j's path to row i's on one side
// (the source side of row i's decision) and edited at j's path on the
// other: the other side renames its edited file too, and the edit comes
// back to the renaming side. The result has the edited content and the
// permission bits of whichever side changed them (the renaming side if
// both did).
func (b *builder) renameEdit(i, j int) {
	t := target(b.ds[i].Action) // the editing side
	s := t.Other()              // the renaming side
	to, from := &b.rows[i], &b.rows[j]
	edited, moved := from.On(t), to.On(s)
	merged := edited.Entry
	if moved.Entry.Perm != from.Rec.Base.Perm {
		merged.Perm = moved.Entry.Perm
	}
	last := b.add(Op{Kind: Rename, Side: t, Path: to.Path, From: from.Path, Want: edited, Row: i, Deps: b.parent(t, to.Path), Done: []Done{{Row: j, Moved: -1}}})
	if merged.Perm != edited.Entry.Perm {
		last = b.add(Op{Kind: Chmod, Side: t, Path: to.Path, Want: renamed(edited, to.Path), Entry: merged, Row: i, Deps: []int{last}})
	}
	src := renamed(edited, to.Path)
	src.Entry.Perm = merged.Perm
	src.FP = tree.Fingerprint{Size: edited.FP.Size, MtimeNs: edited.FP.MtimeNs, Ino: edited.FP.Ino}
	st := b.add(Op{Kind: Stage, Side: s, Path: to.Path, From: to.Path, Src: src, Entry: merged, Row: i, Deps: []int{last}})
	done := Done{Row: i, Base: merged, Stat: [2]bool{true, true}, Moved: -1}
	b.add(Op{Kind: Install, Side: s, Path: to.Path, Want: moved, Entry: merged, Row: i, Deps: []int{st}, Done: []Done{done}})
}

// dirRename plans the rename on the target side of the directory of row j
// to row i's path, and the permission bits that differ under it.
func (b *builder) dirRename(i, j int) {
	t := target(b.ds[i].Action)
	rows := b.rows
	rn := b.add(Op{Kind: Rename, Side: t, Path: rows[i].Path, From: rows[j].Path, Want: rows[j].On(t), Row: i, Deps: b.parent(t, rows[i].Path)})
	b.made[t][rows[i].Path] = rn
	old := map[string]int{} // path relative to the directory -> row
	for k := j; k < subtreeEnd(rows, j); k++ {
		old[rows[k].Path[len(rows[j].Path):]] = k
		b.ops[rn].Done = append(b.ops[rn].Done, Done{Row: k, Moved: -1})
	}
	for k := i; k < subtreeEnd(rows, i); k++ {
		src := rows[k].On(t.Other())
		m := old[rows[k].Path[len(rows[i].Path):]]
		was := rows[m].On(t)
		if src.Entry.Kind == tree.File && src.Entry.Perm != was.Entry.Perm {
			done := Done{Row: k, Base: src.Entry, Moved: -1}
			done.Stat[t] = true
			b.add(Op{Kind: Chmod, Side: t, Path: rows[k].Path, Want: renamed(was, rows[k].Path), Entry: src.Entry, Row: k, Deps: []int{rn}, Done: []Done{done}})
			continue
		}
		b.ops[rn].Done = append(b.ops[rn].Done, Done{Row: k, Base: src.Entry, Moved: m})
	}
}

// removalDeps makes the removal of each directory wait for every other
// operation on its side that acts on or moves a path under it.
func (b *builder) removalDeps() {
	for s := range b.gone {
		if len(b.gone[s]) == 0 {
			continue
		}
		for k := range b.ops {
			op := &b.ops[k]
			if op.Side != Side(s) {
				continue
			}
			for _, p := range []string{op.Path, op.From} {
				if p == "" || op.Kind == Stage && p == op.From {
					continue
				}
				for a := tree.Parent(p); ; a = tree.Parent(a) {
					if r, ok := b.gone[s][a]; ok && r != k {
						b.ops[r].Deps = append(b.ops[r].Deps, k)
					}
					if a == "" {
						break
					}
				}
			}
		}
	}
}
