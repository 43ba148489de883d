package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/reconcile"
)

// rescanFiles is the size of the pair BenchmarkNoChangeRescan scans.
const rescanFiles = 20000

// benchFiles is the size of the pair of BenchmarkNoChangeSync:
// $MYRRORFS_BENCH_FILES, or rescanFiles.
func benchFiles(b *testing.B) int {
	s := os.Getenv("MYRRORFS_BENCH_FILES")
	if s == "" {
		return rescanFiles
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("MYRRORFS_BENCH_FILES=%q: not a positive number", s)
	}
	return n
}

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

// BenchmarkNoChangeSync measures what `myrrorfs sync` costs on a local pair
// in step ($MYRRORFS_BENCH_FILES files, 100 per directory; 20,000 unless
// set): open the pair, scan and reconcile both sides, apply the (empty)
// plan, close. peak-heap-B/file is the most heap in use seen during a run
// (sampled every millisecond) above what was in use before, per file;
// peak-RSS-MB is the process's peak resident set during the runs.
func BenchmarkNoChangeSync(b *testing.B) {
	n := benchFiles(b)
	local, remote, state := makeSyncedPair(b, n)
	ctx := context.Background()
	run := func() {
		p, err := Open(ctx, local, remote, Options{StateDir: state, Holder: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		plan, err := p.Scan(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if s := plan.Summarize(); s.ToLocal+s.ToRemote+s.Conflicts != 0 || s.Equal != n+n/100 {
			b.Fatalf("no-change sync plans %+v", s)
		}
		if _, err := p.Apply(ctx, plan, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	run() // warm the page cache and the journal's files
	runtime.GC()
	debug.FreeOSMemory()
	base := heapObjects()
	stop := samplePeak()
	resetPeakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.StopTimer()
	b.ReportMetric(float64(stop()-base)/float64(n), "peak-heap-B/file")
	b.ReportMetric(procStatusMB("VmHWM"), "peak-RSS-MB")
}

// heapObjects is the heap memory occupied by objects, live or not yet swept.
func heapObjects() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// samplePeak samples heapObjects every millisecond until the returned
// function is called, which returns the highest value seen.
func samplePeak() func() int64 {
	var mu sync.Mutex
	peak := heapObjects()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				v := heapObjects()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// procStatusMB returns a field of /proc/self/status (e.g. VmHWM) in MB,
// or -1 where it cannot be read.
func procStatusMB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), field+":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		if err != nil {
			return -1
		}
		return kb / 1024
	}
	return -1
}

// resetPeakRSS resets VmHWM (Linux 4.0 and later); failures are ignored.
func resetPeakRSS() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}
