package ops

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Named entries for the fixture tables.
var (
	fA  = tree.Entry{Kind: tree.File, Perm: 0o644, Size: 1, Hash: tree.Hash{1}}
	fAx = tree.Entry{Kind: tree.File, Perm: 0o755, Size: 1, Hash: tree.Hash{1}}
	fB  = tree.Entry{Kind: tree.File, Perm: 0o644, Size: 1, Hash: tree.Hash{2}}
	fC  = tree.Entry{Kind: tree.File, Perm: 0o644, Size: 1, Hash: tree.Hash{3}}
	dir = tree.Entry{Kind: tree.Dir, Perm: 0o755}
	no  = tree.Entry{}
)

// state is one path's base, local and remote entries.
type state struct{ base, local, remote tree.Entry }

// plan reconciles a fixture and builds its operations.
func plan(fx map[string]state) ([]Row, []Op) {
	paths := make([]string, 0, len(fx))
	for p := range fx {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return tree.Compare(paths[i], paths[j]) < 0 })
	rows := make([]Row, len(paths))
	ds := make([]reconcile.Decision, len(paths))
	for i, p := range paths {
		s := fx[p]
		rows[i] = Row{Path: p, Rec: tree.Record{Base: s.base}, Local: tree.Scanned{Path: p, Entry: s.local}, Remote: tree.Scanned{Path: p, Entry: s.remote}}
		ds[i].Item = reconcile.Item{Path: p, Base: s.base, Local: s.local, Remote: s.remote}
	}
	reconcile.Decide(ds)
	return rows, Build(rows, ds, FindMoves(rows, ds))
}

// describe renders ops as "kind side path[<-from] [after N,M]" lines.
func describe(list []Op) string {
	var b strings.Builder
	for k, op := range list {
		fmt.Fprintf(&b, "%d %s %s %s", k, op.Kind, op.Side, op.Path)
		if op.From != "" && op.Kind == Rename {
			fmt.Fprintf(&b, "<-%s", op.From)
		}
		if len(op.Deps) > 0 {
			deps := append([]int(nil), op.Deps...)
			sort.Ints(deps)
			fmt.Fprintf(&b, " after %s", strings.Trim(fmt.Sprint(deps), "[]"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestBuild(t *testing.T) {
	cases := []struct {
		name string
		fx   map[string]state
		want string
	}{
		{"update", map[string]state{"a": {fA, fB, fA}},
			"0 stage remote a\n1 install remote a after 0\n"},
		{"chmod", map[string]state{"a": {fA, fAx, fA}},
			"0 chmod remote a\n"},
		{"delete", map[string]state{"a": {fA, fA, no}},
			"0 remove local a\n"},
		{"directory delete waits for what is under it", map[string]state{"d": {dir, no, dir}, "d/a": {fA, no, fA}, "d/b": {fB, no, fB}},
			"0 remove remote d after 1 2\n1 remove remote d/a\n2 remove remote d/b\n"},
		{"file replaced by a directory", map[string]state{"x": {fA, dir, fA}, "x/b": {no, fB, no}},
			"0 remove remote x\n1 mkdir remote x after 0\n2 stage remote x/b after 1\n3 install remote x/b after 1 2\n"},
		{"rename", map[string]state{"a": {fA, no, fA}, "b": {no, fA, no}},
			"0 rename remote b<-a\n"},
		{"rename and chmod", map[string]state{"a": {fA, no, fA}, "b": {no, fAx, no}},
			"0 rename remote b<-a\n1 chmod remote b after 0\n"},
		{"rename on one side, edit on the other", map[string]state{"a": {fA, no, fB}, "b": {no, fA, no}},
			"0 rename remote b<-a\n1 stage local b after 0\n2 install local b after 1\n"},
		{"rename into a file replaced by a directory, edit on the other side", map[string]state{"a": {fA, no, fB}, "x": {fC, dir, fC}, "x/b": {no, fA, no}},
			"0 remove remote x\n1 mkdir remote x after 0\n2 rename remote x/b<-a after 1\n3 stage local x/b after 2\n4 install local x/b after 3\n"},
		{"rename and chmod on one side, edit on the other", map[string]state{"a": {fA, no, fB}, "b": {no, fAx, no}},
			"0 rename remote b<-a\n1 chmod remote b after 0\n2 stage local b after 1\n3 install local b after 2\n"},
		{"directory rename with a chmod inside", map[string]state{"d": {dir, no, dir}, "d/s": {fA, no, fA}, "d/t": {fB, no, fB}, "e": {no, dir, no}, "e/s": {no, fAx, no}, "e/t": {no, fB, no}},
			"0 rename remote e<-d\n1 chmod remote e/s after 0\n"},
		{"both sides changed differently: nothing", map[string]state{"a": {fA, fB, fC}},
			""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, got := plan(c.fx)
			if d := describe(got); d != c.want {
				t.Fatalf("ops:\n%swant:\n%s", d, c.want)
			}
		})
	}
}

// The result of a rename on one side and an edit on the other has the
// edited content and the renaming side's new permission bits.
func TestRenameEditMergesPermissions(t *testing.T) {
	_, got := plan(map[string]state{"a": {fA, no, fB}, "b": {no, fAx, no}})
	last := got[len(got)-1]
	if len(last.Done) != 1 || last.Done[0].Base.Hash != fB.Hash || !last.Done[0].Base.Exec() {
		t.Fatalf("result %+v", last.Done)
	}
}
