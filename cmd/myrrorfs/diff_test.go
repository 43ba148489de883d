package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const evilName = "evil\x1b[31m\nname"

// diffScene makes a pair with a conflict of each sort diff shows and a few
// one-sided changes: a modify/modify conflict on text that does not merge
// cleanly, one on a file with a hostile name, a binary file, a symlink, a
// new file, a chmod and an edit.
func diffScene(t *testing.T, ssh bool) pair {
	t.Helper()
	notes := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\ntwelve\n"
	p := syncedPair(t, ssh, map[string]string{
		"notes.txt": notes, "todo.md": "a\n", "blob": "bin\x00ary", "run.sh": "echo\n", evilName: "base\n",
		"d/x": "x\n", // left alone here
	})
	for _, l := range []struct{ root, target string }{{p.local, "t1"}, {p.remoteDir, "t1"}} {
		if err := os.Symlink(l.target, filepath.Join(l.root, "link")); err != nil {
			t.Fatal(err)
		}
	}
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("sync of the symlink: %+v", r)
	}
	write(t, p.local, map[string]string{
		"notes.txt": strings.Replace(notes, "three", "3 local", 1),
		"todo.md":   "a\nb\n",
		evilName:    "local\n",
	})
	if err := os.Chmod(filepath.Join(p.local, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, p.remoteDir, map[string]string{
		"notes.txt": strings.NewReplacer("three", "3 remote", "eleven", "11 remote").Replace(notes),
		"blob":      "bin\x00ary 2",
		"new.txt":   "new\n",
		evilName:    "remote\n",
	})
	os.Remove(filepath.Join(p.remoteDir, "link"))
	if err := os.Symlink("t2", filepath.Join(p.remoteDir, "link")); err != nil {
		t.Fatal(err)
	}
	return p
}

// The diff of everything diffScene changed.
const (
	diffBlob = "to local (update) blob\n" +
		"Binary files local/blob and remote/blob differ\n"
	diffEvil = `conflict (modify/modify) "evil\x1b[31m\nname"` + "\n" +
		`--- "remote/evil\x1b[31m\nname"` + "\n" +
		`+++ "local/evil\x1b[31m\nname"` + "\n" +
		"@@ -1 +1 @@\n" +
		"-remote\n" +
		"+local\n"
	diffLink = "to local (update) link\n" +
		"local/link is a symlink to t1; remote/link is a symlink to t2\n"
	diffNew = "to local (create) new.txt\n" +
		"local/new.txt does not exist; remote/new.txt is a file (4 B)\n"
	diffNotes = "conflict (modify/modify) notes.txt\n" +
		"--- remote/notes.txt\n" +
		"+++ local/notes.txt\n" +
		"@@ -1,6 +1,6 @@\n" +
		" one\n" +
		" two\n" +
		"-3 remote\n" +
		"+3 local\n" +
		" four\n" +
		" five\n" +
		" six\n" +
		"@@ -8,5 +8,5 @@\n" +
		" eight\n" +
		" nine\n" +
		" ten\n" +
		"-11 remote\n" +
		"+eleven\n" +
		" twelve\n"
	diffRun = "to remote (chmod) run.sh\n" +
		"old mode 100644\n" +
		"new mode 100755\n"
	diffTodo = "to remote (update) todo.md\n" +
		"--- remote/todo.md\n" +
		"+++ local/todo.md\n" +
		"@@ -1 +1,2 @@\n" +
		" a\n" +
		"+b\n"
	diffAll = diffBlob + diffEvil + diffLink + diffNew + diffNotes + diffRun + diffTodo
)

// diffArgs is `myrrorfs diff` with the pair's flags.
func (p pair) diffArgs(extra ...string) []string {
	return append(append([]string{"diff"}, p.flags...), extra...)
}

// checkDiff checks that a diff succeeded and printed want exactly.
func checkDiff(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%s: exit %d, stderr %q", what, r.code, r.stderr)
	}
	if r.stdout != want {
		t.Errorf("%s printed\n%s\nwant\n%s", what, r.stdout, want)
	}
}

// TestDiff runs diff on a local pair and over ssh: everything under the
// current directory in LOCAL, named paths (absolute, relative, and of the
// pair after LOCAL REMOTE), a path no side has, and colour forced on.
func TestDiff(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		name := "local"
		if ssh {
			name = "ssh"
		}
		t.Run(name, func(t *testing.T) {
			p := diffScene(t, ssh)
			checkDiff(t, "diff in LOCAL", runIn(t, p.local, p.diffArgs()...), diffAll)
			checkDiff(t, "diff of absolute paths", myrrorfs(t, p.diffArgs(filepath.Join(p.local, "todo.md"), filepath.Join(p.local, "notes.txt"))...), diffTodo+diffNotes)
			checkDiff(t, "diff LOCAL REMOTE PATH...", myrrorfs(t, p.diffArgs(p.local, p.remote, "notes.txt", "run.sh", "blob")...), diffNotes+diffRun+diffBlob)

			// a path no side has: one line, the others still shown, exit 1
			r := runIn(t, p.local, p.diffArgs("nothere", "todo.md")...)
			if r.code != 1 || r.stderr != "myrrorfs: nothere: no such path on either side (or it is ignored)\n" || r.stdout != diffTodo {
				t.Errorf("diff of a missing path: %+v", r)
			}
			// an equal path: nothing, exit 0
			write(t, p.local, map[string]string{"same": "s\n"})
			write(t, p.remoteDir, map[string]string{"same": "s\n"})
			checkDiff(t, "diff of an equal path", runIn(t, p.local, p.diffArgs("same")...), "")

			// colour: bold headers, cyan hunk headers, red and green lines
			r = runIn(t, p.local, p.diffArgs("--color", "always", "todo.md")...)
			want := "\x1b[1mto remote (update) todo.md\x1b[m\n" +
				"\x1b[1m--- remote/todo.md\x1b[m\n" +
				"\x1b[1m+++ local/todo.md\x1b[m\n" +
				"\x1b[36m@@ -1 +1,2 @@\x1b[m\n" +
				" a\n" +
				"\x1b[32m+b\x1b[m\n"
			checkDiff(t, "diff --color always", r, want)
			checkDiff(t, "diff --color never", runIn(t, p.local, p.diffArgs("--color", "never", "todo.md")...), diffTodo)
			oneLine(t, runIn(t, p.local, p.diffArgs("--color", "sometimes", "todo.md")...), "--color", "auto, always or never")

			// decided as status decides with --mode and --prefer
			checkDiff(t, "diff --mode push", runIn(t, p.local, p.diffArgs("--mode", "push", "blob")...),
				"to remote (update) blob\nBinary files remote/blob and local/blob differ\n")
			checkDiff(t, "diff --prefer local", runIn(t, p.local, p.diffArgs("--prefer", "local", "notes.txt")...),
				strings.Replace(diffNotes, "conflict (modify/modify)", "to remote (update, settling a modify/modify conflict)", 1))
		})
	}
}

// TestDiffDirectoryConflict: a directory deleted on one side and changed
// inside on the other is one line for the directory, and a path inside it
// is shown when named.
func TestDiffDirectoryConflict(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"d/a": "a\n", "d/b": "b\n", "d/c": "c\n", "x": "x\n"})
	remove("d")(t, p.local)
	write(t, p.remoteDir, map[string]string{"d/a": "remote a\n"})
	remove("d/b")(t, p.remoteDir) // deleted on both sides: not counted
	checkDiff(t, "diff of the directory", runIn(t, p.local, p.diffArgs()...),
		"conflict (delete/modify) d/\n"+
			"remote/d is a directory (2 entries inside); local/d does not exist\n")
	checkDiff(t, "diff of a path inside it", runIn(t, p.local, p.diffArgs("d/a")...),
		"conflict (delete/modify, in directory d) d/a\n"+
			"remote/d/a is a file (9 B); local/d/a does not exist\n")
	// a file against a directory
	q := syncedPair(t, false, map[string]string{"y": "y\n"})
	write(t, q.local, map[string]string{"f": "file\n"})
	write(t, q.remoteDir, map[string]string{"f/in": "in\n"})
	checkDiff(t, "diff of file/dir", runIn(t, q.local, q.diffArgs("f")...),
		"conflict (file/dir) f/\n"+
			"remote/f is a directory (1 entry inside); local/f is a file (5 B)\n")
}

// TestDiffEscapesOnTerminal: on a terminal the output is coloured and the
// control characters of file contents are escaped; through a pipe the
// contents are written as they are, so that the diff applies as a patch.
func TestDiffEscapesOnTerminal(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"c.txt": "base\n"})
	write(t, p.local, map[string]string{"c.txt": "x\x1b[2Jy\n"})
	write(t, p.remoteDir, map[string]string{"c.txt": "tab\there\n"})
	r := startPty(t, p.local, p.diffArgs("c.txt")...)
	r.expect("\x1b[1mconflict (modify/modify) c.txt\x1b[m", "\x1b[36m@@ -1 +1 @@\x1b[m",
		"\x1b[31m-tab\there\x1b[m", "\x1b[32m+"+`x\x1b[2Jy`+"\x1b[m")
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.text())
	}
	if strings.Contains(r.text(), "\x1b[2J") {
		t.Fatal("a file's escape sequence reached the terminal")
	}
	checkDiff(t, "diff through a pipe", runIn(t, p.local, p.diffArgs("c.txt")...),
		"conflict (modify/modify) c.txt\n--- remote/c.txt\n+++ local/c.txt\n@@ -1 +1 @@\n-tab\there\n+x\x1b[2Jy\n")
}

// TestDiffMount: through a mount, diff is answered by its daemon, whether
// PATH lies in the view (the bare name, a version's name, the mount's
// root, a path inside a version of a directory conflict) or in the LOCAL
// of the mounted pair; a remote version it reads lands in the mount's
// fetch cache, from which the view then reads it.
func TestDiffMount(t *testing.T) {
	p := diffScene(t, false)
	remove("d")(t, p.local)
	write(t, p.remoteDir, map[string]string{"d/x": "remote x\n"})
	mnt, _ := mountView(t, p)
	diffD := "conflict (delete/modify) d/\nremote/d is a directory (1 entry inside); local/d does not exist\n"
	checkDiff(t, "diff at the mount's root", runIn(t, mnt, "diff"), diffBlob+diffD+diffEvil+diffLink+diffNew+diffNotes+diffRun+diffTodo)
	checkDiff(t, "diff of a version's name", runIn(t, mnt, "diff", "notes.txt.remote"), diffNotes)
	checkDiff(t, "diff of the bare name", myrrorfs(t, "diff", filepath.Join(mnt, "notes.txt")), diffNotes)
	checkDiff(t, "diff inside a version of a directory conflict", runIn(t, mnt, "diff", "d.remote/x"),
		"conflict (delete/modify, in directory d) d/x\nremote/d/x is a file (9 B); local/d/x does not exist\n")
	checkDiff(t, "diff in LOCAL of the mounted pair", runIn(t, p.local, p.diffArgs("todo.md", "notes.txt")...), diffTodo+diffNotes)
	oneLine(t, runIn(t, mnt, "diff", "--mode", "push", "todo.md"), "todo.md: --mode applies to LOCAL REMOTE")
	r := runIn(t, mnt, "diff", "nothere")
	if r.code != 1 || r.stderr != "myrrorfs: nothere: no such path on either side (or it is ignored)\n" || r.stdout != "" {
		t.Errorf("diff of a missing path in the view: %+v", r)
	}

	// the remote version of notes.txt is in the fetch cache
	remoteNotes := read(t, filepath.Join(p.remoteDir, "notes.txt"))
	found := false
	filepath.Walk(p.state, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && filepath.Base(filepath.Dir(path)) == "cache" && read(t, path) == remoteNotes {
			found = true
		}
		return nil
	})
	if !found {
		t.Error("the remote version diff read through the mount is not in its fetch cache")
	}
	if got := read(t, filepath.Join(mnt, "notes.txt.remote")); got != remoteNotes {
		t.Errorf("notes.txt.remote in the view: %q", got)
	}
}

// TestDiffWatch: a pair held by `sync --watch` is diffed by it.
func TestDiffWatch(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"f": "base\n"})
	output := startWatch(t, p)
	write(t, p.local, map[string]string{"f": "local\n"})
	write(t, p.remoteDir, map[string]string{"f": "remote\n"})
	within(t, 10*time.Second, "the conflict reported", func() error {
		if !strings.Contains(output(), "conflict, left untouched: f") {
			return fmt.Errorf("output %q", output())
		}
		return nil
	})
	checkDiff(t, "diff of a pair sync --watch holds", runIn(t, p.local, p.diffArgs("f")...),
		"conflict (modify/modify) f\n--- remote/f\n+++ local/f\n@@ -1 +1 @@\n-remote\n+local\n")
}

// TestDiffRenames: a rename is shown as one, with what else changed (the
// executable bit), and its old path only when named; a conflict that the
// next sync merges cleanly says so.
func TestDiffRenames(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a.sh": "echo\n", "dd/one": "1\n", "dd/two": "2\n",
		"m.txt": "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n"})
	if err := os.Rename(filepath.Join(p.local, "a.sh"), filepath.Join(p.local, "b.sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(p.local, "b.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(p.remoteDir, "dd"), filepath.Join(p.remoteDir, "ee")); err != nil {
		t.Fatal(err)
	}
	write(t, p.local, map[string]string{"m.txt": "L1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n"})
	write(t, p.remoteDir, map[string]string{"m.txt": "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nR9\n"})
	checkDiff(t, "diff of renames", runIn(t, p.local, p.diffArgs()...),
		"to remote (rename from a.sh) b.sh\n"+
			"old mode 100644\n"+
			"new mode 100755\n"+
			"to local (rename from dd/) ee/\n"+
			"conflict (modify/modify, merges cleanly) m.txt\n"+
			"--- remote/m.txt\n+++ local/m.txt\n"+
			"@@ -1,4 +1,4 @@\n-l1\n+L1\n l2\n l3\n l4\n"+
			"@@ -6,4 +6,4 @@\n l6\n l7\n l8\n-R9\n+l9\n")
	checkDiff(t, "diff of a rename's old path", runIn(t, p.local, p.diffArgs("a.sh")...),
		"to remote (delete) a.sh\nremote/a.sh is a file (5 B); local/a.sh does not exist\n")
	// after LOCAL REMOTE, a PATH lies in LOCAL
	oneLine(t, myrrorfs(t, p.diffArgs(p.local, p.remote, "../x")...), "../x: not inside LOCAL")
	oneLine(t, myrrorfs(t, p.diffArgs(p.local, p.remote, "/etc")...), "/etc: after LOCAL and REMOTE, a PATH is relative to LOCAL")
}
