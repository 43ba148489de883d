package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
	"github.com/myrrorfs/myrrorfs/tree"
)

func TestConformance(t *testing.T) {
	replicatest.Run(t, func(t *testing.T) (replica.Replica, string) {
		dir := t.TempDir()
		return open(t, dir), dir
	})
}

func open(t testing.TB, dir string) *Replica {
	t.Helper()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRefusesNonDirectories(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ root, cause string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{file, "not a directory"},
	}
	for _, c := range cases {
		r, err := New(c.root)
		if err == nil {
			r.Close()
			t.Errorf("New(%s) succeeded", c.root)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.root) || !strings.Contains(msg, c.cause) {
			t.Errorf("New(%s): %q; want the path and %q", c.root, msg, c.cause)
		}
	}
}

func TestErrorsNamePathAndCause(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	defer r.Close()
	_, err := r.Lstat("a/b")
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, replica.ErrNotExist) || errors.Is(err, replica.ErrUnsafePath) {
		t.Fatalf("Lstat a/b: %v; want only the not-exist classes", err)
	}
	if want := filepath.Join(dir, "a/b"); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
	err = r.Rename("x", "y")
	if want := filepath.Join(dir, "x") + " to " + filepath.Join(dir, "y"); !strings.Contains(err.Error(), want) {
		t.Errorf("Rename error %q does not name both paths", err)
	}
}

func TestHashMatchesContentAndLstat(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	defer r.Close()
	for i, size := range []int{0, 1, 4095, 1 << 20, 3<<20 + 5} {
		content := make([]byte, size)
		for j := range content {
			content[j] = byte(j ^ i)
		}
		p := fmt.Sprint("f", i)
		if err := os.WriteFile(filepath.Join(dir, p), content, 0o644); err != nil {
			t.Fatal(err)
		}
		h, fp, err := r.Hash(p)
		if err != nil {
			t.Fatalf("Hash %s: %v", p, err)
		}
		info, _ := r.Lstat(p)
		if h != tree.Hash(blake3.Sum256(content)) || fp != info.FP {
			t.Errorf("Hash %s (%d bytes) = %v, %+v; want blake3 and Lstat's %+v", p, size, h, fp, info.FP)
		}
	}
}

func TestClose(t *testing.T) {
	r := open(t, t.TempDir())
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// bench100k is a tree of 100,000 small files in 1,000 directories, made once.
var bench100k struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench100k.dir != "" {
		os.RemoveAll(bench100k.dir)
	}
	os.Exit(code)
}

func tree100k(b *testing.B) string {
	bench100k.once.Do(func() {
		bench100k.dir, bench100k.err = os.MkdirTemp("", "scan100k")
		for d := 0; d < 1000 && bench100k.err == nil; d++ {
			dir := filepath.Join(bench100k.dir, fmt.Sprintf("d%03d", d))
			bench100k.err = os.Mkdir(dir, 0o755)
			for f := 0; f < 100 && bench100k.err == nil; f++ {
				bench100k.err = os.WriteFile(filepath.Join(dir, fmt.Sprint("f", f)), []byte(fmt.Sprint(d, f)), 0o644)
			}
		}
	})
	if bench100k.err != nil {
		b.Fatal(bench100k.err)
	}
	return bench100k.dir
}

// BenchmarkScan100k rescans 100,000 unchanged files with the hashes of a
// previous scan: the cost of a commit's rescan.
func BenchmarkScan100k(b *testing.B) {
	r := open(b, tree100k(b))
	defer r.Close()
	first, err := replica.Scan(context.Background(), r, replica.ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	known := make(map[string]tree.Scanned, len(first.Entries))
	for _, sc := range first.Entries {
		known[sc.Path] = sc
	}
	opt := replica.ScanOptions{Known: func(p string) (tree.Fingerprint, tree.Hash, bool) {
		sc, ok := known[p]
		return sc.FP, sc.Entry.Hash, ok
	}}
	b.ResetTimer()
	for b.Loop() {
		res, err := replica.Scan(context.Background(), r, opt)
		if err != nil || len(res.Entries) != 101000 || res.Hashed != 0 {
			b.Fatalf("scan: %v, %d entries, %d hashed", err, len(res.Entries), res.Hashed)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/101000, "ns/entry")
}

// BenchmarkScan100kCold scans and hashes 100,000 small files.
func BenchmarkScan100kCold(b *testing.B) {
	r := open(b, tree100k(b))
	defer r.Close()
	for b.Loop() {
		res, err := replica.Scan(context.Background(), r, replica.ScanOptions{})
		if err != nil || res.Hashed != 100000 {
			b.Fatalf("scan: %v, %d hashed", err, res.Hashed)
		}
	}
}

// BenchmarkWriteSmallFile writes a 4 KiB file through CreateTemp, Close
// (which syncs it to disk) and Rename: the cost of one small transfer's
// local side.
func BenchmarkWriteSmallFile(b *testing.B) {
	r := open(b, b.TempDir())
	defer r.Close()
	content := make([]byte, 4096)
	i := 0
	for b.Loop() {
		tmp, w, err := r.CreateTemp("", 0o644)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(content); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		if err := r.Rename(tmp, fmt.Sprint("f", i%100)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
