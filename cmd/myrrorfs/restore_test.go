package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

// versionNumber returns the number of the listed version on side whose
// line mentions what, failing the test when there is none.
func versionNumber(t *testing.T, r result, side, what string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s*(\d+)  ` + side + `\s.*` + regexp.QuoteMeta(what))
	m := re.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("no %s version with %q listed: %+v", side, what, r)
	}
	return m[1]
}

// versionLines returns the numbered lines of a listing.
func versionLines(r result) string {
	return strings.Join(regexp.MustCompile(`(?m)^\s*\d+  .*$`).FindAllString(r.stdout, -1), "\n")
}

// The version a resolution in the view replaced comes back through the
// mount: rm p.local keeps the remote version, commit puts the local one in
// LOCAL's backup area, restore lists it and puts it back, the view shows it
// at once, and commit carries it to the remote.
func TestRestoreThroughMount(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"d/p": "base", "other": "x"})
	write(t, p.local, map[string]string{"d/p": "the local version"})
	write(t, p.remoteDir, map[string]string{"d/p": "remote"})
	mnt, _ := mountView(t, p)
	if err := os.Remove(filepath.Join(mnt, "d/p.local")); err != nil {
		t.Fatal(err)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
		t.Fatalf("commit after rm p.local: %+v", c)
	}
	if got := read(t, filepath.Join(mnt, "d/p")); got != "remote" {
		t.Fatalf("view d/p = %q after the resolution; want remote", got)
	}

	// listed from inside the view, by a relative path
	ls := runIn(t, filepath.Join(mnt, "d"), "restore", "--state", p.state, "p")
	n := versionNumber(t, ls, "local", "17 B")
	if !strings.Contains(ls.stdout, "versions of p, newest first:") || !strings.Contains(ls.stdout, "(replaced or deleted by a sync or commit)") ||
		!strings.Contains(ls.stdout, "to put one back: myrrorfs restore --pick N p") {
		t.Errorf("listing: %s", ls.stdout)
	}
	// and through LOCAL, which the mount holds: the same list
	if again := myrrorfs(t, "restore", "--state", p.state, filepath.Join(p.local, "d/p")); versionLines(again) != versionLines(ls) {
		t.Errorf("listing through LOCAL:\n%s\nthrough the view:\n%s", again.stdout, ls.stdout)
	}

	r := myrrorfs(t, "restore", "--state", p.state, "--pick", n, filepath.Join(mnt, "d/p"))
	if r.code != 0 || !strings.Contains(r.stdout, "restored") || !strings.Contains(r.stdout, "myrrorfs commit --state "+p.state+" "+mnt) {
		t.Fatalf("restore --pick %s: %+v", n, r)
	}
	// the view shows it as soon as restore returns
	if got := read(t, filepath.Join(mnt, "d/p")); got != "the local version" {
		t.Fatalf("view d/p = %q right after the restore; want the local version", got)
	}
	if got := read(t, filepath.Join(p.local, "d/p")); got != "the local version" {
		t.Fatalf("LOCAL d/p = %q", got)
	}
	// what LOCAL held is kept
	kept, _ := filepath.Glob(filepath.Join(p.local, tree.BackupDir, "*-restore-*", "d/p"))
	if len(kept) != 1 || read(t, kept[0]) != "remote" {
		t.Fatalf("the version the restore replaced is not kept: %q", kept)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 || !strings.Contains(c.stdout, "synced 1 paths") {
		t.Fatalf("commit after the restore: %+v", c)
	}
	if got := read(t, filepath.Join(p.remoteDir, "d/p")); got != "the local version" {
		t.Fatalf("remote d/p = %q after commit; want the restored version", got)
	}
	// the remote version that commit replaced is listed now too
	ls = myrrorfs(t, "restore", "--state", p.state, filepath.Join(mnt, "d/p"))
	versionNumber(t, ls, "remote", "6 B")

	// a path deleted in the view comes back: the view shows the name and
	// size at once
	if err := os.Remove(filepath.Join(mnt, "other")); err != nil {
		t.Fatal(err)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
		t.Fatalf("commit of a deletion: %+v", c)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "other")); err == nil {
		t.Fatal("other still in the view")
	}
	ls = myrrorfs(t, "restore", "--state", p.state, filepath.Join(mnt, "other"))
	r = myrrorfs(t, "restore", "--state", p.state, "--pick", versionNumber(t, ls, "remote", "1 B"), filepath.Join(mnt, "other"))
	if r.code != 0 || strings.Contains(r.stdout, "kept as") {
		t.Fatalf("restore of a deleted path: %+v", r)
	}
	if fi, err := os.Lstat(filepath.Join(mnt, "other")); err != nil || fi.Size() != 1 {
		t.Fatalf("view after restoring other: %v, %v", fi, err)
	}
}

// Over the real sshd, without a mount: a version a sync overwrote on the
// remote is listed with side remote and restored into LOCAL; the next sync
// carries it to the remote.
func TestRestoreOverSSH(t *testing.T) {
	p := syncedPair(t, true, map[string]string{"notes/todo.txt": "first draft"})
	write(t, p.local, map[string]string{"notes/todo.txt": "second"})
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("sync: %+v", r)
	}
	arg := filepath.Join(p.local, "notes/todo.txt")
	restore := func(extra ...string) result {
		return myrrorfs(t, append(append([]string{"restore"}, p.flags...), append(extra, arg)...)...)
	}
	ls := restore()
	n := versionNumber(t, ls, "remote", "11 B")
	if strings.Count(ls.stdout, "\n") != 3 {
		t.Errorf("one version expected:\n%s", ls.stdout)
	}
	if r := restore("--pick", "2"); r.code != 1 || !strings.Contains(r.stderr, "there are 1 versions") {
		t.Errorf("--pick 2 of 1: %+v", r)
	}
	r := restore("--pick", n)
	if r.code != 0 || !strings.Contains(r.stdout, "from the remote backup area") || !strings.Contains(r.stdout, "myrrorfs sync") {
		t.Fatalf("restore --pick %s: %+v", n, r)
	}
	if got := read(t, arg); got != "first draft" {
		t.Fatalf("LOCAL notes/todo.txt = %q; want first draft", got)
	}
	// the version LOCAL held comes first now; the remote one is the same
	// as LOCAL's
	n = versionNumber(t, restore(), "remote", "11 B")
	if r := restore("--pick", n); r.code != 0 || !strings.Contains(r.stdout, "already holds version") {
		t.Errorf("restoring it again: %+v", r)
	}
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 || !strings.Contains(r.stdout, "update  notes/todo.txt") {
		t.Fatalf("sync after the restore: %+v", r)
	}
	if got := read(t, filepath.Join(p.remoteDir, "notes/todo.txt")); got != "first draft" {
		t.Fatalf("remote notes/todo.txt = %q; want first draft", got)
	}
}

func TestRestoreErrors(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "a"})
	oneLineError(t, myrrorfs(t, "restore", "--state", p.state, filepath.Join(p.local, "a")), "no version in the backup areas")
	oneLineError(t, myrrorfs(t, "restore", "--state", p.state, t.TempDir()), "not in a myrrorfs mount, nor in the LOCAL of a pair")
	oneLineError(t, myrrorfs(t, "restore", "--state", p.state, p.local), "the root of LOCAL")
	oneLineError(t, myrrorfs(t, "restore", "--state", p.state), "needs one argument")
}

// sync prunes the backup areas after its run: by age, and over a size only
// versions whose content a tree still holds.
func TestSyncPrunesBackups(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "in the trees"})
	old := time.Now().Add(-40 * 24 * time.Hour).UTC().Format("20060102-150405")
	recent := time.Now().Add(-24 * time.Hour).UTC().Format("20060102-150405")
	write(t, p.remoteDir, map[string]string{
		tree.BackupDir + "/" + old + "-0a0b0c/gone":      "forty days old",
		tree.BackupDir + "/" + recent + "-0a0b0c/a":      "in the trees",
		tree.BackupDir + "/" + recent + "-1a0b0c/unique": "only copy",
	})
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	r := myrrorfs(t, p.args("sync", "-y", "--backup-keep-days", "0", "--backup-max-size", "0")...)
	if r.code != 0 || !exists(filepath.Join(p.remoteDir, tree.BackupDir, old+"-0a0b0c")) {
		t.Fatalf("sync without limits removed a backup: %+v", r)
	}
	r = myrrorfs(t, p.args("sync", "-y", "--backup-max-size", "10")...)
	if r.code != 0 || !strings.Contains(r.stdout, "2 old backups removed on the remote side (26 B)") || strings.Contains(r.stdout, "over its size limit") {
		t.Fatalf("sync with limits: %+v", r)
	}
	if exists(filepath.Join(p.remoteDir, tree.BackupDir, old+"-0a0b0c")) || exists(filepath.Join(p.remoteDir, tree.BackupDir, recent+"-0a0b0c")) {
		t.Errorf("the old version, or the one the trees hold, is still there")
	}
	if got := read(t, filepath.Join(p.remoteDir, tree.BackupDir, recent+"-1a0b0c/unique")); got != "only copy" {
		t.Errorf("the only copy of its content was pruned: %q", got)
	}
	oneLineError(t, myrrorfs(t, p.args("sync", "-y", "--backup-max-size", "lots")...), "--backup-max-size", "not a size")
}
