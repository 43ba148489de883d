package replicatest

import (
	"maps"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

var readTests = []subtest{
	{"LstatFile", testLstatFile},
	{"LstatDirAndRoot", testLstatDir},
	{"LstatSymlink", testLstatSymlink},
	{"LstatMissing", testLstatMissing},
	{"ReadDir", testReadDir},
	{"ReadDirErrors", testReadDirErrors},
	{"Readlink", testReadlink},
	{"Open", testOpen},
	{"OpenRefusesNonFiles", testOpenNonFiles},
}

func testLstatFile(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	e.write("d/f", "hello", 0o640)
	info := e.lstat("d/f")
	if info.Name != "f" || info.Kind != tree.File || info.Perm != 0o640 || info.Size != 5 {
		t.Errorf("Lstat d/f = %+v; want name f, file, perm 0640, size 5", info)
	}
	if info.FP.Size != 5 || info.FP.Mode != modeReg|0o640 || info.FP.MtimeNs != info.MtimeNs || info.MtimeNs == 0 {
		t.Errorf("Lstat d/f fingerprint = %+v; want size 5, mode %o, mtime %d (non-zero)", info.FP, modeReg|0o640, info.MtimeNs)
	}
	if again := e.lstat("d/f"); again.FP != info.FP {
		t.Errorf("fingerprint of an untouched file changed: %+v then %+v", info.FP, again.FP)
	}
}

func testLstatDir(t *testing.T, e *env) {
	e.mkdir("d", 0o750)
	info := e.lstat("d")
	if info.Name != "d" || info.Kind != tree.Dir || info.Perm != 0o750 || info.FP.Mode&modeType != modeDir {
		t.Errorf("Lstat d = %+v; want dir d with perm 0750", info)
	}
	if root := e.lstat(""); root.Kind != tree.Dir || root.Name != "" {
		t.Errorf("Lstat of the root = %+v; want a dir named \"\"", root)
	}
}

func testLstatSymlink(t *testing.T, e *env) {
	e.write("target", "content", 0o644)
	e.symlink("target", "link")
	info := e.lstat("link")
	if info.Kind != tree.Symlink || info.Name != "link" || info.FP.Mode&modeType != modeLink {
		t.Errorf("Lstat link = %+v; want the symlink itself", info)
	}
}

func testLstatMissing(t *testing.T, e *env) {
	e.write("f", "x", 0o644)
	for _, p := range []string{"missing", "nodir/missing"} {
		_, err := e.r.Lstat(p)
		wantNotExist(t, "Lstat "+p, err)
	}
	_, err := e.r.Lstat("f/below-a-file")
	wantErr(t, "Lstat below a file", err)
}

func testReadDir(t *testing.T, e *env) {
	e.write("a", "1", 0o644)
	e.mkdir("b", 0o755)
	e.symlink("a", "c")
	e.write("b/inner", "22", 0o600)
	want := map[string]tree.Kind{"a": tree.File, "b": tree.Dir, "c": tree.Symlink}
	if got := e.names(""); !maps.Equal(got, want) {
		t.Errorf("ReadDir root = %v; want %v", got, want)
	}
	infos, err := e.r.ReadDir("b")
	if err != nil || len(infos) != 1 {
		t.Fatalf("ReadDir b = %+v, %v; want one entry", infos, err)
	}
	if in := infos[0]; in.Name != "inner" || in.Size != 2 || in.Perm != 0o600 || in.FP != e.lstat("b/inner").FP {
		t.Errorf("ReadDir b entry = %+v; want inner, size 2, perm 0600, Lstat's fingerprint", in)
	}
	e.mkdir("empty", 0o755)
	if got := e.names("empty"); len(got) != 0 {
		t.Errorf("ReadDir of an empty dir = %v", got)
	}
}

func testReadDirErrors(t *testing.T, e *env) {
	e.write("f", "x", 0o644)
	e.mkdir("d", 0o755)
	e.symlink("d", "l")
	_, err := e.r.ReadDir("missing")
	wantNotExist(t, "ReadDir missing", err)
	_, err = e.r.ReadDir("f")
	wantErr(t, "ReadDir of a file", err)
	_, err = e.r.ReadDir("l")
	wantErr(t, "ReadDir of a symlink to a directory", err)
}

func testReadlink(t *testing.T, e *env) {
	targets := []string{"plain", "../outside/x", "/absolute/path", "with space", "dir/", "ünï"}
	for i, target := range targets {
		p := "l" + string(rune('a'+i))
		e.symlink(target, p)
		if got, err := e.r.Readlink(p); err != nil || got != target {
			t.Errorf("Readlink %s = %q, %v; want %q", p, got, err, target)
		}
	}
	e.write("f", "x", 0o644)
	_, err := e.r.Readlink("f")
	wantErr(t, "Readlink of a file", err)
	_, err = e.r.Readlink("missing")
	wantNotExist(t, "Readlink missing", err)
}

func testOpen(t *testing.T, e *env) {
	big := make([]byte, 1<<20+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	cases := map[string]string{"empty": "", "small": "hello\n", "big": string(big)}
	for p, content := range cases {
		e.write(p, content, 0o644)
	}
	for p, content := range cases {
		if got := e.read(p); got != content {
			t.Errorf("Open %s: got %d bytes; want %d", p, len(got), len(content))
		}
	}
	_, err := e.r.Open("missing")
	wantNotExist(t, "Open missing", err)
}

func testOpenNonFiles(t *testing.T, e *env) {
	e.write("f", "secret", 0o644)
	e.symlink("f", "l")
	e.mkdir("d", 0o755)
	for _, p := range []string{"l", "d"} {
		rc, err := e.r.Open(p)
		if err == nil {
			rc.Close()
			t.Errorf("Open %s succeeded; want an error (not a regular file)", p)
		}
	}
}
