package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

// syncLog records the paths ObserveFsync reports.
type syncLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *syncLog) add(p string) {
	l.mu.Lock()
	l.paths = append(l.paths, p)
	l.mu.Unlock()
}

func (l *syncLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.paths...)
}

func TestDurability(t *testing.T) {
	log := &syncLog{}
	ObserveFsync(log.add)
	defer ObserveFsync(nil)
	replicatest.RunDurability(t, func(t *testing.T) (replica.Replica, string) {
		dir := t.TempDir()
		return open(t, dir), dir
	}, log.all)
}

func TestSync(t *testing.T) {
	dir := t.TempDir()
	r := open(t, dir)
	defer r.Close()
	log := &syncLog{}
	ObserveFsync(log.add)
	defer ObserveFsync(nil)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d/f"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "d/nobody"), []byte("x"), 0)
	os.Symlink("f", filepath.Join(dir, "d/l"))
	for _, p := range []string{"", "d", "d/f", "d/nobody"} {
		if err := r.Sync(p); err != nil {
			t.Errorf("Sync %q: %v", p, err)
		}
	}
	if got := len(log.all()); got != 4 {
		t.Errorf("%d fsyncs seen, want 4: %q", got, log.all())
	}
	if err := r.Sync("d/l"); !errors.Is(err, replica.ErrUnsafePath) {
		t.Errorf("Sync of a symlink = %v, want ErrUnsafePath", err)
	}
	if err := r.Sync("d/missing"); !errors.Is(err, replica.ErrNotExist) {
		t.Errorf("Sync of a missing file = %v, want not-exist", err)
	}
}

// BenchmarkInstall installs small files the way the engine does
// (CreateTemp, write, Close, Rename) into 20 directories, with the
// directory fsync of each Rename ("per-op", the contract) or without it
// and one fsync per directory at the end ("batched"), for comparison.
// Run it on a real disk: MYRRORFS_BENCH_DIR=/var/tmp go test -bench Install.
func BenchmarkInstall(b *testing.B) {
	const files, dirs = 2000, 20
	for _, mode := range []string{"per-op", "batched"} {
		b.Run(mode, func(b *testing.B) {
			var total time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				base := os.Getenv("MYRRORFS_BENCH_DIR")
				root, err := os.MkdirTemp(base, "bench-install-")
				if err != nil {
					b.Fatal(err)
				}
				for d := range dirs {
					os.Mkdir(filepath.Join(root, fmt.Sprint(d)), 0o755)
				}
				r := open(b, root)
				data := make([]byte, 4096)
				b.StartTimer()
				start := time.Now()
				for i := range files {
					dir := fmt.Sprint(i % dirs)
					tmp, w, err := r.CreateTemp(dir, 0o644)
					if err != nil {
						b.Fatal(err)
					}
					w.Write(data)
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
					dst := filepath.Join(dir, fmt.Sprint("f", i))
					if mode == "per-op" {
						err = r.Rename(tmp, dst)
					} else {
						err = os.Rename(filepath.Join(root, tmp), filepath.Join(root, dst))
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if mode == "batched" {
					for d := range dirs {
						if err := r.Sync(fmt.Sprint(d)); err != nil {
							b.Fatal(err)
						}
					}
				}
				total += time.Since(start)
				n++
				b.StopTimer()
				r.Close()
				os.RemoveAll(root)
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/2000files")
		})
	}
}
