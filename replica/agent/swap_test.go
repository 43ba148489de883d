package agent

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

// With an agent, a remote directory swapped for a symlink (to a directory
// outside the tree, or to "..") while the replica writes, renames and
// removes under it never lets an operation reach outside the tree, and
// operations still succeed whenever d is a real directory.
func TestSwappedDirNeverWritesOutside(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	res := replicatest.SwapRace(t, func(t *testing.T, root string) replica.Replica {
		r, err := dialOpts(Options{SSHCommand: sshCmd, Host: host, Path: root, RemoteCommand: agentBin})
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		return r
	}, 1500*time.Millisecond)
	for target, r := range res {
		if r.Succeeded == 0 {
			t.Errorf("symlink to %s: no operation succeeded in %d", target, r.Ops)
		}
	}
}

// The agent's SFTP server is read-only: even a client that opts in to
// writing over SFTP cannot write through it. Reads work.
func TestAgentSFTPIsReadOnly(t *testing.T) {
	r, dir := dialTest(t)
	os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644)
	r.Replica.AllowUnsafeWrites()
	if err := r.Replica.Mkdir("d", 0o755); err == nil {
		t.Errorf("Mkdir over the agent's SFTP channel succeeded")
	}
	if _, _, err := r.Replica.CreateTemp("", 0o644); err == nil {
		t.Errorf("CreateTemp over the agent's SFTP channel succeeded")
	}
	if err := r.Replica.Remove("f"); err == nil {
		t.Errorf("Remove over the agent's SFTP channel succeeded")
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("the root holds %v, want f alone", names)
	}
	rc, err := r.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Errorf("read f = %q", b)
	}
}

// Downloads never read outside the tree: while ROOT/d flips between a real
// directory and a symlink to an outside directory holding a file of the
// same name, Open("d/f") only ever reads the inside file (or fails).
func TestSwappedDirNeverReadsOutside(t *testing.T) {
	base := testenv.SSHRemoteDir(t)
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "d"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "d", "f"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(outside, "f"), []byte("OUTSIDE"), 0o644)
	sshCmd, host := testenv.SSH(t)
	r, err := dialOpts(Options{SSHCommand: sshCmd, Host: host, Path: root, RemoteCommand: agentBin})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stop := make(chan struct{})
	swapped := make(chan struct{})
	go func() { // flip d: real directory (moved aside) <-> symlink to outside
		defer close(swapped)
		d, real := filepath.Join(root, "d"), filepath.Join(base, "real")
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Rename(d, real)
			os.Symlink(outside, d)
			time.Sleep(50 * time.Microsecond)
			os.Remove(d)
			os.Rename(real, d)
		}
	}()
	deadline := time.Now().Add(1500 * time.Millisecond)
	reads, ok := 0, 0
	for time.Now().Before(deadline) {
		reads++
		rc, err := r.Open("d/f")
		if err != nil {
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if string(b) == "OUTSIDE" {
			close(stop)
			<-swapped
			t.Fatalf("read the outside file after %d reads", reads)
		}
		if err == nil && string(b) == "inside" {
			ok++
		}
	}
	close(stop)
	<-swapped
	if ok == 0 {
		t.Fatalf("no read of %d succeeded", reads)
	}
	t.Logf("%d reads, %d read the inside file", reads, ok)
}
