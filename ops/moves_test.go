package ops

import (
	"sort"
	"testing"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Ties between deletions of the same content are broken by inode, then
// name, then parent directory.
func TestFindRenamesTieBreak(t *testing.T) {
	content := tree.Entry{Kind: tree.File, Perm: 0o644, Size: 3, Hash: tree.Hash{7}}
	gone := func(path string, ino uint64) Row {
		return Row{Path: path, Rec: tree.Record{Base: content, Local: tree.Cached{FP: tree.Fingerprint{Ino: ino}}},
			Remote: tree.Scanned{Path: path, Entry: content}}
	}
	added := func(path string, ino uint64) Row {
		return Row{Path: path, Local: tree.Scanned{Path: path, Entry: content, FP: tree.Fingerprint{Ino: ino}}}
	}
	cases := []struct {
		name string
		rows []Row
		want string // the deletion paired with the creation
	}{
		{"inode wins", []Row{gone("a/x", 1), gone("b/new", 2), gone("c/y", 9), added("c/new", 9)}, "c/y"},
		{"then name", []Row{gone("a/x", 1), gone("b/new", 2), added("c/new", 9)}, "b/new"},
		{"then parent", []Row{gone("a/x", 1), gone("c/y", 2), added("c/new", 9)}, "c/y"},
		{"then tree order", []Row{gone("a/x", 1), gone("b/y", 2), added("c/new", 9)}, "a/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sort.Slice(c.rows, func(i, j int) bool { return tree.Compare(c.rows[i].Path, c.rows[j].Path) < 0 })
			items := make([]reconcile.Item, len(c.rows))
			for i, r := range c.rows {
				items[i] = reconcile.Item{Path: r.Path, Base: r.Rec.Base, Local: r.Local.Entry, Remote: r.Remote.Entry}
			}
			got := FindMoves(c.rows, reconcile.Reconcile(items)).Files
			if len(got) != 1 {
				t.Fatalf("renames = %v", got)
			}
			for to, from := range got {
				if c.rows[from].Path != c.want || c.rows[to].Path != "c/new" {
					t.Fatalf("paired %s with %s, want %s", c.rows[to].Path, c.rows[from].Path, c.want)
				}
			}
		})
	}
}
