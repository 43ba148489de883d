package sftp

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
)

// A directory replaced by a symlink through the replica itself is seen at
// once: nothing is cached.
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
