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
