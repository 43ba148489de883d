package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/myrrorfs/myrrorfs/journal"
)

// The pairs opened with a state directory are found again from a path in
// their LOCAL; records that do not read as a pair are skipped.
func TestRecordedPairs(t *testing.T) {
	state := t.TempDir()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{}
	for _, d := range []string{"proj", "proj/inner", "r1", "r2", "r3"} {
		dirs[d] = filepath.Join(base, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	open := func(l, r string) {
		p, err := Open(context.Background(), dirs[l], dirs[r], Options{StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
	}
	open("proj", "r1")
	open("proj", "r2")
	open("proj/inner", "r3")
	// a record whose identity names its directory but whose LOCAL is
	// relative: not a pair
	bad := "rel/local\x00host:x"
	os.MkdirAll(journal.PairDir(state, bad), 0o700)
	os.WriteFile(filepath.Join(journal.PairDir(state, bad), "pair"), []byte("rel/local\nhost:x\n"), 0o600)

	recs, err := RecordedPairs(Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("RecordedPairs = %v", recs)
	}
	remotes := func(rs []Recorded) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Remote.String())
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{dirs["proj"], []string{dirs["r1"], dirs["r2"]}},
		{filepath.Join(dirs["proj"], "a/b"), []string{dirs["r1"], dirs["r2"]}},
		{filepath.Join(dirs["proj/inner"], "x"), []string{dirs["r3"]}},
		{dirs["proj"] + "x/y", nil},
		{base, nil},
	} {
		if got := remotes(PairsHolding(recs, c.path)); !slices.Equal(got, c.want) {
			t.Errorf("PairsHolding(%s) = %v, want %v", c.path, got, c.want)
		}
	}

	// a path through a symlink, to a file that does not exist, names the
	// same place; the last component is not followed
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dirs["proj"], link)
	if got, err := CanonicalPath(filepath.Join(link, "gone/deeper")); err != nil || got != filepath.Join(dirs["proj"], "gone/deeper") {
		t.Errorf("CanonicalPath through a symlink = %q, %v", got, err)
	}
	os.Symlink("/etc", filepath.Join(dirs["proj"], "l"))
	if got, err := CanonicalPath(filepath.Join(link, "l")); err != nil || got != filepath.Join(dirs["proj"], "l") {
		t.Errorf("CanonicalPath of a symlink = %q, %v", got, err)
	}
}
