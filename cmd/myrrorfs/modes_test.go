package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// snapshot describes a tree, the areas myrrorfs keeps inside it left out:
// path -> "dir", "link:TARGET" or "file:MODE:CONTENT" (MODE: x or -, the
// executable bit).
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".myrrorfs") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			m[rel] = "dir"
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[rel] = "link:" + target
		default:
			x := "-"
			if info.Mode()&0o100 != 0 {
				x = "x"
			}
			m[rel] = "file:" + x + ":" + read(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// backedUp returns the contents of the files in root's backup area.
func backedUp(t *testing.T, root string) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	filepath.WalkDir(filepath.Join(root, ".myrrorfs-backup"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			got[read(t, p)] = true
		}
		return nil
	})
	return got
}

// sameTrees fails unless both snapshots are equal, listing the differences.
func sameTrees(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	var diffs []string
	for p, v := range a {
		if b[p] != v {
			diffs = append(diffs, fmt.Sprintf("%s: %q vs %q", p, v, b[p]))
		}
	}
	for p, v := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: absent vs %q", p, v))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%s differ:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// lostContents fails for each file content before held by a file of side
// root that is now neither in root nor in its backup area.
func lostContents(t *testing.T, root string, before map[string]string) {
	t.Helper()
	now := snapshot(t, root)
	kept := backedUp(t, root)
	for _, v := range now {
		if c, ok := strings.CutPrefix(v, "file:"); ok {
			kept[c[2:]] = true
		}
	}
	for p, v := range before {
		if c, ok := strings.CutPrefix(v, "file:"); ok && !kept[c[2:]] {
			t.Errorf("the version of %s holding %q is lost on %s", p, c[2:], root)
		}
	}
}

func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := myrrorfs(t, args...)
	if r.code != 0 {
		t.Fatalf("myrrorfs %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// TestMirrorModes: push (pull) makes REMOTE (LOCAL) equal to the other side
// in content, executable bit and symlinks, carries a rename as a rename,
// and puts what the target alone held in the target's backup area; the
// journal then serves a two-way sync without a false conflict.
func TestMirrorModes(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		for _, mode := range []string{"push", "pull"} {
			t.Run(fmt.Sprintf("%s/ssh=%v", mode, ssh), func(t *testing.T) {
				p := newPair(t, ssh)
				src, dst := p.local, p.remoteDir
				if mode == "pull" {
					src, dst = dst, src
				}
				big := strings.Repeat("a large file, moved rather than copied\n", 4000)
				write(t, src, map[string]string{"a": "a0", "b": "b0", "c": "c0", "keep": "keep0", "big": big, "d/f": "f0"})
				os.Symlink("a", filepath.Join(src, "link"))
				mustRun(t, p.args("sync", "-y")...)

				// the source renames, edits, chmods, adds
				os.MkdirAll(filepath.Join(src, "moved"), 0o755)
				os.Rename(filepath.Join(src, "big"), filepath.Join(src, "moved", "big"))
				write(t, src, map[string]string{"a": "a1 from the source", "new/n": "n"})
				os.Chmod(filepath.Join(src, "b"), 0o755)
				os.Symlink("d/f", filepath.Join(src, "link2"))
				// the target edits, adds, removes, chmods, relinks
				write(t, dst, map[string]string{"keep": "keep: the target's edit", "t-only": "the target's own file", "tdir/x": "the target's own dir"})
				os.Remove(filepath.Join(dst, "c"))
				os.Chmod(filepath.Join(dst, "d", "f"), 0o755)
				os.Remove(filepath.Join(dst, "link"))
				os.Symlink("elsewhere", filepath.Join(dst, "link"))
				before := snapshot(t, dst)

				st := mustRun(t, p.args("status", "--mode", mode)...)
				if !strings.Contains(st.stdout, "mode "+mode) || !strings.Contains(st.stdout, "rename  big -> moved/big") {
					t.Fatalf("status --mode %s does not say its mode or misses the rename:\n%s", mode, st.stdout)
				}
				if strings.Contains(st.stdout, "conflict") && !strings.Contains(st.stdout, " 0 conflicts") {
					t.Fatalf("a mirror shows conflicts:\n%s", st.stdout)
				}
				r := mustRun(t, p.args("sync", "-y", "--mode", mode)...)
				sameTrees(t, "source and target", snapshot(t, src), snapshot(t, dst))
				lostContents(t, dst, before)
				if got := backedUp(t, dst); !got["keep: the target's edit"] || !got["the target's own file"] || !got["the target's own dir"] {
					t.Errorf("the target's own versions are not in its backup area: %v\n%s", got, r.stdout)
				}
				if strings.Contains(fmt.Sprint(backedUp(t, dst)), "a large file") {
					t.Errorf("the renamed file was replaced on the target, not renamed")
				}

				// back to two-way: in step, and a change goes the usual way
				if st := mustRun(t, p.args("status")...); !strings.Contains(st.stdout, "in sync") {
					t.Fatalf("after %s, a two-way status is not in sync:\n%s", mode, st.stdout)
				}
				write(t, dst, map[string]string{"a": "a2 from the target"})
				mustRun(t, p.args("sync", "-y")...)
				if got := read(t, filepath.Join(src, "a")); got != "a2 from the target" {
					t.Fatalf("a two-way sync after %s did not bring the target's edit back: %q", mode, got)
				}
			})
		}
	}
}

// conflictCase makes one kind of conflict on a synced pair.
type conflictCase struct {
	kind string
	// base is synced first; then local and remote are changed
	base          map[string]string
	local, remote func(t *testing.T, root string)
	// newer names the version --prefer newer keeps ("" for none: the
	// conflict stays); stamp sets the mtimes that decide it
	newer string
}

func rm(path ...string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		for _, p := range path {
			if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func put(files map[string]string, age time.Duration) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		write(t, root, files)
		when := time.Now().Add(-age)
		for p := range files {
			os.Chtimes(filepath.Join(root, p), when, when)
		}
	}
}

var conflictCases = []conflictCase{
	{kind: "modify/modify", base: map[string]string{"x": "base"},
		local: put(map[string]string{"x": "local edit"}, time.Hour), remote: put(map[string]string{"x": "remote edit"}, time.Minute), newer: "remote"},
	{kind: "create/create", base: map[string]string{"other": "o"},
		local: put(map[string]string{"x": "local new"}, time.Minute), remote: put(map[string]string{"x": "remote new"}, time.Hour), newer: "local"},
	{kind: "modify/delete", base: map[string]string{"x": "base"},
		local: put(map[string]string{"x": "local edit"}, time.Hour), remote: rm("x"), newer: "local"},
	{kind: "delete/modify", base: map[string]string{"x": "base"},
		local: rm("x"), remote: put(map[string]string{"x": "remote edit"}, time.Hour), newer: "remote"},
	{kind: "file/dir", base: map[string]string{"other": "o"},
		local: put(map[string]string{"x": "local file"}, 0), remote: put(map[string]string{"x/in": "remote dir's file"}, 0), newer: ""},
	{kind: "delete/modify", base: map[string]string{"d/f": "base f", "d/g": "base g"},
		local: rm("d"), remote: put(map[string]string{"d/f": "remote edit in d"}, 0), newer: "remote"},
}

// TestPrefer: --prefer settles each kind of conflict for the preferred
// side (newer: the file modified last, an existing version over a
// deletion), lists it, and keeps the other version in its side's backup
// area; a conflict it cannot settle stays, untouched.
func TestPrefer(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		for i, c := range conflictCases {
			for _, prefer := range []string{"local", "remote", "newer"} {
				if ssh && prefer != "newer" && i > 1 {
					continue // over ssh: every kind with newer, two with each side
				}
				t.Run(fmt.Sprintf("%s%d/%s/ssh=%v", strings.ReplaceAll(c.kind, "/", "-"), i, prefer, ssh), func(t *testing.T) {
					p := newPair(t, ssh)
					// unrelated files: no side ends empty, no run deletes most files
					write(t, p.local, map[string]string{"s1": "1", "s2": "2", "s3": "3", "s4": "4"})
					write(t, p.local, c.base)
					mustRun(t, p.args("sync", "-y")...)
					c.local(t, p.local)
					c.remote(t, p.remoteDir)
					if st := myrrorfs(t, p.args("status")...); !strings.Contains(st.stdout, "conflicts "+c.kind) {
						t.Fatalf("not a %s conflict:\n%s", c.kind, st.stdout)
					}
					l0, r0 := snapshot(t, p.local), snapshot(t, p.remoteDir)
					winner := prefer
					if prefer == "newer" {
						winner = c.newer
					}
					r := myrrorfs(t, p.args("sync", "-y", "--prefer", prefer)...)
					if winner == "" {
						if r.code != 3 || !strings.Contains(r.stdout, "conflicts "+c.kind) {
							t.Fatalf("--prefer newer on %s: want the conflict left (exit 3), got exit %d\n%s%s", c.kind, r.code, r.stdout, r.stderr)
						}
						sameTrees(t, "local before and after", l0, snapshot(t, p.local))
						sameTrees(t, "remote before and after", r0, snapshot(t, p.remoteDir))
						return
					}
					if r.code != 0 {
						t.Fatalf("sync --prefer %s: exit %d\n%s%s", prefer, r.code, r.stdout, r.stderr)
					}
					if !strings.Contains(r.stdout, "conflicts settled by --prefer "+prefer) || !strings.Contains(r.stdout, "("+winner+" version kept)") {
						t.Errorf("the run does not list the conflict it settled:\n%s", r.stdout)
					}
					want := l0
					if winner == "remote" {
						want = r0
					}
					sameTrees(t, "the winner before and local after", want, snapshot(t, p.local))
					sameTrees(t, "the winner before and remote after", want, snapshot(t, p.remoteDir))
					lostContents(t, p.local, l0)
					lostContents(t, p.remoteDir, r0)
					if st := mustRun(t, p.args("status")...); !strings.Contains(st.stdout, "in sync") {
						t.Fatalf("not in sync after --prefer:\n%s", st.stdout)
					}
				})
			}
		}
	}
}

func TestPolicyFlagsRefused(t *testing.T) {
	p := newPair(t, false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "sideways"}, "sideways"},
		{[]string{"--prefer", "mine"}, "mine"},
		{[]string{"--prefer", "none"}, "--prefer"},
		{[]string{"--mode", "push", "--prefer", "local"}, "two-way"},
	} {
		r := myrrorfs(t, p.args("sync", append([]string{"-y"}, c.args...)...)...)
		oneLineError(t, r, c.want)
	}
}

// TestMountModes: a mount made with --mode shows what its commit will do
// (push: LOCAL's tree; pull: REMOTE's, read-only) and its commit mirrors.
func TestMountModes(t *testing.T) {
	for _, mode := range []string{"push", "pull"} {
		t.Run(mode, func(t *testing.T) {
			p := syncedPair(t, false, map[string]string{"a": "a0", "b": "b0", "s1": "1", "s2": "2", "s3": "3"})
			write(t, p.local, map[string]string{"b": "b: local edit", "l-only": "local's own"})
			write(t, p.remoteDir, map[string]string{"a": "a: remote edit", "r-only": "remote's own"})
			src, dst := p.local, p.remoteDir
			if mode == "pull" {
				src, dst = dst, src
			}
			want, before := snapshot(t, src), snapshot(t, dst)
			mnt, _ := mountView(t, p, "--mode", mode)
			sameTrees(t, "the view and the source", want, snapshot(t, mnt))
			err := os.WriteFile(filepath.Join(mnt, "new"), []byte("x"), 0o644)
			if mode == "pull" && !errors.Is(err, syscall.EROFS) {
				t.Fatalf("a write in a pull mount: %v, want EROFS", err)
			}
			if mode == "push" && err != nil {
				t.Fatalf("a write in a push mount: %v", err)
			}
			if mode == "push" {
				want = snapshot(t, src)
			}
			c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt)
			if c.code != 0 || !strings.Contains(c.stdout, "mode "+mode) {
				t.Fatalf("commit of a %s mount: %+v", mode, c)
			}
			sameTrees(t, "target after commit and the source", want, snapshot(t, dst))
			oneLineError(t, myrrorfs(t, "status", "--state", p.state, "--mode", "two-way", mnt), "--mode", "mounted with")
			lostContents(t, dst, before)
		})
	}
}
