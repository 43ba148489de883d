package ops

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// The property: for any base and sides, carrying out Build's operations in
// the executor's order (waves of the lowest ready class), in a model of
// both trees where nothing changes meanwhile, succeeds at every step and
// leaves every non-conflicting path with the winning version on both sides,
// every conflict untouched, and every row brought in step exactly once.

// source gives random choices: *rand.Rand in property tests, fuzz bytes in
// FuzzBuild.
type source interface{ IntN(n int) int }

type byteSource struct {
	b []byte
	i int
}

func (s *byteSource) IntN(n int) int {
	if s.i >= len(s.b) {
		return 0
	}
	v := int(s.b[s.i]) % n
	s.i++
	return v
}

type treeMap map[string]tree.Entry

var names = []string{"a", "b", "c"}

func randFile(src source) tree.Entry {
	c := src.IntN(3)
	return tree.Entry{Kind: tree.File, Perm: 0o644 | 0o111*uint32(src.IntN(2)), Size: int64(c + 1), Hash: tree.Hash{byte(c + 1)}}
}

func randEntry(src source) tree.Entry {
	switch src.IntN(4) {
	case 0, 1:
		return tree.Entry{Kind: tree.Dir, Perm: 0o755}
	case 2:
		return tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: names[src.IntN(len(names))]}
	}
	return randFile(src)
}

// derive edits from: each path changes with probability pct percent.
func derive(src source, from treeMap, pct int) treeMap {
	out := treeMap{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		for _, n := range names {
			p := tree.Join(dir, n)
			e := from[p]
			if src.IntN(100) < pct {
				switch {
				case !e.Exists():
					e = randEntry(src)
				case src.IntN(3) == 0:
					e = tree.Entry{}
				case e.Kind == tree.File && src.IntN(2) == 0:
					e = randFile(src)
				default:
					e = randEntry(src)
				}
			}
			if !e.Exists() {
				continue
			}
			out[p] = e
			if e.Kind == tree.Dir && depth < 3 {
				walk(p, depth+1)
			}
		}
	}
	walk("", 1)
	return out
}

// move renames a random entry of t (with what is under it) to a random free
// path whose parent is a directory, sometimes changing a file's exec bit.
func move(src source, t treeMap) {
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range t {
			if !yield(p) {
				return
			}
		}
	})
	if len(paths) == 0 {
		return
	}
	from := paths[src.IntN(len(paths))]
	dirs := []string{""}
	for _, p := range paths {
		if t[p].Kind == tree.Dir && p != from && !tree.IsUnder(p, from) {
			dirs = append(dirs, p)
		}
	}
	to := tree.Join(dirs[src.IntN(len(dirs))], names[src.IntN(len(names))]+"m")
	if _, ok := t[to]; ok || strings.Count(to, "/") > 3 {
		return
	}
	for _, p := range paths {
		if p == from || tree.IsUnder(p, from) {
			e := t[p]
			delete(t, p)
			if e.Kind == tree.File && src.IntN(4) == 0 {
				e.Perm ^= 0o111
			}
			t[to+p[len(from):]] = e
		}
	}
}

// scenario builds rows from a random base and two sides edited from it,
// with renames.
func scenario(src source) []Row {
	base := derive(src, treeMap{}, 80)
	local := derive(src, base, 15)
	remote := derive(src, base, 15)
	for _, s := range []treeMap{local, remote} {
		for n := src.IntN(3); n > 0; n-- {
			move(src, s)
		}
	}
	var paths []string
	for _, s := range []treeMap{base, local, remote} {
		for p := range s {
			paths = append(paths, p)
		}
	}
	slices.SortFunc(paths, tree.Compare)
	paths = slices.Compact(paths)
	rows := make([]Row, len(paths))
	for i, p := range paths {
		ino := uint64(i + 1)
		rows[i] = Row{Path: p, Rec: tree.Record{Base: base[p]},
			Local:  tree.Scanned{Path: p, Entry: local[p], FP: tree.Fingerprint{Size: local[p].Size, Ino: ino}},
			Remote: tree.Scanned{Path: p, Entry: remote[p], FP: tree.Fingerprint{Size: remote[p].Size, Ino: ino + 1000}}}
	}
	return rows
}

// check builds the operations of rows and carries them out in the model.
func check(t testing.TB, rows []Row) {
	t.Helper()
	ds := make([]reconcile.Decision, len(rows))
	for i, r := range rows {
		ds[i].Item = reconcile.Item{Path: r.Path, Base: r.Rec.Base, Local: r.Local.Entry, Remote: r.Remote.Entry}
	}
	reconcile.Decide(ds)
	mv := FindMoves(rows, ds)
	list := Build(rows, ds, mv)
	fail := func(format string, args ...any) {
		t.Helper()
		var b strings.Builder
		for i, r := range rows {
			fmt.Fprintf(&b, "  %-10s base %v local %v remote %v: %s %s\n", r.Path, short(r.Rec.Base), short(r.Local.Entry), short(r.Remote.Entry), ds[i].Action, ds[i].Kind)
		}
		t.Fatalf(format+"\nrows:\n%sops:\n%s", append(args, b.String(), describe(list))...)
	}
	world := [2]treeMap{{}, {}}
	for _, r := range rows {
		for s := range world {
			if e := r.On(Side(s)).Entry; e.Exists() {
				world[s][r.Path] = e
			}
		}
	}
	// run in waves, as the executor does
	done := make([]bool, len(list))
	staged := map[int]tree.Entry{}
	doneRows := map[int]int{}
	for {
		var wave []int
		class := -1
		for k, op := range list {
			ready := !done[k]
			for _, d := range op.Deps {
				if d < 0 || d >= len(list) || d == k {
					fail("op %d has dependency %d", k, d)
				}
				ready = ready && done[d]
			}
			if !ready {
				continue
			}
			switch c := op.Kind.Class(); {
			case class < 0 || c < class:
				class, wave = c, []int{k}
			case c == class:
				wave = append(wave, k)
			}
		}
		if len(wave) == 0 {
			break
		}
		touched := map[string]bool{}
		for _, k := range wave {
			op := list[k]
			for _, p := range []string{op.Path, op.From} {
				if p == "" || (op.Kind == Stage && p == op.From) {
					continue
				}
				key := fmt.Sprint(op.Side, "/", p)
				if touched[key] {
					fail("wave runs two ops on %s at once", key)
				}
				touched[key] = true
			}
			if err := run(world, staged, k, op); err != nil {
				fail("op %d (%s %s %s): %v", k, op.Kind, op.Side, op.Path, err)
			}
			done[k] = true
			for _, d := range op.Done {
				doneRows[d.Row]++
				for s := range world {
					if got := world[s][rows[d.Row].Path]; !tree.Same(got, d.Base) || (got.Kind == tree.File && got.Perm != d.Base.Perm) {
						fail("op %d says %s is %v, the %s side holds %v", k, rows[d.Row].Path, short(d.Base), Side(s), short(got))
					}
				}
			}
		}
	}
	for k := range list {
		if !done[k] {
			fail("op %d never ran (a dependency cycle)", k)
		}
	}
	for i, d := range ds {
		r := rows[i]
		l, rm := world[Local][r.Path], world[Remote][r.Path]
		switch {
		case d.Action == reconcile.Conflict:
			if !tree.Same(l, r.Local.Entry) || !tree.Same(rm, r.Remote.Entry) {
				fail("conflict %s changed: local %v remote %v", r.Path, short(l), short(rm))
			}
		case d.Action == reconcile.Equal:
			if !tree.Same(l, r.Local.Entry) || !tree.Same(rm, r.Remote.Entry) {
				fail("equal path %s changed: local %v remote %v", r.Path, short(l), short(rm))
			}
		default:
			win := r.Local.Entry
			if d.Action == reconcile.ToLocal {
				win = r.Remote.Entry
			}
			if _, edit := mv.Edits[i]; edit {
				win = l
			}
			if !tree.Same(l, rm) || !tree.Same(l, win) {
				fail("%s (%s): local %v remote %v, winner %v", r.Path, d.Action, short(l), short(rm), short(win))
			}
			if n := doneRows[i]; n > 1 || (n == 0 && !(l.Kind == tree.Dir && r.Local.Entry.Kind == tree.Dir && r.Remote.Entry.Kind == tree.Dir)) {
				fail("%s brought in step %d times", r.Path, n)
			}
		}
	}
}

// run carries out one op in the model, checking its expectations.
func run(world [2]treeMap, staged map[int]tree.Entry, k int, op Op) error {
	w := world[op.Side]
	want := func(p string, s tree.Scanned) error {
		got, ok := w[p]
		if !ok {
			got = tree.Entry{}
		}
		if got.Kind != s.Entry.Kind || (got.Kind == tree.File && got.Hash != s.Entry.Hash) || (got.Kind == tree.Symlink && got.Target != s.Entry.Target) {
			return fmt.Errorf("%s holds %v, expected %v", p, short(got), short(s.Entry))
		}
		return nil
	}
	parentDir := func(p string) error {
		if d := tree.Parent(p); d != "" && w[d].Kind != tree.Dir {
			return fmt.Errorf("parent of %s is %v", p, short(w[d]))
		}
		return nil
	}
	switch op.Kind {
	case Mkdir:
		if err := want(op.Path, op.Want); err != nil {
			return err
		}
		if err := parentDir(op.Path); err != nil {
			return err
		}
		w[op.Path] = op.Entry
	case Stage:
		src := world[op.Side.Other()][op.From]
		if !tree.SameContent(src, op.Src.Entry) && !(src.Kind == tree.Symlink && src.Target == op.Src.Entry.Target) {
			return fmt.Errorf("source %s holds %v, expected %v", op.From, short(src), short(op.Src.Entry))
		}
		if err := parentDir(op.Path); err != nil {
			return err
		}
		staged[k] = op.Entry
	case Install:
		if err := want(op.Path, op.Want); err != nil {
			return err
		}
		if op.Want.Entry.Kind == tree.Dir {
			return fmt.Errorf("install onto a directory")
		}
		e, ok := staged[op.Deps[0]]
		if !ok {
			return fmt.Errorf("nothing staged")
		}
		w[op.Path] = e
	case Rename:
		if err := want(op.From, op.Want); err != nil {
			return err
		}
		if err := want(op.Path, tree.Scanned{}); err != nil {
			return err
		}
		if err := parentDir(op.Path); err != nil {
			return err
		}
		for p, e := range w {
			if p == op.From || tree.IsUnder(p, op.From) {
				delete(w, p)
				w[op.Path+p[len(op.From):]] = e
			}
		}
	case Chmod:
		if err := want(op.Path, op.Want); err != nil {
			return err
		}
		e := w[op.Path]
		e.Perm = op.Entry.Perm
		w[op.Path] = e
	case Remove:
		if err := want(op.Path, op.Want); err != nil {
			return err
		}
		for p := range w {
			if tree.IsUnder(p, op.Path) {
				return fmt.Errorf("%s still holds %s", op.Path, p)
			}
		}
		delete(w, op.Path)
	}
	return nil
}

func short(e tree.Entry) string {
	switch e.Kind {
	case tree.File:
		return fmt.Sprintf("f%d:%o", e.Hash[0], e.Perm&0o111)
	case tree.Dir:
		return "d"
	case tree.Symlink:
		return "l:" + e.Target
	}
	return "-"
}

func TestBuildProperties(t *testing.T) {
	for seed := uint64(0); seed < 20000; seed++ {
		rows := scenario(rand.New(rand.NewPCG(seed, 1)))
		t.Run("", func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("seed %d", seed)
				}
			}()
			check(t, rows)
		})
		if t.Failed() {
			return
		}
	}
}

func FuzzBuild(f *testing.F) {
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		check(t, scenario(&byteSource{b: b}))
	})
}
