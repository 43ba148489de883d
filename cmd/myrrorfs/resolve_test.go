package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/myrrorfs/myrrorfs/tree"
)

// A conflict kind as the tests make it: files synced first (base), then a
// change on each side. f is the path the conflict is on.
type resolveCase struct {
	kind string
	f    string
	base map[string]string
	// local and remote change each side after the first sync
	local, remote func(t *testing.T, root string)
	// after sync, per --keep: both trees (besides "other"), and the
	// versions each side's backup area must hold
	want map[string]outcomeWant
}

type outcomeWant struct {
	tree               map[string]string // path -> content, "/" for a directory
	backLocal, backRem []string          // contents in each side's backup area
}

func edit(p, content string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) { write(t, root, map[string]string{p: content}) }
}

func remove(p string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
}

// resolveCases are the conflict kinds of the README's table, each with
// what every --keep leaves on both sides after sync.
var resolveCases = []resolveCase{
	{
		kind: "modify/modify", f: "f.txt", base: map[string]string{"f.txt": "base\n"},
		local: edit("f.txt", "local\n"), remote: edit("f.txt", "remote\n"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{"f.txt": "local\n"}, backRem: []string{"remote\n"}},
			"remote": {tree: map[string]string{"f.txt": "remote\n"}, backLocal: []string{"local\n"}},
			"both":   {tree: map[string]string{"f.txt": "local\n", "f.txt.remote": "remote\n"}, backRem: []string{"remote\n"}},
		},
	},
	{
		kind: "create/create", f: "n.txt",
		local: edit("n.txt", "local\n"), remote: edit("n.txt", "remote\n"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{"n.txt": "local\n"}, backRem: []string{"remote\n"}},
			"remote": {tree: map[string]string{"n.txt": "remote\n"}, backLocal: []string{"local\n"}},
			"both":   {tree: map[string]string{"n.txt": "local\n", "n.txt.remote": "remote\n"}, backRem: []string{"remote\n"}},
		},
	},
	{
		kind: "modify/delete", f: "f.txt", base: map[string]string{"f.txt": "base\n"},
		local: edit("f.txt", "local\n"), remote: remove("f.txt"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{"f.txt": "local\n"}},
			"remote": {tree: map[string]string{}, backLocal: []string{"local\n"}},
			"both":   {tree: map[string]string{"f.txt": "local\n"}},
		},
	},
	{
		kind: "delete/modify", f: "f.txt", base: map[string]string{"f.txt": "base\n"},
		local: remove("f.txt"), remote: edit("f.txt", "remote\n"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{}, backRem: []string{"remote\n"}},
			"remote": {tree: map[string]string{"f.txt": "remote\n"}},
			"both":   {tree: map[string]string{"f.txt": "remote\n"}},
		},
	},
	{
		kind: "file/dir", f: "x",
		local: edit("x", "local file\n"), remote: edit("x/in", "remote in\n"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{"x": "local file\n"}, backRem: []string{"remote in\n"}},
			"remote": {tree: map[string]string{"x": "/", "x/in": "remote in\n"}, backLocal: []string{"local file\n"}},
			// the remote's x/ is renamed x.remote/ there, not replaced
			"both": {tree: map[string]string{"x": "local file\n", "x.remote": "/", "x.remote/in": "remote in\n"}},
		},
	},
	{
		// a directory deleted here and changed inside there: one conflict
		kind: "delete/modify", f: "d", base: map[string]string{"d/a": "a\n", "d/b": "b\n"},
		local: remove("d"), remote: edit("d/a", "remote a\n"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{}, backRem: []string{"remote a\n", "b\n"}},
			"remote": {tree: map[string]string{"d": "/", "d/a": "remote a\n", "d/b": "b\n"}},
			"both":   {tree: map[string]string{"d": "/", "d/a": "remote a\n", "d/b": "b\n"}},
		},
	},
	{
		// and the reverse: changed inside here, deleted there
		kind: "modify/delete", f: "d", base: map[string]string{"d/a": "a\n", "d/b": "b\n"},
		local: edit("d/a", "local a\n"), remote: remove("d"),
		want: map[string]outcomeWant{
			"local":  {tree: map[string]string{"d": "/", "d/a": "local a\n", "d/b": "b\n"}},
			"remote": {tree: map[string]string{}, backLocal: []string{"local a\n", "b\n"}},
			"both":   {tree: map[string]string{"d": "/", "d/a": "local a\n", "d/b": "b\n"}},
		},
	},
}

// bystanders are synced with every conflict and must stay as they are;
// they are enough that resolving a directory conflict does not delete half
// of a side's files (which sync refuses without --force).
var bystanders = map[string]string{"other": "o\n", "more/1": "1\n", "more/2": "2\n", "more/3": "3\n"}

// withBystanders returns files and the bystanders.
func withBystanders(files map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{bystanders, files} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// treeOf lists a tree (but what myrrorfs keeps to itself): path ->
// content, "/" for a directory, "-> target" for a symlink.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if tree.Internal(rel) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case fi.IsDir():
			out[rel] = "/"
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "-> " + target
		default:
			out[rel] = read(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// backups returns the contents of the files in a side's backup area.
func backups(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(filepath.Join(root, tree.BackupDir), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			out = append(out, read(t, p))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// makeConflict syncs c's base (and a bystander) into a fresh pair, then
// changes both sides.
func makeConflict(t *testing.T, ssh bool, c resolveCase) pair {
	t.Helper()
	p := syncedPair(t, ssh, withBystanders(c.base))
	c.local(t, p.local)
	c.remote(t, p.remoteDir)
	r := myrrorfs(t, p.args("conflicts")...)
	if r.code != 0 || !strings.Contains(r.stdout, c.kind) || !strings.Contains(r.stdout, c.f) {
		t.Fatalf("conflicts before resolve: %+v", r)
	}
	return p
}

// resolveArgs is `myrrorfs resolve` with the pair's flags (--state, -e).
func (p pair) resolveArgs(extra ...string) []string {
	return append(append([]string{"resolve"}, p.flags...), extra...)
}

// checkResolved syncs p and checks that both sides end as w says, the
// bystander untouched, nothing left in conflict and nothing lost.
func checkResolved(t *testing.T, p pair, w outcomeWant) {
	t.Helper()
	s := myrrorfs(t, p.args("sync", "-y")...)
	if s.code != 0 {
		t.Fatalf("sync after resolve: %+v", s)
	}
	want := map[string]string{"more": "/"}
	for k, v := range bystanders {
		want[k] = v
	}
	for k, v := range w.tree {
		want[k] = v
	}
	for _, side := range []string{p.local, p.remoteDir} {
		if got := treeOf(t, side); !sameMap(got, want) {
			t.Errorf("%s after sync: %v, want %v", side, got, want)
		}
	}
	for _, b := range []struct {
		root string
		want []string
	}{{p.local, w.backLocal}, {p.remoteDir, w.backRem}} {
		got := backups(t, b.root)
		for _, v := range b.want {
			if !contains(got, v) {
				t.Errorf("backup area of %s holds %q, not %q", b.root, got, v)
			}
		}
	}
	if c := myrrorfs(t, p.args("conflicts")...); c.code != 0 || c.stdout != "" {
		t.Errorf("conflicts after sync: %+v", c)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestResolveKeep resolves each conflict kind with each --keep, naming the
// conflict by a path relative to the current directory in LOCAL, then
// syncs: both sides end as the README's table says, and the version that
// lost is in the backup area of its side.
func TestResolveKeep(t *testing.T) {
	for _, c := range resolveCases {
		for _, keep := range []string{"local", "remote", "both"} {
			t.Run(fmt.Sprintf("%s %s keep %s", c.kind, c.f, keep), func(t *testing.T) {
				p := makeConflict(t, false, c)
				r := runIn(t, p.local, p.resolveArgs("--keep", keep, c.f)...)
				if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, c.f+": ") || !strings.Contains(r.stdout, "("+c.kind+")") {
					t.Fatalf("resolve: %+v", r)
				}
				if !strings.Contains(r.stdout, "myrrorfs sync") {
					t.Errorf("resolve does not say what carries it out: %q", r.stdout)
				}
				checkResolved(t, p, c.want[keep])
			})
		}
	}
}

// TestResolveKeepSSH is TestResolveKeep for a few kinds over the real sshd
// (through the agent), naming the conflicts by absolute paths.
func TestResolveKeepSSH(t *testing.T) {
	picks := []struct {
		i    int
		keep string
	}{{0, "both"}, {3, "remote"}, {4, "local"}, {5, "local"}, {6, "remote"}}
	for _, pk := range picks {
		c := resolveCases[pk.i]
		t.Run(fmt.Sprintf("%s %s keep %s", c.kind, c.f, pk.keep), func(t *testing.T) {
			p := makeConflict(t, true, c)
			r := myrrorfs(t, p.resolveArgs("--keep", pk.keep, filepath.Join(p.local, c.f))...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("resolve: %+v", r)
			}
			checkResolved(t, p, c.want[pk.keep])
		})
	}
}

// TestResolveBothFreeName: keeping both puts the remote version under a
// free name when NAME.remote is taken, on either side.
func TestResolveBothFreeName(t *testing.T) {
	p := syncedPair(t, false, withBystanders(map[string]string{"f": "base\n", "f.remote": "taken\n"}))
	write(t, p.local, map[string]string{"f": "local\n"})
	write(t, p.remoteDir, map[string]string{"f": "remote\n", "f.remote-2": "remote only\n"})
	r := runIn(t, p.local, p.resolveArgs("--keep", "both", "f")...)
	if r.code != 0 || !strings.Contains(r.stdout, "f.remote-3") {
		t.Fatalf("resolve: %+v", r)
	}
	checkResolved(t, p, outcomeWant{tree: map[string]string{"f": "local\n", "f.remote": "taken\n", "f.remote-2": "remote only\n", "f.remote-3": "remote\n"}})
}

// TestResolveNotConflicts: each PATH that names no conflict gets one line
// naming it and why, the others are resolved all the same, and the exit
// status is 1. Hostile names are printed escaped.
func TestResolveNotConflicts(t *testing.T) {
	evil := "evil\x1b[31m\nname"
	p := syncedPair(t, false, map[string]string{"same": "s\n", "ahead": "a\n", "d/a": "a\n", "c": "base\n"})
	write(t, p.local, map[string]string{"ahead": "changed\n", "c": "local\n", evil: "local\n"})
	write(t, p.remoteDir, map[string]string{"d/a": "remote\n", "c": "remote\n", evil: "remote\n"})
	remove("d")(t, p.local)
	outside := t.TempDir()
	r := runIn(t, p.local, p.resolveArgs("--keep", "remote", "same", "ahead", "d/a", "missing", outside, "c", evil)...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %+v", r.code, r)
	}
	// one line per path (those not in a pair first)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	wants := [][]string{
		{"myrrorfs: " + outside + ": ", "not in a myrrorfs mount, nor in the LOCAL of a pair"},
		{"myrrorfs: same: ", "both sides agree"},
		{"myrrorfs: ahead: ", "only the local side changed it"},
		{"myrrorfs: d/a: ", "inside a directory conflict", "name d"},
		{"myrrorfs: missing: ", "no such path on either side"},
	}
	if len(lines) != len(wants) {
		t.Fatalf("want %d error lines, got:\n%s", len(wants), r.stderr)
	}
	for i, w := range wants {
		for _, s := range w {
			if !strings.Contains(lines[i], s) {
				t.Errorf("line %q lacks %q", lines[i], s)
			}
		}
	}
	if !strings.Contains(r.stdout, "c: remote version kept (modify/modify)") ||
		!strings.Contains(r.stdout, `"evil\x1b[31m\nname": remote version kept (create/create)`) {
		t.Fatalf("stdout: %q", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, "\x1b") {
		t.Fatal("an escape sequence reached the output")
	}
	s := myrrorfs(t, p.args("sync", "-y")...)
	if s.code != 3 { // d stays a conflict
		t.Fatalf("sync: %+v", s)
	}
	if read(t, filepath.Join(p.local, "c")) != "remote\n" || read(t, filepath.Join(p.local, evil)) != "remote\n" {
		t.Fatal("the conflicts named were not resolved")
	}

	// a hostile name that is no conflict is escaped in the error too
	r = runIn(t, p.local, p.resolveArgs("--keep", "local", "x\x1b]0;title\a")...)
	oneLine(t, r, `"x\x1b]0;title\a": `, "no such path")
	// without --keep, not on a terminal
	oneLine(t, runIn(t, p.local, p.resolveArgs("c")...), "terminal", "--keep")
	oneLine(t, runIn(t, p.local, p.resolveArgs("--keep", "all", "c")...), "--keep", "local, remote, both or merged")
	oneLine(t, runIn(t, p.local, p.resolveArgs("--keep", "local")...), "PATH")
}

// TestResolveSharedLocal: two pairs with the same LOCAL need --remote.
func TestResolveSharedLocal(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"f": "base\n"})
	other := t.TempDir()
	q := p
	q.remoteDir, q.remote = other, other
	if r := myrrorfs(t, q.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("sync of the second pair: %+v", r)
	}
	write(t, p.local, map[string]string{"f": "local\n"})
	write(t, p.remoteDir, map[string]string{"f": "remote\n"})
	oneLine(t, runIn(t, p.local, p.resolveArgs("--keep", "remote", "f")...), "2 pairs have LOCAL", p.remoteDir, other, "--remote")
	r := runIn(t, p.local, p.resolveArgs("--keep", "remote", "--remote", p.remote, "f")...)
	if r.code != 0 {
		t.Fatalf("resolve --remote: %+v", r)
	}
	if s := myrrorfs(t, p.args("sync", "-y")...); s.code != 0 || read(t, filepath.Join(p.local, "f")) != "remote\n" {
		t.Fatalf("sync: %+v", s)
	}
}

// TestResolveMount: on a mounted pair, resolve goes through the mount's
// daemon, whether PATH lies in the view (a sibling's name, or the bare
// name) or in LOCAL, and the view collapses before resolve returns; the
// commit then carries the resolutions out.
func TestResolveMount(t *testing.T) {
	p := syncedPair(t, false, withBystanders(map[string]string{"a.txt": "base\n", "t.txt": "base\n", "d/x": "x\n"}))
	write(t, p.local, map[string]string{"a.txt": "local a\n", "t.txt": "local t\n"})
	write(t, p.remoteDir, map[string]string{"a.txt": "remote a\n", "t.txt": "remote t\n", "d/x": "remote x\n"})
	remove("d")(t, p.local)
	mnt, _ := mountView(t, p)
	names := func() string {
		des, err := os.ReadDir(mnt)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, de := range des {
			ns = append(ns, de.Name())
		}
		return strings.Join(ns, " ")
	}
	// the text files are merged too: their overlapping edits show as a
	// third sibling
	if got := names(); got != "a.txt.local a.txt.merged a.txt.remote d.remote more other t.txt.local t.txt.merged t.txt.remote" {
		t.Fatalf("view before: %s", got)
	}

	// no conflict, or inside one: one line each, nothing changes
	r := runIn(t, mnt, "resolve", "--keep", "local", "other", "d.remote/x", "nope")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 3 || !strings.Contains(r.stderr, "other: not a conflict: both sides agree") ||
		!strings.Contains(r.stderr, "d.remote/x: inside one version of a directory conflict, which resolves as a whole: name d") {
		t.Fatalf("resolve of no conflicts in the view: %+v", r)
	}

	// a sibling's name in the view
	r = myrrorfs(t, "resolve", "--keep", "remote", filepath.Join(mnt, "a.txt.local"))
	if r.code != 0 || !strings.Contains(r.stdout, "a.txt: remote version kept (modify/modify)") || !strings.Contains(r.stdout, "myrrorfs commit "+mnt) {
		t.Fatalf("resolve in the view: %+v", r)
	}
	if got := names(); got != "a.txt d.remote more other t.txt.local t.txt.merged t.txt.remote" {
		t.Fatalf("view right after resolve: %s", got)
	}
	if got := read(t, filepath.Join(mnt, "a.txt")); got != "remote a\n" {
		t.Fatalf("a.txt in the view = %q", got)
	}
	// the bare name of a directory conflict, from inside the mount
	if r := runIn(t, mnt, "resolve", "--keep", "local", "d"); r.code != 0 {
		t.Fatalf("resolve d in the view: %+v", r)
	}
	// a path in LOCAL of the mounted pair: its daemon resolves
	r = runIn(t, p.local, p.resolveArgs("--keep", "both", "t.txt")...)
	if r.code != 0 || !strings.Contains(r.stdout, "t.txt: both kept, the remote version as t.txt.remote") || !strings.Contains(r.stdout, "myrrorfs commit --state "+p.state+" "+mnt) {
		t.Fatalf("resolve in LOCAL of a mounted pair: %+v", r)
	}
	if got := names(); got != "a.txt more other t.txt t.txt.remote" {
		t.Fatalf("view after the resolutions: %s", got)
	}
	if c := myrrorfs(t, "commit", "-y", "--state", p.state, mnt); c.code != 0 {
		t.Fatalf("commit: %+v", c)
	}
	for _, side := range []string{p.local, p.remoteDir} {
		got := treeOf(t, side)
		want := withBystanders(map[string]string{"more": "/", "a.txt": "remote a\n", "t.txt": "local t\n", "t.txt.remote": "remote t\n"})
		if !sameMap(got, want) {
			t.Errorf("%s after commit: %v, want %v", side, got, want)
		}
	}
	if !contains(backups(t, p.remoteDir), "remote x\n") || !contains(backups(t, p.local), "local a\n") {
		t.Errorf("backups: local %q, remote %q", backups(t, p.local), backups(t, p.remoteDir))
	}
}

// ptyRun is the command running on a pseudo-terminal, and what it wrote.
type ptyRun struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  strings.Builder
	seen int // how far expect has read
	done chan struct{}
}

// startPty runs the binary with args in dir on a new pseudo-terminal.
func startPty(t *testing.T, dir string, args ...string) *ptyRun {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	r := &ptyRun{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			r.mu.Lock()
			r.out.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		tty.Close()
	})
	return r
}

// text is what the command wrote so far, its line ends made "\n".
func (r *ptyRun) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.ReplaceAll(r.out.String(), "\r\n", "\n")
}

// expect waits until the command wrote each of want, in order, after what
// the last expect saw.
func (r *ptyRun) expect(want ...string) {
	r.t.Helper()
	for _, w := range want {
		deadline := time.Now().Add(30 * time.Second)
		for {
			s := r.text()
			if i := strings.Index(s[r.seen:], w); i >= 0 {
				r.seen += i + len(w)
				break
			}
			if time.Now().After(deadline) {
				r.t.Fatalf("no %q in the output; after what was expected so far:\n%s", w, s[r.seen:])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// send types a line.
func (r *ptyRun) send(line string) {
	r.t.Helper()
	if _, err := r.tty.Write([]byte(line + "\n")); err != nil {
		r.t.Fatal(err)
	}
}

// wait waits for the command's end and returns its exit status.
func (r *ptyRun) wait() int {
	r.t.Helper()
	err := r.cmd.Wait()
	<-r.done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return 0
}

// TestResolveInteractive drives resolve without --keep through a
// pseudo-terminal: it shows each conflict under the current directory
// (both versions' type, size and time, a short diff of text files, with
// the files' escape sequences escaped), asks, and records each answer at
// once.
func TestResolveInteractive(t *testing.T) {
	p := syncedPair(t, false, withBystanders(map[string]string{
		"a.txt": "one\ntwo\nthree\nfour\n", "b.txt": "base\n", "c.txt": "base\n", "d/x": "x\n"}))
	write(t, p.local, map[string]string{"a.txt": "one\ntwo\nthree\nfour\n5 local\n", "b.txt": "local b\n", "c.txt": "x\x1b[2Jy\n"})
	write(t, p.remoteDir, map[string]string{"a.txt": "one\nTWO\nthree\nfour\n", "b.txt": "remote b\n", "c.txt": "remote c\n", "d/x": "remote x\n"})
	remove("d")(t, p.local)

	r := startPty(t, p.local, p.resolveArgs()...)
	r.expect("[1/4] modify/modify  a.txt", "  local:  file, 27 B, ", "  remote: file, 19 B, ",
		"--- local", "+++ remote", "@@ -1,5 +1,4 @@", " one", "-two", "+TWO", " three", " four", "-5 local",
		// the edits do not overlap: the merge is clean, and offered
		"keep [l]ocal / [r]emote / [b]oth / [m]erged / [s]kip / [q]uit? ")
	r.send("x")
	r.expect("answer l, r, b, m, s or q", "keep [l]ocal")
	r.send("l")
	r.expect("a.txt: local version kept (modify/modify)")
	// a.txt is resolved already, before the next answer
	if c := myrrorfs(t, p.args("conflicts")...); strings.Contains(c.stdout, "a.txt") {
		t.Errorf("a.txt still a conflict while resolve asks about the next one:\n%s", c.stdout)
	}
	r.expect("[2/4] modify/modify  b.txt", "-local b", "+remote b", "keep [l]ocal")
	r.send("b")
	r.expect("b.txt: both kept, the remote version as b.txt.remote (modify/modify)")
	r.expect("[3/4] modify/modify  c.txt", `-x\x1b[2Jy`, "+remote c", "keep [l]ocal")
	r.send("s")
	r.expect("[4/4] delete/modify  d", "  local:  deleted", "  remote: directory, 1 entries inside (1 changed since the last sync)", "keep [l]ocal")
	r.send("remote")
	r.expect("d: remote version kept (delete/modify)", "to carry this out: myrrorfs sync --state "+p.state+" "+p.local+" "+p.remote)
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.text())
	}
	if strings.Contains(r.text(), "\x1b[2J") {
		t.Fatal("a file's escape sequence reached the terminal")
	}

	// PATHs name the conflicts to walk; q stops
	r = startPty(t, p.local, p.resolveArgs("c.txt")...)
	r.expect("[1/1] modify/modify  c.txt", "keep [l]ocal")
	r.send("q")
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d after q:\n%s", code, r.text())
	}
	if strings.Contains(r.text(), "carry this out") {
		t.Fatalf("quit without resolving says something was resolved:\n%s", r.text())
	}

	s := myrrorfs(t, p.args("sync", "-y")...)
	if s.code != 3 {
		t.Fatalf("sync: %+v", s)
	}
	want := withBystanders(map[string]string{"more": "/", "a.txt": "one\ntwo\nthree\nfour\n5 local\n", "b.txt": "local b\n", "b.txt.remote": "remote b\n", "d": "/", "d/x": "remote x\n"})
	for _, side := range []struct{ root, c string }{{p.local, "x\x1b[2Jy\n"}, {p.remoteDir, "remote c\n"}} {
		want["c.txt"] = side.c
		if got := treeOf(t, side.root); !sameMap(got, want) {
			t.Errorf("%s after sync: %v, want %v", side.root, got, want)
		}
	}
}

// TestResolveWatch: a pair held by `sync --watch` is resolved by it, and
// its next round, which the resolution starts, carries it out.
func TestResolveWatch(t *testing.T) {
	p := syncedPair(t, false, withBystanders(map[string]string{"f": "base\n"}))
	output := startWatch(t, p)
	write(t, p.local, map[string]string{"f": "local\n"})
	write(t, p.remoteDir, map[string]string{"f": "remote\n"})
	within(t, 10*time.Second, "the conflict reported", func() error {
		if !strings.Contains(output(), "conflict, left untouched: f") {
			return fmt.Errorf("output %q", output())
		}
		return nil
	})
	r := runIn(t, p.local, p.resolveArgs("--keep", "remote", "f")...)
	if r.code != 0 || !strings.Contains(r.stdout, "f: remote version kept (modify/modify)") || !strings.Contains(r.stdout, "sync --watch carries this out") {
		t.Fatalf("resolve: %+v", r)
	}
	within(t, 5*time.Second, "the resolution carried out", holds(filepath.Join(p.local, "f"), "remote\n"))
	if !contains(backups(t, p.local), "local\n") {
		t.Errorf("local backups: %q", backups(t, p.local))
	}
}

// TestResolveInteractiveMount walks through the conflicts of a mount from
// inside it: the mount's daemon describes them (with the names the view
// shows) and resolves each answer in the view.
func TestResolveInteractiveMount(t *testing.T) {
	p := syncedPair(t, false, withBystanders(map[string]string{"c": "base\n", "e": "base\n"}))
	write(t, p.local, map[string]string{"c": "local c\n", "e": "local e\n"})
	write(t, p.remoteDir, map[string]string{"c": "remote c\n", "e": "remote e\n"})
	mnt, _ := mountView(t, p)
	r := startPty(t, mnt, "resolve")
	r.expect("[1/2] modify/modify  c", "  in the view: c.local, c.remote", "-local c", "+remote c", "keep [l]ocal")
	r.send("r")
	r.expect("c: remote version kept (modify/modify)", "[2/2] modify/modify  e", "keep [l]ocal")
	if got := read(t, filepath.Join(mnt, "c")); got != "remote c\n" {
		t.Errorf("c in the view while resolve asks about e: %q", got)
	}
	r.send("s")
	r.expect("to carry this out: myrrorfs commit " + mnt)
	if code := r.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.text())
	}
	if _, err := os.Lstat(filepath.Join(mnt, "e.local")); err != nil {
		t.Errorf("e, skipped, is no longer a conflict in the view: %v", err)
	}
}
