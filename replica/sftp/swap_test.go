package sftp

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

// A remote directory swapped for a symlink (to a directory outside the
// tree, or to "..") while the replica writes, renames and removes under it
// never lets an operation reach outside the tree.
func TestSwappedDirNeverWritesOutside(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	replicatest.SwapRace(t, func(t *testing.T, root string) replica.Replica {
		return dialOpts(t, Options{SSHCommand: sshCmd, Host: host, Path: root})
	}, 1500*time.Millisecond)
}

// Without UnsafeWrites, plain SFTP is read-only: every operation that
// writes, renames or removes fails with one line naming the path and
// saying why, and changes nothing; reads work.
func TestPlainSFTPRefusesWrites(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	dir := testenv.SSHRemoteDir(t)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "f"), []byte("hello"), 0o644)
	r := dialOpts(t, Options{SSHCommand: sshCmd, Host: host, Path: dir})
	ops := map[string]error{}
	_, _, ops["CreateTemp"] = r.CreateTemp("d", 0o644)
	ops["Rename"] = r.Rename("d/f", "d/g")
	ops["Mkdir"] = r.Mkdir("d/e", 0o755)
	ops["Symlink"] = r.Symlink("x", "d/l")
	ops["Remove"] = r.Remove("d/f")
	ops["Chmod"] = r.Chmod("d/f", 0o600)
	ops["Chtimes"] = r.Chtimes("d/f", 0)
	ops["Link"] = r.Link("d/f", "d/h")
	for op, err := range ops {
		if !errors.Is(err, ErrWritesRefused) || !errors.Is(err, replica.ErrUnsafePath) {
			t.Errorf("%s = %v, want ErrWritesRefused", op, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, host+":"+dir+"/d") ||
			!strings.Contains(msg, "agent") || !strings.Contains(msg, "--unsafe-sftp-writes") {
			t.Errorf("%s error %q: want one line naming the path, the agent and the opt-in", op, msg)
		}
	}
	t.Logf("Mkdir: %v", ops["Mkdir"])
	names, _ := os.ReadDir(filepath.Join(dir, "d"))
	if len(names) != 1 || names[0].Name() != "f" {
		t.Errorf("d holds %v after refused operations, want f alone", names)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "d", "f")); fi.Mode().Perm() != 0o644 {
		t.Errorf("d/f mode %v, want unchanged", fi.Mode())
	}
	// reads work
	if infos, err := r.ReadDir("d"); err != nil || len(infos) != 1 {
		t.Errorf("ReadDir d = %v, %v", infos, err)
	}
	rc, err := r.Open("d/f")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "hello" {
		t.Errorf("read d/f = %q, %v", b, err)
	}
}
