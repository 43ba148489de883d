package sftp

import (
	"context"
	"io"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	pkgsftp "github.com/pkg/sftp"

	"github.com/myrrorfs/myrrorfs/tree"
)

// fakeServerEnv makes the test binary, run as the "ssh command", serve
// SFTP on its stdin and stdout instead of running tests.
const fakeServerEnv = "MYRRORFS_TEST_FAKE_SFTP"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServerEnv) == "hostile" {
		serveHostile()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// stdio joins stdin and stdout into one connection.
type stdio struct{}

func (stdio) Read(b []byte) (int, error)  { return os.Stdin.Read(b) }
func (stdio) Write(b []byte) (int, error) { return os.Stdout.Write(b) }
func (stdio) Close() error                { return os.Stdout.Close() }

// hostileNames are what a hostile server lists besides "ok".
var hostileNames = []string{".", "..", "a/b", "../etc", "x\x00y", "", "x/ok"}

// serveHostile serves an in-memory tree whose directory listings hold
// names that must never be acted on.
func serveHostile() {
	h := pkgsftp.InMemHandler()
	h.FileList = hostileLister{h.FileList}
	pkgsftp.NewRequestServer(stdio{}, h).Serve()
}

type hostileLister struct{ pkgsftp.FileLister }

func (l hostileLister) Filelist(r *pkgsftp.Request) (pkgsftp.ListerAt, error) {
	if r.Method != "List" {
		return l.FileLister.Filelist(r)
	}
	infos := []os.FileInfo{fakeInfo("ok")}
	for _, n := range hostileNames {
		infos = append(infos, fakeInfo(n))
	}
	return listerAt(infos), nil
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if off+int64(n) == int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}

// fakeInfo is a regular file named name.
type fakeInfo string

func (f fakeInfo) Name() string       { return string(f) }
func (f fakeInfo) Size() int64        { return 3 }
func (f fakeInfo) Mode() fs.FileMode  { return 0o644 }
func (f fakeInfo) ModTime() time.Time { return time.Unix(1e9, 0) }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

func TestReadDirDropsHostileNames(t *testing.T) {
	t.Setenv(fakeServerEnv, "hostile")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Dial(ctx, Options{SSHCommand: strconv.Quote(exe), Host: "fake", Path: "/"})
	if err != nil {
		t.Fatalf("Dial to the fake server: %v", err)
	}
	defer r.Close()
	infos, err := r.ReadDir("")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range infos {
		names = append(names, in.Name)
	}
	sort.Strings(names)
	// pkg/sftp keeps only the last component of a listed name ("a/b" is
	// "b"); what is left must be valid and listed once.
	if want := []string{"b", "etc", "ok"}; !slices.Equal(names, want) {
		t.Fatalf("ReadDir kept %q of %q; want %q", names, append([]string{"ok"}, hostileNames...), want)
	}
	for _, in := range infos {
		if in.Size != 3 || in.MtimeNs != 1e18 || in.Kind != tree.File {
			t.Errorf("info of %q = %+v; want a file of size 3, mtime 1e18", in.Name, in)
		}
	}
}
