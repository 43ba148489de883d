package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"golang.org/x/sys/unix"
)

// A state directory on a full filesystem gives one line, exit 1, never a
// crash inside badger.
func TestStateDirFull(t *testing.T) {
	p := newPair(t, false)
	p.state = testenv.Tmpfs(t, 4<<20)
	p.flags = []string{"--state", p.state}
	write(t, p.local, map[string]string{"a": "1"})
	var st unix.Statfs_t
	if err := unix.Statfs(p.state, &st); err != nil {
		t.Fatal(err)
	}
	// leave 64 KiB free
	filler := make([]byte, int64(st.Bavail)*int64(st.Bsize)-64<<10)
	if err := os.WriteFile(filepath.Join(p.state, "filler"), filler, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{p.args("status"), p.args("sync", "-y")} {
		r := myrrorfs(t, cmd...)
		oneLineError(t, r, p.state, "free")
		if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "SIGBUS") {
			t.Fatalf("%s: %s", cmd[0], r.stderr)
		}
	}
}
