package merge3

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzMerge checks properties that hold for any input: no panic, binary
// input refused, a side that changed nothing or two sides that made the same
// change yield that change, every conflict has its markers, and a clean
// merge does not depend on which side is local.
func FuzzMerge(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c.base), []byte(c.local), []byte(c.remote))
	}
	f.Add([]byte("a\x00"), []byte("b"), []byte("c"))
	f.Fuzz(func(t *testing.T, base, x, y []byte) {
		r, err := Merge(base, x, y, labels)
		if !IsText(base) || !IsText(x) || !IsText(y) {
			if !errors.Is(err, ErrBinary) {
				t.Fatalf("binary input: error %v, want ErrBinary", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(r.Merged, []byte("<<<<<<< local")); n < r.Conflicts {
			t.Fatalf("%d conflicts but %d opening markers in %q", r.Conflicts, n, r.Merged)
		}
		for _, c := range []struct {
			name   string
			local  []byte
			remote []byte
		}{{"merge(base, x, x)", x, x}, {"merge(base, x, base)", x, base}, {"merge(base, base, x)", base, x}} {
			got, err := Merge(base, c.local, c.remote, labels)
			if err != nil || got.Conflicts != 0 || !bytes.Equal(got.Merged, x) {
				t.Fatalf("%s = %q, %d conflicts, %v; want x = %q", c.name, got.Merged, got.Conflicts, err, x)
			}
		}
		swapped, err := Merge(base, y, x, labels)
		if err != nil {
			t.Fatal(err)
		}
		if (r.Conflicts == 0) != (swapped.Conflicts == 0) {
			t.Fatalf("merge(base, x, y) has %d conflicts, merge(base, y, x) %d", r.Conflicts, swapped.Conflicts)
		}
		if r.Conflicts == 0 && !bytes.Equal(r.Merged, swapped.Merged) {
			t.Fatalf("clean merges differ with the sides swapped: %q and %q", r.Merged, swapped.Merged)
		}
	})
}
