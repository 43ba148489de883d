package local

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica"
)

// RenameNew (and the rename of PutNew) never replaces what is at its
// target, even when it appears after a check: a file, a directory or a
// symlink there stays, the error wraps replica.ErrChanged, and the source
// is left as it was.
func TestRenameNewReplacesNothing(t *testing.T) {
	dir := t.TempDir()
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	os.WriteFile(filepath.Join(dir, "file"), []byte("appeared"), 0o644)
	os.Mkdir(filepath.Join(dir, "dir"), 0o755)
	os.Symlink("file", filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "tmp"), []byte("new"), 0o644)
	for _, name := range []string{"file", "dir", "link"} {
		if err := renameNewAt(dfd, "tmp", dfd, name); !errors.Is(err, replica.ErrChanged) {
			t.Errorf("renameNewAt onto %s: %v; want ErrChanged", name, err)
		}
		if err := open(t, dir).RenameNew("tmp", name); !errors.Is(err, replica.ErrChanged) {
			t.Errorf("RenameNew onto %s: %v; want ErrChanged", name, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "file")); string(b) != "appeared" {
		t.Errorf("file = %q; want it kept", b)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "link")); target != "file" {
		t.Errorf("link -> %q; want it kept", target)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tmp")); string(b) != "new" {
		t.Errorf("source = %q; want it left in place", b)
	}
	if err := renameNewAt(dfd, "tmp", dfd, "free"); err != nil {
		t.Fatalf("renameNewAt onto nothing: %v", err)
	}
	if err := open(t, dir).RenameNew("free", "dir/free"); err != nil {
		t.Fatalf("RenameNew onto nothing: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "dir", "free")); string(b) != "new" {
		t.Errorf("dir/free = %q after the renames; want new", b)
	}
}
