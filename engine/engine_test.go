package engine

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// snapshot describes a tree on disk: path -> "f:content:x|-", "d", "l:target".
type snapshot map[string]string

func readTree(t testing.TB, root string) snapshot {
	t.Helper()
	s := snapshot{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if tree.Internal(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			s[rel] = "l:" + target
		case fi.IsDir():
			s[rel] = "d"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			x := "-"
			if fi.Mode()&0o100 != 0 {
				x = "x"
			}
			s[rel] = "f:" + string(b) + ":" + x
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeTree creates a snapshot's entries under root (parents first).
func writeTree(t testing.TB, root string, s snapshot) {
	t.Helper()
	paths := make([]string, 0, len(s))
	for p := range s {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return tree.Compare(paths[i], paths[j]) < 0 })
	for _, p := range paths {
		writeEntry(t, filepath.Join(root, p), s[p])
	}
}

func writeEntry(t testing.TB, full, desc string) {
	t.Helper()
	var err error
	switch {
	case desc == "d":
		err = os.Mkdir(full, 0o755)
	case strings.HasPrefix(desc, "l:"):
		err = os.Symlink(desc[2:], full)
	default:
		parts := strings.Split(desc, ":")
		perm := os.FileMode(0o644)
		if parts[2] == "x" {
			perm = 0o755
		}
		if err = os.WriteFile(full, []byte(parts[1]), perm); err == nil {
			err = os.Chmod(full, perm)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// syncPair opens, scans and applies; it returns the plan it applied.
func syncPair(t testing.TB, local, remote, state string) (*Plan, *Result) {
	t.Helper()
	ctx := context.Background()
	p, err := Open(ctx, local, remote, Options{StateDir: state, Holder: "test", SSHCommand: sshCommand, UnsafeSFTPWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plan, err := p.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(ctx, plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return plan, res
}

func planOf(t testing.TB, local, remote, state string) *Plan {
	t.Helper()
	ctx := context.Background()
	p, err := Open(ctx, local, remote, Options{StateDir: state, Holder: "test", SSHCommand: sshCommand, UnsafeSFTPWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	plan, err := p.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

var names = []string{"a", "b", "c"}
var contents = []string{"", "x", "y", "zz"}

func randPath(rng *rand.Rand, s snapshot) string {
	// a random existing directory (or the root) as parent, then a random name
	dirs := []string{""}
	for p, d := range s {
		if d == "d" {
			dirs = append(dirs, p)
		}
	}
	sort.Strings(dirs)
	parent := dirs[rng.Intn(len(dirs))]
	if strings.Count(parent, "/") >= 2 {
		parent = ""
	}
	return tree.Join(parent, names[rng.Intn(len(names))])
}

func randFile(rng *rand.Rand) string {
	x := "-"
	if rng.Intn(4) == 0 {
		x = "x"
	}
	return "f:" + contents[rng.Intn(len(contents))] + ":" + x
}

func randTree(rng *rand.Rand) snapshot {
	s := snapshot{}
	for n := rng.Intn(10); n > 0; n-- {
		p := randPath(rng, s)
		if _, ok := s[p]; ok {
			continue
		}
		switch rng.Intn(5) {
		case 0, 1:
			s[p] = "d"
		case 2:
			s[p] = "l:" + names[rng.Intn(len(names))]
		default:
			s[p] = randFile(rng)
		}
	}
	return s
}

func sortedKeys(s snapshot) []string {
	ks := make([]string, 0, len(s))
	for k := range s {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// editTree makes a few random edits on disk under root.
func editTree(t testing.TB, rng *rand.Rand, root string) {
	t.Helper()
	for n := rng.Intn(4); n >= 0; n-- {
		s := readTree(t, root)
		keys := sortedKeys(s)
		var victim string
		if len(keys) > 0 {
			victim = keys[rng.Intn(len(keys))]
		}
		full := filepath.Join(root, victim)
		switch op := rng.Intn(7); {
		case op == 0 && victim != "": // delete
			os.RemoveAll(full)
		case op == 1 && victim != "" && strings.HasPrefix(s[victim], "f:"): // modify
			os.WriteFile(full, []byte(contents[rng.Intn(len(contents))]+"m"), 0o644)
		case op == 2 && victim != "" && strings.HasPrefix(s[victim], "f:"): // chmod
			fi, _ := os.Lstat(full)
			os.Chmod(full, fi.Mode().Perm()^0o111)
		case op == 3 && victim != "": // type change
			os.RemoveAll(full)
			if s[victim] == "d" {
				writeEntry(t, full, randFile(rng))
			} else {
				writeEntry(t, full, "d")
				writeEntry(t, filepath.Join(full, "n"), randFile(rng))
			}
		default: // create
			p := randPath(rng, s)
			if _, ok := s[p]; ok {
				continue
			}
			if rng.Intn(3) == 0 {
				writeEntry(t, filepath.Join(root, p), "d")
			} else {
				writeEntry(t, filepath.Join(root, p), randFile(rng))
			}
		}
	}
}

// subtree returns the entries of s at or under p.
func subtree(s snapshot, p string) snapshot {
	out := snapshot{}
	for k, v := range s {
		if k == p || tree.IsUnder(k, p) {
			out[k] = v
		}
	}
	return out
}

type scenario struct {
	local, remote, state string
	remoteArg            string // remote as given to Open: remote itself, or host:remote
}

// sshCommand and sshHost, when set, make scenarios reach their remote side
// over ssh (the remote directory is on this machine all the same).
var sshCommand, sshHost string

func remoteArg(dir string) string {
	if sshHost != "" {
		return sshHost + ":" + dir
	}
	return dir
}

// newScenario builds a synced pair from a random base, then edits each side.
func newScenario(t testing.TB, seed int64) scenario {
	return mirrorScenario(t, seed, false)
}

// TestSyncProperties syncs random two-sided scenarios between real
// directories and checks that every non-conflicting path ends equal on both
// sides, conflicts stay untouched, and a second sync has nothing to do.
func TestSyncProperties(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	stats := map[reconcile.Action]int{}
	for seed := int64(1); seed <= int64(n); seed++ {
		for a, c := range checkScenario(t, seed) {
			stats[a] += c
		}
	}
	for _, a := range []reconcile.Action{reconcile.ToRemote, reconcile.ToLocal, reconcile.Conflict} {
		if stats[a] < n/10 {
			t.Fatalf("the scenarios are too tame: %v", stats)
		}
	}
	t.Logf("decisions over %d scenarios: %v", n, stats)
}

// The same properties with the remote side reached over ssh.
func TestSyncPropertiesOverSSH(t *testing.T) {
	sshCommand, sshHost = testenv.SSH(t)
	defer func() { sshCommand, sshHost = "", "" }()
	for seed := int64(1); seed <= 60; seed++ {
		checkScenario(t, seed)
	}
}

func checkScenario(t *testing.T, seed int64) map[reconcile.Action]int {
	sc := newScenario(t, seed)
	preL, preR := readTree(t, sc.local), readTree(t, sc.remote)
	plan, res := syncPair(t, sc.local, sc.remoteArg, sc.state)
	if res.Failed() > 0 {
		t.Fatalf("seed %d: problems: %v", seed, res.Problems)
	}
	postL, postR := readTree(t, sc.local), readTree(t, sc.remote)
	conflictPaths := map[string]bool{}
	for _, d := range plan.Decisions {
		if d.Action == reconcile.Conflict {
			conflictPaths[d.Path] = true
			if d.Under == "" {
				if !reflect.DeepEqual(subtree(postL, d.Path), subtree(preL, d.Path)) ||
					!reflect.DeepEqual(subtree(postR, d.Path), subtree(preR, d.Path)) {
					t.Fatalf("seed %d: conflict %s %s was touched:\npre  L %v R %v\npost L %v R %v",
						seed, d.Kind, d.Path, preL, preR, postL, postR)
				}
			}
			continue
		}
	}
	for p := range union(postL, postR) {
		if conflictPaths[p] || underAny(p, conflictPaths) {
			continue
		}
		if postL[p] != postR[p] {
			t.Fatalf("seed %d: %s differs after sync: local %q remote %q\npre L %v\npre R %v\ndecisions %v",
				seed, p, postL[p], postR[p], preL, preR, plan.Decisions)
		}
	}
	again := planOf(t, sc.local, sc.remoteArg, sc.state)
	for _, d := range again.Top() {
		if d.Action != reconcile.Conflict || !conflictPaths[d.Path] {
			t.Fatalf("seed %d: second sync would do %s %s (%s)\npre L %v\npre R %v", seed, d.Action, d.Path, d.Kind, preL, preR)
		}
	}
	if len(again.Conflicts()) != len(plan.Conflicts()) {
		t.Fatalf("seed %d: conflicts changed: %v then %v", seed, plan.Conflicts(), again.Conflicts())
	}
	stats := map[reconcile.Action]int{}
	for _, d := range plan.Top() {
		stats[d.Action]++
	}
	return stats
}

func union(a, b snapshot) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func underAny(p string, set map[string]bool) bool {
	for q := tree.Parent(p); ; q = tree.Parent(q) {
		if set[q] && q != "" {
			return true
		}
		if q == "" {
			return false
		}
	}
}

// TestMirror checks that swapping local and remote mirrors every decision:
// the same scenario is built twice, once with the sides' roles exchanged.
func TestMirror(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 40
	}
	for seed := int64(1); seed <= int64(n); seed++ {
		a := mirrorScenario(t, seed, false)
		b := mirrorScenario(t, seed, true)
		pa, pb := planOf(t, a.local, a.remoteArg, a.state), planOf(t, b.local, b.remoteArg, b.state)
		if len(pa.Decisions) != len(pb.Decisions) {
			t.Fatalf("seed %d: %d vs %d decisions", seed, len(pa.Decisions), len(pb.Decisions))
		}
		for i := range pa.Decisions {
			da, db := pa.Decisions[i], reconcile.Mirror(pb.Decisions[i])
			if da.Path != db.Path || da.Action != db.Action || da.Kind != db.Kind || da.Under != db.Under {
				t.Fatalf("seed %d: %s: %s %s vs mirrored %s %s", seed, da.Path, da.Action, da.Kind, db.Action, db.Kind)
			}
		}
	}
}

// mirrorScenario builds a pair whose first sync is made in the given
// orientation, then edits "first" with one random stream and "second" with
// another; with swap the pair is (second, first).
func mirrorScenario(t testing.TB, seed int64, swap bool) scenario {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	os.Mkdir(first, 0o755)
	os.Mkdir(second, 0o755)
	sc := scenario{first, second, filepath.Join(dir, "state"), ""}
	if swap {
		sc.local, sc.remote = second, first
	}
	sc.remoteArg = remoteArg(sc.remote)
	rng := rand.New(rand.NewSource(seed))
	base := randTree(rng)
	writeTree(t, first, base)
	writeTree(t, second, base)
	if len(base) > 0 {
		syncPair(t, sc.local, sc.remoteArg, sc.state)
	}
	editTree(t, rand.New(rand.NewSource(seed*7+1)), first)
	editTree(t, rand.New(rand.NewSource(seed*7+2)), second)
	return sc
}

func TestFirstSyncConflict(t *testing.T) {
	dir := t.TempDir()
	l, r := filepath.Join(dir, "l"), filepath.Join(dir, "r")
	writeTree(t, dir, snapshot{"l": "d", "r": "d", "l/same": "f:s:-", "r/same": "f:s:-", "l/f": "f:one:-", "r/f": "f:two:-", "l/only": "f:o:x"})
	plan, res := syncPair(t, l, r, filepath.Join(dir, "state"))
	if got := fmt.Sprint(plan.Conflicts()[0].Path, plan.Conflicts()[0].Kind); got != "fcreate/create" {
		t.Fatalf("conflict = %s", got)
	}
	if len(res.Conflicts) != 1 || readTree(t, r)["only"] != "f:o:x" || readTree(t, r)["f"] != "f:two:-" {
		t.Fatalf("after first sync: %v", readTree(t, r))
	}
}
