package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// waitView waits up to limit for the view to hold want.
func waitView(t *testing.T, limit time.Duration, mnt string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		bad := ""
		for p, w := range want {
			if got := viewContent(t, mnt, p); got != w {
				bad = fmt.Sprintf("%s = %q, want %q", p, got, w)
				break
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("view not as wanted within %v: %s", limit, bad)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With no rescan due for an hour, changes made behind the mount's back on
// either side, and gestures in the view meanwhile, all show in the view
// within 2 s: the daemon follows both trees' changes.
func TestWatchFollowsBothSides(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"e": "base", "d/x": "base", "c": "base"}})
	time.Sleep(300 * time.Millisecond) // the watches are set up
	for i := range 5 {
		put(t, f.remote, map[string]string{fmt.Sprintf("r%d", i): "remote", "e": fmt.Sprint("remote edit ", i)})
		put(t, f.local, map[string]string{fmt.Sprintf("d/l%d", i): "local"})
		// a gesture through the view at the same time
		if err := os.WriteFile(filepath.Join(f.mnt, fmt.Sprintf("v%d", i)), []byte("view"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Remove(filepath.Join(f.remote, "c"))
	want := map[string]string{"e": "remote edit 4", "c": absent}
	for i := range 5 {
		want[fmt.Sprintf("r%d", i)] = "remote"
		want[fmt.Sprintf("d/l%d", i)] = "local"
		want[fmt.Sprintf("v%d", i)] = "view"
	}
	waitView(t, 2*time.Second, f.mnt, want)
	check(t, "local (the view never writes remote changes there)", f.local, map[string]string{"r0": absent, "e": "base", "v0": "view"})
	check(t, "remote (the mount never writes to it)", f.remote, map[string]string{"v0": absent, "d/l0": absent})
}
