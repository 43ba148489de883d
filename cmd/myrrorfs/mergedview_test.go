package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Overlapping edits of notes.txt (see mergePair), their merge with
// conflict markers, and what a user makes of it.
var (
	overlapL      = strings.Replace(mergeBase, "five", "FIVE (local)", 1)
	overlapR      = strings.Replace(mergeBase, "five", "FIVE (remote)", 1)
	overlapMerged = strings.Replace(mergeBase, "five\n", "<<<<<<< local\nFIVE (local)\n=======\nFIVE (remote)\n>>>>>>> remote\n", 1)
	overlapEdited = strings.Replace(mergeBase, "five", "FIVE (both)", 1)
)

// names lists a directory of the view, sorted, "/" after directories.
func names(t *testing.T, dir string) string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, de := range des {
		n := de.Name()
		if de.IsDir() {
			n += "/"
		}
		ns = append(ns, n)
	}
	return strings.Join(ns, " ")
}

// inDir runs a command (not myrrorfs) in dir.
func inDir(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// unmount unmounts a view made by mountView.
func unmount(t *testing.T, p pair, mnt string) {
	t.Helper()
	if r := myrrorfs(t, "unmount", "--state", p.state, mnt); r.code != 0 {
		t.Fatalf("unmount: %+v", r)
	}
}

// mergedLeft lists what LOCAL keeps of merges shown in a view.
func mergedLeft(t *testing.T, p pair) []string {
	des, _ := os.ReadDir(filepath.Join(p.local, tree.MergedDir))
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// TestMergedSibling: overlapping edits of a text file show, in the view, a
// third sibling holding the merge with conflict markers; it is writable,
// and the user's edits survive rescans and remounts. Moving it to the bare
// name, or removing both other siblings at once, makes it the resolution:
// the commit puts the edited text on both sides, and both edited versions
// in the backup areas.
func TestMergedSibling(t *testing.T) {
	for _, g := range []struct {
		name    string
		gesture func(t *testing.T, mnt string)
	}{
		{"mv notes.txt.merged notes.txt", func(t *testing.T, mnt string) {
			inDir(t, mnt, "mv", "notes.txt.merged", "notes.txt")
		}},
		{"rm notes.txt.local notes.txt.remote", func(t *testing.T, mnt string) {
			inDir(t, mnt, "rm", "notes.txt.local", "notes.txt.remote")
		}},
		{"rm notes.txt.remote notes.txt.local", func(t *testing.T, mnt string) {
			inDir(t, mnt, "rm", "notes.txt.remote", "notes.txt.local")
		}},
		{"gio trash notes.txt.local notes.txt.remote", func(t *testing.T, mnt string) {
			inDir(t, mnt, "gio", "trash", "notes.txt.local", "notes.txt.remote")
		}},
	} {
		t.Run(g.name, func(t *testing.T) {
			p := mergePair(t, false, overlapL, overlapR)
			mnt, _ := mountView(t, p)
			if got := names(t, mnt); got != "notes.txt.local notes.txt.merged notes.txt.remote s1 s2 s3" {
				t.Fatalf("view: %s", got)
			}
			if got := read(t, filepath.Join(mnt, "notes.txt.merged")); got != overlapMerged {
				t.Fatalf("notes.txt.merged holds\n%s\nwant\n%s", got, overlapMerged)
			}
			cf := myrrorfs(t, "conflicts", "--state", p.state, mnt)
			if !strings.Contains(cf.stdout, "modify/modify  notes.txt  (in the view: notes.txt.local, notes.txt.remote, notes.txt.merged)") {
				t.Fatalf("conflicts: %+v", cf)
			}
			if err := os.WriteFile(filepath.Join(mnt, "notes.txt.merged"), []byte(overlapEdited), 0o644); err != nil {
				t.Fatal(err)
			}
			// a rescan of both sides, then a new daemon: the edit stays
			if st := myrrorfs(t, "status", "--state", p.state, mnt); st.code != 0 || !strings.Contains(st.stdout, "1 conflicts") {
				t.Fatalf("status: %+v", st)
			}
			unmount(t, p, mnt)
			mnt, _ = mountView(t, p)
			if got := read(t, filepath.Join(mnt, "notes.txt.merged")); got != overlapEdited {
				t.Fatalf("notes.txt.merged after a remount holds\n%s", got)
			}
			remoteBefore := read(t, filepath.Join(p.remoteDir, "notes.txt"))

			g.gesture(t, mnt)
			if got := strings.TrimPrefix(names(t, mnt), ".Trash-0/ "); got != "notes.txt s1 s2 s3" {
				t.Fatalf("view after the gesture: %s", got)
			}
			if strings.HasPrefix(g.name, "gio trash") {
				// the trash holds copies of the versions
				files := filepath.Join(mnt, ".Trash-0", "files")
				if l, r := read(t, filepath.Join(files, "notes.txt.local")), read(t, filepath.Join(files, "notes.txt.remote")); l != overlapL || r != overlapR {
					t.Errorf("the trash holds %q and %q", l, r)
				}
			}
			if got := read(t, filepath.Join(mnt, "notes.txt")); got != overlapEdited {
				t.Fatalf("notes.txt in the view holds\n%s", got)
			}
			if read(t, filepath.Join(p.remoteDir, "notes.txt")) != remoteBefore {
				t.Fatal("the mount wrote to the remote")
			}
			if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
				t.Fatalf("commit: %+v", c)
			}
			for _, root := range []string{p.local, p.remoteDir} {
				if got := read(t, filepath.Join(root, "notes.txt")); got != overlapEdited {
					t.Errorf("%s holds\n%s", root, got)
				}
			}
			if !backedUp(t, p.local)[overlapL] || !backedUp(t, p.remoteDir)[overlapR] {
				t.Errorf("the edited versions are not in the backup areas: local %v, remote %v", backedUp(t, p.local), backedUp(t, p.remoteDir))
			}
			if left := mergedLeft(t, p); len(left) > 0 {
				t.Errorf("LOCAL still keeps merges: %q", left)
			}
		})
	}
}

// TestMergedDismissed: removing p.merged only stops showing it, across
// rescans and remounts, and the conflict stays; a new edit on either side
// brings a new merge; resolve --keep merged takes the merge even when the
// view does not show it.
func TestMergedDismissed(t *testing.T) {
	p := mergePair(t, false, overlapL, overlapR)
	mnt, _ := mountView(t, p)
	if err := os.Remove(filepath.Join(mnt, "notes.txt.merged")); err != nil {
		t.Fatal(err)
	}
	if got := names(t, mnt); got != "notes.txt.local notes.txt.remote s1 s2 s3" {
		t.Fatalf("view after rm notes.txt.merged: %s", got)
	}
	if st := myrrorfs(t, "status", "--state", p.state, mnt); !strings.Contains(st.stdout, "1 conflicts") {
		t.Fatalf("status: %+v", st)
	}
	unmount(t, p, mnt)
	mnt, _ = mountView(t, p)
	if got := names(t, mnt); got != "notes.txt.local notes.txt.remote s1 s2 s3" {
		t.Fatalf("view after a remount: %s", got)
	}
	again := strings.Replace(mergeBase, "five", "FIVE (remote, again)", 1)
	write(t, p.remoteDir, map[string]string{"notes.txt": again})
	myrrorfs(t, "status", "--state", p.state, mnt) // a rescan of both sides
	want := strings.Replace(overlapMerged, "FIVE (remote)", "FIVE (remote, again)", 1)
	if got := read(t, filepath.Join(mnt, "notes.txt.merged")); got != want {
		t.Fatalf("after a new remote edit, notes.txt.merged holds\n%s\nwant\n%s", got, want)
	}
	os.Remove(filepath.Join(mnt, "notes.txt.merged"))
	r := runIn(t, mnt, "resolve", "--keep", "merged", "notes.txt.local")
	if r.code != 0 || !strings.Contains(r.stdout, "notes.txt: merge kept (modify/modify)") {
		t.Fatalf("resolve --keep merged: %+v", r)
	}
	if got := names(t, mnt); got != "notes.txt s1 s2 s3" {
		t.Fatalf("view after resolve: %s", got)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
		t.Fatalf("commit: %+v", c)
	}
	for _, root := range []string{p.local, p.remoteDir} {
		if got := read(t, filepath.Join(root, "notes.txt")); got != want {
			t.Errorf("%s holds\n%s", root, got)
		}
	}
}

// TestMergedRemoveOne: with p.merged shown, removing one of p.local and
// p.remote keeps the other version, as without a merge; p.merged as
// edited is not lost: it goes to the local backup area.
func TestMergedRemoveOne(t *testing.T) {
	p := mergePair(t, false, overlapL, overlapR)
	mnt, _ := mountView(t, p)
	if err := os.WriteFile(filepath.Join(mnt, "notes.txt.merged"), []byte(overlapEdited), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mnt, "notes.txt.local")); err != nil {
		t.Fatal(err)
	}
	if got := names(t, mnt); got != "notes.txt s1 s2 s3" {
		t.Fatalf("view after rm notes.txt.local: %s", got)
	}
	if got := read(t, filepath.Join(mnt, "notes.txt")); got != overlapR {
		t.Fatalf("notes.txt in the view holds\n%s", got)
	}
	// a new daemon, and its commit, long after the gesture
	unmount(t, p, mnt)
	mnt, _ = mountView(t, p)
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
		t.Fatalf("commit: %+v", c)
	}
	for _, root := range []string{p.local, p.remoteDir} {
		if got := read(t, filepath.Join(root, "notes.txt")); got != overlapR {
			t.Errorf("%s holds\n%s", root, got)
		}
	}
	if b := backedUp(t, p.local); !b[overlapL] || !b[overlapEdited] {
		t.Errorf("local backup area: %v", b)
	}
	if left := mergedLeft(t, p); len(left) > 0 {
		t.Errorf("LOCAL still keeps merges: %q", left)
	}
}

// TestResolveKeepMerged: resolve --keep merged takes the merge, markers
// and all, without a mount; and p.merged as edited in a mount, whether
// that mount is still there or not; a conflict without a merge gets one
// line.
func TestResolveKeepMerged(t *testing.T) {
	t.Run("no mount", func(t *testing.T) {
		p := mergePair(t, false, overlapL, overlapR)
		r := runIn(t, p.local, p.resolveArgs("--keep", "merged", "notes.txt")...)
		if r.code != 0 || !strings.Contains(r.stdout, "notes.txt: merge kept (modify/modify)") || !strings.Contains(r.stdout, "to carry this out: myrrorfs sync") {
			t.Fatalf("resolve: %+v", r)
		}
		if s := myrrorfs(t, p.args("sync", "-y")...); s.code != 0 {
			t.Fatalf("sync: %+v", s)
		}
		for _, root := range []string{p.local, p.remoteDir} {
			if got := read(t, filepath.Join(root, "notes.txt")); got != overlapMerged {
				t.Errorf("%s holds\n%s", root, got)
			}
		}
		if !backedUp(t, p.local)[overlapL] || !backedUp(t, p.remoteDir)[overlapR] {
			t.Error("the edited versions are not in the backup areas")
		}
	})
	for _, mounted := range []bool{true, false} {
		t.Run(map[bool]string{true: "edited in a mount", false: "edited in a mount, then unmounted"}[mounted], func(t *testing.T) {
			p := mergePair(t, false, overlapL, overlapR)
			mnt, _ := mountView(t, p)
			if err := os.WriteFile(filepath.Join(mnt, "notes.txt.merged"), []byte(overlapEdited), 0o644); err != nil {
				t.Fatal(err)
			}
			if !mounted {
				unmount(t, p, mnt)
			}
			r := runIn(t, p.local, p.resolveArgs("--keep", "merged", "notes.txt")...)
			if r.code != 0 || !strings.Contains(r.stdout, "notes.txt: merge kept, as edited (modify/modify)") {
				t.Fatalf("resolve: %+v", r)
			}
			if mounted {
				if got := names(t, mnt); got != "notes.txt s1 s2 s3" {
					t.Fatalf("view after resolve: %s", got)
				}
				if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
					t.Fatalf("commit: %+v", c)
				}
			} else if s := myrrorfs(t, p.args("sync", "-y")...); s.code != 0 {
				t.Fatalf("sync: %+v", s)
			}
			for _, root := range []string{p.local, p.remoteDir} {
				if got := read(t, filepath.Join(root, "notes.txt")); got != overlapEdited {
					t.Errorf("%s holds\n%s", root, got)
				}
			}
			if left := mergedLeft(t, p); len(left) > 0 {
				t.Errorf("LOCAL still keeps merges: %q", left)
			}
		})
	}
	t.Run("no merge", func(t *testing.T) {
		p := syncedPair(t, false, map[string]string{"b.bin": "a\x00b\n", "s1": "1", "s2": "2"})
		write(t, p.local, map[string]string{"b.bin": "A\x00b\n"})
		write(t, p.remoteDir, map[string]string{"b.bin": "a\x00B\n"})
		r := runIn(t, p.local, p.resolveArgs("--keep", "merged", "b.bin")...)
		if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "b.bin: no merge to keep") {
			t.Fatalf("resolve --keep merged without a merge: %+v", r)
		}
		mnt, _ := mountView(t, p, "--merge", "off")
		p2 := mergePair(t, false, overlapL, overlapR)
		mnt2, _ := mountView(t, p2, "--merge", "off")
		if got := names(t, mnt2); got != "notes.txt.local notes.txt.remote s1 s2 s3" {
			t.Fatalf("a view with --merge off: %s", got)
		}
		for _, c := range []struct{ mnt, arg string }{{mnt, "b.bin.local"}, {mnt2, "notes.txt"}} {
			r := runIn(t, c.mnt, "resolve", "--keep", "merged", c.arg)
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, c.arg+": no merge to keep") {
				t.Fatalf("resolve --keep merged in a mount without a merge: %+v", r)
			}
		}
	})
}

// TestResolveInteractiveMerged: the one-by-one walk offers the merge where
// there is one (and only there).
func TestResolveInteractiveMerged(t *testing.T) {
	for _, mounted := range []bool{false, true} {
		t.Run(map[bool]string{false: "no mount", true: "mount"}[mounted], func(t *testing.T) {
			p := mergePair(t, false, overlapL, overlapR)
			write(t, p.local, map[string]string{"b.bin": "A\x00b\n"})
			myrrorfs(t, p.args("sync", "-y")...)
			write(t, p.local, map[string]string{"b.bin": "A\x00b\nlocal\n"})
			write(t, p.remoteDir, map[string]string{"b.bin": "A\x00b\nremote\n"})
			dir, carry := p.local, "to carry this out: myrrorfs sync"
			if mounted {
				mnt, _ := mountView(t, p)
				dir, carry = mnt, "to carry this out: myrrorfs commit --state "+p.state+" "+mnt
			}
			r := startPty(t, dir, p.resolveArgs()...)
			r.expect("[1/2] modify/modify  b.bin", "keep [l]ocal / [r]emote / [b]oth / [s]kip / [q]uit? ")
			r.send("m")
			r.expect("answer l, r, b, s or q", "keep [l]ocal")
			r.send("s")
			r.expect("[2/2] modify/modify  notes.txt")
			if mounted {
				r.expect("  in the view: notes.txt.local, notes.txt.remote, notes.txt.merged")
			}
			r.expect("  merged: 1 conflicting hunk, between conflict markers",
				"keep [l]ocal / [r]emote / [b]oth / [m]erged / [s]kip / [q]uit? ")
			r.send("m")
			r.expect("notes.txt: merge kept (modify/modify)", carry)
			if code := r.wait(); code != 0 {
				t.Fatalf("exit %d:\n%s", code, r.text())
			}
			if got := read(t, filepath.Join(p.local, "notes.txt")); got != overlapMerged {
				t.Errorf("LOCAL's notes.txt holds\n%s", got)
			}
		})
	}
}

// TestConflictNamesExt: with --conflict-names ext, siblings keep the
// extension last (report.local.docx), a compressed tar its two
// (archive.local.tar.gz), and a name without one (README, .bashrc) the
// suffix; names never shadow real entries; every gesture and resolve
// understand them, and conflicts prints them.
func TestConflictNamesExt(t *testing.T) {
	text := []string{"report.docx", ".bashrc", "README", "notes.txt", "todo.md", "plan.md"}
	binary := []string{"archive.tar.gz", "data.csv"}
	base := map[string]string{"data.local.csv": "a real file", "s1": "1", "s2": "2", "s3": "3", "s4": "4", "s5": "5"}
	for _, f := range text {
		base[f] = mergeBase
	}
	for _, f := range binary {
		base[f] = "base\x00"
	}
	p := syncedPair(t, false, base)
	for _, f := range text {
		write(t, p.local, map[string]string{f: overlapL})
		write(t, p.remoteDir, map[string]string{f: overlapR})
	}
	for _, f := range binary {
		write(t, p.local, map[string]string{f: "local\x00"})
		write(t, p.remoteDir, map[string]string{f: "remote\x00"})
	}
	mnt, _ := mountView(t, p, "--conflict-names", "ext")
	want := ".bashrc.local .bashrc.merged .bashrc.remote README.local README.merged README.remote " +
		"archive.local.tar.gz archive.remote.tar.gz data.local-2.csv data.local.csv data.remote.csv " +
		"notes.local.txt notes.merged.txt notes.remote.txt plan.local.md plan.merged.md plan.remote.md " +
		"report.local.docx report.merged.docx report.remote.docx s1 s2 s3 s4 s5 todo.local.md todo.merged.md todo.remote.md"
	if got := names(t, mnt); got != want {
		t.Fatalf("view:\n%s\nwant\n%s", got, want)
	}
	cf := myrrorfs(t, "conflicts", "--state", p.state, mnt)
	for _, line := range []string{
		"report.docx  (in the view: report.local.docx, report.remote.docx, report.merged.docx)",
		".bashrc  (in the view: .bashrc.local, .bashrc.remote, .bashrc.merged)",
		"README  (in the view: README.local, README.remote, README.merged)",
		"archive.tar.gz  (in the view: archive.local.tar.gz, archive.remote.tar.gz)",
		"data.csv  (in the view: data.local-2.csv, data.remote.csv)",
	} {
		if !strings.Contains(cf.stdout, line) {
			t.Errorf("conflicts does not say %q:\n%s", line, cf.stdout)
		}
	}
	if got := read(t, filepath.Join(mnt, "report.merged.docx")); got != overlapMerged {
		t.Fatalf("report.merged.docx holds\n%s", got)
	}

	// the gestures
	inDir(t, mnt, "rm", "report.remote.docx")
	if err := os.WriteFile(filepath.Join(mnt, ".bashrc.merged"), []byte(overlapEdited), 0o644); err != nil {
		t.Fatal(err)
	}
	inDir(t, mnt, "mv", ".bashrc.merged", ".bashrc")
	inDir(t, mnt, "rm", "README.local", "README.remote")
	// an editor's save (a temporary renamed over it), then both versions
	// to the trash
	write(t, mnt, map[string]string{".todo.merged.md.swp": overlapEdited})
	inDir(t, mnt, "mv", ".todo.merged.md.swp", "todo.merged.md")
	inDir(t, mnt, "gio", "trash", "todo.local.md", "todo.remote.md")
	inDir(t, mnt, "mv", "plan.merged.md", "plan-draft.md")
	inDir(t, mnt, "rm", "notes.merged.txt")
	inDir(t, mnt, "mv", "data.local-2.csv", "data.csv")
	want = ".Trash-0/ .bashrc README archive.local.tar.gz archive.remote.tar.gz data.csv data.local.csv " +
		"notes.local.txt notes.remote.txt plan-draft.md plan.local.md plan.remote.md report.docx s1 s2 s3 s4 s5 todo.md"
	if got := names(t, mnt); got != want {
		t.Fatalf("view after the gestures:\n%s\nwant\n%s", got, want)
	}
	// resolve, naming siblings (or the bare name) in the view
	r := runIn(t, mnt, "resolve", "--keep", "remote", "notes.local.txt")
	if r.code != 0 || !strings.Contains(r.stdout, "notes.txt: remote version kept (modify/modify)") {
		t.Fatalf("resolve --keep remote notes.local.txt: %+v", r)
	}
	r = runIn(t, mnt, "resolve", "--keep", "both", "archive.tar.gz")
	if r.code != 0 || !strings.Contains(r.stdout, "archive.tar.gz: both kept, the remote version as archive.remote.tar.gz (modify/modify)") {
		t.Fatalf("resolve --keep both archive.tar.gz: %+v", r)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 3 {
		t.Fatalf("commit (plan.md stays a conflict): %+v", c)
	}
	wantTree := map[string]string{
		"report.docx": overlapL, ".bashrc": overlapEdited, "README": overlapMerged, "todo.md": overlapEdited, "plan-draft.md": overlapMerged,
		"notes.txt": overlapR, "archive.tar.gz": "local\x00", "archive.remote.tar.gz": "remote\x00",
		"data.csv": "local\x00", "data.local.csv": "a real file", "s1": "1", "s2": "2", "s3": "3", "s4": "4", "s5": "5",
	}
	for _, side := range []struct{ root, plan string }{{p.local, overlapL}, {p.remoteDir, overlapR}} {
		wantTree["plan.md"] = side.plan
		if got := treeOf(t, side.root); !sameMap(got, wantTree) {
			t.Errorf("%s after commit: %q\nwant %q", side.root, got, wantTree)
		}
	}
}

// TestSplitExt: what the extension of a name is, for --conflict-names ext.
func TestSplitExt(t *testing.T) {
	// through the view: names of the siblings of a conflict on each name
	for name, want := range map[string]string{
		"report.docx": "report.local.docx", "archive.tar.gz": "archive.local.tar.gz", "a.TAR.XZ": "a.local.TAR.XZ",
		".bashrc": ".bashrc.local", "README": "README.local", "name.": "name..local", ".config.json": ".config.local.json",
		"two words.odt": "two words.local.odt", "x.with space": "x.with space.local", ".tar.gz": ".tar.local.gz",
		"v1.2": "v1.local.2", "backup.tar": "backup.local.tar",
	} {
		name, want := name, want
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := syncedPair(t, false, map[string]string{name: "base\x00", "s1": "1", "s2": "2"})
			write(t, p.local, map[string]string{name: "local\x00"})
			write(t, p.remoteDir, map[string]string{name: "remote\x00"})
			mnt, _ := mountView(t, p, "--conflict-names", "ext")
			if _, err := os.Lstat(filepath.Join(mnt, want)); err != nil {
				t.Errorf("%s: no %s in the view (%s)", name, want, names(t, mnt))
			}
		})
	}
}
