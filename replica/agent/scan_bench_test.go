package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// makeWideTree writes dirs directories of files small files each under root.
func makeWideTree(tb testing.TB, root string, dirs, files int) {
	tb.Helper()
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("d%04d", d))
		if err := os.Mkdir(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		for f := range files {
			name := filepath.Join(dir, fmt.Sprintf("f%03d", f))
			if err := os.WriteFile(name, []byte(name), 0o644); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// knownFrom is a Known answering with what res recorded.
func knownFrom(res *replica.ScanResult) replica.Known {
	m := make(map[string]tree.Scanned, len(res.Entries))
	for _, e := range res.Entries {
		m[e.Path] = e
	}
	return func(p string) (tree.Fingerprint, tree.Hash, bool) {
		e, ok := m[p]
		return e.FP, e.Entry.Hash, ok && e.Entry.Kind == tree.File
	}
}

// BenchmarkAgentScan100k is a no-change rescan of 100000 files (1000
// directories of 100) through the agent over the test sshd: every hash is
// known, so it measures listing the tree.
func BenchmarkAgentScan100k(b *testing.B) {
	r, dir := dialTest(b)
	makeWideTree(b, dir, 1000, 100)
	first, err := replica.Scan(context.Background(), r, replica.ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	opt := replica.ScanOptions{Known: knownFrom(first)}
	b.ResetTimer()
	for b.Loop() {
		res, err := replica.Scan(context.Background(), r, opt)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Entries) != 101000 || res.Hashed != 0 {
			b.Fatalf("rescan: %d entries, %d hashed; want 101000, 0", len(res.Entries), res.Hashed)
		}
	}
}
