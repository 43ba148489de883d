package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"
)

// privateRuntimeDir points the commands run by the test (and the daemons
// they start) at a runtime directory of their own.
func privateRuntimeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	return dir
}

// A mount made with a custom --state answers status, conflicts, commit and
// unmount by its mountpoint, or from inside it, without --state.
func TestMountFindsItself(t *testing.T) {
	privateRuntimeDir(t)
	p := syncedPair(t, false, map[string]string{"a": "base", "c": "base", "d/x": "x"})
	write(t, p.local, map[string]string{"c": "local c"})
	write(t, p.remoteDir, map[string]string{"c": "remote c"})
	mnt, pid := mountView(t, p)
	if err := os.WriteFile(filepath.Join(mnt, "a"), []byte("edited in the view"), 0o644); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(mnt, "d")
	for _, where := range []struct{ dir, arg string }{{"/", mnt}, {inside, ""}} {
		args := func(cmd ...string) []string {
			if where.arg != "" {
				return append(cmd, where.arg)
			}
			return cmd
		}
		st := runIn(t, where.dir, args("status")...)
		if st.code != 0 || !strings.Contains(st.stdout, "update  a") || !strings.Contains(st.stdout, "conflicts modify/modify (1):\n  c") {
			t.Fatalf("status in %s: %+v", where.dir, st)
		}
		cf := runIn(t, where.dir, args("conflicts")...)
		if cf.code != 0 || strings.Join(strings.Fields(cf.stdout), " ") != "modify/modify c (in the view: c.local, c.remote, c.merged)" {
			t.Fatalf("conflicts in %s: %+v", where.dir, cf)
		}
		if dry := runIn(t, where.dir, args("commit", "--dry-run")...); dry.code != 0 || !strings.Contains(dry.stdout, "update  a") {
			t.Fatalf("commit --dry-run in %s: %+v", where.dir, dry)
		}
	}
	// a conflict remains: exit 3
	if c := myrrorfs(t, "commit", "-y", mnt); c.code != 3 || !strings.Contains(c.stdout, "synced 1 paths") {
		t.Fatalf("commit with a conflict: %+v", c)
	}
	if got := read(t, filepath.Join(p.remoteDir, "a")); got != "edited in the view" {
		t.Fatalf("remote a after commit = %q", got)
	}
	if err := os.Remove(filepath.Join(mnt, "c.remote")); err != nil {
		t.Fatal(err)
	}
	if c := runIn(t, inside, "commit", "-y"); c.code != 0 || read(t, filepath.Join(p.remoteDir, "c")) != "local c" {
		t.Fatalf("commit from inside after resolving: %+v", c)
	}
	if r := runIn(t, "/", "unmount", mnt); r.code != 0 || r.stderr != "" {
		t.Fatalf("unmount: %+v", r)
	}
	if mounted(t, mnt) || !waitExit(pid, 10*time.Second) {
		t.Fatal("still mounted, or the daemon still runs, after unmount")
	}
	if _, err := os.Lstat(daemon.SocketPath(p.state, mnt)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if recs := records(t); len(recs) != 0 {
		t.Fatalf("records left behind: %v", recs)
	}
}

// records lists the entries of the runtime directory's myrrorfs records.
func records(t *testing.T) []string {
	t.Helper()
	dir, err := daemon.RuntimeDir()
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A daemon that died leaves a record: commands say so and how to recover,
// unmount (without --state) recovers, and the next daemon sweeps records
// nothing answers on.
func TestMountFindsItselfDead(t *testing.T) {
	privateRuntimeDir(t)
	p := syncedPair(t, false, map[string]string{"a": "base"})
	mnt, pid := mountView(t, p)
	syscall.Kill(pid, syscall.SIGKILL)
	if !waitExit(pid, 10*time.Second) {
		t.Fatal("daemon survived SIGKILL")
	}
	oneLineError(t, myrrorfs(t, "status", mnt), mnt, "no myrrorfs daemon answers", "myrrorfs unmount")
	oneLineError(t, myrrorfs(t, "commit", "-y", mnt), mnt, "no myrrorfs daemon answers")
	if r := myrrorfs(t, "unmount", mnt); r.code != 0 || mounted(t, mnt) {
		t.Fatalf("unmount of a dead mount: %+v", r)
	}
	if _, err := os.Lstat(daemon.SocketPath(p.state, mnt)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dead socket left behind: %v", err)
	}
	if recs := records(t); len(recs) != 0 {
		t.Fatalf("stale records left behind: %v", recs)
	}

	// a record left by a daemon killed and unmounted by other means goes
	// when the next daemon starts
	mnt2, pid2 := mountView(t, p)
	syscall.Kill(pid2, syscall.SIGKILL)
	waitExit(pid2, 10*time.Second)
	if err := syscall.Unmount(mnt2, syscall.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if recs := records(t); len(recs) != 1 {
		t.Fatalf("records after a kill: %v", recs)
	}
	mnt3, _ := mountView(t, p)
	if recs := records(t); len(recs) != 1 {
		t.Fatalf("records with one live mount: %v", recs)
	}
	if st := myrrorfs(t, "status", mnt3); st.code != 0 {
		t.Fatalf("status: %+v", st)
	}
}

// A runtime directory that another user could write to, or owns, is not
// trusted: commands fall back to the default state directory and say why.
func TestMountFindsItselfUnsafeRuntimeDir(t *testing.T) {
	base := privateRuntimeDir(t)
	p := syncedPair(t, false, map[string]string{"a": "base"})
	mnt, _ := mountView(t, p)
	if st := myrrorfs(t, "status", mnt); st.code != 0 {
		t.Fatalf("status: %+v", st)
	}
	dir := filepath.Join(base, "myrrorfs")
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	oneLineError(t, myrrorfs(t, "status", mnt), mnt, "no myrrorfs daemon answers", dir, "writable by others")
	os.Chmod(dir, 0o700)
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		oneLineError(t, myrrorfs(t, "status", mnt), mnt, "no myrrorfs daemon answers", dir, "owned by uid 65534")
		os.Chown(dir, 0, 0)
	}
	if st := myrrorfs(t, "status", mnt); st.code != 0 {
		t.Fatalf("status once the directory is safe again: %+v", st)
	}
}
