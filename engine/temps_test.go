package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Two pairs sharing one LOCAL never remove each other's temporaries, even
// while one is being written; each removes its own stale ones.
func TestSharedLocalKeepsOtherPairsTemps(t *testing.T) {
	dir := t.TempDir()
	l, r1, r2 := filepath.Join(dir, "l"), filepath.Join(dir, "r1"), filepath.Join(dir, "r2")
	for _, d := range []string{l, r1, r2} {
		os.Mkdir(d, 0o755)
	}
	writeTree(t, l, snapshot{"a": "f:1:-"})
	s1, s2 := filepath.Join(dir, "s1"), filepath.Join(dir, "s2")

	pb := openTest(t, l, r2, s2)
	if _, err := pb.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	tmp, w, err := pb.Local.CreateTemp("", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("in flight"))
	for range 2 {
		syncPair(t, l, r1, s1)
		if _, err := os.Lstat(filepath.Join(l, tmp)); err != nil {
			t.Fatalf("the other pair's temporary %s was removed: %v", tmp, err)
		}
	}
	if len(findTemps(t, r1)) != 0 {
		t.Fatalf("temporaries synced to r1: %v", findTemps(t, r1))
	}
	w.Close()
	pb.Close()
	// the pair that made it removes it as a stale temporary on its next run
	syncPair(t, l, r2, s2)
	if _, err := os.Lstat(filepath.Join(l, tmp)); err == nil {
		t.Fatalf("stale temporary %s of its own pair not removed", tmp)
	}
	if got := readTree(t, r2); got["a"] != "f:1:-" {
		t.Fatalf("r2 = %v", got)
	}
	_ = tree.TempPrefix
}
