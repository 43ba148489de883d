package replicatest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Synced returns the disk paths of every file and directory fsynced on
// behalf of the replicas under test so far, in any order, repeats allowed:
// what the implementation's test can see being asked of the kernel (a hook
// in the process that calls fsync, or the log of an SFTP server). Paths
// may be reported late (a log read from a pipe): the suite waits for them.
type Synced func() []string

// RunDurability checks the durability part of the replica.Replica
// contract: WriteFile.Close and CopyTemp fsync the temporary, and Rename,
// Mkdir, Symlink, Remove and Link fsync the directories whose entries they
// change before returning. Each check builds its fixture on disk (not
// through the replica, so that no fsync is seen for it) under fresh names,
// runs one call and waits for the fsyncs it needs to show up in synced.
// This sees that fsync is asked for, not that the disk honours it.
func RunDurability(t *testing.T, open Open, synced Synced) {
	for _, st := range durabilityTests {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, open)
			e.needDisk()
			st.run(t, &durEnv{env: e, synced: synced})
		})
	}
}

// durEnv is an env whose fsyncs can be seen.
type durEnv struct {
	*env
	synced Synced
}

var durabilityTests = []struct {
	name string
	run  func(t *testing.T, e *durEnv)
}{
	{"CloseSyncsContent", testCloseSyncs},
	{"RenameSyncsBothDirs", testRenameSyncs},
	{"MkdirSyncsParent", testMkdirSyncs},
	{"SymlinkSyncsParent", testSymlinkSyncs},
	{"RemoveSyncsParent", testRemoveSyncs},
	{"CopyTempSyncsContent", testCopyTempSyncs},
	{"LinkSyncsParent", testLinkSyncs},
	{"PutTempSyncsContent", testPutTempSyncs},
	{"InstallSyncsParent", testInstallSyncs},
	{"PutNewSyncsContentAndParent", testPutNewSyncs},
}

// fixture makes directories dirs and files (with content) on disk.
func (e *durEnv) fixture(dirs []string, files ...string) {
	e.t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(e.onDisk(d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, f := range files {
		if err := os.WriteFile(e.onDisk(f), []byte("content of "+f), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

// wantSynced waits until every path (relative to the root) has been
// reported fsynced, and fails the test naming those that never are.
func (e *durEnv) wantSynced(what string, paths ...string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		seen := e.synced()
		var missing []string
		for _, p := range paths {
			if !slices.Contains(seen, filepath.Clean(e.onDisk(p))) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("%s: never fsynced: %q", what, missing)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testCloseSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"c"})
	tmp, w, err := e.r.CreateTemp("c", 0o644)
	if err != nil {
		t.Fatalf("CreateTemp: %v", err)
	}
	if _, err := io.WriteString(w, "data that must survive a crash"); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e.wantSynced("WriteFile.Close", tmp)
}

func testRenameSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"from", "to", "same"}, "from/f", "same/g")
	if err := e.r.Rename("from/f", "to/f"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	e.wantSynced("Rename between directories", "from", "to")
	if err := e.r.Rename("same/g", "same/h"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	e.wantSynced("Rename in one directory", "same")
	if err := e.r.Rename("to/f", "top"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	e.wantSynced("Rename into the root", "")
}

func testMkdirSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"m"})
	e.mkdir("m/sub", 0o755)
	e.wantSynced("Mkdir", "m")
}

func testSymlinkSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"s"})
	e.symlink("target", "s/l")
	e.wantSynced("Symlink", "s")
}

func testRemoveSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"rf", "rd/empty"}, "rf/f")
	if err := e.r.Remove("rf/f"); err != nil {
		t.Fatalf("Remove file: %v", err)
	}
	e.wantSynced("Remove of a file", "rf")
	if err := e.r.Remove("rd/empty"); err != nil {
		t.Fatalf("Remove directory: %v", err)
	}
	e.wantSynced("Remove of a directory", "rd")
}

func testCopyTempSyncs(t *testing.T, e *durEnv) {
	c, ok := e.r.(replica.Copier)
	if !ok {
		t.Skip("not a replica.Copier")
	}
	e.fixture([]string{"cp"}, "cp/src")
	tmp, err := c.CopyTemp("cp/src", "cp", 0o644)
	if err != nil {
		t.Fatalf("CopyTemp: %v", err)
	}
	if tree.Parent(tmp) != "cp" {
		t.Fatalf("CopyTemp made %q, want it in cp", tmp)
	}
	e.wantSynced("CopyTemp", tmp)
}

func testLinkSyncs(t *testing.T, e *durEnv) {
	e.fixture([]string{"la", "lb"}, "la/f")
	err := e.r.Link("la/f", "lb/f")
	if errors.Is(err, replica.ErrUnsupported) {
		t.Skip("hard links unsupported")
	}
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	e.wantSynced("Link", "lb")
}
