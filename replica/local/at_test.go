package local

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica"
)

// TestAtRefusesSymlinkedParents: At never hands fn a directory reached
// through a symlink, nor one outside the root.
func TestAtRefusesSymlinkedParents(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "d")); err != nil {
		t.Fatal(err)
	}
	r := open(t, dir)
	for _, p := range []string{"d/f", "d/x/f", "../f"} {
		called := false
		err := r.At("create", p, func(dirfd int, name string) error {
			called = true
			return nil
		})
		if called || !errors.Is(err, replica.ErrUnsafePath) {
			t.Errorf("At(%q): called %v, err %v; want refused as unsafe", p, called, err)
		}
	}
	// the root itself is "." in the root's descriptor
	var st unix.Stat_t
	if err := r.At("stat", "", func(dirfd int, name string) error {
		return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("At(root): %v, mode %o", err, st.Mode)
	}
}

// TestRenameFlags: RENAME_NOREPLACE refuses an existing target and
// RENAME_EXCHANGE swaps two entries.
func TestRenameFlags(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]string{"a": "A", "b": "B"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := open(t, dir)
	if err := r.RenameFlags("a", "b", unix.RENAME_NOREPLACE); !errors.Is(err, unix.EEXIST) {
		t.Errorf("RENAME_NOREPLACE onto a file: %v, want EEXIST", err)
	}
	if err := r.RenameFlags("a", "b", unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "B", "b": "A"} {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("after exchange %s holds %q, want %q", name, b, want)
		}
	}
	if err := r.RenameFlags("a", "c", unix.RENAME_NOREPLACE); err != nil {
		t.Errorf("RENAME_NOREPLACE to a new name: %v", err)
	}
}
