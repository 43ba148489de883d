package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
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
