package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Named fixture entries.
var (
	none   = tree.Entry{}
	fileA  = tree.Entry{Kind: tree.File, Perm: 0o644, Size: 1, Hash: tree.Hash{1}}
	fileB  = tree.Entry{Kind: tree.File, Perm: 0o644, Size: 2, Hash: tree.Hash{2}}
	fileC  = tree.Entry{Kind: tree.File, Perm: 0o644, Size: 3, Hash: tree.Hash{3}}
	execA  = tree.Entry{Kind: tree.File, Perm: 0o755, Size: 1, Hash: tree.Hash{1}}
	touchA = tree.Entry{Kind: tree.File, Perm: 0o600, Size: 1, Hash: tree.Hash{1}, MtimeNs: 42}
	linkX  = tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: "x"}
	linkY  = tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: "y"}
	linkZ  = tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: "z"}
	dir    = tree.Entry{Kind: tree.Dir, Perm: 0o755}
	dir700 = tree.Entry{Kind: tree.Dir, Perm: 0o700}
)

// it builds an Item.
func it(path string, base, local, remote tree.Entry) Item {
	return Item{Path: path, Base: base, Local: local, Remote: remote}
}

// describe renders a decision as "path action[ kind][ <under]".
func describe(d Decision) string {
	s := d.Path + " " + d.Action.String()
	if d.Kind != NoConflict {
		s += " " + d.Kind.String()
	}
	if d.Under != "" {
		s += " <" + d.Under
	}
	return s
}

func describeAll(ds []Decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = describe(d)
	}
	return out
}

// swapItems returns items with local and remote swapped.
func swapItems(items []Item) []Item {
	out := slices.Clone(items)
	for i := range out {
		out[i].Local, out[i].Remote = out[i].Remote, out[i].Local
	}
	return out
}

func TestReconcileTable(t *testing.T) {
	tests := []struct {
		name  string
		items []Item
		want  []string
	}{
		// one path on its own
		{"unchanged", []Item{it("a", fileA, fileA, fileA)}, []string{"a equal"}},
		{"unchanged dir", []Item{it("d", dir, dir, dir)}, []string{"d equal"}},
		{"local modified", []Item{it("a", fileA, fileB, fileA)}, []string{"a to-remote"}},
		{"remote modified", []Item{it("a", fileA, fileA, fileB)}, []string{"a to-local"}},
		{"local created", []Item{it("a", none, fileA, none)}, []string{"a to-remote"}},
		{"remote created", []Item{it("a", none, none, linkX)}, []string{"a to-local"}},
		{"local deleted", []Item{it("a", fileA, none, fileA)}, []string{"a to-remote"}},
		{"remote deleted", []Item{it("a", linkX, linkX, none)}, []string{"a to-local"}},
		{"both deleted", []Item{it("a", fileA, none, none)}, []string{"a equal"}},
		{"all absent", []Item{it("a", none, none, none)}, []string{"a equal"}},
		{"both modified alike", []Item{it("a", fileA, fileB, fileB)}, []string{"a equal"}},
		{"both created alike", []Item{it("a", none, fileB, fileB)}, []string{"a equal"}},
		{"first sync alike", []Item{it("a", none, linkX, linkX)}, []string{"a equal"}},
		{"first sync one side", []Item{it("a", none, fileA, none)}, []string{"a to-remote"}},
		{"mtime and other perm bits only", []Item{it("a", fileA, touchA, fileA)}, []string{"a equal"}},
		{"dir perm bits only", []Item{it("d", dir, dir700, dir)}, []string{"d equal"}},
		{"exec bit set locally", []Item{it("a", fileA, execA, fileA)}, []string{"a to-remote"}},
		{"exec bit set remotely", []Item{it("a", fileA, fileA, execA)}, []string{"a to-local"}},
		{"exec bit set both", []Item{it("a", fileA, execA, execA)}, []string{"a equal"}},
		{"exec bit vs content", []Item{it("a", fileA, execA, fileB)}, []string{"a conflict modify/modify"}},
		{"symlink retarget", []Item{it("l", linkX, linkX, linkY)}, []string{"l to-local"}},
		{"symlink retarget alike", []Item{it("l", linkX, linkY, linkY)}, []string{"l equal"}},
		{"symlink retarget both", []Item{it("l", linkX, linkY, linkZ)}, []string{"l conflict modify/modify"}},
		{"modify/modify", []Item{it("a", fileA, fileB, fileC)}, []string{"a conflict modify/modify"}},
		{"file to symlink vs modify", []Item{it("a", fileA, linkX, fileB)}, []string{"a conflict modify/modify"}},
		{"file to symlink one side", []Item{it("a", fileA, fileA, linkX)}, []string{"a to-local"}},
		{"create/create", []Item{it("a", none, fileA, fileB)}, []string{"a conflict create/create"}},
		{"create/create file vs symlink", []Item{it("a", none, fileA, linkX)}, []string{"a conflict create/create"}},
		{"modify/delete", []Item{it("a", fileA, fileB, none)}, []string{"a conflict modify/delete"}},
		{"delete/modify", []Item{it("a", fileA, none, fileB)}, []string{"a conflict delete/modify"}},
		{"exec bit vs delete", []Item{it("a", fileA, none, execA)}, []string{"a conflict delete/modify"}},
		{"type change vs delete", []Item{it("a", fileA, linkX, none)}, []string{"a conflict modify/delete"}},

		// file/dir
		{"both created, one a dir", []Item{
			it("d", none, dir, fileA),
			it("d/x", none, fileA, none),
			it("d/y", none, dir, none),
			it("d/y/z", none, fileB, none),
		}, []string{"d conflict file/dir", "d/x conflict file/dir <d", "d/y conflict file/dir <d", "d/y/z conflict file/dir <d"}},
		{"both created dirs", []Item{
			it("d", none, dir, dir),
			it("d/x", none, fileA, fileB),
			it("d/y", none, none, fileB),
		}, []string{"d equal", "d/x conflict create/create", "d/y to-local"}},
		{"file to dir one side propagates", []Item{
			it("d", fileA, dir, fileA),
			it("d/x", none, fileB, none),
		}, []string{"d to-remote", "d/x to-remote"}},
		{"file to dir vs modify", []Item{
			it("d", fileA, dir, fileB),
			it("d/x", none, fileB, none),
		}, []string{"d conflict file/dir", "d/x conflict file/dir <d"}},
		{"file to dir vs delete", []Item{
			it("d", fileA, dir, none),
			it("d/x", none, fileB, none),
		}, []string{"d conflict modify/delete", "d/x conflict modify/delete <d"}},
		{"file to dir both sides", []Item{
			it("d", fileA, none, dir),
			it("d/x", none, none, fileB),
		}, []string{"d conflict delete/modify", "d/x conflict delete/modify <d"}},
		{"dir to file one side propagates", []Item{
			it("d", dir, fileA, dir),
			it("d/x", fileA, none, fileA),
		}, []string{"d to-remote", "d/x to-remote"}},
		{"dir to file vs added under it", []Item{
			it("d", dir, dir, fileA),
			it("d/x", fileA, fileA, none),
			it("d/y", none, fileB, none),
		}, []string{"d conflict file/dir", "d/x conflict file/dir <d", "d/y conflict file/dir <d"}},
		{"dir to file vs dir to symlink", []Item{
			it("d", dir, fileA, linkX),
			it("d/x", fileA, none, none),
		}, []string{"d conflict modify/modify", "d/x conflict modify/modify <d"}},
		{"dir to file both alike", []Item{
			it("d", dir, fileA, fileA),
			it("d/x", fileA, none, none),
		}, []string{"d equal", "d/x equal"}},
		{"dir removed vs dir to file", []Item{
			it("d", dir, none, fileA),
			it("d/x", fileA, none, none),
		}, []string{"d conflict delete/modify", "d/x conflict delete/modify <d"}},

		// removed directories
		{"dir deleted, subtree unchanged, propagates", []Item{
			it("d", dir, none, dir),
			it("d/e", dir, none, dir),
			it("d/e/f", fileA, none, fileA),
			it("d/x", linkX, none, linkX),
		}, []string{"d to-remote", "d/e to-remote", "d/e/f to-remote", "d/x to-remote"}},
		{"dir deleted remotely, subtree unchanged, propagates", []Item{
			it("d", dir, dir, none),
			it("d/x", fileA, fileA, none),
		}, []string{"d to-local", "d/x to-local"}},
		{"dir deleted, descendant modified", []Item{
			it("d", dir, none, dir),
			it("d/w", fileA, none, fileA),
			it("d/x", fileA, none, fileB),
		}, []string{"d conflict delete/modify", "d/w conflict delete/modify <d", "d/x conflict delete/modify <d"}},
		{"dir deleted, descendant added", []Item{
			it("d", dir, none, dir),
			it("d/new", none, none, fileB),
		}, []string{"d conflict delete/modify", "d/new conflict delete/modify <d"}},
		{"dir deleted, exec bit set under it", []Item{
			it("d", dir, dir, none),
			it("d/x", fileA, execA, none),
		}, []string{"d conflict modify/delete", "d/x conflict modify/delete <d"}},
		{"dir deleted, descendant removed alike, propagates", []Item{
			it("d", dir, none, dir),
			it("d/x", fileA, none, none),
			it("d/y", fileA, none, fileA),
		}, []string{"d to-remote", "d/x equal", "d/y to-remote"}},
		{"dir deleted, descendant removed and another modified", []Item{
			it("d", dir, none, dir),
			it("d/x", fileA, none, none),
			it("d/y", fileA, none, fileB),
		}, []string{"d conflict delete/modify", "d/x conflict delete/modify <d", "d/y conflict delete/modify <d"}},
		{"dir deleted, descendant type changed", []Item{
			it("d", dir, dir, none),
			it("d/x", fileA, linkX, none),
		}, []string{"d conflict modify/delete", "d/x conflict modify/delete <d"}},
		{"dir deleted both sides", []Item{
			it("d", dir, none, none),
			it("d/x", fileA, none, none),
		}, []string{"d equal", "d/x equal"}},
		{"nested removed dirs, conflict at the highest", []Item{
			it("d", dir, none, dir),
			it("d/e", dir, none, dir),
			it("d/e/f", fileA, none, fileB),
			it("d/g", fileA, none, fileA),
			it("h", fileA, fileB, fileA),
		}, []string{"d conflict delete/modify", "d/e conflict delete/modify <d", "d/e/f conflict delete/modify <d", "d/g conflict delete/modify <d", "h to-remote"}},
		{"inner removed dir, conflict there only", []Item{
			it("d", dir, dir, dir),
			it("d/e", dir, none, dir),
			it("d/e/f", fileA, none, fileB),
			it("d/g", fileA, none, fileA),
		}, []string{"d equal", "d/e conflict delete/modify", "d/e/f conflict delete/modify <d/e", "d/g to-remote"}},
		{"removal on each side in sibling dirs", []Item{
			it("a", dir, none, dir),
			it("a/x", fileA, none, fileA),
			it("b", dir, dir, none),
			it("b/x", fileA, fileB, none),
			it("c", fileA, fileA, fileA),
		}, []string{"a to-remote", "a/x to-remote", "b conflict modify/delete", "b/x conflict modify/delete <b", "c equal"}},
		{"sibling name sorting after slash", []Item{
			it("d", dir, none, dir),
			it("d/x", fileA, none, fileA),
			it("d-x", fileA, fileA, fileB),
		}, []string{"d to-remote", "d/x to-remote", "d-x to-local"}},
		{"conflicting file in a kept dir does not spread", []Item{
			it("d", dir, dir, dir),
			it("d/x", fileA, fileB, fileC),
			it("d/y", fileA, none, fileA),
		}, []string{"d equal", "d/x conflict modify/modify", "d/y to-remote"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Reconcile(tc.items)
			if g := describeAll(got); !slices.Equal(g, tc.want) {
				t.Fatalf("got\n  %s\nwant\n  %s", strings.Join(g, "\n  "), strings.Join(tc.want, "\n  "))
			}
			for i, d := range got {
				if d.Item != tc.items[i] {
					t.Errorf("decision %d carries item %+v, want %+v", i, d.Item, tc.items[i])
				}
			}
			checkMirror(t, tc.items, got)
		})
	}
}

// checkMirror checks that swapping the sides mirrors every decision.
func checkMirror(t testing.TB, items []Item, ds []Decision) {
	t.Helper()
	swapped := Reconcile(swapItems(items))
	for i := range ds {
		if m := Mirror(ds[i]); m != swapped[i] {
			t.Fatalf("mirror of %q: Mirror gives %s, swapped sides give %s", ds[i].Path, describe(m), describe(swapped[i]))
		}
	}
}

func TestMirror(t *testing.T) {
	tests := []struct {
		in, want Decision
	}{
		{Decision{Item: it("a", fileA, fileB, fileC), Action: ToRemote}, Decision{Item: it("a", fileA, fileC, fileB), Action: ToLocal}},
		{Decision{Item: it("a", fileA, fileB, fileC), Action: ToLocal}, Decision{Item: it("a", fileA, fileC, fileB), Action: ToRemote}},
		{Decision{Item: it("a", fileA, fileA, fileA)}, Decision{Item: it("a", fileA, fileA, fileA)}},
		{Decision{Item: it("a", fileA, fileB, none), Action: Conflict, Kind: ModifyDelete}, Decision{Item: it("a", fileA, none, fileB), Action: Conflict, Kind: DeleteModify}},
		{Decision{Item: it("a", fileA, none, fileB), Action: Conflict, Kind: DeleteModify, Under: "d"}, Decision{Item: it("a", fileA, fileB, none), Action: Conflict, Kind: ModifyDelete, Under: "d"}},
		{Decision{Item: it("a", none, dir, fileB), Action: Conflict, Kind: FileDir}, Decision{Item: it("a", none, fileB, dir), Action: Conflict, Kind: FileDir}},
		{Decision{Item: it("a", none, linkX, fileB), Action: Conflict, Kind: CreateCreate}, Decision{Item: it("a", none, fileB, linkX), Action: Conflict, Kind: CreateCreate}},
		{Decision{Item: it("a", fileA, linkX, fileB), Action: Conflict, Kind: ModifyModify}, Decision{Item: it("a", fileA, fileB, linkX), Action: Conflict, Kind: ModifyModify}},
	}
	for _, tc := range tests {
		if got := Mirror(tc.in); got != tc.want {
			t.Errorf("Mirror(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
		if back := Mirror(Mirror(tc.in)); back != tc.in {
			t.Errorf("Mirror is not an involution on %+v: %+v", tc.in, back)
		}
	}
}

func TestCount(t *testing.T) {
	ds := Reconcile([]Item{
		it("a", fileA, fileB, fileA),
		it("b", none, fileA, none),
		it("c", fileA, fileA, fileB),
		it("d", dir, none, dir),
		it("d/x", fileA, none, fileB),
		it("d/y", fileA, none, fileA),
		it("e", fileA, fileB, fileC),
		it("f", fileA, fileA, fileA),
		it("g", none, fileA, fileB),
	})
	want := map[string]int{
		"to-remote":              2,
		"to-local":               1,
		"conflict delete/modify": 1,
		"conflict modify/modify": 1,
		"conflict create/create": 1,
		"equal":                  1,
	}
	if got := Count(ds); !maps.Equal(got, want) {
		t.Errorf("Count = %v, want %v", got, want)
	}
	if got := Count(nil); len(got) != 0 {
		t.Errorf("Count(nil) = %v, want empty", got)
	}
}

func TestStrings(t *testing.T) {
	actions := map[Action]string{Equal: "equal", ToRemote: "to-remote", ToLocal: "to-local", Conflict: "conflict", 9: "action(9)"}
	for a, want := range actions {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", uint8(a), got, want)
		}
	}
	kinds := map[Kind]string{NoConflict: "", ModifyModify: "modify/modify", CreateCreate: "create/create",
		ModifyDelete: "modify/delete", DeleteModify: "delete/modify", FileDir: "file/dir", 200: "kind(200)"}
	for k, want := range kinds {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func BenchmarkReconcile(b *testing.B) {
	const n = 100_000
	items := make([]Item, 0, n)
	for d := 0; len(items) < n; d++ {
		p := fmt.Sprintf("dir%03d", d)
		items = append(items, it(p, dir, dir, dir))
		for f := 0; f < 999 && len(items) < n; f++ {
			items = append(items, it(fmt.Sprintf("%s/file%04d", p, f), fileA, fileA, fileA))
		}
	}
	slices.SortFunc(items, func(x, y Item) int { return tree.Compare(x.Path, y.Path) })
	b.ReportAllocs()
	for b.Loop() {
		ds := Reconcile(items)
		if ds[len(ds)-1].Action != Equal {
			b.Fatal("unchanged item not equal")
		}
	}
}
