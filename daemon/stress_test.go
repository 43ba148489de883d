package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
)

// The stress tests write many files through the mount while other
// goroutines list its directories (and, in one variant, a commit runs),
// then check every byte of every file. A descriptor closed twice by the
// view closes one that another request just opened: writes then land in
// another file or fail, silently or with EBADF.

const (
	stressWriters  = 8
	stressWalkers  = 6
	stressFiles    = 32 // per writer
	stressChunks   = 8
	stressChunkLen = 513
)

// stressContent is what file j of writer w holds: distinct per file, so a
// file that got another's bytes is caught.
func stressContent(w, j int) []byte {
	b := make([]byte, stressChunks*stressChunkLen)
	seed := uint32(w*1000+j)*2654435761 + 1
	for i := range b {
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		b[i] = byte(seed)
	}
	return b
}

// stressPath is where file j of writer w goes: half of them in the
// writer's own directory, half in a directory all writers share.
func stressPath(w, j int) string {
	if j%2 == 0 {
		return fmt.Sprintf("w%d/f%02d", w, j)
	}
	return fmt.Sprintf("shared/w%d-f%02d", w, j)
}

// stressErrors collects what clients saw go wrong.
type stressErrors struct {
	mu   sync.Mutex
	n    int
	msgs []string
}

func (e *stressErrors) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.msgs) < 10 {
		e.msgs = append(e.msgs, fmt.Sprintf(format, args...))
	}
}

// writeStress writes every file of writer w through the mount, in chunks,
// each through a descriptor of its own (so the view opens many files).
func writeStress(mnt string, w int, errs *stressErrors) {
	if err := os.Mkdir(filepath.Join(mnt, fmt.Sprintf("w%d", w)), 0o755); err != nil {
		errs.add("mkdir w%d: %v", w, err)
	}
	for j := 0; j < stressFiles; j++ {
		p := filepath.Join(mnt, stressPath(w, j))
		want := stressContent(w, j)
		for c := 0; c < stressChunks; c++ {
			flags := os.O_WRONLY
			if c == 0 {
				flags |= os.O_CREATE | os.O_TRUNC
			}
			fh, err := os.OpenFile(p, flags, 0o644)
			if err != nil {
				errs.add("open %s: %v", p, err)
				break
			}
			off := c * stressChunkLen
			if _, err := fh.WriteAt(want[off:off+stressChunkLen], int64(off)); err != nil {
				errs.add("write %s: %v", p, err)
			}
			if err := fh.Close(); err != nil {
				errs.add("close %s: %v", p, err)
			}
		}
	}
}

// walkStress lists the whole mount, both ways, until stop is closed.
func walkStress(mnt string, stop <-chan struct{}, errs *stressErrors, walks *atomic.Int64) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if i%4 == 0 {
			err := filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs.add("walk %s: %v", p, err)
				}
				return nil
			})
			if err != nil {
				errs.add("walk: %v", err)
			}
		} else {
			for _, dir := range []string{mnt, filepath.Join(mnt, "shared")} {
				if _, err := os.ReadDir(dir); err != nil {
					errs.add("readdir %s: %v", dir, err)
				}
			}
		}
		walks.Add(1)
	}
}

// wrongBytes counts the bytes of the stress files under root that differ
// from what was written (a missing or short file counts in full).
func wrongBytes(t *testing.T, what, root string) int {
	t.Helper()
	wrong, files := 0, 0
	for w := 0; w < stressWriters; w++ {
		for j := 0; j < stressFiles; j++ {
			p := stressPath(w, j)
			want := stressContent(w, j)
			got, err := os.ReadFile(filepath.Join(root, p))
			n := 0
			for i := range want {
				if i >= len(got) || got[i] != want[i] {
					n++
				}
			}
			if len(got) > len(want) {
				n += len(got) - len(want)
			}
			if n > 0 {
				files++
				if files <= 5 {
					t.Errorf("%s: %s: %d wrong bytes (size %d, want %d, err %v)", what, p, n, len(got), len(want), err)
				}
			}
			wrong += n
		}
	}
	if wrong > 0 {
		t.Errorf("%s: %d wrong bytes in %d files", what, wrong, files)
	} else {
		t.Logf("%s: %d files, 0 wrong bytes", what, stressWriters*stressFiles)
	}
	return wrong
}

// runStress writes and walks through the mount of a fresh pair at once;
// with commits set, commits run meanwhile too. It returns once everything
// has stopped, and reports the client errors.
func runStress(t *testing.T, f *fixture, commits bool) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(f.mnt, "shared"), 0o755); err != nil {
		t.Fatal(err)
	}
	var errs stressErrors
	var walks atomic.Int64
	stop := make(chan struct{})
	var walkers, writers sync.WaitGroup
	for i := 0; i < stressWalkers; i++ {
		walkers.Add(1)
		go func() { defer walkers.Done(); walkStress(f.mnt, stop, &errs, &walks) }()
	}
	start := time.Now()
	for w := 0; w < stressWriters; w++ {
		writers.Add(1)
		go func() { defer writers.Done(); writeStress(f.mnt, w, &errs) }()
	}
	ncommits := 0
	if commits {
		writing := make(chan struct{})
		go func() { writers.Wait(); close(writing) }()
		for done := false; !done; {
			// a commit amid the writes may meet files still being
			// written: those are left for the next run, nothing more
			if _, _, err := f.d.Commit(context.Background(), nil, engine.ApplyOptions{}); err != nil {
				errs.add("commit: %v", err)
			}
			ncommits++
			select {
			case <-writing:
				done = true
			default:
			}
		}
	}
	writers.Wait()
	close(stop)
	walkers.Wait()
	t.Logf("%d writers, %d walkers: %d walks and %d commits in %v", stressWriters, stressWalkers, walks.Load(), ncommits, time.Since(start).Round(time.Millisecond))
	if errs.n > 0 {
		t.Errorf("%d client errors, first ones:\n%v", errs.n, errs.msgs)
	}
}

// TestStressWritersAndWalkers: files written through the mount while
// directories are listed hold exactly what was written, in the view and
// in LOCAL.
func TestStressWritersAndWalkers(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"seed/a": "a", "seed/b/c": "c"}})
	runStress(t, f, false)
	wrongBytes(t, "view", f.mnt)
	wrongBytes(t, "local", f.local)
}

// TestStressCommitWhileWriting: the same while commits run; after a last
// commit REMOTE holds every byte too, and one more commit has nothing to
// do.
func TestStressCommitWhileWriting(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"seed/a": "a", "seed/b/c": "c"}})
	runStress(t, f, true)
	f.commitWant(t, 0)
	wrongBytes(t, "view", f.mnt)
	wrongBytes(t, "local", f.local)
	wrongBytes(t, "remote", f.remote)
	sameTree(t, "remote vs local after commit", snapshot(t, f.remote, true), snapshot(t, f.local, true))
	if res := f.commitWant(t, 0); res.Applied != 0 {
		t.Errorf("a second commit applied %d paths: the pair does not converge", res.Applied)
	}
}
