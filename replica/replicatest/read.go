package replicatest

import (
	"bytes"
	"io"
	"maps"
	"os"
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
	{"OpenSizes", testOpenSizes},
	{"OpenShrinksWhileReading", testOpenShrinks},
	{"OpenGrowsWhileReading", testOpenGrows},
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

// content is n bytes that differ from one block to the next.
func content(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ seed
	}
	return b
}

// readBoth reads p twice, through Read and through io.Copy (which may use
// WriteTo), and fails unless both give want.
func (e *env) readBoth(p string, want []byte) {
	e.t.Helper()
	if got := e.read(p); got != string(want) {
		e.t.Errorf("Open %s, Read: got %d bytes; want %d (equal: %v)", p, len(got), len(want), got == string(want))
	}
	rc, err := e.r.Open(p)
	if err != nil {
		e.t.Fatalf("Open %s: %v", p, err)
	}
	defer rc.Close()
	var got bytes.Buffer
	n, err := io.Copy(struct{ io.Writer }{&got}, rc)
	if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
		e.t.Errorf("Open %s, io.Copy: %d bytes, %v; want %d (equal: %v)", p, n, err, len(want), bytes.Equal(got.Bytes(), want))
	}
}

// Every byte arrives whatever the size against the chunks a replica reads
// in (SFTP packets, agent reads) and how many it keeps in flight.
func testOpenSizes(t *testing.T, e *env) {
	sizes := []int{1, 32<<10 - 1, 32 << 10, 64<<10 + 1, 192<<10 - 1, 192 << 10, 192<<10 + 1,
		252<<10 - 1, 252 << 10, 252<<10 + 1, 256 << 10, 9<<20 + 3}
	for i, size := range sizes {
		p := "f" + string(rune('a'+i))
		want := content(size, byte(i))
		e.write(p, string(want), 0o644)
		e.readBoth(p, want)
	}
}

// A file that shrinks while it is read gives fewer bytes than it had, all
// of them its first bytes: never its old length, never a hole. (Callers
// that need the whole of one version also check the hash.)
func testOpenShrinks(t *testing.T, e *env) {
	e.needDisk()
	old := content(24<<20, 1)
	if err := os.WriteFile(e.onDisk("f"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := e.r.Open("f")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatalf("read the first bytes: %v", err)
	}
	if err := os.Truncate(e.onDisk("f"), 1<<20); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc)
	got := append(first, rest...)
	if err == nil && (len(got) >= len(old) || !bytes.Equal(got, old[:len(got)])) {
		t.Errorf("read %d bytes of a file cut from %d to %d bytes during the read (its first bytes: %v); want fewer than %d, its first bytes",
			len(got), len(old), 1<<20, bytes.Equal(got, old[:min(len(got), len(old))]), len(old))
	}
}

// A file that grows while it is read gives its first bytes: all of its
// old content, and maybe some or all of what was added.
func testOpenGrows(t *testing.T, e *env) {
	e.needDisk()
	old := content(2<<20, 2)
	grown := append(bytes.Clone(old), content(2<<20, 3)...)
	if err := os.WriteFile(e.onDisk("f"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := e.r.Open("f")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(rc, first); err != nil {
		t.Fatalf("read the first bytes: %v", err)
	}
	f, err := os.OpenFile(e.onDisk("f"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(grown[len(old):])
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rc)
	got := append(first, rest...)
	if err != nil || len(got) < len(old) || !bytes.Equal(got, grown[:len(got)]) {
		t.Errorf("read %d bytes, %v, of a file grown from %d to %d bytes during the read (its first bytes: %v); want at least %d, its first bytes",
			len(got), err, len(old), len(grown), bytes.Equal(got, grown[:min(len(got), len(grown))]), len(old))
	}
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
