package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// A file rewritten with the same size within the same second is seen by a
// rescan through the agent: its fingerprint carries nanosecond mtime and
// ctime and the inode, so the recorded hash is not reused.
func TestSameSecondEditSeen(t *testing.T) {
	r, dir := dialTest(t)
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	sec := time.Now().Truncate(time.Second)
	if err := os.Chtimes(f, sec, sec.Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	first := scanOne(t, r, nil)
	if first.Entry.Hash != blake3Of([]byte("first")) {
		t.Fatalf("first scan hash %s, want that of \"first\"", first.Entry.Hash)
	}
	if err := os.WriteFile(f, []byte("secnd"), 0o644); err != nil { // same size, same inode
		t.Fatal(err)
	}
	if err := os.Chtimes(f, sec, sec.Add(200*time.Millisecond)); err != nil { // same second
		t.Fatal(err)
	}
	known := func(p string) (tree.Fingerprint, tree.Hash, bool) {
		return first.FP, first.Entry.Hash, p == "f"
	}
	second := scanOne(t, r, known)
	if second.FP == first.FP {
		t.Errorf("fingerprint unchanged after a same-second, same-size edit: %+v", second.FP)
	}
	if second.Entry.Hash != blake3Of([]byte("secnd")) {
		t.Errorf("rescan kept hash %s, want that of the new content", second.Entry.Hash)
	}
	if got, want := second.FP.MtimeNs, sec.Add(200*time.Millisecond).UnixNano(); got != want {
		t.Errorf("fingerprint mtime %d, want %d (nanoseconds)", got, want)
	}
	// Every way of looking at the file gives the same fingerprint, so that
	// an unchanged file is never taken for a changed one.
	info, err := r.Lstat("f")
	if err != nil || info.FP != second.FP || info.MtimeNs != second.FP.MtimeNs {
		t.Errorf("Lstat = %+v, %v; want the scan's fingerprint %+v", info, err, second.FP)
	}
	infos, err := r.ReadDir("")
	if err != nil || len(infos) != 1 || infos[0].FP != second.FP || infos[0].Name != "f" {
		t.Errorf("ReadDir = %+v, %v; want f with the scan's fingerprint %+v", infos, err, second.FP)
	}
	if _, fp, err := r.Hash("f"); err != nil || fp != second.FP {
		t.Errorf("Hash fingerprint = %+v, %v; want the scan's %+v", fp, err, second.FP)
	}
	if second.FP.Ino == 0 || second.FP.CtimeNs == 0 {
		t.Errorf("fingerprint %+v has no inode or ctime", second.FP)
	}
}

// scanOne scans r, which must hold exactly one file, and returns it.
func scanOne(t *testing.T, r replica.Replica, known replica.Known) tree.Scanned {
	t.Helper()
	res, err := replica.Scan(context.Background(), r, replica.ScanOptions{Known: known})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(res.Entries) != 1 || len(res.Problems) != 0 {
		t.Fatalf("Scan: entries %v, problems %v; want one file", res.Entries, res.Problems)
	}
	return res.Entries[0]
}
