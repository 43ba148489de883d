package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/myrrorfs/myrrorfs/reconcile"
)

// rescanFiles is the size of the pair BenchmarkNoChangeRescan scans.
const rescanFiles = 20000

// makeSyncedPair writes the same n small files, 100 per directory, on both
// sides of a local pair and syncs it once (which only hashes and records
// them), so that both sides and the journal agree.
func makeSyncedPair(b *testing.B, n int) (local, remote, state string) {
	b.Helper()
	root := b.TempDir()
	local, remote, state = filepath.Join(root, "local"), filepath.Join(root, "remote"), filepath.Join(root, "state")
	for _, d := range []string{local, remote} {
		if err := os.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for _, side := range []string{local, remote} {
		for i := 0; i < n; i++ {
			dir := filepath.Join(side, fmt.Sprintf("d%04d", i/100))
			if i%100 == 0 {
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i%100)), []byte(fmt.Sprintf("bench file %d\n", i)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	p, err := Open(ctx, local, remote, Options{StateDir: state, Holder: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	plan, err := p.Scan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	res, err := p.Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if !res.InSync() {
		b.Fatalf("first sync: %d conflicts, problems %v", len(res.Conflicts), res.Problems)
	}
	return local, remote, state
}

// rescan opens the pair, scans it, checks that nothing changed and hands
// the plan to keep before closing the pair.
func rescan(b *testing.B, local, remote, state string, keep func(*Plan)) {
	ctx := context.Background()
	p, err := Open(ctx, local, remote, Options{StateDir: state, Holder: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	plan, err := p.Scan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range plan.Decisions {
		if d.Action != reconcile.Equal {
			b.Fatalf("no-change rescan found %s: %v", d.Path, d.Action)
		}
	}
	if keep != nil {
		keep(plan)
	}
}

// BenchmarkNoChangeRescan measures what a no-change sync of a local pair of
// rescanFiles files costs before it finds nothing to do: opening the pair
// (journal included) and scanning both sides. bytes/file is the heap in use
// while the pair is open with its plan, above what was in use before, per
// file.
func BenchmarkNoChangeRescan(b *testing.B) {
	local, remote, state := makeSyncedPair(b, rescanFiles)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rescan(b, local, remote, state, nil)
	}
	b.StopTimer()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rescan(b, local, remote, state, func(plan *Plan) {
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(plan)
	})
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/rescanFiles, "bytes/file")
}
