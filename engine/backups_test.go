package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

func TestParseStamp(t *testing.T) {
	at := time.Date(2026, 11, 29, 14, 2, 11, 0, time.UTC)
	for name, want := range map[string]Origin{
		backupStamp(at):                     FromRun,
		taggedStamp(at, FromView):           FromView,
		taggedStamp(at, FromRestore):        FromRestore,
		"20261129-140211-restorex":          FromRun,
		"20261129-140211-view-abc":          FromView,
		at.Local().Format(stampLayout) + "": "",
	} {
		tm, o, ok := parseStamp(name)
		if want == "" {
			if ok {
				t.Errorf("parseStamp(%q) took it for a stamp", name)
			}
			continue
		}
		if !ok || o != want || !tm.Equal(at) {
			t.Errorf("parseStamp(%q) = %v, %q, %v; want %v, %q", name, tm, o, ok, at, want)
		}
	}
	for _, name := range []string{"", "notes", "2026-11-29", "20261399-140211-abcdef", "20261129-140211", "20261129x140211-abcdef"} {
		if _, _, ok := parseStamp(name); ok {
			t.Errorf("parseStamp(%q) took it for a stamp", name)
		}
	}
}

func openTestPair(t *testing.T, local, remote, state string) *Pair {
	t.Helper()
	p, err := Open(context.Background(), local, remote, Options{StateDir: state, Holder: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestBackupsAndRestore: a version a sync replaced on one side is listed,
// newest first, and restored into LOCAL with what LOCAL held kept.
func TestBackupsAndRestore(t *testing.T) {
	local, remote, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, local, snapshot{"d": "d", "d/f": "f:one:-"})
	syncPair(t, local, remote, state)
	os.WriteFile(filepath.Join(remote, "d/f"), []byte("two!"), 0o755)
	os.Chmod(filepath.Join(remote, "d/f"), 0o755)
	syncPair(t, local, remote, state) // local "one" to LOCAL's backup area
	os.WriteFile(filepath.Join(local, "d/f"), []byte("three"), 0o644)
	syncPair(t, local, remote, state) // remote "two!" to REMOTE's backup area

	p := openTestPair(t, local, remote, state)
	bs, err := p.Backups("d/f")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 {
		t.Fatalf("%d versions listed; want 2: %+v", len(bs), bs)
	}
	if !(bs[0].Time.After(bs[1].Time) || bs[0].Time.Equal(bs[1].Time) && bs[0].Side == LocalSide) {
		t.Errorf("not newest first: %+v", bs)
	}
	var remoteV, localV Backup
	for _, b := range bs {
		if b.Side == RemoteSide {
			remoteV = b
		} else {
			localV = b
		}
	}
	if remoteV.Size != 4 || remoteV.Kind != tree.File || remoteV.Origin != FromRun || remoteV.Perm&0o100 == 0 {
		t.Errorf("remote version %+v; want a 4-byte executable file from a run", remoteV)
	}
	if localV.Size != 3 || localV.Path != "d/f" || !strings.HasPrefix(localV.Stored, tree.BackupDir+"/") {
		t.Errorf("local version %+v; want 3 bytes of d/f", localV)
	}

	res, err := p.Restore(remoteV)
	if err != nil {
		t.Fatal(err)
	}
	got := readTree(t, local)
	if got["d/f"] != "f:two!:x" {
		t.Errorf("LOCAL d/f = %q after the restore; want the remote version", got["d/f"])
	}
	if res.Kept == "" {
		t.Fatalf("the version LOCAL held was not kept")
	}
	if b, err := os.ReadFile(filepath.Join(local, res.Kept)); err != nil || string(b) != "three" {
		t.Errorf("kept %s = %q, %v; want three", res.Kept, b, err)
	}
	// the version stays in its backup area, and the one LOCAL held is
	// listed now, as set aside by a restore
	bs, err = p.Backups("d/f")
	if err != nil || len(bs) != 3 || bs[0].Origin != FromRestore || bs[0].Side != LocalSide {
		t.Errorf("after the restore: %+v, %v; want 3 versions, the newest from the restore", bs, err)
	}
	// restoring it again changes nothing
	if res, err := p.Restore(remoteV); err != nil || !res.Same {
		t.Errorf("restoring the version LOCAL holds: %+v, %v; want Same", res, err)
	}
	p.Close()
	// the next sync carries it to the remote, keeping the remote's version
	_, r := syncPair(t, local, remote, state)
	if r.Applied != 1 {
		t.Errorf("the sync after the restore applied %d paths; want 1", r.Applied)
	}
	if b, _ := os.ReadFile(filepath.Join(remote, "d/f")); string(b) != "two!" {
		t.Errorf("remote d/f = %q; want two!", b)
	}
}

// TestRestoreMakesParents: a version of a path whose directory is gone in
// LOCAL comes back with its directories; a directory version comes back
// whole.
func TestRestoreMakesParents(t *testing.T) {
	local, remote, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, local, snapshot{"a": "d", "a/b": "d", "a/b/f": "f:x:-", "a/b/l": "l:f", "a/b/e": "d"})
	syncPair(t, local, remote, state)
	os.RemoveAll(filepath.Join(remote, "a"))
	syncPair(t, local, remote, state) // a goes to LOCAL's backup area whole

	p := openTestPair(t, local, remote, state)
	bs, err := p.Backups("a/b/f")
	if err != nil || len(bs) != 1 {
		t.Fatalf("versions of a/b/f: %+v, %v", bs, err)
	}
	if _, err := p.Restore(bs[0]); err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, local); !reflect.DeepEqual(got, snapshot{"a": "d", "a/b": "d", "a/b/f": "f:x:-"}) {
		t.Errorf("LOCAL after restoring a/b/f: %v", got)
	}
	bs, err = p.Backups("a")
	if err != nil || len(bs) != 1 || bs[0].Kind != tree.Dir || bs[0].Files != 1 || bs[0].Size != 1 {
		t.Fatalf("versions of a: %+v, %v; want one directory of 1 file, 1 byte", bs, err)
	}
	res, err := p.Restore(bs[0])
	if err != nil {
		t.Fatal(err)
	}
	// (an empty directory is removed, not kept: e is in no backup area)
	if got := readTree(t, local); !reflect.DeepEqual(got, snapshot{"a": "d", "a/b": "d", "a/b/f": "f:x:-", "a/b/l": "l:f"}) {
		t.Errorf("LOCAL after restoring a: %v", got)
	}
	if res.Kept == "" {
		t.Errorf("the directory a LOCAL held was not kept")
	}
}

// TestRestoreRefuses: what is not a version in a backup area is never
// written.
func TestRestoreRefuses(t *testing.T) {
	local, remote, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, local, snapshot{"f": "f:x:-", "secret": "f:s:-"})
	p := openTestPair(t, local, remote, state)
	now := time.Now()
	for _, b := range []Backup{
		{Side: LocalSide, Path: "f", Stored: "secret", Kind: tree.File},
		{Side: LocalSide, Path: "f", Stored: tree.BackupDir + "/x/f", Kind: tree.File},
		{Side: LocalSide, Path: "f", Stored: tree.BackupDir + "/" + backupStamp(now) + "/g", Kind: tree.File},
		{Side: LocalSide, Path: "../f", Stored: tree.BackupDir + "/" + backupStamp(now) + "/../f", Kind: tree.File},
		{Side: LocalSide, Path: tree.BackupDir, Stored: tree.BackupDir + "/" + backupStamp(now) + "/" + tree.BackupDir, Kind: tree.Dir},
	} {
		if _, err := p.Restore(b); err == nil {
			t.Errorf("Restore(%+v) succeeded", b)
		}
	}
	if got := readTree(t, local); got["f"] != "f:x:-" {
		t.Errorf("f = %q", got["f"])
	}
	if _, err := p.Backups(""); err == nil {
		t.Errorf("Backups of the root succeeded")
	}
}
