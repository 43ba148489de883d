package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHangingRemoteLeavesGesturesFree freezes the ssh process that reaches
// the remote while a remote-backed file is opened through the mount (its
// download hangs), and makes local gestures in another directory (rm of a
// conflict sibling, a new file, a rename): they must complete within a
// few seconds. The view fetches without its gesture lock; the daemon's
// backend must also not hold its own lock across the fetch.
func TestHangingRemoteLeavesGesturesFree(t *testing.T) {
	f := setup(t, scenario{
		sshRemote: true,
		base:      map[string]string{"o/p": "base", "r": "base", "o/q": "q"},
		local:     map[string]string{"o/p": "L"},
		remote:    map[string]string{"o/p": "R", "r": "R"},
	})
	ssh := children(t, os.Getpid(), "ssh")
	if len(ssh) == 0 {
		t.Fatal("no ssh process to freeze")
	}
	freeze := func(sig syscall.Signal) {
		for _, pid := range ssh {
			syscall.Kill(pid, sig)
		}
	}
	freeze(syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			freeze(syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw) // runs before the unmount
	read := exec.Command("cat", filepath.Join(f.mnt, "r"))
	var out strings.Builder
	read.Stdout = &out
	if err := read.Start(); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan error, 1)
	go func() { readDone <- read.Wait() }()
	time.Sleep(200 * time.Millisecond) // the download has started and hangs
	gesture := exec.Command("sh", "-c", "cd o && rm p.remote && touch new && mv q q2")
	gesture.Dir = f.mnt
	if err := gesture.Start(); err != nil {
		t.Fatal(err)
	}
	gestureDone := make(chan error, 1)
	go func() { gestureDone <- gesture.Wait() }()
	select {
	case err := <-gestureDone:
		if err != nil {
			t.Errorf("gesture: %v", err)
		}
	case <-time.After(5 * time.Second):
		thaw()
		<-gestureDone
		t.Fatal("local gestures did not complete within 5s while the remote hangs")
	}
	thaw()
	if err := <-readDone; err != nil || out.String() != "R" {
		t.Errorf("read of r through the mount: %q, %v", out.String(), err)
	}
	check(t, "local", f.local, map[string]string{"o/new": "", "o/q2": "q", "o/p": "L"})
}
