package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

type fixture struct {
	local, remote, state, mnt string
	d                         *Daemon
}

func put(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if strings.HasSuffix(p, "/") {
			continue
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func cat(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func ls(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// newFixture syncs base to both sides, applies the edits, and mounts.
func newFixture(t *testing.T, base, localEdits, remoteEdits map[string]string, remoteDeletes ...string) *fixture {
	testenv.FUSE(t)
	dir := t.TempDir()
	f := &fixture{local: filepath.Join(dir, "l"), remote: filepath.Join(dir, "r"), state: filepath.Join(dir, "s"), mnt: filepath.Join(dir, "m")}
	for _, d := range []string{f.local, f.remote, f.mnt} {
		os.Mkdir(d, 0o755)
	}
	put(t, f.local, base)
	p, err := engine.Open(context.Background(), f.local, f.remote, engine.Options{StateDir: f.state})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Scan(context.Background())
	if err == nil {
		_, err = p.Apply(context.Background(), plan, engine.ApplyOptions{})
	}
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	put(t, f.local, localEdits)
	put(t, f.remote, remoteEdits)
	for _, r := range remoteDeletes {
		os.RemoveAll(filepath.Join(f.remote, r))
	}
	f.d, err = Start(context.Background(), Options{Local: f.local, Remote: f.remote, Mountpoint: f.mnt,
		Engine: engine.Options{StateDir: f.state}, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.d.Unmount()
		f.d.Wait()
		f.d.Close()
	})
	return f
}

func (f *fixture) commit(t *testing.T) *engine.Result {
	t.Helper()
	_, res, err := f.d.Commit(context.Background(), nil, engine.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestViewShowsDecisions(t *testing.T) {
	f := newFixture(t,
		map[string]string{"a": "base", "b": "base", "c": "base", "d/x": "base", "e": "base"},
		map[string]string{"a": "local a", "c": "local c"},
		map[string]string{"a": "remote a", "b": "remote b", "n": "remote new"},
		"d/x", "e")
	if got := ls(t, f.mnt); got != "a.local a.merged a.remote b c d/ n" {
		t.Fatalf("view = %s", got)
	}
	for p, want := range map[string]string{"a.local": "local a", "a.remote": "remote a", "b": "remote b", "c": "local c", "n": "remote new"} {
		if got := cat(t, filepath.Join(f.mnt, p)); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	// nothing reached the remote
	if cat(t, filepath.Join(f.remote, "c")) != "base" {
		t.Fatal("the mount wrote to the remote")
	}
	// rm a.remote keeps the local version
	if err := os.Remove(filepath.Join(f.mnt, "a.remote")); err != nil {
		t.Fatal(err)
	}
	if got := ls(t, f.mnt); got != "a b c d/ n" {
		t.Fatalf("after rm a.remote: %s", got)
	}
	if got := cat(t, filepath.Join(f.mnt, "a")); got != "local a" {
		t.Fatalf("a = %q", got)
	}
	res := f.commit(t)
	if !res.InSync() {
		t.Fatalf("commit: %+v", res)
	}
	for p, want := range map[string]string{"a": "local a", "b": "remote b", "c": "local c", "n": "remote new", "e": "<"} {
		for _, root := range []string{f.local, f.remote} {
			if got := cat(t, filepath.Join(root, p)); !strings.HasPrefix(got, want) {
				t.Errorf("%s/%s = %q, want %q", root, p, got, want)
			}
		}
	}
}

// A file swapped for a symlink behind the view's back (outside the mount)
// is never followed: truncating, chmodding or opening it through a name the
// kernel still caches as a regular file leaves the symlink's target alone.
func TestNoWriteThroughSwappedSymlink(t *testing.T) {
	f := newFixture(t, map[string]string{"f": "base", "d/g": "base"}, nil, nil)
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	for _, p := range []string{"f", "d/g"} {
		if _, err := os.Stat(filepath.Join(f.mnt, p)); err != nil { // the kernel caches it as a file
			t.Fatal(err)
		}
		os.Remove(filepath.Join(f.local, p))
		os.Symlink(victim, filepath.Join(f.local, p))
		os.Truncate(filepath.Join(f.mnt, p), 0)
		os.Chmod(filepath.Join(f.mnt, p), 0o600)
		if w, err := os.OpenFile(filepath.Join(f.mnt, p), os.O_WRONLY|os.O_TRUNC, 0); err == nil {
			w.Close()
		}
	}
	// a directory swapped for a symlink to an outside directory
	outside := t.TempDir()
	os.RemoveAll(filepath.Join(f.local, "d"))
	os.Symlink(outside, filepath.Join(f.local, "d"))
	os.WriteFile(filepath.Join(f.mnt, "d", "new"), []byte("x"), 0o644)
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the symlink's target was written through the view: %q", b)
	}
	if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o644 {
		t.Fatalf("the symlink's target was chmodded through the view: %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("a file was created outside the tree: %v", ents)
	}
}

// TestSymlinkRace swaps a file of the local tree between a regular file
// and a symlink to a file outside the tree, while another goroutine opens
// it through the view for writing with O_TRUNC and O_NOFOLLOW and
// truncates it: whatever the kernel has cached, the view never follows
// the symlink, so the outside file keeps its content.
func TestSymlinkRace(t *testing.T) {
	f := newFixture(t, map[string]string{"race": "base"}, nil, nil)
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	path, tmp := filepath.Join(f.mnt, "race"), filepath.Join(f.local, "race.tmp")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			os.WriteFile(tmp, nil, 0o644)
			os.Rename(tmp, filepath.Join(f.local, "race"))
			os.Symlink(victim, tmp)
			os.Rename(tmp, filepath.Join(f.local, "race"))
		}
	}()
	opened := 0
	for {
		select {
		case <-done:
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Fatalf("the outside file was written through the view: %q", b)
			}
			if opened == 0 {
				t.Fatal("no open through the view succeeded: the race was not run")
			}
			return
		default:
		}
		if w, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0); err == nil {
			opened++
			w.Truncate(0)
			w.Close()
		}
	}
}

// Sibling names never shadow a real entry, and the daemon reports them.
func TestSiblingNamesDisambiguated(t *testing.T) {
	f := newFixture(t, map[string]string{"x": "base", "x.local": "a real file"},
		map[string]string{"x": "local x"}, map[string]string{"x": "remote x"})
	if got := ls(t, f.mnt); got != "x.local x.local-2 x.merged x.remote" {
		t.Fatalf("view = %s", got)
	}
	if cat(t, filepath.Join(f.mnt, "x.local")) != "a real file" || cat(t, filepath.Join(f.mnt, "x.local-2")) != "local x" {
		t.Fatal("sibling content")
	}
	l, r := f.d.Siblings("x")
	if l != "x.local-2" || r != "x.remote" {
		t.Fatalf("Siblings = %q %q", l, r)
	}
	resp := HandleConflicts(t.Context(), f.d, Request{V: ProtocolVersion, Op: "conflicts"})
	if !strings.Contains(resp.Text, "modify/modify  x  (in the view: x.local-2, x.remote, x.merged)") {
		t.Fatalf("conflicts = %q", resp.Text)
	}
}
