package sftp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
)

func TestDirCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newDirCache(2 * time.Second)
	c.now = func() time.Time { return now }
	for _, p := range []string{"a", "a/b", "a/b/c", "ab", "x"} {
		c.add(p)
	}
	c.forget("a/b")
	for p, want := range map[string]bool{"a": true, "a/b": false, "a/b/c": false, "ab": true, "x": true} {
		if got := c.fresh(p); got != want {
			t.Errorf("after forget(a/b): fresh(%q) = %v, want %v", p, got, want)
		}
	}
	now = now.Add(2 * time.Second)
	if c.fresh("a") {
		t.Errorf("an entry is still fresh after its ttl")
	}
	c.add("y")
	c.forget("")
	if c.fresh("y") {
		t.Errorf("forget(root) kept an entry")
	}
}

// A directory replaced by a symlink through the replica itself is never
// trusted from the cache.
func TestParentSwappedForSymlink(t *testing.T) {
	r, dir := dialTest(t)
	outside := t.TempDir()
	if err := r.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lstat("d/f"); err != nil { // caches d
		t.Fatal(err)
	}
	if err := r.Rename("d", "old"); err != nil {
		t.Fatal(err)
	}
	if err := r.Symlink(outside, "d"); err != nil {
		t.Fatal(err)
	}
	_, err := r.Lstat("d/f")
	if !errors.Is(err, replica.ErrUnsafePath) {
		t.Fatalf("Lstat through a symlinked parent = %v, want ErrUnsafePath", err)
	}
	t.Logf("error: %v", err)
}
