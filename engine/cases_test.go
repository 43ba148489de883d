package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
)

// lazyReplica hides a replica's in-place hashing and copying, so the pair
// hashes its files by download, as over plain SFTP; onOpen runs when a
// file is opened.
type lazyReplica struct {
	replica.Replica
	onRead func(p string)
}

func (z lazyReplica) Open(p string) (io.ReadCloser, error) {
	rc, err := z.Replica.Open(p)
	if err != nil || z.onRead == nil {
		return rc, err
	}
	return &hookReader{ReadCloser: rc, fn: func() { z.onRead(p) }}, nil
}

type hookReader struct {
	io.ReadCloser
	fn   func()
	done bool
}

func (h *hookReader) Read(b []byte) (int, error) {
	if len(b) > 2 {
		b = b[:2]
	}
	n, err := h.ReadCloser.Read(b)
	if !h.done && n > 0 {
		h.done = true
		h.fn()
	}
	return n, err
}

// Issue 7 case 9: with remote files hashed by download, a remote file
// rewritten (same size) while it is copied is never installed.
func TestTornDownloadRefused(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"f": "f:old-content:-"})
	os.WriteFile(filepath.Join(r, "f"), []byte("new-content"), 0o644)
	p := openTest(t, l, r, state)
	p.Remote = lazyReplica{Replica: p.Remote, onRead: func(string) {
		os.WriteFile(filepath.Join(r, "f"), []byte("NEW-CONTENT"), 0o644)
	}}
	if p.RemoteHashing() != HashByDownload {
		t.Fatal("remote still hashes in place")
	}
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(context.Background(), plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := readTree(t, l)["f"]; got != "f:old-content:-" {
		t.Fatalf("local f = %q (problems %v)", got, res.Problems)
	}
	if res.InSync() {
		t.Fatalf("reported in sync: %+v", res)
	}
	if temps := findTemps(t, l); len(temps) != 0 {
		t.Fatalf("temporaries left: %v", temps)
	}
}

// Issue 7 case 5: a run that would delete more than the threshold of a
// side's synced files stops, saying how many and where; renames are not
// deletions.
func TestMassDeletionRefused(t *testing.T) {
	base := snapshot{"keep": "f:k:-", "sub": "d"}
	for i := 0; i < 9; i++ {
		base[fmt.Sprintf("sub/f%d", i)] = fmt.Sprintf("f:%d:-", i)
	}
	l, r, state := newPairDirs(t, base)
	// a subdirectory emptied (as by a mount point that went away)
	for i := 0; i < 9; i++ {
		os.Remove(filepath.Join(r, fmt.Sprintf("sub/f%d", i)))
	}
	plan := planOf(t, l, r, state)
	err := plan.SafetyCheck()
	if err == nil || !strings.Contains(err.Error(), "delete 9 of the 10 synced files on the local side") || !strings.Contains(err.Error(), "in sub") {
		t.Fatalf("SafetyCheck = %v", err)
	}
	if err := plan.CheckDeletes(95); err != nil {
		t.Fatalf("CheckDeletes(95) = %v", err)
	}
	// renaming everything is no deletion
	l2, r2, state2 := newPairDirs(t, base)
	os.Rename(filepath.Join(l2, "sub"), filepath.Join(l2, "moved"))
	if err := planOf(t, l2, r2, state2).SafetyCheck(); err != nil {
		t.Fatalf("rename refused: %v", err)
	}
	// deleting half is allowed
	os.Remove(filepath.Join(r2, "keep"))
	if err := planOf(t, l2, r2, state2).SafetyCheck(); err != nil {
		t.Fatalf("small deletion refused: %v", err)
	}
}

// Issue 7 case 11: the cache of fetched remote versions stays within its
// limit, dropping the least recently used first.
func TestFetchCacheBounded(t *testing.T) {
	base := snapshot{}
	for i := 0; i < 4; i++ {
		base[fmt.Sprintf("f%d", i)] = "f:" + strings.Repeat(fmt.Sprint(i), 100) + ":-"
	}
	l, r, state := newPairDirs(t, base)
	p, err := Open(context.Background(), l, r, Options{StateDir: state, Holder: "test", CacheLimit: 250, Resident: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	var last string
	for i := 0; i < 4; i++ {
		s, _ := p.LastRemote(fmt.Sprintf("f%d", i))
		if last, err = p.Fetch(s.Path, s.Entry); err != nil {
			t.Fatal(err)
		}
	}
	des, _ := os.ReadDir(p.CacheDir())
	var total int64
	for _, de := range des {
		fi, _ := de.Info()
		total += fi.Size()
	}
	if total > 250 {
		t.Fatalf("cache holds %d bytes in %d files", total, len(des))
	}
	if _, err := os.Stat(last); err != nil {
		t.Fatalf("the file just fetched was pruned: %v", err)
	}
}

// The plan prints a rename as a rename, a directory rename as one line.
func TestPlanTextShowsRenames(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"a": "f:aaaa:-", "d": "d", "d/x": "f:xxxx:-", "d/y": "f:yyyy:-"})
	os.Rename(filepath.Join(l, "a"), filepath.Join(l, "b"))
	os.Rename(filepath.Join(r, "d"), filepath.Join(r, "e"))
	var b strings.Builder
	planOf(t, l, r, state).WriteText(&b)
	want := "to remote (1):\n  rename  a -> b\nto local (1):\n  rename  d/ -> e/\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Fatalf("plan text:\n%s\nwant it to begin with:\n%s", b.String(), want)
	}
}

// Issue 7 case 11: a directory deleted on one side goes on the other even
// when it still holds an ignored file there (kept with it in the backup
// area).
func TestRemoveDirHoldingIgnoredFile(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{".myrrorignore": "f:*.o\n:-", "d": "d", "d/x": "f:x:-"})
	os.WriteFile(filepath.Join(r, "d/x.o"), []byte("object"), 0o644)
	os.RemoveAll(filepath.Join(l, "d"))
	_, res := syncPair(t, l, r, state)
	if !res.InSync() {
		t.Fatalf("problems %v", res.Problems)
	}
	if _, err := os.Lstat(filepath.Join(r, "d")); !os.IsNotExist(err) {
		t.Fatalf("remote d still there: %v", err)
	}
	kept, _ := filepath.Glob(filepath.Join(r, ".myrrorfs-backup/*/d/x.o"))
	if len(kept) != 1 {
		t.Fatalf("ignored file not kept in the backup area: %v", kept)
	}
}
