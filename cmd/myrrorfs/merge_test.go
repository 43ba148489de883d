package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const mergeBase = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n"

// mergePair syncs a text file (copied, so its base content is kept), then
// edits it on both sides.
func mergePair(t *testing.T, ssh bool, local, remote string) pair {
	t.Helper()
	p := syncedPair(t, ssh, map[string]string{"notes.txt": mergeBase, "s1": "1", "s2": "2", "s3": "3"})
	write(t, p.local, map[string]string{"notes.txt": local})
	write(t, p.remoteDir, map[string]string{"notes.txt": remote})
	return p
}

// TestMergeText: edits of a text file on both sides that do not overlap
// are merged, listed as merged, and reach both sides; both edited
// versions stay in the backup areas.
func TestMergeText(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "ssh"}[ssh], func(t *testing.T) {
			local := strings.Replace(mergeBase, "two", "TWO (local)", 1)
			remote := strings.Replace(mergeBase, "eight", "EIGHT (remote)", 1)
			want := strings.Replace(local, "eight", "EIGHT (remote)", 1)
			p := mergePair(t, ssh, local, remote)
			st := mustRun(t, p.args("status")...)
			if !strings.Contains(st.stdout, "merged (1):\n  notes.txt") || !strings.Contains(st.stdout, "1 merged, 0 conflicts") {
				t.Fatalf("status does not list the merge:\n%s", st.stdout)
			}
			js := mustRun(t, p.args("status", "--json")...)
			if !strings.Contains(js.stdout, `"action":"merged"`) {
				t.Fatalf("status --json: %s", js.stdout)
			}
			if cf := mustRun(t, p.args("conflicts")...); strings.Contains(cf.stdout, "notes.txt") {
				t.Fatalf("conflicts lists a clean merge: %s", cf.stdout)
			}
			mustRun(t, p.args("sync", "-y")...)
			for _, root := range []string{p.local, p.remoteDir} {
				if got := read(t, filepath.Join(root, "notes.txt")); got != want {
					t.Fatalf("%s holds\n%s\nwant the merge\n%s", root, got, want)
				}
			}
			if !backedUp(t, p.local)[local] || !backedUp(t, p.remoteDir)[remote] {
				t.Fatalf("the edited versions are not in the backup areas")
			}
			if st := mustRun(t, p.args("status")...); !strings.Contains(st.stdout, "in sync") {
				t.Fatalf("after the merge: %s", st.stdout)
			}
		})
	}
}

// TestMergeBeatsPrefer: a clean merge settles the conflict even when
// --prefer would have picked a side.
func TestMergeBeatsPrefer(t *testing.T) {
	local := strings.Replace(mergeBase, "two", "TWO", 1)
	want := strings.Replace(local, "eight", "EIGHT", 1)
	p := mergePair(t, false, local, strings.Replace(mergeBase, "eight", "EIGHT", 1))
	r := mustRun(t, p.args("sync", "-y", "--prefer", "remote")...)
	if !strings.Contains(r.stdout, "merged (1)") || strings.Contains(r.stdout, "settled by --prefer") {
		t.Fatalf("sync --prefer remote:\n%s", r.stdout)
	}
	for _, root := range []string{p.local, p.remoteDir} {
		if got := read(t, filepath.Join(root, "notes.txt")); got != want {
			t.Fatalf("%s holds\n%s\nwant the merge", root, got)
		}
	}
}

// TestMergeInSavedPlan: a plan saved by status --json lists a clean merge
// as merged, and sync --plan carries it out; a plan saved before the
// merge's inputs changed is refused.
func TestMergeInSavedPlan(t *testing.T) {
	local := strings.Replace(mergeBase, "two", "TWO", 1)
	want := strings.Replace(local, "eight", "EIGHT", 1)
	p := mergePair(t, false, local, strings.Replace(mergeBase, "eight", "EIGHT", 1))
	plan := filepath.Join(t.TempDir(), "plan.json")
	js := mustRun(t, p.args("status", "--json")...)
	os.WriteFile(plan, []byte(js.stdout), 0o644)
	write(t, p.remoteDir, map[string]string{"notes.txt": strings.Replace(mergeBase, "eight", "8", 1)})
	if r := myrrorfs(t, p.args("sync", "--plan", plan)...); r.code != 1 || !strings.Contains(r.stderr+r.stdout, "notes.txt") {
		t.Fatalf("a stale plan with a merge: %+v", r)
	}
	write(t, p.remoteDir, map[string]string{"notes.txt": strings.Replace(mergeBase, "eight", "EIGHT", 1)})
	js = mustRun(t, p.args("status", "--json")...)
	os.WriteFile(plan, []byte(js.stdout), 0o644)
	mustRun(t, p.args("sync", "--plan", plan)...)
	for _, root := range []string{p.local, p.remoteDir} {
		if got := read(t, filepath.Join(root, "notes.txt")); got != want {
			t.Fatalf("%s after sync --plan:\n%s", root, got)
		}
	}
}

// TestMergeLeftAlone: overlapping edits, binary files, files whose base
// content was never kept, and --merge off leave the conflict untouched.
func TestMergeLeftAlone(t *testing.T) {
	overlapL := strings.Replace(mergeBase, "five", "FIVE (local)", 1)
	overlapR := strings.Replace(mergeBase, "five", "FIVE (remote)", 1)
	t.Run("overlap", func(t *testing.T) {
		p := mergePair(t, false, overlapL, overlapR)
		st := mustRun(t, p.args("status")...)
		if !strings.Contains(st.stdout, "conflicts modify/modify (1):\n  notes.txt  (merged with 1 conflicting hunks") {
			t.Fatalf("status:\n%s", st.stdout)
		}
		if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 3 {
			t.Fatalf("sync: %+v", r)
		}
		if read(t, filepath.Join(p.local, "notes.txt")) != overlapL || read(t, filepath.Join(p.remoteDir, "notes.txt")) != overlapR {
			t.Fatal("a conflicting merge touched a side")
		}
	})
	t.Run("binary", func(t *testing.T) {
		p := syncedPair(t, false, map[string]string{"b.bin": "a\x00b\nc\nd\ne\n", "s1": "1", "s2": "2"})
		write(t, p.local, map[string]string{"b.bin": "A\x00b\nc\nd\ne\n"})
		write(t, p.remoteDir, map[string]string{"b.bin": "a\x00b\nc\nd\nE\n"})
		if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 3 || strings.Contains(r.stdout, "merged") {
			t.Fatalf("a binary file was merged: %+v", r)
		}
	})
	t.Run("no base content", func(t *testing.T) {
		p := newPair(t, false)
		// the same file on both sides at the first sync: nothing is copied, no base content kept
		write(t, p.local, map[string]string{"notes.txt": mergeBase, "s1": "1", "s2": "2"})
		write(t, p.remoteDir, map[string]string{"notes.txt": mergeBase, "s1": "1", "s2": "2"})
		mustRun(t, p.args("sync", "-y")...)
		write(t, p.local, map[string]string{"notes.txt": strings.Replace(mergeBase, "two", "2", 1)})
		write(t, p.remoteDir, map[string]string{"notes.txt": strings.Replace(mergeBase, "eight", "8", 1)})
		if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 3 || strings.Contains(r.stdout, "merged") {
			t.Fatalf("merged without a base content: %+v", r)
		}
	})
	t.Run("larger than --merge-max-size", func(t *testing.T) {
		p := mergePair(t, false, strings.Replace(mergeBase, "two", "2", 1), strings.Replace(mergeBase, "eight", "8", 1))
		if r := myrrorfs(t, p.args("sync", "-y", "--merge-max-size", "40")...); r.code != 3 || strings.Contains(r.stdout, "merged") {
			t.Fatalf("merged a file over --merge-max-size: %+v", r)
		}
		if r := myrrorfs(t, p.args("status", "--merge-max-size", "1K")...); !strings.Contains(r.stdout, "merged (1)") {
			t.Fatalf("not merged under --merge-max-size 1K: %+v", r)
		}
	})
	t.Run("merge off", func(t *testing.T) {
		local := strings.Replace(mergeBase, "two", "2", 1)
		p := mergePair(t, false, local, strings.Replace(mergeBase, "eight", "8", 1))
		if r := myrrorfs(t, p.args("sync", "-y", "--merge", "off")...); r.code != 3 || strings.Contains(r.stdout, "merged") {
			t.Fatalf("merged with --merge off: %+v", r)
		}
		if read(t, filepath.Join(p.local, "notes.txt")) != local {
			t.Fatal("--merge off touched the local side")
		}
	})
}

// TestMergeInMount: a mount shows a cleanly merged file as one file holding
// the merge, and its commit writes it to both sides.
func TestMergeInMount(t *testing.T) {
	local := strings.Replace(mergeBase, "one", "ONE", 1)
	remote := strings.Replace(mergeBase, "nine", "NINE", 1)
	want := strings.Replace(local, "nine", "NINE", 1)
	p := mergePair(t, false, local, remote)
	mnt, _ := mountView(t, p)
	if got := read(t, filepath.Join(mnt, "notes.txt")); got != want {
		t.Fatalf("the view shows\n%s\nwant the merge\n%s", got, want)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "notes.txt.local")); err == nil {
		t.Fatal("the view still shows the conflict's siblings")
	}
	c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt)
	if c.code != 0 {
		t.Fatalf("commit: %+v", c)
	}
	if got := read(t, filepath.Join(p.remoteDir, "notes.txt")); got != want {
		t.Fatalf("remote after commit:\n%s", got)
	}
}

// TestMergeWhileMounted: a remote edit that makes a conflict with a local
// one while the pair is mounted is merged as soon as the mount sees it,
// without holding up the view meanwhile.
func TestMergeWhileMounted(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"notes.txt": mergeBase, "s1": "1", "s2": "2", "s3": "3"})
	mnt, _ := mountView(t, p)
	local := strings.Replace(mergeBase, "one", "ONE", 1)
	if err := os.WriteFile(filepath.Join(mnt, "notes.txt"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, p.remoteDir, map[string]string{"notes.txt": strings.Replace(mergeBase, "nine", "NINE", 1)})
	want := strings.Replace(local, "nine", "NINE", 1)
	deadline := time.Now().Add(10 * time.Second)
	for read(t, filepath.Join(mnt, "notes.txt")) != want {
		if time.Now().After(deadline) {
			ls, _ := os.ReadDir(mnt)
			t.Fatalf("the view never showed the merge: notes.txt = %q, entries %v", read(t, filepath.Join(mnt, "notes.txt")), ls)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
		t.Fatalf("commit: %+v", c)
	}
	if got := read(t, filepath.Join(p.remoteDir, "notes.txt")); got != want {
		t.Fatalf("remote after commit:\n%s", got)
	}
}
