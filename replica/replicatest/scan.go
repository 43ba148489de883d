package replicatest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"

	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

var scanTests = []subtest{
	{"Fixture", testScanFixture},
	{"SpecialFiles", testScanSpecial},
	{"Unreadable", testScanUnreadable},
	{"KnownReuse", testScanKnown},
	{"Ignore", testScanIgnore},
	{"Cancelled", testScanCancelled},
	{"RandomTrees", testScanRandom},
}

// want is the expected state of one path after a scan.
type want struct {
	kind    tree.Kind
	perm    uint32
	content string // files
	target  string // symlinks
}

// model is what a fixture tree holds, by path.
type model map[string]want

// build creates m in the replica, parents first.
func (e *env) build(m model) {
	e.t.Helper()
	paths := slices.SortedFunc(func(yield func(string) bool) {
		for p := range m {
			if !yield(p) {
				return
			}
		}
	}, tree.Compare)
	for _, p := range paths {
		w := m[p]
		switch w.kind {
		case tree.Dir:
			e.mkdir(p, w.perm)
		case tree.File:
			e.write(p, w.content, w.perm)
		case tree.Symlink:
			e.symlink(w.target, p)
		}
	}
}

// scan runs replica.Scan and fails the test on error.
func (e *env) scan(opt replica.ScanOptions) *replica.ScanResult {
	e.t.Helper()
	res, err := replica.Scan(context.Background(), e.r, opt)
	if err != nil {
		e.t.Fatalf("Scan: %v", err)
	}
	if !slices.IsSortedFunc(res.Entries, func(a, b tree.Scanned) int { return tree.Compare(a.Path, b.Path) }) {
		e.t.Errorf("Scan entries are not sorted by tree.Compare")
	}
	return res
}

// check compares scanned entries with the model, exactly.
func (e *env) check(res *replica.ScanResult, m model) {
	e.t.Helper()
	got := map[string]bool{}
	for _, sc := range res.Entries {
		got[sc.Path] = true
		w, ok := m[sc.Path]
		if !ok {
			e.t.Errorf("scan found unexpected %s (%v)", sc.Path, sc.Entry.Kind)
			continue
		}
		if err := matches(sc, w); err != nil {
			e.t.Errorf("scan entry %s: %v", sc.Path, err)
		}
	}
	for p := range m {
		if !got[p] {
			e.t.Errorf("scan missed %s", p)
		}
	}
}

// matches tells how a scanned entry differs from what is wanted.
func matches(sc tree.Scanned, w want) error {
	en := sc.Entry
	switch {
	case en.Kind != w.kind:
		return fmt.Errorf("kind %v, want %v", en.Kind, w.kind)
	case w.kind != tree.Symlink && en.Perm != w.perm:
		return fmt.Errorf("perm %o, want %o", en.Perm, w.perm)
	case w.kind == tree.Symlink && en.Target != w.target:
		return fmt.Errorf("target %q, want %q", en.Target, w.target)
	case w.kind == tree.File && en.Hash != tree.Hash(blake3.Sum256([]byte(w.content))):
		return fmt.Errorf("hash %v, want blake3 of %d bytes", en.Hash, len(w.content))
	case w.kind == tree.File && (en.Size != int64(len(w.content)) || sc.FP.Size != en.Size || en.MtimeNs != sc.FP.MtimeNs):
		return fmt.Errorf("size %d (fingerprint %+v), want %d", en.Size, sc.FP, len(w.content))
	}
	return nil
}

// fixtureModel is the tree most scan tests use. Internal paths are built
// but never scanned.
func fixtureModel() (synced, internal model) {
	big := make([]byte, 1<<20+3)
	for i := range big {
		big[i] = byte(i*31 + i>>9)
	}
	synced = model{
		"a.txt":            {kind: tree.File, perm: 0o644, content: "alpha"},
		"b":                {kind: tree.Dir, perm: 0o755},
		"b/c.txt":          {kind: tree.File, perm: 0o755, content: "charlie"},
		"b/d":              {kind: tree.Dir, perm: 0o700},
		"b/d/e":            {kind: tree.File, perm: 0o600},
		"b.x":              {kind: tree.File, perm: 0o644, content: "bx"},
		"big.bin":          {kind: tree.File, perm: 0o644, content: string(big)},
		"dir2":             {kind: tree.Dir, perm: 0o755},
		"link":             {kind: tree.Symlink, target: "a.txt"},
		"dangling":         {kind: tree.Symlink, target: "no/where"},
		"sub":              {kind: tree.Dir, perm: 0o755},
		"sub/.Trash-0":     {kind: tree.Dir, perm: 0o755},
		"sub/.Trash-0/x":   {kind: tree.File, perm: 0o644, content: "not at the root: synced"},
		"with space/-dash": {kind: tree.File, perm: 0o644, content: "odd"},
		"with space":       {kind: tree.Dir, perm: 0o755},
	}
	internal = model{
		".myrrorfs-backup":     {kind: tree.Dir, perm: 0o700},
		".myrrorfs-backup/old": {kind: tree.File, perm: 0o644, content: "old"},
		".Trash-0":             {kind: tree.Dir, perm: 0o700},
		".Trash-0/junk":        {kind: tree.File, perm: 0o644, content: "junk"},
		"b/.myrrorfs-other":    {kind: tree.File, perm: 0o644, content: "internal"},
	}
	return synced, internal
}

// buildFixture builds the fixture and two stale temporaries, and returns
// the synced model and the temporaries' paths, sorted.
func (e *env) buildFixture() (model, []string) {
	synced, internal := fixtureModel()
	e.build(synced)
	e.build(internal)
	var temps []string
	for _, dir := range []string{"", "b/d"} {
		p, w, err := e.r.CreateTemp(dir, 0o644)
		if err != nil {
			e.t.Fatalf("CreateTemp: %v", err)
		}
		w.Close()
		temps = append(temps, p)
	}
	slices.SortFunc(temps, tree.Compare)
	return synced, temps
}

// fileCount counts the files of m and their bytes.
func fileCount(m model) (n int, bytes int64) {
	for _, w := range m {
		if w.kind == tree.File {
			n++
			bytes += int64(len(w.content))
		}
	}
	return n, bytes
}

func testScanFixture(t *testing.T, e *env) {
	m, temps := e.buildFixture()
	var calls, lastEntries int
	res := e.scan(replica.ScanOptions{Workers: 3, Progress: func(entries int, _ int64) {
		calls++
		lastEntries = entries
	}})
	e.check(res, m)
	if !slices.Equal(res.Temps, temps) {
		t.Errorf("Temps = %q; want %q", res.Temps, temps)
	}
	if len(res.Problems) != 0 {
		t.Errorf("Problems = %v; want none", res.Problems)
	}
	n, bytes := fileCount(m)
	if res.Hashed != n || res.HashedBytes != bytes {
		t.Errorf("Hashed %d files, %d bytes; want %d, %d", res.Hashed, res.HashedBytes, n, bytes)
	}
	if calls == 0 || lastEntries != len(res.Entries) {
		t.Errorf("Progress called %d times, last with %d entries; want at least once, last with %d", calls, lastEntries, len(res.Entries))
	}
	for _, sc := range res.Entries {
		if sc.Entry.Kind == tree.File && sc.FP != e.lstat(sc.Path).FP {
			t.Errorf("fingerprint of %s differs from Lstat's", sc.Path)
		}
	}
}

func testScanSpecial(t *testing.T, e *env) {
	e.needDisk()
	e.write("f", "x", 0o644)
	e.mkdir("d", 0o755)
	if err := syscall.Mkfifo(e.onDisk("d/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(e.onDisk("sock"), syscall.S_IFSOCK|0o644, 0); err != nil {
		t.Fatal(err)
	}
	res := e.scan(replica.ScanOptions{})
	e.check(res, model{"f": {kind: tree.File, perm: 0o644, content: "x"}, "d": {kind: tree.Dir, perm: 0o755}})
	var got []string
	for _, p := range res.Problems {
		if !p.Warning || p.Err == nil {
			t.Errorf("problem %s = %v, warning %v; want a warning with a cause", p.Path, p.Err, p.Warning)
		}
		got = append(got, p.Path)
	}
	if want := []string{"d/fifo", "sock"}; !slices.Equal(got, want) {
		t.Errorf("problems at %q; want %q", got, want)
	}
}

func testScanUnreadable(t *testing.T, e *env) {
	e.write("ok", "fine", 0o644)
	e.write("secret", "hidden", 0o644)
	e.mkdir("locked", 0o755)
	e.write("locked/inner", "in", 0o644)
	for p, perm := range map[string]uint32{"secret": 0, "locked": 0} {
		if err := e.r.Chmod(p, perm); err != nil {
			t.Fatalf("Chmod %s: %v", p, err)
		}
	}
	t.Cleanup(func() { e.r.Chmod("locked", 0o755) })
	res := e.scan(replica.ScanOptions{})
	m := model{"ok": {kind: tree.File, perm: 0o644, content: "fine"}}
	if os.Geteuid() == 0 {
		// Permission bits do not stop root: everything is read.
		m["secret"] = want{kind: tree.File, content: "hidden"}
		m["locked"] = want{kind: tree.Dir}
		m["locked/inner"] = want{kind: tree.File, perm: 0o644, content: "in"}
		e.check(res, m)
		return
	}
	e.check(res, m)
	var got []string
	for _, p := range res.Problems {
		if p.Warning || p.Err == nil {
			t.Errorf("problem %s = %v, warning %v; want an error", p.Path, p.Err, p.Warning)
		}
		got = append(got, p.Path)
	}
	if want := []string{"locked", "secret"}; !slices.Equal(got, want) {
		t.Errorf("problems at %q; want %q", got, want)
	}
}

// knownFrom records a scan's files as a Known function.
func knownFrom(res *replica.ScanResult) (replica.Known, map[string]tree.Scanned) {
	m := map[string]tree.Scanned{}
	for _, sc := range res.Entries {
		if sc.Entry.Kind == tree.File {
			m[sc.Path] = sc
		}
	}
	return func(p string) (tree.Fingerprint, tree.Hash, bool) {
		sc, ok := m[p]
		return sc.FP, sc.Entry.Hash, ok
	}, m
}

func testScanKnown(t *testing.T, e *env) {
	m, _ := e.buildFixture()
	first := e.scan(replica.ScanOptions{})
	known, byPath := knownFrom(first)

	second := e.scan(replica.ScanOptions{Known: known})
	if second.Hashed != 0 || second.HashedBytes != 0 || !slices.Equal(second.Entries, first.Entries) {
		t.Errorf("rescan with Known hashed %d files; want 0 and the same entries", second.Hashed)
	}

	e.write("b/c.txt", "changed!", 0o755)
	if err := e.r.Chtimes("b/c.txt", 1e18); err != nil {
		t.Fatal(err)
	}
	m["b/c.txt"] = want{kind: tree.File, perm: 0o755, content: "changed!"}
	third := e.scan(replica.ScanOptions{Known: known})
	if third.Hashed != 1 || third.HashedBytes != 8 {
		t.Errorf("after changing one file: hashed %d files, %d bytes; want 1, 8", third.Hashed, third.HashedBytes)
	}
	e.check(third, m)

	// A recorded hash is trusted as long as the fingerprint is identical.
	fake := tree.Hash{1, 2, 3}
	trusting := func(p string) (tree.Fingerprint, tree.Hash, bool) {
		if p == "a.txt" {
			return byPath[p].FP, fake, true
		}
		return known(p)
	}
	fourth := e.scan(replica.ScanOptions{Known: trusting})
	for _, sc := range fourth.Entries {
		if sc.Path == "a.txt" && sc.Entry.Hash != fake {
			t.Errorf("a.txt was hashed again although its fingerprint is the recorded one")
		}
	}
}

func testScanIgnore(t *testing.T, e *env) {
	m, _ := e.buildFixture()
	var mu sync.Mutex
	calls := map[string]bool{}
	ignore := func(p string, isDir bool) bool {
		mu.Lock()
		calls[p] = isDir
		mu.Unlock()
		return p == "b/d" || p == "b.x"
	}
	res := e.scan(replica.ScanOptions{Ignore: ignore})
	delete(m, "b/d")
	delete(m, "b/d/e")
	delete(m, "b.x")
	e.check(res, m)
	for p := range calls {
		if tree.Internal(p) {
			t.Errorf("Ignore called for internal path %s", p)
		}
	}
	if isDir, ok := calls["b/d"]; !ok || !isDir {
		t.Errorf("Ignore(b/d) called %v with isDir %v; want a call with true", ok, isDir)
	}
	if isDir := calls["a.txt"]; isDir {
		t.Errorf("Ignore(a.txt) called with isDir true")
	}
	if len(res.Temps) != 1 {
		t.Errorf("Temps = %q; want only the root's (b/d is ignored)", res.Temps)
	}
}

func testScanCancelled(t *testing.T, e *env) {
	e.buildFixture()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := replica.Scan(ctx, e.r, replica.ScanOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Scan with a cancelled context: err = %v; want context.Canceled", err)
	}
}

// randomModel draws a random tree of about n entries.
func randomModel(rng *rand.Rand, n int) model {
	m := model{}
	dirs := []string{""}
	perms := []uint32{0o644, 0o755, 0o600, 0o700}
	for i := 0; i < n; i++ {
		dir := dirs[rng.IntN(len(dirs))]
		p := tree.Join(dir, fmt.Sprintf("n%d%s", i, []string{"", ".x", "-y", " z"}[rng.IntN(4)]))
		switch rng.IntN(5) {
		case 0:
			m[p] = want{kind: tree.Dir, perm: perms[rng.IntN(4)] | 0o700}
			dirs = append(dirs, p)
		case 1:
			m[p] = want{kind: tree.Symlink, target: fmt.Sprintf("t%d", rng.IntN(100))}
		default:
			content := make([]byte, rng.IntN(3)*rng.IntN(20000))
			for j := range content {
				content[j] = byte(rng.Uint32())
			}
			m[p] = want{kind: tree.File, perm: perms[rng.IntN(4)], content: string(content)}
		}
	}
	return m
}

func testScanRandom(t *testing.T, e *env) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			m := randomModel(rng, 60)
			top := fmt.Sprintf("r%d", seed)
			e.mkdir(top, 0o755)
			scoped := model{}
			for p, w := range m {
				scoped[tree.Join(top, p)] = w
			}
			e.build(scoped)
			res := e.scan(replica.ScanOptions{Workers: 1 + rng.IntN(8), Ignore: func(p string, _ bool) bool {
				return !(p == top || tree.IsUnder(p, top))
			}})
			scoped[top] = want{kind: tree.Dir, perm: 0o755}
			e.check(res, scoped)
			n, _ := fileCount(scoped)
			if res.Hashed != n {
				t.Errorf("hashed %d files; want %d", res.Hashed, n)
			}
		})
	}
}
