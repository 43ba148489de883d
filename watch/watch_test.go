package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestWatcher(t *testing.T) (*Watcher, string) {
	t.Helper()
	return newStalled(t, nil)
}

func newStalled(t *testing.T, stall chan struct{}) (*Watcher, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "old/deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, ".myrrorfs-backup/x"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := newWatcher(root, Options{Quiet: 50 * time.Millisecond, MaxDelay: 300 * time.Millisecond,
		Skip: func(rel string) bool { return strings.HasPrefix(rel, ".myrrorfs") }}, stall)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, root
}

// until gathers batches until every path in want was reported, or fails
// after a few seconds; it returns everything reported.
func until(t *testing.T, w *Watcher, want ...string) Batch {
	t.Helper()
	var all Batch
	deadline := time.After(5 * time.Second)
	for {
		missing := 0
		for _, p := range want {
			if !slices.Contains(all.Paths, p) {
				missing++
			}
		}
		if missing == 0 {
			return all
		}
		select {
		case b := <-w.Batches():
			all = mergeBatch(all, set(b.Paths), b.Overflow)
		case <-deadline:
			t.Fatalf("reported %q; want %q among them", all.Paths, want)
		}
	}
}

func set(ps []string) map[string]bool {
	m := map[string]bool{}
	for _, p := range ps {
		m[p] = true
	}
	return m
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReportsChangesAtAnyDepth(t *testing.T) {
	w, root := newTestWatcher(t)
	write(t, filepath.Join(root, "top"), "1")
	write(t, filepath.Join(root, "old/deep/f"), "1")
	until(t, w, "top", "old/deep/f")
	os.Remove(filepath.Join(root, "top"))
	os.Rename(filepath.Join(root, "old/deep/f"), filepath.Join(root, "old/g"))
	until(t, w, "top", "old/deep/f", "old/g")
}

func TestWatchesNewDirectories(t *testing.T) {
	w, root := newTestWatcher(t)
	// a tree made at once: its top is reported, whatever was made before
	// its watch was added
	if err := os.MkdirAll(filepath.Join(root, "new/a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "new/a/b/f"), "1")
	until(t, w, "new")
	// later changes deep in it are seen
	time.Sleep(100 * time.Millisecond)
	write(t, filepath.Join(root, "new/a/b/g"), "2")
	until(t, w, "new/a/b/g")
}

func TestSkipsInternalDirectories(t *testing.T) {
	w, root := newTestWatcher(t)
	write(t, filepath.Join(root, ".myrrorfs-backup/x/f"), "1")
	write(t, filepath.Join(root, "seen"), "1")
	b := until(t, w, "seen")
	for _, p := range b.Paths {
		if strings.HasPrefix(p, ".myrrorfs") {
			t.Errorf("reported %q, inside a skipped directory", p)
		}
	}
}

func TestOverflowIsReported(t *testing.T) {
	w, _ := newTestWatcher(t)
	w.lost <- struct{}{}
	select {
	case b := <-w.Batches():
		if !b.Overflow {
			t.Errorf("batch after a lost event: %+v; want Overflow", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no batch after a lost event")
	}
}

func TestBatchesAreDebounced(t *testing.T) {
	w, root := newTestWatcher(t)
	// changes keep coming for longer than MaxDelay: batches still come,
	// and none is lost
	var want []string
	for i := range 20 {
		p := "f" + string(rune('a'+i))
		want = append(want, p)
		write(t, filepath.Join(root, p), "x")
		time.Sleep(30 * time.Millisecond)
	}
	until(t, w, want...)
}

func TestCloseEndsBatches(t *testing.T) {
	w, _ := newTestWatcher(t)
	w.Close()
	if _, ok := <-w.Batches(); ok {
		t.Error("Batches still open after Close")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A real overflow of the kernel's queue (set to 16 events while the
// watch is made, and not read while 3,000 files are made) is reported as
// Overflow, never as a short list of paths.
func TestKernelOverflowReported(t *testing.T) {
	const knob = "/proc/sys/fs/inotify/max_queued_events"
	old, err := os.ReadFile(knob)
	if err != nil {
		t.Skipf("cannot read %s: %v", knob, err)
	}
	if err := os.WriteFile(knob, []byte("16"), 0o644); err != nil {
		t.Skipf("cannot set %s (needs root): %v", knob, err)
	}
	stall := make(chan struct{})
	w, root := newStalled(t, stall)
	os.WriteFile(knob, old, 0o644)
	for i := range 3000 {
		write(t, filepath.Join(root, fmt.Sprint("f", i)), "x")
	}
	close(stall)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b := <-w.Batches():
			if b.Overflow {
				return
			}
		case <-deadline:
			t.Fatal("3,000 changes with a queue of 16 events: no batch said Overflow")
		}
	}
}
