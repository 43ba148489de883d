package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// withAgent makes an ssh pair use this build as its remote agent (which
// watches the remote tree) instead of plain SFTP.
func withAgent(p pair) pair {
	p.flags = slices.DeleteFunc(slices.Clone(p.flags), func(f string) bool { return f == "--unsafe-sftp-writes" })
	p.flags = append(p.flags, "--remote-myrrorfs", bin)
	return p
}

// agentPair is a synced pair, local or over the test sshd with an agent.
func agentPair(t *testing.T, ssh bool, files map[string]string) pair {
	t.Helper()
	p := newPair(t, ssh)
	if ssh {
		p = withAgent(p)
	}
	write(t, p.local, files)
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("first sync: %+v", r)
	}
	return p
}

// within waits until check passes or limit is over, and returns how long
// it took; the test fails after limit.
func within(t *testing.T, limit time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holds checks that file p has content want.
func holds(p, want string) func() error {
	return func() error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(b) != want {
			return fmt.Errorf("%s holds %q, want %q", p, b, want)
		}
		return nil
	}
}

// A mount with the safety-net rescan an hour away shows a change made on
// either side behind its back within 2 s: the local tree is watched, and
// the remote one through the agent (over ssh) or directly (a local pair).
func TestMountFollowsChanges(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			p := agentPair(t, ssh, map[string]string{"e": "base", "d/x": "base"})
			mnt, _ := mountView(t, p, "--rescan", "1h")
			time.Sleep(300 * time.Millisecond) // the watches are set up
			write(t, p.remoteDir, map[string]string{"r": "made on the remote", "e": "edited on the remote", "nd/deep": "deep"})
			took := within(t, 2*time.Second, "remote changes in the view", func() error {
				for _, c := range []func() error{holds(filepath.Join(mnt, "r"), "made on the remote"),
					holds(filepath.Join(mnt, "e"), "edited on the remote"), holds(filepath.Join(mnt, "nd/deep"), "deep")} {
					if err := c(); err != nil {
						return err
					}
				}
				return nil
			})
			t.Logf("remote changes in the view after %v", took)
			write(t, p.local, map[string]string{"l": "made locally", "d/x": "edited locally"})
			took = within(t, 2*time.Second, "local changes in the view", func() error {
				if err := holds(filepath.Join(mnt, "l"), "made locally")(); err != nil {
					return err
				}
				return holds(filepath.Join(mnt, "d/x"), "edited locally")()
			})
			t.Logf("local changes in the view after %v", took)
			os.Remove(filepath.Join(p.remoteDir, "r"))
			within(t, 2*time.Second, "a remote deletion in the view", func() error {
				if _, err := os.Lstat(filepath.Join(mnt, "r")); !os.IsNotExist(err) {
					return fmt.Errorf("r still in the view (%v)", err)
				}
				return nil
			})
			// the mount never wrote to the remote
			if _, err := os.Lstat(filepath.Join(p.remoteDir, "l")); !os.IsNotExist(err) {
				t.Errorf("the mount wrote l to the remote")
			}
		})
	}
}

// When the kernel's event queue overflows, the mount rescans instead of
// missing what the lost events said: 300 files made at once behind its
// back with a queue of 16 events all show in the view.
func TestMountWatchOverflow(t *testing.T) {
	const knob = "/proc/sys/fs/inotify/max_queued_events"
	old, err := os.ReadFile(knob)
	if err != nil {
		t.Skipf("cannot read %s: %v", knob, err)
	}
	p := agentPair(t, false, map[string]string{"keep": "k"})
	if err := os.WriteFile(knob, []byte("16"), 0o644); err != nil {
		t.Skipf("cannot set %s (needs root): %v", knob, err)
	}
	restore := sync.OnceFunc(func() { os.WriteFile(knob, old, 0o644) })
	t.Cleanup(restore)
	mnt, _ := mountView(t, p, "--rescan", "1h")
	restore() // the mount's watches were made with the small queue
	time.Sleep(300 * time.Millisecond)
	files := map[string]string{}
	for i := range 300 {
		files[fmt.Sprintf("d%d/f%d", i%3, i)] = "x"
	}
	write(t, p.local, files)
	within(t, 5*time.Second, "300 files in the view", func() error {
		for f := range files {
			if _, err := os.Lstat(filepath.Join(mnt, f)); err != nil {
				return err
			}
		}
		return nil
	})
}

// `sync --watch` carries every change of either side to the other as it
// happens, leaves a conflict untouched (and says so), answers status and
// conflicts, and stops cleanly on Ctrl-C.
func TestSyncWatch(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			p := agentPair(t, ssh, map[string]string{"both": "base", "keep": "k"})
			cmd := exec.Command(bin, p.args("sync", "--watch", "-y")...)
			var out bytes.Buffer
			var mu sync.Mutex
			cmd.Stdout = &lockedWriter{mu: &mu, w: &out}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
			within(t, 10*time.Second, "watch started", func() error {
				if !strings.Contains(output(), "watching") {
					return fmt.Errorf("output %q", output())
				}
				return nil
			})
			time.Sleep(300 * time.Millisecond)
			// a stream of edits on both sides
			for i := range 5 {
				write(t, p.local, map[string]string{fmt.Sprintf("l%d", i): fmt.Sprint("local ", i)})
				write(t, p.remoteDir, map[string]string{fmt.Sprintf("sub/r%d", i): fmt.Sprint("remote ", i)})
				time.Sleep(150 * time.Millisecond)
			}
			within(t, 3*time.Second, "edits carried both ways", func() error {
				for i := range 5 {
					if err := holds(filepath.Join(p.remoteDir, fmt.Sprintf("l%d", i)), fmt.Sprint("local ", i))(); err != nil {
						return err
					}
					if err := holds(filepath.Join(p.local, fmt.Sprintf("sub/r%d", i)), fmt.Sprint("remote ", i))(); err != nil {
						return err
					}
				}
				return nil
			})
			// an edit reaches the other side within 2 s
			write(t, p.local, map[string]string{"keep": "edited locally"})
			took := within(t, 2*time.Second, "a local edit on the remote", holds(filepath.Join(p.remoteDir, "keep"), "edited locally"))
			t.Logf("a local edit reached the remote after %v", took)
			// a conflict stays as it is on both sides
			write(t, p.local, map[string]string{"both": "L"})
			write(t, p.remoteDir, map[string]string{"both": "R"})
			within(t, 3*time.Second, "the conflict reported", func() error {
				if !strings.Contains(output(), "conflict, left untouched: both") {
					return fmt.Errorf("output %q", output())
				}
				return nil
			})
			for _, c := range []func() error{holds(filepath.Join(p.local, "both"), "L"), holds(filepath.Join(p.remoteDir, "both"), "R")} {
				if err := c(); err != nil {
					t.Errorf("conflict touched: %v", err)
				}
			}
			// status and conflicts ask the running sync --watch
			if r := myrrorfs(t, p.args("conflicts")...); r.code != 0 || !strings.Contains(r.stdout, "modify/modify  both") {
				t.Errorf("conflicts while sync --watch runs: %+v", r)
			}
			if r := myrrorfs(t, p.args("status")...); r.code != 0 || !strings.Contains(r.stdout, "both") {
				t.Errorf("status while sync --watch runs: %+v", r)
			}
			if r := myrrorfs(t, p.args("status", "--json", "--all")...); r.code != 0 || !strings.Contains(r.stdout, `"path":"keep","action":"equal"`) {
				t.Errorf("status --json --all while sync --watch runs: %+v", r)
			}
			cmd.Process.Signal(syscall.SIGINT)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("sync --watch after Ctrl-C: %v; output:\n%s", err, output())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("sync --watch still running 10 s after Ctrl-C")
			}
			if !strings.Contains(output(), "stopped") {
				t.Errorf("output after Ctrl-C: %q", output())
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// startWatch starts `sync --watch -y` on pair p, stopped when t ends, and
// returns what it printed so far.
func startWatch(t *testing.T, p pair) (output func() string) {
	t.Helper()
	cmd := exec.Command(bin, p.args("sync", "--watch", "-y")...)
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout = &lockedWriter{mu: &mu, w: &out}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
}
