package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/tree"
)

// memNode is one entry of memReplica.
type memNode struct {
	kind    tree.Kind
	perm    uint32
	content string
	target  string
	ino     uint64
	mtime   int64
}

// memReplica is an in-memory, read-only Replica with injectable faults and
// latency, for testing Scan without a filesystem.
type memReplica struct {
	mu    sync.Mutex
	nodes map[string]*memNode

	latency  time.Duration
	failList map[string]bool   // ReadDir fails
	failOpen map[string]bool   // Open fails
	extra    map[string][]Info // ReadDir also returns these (invalid names, specials)
	onRead   func(p string)    // called after a file has been read through Open
	onList   func(p string)    // called at the start of ReadDir

	inflight, maxInflight atomic.Int32
	opens                 atomic.Int32
}

func newMem() *memReplica {
	return &memReplica{nodes: map[string]*memNode{"": {kind: tree.Dir, perm: 0o755}},
		failList: map[string]bool{}, failOpen: map[string]bool{}, extra: map[string][]Info{}}
}

func (m *memReplica) add(p string, n memNode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n.ino = uint64(len(m.nodes) + 1)
	n.mtime = int64(n.ino) * 1e9
	m.nodes[p] = &n
}

// call simulates one round trip and tracks how many run at once.
func (m *memReplica) call() func() {
	n := m.inflight.Add(1)
	for {
		max := m.maxInflight.Load()
		if n <= max || m.maxInflight.CompareAndSwap(max, n) {
			break
		}
	}
	time.Sleep(m.latency)
	return func() { m.inflight.Add(-1) }
}

func (m *memReplica) info(p string, n *memNode) Info {
	mode := map[tree.Kind]uint32{tree.File: 0o100000, tree.Dir: 0o040000, tree.Symlink: 0o120000}[n.kind] | n.perm
	size := int64(len(n.content))
	return Info{Name: tree.Base(p), Kind: n.kind, Perm: n.perm, Size: size, MtimeNs: n.mtime,
		FP: tree.Fingerprint{Size: size, MtimeNs: n.mtime, Ino: n.ino, Mode: mode}}
}

func (m *memReplica) String() string { return "mem:" }

func (m *memReplica) Lstat(p string) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[p]
	if !ok {
		return Info{}, fmt.Errorf("lstat %s: %w", p, fs.ErrNotExist)
	}
	return m.info(p, n), nil
}

func (m *memReplica) ReadDir(p string) ([]Info, error) {
	defer m.call()()
	if m.onList != nil {
		defer m.onList(p) // after listing, outside the lock
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failList[p] {
		return nil, fmt.Errorf("readdir %s: %w", p, fs.ErrPermission)
	}
	var out []Info
	for q, n := range m.nodes {
		if q != "" && tree.Parent(q) == p {
			out = append(out, m.info(q, n))
		}
	}
	return append(out, m.extra[p]...), nil
}

func (m *memReplica) Readlink(p string) (string, error) {
	defer m.call()()
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[p]
	if !ok || n.kind != tree.Symlink {
		return "", fmt.Errorf("readlink %s: not a symlink", p)
	}
	return n.target, nil
}

func (m *memReplica) Open(p string) (io.ReadCloser, error) {
	defer m.call()()
	m.opens.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[p]
	if m.failOpen[p] {
		return nil, fmt.Errorf("open %s: %w", p, fs.ErrPermission)
	}
	if !ok || n.kind != tree.File {
		return nil, fmt.Errorf("open %s: %w", p, fs.ErrNotExist)
	}
	return readCloser{strings.NewReader(n.content), func() {
		if m.onRead != nil {
			m.onRead(p)
		}
	}}, nil
}

type readCloser struct {
	io.Reader
	onClose func()
}

func (r readCloser) Close() error { r.onClose(); return nil }

var errReadOnly = errors.New("read-only test replica")

func (m *memReplica) CreateTemp(string, uint32) (string, WriteFile, error) {
	return "", nil, errReadOnly
}
func (m *memReplica) Rename(string, string) error  { return errReadOnly }
func (m *memReplica) Mkdir(string, uint32) error   { return errReadOnly }
func (m *memReplica) Symlink(string, string) error { return errReadOnly }
func (m *memReplica) Remove(string) error          { return errReadOnly }
func (m *memReplica) Chmod(string, uint32) error   { return errReadOnly }
func (m *memReplica) Chtimes(string, int64) error  { return errReadOnly }
func (m *memReplica) Link(string, string) error    { return ErrUnsupported }
func (m *memReplica) Close() error                 { return nil }

func hashOf(s string) tree.Hash { return blake3.Sum256([]byte(s)) }

func scanPaths(res *ScanResult) []string {
	var ps []string
	for _, sc := range res.Entries {
		ps = append(ps, sc.Path)
	}
	return ps
}

func problemPaths(res *ScanResult, warning bool) []string {
	var ps []string
	for _, p := range res.Problems {
		if p.Warning == warning {
			ps = append(ps, p.Path)
		}
	}
	return ps
}

// faultTree is a small tree with one of each kind.
func faultTree() *memReplica {
	m := newMem()
	m.add("a", memNode{kind: tree.File, perm: 0o644, content: "a"})
	m.add("d", memNode{kind: tree.Dir, perm: 0o755})
	m.add("d/f", memNode{kind: tree.File, perm: 0o644, content: "f"})
	m.add("d/g", memNode{kind: tree.File, perm: 0o644, content: "g"})
	m.add("e", memNode{kind: tree.Dir, perm: 0o755})
	m.add("e/x", memNode{kind: tree.File, perm: 0o644, content: "x"})
	m.add("l", memNode{kind: tree.Symlink, target: "a"})
	return m
}

func TestScanProblems(t *testing.T) {
	cases := []struct {
		name                    string
		fault                   func(m *memReplica)
		entries, errs, warnings []string
	}{
		{"none", func(*memReplica) {},
			[]string{"a", "d", "d/f", "d/g", "e", "e/x", "l"}, nil, nil},
		{"unlistable dir", func(m *memReplica) { m.failList["d"] = true },
			[]string{"a", "e", "e/x", "l"}, []string{"d"}, nil},
		{"unreadable file", func(m *memReplica) { m.failOpen["d/g"] = true },
			[]string{"a", "d", "d/f", "e", "e/x", "l"}, []string{"d/g"}, nil},
		{"invalid names and specials", func(m *memReplica) {
			m.extra["e"] = []Info{{Name: ".."}, {Name: "s/lash", Kind: tree.File}, {Name: ""}, {Name: "sock", Kind: tree.Absent}}
		}, []string{"a", "d", "d/f", "d/g", "e", "e/x", "l"}, nil, []string{"e/", "e/..", "e/s/lash", "e/sock"}},
		{"file vanished before hashing", func(m *memReplica) {
			m.onList = func(p string) {
				if p == "" {
					m.mu.Lock()
					delete(m.nodes, "a")
					m.mu.Unlock()
				}
			}
		}, []string{"d", "d/f", "d/g", "e", "e/x", "l"}, []string{"a"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := faultTree()
			c.fault(m)
			res, err := Scan(context.Background(), m, ScanOptions{Workers: 1})
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if got := scanPaths(res); !slices.Equal(got, c.entries) {
				t.Errorf("entries %q; want %q", got, c.entries)
			}
			if got := problemPaths(res, false); !slices.Equal(got, c.errs) {
				t.Errorf("error problems %q; want %q", got, c.errs)
			}
			if got := problemPaths(res, true); !slices.Equal(got, c.warnings) {
				t.Errorf("warnings %q; want %q", got, c.warnings)
			}
			for _, p := range res.Problems {
				if p.Err == nil {
					t.Errorf("problem %s has no cause", p.Path)
				}
			}
		})
	}
}

func TestScanRootUnlistable(t *testing.T) {
	m := faultTree()
	m.failList[""] = true
	_, err := Scan(context.Background(), m, ScanOptions{})
	if err == nil || !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "mem:") {
		t.Errorf("Scan of an unlistable root: err = %v; want one naming the replica and wrapping the cause", err)
	}
}

// wideTree makes dirs directories of files files each.
func wideTree(dirs, files int) *memReplica {
	m := newMem()
	for d := range dirs {
		dir := fmt.Sprintf("d%02d", d)
		m.add(dir, memNode{kind: tree.Dir, perm: 0o755})
		for f := range files {
			m.add(tree.Join(dir, fmt.Sprint(f)), memNode{kind: tree.File, perm: 0o644, content: dir + fmt.Sprint(f)})
		}
	}
	return m
}

func TestScanConcurrency(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			m := wideTree(12, 6)
			m.latency = 2 * time.Millisecond
			res, err := Scan(context.Background(), m, ScanOptions{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) != 12*7 || res.Hashed != 72 {
				t.Errorf("%d entries, %d hashed; want 84, 72", len(res.Entries), res.Hashed)
			}
			if got := int(m.maxInflight.Load()); got > workers || (workers > 1 && got < 2) {
				t.Errorf("at most %d calls ran at once with %d workers", got, workers)
			}
		})
	}
}

func TestScanCancelMidway(t *testing.T) {
	m := wideTree(50, 3)
	ctx, cancel := context.WithCancel(context.Background())
	var lists atomic.Int32
	m.onList = func(string) {
		if lists.Add(1) == 5 {
			cancel()
		}
	}
	_, err := Scan(ctx, m, ScanOptions{Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if n := lists.Load(); n > 10 {
		t.Errorf("%d directories listed after cancel at the 5th", n)
	}
}

func TestScanProgressNeverOverlaps(t *testing.T) {
	m := wideTree(20, 20)
	var in, overlaps, calls atomic.Int32
	var last atomic.Int64
	_, err := Scan(context.Background(), m, ScanOptions{Workers: 8, Progress: func(entries int, hashed int64) {
		if in.Add(1) > 1 {
			overlaps.Add(1)
		}
		calls.Add(1)
		last.Store(int64(entries))
		time.Sleep(time.Millisecond)
		in.Add(-1)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if overlaps.Load() != 0 || calls.Load() == 0 || last.Load() != 20*21 {
		t.Errorf("progress: %d overlapping calls, %d calls, last count %d (want 0, >0, 420)", overlaps.Load(), calls.Load(), last.Load())
	}
}

func TestHashFileThroughOpen(t *testing.T) {
	m := faultTree()
	h, fp, err := HashFile(m, "d/f")
	if info, _ := m.Lstat("d/f"); err != nil || h != hashOf("f") || fp != info.FP {
		t.Errorf("HashFile d/f = %v, %+v, %v; want blake3 of its content and its fingerprint", h, fp, err)
	}
	if _, _, err := HashFile(m, "d"); err == nil {
		t.Errorf("HashFile of a dir succeeded")
	}
	if _, _, err := HashFile(m, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("HashFile of a missing file: %v", err)
	}
	m.onRead = func(p string) {
		m.mu.Lock()
		m.nodes[p].mtime++
		m.mu.Unlock()
	}
	if _, _, err := HashFile(m, "d/g"); !errors.Is(err, ErrChangedWhileReading) {
		t.Errorf("HashFile of a file changing while read: %v; want ErrChangedWhileReading", err)
	}
}

// TestScanRandom checks Scan against a model over random trees and random
// recorded states: every entry is found once, in order, with the right
// hash, and exactly the files whose fingerprint differs from the recorded
// one are read.
func TestScanRandom(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			m, want := randomMem(rng, 10+rng.IntN(200))
			known, stale := randomKnown(rng, m)
			res, err := Scan(context.Background(), m, ScanOptions{Known: known, Workers: 1 + rng.IntN(10)})
			if err != nil {
				t.Fatal(err)
			}
			if got := scanPaths(res); !slices.Equal(got, want) {
				t.Fatalf("entries %q; want %q", got, want)
			}
			for _, sc := range res.Entries {
				n := m.nodes[sc.Path]
				if n.kind == tree.File && sc.Entry.Hash != hashOf(n.content) {
					t.Errorf("%s: wrong hash", sc.Path)
				}
				if n.kind == tree.Symlink && sc.Entry.Target != n.target {
					t.Errorf("%s: target %q, want %q", sc.Path, sc.Entry.Target, n.target)
				}
			}
			if res.Hashed != stale || int(m.opens.Load()) != stale {
				t.Errorf("hashed %d files with %d opens; want %d", res.Hashed, m.opens.Load(), stale)
			}
		})
	}
}

// randomMem draws a random tree and returns it with its paths in scan order.
func randomMem(rng *rand.Rand, n int) (*memReplica, []string) {
	m := newMem()
	dirs := []string{""}
	var paths []string
	for i := range n {
		name := fmt.Sprintf("%c%d", "ab/.-"[rng.IntN(5)%4], i)
		if rng.IntN(3) == 0 {
			name = strings.Repeat("a", 1+rng.IntN(3))
		}
		p := tree.Join(dirs[rng.IntN(len(dirs))], name)
		if _, dup := m.nodes[p]; dup || tree.Internal(p) || tree.ValidName(name) != nil {
			continue
		}
		switch rng.IntN(4) {
		case 0:
			m.add(p, memNode{kind: tree.Dir, perm: 0o755})
			dirs = append(dirs, p)
		case 1:
			m.add(p, memNode{kind: tree.Symlink, target: fmt.Sprint("t", i)})
		default:
			m.add(p, memNode{kind: tree.File, perm: 0o644, content: fmt.Sprint(rng.Uint64())})
		}
		paths = append(paths, p)
	}
	slices.SortFunc(paths, tree.Compare)
	return m, paths
}

// randomKnown records a random subset of m's files, some with a stale
// fingerprint, and counts the files Scan must hash.
func randomKnown(rng *rand.Rand, m *memReplica) (Known, int) {
	rec := map[string]tree.Fingerprint{}
	hashes := map[string]tree.Hash{}
	stale := 0
	for p, n := range m.nodes {
		if n.kind != tree.File {
			continue
		}
		fp := m.info(p, n).FP
		switch rng.IntN(4) {
		case 0:
			stale++ // not recorded
			continue
		case 1:
			fp.MtimeNs++ // recorded before a change
			stale++
		}
		rec[p], hashes[p] = fp, hashOf(n.content)
	}
	return func(p string) (tree.Fingerprint, tree.Hash, bool) {
		fp, ok := rec[p]
		return fp, hashes[p], ok
	}, stale
}

// listerMem is a memReplica that is also a TreeLister: it walks itself
// through ReadDir and Readlink in a random order that keeps every directory
// before its subtree, as a remote agent would.
type listerMem struct {
	*memReplica
	seed   uint64
	lists  atomic.Int32 // ListTree calls
	before func(fn func(Listed) error) error
}

func (l *listerMem) ListTree(ctx context.Context, fn func(Listed) error) error {
	l.lists.Add(1)
	if l.before != nil {
		if err := l.before(fn); err != nil {
			return err
		}
	}
	root, err := l.ReadDir("")
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(l.seed, 1))
	var todo []Listed
	add := func(dir string, infos []Info) {
		for _, info := range infos {
			todo = append(todo, Listed{Dir: dir, Info: info})
		}
	}
	add("", root)
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		i := rng.IntN(len(todo))
		e := todo[i]
		todo[i] = todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		p := tree.Join(e.Dir, e.Info.Name)
		var children []Info
		switch e.Info.Kind {
		case tree.Dir:
			children, e.Err = l.ReadDir(p)
		case tree.Symlink:
			e.Target, e.Err = l.Readlink(p)
		}
		if err := fn(e); err != nil {
			return err
		}
		add(p, children)
	}
	return nil
}

// sameScan fails t unless both results are the same.
func sameScan(t *testing.T, walked, listed *ScanResult) {
	t.Helper()
	if !slices.Equal(walked.Entries, listed.Entries) {
		t.Errorf("listed entries differ from walked ones:\n listed %v\n walked %v", listed.Entries, walked.Entries)
	}
	if !slices.Equal(walked.Temps, listed.Temps) {
		t.Errorf("temps: listed %q, walked %q", listed.Temps, walked.Temps)
	}
	for _, w := range []bool{false, true} {
		if a, b := problemPaths(walked, w), problemPaths(listed, w); !slices.Equal(a, b) {
			t.Errorf("problems (warning %v): listed %q, walked %q", w, b, a)
		}
	}
	if walked.Hashed != listed.Hashed || walked.HashedBytes != listed.HashedBytes {
		t.Errorf("hashed: listed %d files, %d bytes; walked %d, %d", listed.Hashed, listed.HashedBytes, walked.Hashed, walked.HashedBytes)
	}
}

// scanBoth scans m by walking it, then through a TreeLister over the same
// tree, and checks that the results are the same.
func scanBoth(t *testing.T, m *memReplica, seed uint64, opt ScanOptions) *ScanResult {
	t.Helper()
	walked, err := Scan(context.Background(), m, opt)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	l := &listerMem{memReplica: m, seed: seed}
	listed, err := Scan(context.Background(), l, opt)
	if err != nil {
		t.Fatalf("listing: %v", err)
	}
	if l.lists.Load() != 1 {
		t.Fatalf("ListTree called %d times, want once", l.lists.Load())
	}
	sameScan(t, walked, listed)
	return listed
}

// addInternal adds temporaries and internal directories to m.
func addInternal(m *memReplica, dirs []string) {
	for i, dir := range dirs {
		m.add(tree.Join(dir, TempNameFor(fmt.Sprintf("%012x", i))), memNode{kind: tree.File, perm: 0o600, content: "tmp"})
		backup := tree.Join(dir, tree.BackupDir)
		m.add(backup, memNode{kind: tree.Dir, perm: 0o700})
		m.add(tree.Join(backup, "old"), memNode{kind: tree.File, perm: 0o644, content: "old"})
		m.add(tree.Join(backup, tree.TempPrefix+"in-backup"), memNode{kind: tree.File, perm: 0o644})
	}
}

// TestScanListedProblems runs the cases of TestScanProblems through a
// TreeLister too.
func TestScanListedProblems(t *testing.T) {
	faults := map[string]func(m *memReplica){
		"unlistable dir":  func(m *memReplica) { m.failList["d"] = true },
		"unreadable file": func(m *memReplica) { m.failOpen["d/g"] = true },
		"invalid names and specials": func(m *memReplica) {
			m.extra["e"] = []Info{{Name: ".."}, {Name: "s/lash", Kind: tree.File}, {Name: ""}, {Name: "sock", Kind: tree.Absent}}
		},
		"internal names": func(m *memReplica) { addInternal(m, []string{"", "d"}) },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			m := faultTree()
			fault(m)
			res := scanBoth(t, m, 1, ScanOptions{Workers: 2})
			if len(res.Problems)+len(res.Temps) == 0 {
				t.Errorf("no problem and no temporary found")
			}
		})
	}
}

// TestScanListedRandom compares walked and listed scans of random trees
// with faults, ignored paths, internal names and recorded hashes.
func TestScanListedRandom(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			m, paths := randomMem(rng, 10+rng.IntN(300))
			var dirs []string
			for _, p := range paths {
				switch n := m.nodes[p]; {
				case n.kind == tree.Dir && rng.IntN(6) == 0:
					m.failList[p] = true
				case n.kind == tree.Dir:
					dirs = append(dirs, p)
				case n.kind == tree.File && rng.IntN(10) == 0:
					m.failOpen[p] = true
				}
			}
			addInternal(m, dirs[:min(len(dirs), 3)])
			known, _ := randomKnown(rng, m)
			opt := ScanOptions{Known: known, Workers: 1 + rng.IntN(8), LazyHash: rng.IntN(4) == 0}
			if rng.IntN(2) == 0 {
				opt.Ignore = func(p string, isDir bool) bool { return strings.HasPrefix(tree.Base(p), "b") == isDir }
			}
			scanBoth(t, m, seed, opt)
		})
	}
}

// unsupported is a TreeLister that cannot list after all.
type unsupported struct{ *memReplica }

func (unsupported) ListTree(context.Context, func(Listed) error) error {
	return fmt.Errorf("list: %w", ErrUnsupported)
}

func TestScanListerUnsupportedWalks(t *testing.T) {
	m := faultTree()
	res, err := Scan(context.Background(), unsupported{m}, ScanOptions{})
	if err != nil || !slices.Equal(scanPaths(res), []string{"a", "d", "d/f", "d/g", "e", "e/x", "l"}) {
		t.Errorf("Scan = %v, %v; want the walk's result", res, err)
	}
}

func TestScanListerFailures(t *testing.T) {
	errBroken := errors.New("stream broken")
	cases := map[string]struct {
		fault  func(l *listerMem)
		wantIs error
		want   string
	}{
		"root unlistable": {func(l *listerMem) { l.failList[""] = true }, fs.ErrPermission, "list the tree"},
		"stream breaks": {func(l *listerMem) {
			l.before = func(fn func(Listed) error) error {
				fn(Listed{Info: Info{Name: "x", Kind: tree.File}})
				return errBroken
			}
		}, errBroken, "mem:"},
		"entry listed twice": {func(l *listerMem) {
			l.before = func(fn func(Listed) error) error {
				m := l.memReplica
				return fn(Listed{Info: m.info("a", m.nodes["a"])})
			}
		}, nil, `"a" listed twice`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			l := &listerMem{memReplica: faultTree()}
			c.fault(l)
			_, err := Scan(context.Background(), l, ScanOptions{Known: func(string) (tree.Fingerprint, tree.Hash, bool) {
				return tree.Fingerprint{}, tree.Hash{}, false
			}})
			if err == nil || (c.wantIs != nil && !errors.Is(err, c.wantIs)) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Scan: %v; want an error wrapping %v, saying %q", err, c.wantIs, c.want)
			}
		})
	}
}

// TestScanListerOrphansDropped: entries under a directory not (yet) listed
// are left out, as the contract of TreeLister allows no other order.
func TestScanListerOrphansDropped(t *testing.T) {
	l := &listerMem{memReplica: faultTree()}
	l.before = func(fn func(Listed) error) error {
		return fn(Listed{Dir: "nowhere", Info: Info{Name: "x", Kind: tree.File}})
	}
	res, err := Scan(context.Background(), l, ScanOptions{})
	if err != nil || !slices.Equal(scanPaths(res), []string{"a", "d", "d/f", "d/g", "e", "e/x", "l"}) {
		t.Errorf("Scan = %v, %v; want the tree without the orphan", scanPaths(res), err)
	}
}

func TestScanListedCancelMidway(t *testing.T) {
	m := wideTree(50, 3)
	m.latency = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var lists atomic.Int32
	m.onList = func(string) {
		if lists.Add(1) == 5 {
			cancel()
		}
	}
	_, err := Scan(ctx, &listerMem{memReplica: m}, ScanOptions{Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if n := lists.Load(); n > 10 {
		t.Errorf("%d directories listed after cancel at the 5th", n)
	}
}

// Only temporaries of the scan's own markers are Temps; another pair's are
// passed over; anything else under a reserved name is a Warning problem
// (never a temporary, so never removed).
func TestScanTempOwnership(t *testing.T) {
	own, other := PairMarker("a\x00b"), PairMarker("a\x00c")
	m := faultTree()
	mine := TempNameFor(own)
	names := map[string]bool{ // name -> reported as reserved
		mine:                           false,
		TempNameFor(other):             false,
		TempNameFor(""):                true,
		tree.TempPrefix + "mine":       true,
		tree.TempPrefix + own + "-xyz": true,
		tree.TempPrefix + strings.ToUpper(TempNameFor(own)[len(tree.TempPrefix):]): true,
		".myrrorfs-notes": true,
	}
	for n := range names {
		m.add(tree.Join("d", n), memNode{kind: tree.File, perm: 0o600, content: "x"})
	}
	m.add(tree.BackupDir, memNode{kind: tree.Dir, perm: 0o700})
	m.add(".Trash-0", memNode{kind: tree.Dir, perm: 0o700})
	res := scanBoth(t, m, 1, ScanOptions{Workers: 2, TempMarkers: []string{own}, ReportReserved: true})
	if want := []string{"d/" + mine}; !slices.Equal(res.Temps, want) {
		t.Errorf("Temps = %q, want %q", res.Temps, want)
	}
	reserved := map[string]bool{}
	for _, p := range res.Problems {
		if errors.Is(p.Err, ErrReservedName) {
			if !p.Warning {
				t.Errorf("%s: not a warning", p.Path)
			}
			reserved[tree.Base(p.Path)] = true
		}
	}
	for n, want := range names {
		if reserved[n] != want {
			t.Errorf("%q reported as reserved: %v, want %v", n, reserved[n], want)
		}
	}
	if len(reserved) != 5 {
		t.Errorf("reserved = %v", reserved)
	}
}

func TestParseTempName(t *testing.T) {
	m := PairMarker("x")
	if len(m) != MarkerLen {
		t.Fatalf("marker %q", m)
	}
	for _, c := range []struct {
		name, marker string
		ok           bool
	}{
		{TempNameFor(m), m, true},
		{TempNameFor(""), "", true},
		{tree.TempPrefix + "view-12-3", "", false},
		{tree.TempPrefix + m + "-", "", false},
		{tree.TempPrefix + m + "-0123456789abcdef0", "", false},
		{"x" + TempNameFor(m), "", false},
	} {
		if got, ok := ParseTempName(c.name); ok != c.ok || (ok && got != c.marker) {
			t.Errorf("ParseTempName(%q) = %q, %v", c.name, got, ok)
		}
	}
}
