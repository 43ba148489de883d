package replicatest

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

var watchTests = []subtest{
	{"ReportsChanges", testWatchReports},
}

// testWatchReports checks a replica.Watcher: changes made on disk at any
// depth, in directories made after the watch began too, are reported
// within seconds; myrrorfs's own directories are not; the watch ends with
// its context.
func testWatchReports(t *testing.T, e *env) {
	w, ok := e.r.(replica.Watcher)
	if !ok {
		t.Skip("not a replica.Watcher")
	}
	e.needDisk()
	if err := os.MkdirAll(e.onDisk("a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(e.onDisk(tree.BackupDir), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var seen []string
	ended := make(chan error, 1)
	go func() {
		ended <- w.Watch(ctx, func(c replica.Changes) {
			mu.Lock()
			seen = append(seen, c.Paths...)
			mu.Unlock()
		})
	}()
	waitFor := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			missing := slices.DeleteFunc(slices.Clone(want), func(p string) bool { return slices.Contains(seen, p) })
			got := slices.Clone(seen)
			mu.Unlock()
			if len(missing) == 0 {
				return
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("Watch reported %q; never %q", got, missing)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // the watch is set up
	writeDisk(t, e.onDisk("top"))
	writeDisk(t, e.onDisk("a/b/deep"))
	writeDisk(t, e.onDisk(tree.BackupDir+"/hidden"))
	waitFor("top", "a/b/deep")
	if err := os.MkdirAll(e.onDisk("new/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	waitFor("new")
	time.Sleep(200 * time.Millisecond)
	writeDisk(t, e.onDisk("new/dir/later"))
	waitFor("new/dir/later")
	mu.Lock()
	for _, p := range seen {
		if tree.Internal(p) {
			t.Errorf("Watch reported %q, one of myrrorfs's own directories", p)
		}
		if strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
			t.Errorf("Watch reported %q, not a path relative to the root", p)
		}
	}
	mu.Unlock()
	cancel()
	select {
	case err := <-ended:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Watch ended with %v; want the context's end", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Watch still running 5 s after its context ended")
	}
}

func writeDisk(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
