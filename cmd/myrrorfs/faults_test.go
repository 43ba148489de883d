package main

// Fault injection (issue 9, "Prove it"): seeded scenarios on the built
// binary, local pairs and pairs over the test sshd with an agent on the
// remote, whose runs are hit by faults:
//
//   - kill-sync, kill-sync-ssh: SIGKILL of `sync` at a random moment;
//   - kill-commit, kill-daemon: SIGKILL of `commit`, or of the mount's
//     daemon, during a commit (the remote local or over ssh, by seed);
//   - cut-ssh: the ssh client of a `sync`, or the sshd process serving it,
//     killed at a random moment;
//   - full-local, full-remote: LOCAL or REMOTE on a small tmpfs, filled
//     before the run (leaving a random part of what the run needs) or
//     during it;
//   - full-state: the state directory on a small tmpfs, filled likewise;
//   - swap-ssh, swap-local: while a `sync` runs, a directory of REMOTE is
//     replaced by a symlink to a sentinel directory outside the pair or to
//     `..`, then put back once the run ended (REMOTE itself, to the
//     sentinel or to its own parent, only with MYRRORFS_FAULTS_SWAP_ROOT=1:
//     writes follow it today).
//
// After each fault:
//
//   - every file version (content hash) present in either tree before the
//     faulty runs is in a tree or in a backup area (or, for a swapped
//     directory that could not be put back, where the swap moved it);
//   - every file of both trees (backup areas included, temporaries not)
//     holds a content that existed or that the scenario wrote: none is torn;
//   - nothing outside the pair changed: the directories next to each side,
//     a sentinel tree in each, compared entry by entry with mode, mtime and
//     content.
//
// After the faults of a scenario, a clean sync converges (exit 0, or 3 with
// conflicts only where both sides changed a path) and a further sync
// applies nothing. The test ends with one summary line.
//
// Environment: MYRRORFS_FAULTS=long runs the long form (scripts/faults.sh);
// MYRRORFS_FAULTS_KINDS=a,b only these kinds; MYRRORFS_FAULTS_SEED=S the
// seed of the first scenario of each kind (the next ones take S+1, ...);
// MYRRORFS_FAULTS_N=N at most N scenarios per kind;
// MYRRORFS_FAULTS_SWAP_ROOT=1 and MYRRORFS_FAULTS_STATE_MIDRUN=1 turn on
// the two fault ways that fail today (see swap and fill). A failure names the
// kind and seed: MYRRORFS_FAULTS_KINDS=K MYRRORFS_FAULTS_SEED=S
// MYRRORFS_FAULTS_N=1 reruns that scenario (the moments of the faults
// depend on timing too).

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// faultKind is one kind of fault with how many faults each form wants.
type faultKind struct {
	name        string
	short, long int // faults wanted
	perScenario int // faults injected into one scenario
	ssh         int // 0: local remote, 1: over ssh with an agent, 2: either, by seed
	mount       bool
	// tmpfs: which directory lies on a small tmpfs ("local", "remote", "state")
	tmpfs string
	// inject makes one fault and returns whether it landed (hit a run in
	// progress, or a full disk that the run met).
	inject func(s *faultScenario) bool
}

var faultKinds = []faultKind{
	{name: "kill-sync", short: 4, long: 40, perScenario: 4, inject: (*faultScenario).killSync},
	{name: "kill-sync-ssh", short: 3, long: 30, perScenario: 3, ssh: 1, inject: (*faultScenario).killSync},
	{name: "cut-ssh", short: 3, long: 30, perScenario: 3, ssh: 1, inject: (*faultScenario).cutSSH},
	{name: "kill-commit", short: 2, long: 20, perScenario: 2, ssh: 2, mount: true, inject: (*faultScenario).killCommit},
	{name: "kill-daemon", short: 2, long: 20, perScenario: 2, ssh: 2, mount: true, inject: (*faultScenario).killCommit},
	{name: "full-local", short: 1, long: 15, perScenario: 1, ssh: 2, tmpfs: "local", inject: (*faultScenario).fill},
	{name: "full-remote", short: 1, long: 15, perScenario: 1, ssh: 2, tmpfs: "remote", inject: (*faultScenario).fill},
	{name: "full-state", short: 1, long: 15, perScenario: 1, ssh: 2, tmpfs: "state", inject: (*faultScenario).fill},
	{name: "swap-ssh", short: 2, long: 30, perScenario: 2, ssh: 1, inject: (*faultScenario).swap},
	{name: "swap-local", short: 2, long: 15, perScenario: 2, inject: (*faultScenario).swap},
}

// faultStats adds up what the scenarios did, for the summary line.
type faultStats struct {
	runs, converged int
	faults          map[string]int
	versions        int
	lost, mixed     int
	outside         int
	detail          map[string]int // how faults landed, by kind and way
}

// faultScenario is one synced pair, edited on both sides, that faults hit.
type faultScenario struct {
	t     *testing.T
	kind  faultKind
	seed  int64
	rng   *rand.Rand
	ssh   bool
	stats *faultStats

	dir        string // the scenario's directory (everything but tmpfs sides)
	L, R, hold string // the parents of LOCAL and REMOTE; where swaps put directories
	p          pair
	took       time.Duration // about what an uninterrupted run takes

	before        map[[32]byte]string // versions before the faults
	known         map[[32]byte]bool   // every content that existed or was written
	bothChanged   []string            // paths changed on both sides
	swapped       []string            // paths swapped for symlinks
	toBytes       map[string]int64    // bytes a run writes to "local", "remote"
	outsideBefore string
	fillers       []string
}

func faultsLong() bool { return os.Getenv("MYRRORFS_FAULTS") == "long" }

func faultEnvInt(name string, def int64) int64 {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return n
		}
	}
	return def
}

// TestFaults injects faults into seeded scenarios and checks that no
// version is lost, no file is torn, nothing outside the pair is written, and
// the pair converges afterwards. The short form runs with the suite;
// MYRRORFS_FAULTS=long (scripts/faults.sh) runs the long one.
func TestFaults(t *testing.T) {
	start := time.Now()
	stats := &faultStats{faults: map[string]int{}, detail: map[string]int{}}
	only := map[string]bool{}
	for _, k := range strings.Split(os.Getenv("MYRRORFS_FAULTS_KINDS"), ",") {
		if k != "" {
			only[k] = true
		}
	}
	var names []string
	for i, k := range faultKinds {
		names = append(names, k.name)
		if len(only) > 0 && !only[k.name] {
			continue
		}
		want := k.short
		if faultsLong() {
			want = k.long
		}
		// scenarios whose faults come too late are made up for, within limits
		limit := 2 * ((want + k.perScenario - 1) / k.perScenario)
		if faultsLong() {
			limit = 3 * want
		}
		maxScenarios := faultEnvInt("MYRRORFS_FAULTS_N", int64(limit))
		seed := faultEnvInt("MYRRORFS_FAULTS_SEED", int64(1000*(i+1)+1))
		t.Run(k.name, func(t *testing.T) {
			if k.ssh == 1 {
				testenv.SSH(t)
			}
			if k.mount {
				testenv.FUSE(t)
			}
			landed := 0
			for n := int64(0); n < maxScenarios && landed < want; n++ {
				k, seed := k, seed+n
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					landed += runFaultScenario(t, k, seed, stats)
				})
			}
			if landed < want && !t.Skipped() {
				t.Logf("%s: only %d of %d faults landed", k.name, landed, want)
			}
		})
	}
	for k := range only {
		found := false
		for _, n := range names {
			found = found || n == k
		}
		if !found {
			t.Fatalf("MYRRORFS_FAULTS_KINDS: unknown kind %q (kinds: %s)", k, strings.Join(names, ", "))
		}
	}
	var by []string
	total := 0
	for _, n := range names {
		if c := stats.faults[n]; c > 0 {
			by = append(by, fmt.Sprintf("%s %d", n, c))
			total += c
		}
	}
	summary := fmt.Sprintf("faults: %d runs, %d faults (by kind %s), %d versions checked, %d versions lost, %d mixed files, %d outside writes, convergence %d/%d",
		stats.runs, total, strings.Join(by, ", "), stats.versions, stats.lost, stats.mixed, stats.outside, stats.converged, stats.runs)
	var details []string
	for _, d := range faultSortedKeys(stats.detail) {
		details = append(details, fmt.Sprintf("%s %d", d, stats.detail[d]))
	}
	t.Logf("faults landed by way: %s", strings.Join(details, ", "))
	t.Logf("%s (%v)", summary, time.Since(start).Round(time.Second))
	if os.Getenv("MYRRORFS_FAULTS") != "" {
		fmt.Println(summary)
	}
}

func faultSortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// runFaultScenario builds the scenario of seed, injects its faults,
// checking after each, then checks convergence. It returns how many
// faults landed.
func runFaultScenario(t *testing.T, k faultKind, seed int64, stats *faultStats) int {
	s := newFaultScenario(t, k, seed, stats)
	stats.runs++
	landed := 0
	for i := 0; i < k.perScenario; i++ {
		ok := k.inject(s)
		s.landed(ok)
		if ok {
			landed++
			stats.faults[k.name]++
		}
		s.check(fmt.Sprintf("after fault %d", i+1))
	}
	for _, f := range s.fillers {
		os.Remove(f)
	}
	s.fillers = nil
	if s.converges() {
		stats.converged++
	}
	return landed
}

// newFaultScenario lays out a pair with sentinels next to each side, syncs
// a seeded tree, then edits both sides.
func newFaultScenario(t *testing.T, k faultKind, seed int64, stats *faultStats) *faultScenario {
	s := &faultScenario{t: t, kind: k, seed: seed, rng: rand.New(rand.NewSource(seed)), stats: stats,
		dir: t.TempDir(), toBytes: map[string]int64{}}
	s.ssh = k.ssh == 1 || (k.ssh == 2 && s.rng.Intn(2) == 0)
	s.L, s.R, s.hold = filepath.Join(s.dir, "L"), filepath.Join(s.dir, "R"), filepath.Join(s.dir, "hold")
	state := filepath.Join(s.dir, "state")
	switch k.tmpfs {
	case "local":
		s.L = testenv.Tmpfs(t, 24<<20)
	case "remote":
		s.R = testenv.Tmpfs(t, 24<<20)
	case "state":
		state = filepath.Join(testenv.Tmpfs(t, 40<<20), "state")
	}
	for _, d := range []string{s.L, s.R, s.hold, state, filepath.Join(s.L, "local"), filepath.Join(s.R, "remote")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.p = pair{local: filepath.Join(s.L, "local"), remoteDir: filepath.Join(s.R, "remote"), state: state}
	s.p.remote = s.p.remoteDir
	s.p.flags = []string{"--state", state}
	if s.ssh {
		sshCmd, host := testenv.SSH(t)
		s.p.remote = host + ":" + s.p.remoteDir
		s.p.flags = append(s.p.flags, "-e", sshCmd, "--remote-myrrorfs", bin)
	}
	s.sentinels()
	s.outsideBefore = s.outside()

	// a synced base: files in a few directories, some large, some
	// executable, and symlinks pointing out of the pair
	dirs := []string{"d0", "d1", "d2", "d3", "d0/e"}
	var base []string
	for i := 0; i < 40; i++ {
		p := fmt.Sprintf("%s/f%02d", dirs[i%len(dirs)], i)
		base = append(base, p)
		s.writeFile(s.p.local, p)
	}
	os.Symlink("../../sentinel/f", filepath.Join(s.p.local, "d1", "rel"))
	os.Symlink(filepath.Join(s.L, "sentinel", "d"), filepath.Join(s.p.local, "d2", "abs"))
	// the first sync copies every file: the faulty runs, which copy
	// about as much, take about as long
	first := time.Now()
	if r := myrrorfs(t, s.p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("seed %d: first sync: %+v", seed, r)
	}
	s.took = time.Since(first)

	// edits: each side changes its own files (every fourth: local, the
	// next: remote), two paths change on both sides, each side creates
	// files and a directory
	for i, p := range base {
		side, root := "local", s.p.local
		switch i % 4 {
		case 1:
			side, root = "remote", s.p.remoteDir
		case 2, 3:
			continue
		}
		full := filepath.Join(root, p)
		switch r := s.rng.Intn(12); {
		case r < 6:
			s.toBytes[s.other(side)] += s.writeFile(root, p)
		case r < 8:
			os.Remove(full)
		case r < 10:
			os.Rename(full, filepath.Join(filepath.Dir(full), fmt.Sprintf("g%02d", i)))
		case r < 11:
			fi, _ := os.Stat(full)
			os.Chmod(full, fi.Mode().Perm()^0o111)
		}
	}
	for _, i := range []int{2, 6} {
		s.writeFile(s.p.local, base[i])
		s.writeFile(s.p.remoteDir, base[i])
		s.bothChanged = append(s.bothChanged, base[i])
	}
	for _, side := range []string{"local", "remote"} {
		root := s.p.local
		if side == "remote" {
			root = s.p.remoteDir
		}
		for i := 0; i < 6; i++ {
			s.toBytes[s.other(side)] += s.writeFile(root, fmt.Sprintf("%s/new-%s-%d", dirs[s.rng.Intn(len(dirs))], side, i))
		}
		for i := 0; i < 3; i++ {
			s.toBytes[s.other(side)] += s.writeFile(root, fmt.Sprintf("dir-%s/x/%d", side, i))
		}
	}
	s.before = s.versions()
	s.known = map[[32]byte]bool{}
	for h := range s.before {
		s.known[h] = true
	}
	for _, root := range []string{filepath.Join(s.L, "sentinel"), filepath.Join(s.R, "sentinel")} {
		for _, h := range faultFiles(root) {
			s.known[h] = true
		}
	}
	return s
}

func (s *faultScenario) other(side string) string {
	if side == "local" {
		return "remote"
	}
	return "local"
}

// writeFile writes a new random content (now and then large, now and then
// executable) at rel under root and returns its size.
func (s *faultScenario) writeFile(root, rel string) int64 {
	n := 1 + s.rng.Intn(16<<10)
	if s.rng.Intn(6) == 0 {
		n = 256<<10 + s.rng.Intn(768<<10)
	}
	b := make([]byte, n)
	s.rng.Read(b)
	mode := os.FileMode(0o644)
	if s.rng.Intn(5) == 0 {
		mode = 0o755
	}
	full := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		s.t.Fatal(err)
	}
	os.Remove(full)
	if err := os.WriteFile(full, b, mode); err != nil {
		s.t.Fatal(err)
	}
	return int64(n)
}

// sentinels writes a sentinel tree next to each side: files with odd modes
// and old mtimes, a directory, a symlink.
func (s *faultScenario) sentinels() {
	old := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	for _, parent := range []string{s.L, s.R} {
		root := filepath.Join(parent, "sentinel")
		write(s.t, root, map[string]string{"f": "sentinel f", "d/g": "sentinel g", "d/h": "sentinel h " + parent})
		os.Chmod(filepath.Join(root, "d/g"), 0o755)
		os.Chmod(filepath.Join(root, "d/h"), 0o600)
		os.Symlink("d/g", filepath.Join(root, "link"))
		for _, p := range []string{"f", "d/g", "d/h", "d", ""} {
			os.Chtimes(filepath.Join(root, p), old, old)
		}
	}
}

// outside describes everything next to the pair: the scenario's directory
// and the parents of both sides (on their tmpfs), without the two trees,
// the state directory, the swap area and the fillers.
func (s *faultScenario) outside() string {
	skip := map[string]bool{s.p.local: true, s.p.remoteDir: true, s.p.state: true, s.hold: true}
	for _, f := range s.fillers {
		skip[f] = true
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, root := range []string{s.dir, s.L, s.R} {
		if seen[root] || (root != s.dir && strings.HasPrefix(root, s.dir+"/")) {
			continue
		}
		seen[root] = true
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if skip[p] {
				if d != nil && d.IsDir() && p != root {
					return filepath.SkipDir
				}
				return nil
			}
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", p, err)
				return nil
			}
			fi, err := os.Lstat(p)
			if err != nil {
				fmt.Fprintf(&b, "%s: %v\n", p, err)
				return nil
			}
			extra := ""
			switch {
			case fi.Mode().IsRegular():
				c, _ := os.ReadFile(p)
				extra = fmt.Sprintf("%x", sha256.Sum256(c))
			case fi.Mode()&fs.ModeSymlink != 0:
				extra, _ = os.Readlink(p)
			}
			mtime := fi.ModTime().Format(time.RFC3339Nano)
			if fi.IsDir() && (p == s.dir || p == s.L || p == s.R) {
				mtime = "" // holds the trees, the state and the swap area
			}
			fmt.Fprintf(&b, "%s %v %s %s\n", p, fi.Mode(), mtime, extra)
			return nil
		})
	}
	return b.String()
}

// faultFiles returns the content hash of every regular file under root,
// keyed by path, temporaries left out.
func faultFiles(root string) map[string][32]byte {
	out := map[string][32]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tree.TempPrefix) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil {
			out[p] = sha256.Sum256(b)
		}
		return nil
	})
	return out
}

// versions returns the contents in both trees (backup areas included) and
// in the swap area, with one path each.
func (s *faultScenario) versions() map[[32]byte]string {
	out := map[[32]byte]string{}
	for _, root := range []string{s.p.local, s.p.remoteDir, s.hold} {
		for p, h := range faultFiles(root) {
			out[h] = p
		}
	}
	return out
}

// violation reports a broken invariant, naming the kind and seed.
func (s *faultScenario) violation(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("%s seed %d: %s", s.kind.name, s.seed, fmt.Sprintf(format, args...))
}

// check verifies the invariants that must hold after any fault.
func (s *faultScenario) check(when string) {
	s.t.Helper()
	now := s.versions()
	s.stats.versions += len(s.before)
	for h, p := range s.before {
		if _, ok := now[h]; !ok {
			s.stats.lost++
			s.violation("%s: the version of %s is lost (in no tree and no backup area)", when, p)
		}
	}
	for _, root := range []string{s.p.local, s.p.remoteDir} {
		for p, h := range faultFiles(root) {
			if !s.known[h] {
				s.stats.mixed++
				fi, _ := os.Stat(p)
				s.violation("%s: %s holds content that never existed (%d bytes)", when, p, fi.Size())
			}
		}
	}
	if now := s.outside(); now != s.outsideBefore {
		s.stats.outside++
		s.violation("%s: outside the pair changed:\n%s", when, lineDiff(s.outsideBefore, now))
	}
}

// lineDiff lists the lines only in a (-) and only in b (+).
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for l := range ma {
		if !mb[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range mb {
		if !ma[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... and %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

// converges runs a clean sync, which must leave the pair in step but for
// conflicts where both sides changed a path, then a further sync, which
// must apply nothing.
func (s *faultScenario) converges() bool {
	s.t.Helper()
	r := myrrorfs(s.t, s.p.args("sync", "-y")...)
	ok := true
	switch r.code {
	case 0:
	case 3:
		for _, c := range s.conflicts() {
			if !s.bothSides(c) {
				s.violation("clean run: conflict on %s, changed on one side only: %+v", c, r)
				ok = false
			}
		}
	default:
		s.violation("clean run failed: %+v", r)
		return false
	}
	s.check("after the clean run")
	for _, root := range []string{s.p.local, s.p.remoteDir} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), tree.TempPrefix) {
				s.violation("clean run left a temporary: %s", p)
				ok = false
			}
			return nil
		})
	}
	if r.code == 0 {
		if l, rm := visible(s.t, s.p.local), visible(s.t, s.p.remoteDir); !reflect.DeepEqual(l, rm) {
			s.violation("clean run said in step, yet the sides differ: local %d entries, remote %d", len(l), len(rm))
			ok = false
		}
	}
	lBefore, rBefore := faultFiles(s.p.local), faultFiles(s.p.remoteDir)
	again := myrrorfs(s.t, s.p.args("sync", "-y")...)
	if again.code != r.code || !strings.Contains(again.stdout, "synced 0 paths") ||
		!reflect.DeepEqual(lBefore, faultFiles(s.p.local)) || !reflect.DeepEqual(rBefore, faultFiles(s.p.remoteDir)) {
		s.violation("a further run did something (exit %d after %d): %+v", again.code, r.code, again)
		ok = false
	}
	return ok
}

// conflicts lists the conflicting paths of the pair.
func (s *faultScenario) conflicts() []string {
	r := myrrorfs(s.t, s.p.args("conflicts", "--json")...)
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var d struct{ Path string }
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			s.t.Fatalf("conflicts --json: %q: %v", line, err)
		}
		out = append(out, d.Path)
	}
	return out
}

// bothSides reports whether p, or something at or under it, was changed on
// both sides (a path of both, or a directory a swap replaced on the remote
// while the local side changed things in it).
func (s *faultScenario) bothSides(p string) bool {
	for _, q := range append(append([]string{}, s.bothChanged...), s.swapped...) {
		if q == "" || q == p || tree.IsUnder(q, p) || tree.IsUnder(p, q) {
			return true
		}
	}
	return false
}

// bgRun is a run of the binary in the background.
type bgRun struct {
	cmd        *exec.Cmd
	done       chan struct{}
	out, errb  bytes.Buffer
	code       int
	killedHard bool
}

func startRun(t *testing.T, args ...string) *bgRun {
	t.Helper()
	r := &bgRun{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.errb
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killedHard = true
		}
		close(r.done)
	}()
	return r
}

func (r *bgRun) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// wait waits for the run to end; after limit it kills it and reports a
// hang.
func (s *faultScenario) wait(r *bgRun, limit time.Duration, what string) {
	s.t.Helper()
	select {
	case <-r.done:
	case <-time.After(limit):
		s.violation("%s hangs after %v; killing it", what, limit)
		r.cmd.Process.Kill()
		<-r.done
	}
	if strings.Contains(r.errb.String(), "goroutine ") {
		s.violation("%s crashed:\n%.2000s", what, r.errb.String())
	}
}

// faultScale shrinks, per kind, the window of the faults' moments when
// they come too late (after the run ended), and widens it again when they
// land.
var faultScale = map[string]float64{}

// delay returns a random moment within an uninterrupted run.
func (s *faultScenario) delay() time.Duration {
	scale, ok := faultScale[s.kind.name]
	if !ok {
		scale = 1
	}
	return time.Duration(s.rng.Float64() * scale * float64(s.took))
}

// landed adapts the window of the kind's faults to whether one landed.
func (s *faultScenario) landed(ok bool) {
	scale, known := faultScale[s.kind.name]
	if !known {
		scale = 1
	}
	if ok {
		scale = min(1, scale*1.1)
	} else {
		scale = max(0.05, scale*0.7)
	}
	faultScale[s.kind.name] = scale
}

// mount mounts p's view at a fresh directory and returns it; the mount and
// its daemon are gone when the test ends.
func (s *faultScenario) mount(p pair) string {
	s.t.Helper()
	mnt := s.t.TempDir()
	args := append(append([]string{"mount"}, p.flags...), p.local, p.remote, mnt)
	r := myrrorfs(s.t, args...)
	s.t.Cleanup(func() {
		if mounted(s.t, mnt) {
			myrrorfs(s.t, "unmount", "--state", p.state, mnt)
		}
		if mounted(s.t, mnt) {
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	if r.code != 0 {
		s.t.Fatalf("seed %d: mount: %+v", s.seed, r)
	}
	return mnt
}

// killSync SIGKILLs a sync at a random moment.
func (s *faultScenario) killSync() bool {
	r := startRun(s.t, s.p.args("sync", "-y")...)
	time.Sleep(s.delay())
	r.cmd.Process.Signal(syscall.SIGKILL)
	s.wait(r, time.Minute, "sync")
	return r.killedHard
}

// cutSSH kills, at a random moment of a sync, its ssh client or the sshd
// process serving its connection.
func (s *faultScenario) cutSSH() bool {
	sshd := testenv.SSHDPid(s.t)
	r := startRun(s.t, s.p.args("sync", "-y")...)
	time.Sleep(s.delay())
	victim := 0
	procs := testenv.Procs()
	if s.rng.Intn(2) == 0 {
		// the sshd child whose tree runs our agent
		for _, p := range testenv.Descendants(procs, sshd) {
			if len(p.Args) > 0 && strings.Contains(strings.Join(p.Args, " "), bin+" agent") {
				victim = testenv.ChildToward(procs, sshd, p.Pid)
			}
		}
	}
	if victim == 0 {
		for _, p := range testenv.Descendants(procs, r.cmd.Process.Pid) {
			if p.Comm == "ssh" {
				victim = p.Pid
			}
		}
	}
	landed := victim != 0 && r.running() && syscall.Kill(victim, syscall.SIGKILL) == nil
	if landed {
		if procs[victim].Comm == "ssh" {
			s.note("ssh client")
		} else {
			s.note("sshd child")
		}
	}
	s.wait(r, time.Minute, "sync with its connection cut")
	return landed
}

// killCommit mounts the view, starts a commit and SIGKILLs, at a random
// moment, the commit (kill-commit) or the mount's daemon (kill-daemon).
func (s *faultScenario) killCommit() bool {
	mnt := s.mount(s.p)
	pid := daemonPid(s.t, s.p, mnt)
	r := startRun(s.t, "commit", "-y", "--state", s.p.state, mnt)
	time.Sleep(s.delay())
	landed := false
	if s.kind.name == "kill-commit" {
		r.cmd.Process.Signal(syscall.SIGKILL)
		s.wait(r, time.Minute, "commit")
		landed = r.killedHard
	} else {
		landed = r.running() && syscall.Kill(pid, syscall.SIGKILL) == nil
		s.wait(r, time.Minute, "commit whose daemon was killed")
	}
	u := myrrorfs(s.t, "unmount", "--state", s.p.state, mnt)
	if mounted(s.t, mnt) {
		s.violation("unmount after the fault left the mount: %+v", u)
		unix.Unmount(mnt, unix.MNT_DETACH)
	}
	if !waitExit(pid, 30*time.Second) {
		s.violation("the daemon still runs 30s after unmount; killing it")
		syscall.Kill(pid, syscall.SIGKILL)
		waitExit(pid, 10*time.Second)
	}
	return landed
}

// fill fills the tmpfs of the scenario's kind: before the run, leaving a
// random part of what the run needs, or during it.
func (s *faultScenario) fill() bool {
	var fsDir string
	need := int64(0)
	switch s.kind.tmpfs {
	case "local":
		fsDir, need = s.L, s.toBytes["local"]
	case "remote":
		fsDir, need = s.R, s.toBytes["remote"]
	case "state":
		fsDir, need = filepath.Dir(s.p.state), 36<<20
	}
	filler := filepath.Join(fsDir, fmt.Sprintf("filler%d", len(s.fillers)))
	s.fillers = append(s.fillers, filler)
	// A state directory filled during a run crashes badger (SIGBUS in
	// its memtable, see the report of issue 9): only with
	// MYRRORFS_FAULTS_STATE_MIDRUN=1.
	midrunOK := s.kind.tmpfs != "state" || os.Getenv("MYRRORFS_FAULTS_STATE_MIDRUN") == "1"
	if !midrunOK || s.rng.Intn(2) == 0 {
		leave := s.rng.Int63n(need + 1)
		fillUp(filler, leave)
		r := startRun(s.t, s.p.args("sync", "-y")...)
		s.wait(r, 2*time.Minute, "sync on a full disk")
		if leave < need {
			s.note("filled before")
		} else {
			s.note("filled before, room enough")
		}
		return true
	}
	r := startRun(s.t, s.p.args("sync", "-y")...)
	time.Sleep(s.delay())
	landed := r.running()
	fillUp(filler, 0)
	s.wait(r, 2*time.Minute, "sync on a disk filled meanwhile")
	if landed {
		s.note("filled during")
	}
	return landed
}

// note counts how a fault landed.
func (s *faultScenario) note(way string) { s.stats.detail[s.kind.name+" "+way]++ }

// fillUp writes file until the filesystem holding it has at most leave
// bytes free.
func fillUp(file string, leave int64) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		var st unix.Statfs_t
		if unix.Statfs(file, &st) != nil {
			return
		}
		free := int64(st.Bavail) * int64(st.Bsize)
		if free <= leave {
			return
		}
		n := free - leave
		if n > int64(len(buf)) {
			n = int64(len(buf))
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return
		}
	}
}

// swap replaces, at a random moment of a sync, a directory of REMOTE (or
// REMOTE itself) by a symlink to the sentinel next to REMOTE or to "..",
// and puts the directory back once the run ended.
func (s *faultScenario) swap() bool {
	rel := []string{"d0", "d1", "d2", "d3", "d0/e", ""}[s.rng.Intn(6)]
	target := filepath.Join(s.R, "sentinel")
	if s.rng.Intn(2) == 0 {
		target = ".." // the directory holding the swapped one
		if rel == "" {
			target = "." // REMOTE's parent, next to the sentinel
		}
	}
	// REMOTE itself swapped mid-run: writes follow it out of the pair, over
	// the agent and between local directories alike (see the report of
	// issue 9): only with MYRRORFS_FAULTS_SWAP_ROOT=1.
	if rel == "" && os.Getenv("MYRRORFS_FAULTS_SWAP_ROOT") != "1" {
		rel = "d0"
	}
	path := filepath.Join(s.p.remoteDir, rel)
	held := filepath.Join(s.hold, fmt.Sprintf("swap%d", len(s.swapped)))
	r := startRun(s.t, s.p.args("sync", "-y")...)
	time.Sleep(s.delay())
	swapped, landed := false, false
	if r.running() {
		if err := os.Rename(path, held); err == nil {
			if err := os.Symlink(target, path); err != nil {
				s.t.Fatalf("swap %s: %v", path, err)
			}
			swapped, landed = true, r.running()
			s.swapped = append(s.swapped, rel)
			if landed {
				where := "dir"
				if rel == "" {
					where = "REMOTE"
				}
				if target == ".." || target == "." {
					s.note(where + " to its parent")
				} else {
					s.note(where + " to sentinel")
				}
			}
		}
	}
	s.wait(r, time.Minute, "sync with a swapped directory")
	if !swapped {
		return false
	}
	if t, err := os.Readlink(path); err == nil && t == target {
		os.Remove(path)
		if err := os.Rename(held, path); err != nil {
			s.t.Fatalf("put %s back: %v", path, err)
		}
	} else {
		s.t.Logf("%s seed %d: %s is no longer the swapped symlink (%v); the directory stays aside", s.kind.name, s.seed, path, err)
	}
	return landed
}
