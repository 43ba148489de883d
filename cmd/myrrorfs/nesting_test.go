package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"golang.org/x/sys/unix"
)

// remoteArg names directory dir as REMOTE: itself, or through the test
// sshd (on this very machine) as host:dir.
func remoteArg(t *testing.T, ssh bool, dir string) (arg string, flags []string) {
	t.Helper()
	if !ssh {
		return dir, nil
	}
	sshCmd, host := testenv.SSH(t)
	return host + ":" + dir, []string{"-e", sshCmd}
}

// A pair whose REMOTE lies inside LOCAL, or the reverse, or is LOCAL
// itself under another name, is refused before anything is copied: each
// sync would otherwise nest one more copy of the tree.
func TestNestedPairRefused(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			base := t.TempDir()
			state := filepath.Join(base, "state")
			outer := filepath.Join(base, "outer")
			inner := filepath.Join(outer, "in")
			write(t, inner, map[string]string{"f": "x"})
			link := filepath.Join(base, "link")
			os.Symlink(inner, link)
			same := filepath.Join(base, "same")
			os.Symlink(outer, same)
			cases := []struct {
				name, local, remote, want string
			}{
				{"remote inside local", outer, inner, "inside LOCAL"},
				{"local inside remote", inner, outer, "inside REMOTE"},
				{"remote inside local through a symlink", outer, link, "inside LOCAL"},
				{"local inside remote through a symlink", link, outer, "inside REMOTE"},
				{"remote is local through a symlink", outer, same, "same directory"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					remote, flags := remoteArg(t, ssh, c.remote)
					for _, cmd := range []string{"status", "sync"} {
						args := append([]string{cmd, "-y", "--state", state}, flags...)
						if cmd == "status" {
							args = append([]string{cmd, "--state", state}, flags...)
						}
						r := myrrorfs(t, append(args, c.local, remote)...)
						oneLineError(t, r, c.want)
					}
					if _, err := os.Lstat(filepath.Join(inner, "in")); err == nil {
						t.Fatal("the tree was copied into itself")
					}
				})
			}
		})
	}
}

// A mountpoint inside REMOTE or equal to it (the view would show itself),
// inside LOCAL or equal to it, or holding LOCAL or REMOTE, is refused.
func TestMountpointInsidePairRefused(t *testing.T) {
	testenv.FUSE(t)
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			base := t.TempDir()
			state := filepath.Join(base, "state")
			local := filepath.Join(base, "l")
			remoteDir := filepath.Join(base, "top", "r")
			write(t, local, map[string]string{"a": "1"})
			write(t, remoteDir, map[string]string{"b": "2"})
			os.MkdirAll(filepath.Join(local, "m"), 0o755)
			os.MkdirAll(filepath.Join(remoteDir, "m"), 0o755)
			link := filepath.Join(base, "link")
			os.Symlink(filepath.Join(remoteDir, "m"), link)
			remote, flags := remoteArg(t, ssh, remoteDir)
			cases := []struct {
				name, mnt, want string
			}{
				{"mountpoint is remote", remoteDir, "REMOTE"},
				{"mountpoint inside remote", filepath.Join(remoteDir, "m"), "inside REMOTE"},
				{"mountpoint inside remote through a symlink", link, "inside REMOTE"},
				{"mountpoint is local", local, "LOCAL"},
				{"mountpoint inside local", filepath.Join(local, "m"), "inside LOCAL"},
				{"remote inside mountpoint", filepath.Join(base, "top"), "inside the mountpoint"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					args := append([]string{"mount", "--state", state}, flags...)
					r := myrrorfs(t, append(args, local, remote, c.mnt)...)
					stopStrayMount(t, state, c.mnt)
					oneLineError(t, r, c.want)
				})
			}
		})
	}
}

// stopStrayMount undoes a mount that should have been refused: it detaches
// the mount (at mnt with its symlinks resolved) and kills its daemon.
func stopStrayMount(t *testing.T, state, mnt string) {
	t.Helper()
	resp, err := daemon.Call(context.Background(), daemon.SocketPath(state, mnt), daemon.Request{Op: daemon.OpInfo}, nil)
	if real, rerr := filepath.EvalSymlinks(mnt); rerr == nil && mounted(t, real) {
		unix.Unmount(real, unix.MNT_DETACH)
	}
	if err == nil && resp.Pid > 0 {
		syscall.Kill(resp.Pid, syscall.SIGKILL)
		waitExit(resp.Pid, 10*time.Second)
	}
}
