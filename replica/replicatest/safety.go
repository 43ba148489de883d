package replicatest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
)

var safetyTests = []subtest{
	{"InvalidPaths", testInvalidPaths},
	{"SymlinkedParent", testSymlinkedParent},
	{"FinalSymlinkNotFollowed", testFinalSymlink},
}

// badPaths are paths every method refuses with replica.ErrUnsafePath.
var badPaths = []string{
	"..", "../x", "a/../b", "/abs", "/", "a//b", "a/", ".", "./a", "a/./b", "a\x00b", "\x00",
}

// pathOps calls every method that takes a path with p in each position.
func pathOps(r replica.Replica, p string) map[string]error {
	ops := map[string]error{}
	_, ops["Lstat"] = r.Lstat(p)
	_, ops["ReadDir"] = r.ReadDir(p)
	_, ops["Readlink"] = r.Readlink(p)
	if rc, err := r.Open(p); err == nil {
		rc.Close()
	} else {
		ops["Open"] = err
	}
	if _, w, err := r.CreateTemp(p, 0o644); err == nil {
		w.Close()
	} else {
		ops["CreateTemp"] = err
	}
	ops["Rename from"] = r.Rename(p, "mine")
	ops["Rename to"] = r.Rename("mine", p)
	ops["Mkdir"] = r.Mkdir(p, 0o755)
	ops["Symlink"] = r.Symlink("target", p)
	ops["Remove"] = r.Remove(p)
	ops["Chmod"] = r.Chmod(p, 0o777)
	ops["Chtimes"] = r.Chtimes(p, 0)
	ops["Link from"] = r.Link(p, "hardlink")
	ops["Link to"] = r.Link("mine", p)
	if h, ok := r.(replica.Hasher); ok {
		_, _, ops["Hash"] = h.Hash(p)
	}
	if c, ok := r.(replica.Copier); ok {
		_, ops["CopyTemp from"] = c.CopyTemp(p, "", 0o644)
		_, ops["CopyTemp into"] = c.CopyTemp("mine", p, 0o644)
	}
	return ops
}

func testInvalidPaths(t *testing.T, e *env) {
	e.mkdir("a", 0o755)
	e.write("a/b", "keep", 0o644)
	e.write("mine", "mine", 0o644)
	before := e.names("")
	for _, p := range badPaths {
		for op, err := range pathOps(e.r, p) {
			if errors.Is(err, replica.ErrUnsupported) && (op == "Link from" || op == "Link to") {
				continue
			}
			wantUnsafe(t, fmt.Sprintf("%s %q", op, p), err)
		}
	}
	if after := e.names(""); !maps.Equal(before, after) {
		t.Errorf("root listing changed from %v to %v", before, after)
	}
	if e.read("a/b") != "keep" || e.read("mine") != "mine" {
		t.Errorf("a refused operation changed a file")
	}
}

// outsideTree makes a directory outside the replica holding a file and a
// subdirectory, and returns it.
func outsideTree(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "f"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(out, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot records every entry under dir on disk: mode, size, mtime, content digest.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		m[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return m
}

func testSymlinkedParent(t *testing.T, e *env) {
	e.needDisk()
	out := outsideTree(t)
	e.write("mine", "mine", 0o644)
	e.mkdir("sub", 0o755)
	for _, l := range []string{"esc", "sub/esc"} {
		if err := os.Symlink(out, e.onDisk(l)); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, out)
	for _, p := range []string{"esc/f", "esc/d", "esc/new", "esc/d/new", "sub/esc/f", "sub/esc/new"} {
		for op, err := range pathOps(e.r, p) {
			if errors.Is(err, replica.ErrUnsupported) && (op == "Link from" || op == "Link to") {
				continue
			}
			wantUnsafe(t, fmt.Sprintf("%s %q through a symlinked parent", op, p), err)
		}
	}
	if after := snapshot(t, out); !maps.Equal(before, after) {
		t.Errorf("the directory outside the tree changed:\nbefore %v\nafter  %v", before, after)
	}
	if e.read("mine") != "mine" {
		t.Errorf("mine changed")
	}
}

func testFinalSymlink(t *testing.T, e *env) {
	e.needDisk()
	out := outsideTree(t)
	for l, target := range map[string]string{"dirlink": out, "filelink": filepath.Join(out, "f")} {
		if err := os.Symlink(target, e.onDisk(l)); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, out)
	if _, err := e.r.Open("filelink"); err == nil {
		t.Errorf("Open of a symlink to a file outside succeeded")
	}
	if _, err := e.r.ReadDir("dirlink"); err == nil {
		t.Errorf("ReadDir of a symlink to a dir outside succeeded")
	}
	if _, w, err := e.r.CreateTemp("dirlink", 0o644); err == nil {
		w.Close()
		t.Errorf("CreateTemp in a symlink to a dir outside succeeded")
	}
	wantErr(t, "Chmod of a symlink", e.r.Chmod("filelink", 0o777))
	wantErr(t, "Chmod of a dir symlink", e.r.Chmod("dirlink", 0o777))
	wantErr(t, "Chtimes of a symlink", e.r.Chtimes("filelink", 0))
	if h, ok := e.r.(replica.Hasher); ok {
		_, _, err := h.Hash("filelink")
		wantErr(t, "Hash of a symlink", err)
	}
	if err := e.r.Remove("dirlink"); err != nil {
		t.Errorf("Remove of a symlink to a dir: %v", err)
	}
	if after := snapshot(t, out); !maps.Equal(before, after) {
		t.Errorf("the directory outside the tree changed:\nbefore %v\nafter  %v", before, after)
	}
}
