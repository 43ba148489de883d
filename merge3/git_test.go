package merge3

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// gitMerger runs `git merge-file` as the reference for Merge.
type gitMerger struct {
	dir string
	env []string
}

// needGit returns a gitMerger, skipping the test when git is missing, except
// under CI, where that fails it.
func needGit(t testing.TB) *gitMerger {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git is needed to check merges against git merge-file: %v", err)
		}
		t.Skip("git not installed: merges not checked against git merge-file")
	}
	dir := t.TempDir()
	// No repository, system or user configuration may change the output
	// (merge.conflictStyle would): git looks for neither above dir.
	env := append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_CEILING_DIRECTORIES="+filepath.Dir(dir),
		"HOME="+dir,
		"LC_ALL=C",
	)
	return &gitMerger{dir: dir, env: env}
}

// merge returns git's merge of the three versions with labels local and
// remote, and its exit status: the number of conflicts, at most 127.
func (g *gitMerger) merge(t testing.TB, base, local, remote []byte, l Labels) ([]byte, int) {
	t.Helper()
	for name, b := range map[string][]byte{"base": base, "local": local, "remote": remote} {
		if err := os.WriteFile(filepath.Join(g.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("git", "-c", "merge.conflictStyle=merge", "merge-file", "-p",
		"-L", l.Local, "-L", "base", "-L", l.Remote, "local", "base", "remote")
	cmd.Dir = g.dir
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() > 0 && exit.ExitCode() <= 127:
		status = exit.ExitCode()
	default:
		t.Fatalf("git merge-file: %v: %s", err, stderr.Bytes())
	}
	return stdout.Bytes(), status
}
