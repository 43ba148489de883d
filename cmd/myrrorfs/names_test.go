package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A user's own file under a reserved name is never removed: it is reported
// as a warning, and left alone on every run.
func TestReservedNamesKept(t *testing.T) {
	p := newPair(t, false)
	user := map[string]string{
		".myrrorfs-tmp-mine":                 "mine",
		"d/.myrrorfs-tmp-0123456789abcdef":   "looks like an old temporary",
		".myrrorfs-notes":                    "notes",
		"d/.myrrorfs-tmp-0123456789ab-00112": "almost the format",
	}
	write(t, p.local, map[string]string{"a": "1", "d/b": "2"})
	write(t, p.local, user)
	for run := range 2 {
		r := myrrorfs(t, p.args("sync", "-y")...)
		if r.code != 0 {
			t.Fatalf("run %d: %+v", run, r)
		}
		for name, content := range user {
			if got := read(t, filepath.Join(p.local, name)); got != content {
				t.Fatalf("run %d: %s = %q, want %q", run, name, got, content)
			}
			if !strings.Contains(r.stderr, "warning: local "+name+":") {
				t.Errorf("run %d: no warning for %s in %q", run, name, r.stderr)
			}
			if _, err := os.Lstat(filepath.Join(p.remoteDir, name)); err == nil {
				t.Errorf("run %d: %s synced", run, name)
			}
		}
	}
}
