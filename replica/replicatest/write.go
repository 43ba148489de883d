package replicatest

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

var writeTests = []subtest{
	{"CreateTemp", testCreateTemp},
	{"CreateTempPerm", testCreateTempPerm},
	{"RenameReplacesFile", testRenameFile},
	{"RenameReplacesSymlink", testRenameSymlink},
	{"RenameDir", testRenameDir},
	{"RenameErrors", testRenameErrors},
	{"Mkdir", testMkdir},
	{"Symlink", testSymlink},
	{"Remove", testRemove},
	{"RemoveNonEmptyDir", testRemoveNonEmpty},
	{"Chmod", testChmod},
	{"Chtimes", testChtimes},
	{"Link", testLink},
	{"Copier", testCopier},
}

func testCreateTemp(t *testing.T, e *env) {
	e.mkdir("sub", 0o755)
	seen := map[string]bool{}
	for _, dir := range []string{"", "sub", "", "sub"} {
		p, w, err := e.r.CreateTemp(dir, 0o644)
		if err != nil {
			t.Fatalf("CreateTemp %q: %v", dir, err)
		}
		if tree.Parent(p) != dir || !strings.HasPrefix(tree.Base(p), tree.TempPrefix) || seen[p] {
			t.Errorf("CreateTemp %q = %q; want a fresh %s* name in that dir", dir, p, tree.TempPrefix)
		}
		seen[p] = true
		if _, err := io.WriteString(w, "content of "+p); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("close %s: %v", p, err)
		}
		if got := e.read(p); got != "content of "+p {
			t.Errorf("content of %s after Close = %q", p, got)
		}
	}
	_, _, err := e.r.CreateTemp("missing", 0o644)
	wantNotExist(t, "CreateTemp in a missing dir", err)
}

func testCreateTempPerm(t *testing.T, e *env) {
	for _, perm := range []uint32{0o755, 0o600, 0o644, 0o777, 0o400} {
		p, w, err := e.r.CreateTemp("", perm)
		if err != nil {
			t.Fatalf("CreateTemp %o: %v", perm, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("close %s: %v", p, err)
		}
		if info := e.lstat(p); info.Perm != perm || info.Kind != tree.File || info.Size != 0 {
			t.Errorf("CreateTemp(%o) made %+v; want an empty file with exactly that perm", perm, info)
		}
	}
}

func testRenameFile(t *testing.T, e *env) {
	e.write("dst", "old", 0o644)
	e.write("src", "new", 0o755)
	before := e.lstat("src").FP
	if err := e.r.Rename("src", "dst"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	e.absent("src")
	if got, info := e.read("dst"), e.lstat("dst"); got != "new" || info.Perm != 0o755 {
		t.Errorf("dst after rename = %q perm %o; want new, 0755", got, info.Perm)
	}
	if after := e.lstat("dst").FP; before.Ino != 0 && after.Ino != before.Ino {
		t.Errorf("rename changed the inode: %d then %d", before.Ino, after.Ino)
	}
}

func testRenameSymlink(t *testing.T, e *env) {
	e.write("target", "t", 0o644)
	e.symlink("target", "link")
	e.write("file", "f", 0o644)
	if err := e.r.Rename("file", "link"); err != nil {
		t.Fatalf("Rename file onto symlink: %v", err)
	}
	if info := e.lstat("link"); info.Kind != tree.File || e.read("link") != "f" || e.read("target") != "t" {
		t.Errorf("renaming a file onto a symlink: link is %v, target %q; want the file, target untouched", info.Kind, e.read("target"))
	}
	e.symlink("elsewhere", "link2")
	if err := e.r.Rename("link2", "target"); err != nil {
		t.Fatalf("Rename symlink onto file: %v", err)
	}
	if got, err := e.r.Readlink("target"); err != nil || got != "elsewhere" {
		t.Errorf("Readlink target after rename = %q, %v; want elsewhere", got, err)
	}
}

func testRenameDir(t *testing.T, e *env) {
	e.mkdir("a", 0o755)
	e.mkdir("a/b", 0o755)
	e.write("a/b/f", "deep", 0o644)
	e.mkdir("empty", 0o755)
	if err := e.r.Rename("a", "z"); err != nil {
		t.Fatalf("Rename dir: %v", err)
	}
	e.absent("a")
	if got := e.read("z/b/f"); got != "deep" {
		t.Errorf("z/b/f = %q after renaming the dir", got)
	}
	if err := e.r.Rename("z", "empty"); err != nil {
		t.Fatalf("Rename dir onto an empty dir: %v", err)
	}
	if got := e.read("empty/b/f"); got != "deep" {
		t.Errorf("empty/b/f = %q after renaming onto an empty dir", got)
	}
}

func testRenameErrors(t *testing.T, e *env) {
	e.mkdir("d1", 0o755)
	e.write("d1/f", "1", 0o644)
	e.mkdir("d2", 0o755)
	e.write("d2/g", "2", 0o644)
	e.write("file", "x", 0o644)
	wantErr(t, "Rename dir onto a non-empty dir", e.r.Rename("d1", "d2"))
	wantErr(t, "Rename file onto a dir", e.r.Rename("file", "d2"))
	wantNotExist(t, "Rename missing", e.r.Rename("missing", "other"))
	wantNotExist(t, "Rename into a missing dir", e.r.Rename("file", "nodir/file"))
	if e.read("d1/f") != "1" || e.read("d2/g") != "2" || e.read("file") != "x" {
		t.Errorf("a failed rename changed something")
	}
}

func testMkdir(t *testing.T, e *env) {
	for p, perm := range map[string]uint32{"d": 0o755, "private": 0o700, "open": 0o777} {
		e.mkdir(p, perm)
		if info := e.lstat(p); info.Kind != tree.Dir || info.Perm != perm {
			t.Errorf("Mkdir(%o) made %+v", perm, info)
		}
	}
	e.mkdir("d/sub", 0o755)
	wantNotExist(t, "Mkdir with a missing parent", e.r.Mkdir("no/sub", 0o755))
	// anything at the path stays, and the error says something is there
	e.write("file", "kept", 0o644)
	e.symlink("d", "link")
	for _, p := range []string{"d", "file", "link"} {
		before := e.lstat(p)
		if err := e.r.Mkdir(p, 0o700); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Mkdir over an existing %s: %v; want an error wrapping fs.ErrExist", before.Kind, err)
		}
		if after := e.lstat(p); after.Kind != before.Kind || after.Perm != before.Perm {
			t.Errorf("Mkdir over %s changed it: %+v, was %+v", p, after, before)
		}
	}
}

func testSymlink(t *testing.T, e *env) {
	e.symlink("does/not/../exist", "dangling")
	if got, err := e.r.Readlink("dangling"); err != nil || got != "does/not/../exist" {
		t.Errorf("dangling symlink target = %q, %v", got, err)
	}
	if info := e.lstat("dangling"); info.Kind != tree.Symlink {
		t.Errorf("Lstat dangling = %v", info.Kind)
	}
	wantErr(t, "Symlink over an existing entry", e.r.Symlink("x", "dangling"))
	wantNotExist(t, "Symlink in a missing dir", e.r.Symlink("x", "no/l"))
}

func testRemove(t *testing.T, e *env) {
	e.write("f", "x", 0o644)
	e.symlink("f", "l")
	e.mkdir("d", 0o755)
	for _, p := range []string{"l", "d"} {
		if err := e.r.Remove(p); err != nil {
			t.Fatalf("Remove %s: %v", p, err)
		}
		e.absent(p)
	}
	if e.read("f") != "x" {
		t.Errorf("removing a symlink touched its target")
	}
	if err := e.r.Remove("f"); err != nil {
		t.Fatalf("Remove f: %v", err)
	}
	e.absent("f")
	wantNotExist(t, "Remove missing", e.r.Remove("f"))
}

func testRemoveNonEmpty(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	e.write("d/f", "x", 0o644)
	wantErr(t, "Remove of a non-empty dir", e.r.Remove("d"))
	if e.read("d/f") != "x" {
		t.Errorf("failed Remove changed the dir's content")
	}
}

func testChmod(t *testing.T, e *env) {
	e.write("f", "x", 0o600)
	e.mkdir("d", 0o755)
	for _, c := range []struct {
		p    string
		perm uint32
	}{{"f", 0o755}, {"f", 0o644}, {"f", 0o000}, {"d", 0o700}, {"d", 0o2775}} {
		if err := e.r.Chmod(c.p, c.perm); err != nil {
			t.Fatalf("Chmod %s %o: %v", c.p, c.perm, err)
		}
		if got := e.lstat(c.p).Perm; got != c.perm {
			t.Errorf("Chmod %s %o: perm is %o", c.p, c.perm, got)
		}
	}
	e.r.Chmod("f", 0o644)
	e.symlink("f", "l")
	wantErr(t, "Chmod of a symlink", e.r.Chmod("l", 0o777))
	if got := e.lstat("f").Perm; got != 0o644 {
		t.Errorf("Chmod of a symlink changed its target's perm to %o", got)
	}
	wantNotExist(t, "Chmod missing", e.r.Chmod("missing", 0o644))
}

func testChtimes(t *testing.T, e *env) {
	e.write("f", "x", 0o644)
	e.mkdir("d", 0o755)
	want := time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, time.UTC).UnixNano()
	for _, p := range []string{"f", "d"} {
		if err := e.r.Chtimes(p, want); err != nil {
			t.Fatalf("Chtimes %s: %v", p, err)
		}
		if got := e.lstat(p).MtimeNs; got > want || want-got >= int64(time.Second) {
			t.Errorf("Chtimes %s: mtime %d; want %d (or whole seconds below it)", p, got, want)
		}
	}
	e.symlink("f", "l")
	before := e.lstat("f").MtimeNs
	wantErr(t, "Chtimes of a symlink", e.r.Chtimes("l", 0))
	if after := e.lstat("f").MtimeNs; after != before {
		t.Errorf("Chtimes of a symlink changed its target's mtime")
	}
	wantNotExist(t, "Chtimes missing", e.r.Chtimes("missing", want))
}

func testLink(t *testing.T, e *env) {
	e.write("f", "shared", 0o644)
	err := e.r.Link("f", "g")
	if errors.Is(err, replica.ErrUnsupported) {
		e.absent("g")
		return
	}
	if err != nil {
		t.Fatalf("Link: %v (want success or replica.ErrUnsupported)", err)
	}
	if e.read("g") != "shared" {
		t.Errorf("hard link content differs")
	}
	if a, b := e.lstat("f").FP, e.lstat("g").FP; a.Ino != 0 && a.Ino != b.Ino {
		t.Errorf("hard link has inode %d, original %d", b.Ino, a.Ino)
	}
	wantErr(t, "Link onto an existing name", e.r.Link("f", "g"))
}

func testCopier(t *testing.T, e *env) {
	c, ok := e.r.(replica.Copier)
	if !ok {
		t.Skip("replica has no server-side copy")
	}
	e.mkdir("d", 0o755)
	e.write("src", "copied content", 0o600)
	p, err := c.CopyTemp("src", "d", 0o751)
	if err != nil {
		t.Fatalf("CopyTemp: %v", err)
	}
	if tree.Parent(p) != "d" || !strings.HasPrefix(tree.Base(p), tree.TempPrefix) {
		t.Errorf("CopyTemp made %q; want a temporary in d", p)
	}
	if got, info := e.read(p), e.lstat(p); got != "copied content" || info.Perm != 0o751 {
		t.Errorf("copy = %q perm %o", got, info.Perm)
	}
	before := e.names("d")
	_, err = c.CopyTemp("missing", "d", 0o644)
	wantNotExist(t, "CopyTemp of a missing file", err)
	if after := e.names("d"); !maps.Equal(before, after) {
		t.Errorf("failed CopyTemp left %v", after)
	}
}
