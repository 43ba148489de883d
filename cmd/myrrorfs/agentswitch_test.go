package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentThenPlainSFTP: a pair synced through the agent, then scanned
// over plain SFTP (--remote-myrrorfs none), which reports neither inodes,
// ctimes nor nanoseconds, is in sync; an edit made meanwhile is still seen.
func TestAgentThenPlainSFTP(t *testing.T) {
	p := newPair(t, true)
	files := map[string]string{"d/b": "b"}
	for i := 0; i < 20; i++ {
		files["f"+strings.Repeat("x", i)] = strings.Repeat("y", i)
	}
	write(t, p.remoteDir, files)
	write(t, p.local, map[string]string{"up": "u", "e/up2": "v"})
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("sync through the agent: %+v", r)
	}
	r := myrrorfs(t, p.args("status", "--remote-myrrorfs", "none")...)
	if r.code != 0 || !strings.Contains(r.stdout, "in sync") {
		t.Fatalf("status over plain SFTP after a sync through the agent: %+v", r)
	}
	// an edit of the same size, a second later
	write(t, p.remoteDir, map[string]string{"d/b": "c"})
	later := time.Now().Add(10 * time.Second)
	if err := os.Chtimes(filepath.Join(p.remoteDir, "d/b"), later, later); err != nil {
		t.Fatal(err)
	}
	r = myrrorfs(t, p.args("status", "--remote-myrrorfs", "none")...)
	if r.code != 0 || !strings.Contains(r.stdout, "d/b") || !strings.Contains(r.stdout, "1 to local") {
		t.Fatalf("status over plain SFTP after a remote edit: %+v", r)
	}
}
