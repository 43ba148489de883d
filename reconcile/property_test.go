package reconcile

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// side is one tree as a map from path to entry; absent paths are missing.
type side map[string]tree.Entry

// source gives random choices: *rand.Rand in property tests, fuzz bytes in
// FuzzReconcile.
type source interface {
	IntN(n int) int
}

// byteSource draws choices from fuzz bytes, then zeros once they run out.
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

// Scenario shape: paths of at most maxDepth components over a small
// alphabet, and few distinct contents so that sides often agree by chance.
var names = []string{"a", "b", "c", "d"}

const maxDepth = 3

// randEntry returns a random present entry from a small value space.
func randEntry(src source) tree.Entry {
	switch src.IntN(4) {
	case 0, 1:
		return tree.Entry{Kind: tree.Dir, Perm: 0o755}
	case 2:
		return tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: names[src.IntN(len(names))]}
	}
	return randFile(src)
}

func randFile(src source) tree.Entry {
	c := src.IntN(3)
	return tree.Entry{Kind: tree.File, Perm: 0o644 | 0o111*uint32(src.IntN(2)), Size: int64(c), Hash: tree.Hash{byte(c)}}
}

// change returns a random edit of e: created if absent, else removed,
// modified in place (content, exec bit, symlink target), or replaced by a
// random entry.
func change(src source, e tree.Entry) tree.Entry {
	if !e.Exists() {
		return randEntry(src)
	}
	switch src.IntN(3) {
	case 0:
		return tree.Entry{}
	case 1:
		switch e.Kind {
		case tree.File:
			return randFile(src)
		case tree.Symlink:
			e.Target = names[src.IntN(len(names))]
			return e
		}
	}
	return randEntry(src)
}

// derive returns a consistent tree made from from by editing each path
// with probability pct percent. Children are only ever placed in
// directories, so the result is consistent whenever from is.
func derive(src source, from side, pct int) side {
	out := side{}
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		for _, n := range names {
			p := tree.Join(dir, n)
			e := from[p]
			if src.IntN(100) < pct {
				e = change(src, e)
			}
			if !e.Exists() {
				continue
			}
			out[p] = e
			if e.Kind == tree.Dir && depth < maxDepth {
				walk(p, depth+1)
			}
		}
	}
	walk("", 1)
	return out
}

// itemsOf lists every path of base, local and remote in tree.Compare order.
func itemsOf(base, local, remote side) []Item {
	var paths []string
	for _, s := range []side{base, local, remote} {
		for p := range s {
			paths = append(paths, p)
		}
	}
	slices.SortFunc(paths, tree.Compare)
	paths = slices.Compact(paths)
	items := make([]Item, len(paths))
	for i, p := range paths {
		items[i] = it(p, base[p], local[p], remote[p])
	}
	return items
}

// randScenario builds a random base and two sides edited from it; the
// remote is sometimes edited from the local side so that both sides often
// share changes.
func randScenario(src source) []Item {
	base := derive(src, side{}, 80)
	local := derive(src, base, 20)
	from := base
	if src.IntN(3) == 0 {
		from = local
	}
	return itemsOf(base, local, derive(src, from, 20))
}

// checkScenario checks the properties that hold for every input: mirror
// symmetry, nothing decided under a conflict, and that carrying out the
// decisions converges to consistent trees and is idempotent.
func checkScenario(t testing.TB, items []Item) {
	t.Helper()
	ds := Reconcile(items)
	if len(ds) != len(items) {
		t.Fatalf("%d decisions for %d items", len(ds), len(items))
	}
	checkMirror(t, items, ds)
	checkUnderConflicts(t, ds)
	checkApply(t, ds)
}

// checkUnderConflicts checks that every path under a conflicting path is a
// conflict Under the highest conflicting ancestor, with its kind.
func checkUnderConflicts(t testing.TB, ds []Decision) {
	t.Helper()
	top := map[string]Decision{} // conflicting paths with no conflicting ancestor
	for _, d := range ds {
		var anc *Decision
		for p := tree.Parent(d.Path); ; p = tree.Parent(p) {
			if a, ok := top[p]; ok && p != d.Path {
				anc = &a
			}
			if p == "" {
				break
			}
		}
		switch {
		case anc == nil && d.Under != "":
			t.Fatalf("%s is Under a path that is not a top conflict", describe(d))
		case anc != nil && (d.Action != Conflict || d.Kind != anc.Kind || d.Under != anc.Path):
			t.Fatalf("%s lies under %s", describe(d), describe(*anc))
		case anc == nil && d.Action == Conflict:
			top[d.Path] = d
		}
		if (d.Action == Conflict) != (d.Kind != NoConflict) {
			t.Fatalf("%s: kind does not match action", describe(d))
		}
	}
}

// checkApply carries out ds on a copy of both sides, checks that every
// non-conflicting path then holds the same result on both sides and that
// both sides and the new base are consistent trees, and that reconciling
// again against the new base gives only Equal besides the same conflicts.
func checkApply(t testing.TB, ds []Decision) {
	t.Helper()
	base, local, remote := side{}, side{}, side{}
	next := make([]Item, len(ds))
	for i, d := range ds {
		n := d.Item
		switch d.Action {
		case ToRemote:
			n.Remote = n.Local
		case ToLocal:
			n.Local = n.Remote
		}
		if d.Action != Conflict {
			if !tree.Same(n.Local, n.Remote) {
				t.Fatalf("%s: sides differ after applying: %+v vs %+v", describe(d), n.Local, n.Remote)
			}
			n.Base = n.Local
		}
		next[i] = n
		put(base, n.Path, n.Base)
		put(local, n.Path, n.Local)
		put(remote, n.Path, n.Remote)
	}
	for name, s := range map[string]side{"base": base, "local": local, "remote": remote} {
		if p, ok := inconsistent(s); ok {
			t.Fatalf("%s is inconsistent after applying at %q: %v", name, p, describeAll(ds))
		}
	}
	again := Reconcile(next)
	for i, d := range again {
		want := ds[i]
		if want.Action != Conflict {
			want = Decision{Item: next[i]}
		} else {
			want.Item = next[i]
		}
		if d != want {
			t.Fatalf("second pass: %s, want %s (first pass %v)", describe(d), describe(want), describeAll(ds))
		}
	}
}

func put(s side, p string, e tree.Entry) {
	if e.Exists() {
		s[p] = e
	}
}

// inconsistent returns a path of s whose parent is not a directory of s.
func inconsistent(s side) (string, bool) {
	for p := range s {
		if parent := tree.Parent(p); parent != "" && s[parent].Kind != tree.Dir {
			return p, true
		}
	}
	return "", false
}

func TestPropertyRandomScenarios(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	stats := map[string]int{}
	for range 5000 {
		items := randScenario(r)
		checkScenario(t, items)
		for k, v := range Count(Reconcile(items)) {
			stats[k] += v
		}
	}
	// The generator must reach every decision, or the properties prove little.
	for _, k := range []string{"equal", "to-remote", "to-local", "conflict modify/modify", "conflict create/create",
		"conflict modify/delete", "conflict delete/modify", "conflict file/dir"} {
		if stats[k] < 50 {
			t.Errorf("only %d random decisions %q: %v", stats[k], k, stats)
		}
	}
}

func TestPropertySameSidesAreEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		base := derive(r, side{}, 80)
		local := derive(r, base, 30)
		for _, d := range Reconcile(itemsOf(base, local, local)) {
			if d.Action != Equal {
				t.Fatalf("identical sides: %s", describe(d))
			}
		}
	}
}

func TestPropertyRemoteUnchangedGoesToRemote(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		base := derive(r, side{}, 80)
		local := derive(r, base, 30)
		items := itemsOf(base, local, base)
		for _, d := range Reconcile(items) {
			want := Equal
			if tree.Diff(d.Base, d.Local) != tree.Unchanged {
				want = ToRemote
			}
			if d.Action != want || d.Kind != NoConflict || d.Under != "" {
				t.Fatalf("remote unchanged: %s, want %s", describe(d), want)
			}
		}
		checkScenario(t, items)
	}
}

func FuzzReconcile(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 2, 99, 0, 1, 0, 2, 0, 0, 0, 5, 3})
	f.Add([]byte("a directory removed on one side while a file under it changed on the other"))
	f.Add([]byte{7, 200, 13, 0, 0, 41, 255, 3, 3, 3, 17, 99, 1, 1, 0, 8, 64, 12, 90, 2, 2, 71})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScenario(t, randScenario(&byteSource{b: data}))
	})
}
