package replicatest

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// The one-exchange operations (replica.SmallWriter, SmallReader,
// Installer, NewFileWriter) are checked through the replica's own methods when it has
// them, and through replica's PutTempWith, GetWith, InstallWith and
// PutNewWith otherwise: both must behave alike.
var smallTests = []subtest{
	{"PutTemp", testPutTemp},
	{"Get", testGet},
	{"InstallNew", testInstallNew},
	{"InstallReplaces", testInstallReplaces},
	{"InstallRefusesChanged", testInstallRefusesChanged},
	{"PutNew", testPutNew},
	{"PutNewRefusesExisting", testPutNewRefusesExisting},
}

func (e *env) putTemp(dir string, perm uint32, mtimeNs int64, data []byte) (string, error) {
	if w, ok := e.r.(replica.SmallWriter); ok {
		return w.PutTemp(dir, perm, mtimeNs, data)
	}
	return replica.PutTempWith(e.r, dir, perm, mtimeNs, data)
}

func (e *env) get(p string, want tree.Fingerprint) ([]byte, error) {
	if g, ok := e.r.(replica.SmallReader); ok {
		return g.Get(p, want)
	}
	return replica.GetWith(e.r, p, want)
}

func (e *env) install(tmp, p string, want tree.Scanned, backup string) (replica.Info, error) {
	if in, ok := e.r.(replica.Installer); ok {
		return in.Install(tmp, p, want, backup)
	}
	return replica.InstallWith(e.r, tmp, p, want, backup)
}

func (e *env) putNew(p string, perm uint32, mtimeNs int64, data []byte) (replica.Info, error) {
	if w, ok := e.r.(replica.NewFileWriter); ok {
		return w.PutNew(p, perm, mtimeNs, data)
	}
	return replica.PutNewWith(e.r, p, perm, mtimeNs, data)
}

// noTemps fails the test if directory dir holds a temporary.
func (e *env) noTemps(dir string) {
	e.t.Helper()
	infos, err := e.r.ReadDir(dir)
	if err != nil {
		e.t.Fatalf("ReadDir(%q): %v", dir, err)
	}
	for _, in := range infos {
		if strings.HasPrefix(in.Name, tree.TempPrefix) {
			e.t.Errorf("temporary %s left in %q", in.Name, dir)
		}
	}
}

// scanned is what a scan would say of p now.
func (e *env) scanned(p string) tree.Scanned {
	e.t.Helper()
	info := e.lstat(p)
	return tree.Scanned{Path: p, Entry: tree.Entry{Kind: info.Kind, Perm: info.Perm, Size: info.Size, MtimeNs: info.MtimeNs}, FP: info.FP}
}

func testPutTemp(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	const mtime = 1_600_000_000_000_000_000
	for _, data := range [][]byte{nil, []byte("small"), []byte(strings.Repeat("x", replica.MaxSmall))} {
		tmp, err := e.putTemp("d", 0o751, mtime, data)
		if err != nil {
			t.Fatalf("PutTemp of %d bytes: %v", len(data), err)
		}
		if tree.Parent(tmp) != "d" || !strings.HasPrefix(tree.Base(tmp), tree.TempPrefix) {
			t.Errorf("PutTemp = %q; want a fresh %s* name in d", tmp, tree.TempPrefix)
		}
		if got := e.read(tmp); got != string(data) {
			t.Errorf("content of %s: %d bytes; want %d", tmp, len(got), len(data))
		}
		info := e.lstat(tmp)
		if info.Perm != 0o751 || info.Kind != tree.File {
			t.Errorf("%s: %s %o; want a file with 751", tmp, info.Kind, info.Perm)
		}
		if info.MtimeNs/1e9 != mtime/1e9 {
			t.Errorf("%s: mtime %d; want %d", tmp, info.MtimeNs, int64(mtime))
		}
	}
	if _, err := e.putTemp("d", 0o644, mtime, make([]byte, replica.MaxSmall+1)); err == nil {
		t.Errorf("PutTemp of %d bytes succeeded; want an error", replica.MaxSmall+1)
	}
	if _, err := e.putTemp("missing", 0o644, mtime, []byte("x")); err == nil {
		t.Errorf("PutTemp in a missing directory succeeded")
	}
}

func testGet(t *testing.T, e *env) {
	e.write("f", "the content", 0o644)
	sc := e.scanned("f")
	data, err := e.get("f", sc.FP)
	if err != nil || string(data) != "the content" {
		t.Fatalf("Get = %q, %v; want the content", data, err)
	}
	stale := sc.FP
	stale.MtimeNs += 1e9
	if _, err := e.get("f", stale); !errors.Is(err, replica.ErrChanged) {
		t.Errorf("Get with another mtime: %v; want ErrChanged", err)
	}
	stale = sc.FP
	stale.Size++
	if _, err := e.get("f", stale); !errors.Is(err, replica.ErrChanged) {
		t.Errorf("Get with another size: %v; want ErrChanged", err)
	}
	if _, err := e.get("missing", sc.FP); !errors.Is(err, replica.ErrChanged) {
		t.Errorf("Get of a missing file: %v; want ErrChanged", err)
	}
	e.mkdir("dir", 0o755)
	if _, err := e.get("dir", e.scanned("dir").FP); err == nil {
		t.Errorf("Get of a directory succeeded")
	}
	big := e.scanned("f").FP
	big.Size = replica.MaxSmall + 1
	if _, err := e.get("f", big); err == nil {
		t.Errorf("Get of more than MaxSmall bytes succeeded")
	}
}

func testInstallNew(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	tmp, err := e.putTemp("d", 0o644, 1e18, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.install(tmp, "d/f", tree.Scanned{Path: "d/f"}, "")
	if err != nil {
		t.Fatalf("Install onto nothing: %v", err)
	}
	if got := e.read("d/f"); got != "new" {
		t.Errorf("d/f = %q after Install; want new", got)
	}
	e.absent(tmp)
	if now := e.lstat("d/f"); info.Kind != tree.Absent && info.FP != now.FP {
		t.Errorf("Install returned %+v; Lstat says %+v", info.FP, now.FP)
	}
}

func testInstallReplaces(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	e.mkdir("b", 0o700)
	e.write("d/f", "old", 0o644)
	want := e.scanned("d/f")
	tmp, err := e.putTemp("d", 0o644, 1e18, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.install(tmp, "d/f", want, ""); err == nil {
		t.Errorf("Install over a file without a backup path succeeded")
	}
	if got := e.read("d/f"); got != "old" {
		t.Fatalf("d/f = %q after a refused Install; want old", got)
	}
	if _, err := e.install(tmp, "d/f", want, "b/f"); err != nil {
		t.Fatalf("Install over the scanned file: %v", err)
	}
	if got := e.read("d/f"); got != "new" {
		t.Errorf("d/f = %q after Install; want new", got)
	}
	if got := e.read("b/f"); got != "old" {
		t.Errorf("backup b/f = %q; want the replaced version, old", got)
	}
}

func testInstallRefusesChanged(t *testing.T, e *env) {
	e.mkdir("b", 0o700)
	e.write("f", "scanned", 0o644)
	want := e.scanned("f")
	e.write("f", "edited after the scan", 0o644)
	tmp, err := e.putTemp("", 0o644, 1e18, []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.install(tmp, "f", want, "b/f"); !errors.Is(err, replica.ErrChanged) {
		t.Errorf("Install over an edited file: %v; want ErrChanged", err)
	}
	if _, err := e.install(tmp, "g", want, "b/g"); !errors.Is(err, replica.ErrChanged) {
		t.Errorf("Install where the scanned file vanished: %v; want ErrChanged", err)
	}
	e.write("h", "appeared", 0o644)
	if _, err := e.install(tmp, "h", tree.Scanned{Path: "h"}, ""); !errors.Is(err, replica.ErrChanged) {
		t.Errorf("Install where a file appeared: %v; want ErrChanged", err)
	}
	if got := e.read("f"); got != "edited after the scan" {
		t.Errorf("f = %q; want the edit kept", got)
	}
	if got := e.read("h"); got != "appeared" {
		t.Errorf("h = %q; want it kept", got)
	}
	if got := e.read(tmp); got != "new" {
		t.Errorf("temporary = %q; want it untouched", got)
	}
	e.absent("b/f")
}

func testPutNew(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	const mtime = 1_600_000_000_000_000_000
	for i, data := range [][]byte{nil, []byte("small"), []byte(strings.Repeat("x", replica.MaxSmall))} {
		p := tree.Join("d", fmt.Sprintf("f%d", i))
		info, err := e.putNew(p, 0o751, mtime, data)
		if err != nil {
			t.Fatalf("PutNew of %d bytes: %v", len(data), err)
		}
		if got := e.read(p); got != string(data) {
			t.Errorf("content of %s: %d bytes; want %d", p, len(got), len(data))
		}
		now := e.lstat(p)
		if now.Perm != 0o751 || now.Kind != tree.File || now.MtimeNs/1e9 != mtime/1e9 {
			t.Errorf("%s: %s %o mtime %d; want a file with 751 and mtime %d", p, now.Kind, now.Perm, now.MtimeNs, int64(mtime))
		}
		if info.Kind != tree.Absent && info.FP != now.FP {
			t.Errorf("PutNew returned %+v; Lstat says %+v", info.FP, now.FP)
		}
	}
	if _, err := e.putNew("d/big", 0o644, mtime, make([]byte, replica.MaxSmall+1)); err == nil {
		t.Errorf("PutNew of %d bytes succeeded; want an error", replica.MaxSmall+1)
	}
	if _, err := e.putNew("missing/f", 0o644, mtime, []byte("x")); err == nil {
		t.Errorf("PutNew in a missing directory succeeded")
	}
	e.noTemps("d")
}

// PutNew never replaces anything: a file, symlink or directory at its path
// (made after the caller's scan) stays, and no temporary is left.
func testPutNewRefusesExisting(t *testing.T, e *env) {
	e.write("f", "appeared", 0o644)
	e.mkdir("dir", 0o755)
	e.symlink("target", "link")
	for _, p := range []string{"f", "dir", "link"} {
		if _, err := e.putNew(p, 0o644, 1e18, []byte("new")); !errors.Is(err, replica.ErrChanged) {
			t.Errorf("PutNew where %s is: %v; want ErrChanged", p, err)
		}
	}
	if got := e.read("f"); got != "appeared" {
		t.Errorf("f = %q; want it kept", got)
	}
	if info := e.lstat("dir"); info.Kind != tree.Dir {
		t.Errorf("dir is a %s now", info.Kind)
	}
	if info := e.lstat("link"); info.Kind != tree.Symlink {
		t.Errorf("link is a %s now", info.Kind)
	}
	e.noTemps("")
}

func testPutNewSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"n"})
	if _, err := e.putNew("n/f", 0o644, 1e18, []byte("data that must survive a crash")); err != nil {
		t.Fatalf("PutNew: %v", err)
	}
	e.wantSynced("PutNew", "n")
	// the content was fsynced under the temporary's name, before the
	// rename that made it n/f
	tmps := filepath.Join(e.onDisk("n"), tree.TempPrefix)
	if !slices.ContainsFunc(e.synced(), func(p string) bool { return strings.HasPrefix(p, tmps) }) {
		t.Errorf("PutNew: the content was never fsynced")
	}
}

func testPutTempSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"p"})
	tmp, err := e.putTemp("p", 0o644, 1e18, []byte("data that must survive a crash"))
	if err != nil {
		t.Fatalf("PutTemp: %v", err)
	}
	e.wantSynced("PutTemp", tmp)
}

func testInstallSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"i"})
	tmp, err := e.putTemp("i", 0o644, 1e18, []byte("new"))
	if err != nil {
		t.Fatalf("PutTemp: %v", err)
	}
	if _, err := e.install(tmp, "i/f", tree.Scanned{Path: "i/f"}, ""); err != nil {
		t.Fatalf("Install: %v", err)
	}
	e.wantSynced("Install", "i")
}
