package reconcile

import (
	"math/rand/v2"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// TestPropertyPolicies checks DecideWith over random scenarios: a mirror
// has no conflicts and makes the target equal to the source; a preference
// changes nothing outside conflicts, settles every conflict it can (all of
// them for local and remote) for the side its rule picks, with the whole
// subtree; the trees after applying are consistent and a two-way pass over
// them agrees.
func TestPropertyPolicies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	stats := map[string]int{}
	for range 3000 {
		items := randScenario(r)
		for i := range items {
			for _, e := range []*tree.Entry{&items[i].Local, &items[i].Remote} {
				if e.Kind == tree.File {
					e.MtimeNs = int64(r.IntN(3))
				}
			}
		}
		two := Reconcile(items)
		for _, pol := range []Policy{{Mode: Push}, {Mode: Pull}, {Prefer: PreferLocal}, {Prefer: PreferRemote}, {Prefer: PreferNewer}} {
			ds := make([]Decision, len(items))
			for i, it := range items {
				ds[i].Item = it
			}
			DecideWith(ds, pol)
			checkPolicy(t, pol, two, ds, stats)
			checkApply(t, ds)
		}
	}
	for _, k := range []string{"push", "pull", "settled local", "settled remote", "settled newer", "left newer"} {
		if stats[k] < 50 {
			t.Errorf("only %d random cases %q: %v", stats[k], k, stats)
		}
	}
}

func checkPolicy(t *testing.T, pol Policy, two, ds []Decision, stats map[string]int) {
	t.Helper()
	root := -1 // the two-way conflict enclosing the current path
	for i, d := range ds {
		if pol.Mode != TwoWay {
			want := ToRemote
			if pol.Mode == Pull {
				want = ToLocal
			}
			if tree.Same(d.Local, d.Remote) || !d.Local.Exists() && !d.Remote.Exists() {
				want = Equal
			}
			if d.Action != want || d.Kind != NoConflict || d.Under != "" {
				t.Fatalf("%s: %s, want %s", pol.Mode, describe(d), want)
			}
			stats[pol.Mode.String()]++
			continue
		}
		w := two[i]
		if root >= 0 && !tree.IsUnder(d.Path, two[root].Path) {
			root = -1
		}
		if root < 0 && w.Action == Conflict {
			root = i
		}
		if root < 0 {
			if d != w {
				t.Fatalf("prefer %s changed a path outside conflicts: %s, two-way %s", pol.Prefer, describe(d), describe(w))
			}
			continue
		}
		top := &ds[root]
		local, ok := preferLocal(&two[root], pol.Prefer)
		if !ok {
			if d != w || pol.Prefer != PreferNewer {
				t.Fatalf("prefer %s left %s, two-way %s", pol.Prefer, describe(d), describe(w))
			}
			stats["left "+pol.Prefer.String()]++
			continue
		}
		if i == root {
			if d.Settled != w.Kind || d.LocalWon != local {
				t.Fatalf("prefer %s: %s settled as %s (local won: %v), want %s (%v)", pol.Prefer, describe(d), d.Settled, d.LocalWon, w.Kind, local)
			}
			stats["settled "+pol.Prefer.String()]++
		} else if d.Settled != NoConflict {
			t.Fatalf("prefer %s: %s under the settled %s is marked settled too", pol.Prefer, describe(d), top.Path)
		}
		want := ToRemote
		if !local {
			want = ToLocal
		}
		if tree.Same(d.Local, d.Remote) || !d.Local.Exists() && !d.Remote.Exists() {
			want = Equal
		}
		if d.Action != want || d.Under != "" {
			t.Fatalf("prefer %s: %s, want %s", pol.Prefer, describe(d), want)
		}
	}
}

func TestPolicyParse(t *testing.T) {
	for _, m := range []Mode{TwoWay, Push, Pull} {
		if got, err := ParseMode(m.String()); got != m || err != nil {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	for _, p := range []Prefer{PreferLocal, PreferRemote, PreferNewer} {
		if got, err := ParsePrefer(p.String()); got != p || err != nil {
			t.Errorf("ParsePrefer(%q) = %v, %v", p, got, err)
		}
	}
	if _, err := ParseMode("both"); err == nil {
		t.Error("ParseMode accepts both")
	}
	if err := (Policy{Mode: Pull, Prefer: PreferNewer}).Check(); err == nil {
		t.Error("a preference in pull mode is accepted")
	}
}

// TestPreferNewerTable states the rule of --prefer newer case by case,
// without the code under test deciding the expected winner.
func TestPreferNewerTable(t *testing.T) {
	file := func(c byte, mtime int64) tree.Entry {
		return tree.Entry{Kind: tree.File, Perm: 0o644, Size: 1, MtimeNs: mtime, Hash: tree.Hash{c}}
	}
	dir := tree.Entry{Kind: tree.Dir, Perm: 0o755}
	link := tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: "t"}
	base := file('b', 1)
	for _, c := range []struct {
		name       string
		base, l, r tree.Entry
		want       Action // after the preference; Conflict: left alone
	}{
		{"local newer", base, file('l', 30), file('r', 20), ToRemote},
		{"remote newer", base, file('l', 20), file('r', 30), ToLocal},
		{"same mtime", base, file('l', 20), file('r', 20), Conflict},
		{"remote deleted", base, file('l', 5), tree.Entry{}, ToRemote},
		{"local deleted", base, tree.Entry{}, file('r', 5), ToLocal},
		{"file against dir", tree.Entry{}, file('l', 99), dir, Conflict},
		{"symlink against file", tree.Entry{}, link, file('r', 99), Conflict},
	} {
		ds := []Decision{{Item: Item{Path: "x", Base: c.base, Local: c.l, Remote: c.r}}}
		DecideWith(ds, Policy{Prefer: PreferNewer})
		if ds[0].Action != c.want {
			t.Errorf("%s: %s, want %s", c.name, describe(ds[0]), c.want)
		}
	}
}
