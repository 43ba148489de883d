package replicatest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
)

// SwapOpen returns a replica of directory root, which is on the local disk
// (the remote host is this machine). SwapRace closes it.
type SwapOpen func(t *testing.T, root string) replica.Replica

// SwapResult counts what the operations of SwapRace did.
type SwapResult struct {
	Ops, Succeeded int
	Errors         []error // a sample of the errors, at most one per operation kind
}

// SwapRace is the hostile-remote test: while a swapper goroutine flips
// directory ROOT/d between a real directory and a symlink (to a sentinel
// directory outside the tree, then to ".." so that d/x is ROOT's parent's
// x) in a tight loop, every writing operation of the replica is run again
// and again on paths under d. Afterwards everything outside ROOT (its
// parent directory, holding the sentinel tree) must be byte for byte as it
// was: names, kinds, content, permission bits and mtimes. It returns what
// the operations did, per symlink target, for the caller's own checks.
func SwapRace(t *testing.T, open SwapOpen, d time.Duration) map[string]SwapResult {
	out := map[string]SwapResult{}
	for _, target := range []string{"outside", ".."} {
		t.Run("to "+target, func(t *testing.T) {
			out[target] = swapRace(t, open, target, d)
		})
	}
	return out
}

func swapRace(t *testing.T, open SwapOpen, target string, d time.Duration) SwapResult {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	// the same names in the tree's d, outside, and the tree's parent (which
	// d -> .. reaches)
	names := []string{"victim", "victim2", "mine", "sub"}
	for _, dir := range []string{filepath.Join(root, "d"), outside, base} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := filepath.Join(dir, n)
			if n == "sub" {
				mustOK(t, os.Mkdir(p, 0o755))
				mustOK(t, os.WriteFile(filepath.Join(p, "keep"), []byte("keep "+p), 0o644))
				continue
			}
			mustOK(t, os.WriteFile(p, []byte("content of "+p), 0o644))
		}
	}
	mustOK(t, os.WriteFile(filepath.Join(root, "mine"), []byte("mine"), 0o644))
	old := time.Unix(1e9, 0)
	for _, dir := range []string{outside, base} {
		for _, n := range names {
			mustOK(t, os.Chtimes(filepath.Join(dir, n), old, old))
		}
	}
	before := snapshotOutside(t, base, root)

	r := open(t, root)
	linkTarget := outside
	if target == ".." {
		linkTarget = ".."
	}
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		dPath, real := filepath.Join(root, "d"), filepath.Join(root, "d.real")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if os.Rename(dPath, real) != nil {
				continue
			}
			os.Symlink(linkTarget, dPath)
			swaps.Add(1)
			time.Sleep(100 * time.Microsecond) // about one operation's time each way
			os.Remove(dPath)
			os.Rename(real, dPath)
			time.Sleep(100 * time.Microsecond)
		}
	})

	var res SwapResult
	seen := map[string]bool{}
	note := func(op string, err error) {
		res.Ops++
		if err == nil {
			res.Succeeded++
			return
		}
		if !seen[op] {
			seen[op] = true
			res.Errors = append(res.Errors, fmt.Errorf("%s: %w", op, err))
		}
	}
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		for _, op := range swapOps(r, i) {
			note(op.name, op.run())
		}
	}
	close(stop)
	wg.Wait()
	// put d back as a directory for the cleanup
	dPath := filepath.Join(root, "d")
	if fi, err := os.Lstat(dPath); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		os.Remove(dPath)
	}
	if _, err := os.Lstat(filepath.Join(root, "d.real")); err == nil {
		os.Rename(filepath.Join(root, "d.real"), dPath)
	}
	r.Close()

	after := snapshotOutside(t, base, root)
	if diff := diffSnapshots(before, after); diff != "" {
		t.Errorf("outside the tree changed (d swapped for a symlink to %s %d times, %d of %d operations succeeded):\n%s",
			target, swaps.Load(), res.Succeeded, res.Ops, diff)
	}
	t.Logf("d swapped for a symlink to %s %d times; %d of %d operations succeeded", target, swaps.Load(), res.Succeeded, res.Ops)
	for _, err := range res.Errors {
		t.Logf("  %v", err)
	}
	if swaps.Load() == 0 {
		t.Errorf("the swapper never swapped")
	}
	return res
}

type swapOp struct {
	name string
	run  func() error
}

// swapOps are the writing operations tried on paths under d in round i.
func swapOps(r replica.Replica, i int) []swapOp {
	n := fmt.Sprint(i)
	ops := []swapOp{
		{"CreateTemp", func() error {
			tmp, w, err := r.CreateTemp("d", 0o644)
			if err != nil {
				return err
			}
			io.WriteString(w, "written by the replica")
			if err := w.Close(); err != nil {
				return err
			}
			return r.Rename(tmp, "d/new"+n)
		}},
		{"Mkdir", func() error { return r.Mkdir("d/dir"+n, 0o755) }},
		{"Symlink", func() error { return r.Symlink("/", "d/ln"+n) }},
		{"Chmod", func() error { return r.Chmod("d/victim", 0o600) }},
		{"Chtimes", func() error { return r.Chtimes("d/victim", 2e18) }},
		{"Link", func() error { return r.Link("mine", "d/hl"+n) }},
		{"Rename in", func() error { return r.Rename("d/victim", "d/moved"+n) }},
		{"Rename out", func() error { return r.Rename("d/victim2", "stash"+n) }},
		{"Rename over", func() error { return r.Rename("mine", "d/mine") }},
		{"Remove", func() error { return r.Remove("d/victim") }},
		{"Remove dir file", func() error { return r.Remove("d/sub/keep") }},
	}
	if c, ok := r.(replica.Copier); ok {
		ops = append(ops, swapOp{"CopyTemp", func() error {
			_, err := c.CopyTemp("mine", "d", 0o644)
			return err
		}})
	}
	return ops
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// snapshotOutside describes every entry under base except root and what
// is under it: kind, permission bits, mtime, size and content hash.
func snapshotOutside(t *testing.T, base, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %d %x", len(b), sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		}
		if p != base { // the base's own mtime changes with the swaps under root
			snap[strings.TrimPrefix(p, base)] = desc
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// diffSnapshots lists what differs between two snapshots ("" if nothing).
func diffSnapshots(a, b map[string]string) string {
	var lines []string
	for p, da := range a {
		switch db, ok := b[p]; {
		case !ok:
			lines = append(lines, "gone:    "+p+" ("+da+")")
		case da != db:
			lines = append(lines, "changed: "+p+" ("+da+" -> "+db+")")
		}
	}
	for p, db := range b {
		if _, ok := a[p]; !ok {
			lines = append(lines, "new:     "+p+" ("+db+")")
		}
	}
	sort.Strings(lines)
	if len(lines) > 30 {
		lines = append(lines[:30], fmt.Sprintf("... and %d more", len(lines)-30))
	}
	return strings.Join(lines, "\n")
}
