package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

// killScenario builds a synced pair under dir, then edits both sides
// without conflicts: each side modifies, deletes and creates its own files,
// and changes a file into a directory. The same seed gives the same pair.
func killScenario(t *testing.T, dir string, seed int64, p pair) {
	rng := rand.New(rand.NewSource(seed))
	content := func() string {
		b := make([]byte, 1+rng.Intn(128<<10))
		rng.Read(b)
		return string(b)
	}
	base := map[string]string{}
	for i := 0; i < 1200; i++ {
		base[fmt.Sprintf("d%d/f%03d", i%6, i)] = content()
	}
	write(t, p.local, base)
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("initial sync: %+v", r)
	}
	edit := func(root string, lo int) {
		for i := lo; i < lo+600; i++ {
			f := filepath.Join(root, fmt.Sprintf("d%d/f%03d", i%6, i))
			switch i % 4 {
			case 0:
				os.WriteFile(f, []byte(content()), 0o644)
			case 1:
				os.Remove(f)
			case 2:
				os.WriteFile(filepath.Join(root, fmt.Sprintf("d%d/new%03d", i%6, i)), []byte(content()), 0o644)
			}
		}
		os.Remove(filepath.Join(root, fmt.Sprintf("d0/f%03d", lo+3)))
		write(t, root, map[string]string{fmt.Sprintf("d0/f%03d/inner", lo+3): content()})
	}
	edit(p.local, 0)
	edit(p.remoteDir, 600)
}

// versions returns the hashes of every regular file under root, backups
// included, keyed by hash with one path as value.
func versions(t *testing.T, roots ...string) map[[32]byte]string {
	out := map[[32]byte]string{}
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				b, _ := os.ReadFile(p)
				out[sha256.Sum256(b)] = p
			}
			return nil
		})
	}
	return out
}

// visible lists the synced entries of root with their content hashes.
func visible(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		if tree.Internal(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			out[rel] = "dir"
		} else {
			b, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		return nil
	})
	return out
}

// Killing sync with SIGKILL at random moments never loses or corrupts a
// file, and the next sync converges to what an uninterrupted sync gives.
// Each round builds the same scenario afresh and kills a few runs, each at a
// random moment within the time an uninterrupted sync takes.
func TestKillDuringSync(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			rounds, killsPerRound := 6, 3
			if ssh {
				rounds = 3
			}
			const seed = 7
			want := newPair(t, ssh)
			killScenario(t, t.TempDir(), seed, want)
			start := time.Now()
			if r := myrrorfs(t, want.args("sync", "-y")...); r.code != 0 {
				t.Fatalf("uninterrupted sync: %+v", r)
			}
			took := time.Since(start)
			wantTree := visible(t, want.local)
			rng := rand.New(rand.NewSource(time.Now().UnixNano()))
			interrupted := 0
			for round := 0; round < rounds; round++ {
				p := newPair(t, ssh)
				killScenario(t, t.TempDir(), seed, p)
				before := versions(t, p.local, p.remoteDir)
				// each run has less left to do than the one it follows:
				// a run that ended before its kill halves the window
				window := took
				for k := 0; k < killsPerRound; k++ {
					cmd := exec.Command(bin, p.args("sync", "-y")...)
					if err := cmd.Start(); err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Duration(rng.Int63n(int64(window))))
					cmd.Process.Signal(syscall.SIGKILL)
					cmd.Wait()
					if !cmd.ProcessState.Exited() {
						interrupted++
					} else {
						window = max(window/2, time.Millisecond)
					}
					checkNothingLost(t, before, p)
				}
				checkConverges(t, p, before, wantTree)
			}
			if interrupted < rounds*killsPerRound/3 {
				t.Fatalf("only %d of %d runs were interrupted: the test does not exercise kills", interrupted, rounds*killsPerRound)
			}
			t.Logf("%d of %d runs killed (an uninterrupted sync took %v)", interrupted, rounds*killsPerRound, took)
		})
	}
}

// checkConverges runs a last sync and checks both sides hold wantTree, with
// nothing lost and no temporary left.
func checkConverges(t *testing.T, p pair, before map[[32]byte]string, wantTree map[string]string) {
	t.Helper()
	r := myrrorfs(t, p.args("sync", "-y")...)
	if r.code != 0 {
		t.Fatalf("sync after kills: %+v", r)
	}
	checkNothingLost(t, before, p)
	l, rm := visible(t, p.local), visible(t, p.remoteDir)
	if !reflect.DeepEqual(l, wantTree) || !reflect.DeepEqual(rm, wantTree) {
		t.Fatalf("after kills the pair did not converge to the uninterrupted result: local %d entries, remote %d, want %d", len(l), len(rm), len(wantTree))
	}
	for _, root := range []string{p.local, p.remoteDir} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), tree.TempPrefix) {
				t.Errorf("temporary left behind: %s", path)
			}
			return nil
		})
	}
}

// checkNothingLost verifies that every file version present before the
// syncs still exists somewhere (in place or in a backup area), and that no
// synced file holds content that never existed (a torn copy).
func checkNothingLost(t *testing.T, before map[[32]byte]string, p pair) {
	t.Helper()
	now := versions(t, p.local, p.remoteDir)
	for h, path := range before {
		if _, ok := now[h]; !ok {
			t.Fatalf("version of %s lost", path)
		}
	}
	for _, root := range []string{p.local, p.remoteDir} {
		for rel, h := range visible(t, root) {
			if h == "dir" {
				continue
			}
			var sum [32]byte
			hex.Decode(sum[:], []byte(h))
			if _, ok := before[sum]; !ok {
				b, _ := os.ReadFile(filepath.Join(root, rel))
				t.Fatalf("%s holds content that never existed (%d bytes)", filepath.Join(root, rel), len(b))
			}
		}
	}
}
