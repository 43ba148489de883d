package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

// walkAll takes everything a Walk of m hands over, as a ScanResult.
func walkAll(t *testing.T, m Replica, opt ScanOptions) *ScanResult {
	t.Helper()
	w, err := NewWalk(context.Background(), m, opt)
	if err != nil {
		t.Fatalf("NewWalk: %v", err)
	}
	res := &ScanResult{}
	last := ""
	for {
		it, ok := w.Peek()
		if !ok {
			break
		}
		if len(res.Entries)+len(res.Problems) > 0 && tree.Compare(last, it.Path()) >= 0 {
			t.Fatalf("%q handed over after %q", it.Path(), last)
		}
		last = it.Path()
		if it.Problem != nil {
			res.Problems = append(res.Problems, *it.Problem)
		} else {
			res.Entries = append(res.Entries, it.Scanned)
		}
		w.Next()
	}
	if err := w.Err(); err != nil {
		t.Fatalf("walk: %v", err)
	}
	res.Temps = w.Temps()
	return res
}

// sameAsScan checks that a Walk of m hands over what a lazy Scan finds.
func sameAsScan(t *testing.T, m Replica, opt ScanOptions) {
	t.Helper()
	opt.LazyHash = true
	scanned, err := Scan(context.Background(), m, opt)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	walked := walkAll(t, m, opt)
	sameScan(t, scanned, walked)
	if !slices.EqualFunc(scanned.Problems, walked.Problems, func(a, b Problem) bool {
		return a.Path == b.Path && a.Warning == b.Warning && fmt.Sprint(a.Err) == fmt.Sprint(b.Err)
	}) {
		t.Errorf("problems: scanned %v, walked %v", scanned.Problems, walked.Problems)
	}
}

func TestWalkRandom(t *testing.T) {
	defer func(n int) { walkBuffer = n }(walkBuffer)
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			m, _ := randomMem(rng, 10+rng.IntN(300))
			walkBuffer = []int{1, 7, 1 << 18}[seed%3] // a small buffer: the walk lists what the workers leave
			sameAsScan(t, m, ScanOptions{Workers: 1 + rng.IntN(8)})
		})
	}
}

func TestWalkProblems(t *testing.T) {
	faults := map[string]func(m *memReplica){
		"none":           func(*memReplica) {},
		"unlistable dir": func(m *memReplica) { m.failList["d"] = true },
		"invalid names and specials": func(m *memReplica) {
			m.extra["e"] = []Info{{Name: ".."}, {Name: "s/lash", Kind: tree.File}, {Name: ""}, {Name: "sock", Kind: tree.Absent}, {Name: "s.x", Kind: tree.File}}
		},
		"internal names": func(m *memReplica) { addInternal(m, []string{"", "d"}) },
		"unreadable link": func(m *memReplica) {
			m.add("d/l", memNode{kind: tree.Symlink, target: "x"})
			m.extra["d"] = []Info{{Name: "dangling", Kind: tree.Symlink}}
		},
		"ignored": func(m *memReplica) { m.add("e/skip", memNode{kind: tree.Dir, perm: 0o755}) },
	}
	ignore := func(p string, isDir bool) bool { return p == "e/skip" || p == "d/g" }
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			m := faultTree()
			fault(m)
			sameAsScan(t, m, ScanOptions{Workers: 2, Ignore: ignore, ReportReserved: true})
		})
	}
}

func TestWalkRootUnlistable(t *testing.T) {
	m := faultTree()
	m.failList[""] = true
	if _, err := NewWalk(context.Background(), m, ScanOptions{}); err == nil || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("NewWalk of an unlistable root: err = %v", err)
	}
}

// A walk closed midway, or whose context ends, stops and lets its
// goroutines go.
func TestWalkStopsMidway(t *testing.T) {
	m := wideTree(50, 20)
	m.latency = time.Millisecond // the walk cannot be over before it is stopped
	w, err := NewWalk(context.Background(), m, ScanOptions{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if _, ok := w.Peek(); !ok {
			t.Fatal("walk ended early")
		}
		w.Next()
	}
	w.Close()

	ctx, cancel := context.WithCancel(context.Background())
	w, err = NewWalk(ctx, m, ScanOptions{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	w.Peek()
	cancel()
	n := 0
	for {
		if _, ok := w.Peek(); !ok {
			break
		}
		w.Next()
		n++
	}
	if err := w.Err(); n == 50*21 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled walk handed over %d items, err %v", n, err)
	}
}

// Through a TreeLister (listing in any order), a Walk hands over what a
// Scan finds, in the same order.
func TestWalkListed(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			m, _ := randomMem(rng, 10+rng.IntN(300))
			addInternal(m, []string{""})
			opt := ScanOptions{Workers: 1 + rng.IntN(4), ReportReserved: true}
			if rng.IntN(2) == 0 {
				opt.Ignore = func(p string, isDir bool) bool { return strings.HasPrefix(tree.Base(p), "b") == isDir }
			}
			l := &listerMem{memReplica: m, seed: seed}
			sameAsScan(t, l, opt)
			if l.lists.Load() != 2 {
				t.Fatalf("ListTree called %d times for a Scan and a Walk", l.lists.Load())
			}
		})
	}
	faults := map[string]func(m *memReplica){
		"unlistable dir": func(m *memReplica) { m.failList["d"] = true },
		"invalid names and specials": func(m *memReplica) {
			m.extra["e"] = []Info{{Name: ".."}, {Name: "s/lash", Kind: tree.File}, {Name: ""}, {Name: "sock", Kind: tree.Absent}, {Name: "s.x", Kind: tree.File}}
		},
		"unreadable link": func(m *memReplica) { m.extra["d"] = []Info{{Name: "dangling", Kind: tree.Symlink}} },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			m := faultTree()
			fault(m)
			sameAsScan(t, &listerMem{memReplica: m, seed: 3}, ScanOptions{Workers: 2})
		})
	}
}

func TestWalkListerFailures(t *testing.T) {
	// a lister that cannot list after all is walked
	m := faultTree()
	if got := scanPaths(walkAll(t, unsupported{m}, ScanOptions{})); !slices.Equal(got, []string{"a", "d", "d/f", "d/g", "e", "e/x", "l"}) {
		t.Errorf("walk of an unsupported lister: %q", got)
	}
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
			_, err := NewWalk(context.Background(), l, ScanOptions{})
			if err == nil || (c.wantIs != nil && !errors.Is(err, c.wantIs)) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewWalk: %v; want an error wrapping %v, saying %q", err, c.wantIs, c.want)
			}
		})
	}
}

// Packed children decode to what was added, in tree order once sorted.
func TestChildrenPacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var cs children
		var want []walkChild
		seen := map[string]bool{}
		for n := rng.IntN(20); n > 0; n-- {
			name := fmt.Sprintf("%c%d", "a/.-\xff"[rng.IntN(5)], rng.IntN(1000))
			if seen[name] {
				continue
			}
			seen[name] = true
			c := walkChild{info: Info{Name: name, Kind: tree.Kind(rng.IntN(4)), Perm: uint32(rng.IntN(0o10000)),
				Size: rng.Int64N(1 << 40), MtimeNs: rng.Int64() - 1<<62,
				FP: tree.Fingerprint{CtimeNs: rng.Int64(), Ino: rng.Uint64(), Mode: rng.Uint32()}}}
			c.info.FP.Size, c.info.FP.MtimeNs = c.info.Size, c.info.MtimeNs
			if rng.IntN(3) == 0 {
				c.info.FP.Size = rng.Int64()
			}
			if rng.IntN(3) == 0 {
				c.info.FP.MtimeNs = -rng.Int64()
			}
			switch rng.IntN(4) {
			case 0:
				c.prob = &Problem{Path: name}
			case 1:
				c.dir = &dirJob{path: name}
			case 2:
				c.target = strings.Repeat("t", rng.IntN(300))
			}
			cs.add(&c)
			want = append(want, c)
		}
		cs.sort()
		slices.SortFunc(want, func(a, b walkChild) int { return tree.Compare(a.info.Name, b.info.Name) })
		for i := range want {
			got, name := cs.at(i)
			got.info.Name = string(name)
			if got != want[i] {
				t.Fatalf("child %d: got %+v, want %+v", i, got, want[i])
			}
		}
	}
}

// Peek keeps saying the walk is over once it is.
func TestWalkPeekAfterEnd(t *testing.T) {
	w, err := NewWalk(context.Background(), faultTree(), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := w.Peek(); !ok {
			break
		}
		w.Next()
	}
	for range 3 {
		if it, ok := w.Peek(); ok {
			t.Fatalf("Peek after the end: %v", it)
		}
	}
}
