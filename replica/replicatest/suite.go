// Package replicatest is the conformance suite every replica.Replica
// implementation passes. An implementation's tests call Run with a function
// that opens a fresh, empty replica.
package replicatest

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Open returns a new replica whose root is an empty directory, and the path
// of that root on the local disk when the test can see it ("" otherwise:
// the subtests that need fixtures only the disk can make, such as sockets
// or symlinks pointing outside the tree, are then skipped). The replica is
// closed by the suite; the directory is the opener's to clean up.
type Open func(t *testing.T) (r replica.Replica, rootOnDisk string)

// Run runs every conformance subtest against replicas made by open.
func Run(t *testing.T, open Open) {
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Read", readTests},
		{"Write", writeTests},
		{"Safety", safetyTests},
		{"Names", nameTests},
		{"Scan", scanTests},
		{"Concurrency", concurrencyTests},
		{"Small", smallTests},
		{"Watch", watchTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) {
					st.run(t, newEnv(t, open))
				})
			}
		})
	}
}

// subtest is one named check of the suite.
type subtest struct {
	name string
	run  func(t *testing.T, e *env)
}

// env is the replica under test and its root on disk.
type env struct {
	t    *testing.T
	r    replica.Replica
	disk string
}

func newEnv(t *testing.T, open Open) *env {
	t.Helper()
	r, disk := open(t)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{t: t, r: r, disk: disk}
}

// needDisk skips the test when the root is not visible on disk.
func (e *env) needDisk() {
	e.t.Helper()
	if e.disk == "" {
		e.t.Skip("needs the replica's root on the local disk")
	}
}

// onDisk is the local path of relative path p.
func (e *env) onDisk(p string) string {
	return filepath.Join(e.disk, filepath.FromSlash(p))
}

// write creates file p with content and perm through CreateTemp and Rename.
func (e *env) write(p, content string, perm uint32) {
	e.t.Helper()
	tmp, w, err := e.r.CreateTemp(tree.Parent(p), perm)
	if err != nil {
		e.t.Fatalf("CreateTemp for %s: %v", p, err)
	}
	if _, err := io.WriteString(w, content); err != nil {
		e.t.Fatalf("write %s: %v", tmp, err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatalf("close %s: %v", tmp, err)
	}
	if err := e.r.Rename(tmp, p); err != nil {
		e.t.Fatalf("Rename %s to %s: %v", tmp, p, err)
	}
}

// mkdir creates directory p.
func (e *env) mkdir(p string, perm uint32) {
	e.t.Helper()
	if err := e.r.Mkdir(p, perm); err != nil {
		e.t.Fatalf("Mkdir %s: %v", p, err)
	}
}

// symlink creates symlink p to target.
func (e *env) symlink(target, p string) {
	e.t.Helper()
	if err := e.r.Symlink(target, p); err != nil {
		e.t.Fatalf("Symlink %s: %v", p, err)
	}
}

// read returns the content of file p.
func (e *env) read(p string) string {
	e.t.Helper()
	rc, err := e.r.Open(p)
	if err != nil {
		e.t.Fatalf("Open %s: %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// lstat returns the Info of p, failing the test on error.
func (e *env) lstat(p string) replica.Info {
	e.t.Helper()
	info, err := e.r.Lstat(p)
	if err != nil {
		e.t.Fatalf("Lstat %s: %v", p, err)
	}
	return info
}

// absent checks that nothing exists at p.
func (e *env) absent(p string) {
	e.t.Helper()
	if info, err := e.r.Lstat(p); !isNotExist(err) {
		e.t.Fatalf("Lstat %s = %+v, %v; want ErrNotExist", p, info, err)
	}
}

// names lists directory p as a set of names with their kinds.
func (e *env) names(p string) map[string]tree.Kind {
	e.t.Helper()
	infos, err := e.r.ReadDir(p)
	if err != nil {
		e.t.Fatalf("ReadDir %q: %v", p, err)
	}
	m := make(map[string]tree.Kind, len(infos))
	for _, in := range infos {
		m[in.Name] = in.Kind
	}
	return m
}

// isNotExist reports whether err is both replica.ErrNotExist and fs.ErrNotExist.
func isNotExist(err error) bool {
	return errors.Is(err, replica.ErrNotExist) && errors.Is(err, fs.ErrNotExist)
}

// wantNotExist fails unless err is a not-exist error.
func wantNotExist(t *testing.T, what string, err error) {
	t.Helper()
	if !isNotExist(err) {
		t.Errorf("%s: err = %v; want replica.ErrNotExist and fs.ErrNotExist", what, err)
	}
}

// wantUnsafe fails unless err is replica.ErrUnsafePath.
func wantUnsafe(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, replica.ErrUnsafePath) {
		t.Errorf("%s: err = %v; want replica.ErrUnsafePath", what, err)
	}
}

// wantErr fails unless err is non-nil.
func wantErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded; want an error", what)
	}
}

// st_mode type bits, as tree.Fingerprint.Mode carries them.
const (
	modeReg  = 0o100000
	modeDir  = 0o040000
	modeLink = 0o120000
	modeType = 0o170000
)
