package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	if got := ls(t, f.mnt); got != "a.local a.remote b c d/ n" {
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
