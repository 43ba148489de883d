package engine

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/ops"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// scanWith scans a scenario's pair opened with opt.
func scanWith(t *testing.T, sc scenario, opt Options) *Plan {
	t.Helper()
	opt.StateDir, opt.Holder, opt.SSHCommand, opt.UnsafeSFTPWrites = sc.state, "test", sshCommand, true
	p, err := Open(context.Background(), sc.local, sc.remoteArg, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestCompactPlan: a plan that leaves out its settled rows is the plan
// with every row, less rows that are equal and that Apply writes nothing
// for; it has the same operations, the same copy sources, counts and
// checks.
func TestCompactPlan(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 100
	}
	checkCompact(t, n, true)
}

// The same with the remote side reached over ssh (plain SFTP: remote
// files hashed by download, only where a decision needs it).
func TestCompactPlanOverSSH(t *testing.T) {
	sshCommand, sshHost = testenv.SSH(t)
	defer func() { sshCommand, sshHost = "", "" }()
	checkCompact(t, 40, false)
}

// checkCompact compares the plans of n scenarios with and without their
// settled rows; copies: some of them must copy from a settled file.
func checkCompact(t *testing.T, n int, copies bool) {
	dropped, copied, restored := 0, 0, 0
	for seed := int64(1); seed <= int64(n); seed++ {
		sc := newScenario(t, seed)
		c := scanWith(t, sc, Options{})
		f := scanWith(t, sc, Options{AllRows: true})
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d: %s\ncompact rows %v\nfull rows %v", seed, fmt.Sprintf(format, args...), rowPaths(c), rowPaths(f))
		}
		if f.Settled != 0 {
			fail("a plan with every row settled %d", f.Settled)
		}
		if len(c.Rows)+c.Settled != len(f.Rows) || len(c.Decisions) != len(c.Rows) {
			fail("%d rows + %d settled, %d decisions; want %d rows", len(c.Rows), c.Settled, len(c.Decisions), len(f.Rows))
		}
		dropped += c.Settled
		// compact rows are a subsequence of the full ones, decided alike
		at := make([]int, len(c.Rows)) // full row of each compact row
		j := 0
		for i := range c.Rows {
			for j < len(f.Rows) && f.Rows[j].Path != c.Rows[i].Path {
				if d := f.Decisions[j]; d.Action != reconcile.Equal || d.Under != "" || !settled(&f.Rows[j]) {
					fail("%s left out: %s under %q", f.Rows[j].Path, d.Action, d.Under)
				}
				j++
			}
			if j == len(f.Rows) {
				fail("%s is not among the full rows", c.Rows[i].Path)
			}
			if !reflect.DeepEqual(c.Rows[i], f.Rows[j]) || !reflect.DeepEqual(c.Decisions[i], f.Decisions[j]) {
				fail("%s differs:\n%+v %+v\n%+v %+v", c.Rows[i].Path, c.Rows[i], c.Decisions[i], f.Rows[j], f.Decisions[j])
			}
			at[i] = j
			j++
		}
		for ; j < len(f.Rows); j++ {
			if d := f.Decisions[j]; d.Action != reconcile.Equal || !settled(&f.Rows[j]) {
				fail("%s left out: %s", f.Rows[j].Path, d.Action)
			}
		}
		// the same operations, on the same rows
		if c.Digest() != f.Digest() || len(c.Ops) != len(f.Ops) {
			fail("operations differ:\n%+v\n%+v", c.Ops, f.Ops)
		}
		for k := range c.Ops {
			oc, of := c.Ops[k], f.Ops[k]
			if at[oc.Row] != of.Row || !reflect.DeepEqual(oc.Deps, of.Deps) || len(oc.Done) != len(of.Done) {
				fail("op %d: %+v vs %+v", k, oc, of)
			}
			for x := range oc.Done {
				dc, df := oc.Done[x], of.Done[x]
				moved := -1
				if dc.Moved >= 0 {
					moved = at[dc.Moved]
				}
				if at[dc.Row] != df.Row || moved != df.Moved || dc.Base != df.Base || dc.Stat != df.Stat {
					fail("op %d done %d: %+v vs %+v", k, x, dc, df)
				}
			}
			// a copy on the target side finds the same file in both
			if oc.Kind == ops.Stage && !oc.Src.Entry.Hash.IsZero() {
				pc, okc := firstContent(c, oc.Side, oc.Src.Entry)
				pf, okf := firstContent(f, oc.Side, oc.Src.Entry)
				if okc != okf || pc != pf {
					fail("copy source of %s: %q %v vs %q %v", oc.Path, pc, okc, pf, okf)
				}
				if okc {
					copied++
					for x := range f.Rows {
						if f.Rows[x].Path == pf && settled(&f.Rows[x]) {
							restored++
						}
					}
				}
			}
		}
		if c.Summarize() != f.Summarize() || c.Counts != f.Counts || c.BaseCount != f.BaseCount ||
			c.FirstSync != f.FirstSync || c.Hashed != f.Hashed || !reflect.DeepEqual(c.Problems, f.Problems) ||
			!reflect.DeepEqual(c.Temps, f.Temps) {
			fail("summaries differ: %+v %v %d vs %+v %v %d", c.Summarize(), c.Counts, c.BaseCount, f.Summarize(), f.Counts, f.BaseCount)
		}
		for _, pct := range []int{0, 10, 50} {
			if ec, ef := c.CheckDeletes(pct), f.CheckDeletes(pct); fmt.Sprint(ec) != fmt.Sprint(ef) {
				fail("CheckDeletes(%d): %v vs %v", pct, ec, ef)
			}
		}
	}
	if dropped == 0 || copies && restored == 0 {
		t.Fatalf("the scenarios are too tame: %d rows left out, %d copies on the target, %d from a settled row", dropped, copied, restored)
	}
	t.Logf("%d rows left out, %d copies on the target side, %d from a settled row", dropped, copied, restored)
}

// firstContent is the path Apply's copy on side s would start from for
// content want: the first row whose file there holds it.
func firstContent(pl *Plan, s Side, want tree.Entry) (string, bool) {
	for _, r := range pl.Rows {
		e := r.On(s).Entry
		if e.Kind == tree.File && e.Size > 0 && e.Hash == want.Hash {
			return r.Path, e.Size == want.Size
		}
	}
	return "", false
}

func rowPaths(pl *Plan) []string {
	var ps []string
	for _, r := range pl.Rows {
		ps = append(ps, r.Path)
	}
	return ps
}

// ScanProgress calls never overlap and end with each side's entries and
// the bytes hashed.
func TestScanProgress(t *testing.T) {
	base := snapshot{"d": "d"}
	size := int64(0)
	for i := 0; i < 300; i++ {
		c := fmt.Sprintf("content %d", i)
		base[fmt.Sprintf("d/f%d", i)] = "f:" + c + ":-"
		size += int64(len(c))
	}
	dir := t.TempDir()
	l, r := dir+"/l", dir+"/r"
	writeTree(t, dir, snapshot{"l": "d", "r": "d"})
	writeTree(t, l, base)
	writeTree(t, r, base)
	var busy atomic.Bool
	var mu sync.Mutex
	var entries [2]int
	var hashed [2]int64
	opt := Options{StateDir: dir + "/state", Holder: "test", ScanProgress: func(s Side, n int, b int64) {
		if !busy.CompareAndSwap(false, true) {
			t.Errorf("ScanProgress calls overlap")
		}
		mu.Lock()
		entries[s], hashed[s] = n, b
		mu.Unlock()
		busy.Store(false)
	}}
	p, err := Open(context.Background(), l, r, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for s := range entries {
		if entries[s] != plan.Counts[s] || hashed[s] != size {
			t.Errorf("%s side: last report %d entries, %d bytes hashed; want %d, %d", Side(s), entries[s], hashed[s], plan.Counts[s], size)
		}
	}
}
