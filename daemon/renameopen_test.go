package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// TestOpenDuringRenameOver: an editor saving p (a temporary renamed over
// it) while other processes stat and open p must never make those fail: as on
// any filesystem, an open finds the old file or the new one. (The kernel
// may send the open or the stat for the inode the rename just replaced,
// even after further renames; the view serves it from the file that inode
// stood for.)
func TestOpenDuringRenameOver(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"p": "v0", "keep": "k"}})
	p := filepath.Join(f.mnt, "p")
	const saves = 1500
	var done atomic.Bool
	var failed, stale, reads atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				_, err := os.Stat(p)
				var b []byte
				if err == nil {
					b, err = os.ReadFile(p)
				}
				reads.Add(1)
				if errors.Is(err, syscall.ESTALE) {
					stale.Add(1)
					continue
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				if len(b) == 0 || b[0] != 'v' {
					failed.Add(1)
					first.CompareAndSwap(nil, fmt.Sprintf("read %q", b))
				}
			}
		}()
	}
	for i := 1; i <= saves; i++ {
		tmp := filepath.Join(f.mnt, fmt.Sprintf(".p.tmp%d", i))
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf("v%d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p); err != nil {
			t.Fatal(err)
		}
	}
	done.Store(true)
	wg.Wait()
	t.Logf("%d reads during %d saves, %d stale", reads.Load(), saves, stale.Load())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d reads of p failed during %d saves, the first: %v", n, reads.Load(), saves, first.Load())
	}
	if n := stale.Load(); n > 0 {
		t.Fatalf("%d of %d reads of p failed with ESTALE during %d saves", n, reads.Load(), saves)
	}
	if got := content(f.local, "p"); got != fmt.Sprintf("v%d", saves) {
		t.Fatalf("LOCAL p = %q", got)
	}
}
