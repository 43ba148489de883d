package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestRmdirOfNonEmptyViewDir: rmdir of a directory in which the view shows
// entries fails with ENOTEMPTY, even when the local directory behind it is
// empty (the entries are remote versions) or the directory is a conflict
// sibling, and changes nothing.
func TestRmdirOfNonEmptyViewDir(t *testing.T) {
	f := setup(t, scenario{
		base:    map[string]string{"d/x": "base", "c/x": "base", "c/y": "base", "keep": "k"},
		localRm: []string{"d/x"},
		remote:  map[string]string{"d/n": "N", "c/x": "R"},
		localPrep: func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "c"))
		},
	})
	if got := lsMount(t, f.mnt); got != "c.remote/ d/ keep" {
		t.Fatalf("view = %q", got)
	}
	for _, p := range []string{"d", "c.remote"} {
		err := syscall.Rmdir(filepath.Join(f.mnt, p))
		if !errors.Is(err, syscall.ENOTEMPTY) {
			t.Errorf("rmdir %s: %v, want ENOTEMPTY", p, err)
		}
	}
	if got := lsMount(t, f.mnt); got != "c.remote/ d/ keep" {
		t.Errorf("view after the rmdirs = %q", got)
	}
	checkView(t, "view", f.mnt, map[string]string{"d/n": "N", "c.remote/x": "R", "c.remote/y": "base"})
	check(t, "local", f.local, map[string]string{"d": "dir/"})
}

// TestRmdirOfNonEmptyLocalSibling: the same for p.local.
func TestRmdirOfNonEmptyLocalSibling(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"d/x": "base", "keep": "k"},
		local: map[string]string{"d/x": "L"}, remoteRm: []string{"d"}})
	err := syscall.Rmdir(filepath.Join(f.mnt, "d.local"))
	if !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("rmdir d.local: %v, want ENOTEMPTY", err)
	}
	if got := lsMount(t, f.mnt); got != "d.local/ keep" {
		t.Errorf("view after the rmdir = %q", got)
	}
	f.commitWant(t, 1)
	check(t, "local after commit", f.local, map[string]string{"d/x": "L"})
}

// TestFailedRenameOntoRemoteBackedKeepsBase: a rename onto a version only
// the remote holds that fails (its source vanished behind the view's
// back) moves no base, so commit does not delete the remote version.
func TestFailedRenameOntoRemoteBackedKeepsBase(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"p": "base", "s": "base"}, remote: map[string]string{"p": "R"}})
	checkView(t, "view", f.mnt, map[string]string{"p": "R", "s": "base"}) // cached by the kernel
	if err := os.Remove(filepath.Join(f.local, "s")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(f.mnt, "s"), filepath.Join(f.mnt, "p")); err == nil {
		t.Fatal("rename of a vanished source succeeded")
	}
	f.commitWant(t, 0)
	check(t, "remote after commit", f.remote, map[string]string{"p": "R", "s": absent})
	check(t, "local after commit", f.local, map[string]string{"p": "R", "s": absent})
}
