package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"golang.org/x/sys/unix"
)

// mounted reports whether mnt is a mount point now.
func mounted(t *testing.T, mnt string) bool {
	t.Helper()
	ms, err := daemon.Mounts()
	if err != nil {
		t.Fatal(err)
	}
	_, ok := daemon.Lookup(ms, mnt)
	return ok
}

// mountView mounts the pair's view at a fresh directory with `myrrorfs
// mount` and returns the mountpoint and the daemon's pid. Whatever the test
// does, the mount and the daemon are gone when it ends.
func mountView(t *testing.T, p pair, extra ...string) (mnt string, pid int) {
	t.Helper()
	testenv.FUSE(t)
	mnt = t.TempDir()
	args := append([]string{"mount"}, p.flags...)
	args = append(append(args, extra...), p.local, p.remote, mnt)
	r := myrrorfs(t, args...)
	t.Cleanup(func() { cleanupMount(t, p, mnt) })
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("mount: %+v", r)
	}
	return mnt, daemonPid(t, p, mnt)
}

// cleanupMount unmounts mnt however it can and stops its daemon. When the
// test failed, it shows the daemon's log.
func cleanupMount(t *testing.T, p pair, mnt string) {
	if t.Failed() {
		t.Logf("daemon log:\n%s", read(t, daemon.LogPath(p.state, mnt)))
	}
	pid := 0
	if resp, err := daemon.Call(context.Background(), daemon.SocketPath(p.state, mnt), daemon.Request{Op: daemon.OpInfo}, nil); err == nil {
		pid = resp.Pid
	}
	if mounted(t, mnt) {
		myrrorfs(t, "unmount", "--state", p.state, mnt)
	}
	if mounted(t, mnt) {
		t.Errorf("cleanup: %s still mounted; detaching it", mnt)
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
	if pid > 0 && !waitExit(pid, 10*time.Second) {
		t.Errorf("cleanup: daemon %d still runs; killing it", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// daemonPid asks the daemon of mnt for its pid.
func daemonPid(t *testing.T, p pair, mnt string) int {
	t.Helper()
	resp, err := daemon.Call(context.Background(), daemon.SocketPath(p.state, mnt), daemon.Request{Op: daemon.OpInfo}, nil)
	if err != nil || resp.Pid <= 0 || resp.Mountpoint != mnt {
		t.Fatalf("info from the daemon of %s: %+v %v", mnt, resp, err)
	}
	return resp.Pid
}

// waitExit waits until process pid has ended (a zombie counts as ended,
// once its last thread is gone: until then it still holds its files and
// locks, and a process watching many directories takes a while to let go
// of its watches).
func waitExit(pid int, limit time.Duration) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return true
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
			if err != nil || len(tasks) <= 1 {
				return true
			}
		}
	}
	return false
}

// runIn runs the binary with args in directory dir.
func runIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// syncedPair returns a pair whose sides were synced with files.
func syncedPair(t *testing.T, ssh bool, files map[string]string) pair {
	t.Helper()
	p := newPair(t, ssh)
	write(t, p.local, files)
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("first sync: %+v", r)
	}
	return p
}

func TestMountDaemonizes(t *testing.T) {
	p := newPair(t, false)
	write(t, p.local, map[string]string{"a": "hello", "d/b": "bee"})
	mnt, pid := mountView(t, p)
	// live as soon as mount returns
	if got := read(t, filepath.Join(mnt, "a")); got != "hello" {
		t.Fatalf("a in the view right after mount = %q", got)
	}
	ms, _ := daemon.Mounts()
	if m, _ := daemon.Lookup(ms, mnt); m.FSType != daemon.FSType || m.Source != p.remote {
		t.Fatalf("mountinfo: %+v", m)
	}
	if pid == os.Getpid() {
		t.Fatal("the daemon is this process")
	}
	logPath := daemon.LogPath(p.state, mnt)
	if log := read(t, logPath); !strings.Contains(log, "mounted "+p.local) {
		t.Fatalf("log %s: %q", logPath, log)
	}

	r := myrrorfs(t, "unmount", "--state", p.state, mnt)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("unmount: %+v", r)
	}
	if mounted(t, mnt) {
		t.Fatal("still mounted after unmount returned")
	}
	if !waitExit(pid, 10*time.Second) {
		t.Fatal("daemon still runs after unmount")
	}
	if _, err := os.Lstat(daemon.SocketPath(p.state, mnt)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if log := read(t, logPath); !strings.Contains(log, "stopped") {
		t.Fatalf("log after unmount: %q", log)
	}
	oneLineError(t, myrrorfs(t, "unmount", "--state", p.state, mnt), mnt, "not mounted")
	// the pair is free again
	if s := myrrorfs(t, p.args("sync", "-y")...); s.code != 0 || read(t, filepath.Join(p.remoteDir, "d/b")) != "bee" {
		t.Fatalf("sync after unmount: %+v", s)
	}
}

func TestMountErrors(t *testing.T) {
	testenv.FUSE(t)
	p := newPair(t, false)
	missing := filepath.Join(t.TempDir(), "missing")
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	sshCmd, host := testenv.SSH(t)
	cases := []struct {
		name           string
		local, remote  string
		mnt            string
		flags          []string
		want           []string
		mountpointMade bool
	}{
		{"missing local", missing, p.remote, t.TempDir(), nil, []string{missing, "no such directory"}, true},
		{"mountpoint is a file", p.local, p.remote, notDir, nil, []string{notDir, "not a directory"}, false},
		{"mountpoint missing", p.local, p.remote, missing, nil, []string{missing}, false},
		{"mountpoint inside local", p.local, p.remote, filepath.Join(p.local, "m"), nil, []string{"inside LOCAL"}, true},
		{"remote unreachable", p.local, host + ":" + t.TempDir(), t.TempDir(), []string{"-e", sshCmd + " -oPort=1"}, []string{host, "refused"}, true},
	}
	os.Mkdir(filepath.Join(p.local, "m"), 0o755)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"mount", "--state", p.state}, c.flags...)
			r := myrrorfs(t, append(args, c.local, c.remote, c.mnt)...)
			t.Cleanup(func() {
				if mounted(t, c.mnt) {
					unix.Unmount(c.mnt, unix.MNT_DETACH)
				}
			})
			oneLineError(t, r, c.want...)
			if mounted(t, c.mnt) {
				t.Fatal("a failed mount left a mount")
			}
			sock := daemon.SocketPath(p.state, c.mnt)
			if _, err := daemon.Call(context.Background(), sock, daemon.Request{Op: daemon.OpInfo}, nil); !errors.Is(err, daemon.ErrNoDaemon) {
				t.Fatalf("a daemon answers after a failed mount: %v", err)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket left behind: %v", err)
			}
		})
	}
}

// status, conflicts and commit on a mount, by MOUNTPOINT and from inside it.
func TestMountStatusAndCommit(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "base", "c": "base", "d/x": "x"})
	write(t, p.local, map[string]string{"c": "local c"})
	write(t, p.remoteDir, map[string]string{"c": "remote c"})
	mnt, _ := mountView(t, p)
	if err := os.WriteFile(filepath.Join(mnt, "a"), []byte("edited in the view"), 0o644); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(mnt, "d")
	state := []string{"--state", p.state}

	for _, where := range []struct{ dir, arg string }{{"/", mnt}, {inside, ""}} {
		args := func(cmd string, more ...string) []string {
			a := append(append([]string{cmd}, state...), more...)
			if where.arg != "" {
				a = append(a, where.arg)
			}
			return a
		}
		st := runIn(t, where.dir, args("status")...)
		if st.code != 0 || !strings.Contains(st.stdout, "update  a") || !strings.Contains(st.stdout, "conflicts modify/modify (1):\n  c") {
			t.Fatalf("status in %s: %+v", where.dir, st)
		}
		js := runIn(t, where.dir, args("status", "--json")...)
		var d struct{ Path, Action, Op string }
		if err := json.Unmarshal([]byte(strings.Split(js.stdout, "\n")[0]), &d); err != nil || d.Path != "a" || d.Op != "update" {
			t.Fatalf("status --json in %s: %+v (%v)", where.dir, js, err)
		}
		cf := runIn(t, where.dir, args("conflicts")...)
		if cf.code != 0 || strings.Join(strings.Fields(cf.stdout), " ") != "modify/modify c (in the view: c.local, c.remote, c.merged)" {
			t.Fatalf("conflicts in %s: %+v", where.dir, cf)
		}
		no := runIn(t, where.dir, args("commit")...)
		if no.code != 1 || !strings.Contains(no.stderr, "--yes") {
			t.Fatalf("commit without -y and no terminal: %+v", no)
		}
		dry := runIn(t, where.dir, args("commit", "--dry-run")...)
		if dry.code != 0 || !strings.Contains(dry.stdout, "update  a") {
			t.Fatalf("commit --dry-run: %+v", dry)
		}
		if got := read(t, filepath.Join(p.remoteDir, "a")); got != "base" {
			t.Fatalf("remote a changed before commit: %q", got)
		}
	}
	oneLineError(t, runIn(t, "/", "status", "--state", p.state), "not inside a myrrorfs mount")
	oneLineError(t, myrrorfs(t, "status", "--state", p.state, p.local), p.local, "not mounted")

	// the mounted pair refuses sync, naming the mount and commit
	oneLineError(t, myrrorfs(t, p.args("sync", "-y")...), "in use by mount at "+mnt, "myrrorfs commit --state "+p.state+" "+mnt)

	c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt)
	if c.code != 3 || !strings.Contains(c.stdout, "synced 1 paths") || !strings.Contains(c.stderr, "1 conflicts remain") {
		t.Fatalf("commit with a conflict: %+v", c)
	}
	if got := read(t, filepath.Join(p.remoteDir, "a")); got != "edited in the view" {
		t.Fatalf("remote a after commit = %q", got)
	}
	if got := read(t, filepath.Join(p.remoteDir, "c")); got != "remote c" {
		t.Fatalf("conflict touched: remote c = %q", got)
	}
	// keep the local version by removing the remote sibling, then commit from inside
	if err := os.Remove(filepath.Join(mnt, "c.remote")); err != nil {
		t.Fatal(err)
	}
	if c := runIn(t, inside, "commit", "--yes", "--state", p.state); c.code != 0 {
		t.Fatalf("commit after resolving: %+v", c)
	}
	if got := read(t, filepath.Join(p.remoteDir, "c")); got != "local c" {
		t.Fatalf("remote c = %q", got)
	}
	if st := myrrorfs(t, "status", "--state", p.state, mnt); !strings.Contains(st.stdout, "in sync") {
		t.Fatalf("status after commits: %+v", st)
	}
}

func TestMountSIGTERM(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "base"})
	mnt, pid := mountView(t, p)
	write(t, mnt, map[string]string{"n": "new"})
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !waitExit(pid, 10*time.Second) {
		t.Fatal("daemon still runs after SIGTERM")
	}
	if mounted(t, mnt) {
		t.Fatal("still mounted after SIGTERM")
	}
	if _, err := os.Lstat(daemon.SocketPath(p.state, mnt)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if !strings.Contains(read(t, daemon.LogPath(p.state, mnt)), "terminated: unmounting") {
		t.Fatalf("log: %s", read(t, daemon.LogPath(p.state, mnt)))
	}
	// the pair is released and the view's write is in LOCAL
	if s := myrrorfs(t, p.args("sync", "-y")...); s.code != 0 || read(t, filepath.Join(p.remoteDir, "n")) != "new" {
		t.Fatalf("sync after SIGTERM: %+v", s)
	}
}

// A killed daemon leaves a dead mount; both trees are intact, commands say
// what to do, and mount (or unmount) on the same mountpoint recovers it.
func TestMountKilled(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "base"})
	mnt, pid := mountView(t, p)
	write(t, mnt, map[string]string{"n": "written in the view"})
	syscall.Kill(pid, syscall.SIGKILL)
	if !waitExit(pid, 10*time.Second) {
		t.Fatal("daemon survived SIGKILL")
	}
	if _, err := os.Stat(mnt); !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
		t.Fatalf("stat of the dead mount: %v", err)
	}
	if read(t, filepath.Join(p.local, "n")) != "written in the view" || read(t, filepath.Join(p.local, "a")) != "base" || read(t, filepath.Join(p.remoteDir, "a")) != "base" {
		t.Fatal("trees changed by the kill")
	}
	if _, err := os.Stat(filepath.Join(p.remoteDir, "n")); err == nil {
		t.Fatal("the view wrote to the remote")
	}
	oneLineError(t, myrrorfs(t, "status", "--state", p.state, mnt), "no myrrorfs daemon answers", "myrrorfs unmount")

	mnt2, pid2 := remount(t, p, mnt)
	if read(t, filepath.Join(mnt2, "n")) != "written in the view" {
		t.Fatal("remounted view lacks n")
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 || read(t, filepath.Join(p.remoteDir, "n")) != "written in the view" {
		t.Fatalf("commit after recovery: %+v", c)
	}

	// unmount recovers a dead mount too
	syscall.Kill(pid2, syscall.SIGKILL)
	waitExit(pid2, 10*time.Second)
	if r := myrrorfs(t, "unmount", "--state", p.state, mnt); r.code != 0 {
		t.Fatalf("unmount of a dead mount: %+v", r)
	}
	if mounted(t, mnt) {
		t.Fatal("dead mount still there after unmount")
	}
	if _, err := os.Lstat(daemon.SocketPath(p.state, mnt)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dead socket left behind: %v", err)
	}
}

// remount runs `myrrorfs mount` again at mnt (cleaned up by the first
// mountView) and returns mnt and the new daemon's pid.
func remount(t *testing.T, p pair, mnt string) (string, int) {
	t.Helper()
	args := append(append([]string{"mount"}, p.flags...), p.local, p.remote, mnt)
	if r := myrrorfs(t, args...); r.code != 0 {
		t.Fatalf("mount over a dead mount: %+v", r)
	}
	return mnt, daemonPid(t, p, mnt)
}

func TestMountCommitOverSSH(t *testing.T) {
	p := syncedPair(t, true, map[string]string{"a": "base", "d/b": "b"})
	mnt, _ := mountView(t, p)
	write(t, p.remoteDir, map[string]string{"r": "from the remote"})
	if st := myrrorfs(t, "status", "--state", p.state, mnt); st.code != 0 || !strings.Contains(st.stdout, "create  r") {
		t.Fatalf("status over ssh: %+v", st)
	}
	if got := read(t, filepath.Join(mnt, "r")); got != "from the remote" {
		t.Fatalf("remote file in the view = %q", got)
	}
	if err := os.WriteFile(filepath.Join(mnt, "d/b"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(p.remoteDir, "d/b")); got != "b" {
		t.Fatalf("remote changed before commit: %q", got)
	}
	c := runIn(t, filepath.Join(mnt, "d"), "commit", "-y", "--state", p.state)
	if c.code != 0 || !strings.Contains(c.stdout, "synced 2 paths") {
		t.Fatalf("commit over ssh: %+v", c)
	}
	if read(t, filepath.Join(p.remoteDir, "d/b")) != "edited" || read(t, filepath.Join(p.local, "r")) != "from the remote" {
		t.Fatal("commit over ssh did not bring both sides in step")
	}
	if r := myrrorfs(t, "unmount", "--state", p.state, mnt); r.code != 0 || mounted(t, mnt) {
		t.Fatalf("unmount: %+v", r)
	}
}
