package journal

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// benchPath spreads n records over directories of 100 files each.
func benchPath(i int) string {
	return fmt.Sprintf("src/pkg%04d/sub/file-%07d.go", i/100, i)
}

func writeRecords(b *testing.B, db *DB, n int) {
	b.Helper()
	batch := db.NewBatch()
	defer batch.Cancel()
	for i := 0; i < n; i++ {
		if err := batch.Put(benchPath(i), fileRecord(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Flush(); err != nil {
		b.Fatal(err)
	}
}

// procStatusMB returns a field of /proc/self/status (e.g. VmHWM, VmRSS) in MB,
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

func BenchmarkLoad100k(b *testing.B) {
	const n = 100_000
	state := b.TempDir()
	db, err := Open(state, testIdentity, "bench")
	if err != nil {
		b.Fatal(err)
	}
	writeRecords(b, db, n)
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	// Measure an existing journal being reopened and loaded, as at startup.
	debug.FreeOSMemory()
	resetPeakRSS()
	db = openTest(b, state)
	b.ResetTimer()
	for b.Loop() {
		count := 0
		err := db.Load(func(string, Record) error { count++; return nil })
		if err != nil || count != n {
			b.Fatalf("Load = %v with %d records", err, count)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/record")
	b.ReportMetric(procStatusMB("VmHWM"), "peakRSS-MB")
}

// BenchmarkWrite1M writes a million records in one Batch and reports the
// process's peak RSS while doing so. It is slow: run it on its own with
// -bench=Write1M -benchtime=1x.
func BenchmarkWrite1M(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		state := b.TempDir()
		resetPeakRSS()
		db, err := Open(state, testIdentity, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		writeRecords(b, db, n)
		if err := db.Sync(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(procStatusMB("VmHWM"), "peakRSS-MB")
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(dirMB(db.Dir()), "disk-MB")
		b.StartTimer()
	}
}

// dirMB is the total size of the files directly in dir, in MB.
func dirMB(dir string) float64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	var total int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
	}
	return float64(total) / (1 << 20)
}
