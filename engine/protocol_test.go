package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica/agent"
	"github.com/myrrorfs/myrrorfs/tree"
)

func openTest(t *testing.T, l, r, state string) *Pair {
	t.Helper()
	p, err := Open(context.Background(), l, r, Options{StateDir: state, Holder: "test", SSHCommand: sshCommand, UnsafeSFTPWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newPairDirs(t *testing.T, base snapshot) (l, r, state string) {
	dir := t.TempDir()
	l, r, state = filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "state")
	os.Mkdir(l, 0o755)
	os.Mkdir(r, 0o755)
	writeTree(t, l, base)
	writeTree(t, r, base)
	syncPair(t, l, r, state)
	return
}

// A target changed after the scan is never overwritten or deleted; it
// shows up as a difference on the next run.
func TestTargetChangedAfterScan(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"f": "f:old:-", "g": "f:old:-"})
	writeEntry(t, filepath.Join(l, "f.new"), "f:x:-")
	os.Rename(filepath.Join(l, "f.new"), filepath.Join(l, "f")) // local edits f
	os.Remove(filepath.Join(l, "g"))                            // local deletes g
	p := openTest(t, l, r, state)
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// meanwhile, someone edits both targets on the remote side
	os.WriteFile(filepath.Join(r, "f"), []byte("remote edit"), 0o644)
	os.WriteFile(filepath.Join(r, "g"), []byte("remote edit of g"), 0o644)
	res, err := p.Apply(context.Background(), plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 2 || !errors.Is(res.Problems[0].Err, ErrChanged) {
		t.Fatalf("problems = %v", res.Problems)
	}
	got := readTree(t, r)
	if got["f"] != "f:remote edit:-" || got["g"] != "f:remote edit of g:-" {
		t.Fatalf("remote after apply = %v", got)
	}
	p.Close()
	next := planOf(t, l, r, state)
	if len(next.Conflicts()) != 2 {
		t.Fatalf("next run: %v", next.Top())
	}
}

// A directory to make where something appeared after the scan (a file, a
// symlink, a directory of its own) is not made: what appeared stays, the
// run reports the path, and what would have gone inside waits too.
func TestMkdirTargetAppearedAfterScan(t *testing.T) {
	var bin string
	for _, over := range []string{"local", "sftp", "agent"} {
		if over == "agent" {
			bin = buildMyrrorfs(t)
		}
		for _, kind := range []string{"file", "symlink", "dir"} {
			t.Run(over+"/"+kind, func(t *testing.T) { mkdirTargetAppeared(t, over, kind, bin) })
		}
	}
}

func mkdirTargetAppeared(t *testing.T, over, kind, bin string) {
	if over != "local" {
		sshCommand, sshHost = testenv.SSH(t)
		defer func() { sshCommand, sshHost = "", "" }()
	}
	dir := t.TempDir()
	l, r, state := filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "state")
	os.Mkdir(l, 0o755)
	os.Mkdir(r, 0o755)
	syncPair(t, l, remoteArg(r), state)
	writeTree(t, l, snapshot{"n": "d", "n/inner": "f:local:-", "m": "d"})
	p, err := Open(context.Background(), l, remoteArg(r), Options{StateDir: state, Holder: "test", SSHCommand: sshCommand, RemoteMyrrorfs: bin, UnsafeSFTPWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, ok := p.Remote.(*agent.Replica); ok != (over == "agent") {
		t.Fatalf("remote replica over %s is a %T", over, p.Remote)
	}
	{
		{
			plan, err := p.Scan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			at := filepath.Join(r, "n")
			switch kind {
			case "file":
				os.WriteFile(at, []byte("appeared"), 0o644)
			case "symlink":
				os.Symlink("f", at)
			case "dir":
				os.Mkdir(at, 0o700)
				os.WriteFile(filepath.Join(at, "own"), []byte("its own"), 0o644)
			}
			before := readTree(t, r)
			res, err := p.Apply(context.Background(), plan, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() < 1 || res.Problems[0].Path != "n" || !errors.Is(res.Problems[0].Err, ErrChanged) {
				t.Fatalf("problems = %v; want n changed since the scan first", res.Problems)
			}
			got := readTree(t, r)
			for path, v := range before {
				if got[path] != v {
					t.Errorf("%s = %q after the run; want %q kept", path, got[path], v)
				}
			}
			if _, ok := got["n/inner"]; ok {
				t.Errorf("n/inner was written into what appeared at n")
			}
			if got["m"] != "d" {
				t.Errorf("m = %q; the other new directory should be made", got["m"])
			}
		}
	}
}

// The source changing between scan and copy leaves the target alone.
func TestSourceChangedAfterScan(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"f": "f:old:-"})
	os.WriteFile(filepath.Join(l, "f"), []byte("new"), 0o644)
	p := openTest(t, l, r, state)
	plan, _ := p.Scan(context.Background())
	os.WriteFile(filepath.Join(l, "f"), []byte("newer"), 0o644)
	res, _ := p.Apply(context.Background(), plan, ApplyOptions{})
	if res.Failed() != 1 || readTree(t, r)["f"] != "f:old:-" {
		t.Fatalf("problems %v, remote %v", res.Problems, readTree(t, r))
	}
	if temps := findTemps(t, r); len(temps) != 0 {
		t.Fatalf("temporaries left: %v", temps)
	}
}

func findTemps(t *testing.T, root string) []string {
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), tree.TempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// Replaced and deleted versions go to the backup area of their side.
func TestBackups(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"d": "d", "d/f": "f:v1:-", "g": "f:g1:-"})
	os.WriteFile(filepath.Join(l, "d/f"), []byte("v2"), 0o644)
	os.Remove(filepath.Join(l, "g"))
	_, res := syncPair(t, l, r, state)
	if res.Failed() != 0 || res.Applied != 2 {
		t.Fatalf("result %+v", res)
	}
	var kept []string
	filepath.Walk(filepath.Join(r, tree.BackupDir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			kept = append(kept, filepath.Base(p)+"="+string(b))
		}
		return nil
	})
	if strings.Join(kept, ",") != "f=v1,g=g1" {
		t.Fatalf("backups = %v", kept)
	}
	if got := readTree(t, r); got["d/f"] != "f:v2:-" || got["g"] != "" {
		t.Fatalf("remote = %v", got)
	}
}

// An emptied root stops the run instead of deleting everything.
func TestEmptiedRootRefused(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"a": "f:1:-", "b": "d"})
	os.RemoveAll(filepath.Join(l, "a"))
	os.RemoveAll(filepath.Join(l, "b"))
	plan := planOf(t, l, r, state)
	err := plan.SafetyCheck()
	if err == nil || !strings.Contains(err.Error(), "local side is empty") {
		t.Fatalf("SafetyCheck = %v", err)
	}
}

// Ignored paths are neither synced nor deleted.
func TestIgnore(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{})
	writeTree(t, l, snapshot{".myrrorignore": "f:build/\n*.o\n:-", "build": "d", "build/x": "f:1:-", "a.o": "f:o:-", "a.c": "f:c:-"})
	syncPair(t, l, r, state)
	got := readTree(t, r)
	if got["a.c"] != "f:c:-" || got["a.o"] != "" || got["build"] != "" || got[".myrrorignore"] == "" {
		t.Fatalf("remote = %v", got)
	}
}

// Symlinks are synced as links and never followed; the exec bit is synced.
func TestSymlinkAndExec(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"s": "f:1:-"})
	outside := t.TempDir()
	writeTree(t, l, snapshot{"link": "l:" + outside, "dangling": "l:nowhere"})
	os.Chmod(filepath.Join(l, "s"), 0o755)
	plan, _ := syncPair(t, l, r, state)
	got := readTree(t, r)
	if got["link"] != "l:"+outside || got["dangling"] != "l:nowhere" || got["s"] != "f:1:x" {
		t.Fatalf("remote = %v", got)
	}
	for _, d := range plan.Top() {
		if d.Path == "s" && Op(d) != "chmod" {
			t.Fatalf("exec change is %s", Op(d))
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote through a symlink: %v", ents)
	}
}

// A directory deleted on one side while a file under it changed on the
// other is one conflict, and nothing under it is deleted.
func TestDeletedDirConflict(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"d": "d", "d/a": "f:1:-", "d/b": "f:2:-"})
	os.RemoveAll(filepath.Join(l, "d"))
	os.WriteFile(filepath.Join(r, "d/a"), []byte("changed"), 0o644)
	plan, res := syncPair(t, l, r, state)
	cs := plan.Conflicts()
	if len(cs) != 1 || cs[0].Path != "d" || cs[0].Kind != reconcile.DeleteModify || len(res.Conflicts) != 1 {
		t.Fatalf("conflicts = %v", cs)
	}
	if got := readTree(t, r); got["d/a"] != "f:changed:-" || got["d/b"] != "f:2:-" {
		t.Fatalf("remote = %v", got)
	}
	// JSON: the conflict stands for its subtree, which --all prints too
	var top, all strings.Builder
	plan.WriteJSON(&top, false, func(d reconcile.Decision) bool { return d.Action != reconcile.Equal })
	plan.WriteJSON(&all, true, func(reconcile.Decision) bool { return true })
	if strings.Count(top.String(), "\n") != 1 || !strings.Contains(top.String(), `"path":"d","action":"conflict","kind":"delete/modify"`) {
		t.Fatalf("json = %s", top.String())
	}
	if !strings.Contains(all.String(), `"path":"d/a","action":"conflict","kind":"delete/modify","under":"d"`) {
		t.Fatalf("json --all = %s", all.String())
	}
}
