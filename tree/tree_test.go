package tree

import (
	"bytes"
	"sort"
	"strings"
	"testing"
)

func TestCompareOrder(t *testing.T) {
	paths := []string{"a.b", "a", "a/b", "a-b", "a/b/c", "b", "a b", "a/c", "", "a/b.c", "a/b/d"}
	sort.Slice(paths, func(i, j int) bool { return Compare(paths[i], paths[j]) < 0 })
	want := []string{"", "a", "a/b", "a/b/c", "a/b/d", "a/b.c", "a/c", "a b", "a-b", "a.b", "b"}
	if strings.Join(paths, "|") != strings.Join(want, "|") {
		t.Fatalf("order = %q", paths)
	}
}

// FuzzCompare checks that Compare agrees with the order of SortKey, is
// antisymmetric, and that SortKey round-trips.
func FuzzCompare(f *testing.F) {
	f.Add("a/b", "a.b")
	f.Add("", "x")
	f.Add("a b/c", "a/b c")
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsRune(a, 0) || strings.ContainsRune(b, 0) {
			return
		}
		c := Compare(a, b)
		if k := bytes.Compare(SortKey(a), SortKey(b)); k != c {
			t.Fatalf("Compare(%q,%q)=%d, keys say %d", a, b, c, k)
		}
		if Compare(b, a) != -c {
			t.Fatalf("not antisymmetric on %q %q", a, b)
		}
		if PathFromKey(SortKey(a)) != a {
			t.Fatalf("round trip of %q", a)
		}
	})
}

func TestValidPath(t *testing.T) {
	for p, ok := range map[string]bool{"": true, "a": true, "a/b c/d": true, ".x": true, "a/../b": false,
		"..": false, "/a": false, "a/": false, "a//b": false, "a/./b": false, "a\x00b": false} {
		if got := ValidPath(p) == nil; got != ok {
			t.Errorf("ValidPath(%q) ok=%v, want %v", p, got, ok)
		}
	}
}

func TestDiff(t *testing.T) {
	f := Entry{Kind: File, Perm: 0o644, Size: 1, Hash: Hash{1}}
	g := f
	g.Hash = Hash{2}
	x := f
	x.Perm = 0o755
	w := f
	w.Perm = 0o600 // not an exec change
	w.MtimeNs = 99
	d := Entry{Kind: Dir, Perm: 0o755}
	d2 := Entry{Kind: Dir, Perm: 0o700}
	l := Entry{Kind: Symlink, Target: "a"}
	l2 := Entry{Kind: Symlink, Target: "b"}
	cases := []struct {
		base, cur Entry
		want      Change
	}{
		{Entry{}, Entry{}, Unchanged}, {Entry{}, f, Added}, {f, Entry{}, Removed},
		{f, f, Unchanged}, {f, g, Modified}, {f, x, Modified}, {f, w, Unchanged},
		{d, d2, Unchanged}, {f, d, TypeChanged}, {l, l2, Modified}, {l, f, TypeChanged},
	}
	for i, c := range cases {
		if got := Diff(c.base, c.cur); got != c.want {
			t.Errorf("%d: Diff = %s, want %s", i, got, c.want)
		}
	}
}

func TestPathsAndInternal(t *testing.T) {
	if Parent("a/b/c") != "a/b" || Parent("a") != "" || Base("a/b") != "b" || Join("", "a") != "a" || Join("a", "b") != "a/b" {
		t.Fatal("path helpers")
	}
	if !IsUnder("a/b", "a") || IsUnder("ab", "a") || IsUnder("a", "a") || !IsUnder("x", "") {
		t.Fatal("IsUnder")
	}
	for p, want := range map[string]bool{".myrrorfs-tmp-1": true, "a/.myrrorfs-backup/x": true, ".Trash-0": true,
		".Trash-0/files/a": true, "a/.Trash-0": false, ".Trashy": false, "a": false, "my.myrrorfs": false} {
		if Internal(p) != want {
			t.Errorf("Internal(%q) = %v", p, !want)
		}
	}
}
