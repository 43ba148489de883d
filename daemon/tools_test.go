package daemon

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// makeTree writes dirs directories of files each (small files of varied
// sizes, some executable, a symlink per directory) plus a few MB-sized
// files, under root.
func makeTree(t *testing.T, root string, dirs, files, big int) {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", d), fmt.Sprintf("sub%d", d%3))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < files; i++ {
			b := make([]byte, rng.Intn(3000))
			rng.Read(b)
			mode := os.FileMode(0o644)
			if i%17 == 0 {
				mode = 0o755
			}
			if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), b, mode); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("f0", filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < big; i++ {
		b := make([]byte, 1<<20+rng.Intn(3<<20))
		rng.Read(b)
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("d%02d", i), "big"+strconv.Itoa(i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// toolsRoundTrip copies a large tree into the mount with cp -a, lists it
// with ls -R, tars it out, and commits: every copy must equal the source.
func toolsRoundTrip(t *testing.T, sshRemote bool, dirs, files, big int) {
	f := setup(t, scenario{base: map[string]string{"old": "x"}, sshRemote: sshRemote})
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src, dirs, files, big)
	want := snapshot(t, src, false)
	// the pair's own file "old" stays, as the local tree holds it now
	if want["old"] = snapshot(t, f.local, true)["old"]; want["old"] == "" {
		t.Fatal("the synced file old is missing from the local tree")
	}
	remoteBefore := snapshot(t, f.remote, false)

	mustSh(t, f.mnt, "cp -a "+shellQuote(src)+"/. .")
	out := mustSh(t, f.mnt, "ls -R .")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "f") {
			n++
		}
	}
	if n != dirs*files {
		t.Errorf("ls -R lists %d files named f*, want %d", n, dirs*files)
	}
	outDir := filepath.Join(t.TempDir(), "out")
	os.Mkdir(outDir, 0o755)
	mustSh(t, f.mnt, "tar -C . -cf - . | tar -C "+shellQuote(outDir)+" -xf -")
	got := snapshot(t, outDir, false)
	sameTree(t, "tar of the mount", got, want)
	sameTree(t, "remote before commit", snapshot(t, f.remote, false), remoteBefore)

	f.commitWant(t, 0)
	sameTree(t, "local after commit", snapshot(t, f.local, true), want)
	sameTree(t, "remote after commit", snapshot(t, f.remote, true), want)
}

func TestToolsLargeTree(t *testing.T) { toolsRoundTrip(t, false, 50, 40, 4) }
