package journal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

const testIdentity = "/abs/local\x00host:path"

func openTest(t testing.TB, stateDir string) *DB {
	t.Helper()
	db, err := Open(stateDir, testIdentity, "test (pid 1)")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func putAll(t testing.TB, db *DB, recs map[string]Record) {
	t.Helper()
	b := db.NewBatch()
	defer b.Cancel()
	for p, r := range recs {
		if err := b.Put(p, r); err != nil {
			t.Fatalf("Put(%q): %v", p, err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

type loaded struct {
	path string
	rec  Record
}

func loadAll(t testing.TB, db *DB) []loaded {
	t.Helper()
	var out []loaded
	err := db.Load(func(p string, r Record) error {
		out = append(out, loaded{p, r})
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return out
}

func fileRecord(i int) Record {
	var h tree.Hash
	h[0], h[1], h[2] = byte(i), byte(i>>8), byte(i>>16)
	e := tree.Entry{Kind: tree.File, Perm: 0o644, Size: int64(i), MtimeNs: 1700000000000000000 + int64(i), Hash: h}
	fp := tree.Fingerprint{Size: int64(i), MtimeNs: e.MtimeNs, CtimeNs: e.MtimeNs, Ino: uint64(i) + 100, Mode: 0o100644}
	return Record{Base: e, Local: Side{FP: fp, Hash: h}, Remote: Side{FP: tree.Fingerprint{Size: fp.Size, MtimeNs: fp.MtimeNs, Mode: fp.Mode}, Hash: h}}
}

// randPath builds paths from names that stress the '/' ordering.
func randPath(r *rand.Rand) string {
	names := []string{"a", "b", "a.b", "a-b", "a b", "a!", ".x", "-", " ", "z", "é", "a\x01"}
	depth := 1 + r.IntN(6)
	parts := make([]string, depth)
	for i := range parts {
		parts[i] = names[r.IntN(len(names))]
		if r.IntN(3) == 0 {
			parts[i] += names[r.IntN(len(names))]
		}
	}
	return strings.Join(parts, "/")
}

func TestLoadOrderMatchesCompare(t *testing.T) {
	db := openTest(t, t.TempDir())
	r := rand.New(rand.NewPCG(5, 6))
	recs := map[string]Record{"": {Base: tree.Entry{Kind: tree.Dir, Perm: 0o755}}}
	for _, p := range []string{"a", "a/b", "a.b", "a-b", "a b", "a/b/c/d/e/f/g/h", "a0", "a/z"} {
		recs[p] = fileRecord(len(recs))
	}
	for len(recs) < 3000 {
		recs[randPath(r)] = fileRecord(len(recs))
	}
	putAll(t, db, recs)

	got := loadAll(t, db)
	want := make([]string, 0, len(recs))
	for p := range recs {
		want = append(want, p)
	}
	slices.SortFunc(want, tree.Compare)
	if len(got) != len(want) {
		t.Fatalf("Load gave %d records, want %d", len(got), len(want))
	}
	for i, g := range got {
		if g.path != want[i] {
			t.Fatalf("record %d: path %q, want %q", i, g.path, want[i])
		}
		if g.rec != recs[g.path] {
			t.Fatalf("record %q: got %+v, want %+v", g.path, g.rec, recs[g.path])
		}
	}
	index := func(p string) int {
		return slices.IndexFunc(got, func(l loaded) bool { return l.path == p })
	}
	for _, later := range []string{"a.b", "a-b", "a b"} {
		if index("a/b") > index(later) {
			t.Errorf("a/b loaded after %q", later)
		}
	}
}

func TestLoadStopsAtFirstError(t *testing.T) {
	db := openTest(t, t.TempDir())
	putAll(t, db, map[string]Record{"a": fileRecord(1), "b": fileRecord(2), "c": fileRecord(3)})
	stop := errors.New("stop")
	var seen []string
	err := db.Load(func(p string, _ Record) error {
		seen = append(seen, p)
		if p == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Load = %v, want %v", err, stop)
	}
	if !reflect.DeepEqual(seen, []string{"a", "b"}) {
		t.Errorf("visited %q, want [a b]", seen)
	}
}

func TestOpenLayout(t *testing.T) {
	state := t.TempDir()
	db, err := Open(state, testIdentity, "sync (pid 42)")
	if err != nil {
		t.Fatal(err)
	}
	dir := db.Dir()
	if filepath.Dir(dir) != filepath.Join(state, "pairs") || len(filepath.Base(dir)) != 16 {
		t.Errorf("Dir() = %q, want %s/pairs/<16 hex>", dir, state)
	}
	if dir != PairDir(state, testIdentity) {
		t.Errorf("Dir() = %q, PairDir = %q", dir, PairDir(state, testIdentity))
	}
	if PairDir(state, testIdentity+"x") == dir {
		t.Error("two identities share a directory")
	}
	pair, _ := os.ReadFile(filepath.Join(dir, "pair"))
	if string(pair) != "/abs/local\nhost:path\n" {
		t.Errorf("pair file = %q", pair)
	}
	holder, _ := os.ReadFile(filepath.Join(dir, "holder"))
	if strings.TrimSpace(string(holder)) != "sync (pid 42)" {
		t.Errorf("holder file = %q", holder)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "holder")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("holder file after Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenRejectsEmptyArguments(t *testing.T) {
	if _, err := Open("", testIdentity, "x"); err == nil {
		t.Error("Open with empty state dir succeeded")
	}
	if _, err := Open(t.TempDir(), "", "x"); err == nil {
		t.Error("Open with empty identity succeeded")
	}
}

func TestOpenLockedInProcess(t *testing.T) {
	state := t.TempDir()
	db, err := Open(state, testIdentity, "mount at /mnt/x (pid 123)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(state, testIdentity, "sync (pid 456)")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "pair is in use by mount at /mnt/x (pid 123)") {
		t.Errorf("error %q does not name the holder", err)
	}
	// The failed Open must not have disturbed the holder.
	if h := readHolder(db.Dir()); h != "mount at /mnt/x (pid 123)" {
		t.Errorf("holder after failed Open = %q", h)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(state, testIdentity, "sync (pid 456)")
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

const childStateEnv = "JOURNAL_TEST_CHILD_STATE"

// TestLockHelperProcess is the child half of TestOpenLockedAcrossProcesses.
func TestLockHelperProcess(t *testing.T) {
	state := os.Getenv(childStateEnv)
	if state == "" {
		t.Skip("run by TestOpenLockedAcrossProcesses only")
	}
	db, err := Open(state, testIdentity, "child")
	if err == nil {
		db.Close()
		t.Fatal("child opened a pair its parent holds")
	}
	fmt.Printf("CHILD-ERROR: %v\n", err)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("child Open = %v, want ErrLocked", err)
	}
}

func TestOpenLockedAcrossProcesses(t *testing.T) {
	state := t.TempDir()
	holder := fmt.Sprintf("mount at /mnt/x (pid %d)", os.Getpid())
	db, err := Open(state, testIdentity, holder)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), childStateEnv+"="+state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	want := "CHILD-ERROR: journal: open " + db.Dir() + ": pair is in use by " + holder
	if !strings.Contains(string(out), want) {
		t.Errorf("child output lacks %q:\n%s", want, out)
	}
}

func TestReopenKeepsData(t *testing.T) {
	state := t.TempDir()
	db, err := Open(state, testIdentity, "first")
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]Record{"x": fileRecord(1), "x/y": fileRecord(2), "": {Base: tree.Entry{Kind: tree.Dir}}}
	putAll(t, db, recs)
	if err := db.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openTest(t, state)
	got := loadAll(t, db)
	if len(got) != len(recs) {
		t.Fatalf("reopened journal has %d records, want %d", len(got), len(recs))
	}
	for _, g := range got {
		if g.rec != recs[g.path] {
			t.Errorf("%q: got %+v, want %+v", g.path, g.rec, recs[g.path])
		}
	}
}

func TestBigBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200,000 records")
	}
	db := openTest(t, t.TempDir())
	const n = 200_000
	b := db.NewBatch()
	defer b.Cancel()
	for i := 0; i < n; i++ {
		if err := b.Put(fmt.Sprintf("dir%03d/file%07d", i%500, i), fileRecord(i)); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if err := b.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	count, prev := 0, ""
	err := db.Load(func(p string, r Record) error {
		if count > 0 && tree.Compare(prev, p) >= 0 {
			return fmt.Errorf("%q loaded after %q", p, prev)
		}
		count++
		prev = p
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("Load = %v with %d records, want %d", err, count, n)
	}
	if r, ok, err := db.Get("dir123/file0000123"); err != nil || !ok || r != fileRecord(123) {
		t.Errorf("Get after big batch = %+v, %v, %v", r, ok, err)
	}
}

func TestConcurrentBatch(t *testing.T) {
	db := openTest(t, t.TempDir())
	b := db.NewBatch()
	defer b.Cancel()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if err := b.Put(fmt.Sprintf("g%d/%d", g, i), fileRecord(i)); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := len(loadAll(t, db)); got != 8*2000 {
		t.Errorf("loaded %d records, want %d", got, 8*2000)
	}
}

func TestGetAndDelete(t *testing.T) {
	db := openTest(t, t.TempDir())
	if _, ok, err := db.Get("missing"); ok || err != nil {
		t.Fatalf("Get(missing) = %v, %v", ok, err)
	}
	putAll(t, db, map[string]Record{"a": fileRecord(1), "a/b": fileRecord(2)})
	if r, ok, err := db.Get("a/b"); !ok || err != nil || r != fileRecord(2) {
		t.Fatalf("Get(a/b) = %+v, %v, %v", r, ok, err)
	}

	b := db.NewBatch()
	if err := b.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("never-there"); err != nil {
		t.Fatalf("Delete of a missing path: %v", err)
	}
	if err := b.Put("a/b", fileRecord(3)); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	b.Cancel() // after Flush: no effect

	if _, ok, err := db.Get("a"); ok || err != nil {
		t.Errorf("Get(a) after Delete = %v, %v", ok, err)
	}
	if r, ok, err := db.Get("a/b"); !ok || err != nil || r != fileRecord(3) {
		t.Errorf("Get(a/b) after overwrite = %+v, %v, %v", r, ok, err)
	}
}

func TestCancelDropsPendingWrites(t *testing.T) {
	db := openTest(t, t.TempDir())
	b := db.NewBatch()
	if err := b.Put("a", fileRecord(1)); err != nil {
		t.Fatal(err)
	}
	b.Cancel()
	if _, ok, err := db.Get("a"); ok || err != nil {
		t.Errorf("Get after Cancel = %v, %v", ok, err)
	}
}

func TestInvalidPaths(t *testing.T) {
	db := openTest(t, t.TempDir())
	b := db.NewBatch()
	defer b.Cancel()
	for _, p := range []string{"/abs", "a//b", "a/./b", "..", "a/", "nul\x00"} {
		if err := b.Put(p, Record{}); !errors.Is(err, tree.ErrBadName) {
			t.Errorf("Put(%q) = %v, want ErrBadName", p, err)
		}
		if err := b.Delete(p); !errors.Is(err, tree.ErrBadName) {
			t.Errorf("Delete(%q) = %v, want ErrBadName", p, err)
		}
		if _, _, err := db.Get(p); !errors.Is(err, tree.ErrBadName) {
			t.Errorf("Get(%q) = %v, want ErrBadName", p, err)
		}
	}
}

func TestOpenRefusesForeignPairDir(t *testing.T) {
	state := t.TempDir()
	dir := PairDir(state, testIdentity)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pairPath := filepath.Join(dir, "pair")
	if err := os.WriteFile(pairPath, []byte("/other\nhost:else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(state, testIdentity, "x"); err == nil || errors.Is(err, ErrLocked) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open over another pair's directory = %v, want a mismatch error", err)
	}
	// The failed Open must have released the pair.
	if err := os.Remove(pairPath); err != nil {
		t.Fatal(err)
	}
	db, err := Open(state, testIdentity, "x")
	if err != nil {
		t.Fatalf("Open after the failed one: %v", err)
	}
	db.Close()
}

// A process killed right after badger created a memtable log leaves it
// empty, and badger then refuses to open ("Create a new file"): Open
// removes such logs, which hold nothing.
func TestOpenAfterKillDuringMemtableCreation(t *testing.T) {
	state := t.TempDir()
	db, err := Open(state, "pair", "test")
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	b.Put("a", Record{Base: tree.Entry{Kind: tree.Dir, Perm: 0o755}})
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	dir := db.Dir()
	db.Close()
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err = Open(state, "pair", "test")
	if err != nil {
		t.Fatalf("reopen with an empty memtable log: %v", err)
	}
	defer db.Close()
	if rec, ok, err := db.Get("a"); err != nil || !ok || rec.Base.Kind != tree.Dir {
		t.Fatalf("record after reopen: %+v %v %v", rec, ok, err)
	}
}

// With SetIdleClose the database closes once unused and opens again at the
// next use, keeping every record and the pair's lock; batches, reads and
// syncs running at once keep it open.
func TestIdleClose(t *testing.T) {
	state := t.TempDir()
	db, err := Open(state, "/l\x00/r", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetIdleClose(20 * time.Millisecond)
	isOpen := func() bool { db.mu.Lock(); defer db.mu.Unlock(); return db.bdb != nil }
	b := db.NewBatch()
	b.Put("a", Record{Base: tree.Entry{Kind: tree.Dir}})
	time.Sleep(60 * time.Millisecond)
	if !isOpen() {
		t.Fatal("closed while a batch was in progress")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for isOpen() {
		if time.Now().After(deadline) {
			t.Fatal("still open long after its last use")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := Open(state, "/l\x00/r", "other"); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open while closed for idleness: %v; want ErrLocked", err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				p := fmt.Sprintf("d%d/f%d", i, j)
				b := db.NewBatch()
				if err := b.Put(p, Record{Base: tree.Entry{Kind: tree.Dir}}); err != nil {
					t.Error(err)
				}
				if err := b.Flush(); err != nil {
					t.Error(err)
				}
				if _, ok, err := db.Get(p); err != nil || !ok {
					t.Errorf("Get %s: %v %v", p, ok, err)
				}
				time.Sleep(time.Duration(j%3) * 15 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := db.Load(func(string, Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1+8*20 {
		t.Errorf("%d records after reopening; want %d", n, 1+8*20)
	}
}

// A table badger was writing when the process was killed (created, sized
// or half written, not yet listed in the MANIFEST) is not damage: badger
// removes such a table at open, and the journal opens with its records.
func TestOpenAfterKillDuringTableWrite(t *testing.T) {
	state := t.TempDir()
	db, err := Open(state, "pair", "test")
	if err != nil {
		t.Fatal(err)
	}
	putAll(t, db, map[string]Record{"a": fileRecord(1), "b": fileRecord(2)})
	dir := db.Dir()
	db.Close() // flushes the memtable into a table the MANIFEST lists
	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(tables) == 0 {
		t.Fatal("no table after close")
	}
	listed, err := os.ReadFile(tables[0])
	if err != nil {
		t.Fatal(err)
	}
	unlisted := map[string][]byte{
		"000097.sst": nil,                       // created, not sized yet
		"000098.sst": make([]byte, len(listed)), // sized, nothing copied yet
		"000099.sst": listed[:len(listed)/2],    // half copied
	}
	for name, data := range unlisted {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err = Open(state, "pair", "test")
	if err != nil {
		t.Fatalf("reopen with tables not in the MANIFEST: %v", err)
	}
	defer db.Close()
	if got := loadAll(t, db); len(got) != 2 {
		t.Fatalf("records after reopen: %+v", got)
	}
	for name := range unlisted {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left in place: %v", name, err)
		}
	}
}
