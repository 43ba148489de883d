package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/ops"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Side names one side of a pair.
type Side = ops.Side

const (
	LocalSide  = ops.Local
	RemoteSide = ops.Remote
)

// Problem is a path that was left alone, with the reason. Warnings (special
// files, invalid names) do not make a run fail; other problems do.
type Problem struct {
	Side    Side
	Path    string
	Err     error
	Warning bool
}

func (p Problem) Error() string {
	name := p.Path
	if name == "" {
		name = "."
	}
	// the cause may name the path again, unquoted: its controls are escaped
	return fmt.Sprintf("%s %s: %s", p.Side, QuotePath(name), EscapeControls(fmt.Sprint(p.Err)))
}

// Row is everything known about one path: the journal's record and what
// each side's scan found (Entry.Kind Absent when the side has nothing there).
type Row = ops.Row

// Plan is the result of scanning and reconciling a pair: one decision per
// path, in tree order (but for the settled paths a plan may leave out, see
// Settled), plus what the scans could not take in.
type Plan struct {
	Rows      []Row
	Decisions []reconcile.Decision // parallel to Rows
	Problems  []Problem
	Temps     [2][]string // stale temporaries found on each side
	FirstSync bool        // no base recorded yet
	BaseCount int         // paths with a base
	// Settled counts the paths left out of Rows because Apply has nothing
	// to do with them (both sides hold the base, the journal is up to
	// date): a plan of a pair that is not resident keeps only the rows it
	// needs, unless Options.AllRows. They are equal.
	Settled      int
	settledFiles int      // the settled paths that are not directories
	Counts       [2]int   // entries found on each side, and paths it could not take in
	Hashed       [2]int   // files hashed by each scan
	HashedBytes  [2]int64 // and their bytes
	// RemoteHashing tells how remote files were hashed (HashInPlace or
	// HashByDownload).
	RemoteHashing string
	// Moves are the renames carried out as renames (see ops.Moves).
	Moves ops.Moves
	// Ops carry out the one-sided decisions, renames included.
	Ops []ops.Op
	// Policy is the mode and preference the plan was decided with.
	Policy reconcile.Policy
	// Merges are the three-way merges of text conflicts (see
	// textmerge.go): a clean one settles its conflict when applied.
	Merges []Merge
	// Checksum tells that every file was hashed (Options.Checksum):
	// neither the journal's hashes nor a previous scan's were used.
	Checksum bool
}

// reconcile decides every row.
func (pl *Plan) reconcile() {
	if len(pl.Decisions) != len(pl.Rows) {
		pl.Decisions = make([]reconcile.Decision, len(pl.Rows))
	}
	for i, r := range pl.Rows {
		pl.Decisions[i] = reconcile.Decision{Item: reconcile.Item{Path: r.Path, Base: r.Rec.Base, Local: r.Local.Entry, Remote: r.Remote.Entry}}
	}
	reconcile.DecideWith(pl.Decisions, pl.Policy)
}

// Ways the remote side's files are hashed.
const (
	HashInPlace    = "in place"                       // the replica hashes where the files are
	HashByDownload = "by download, only where needed" // stat fingerprints first; a hash costs a download
)

// RemoteHashing tells how remote files are hashed.
func (p *Pair) RemoteHashing() string {
	if _, ok := p.Remote.(replica.Hasher); ok {
		return HashInPlace
	}
	return HashByDownload
}

// hashWhereNeeded hashes (by download) the remote files a lazy scan left
// unhashed where the decision depends on their content: paths changed on
// both sides, where the same content means no conflict. It reports whether
// it hashed anything.
func (p *Pair) hashWhereNeeded(ctx context.Context, pl *Plan) bool {
	var need []int
	for i, d := range pl.Decisions {
		if d.Action == reconcile.Conflict && d.Remote.Kind == tree.File && d.Remote.Hash.IsZero() && d.Local.Kind == tree.File {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return false
	}
	var mu sync.Mutex
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < p.workers && w < len(need); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				h, fp, err := replica.HashFile(p.Remote, pl.Rows[i].Path)
				mu.Lock()
				if err != nil {
					pl.Problems = append(pl.Problems, Problem{Side: RemoteSide, Path: pl.Rows[i].Path, Err: err})
				} else if fp == pl.Rows[i].Remote.FP {
					pl.Rows[i].Remote.Entry.Hash = h
					p.learnRemote(pl.Rows[i].Path, h)
				}
				mu.Unlock()
			}
		}()
	}
	for _, i := range need {
		if ctx.Err() != nil {
			break
		}
		ch <- i
	}
	close(ch)
	wg.Wait()
	pl.Rows = dropProblemPaths(pl.Rows, pl.Problems)
	return true
}

// warnChecksumDownload warns, once per pair, that Options.Checksum
// downloads every remote file: no agent hashes them in place.
func (p *Pair) warnChecksumDownload() {
	if p.opt.Warn == nil {
		return
	}
	p.checksumWarned.Do(func() {
		p.opt.Warn("--checksum without a myrrorfs agent on the remote: every remote file is downloaded to be hashed (all of the remote tree crosses the network on each run)")
	})
}

// learnRemote records a hash in the latest remote scan, so the next scan
// reuses it.
func (p *Pair) learnRemote(path string, h tree.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := scanIndex(p.last[RemoteSide], path); i >= 0 {
		p.last[RemoteSide].Entries[i].Entry.Hash = h
	}
}

// pathRec is one journal record with its path, kept sorted by path.
type pathRec struct {
	path string
	rec  journal.Record
}

// Scan scans both sides concurrently (re-hashing only files whose stat
// fingerprint changed since it was last recorded) and reconciles them with
// the journal.
func (p *Pair) Scan(ctx context.Context) (*Plan, error) {
	return p.Refresh(ctx, true)
}

// Refresh is Scan for a pair held open for a while (by a mount): it rescans
// the local side, and the remote side only when remote is true (otherwise
// the last remote scan stands in for it). Files seen unchanged by the
// previous scan of the same side are not hashed again.
func (p *Pair) Refresh(ctx context.Context, remote bool) (*Plan, error) {
	return p.refresh(ctx, remote, nil, false)
}

// ScanAll is Scan with a row for every path, equal ones included, whatever
// the pair's options (see Options.AllRows): for a status that prints them
// all.
func (p *Pair) ScanAll(ctx context.Context) (*Plan, error) {
	return p.refresh(ctx, true, nil, true)
}

// RemoteScan is a scan of the remote side made by ScanRemote.
type RemoteScan struct {
	res *replica.ScanResult
	gen uint64 // the pair's Apply count when it began
}

// ScanRemote scans the remote side for a later RefreshWith. Unlike the
// pair's other methods it may run while another goroutine uses the pair
// (but not Apply): a mount rescans the remote without holding up its
// gestures, which may then go on whatever the remote does.
func (p *Pair) ScanRemote(ctx context.Context) (*RemoteScan, error) {
	recs, err := p.loadJournal()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	gen, r := p.gen, p.Remote
	p.mu.Unlock()
	opt := p.knownOptions(recs, indexRecs(recs), RemoteSide)
	opt.LazyHash = p.RemoteHashing() == HashByDownload && !p.opt.Checksum
	res, err := replica.Scan(ctx, r, opt)
	if err != nil {
		return nil, fmt.Errorf("scan remote side: %w", err)
	}
	return &RemoteScan{res: res, gen: gen}, nil
}

// RefreshWith is Refresh with rs (from ScanRemote) as the remote side's
// scan. If a plan was applied since rs began, rs may be out of date: the
// remote side is scanned again instead.
func (p *Pair) RefreshWith(ctx context.Context, rs *RemoteScan) (*Plan, error) {
	p.mu.Lock()
	stale := rs.gen != p.gen
	p.mu.Unlock()
	if stale {
		return p.refresh(ctx, true, nil, false)
	}
	return p.refresh(ctx, false, rs.res, false)
}

// walkAhead is how many local entries may be listed ahead while the
// remote side is listed whole (by an agent): they wait in memory for the
// merge.
const walkAhead = 1 << 16

// refresh rescans the local side and, when remote is true, the remote side
// (otherwise it takes rs, or the latest remote scan); all keeps every row. The scans hash
// nothing: the merge with the journal hashes the files whose fingerprint
// changed since they were recorded. Each side is walked, and merged as it
// is walked (a remote that lists its whole tree at once, an agent, is
// listed whole first, while the local side is walked ahead).
func (p *Pair) refresh(ctx context.Context, remote bool, rs *replica.ScanResult, all bool) (*Plan, error) {
	p.mu.Lock()
	prev := p.last
	p.mu.Unlock()
	if rs == nil && !remote {
		rs = prev[RemoteSide]
	}
	p.resetProgress(LocalSide)
	if rs == nil {
		p.resetProgress(RemoteSide)
	}
	var src [2]source
	var fresh [2]bool
	var walks [2]*replica.Walk
	defer func() {
		for _, w := range walks {
			if w != nil {
				w.Close()
			}
		}
	}()
	var temps [2]func() []string
	walk := func(s Side, r replica.Replica) error {
		w, err := replica.NewWalk(ctx, r, p.scanOptions(s))
		if err != nil {
			return fmt.Errorf("scan %s side: %w", s, err)
		}
		walks[s] = w
		src[s], fresh[s], temps[s] = walkSource{w}, true, w.Temps
		return nil
	}
	var rerr error
	remoteDone := make(chan struct{})
	go func() {
		defer close(remoteDone)
		if rs != nil {
			src[RemoteSide], temps[RemoteSide] = &scanSource{res: rs}, func() []string { return rs.Temps }
			return
		}
		rerr = walk(RemoteSide, p.Remote)
	}()
	lerr := walk(LocalSide, p.Local)
	if lerr == nil {
		// until the remote side can be merged, list the local one ahead
		walks[LocalSide].SetAhead(walkAhead)
	}
	<-remoteDone
	if lerr == nil {
		walks[LocalSide].SetAhead(0)
	}
	if lerr != nil {
		return nil, lerr
	}
	if rerr != nil {
		return nil, rerr
	}
	plan := &Plan{RemoteHashing: p.RemoteHashing(), Policy: p.opt.Policy, Checksum: p.opt.Checksum}
	if rs != nil {
		plan.Hashed[RemoteSide], plan.HashedBytes[RemoteSide] = rs.Hashed, rs.HashedBytes
	} else if p.opt.Checksum && plan.RemoteHashing == HashByDownload {
		p.warnChecksumDownload()
	}
	keep, err := p.merge(ctx, plan, src, prev, fresh, all)
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("load journal: %w", err)
		}
		return nil, err
	}
	for s, w := range walks {
		if w == nil {
			continue
		}
		if err := w.Err(); err != nil {
			return nil, fmt.Errorf("scan %s side: %w", Side(s), err)
		}
	}
	for s := range temps {
		plan.Temps[s] = temps[s]()
		if keep[s] != nil {
			keep[s].Temps = plan.Temps[s]
		}
	}
	if p.opt.Resident {
		last := prev
		for s := range keep {
			if keep[s] != nil {
				last[s] = keep[s]
			} else if s == int(RemoteSide) {
				last[s] = rs
			}
		}
		p.mu.Lock()
		p.last = last
		p.mu.Unlock()
	}
	plan.FirstSync = plan.BaseCount == 0
	plan.reconcile()
	if p.hashWhereNeeded(ctx, plan) {
		plan.reconcile()
	}
	p.findMerges(ctx, plan)
	plan.Moves = ops.FindMoves(plan.Rows, plan.Decisions)
	plan.Ops = ops.Build(plan.Rows, plan.Decisions, plan.Moves)
	return plan, nil
}

func (p *Pair) loadJournal() ([]pathRec, error) {
	var recs []pathRec
	err := p.db.Load(func(path string, rec journal.Record) error {
		recs = append(recs, pathRec{path, rec})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load journal: %w", err)
	}
	return recs, nil
}

// scanOptions are the options of a scan of side: nothing is hashed (see
// refresh).
func (p *Pair) scanOptions(side Side) replica.ScanOptions {
	var progress func(int, int64)
	if p.opt.ScanProgress != nil {
		// a lazy scan hashes nothing: the merge reports the hashing
		progress = func(n int, _ int64) { p.reportProgress(side, n, -1) }
	}
	r := p.Local
	if side == RemoteSide {
		r = p.remote()
	}
	return replica.ScanOptions{
		Ignore:         p.ig.Ignored,
		Workers:        p.workers,
		Progress:       progress,
		TempMarkers:    p.tempMarkers(r),
		ReportReserved: true,
		LazyHash:       true,
	}
}

// knownOptions are the options of a scan of side that hashes what recs
// (indexed by idx) and the latest scan of side do not know; with
// Options.Checksum, that hashes every file.
func (p *Pair) knownOptions(recs []pathRec, idx map[string]int32, side Side) replica.ScanOptions {
	p.mu.Lock()
	prev := p.last[side]
	p.mu.Unlock()
	opt := p.scanOptions(side)
	opt.LazyHash = false
	if p.opt.ScanProgress != nil {
		opt.Progress = func(n int, b int64) { p.reportProgress(side, n, b) }
	}
	if p.opt.Checksum {
		return opt // hash every file
	}
	opt.Known = func(path string) (tree.Fingerprint, tree.Hash, bool) {
		if prev != nil {
			p.mu.Lock() // learnRemote may be filling in a hash
			s, ok := lookupScan(prev, path)
			p.mu.Unlock()
			if ok && s.Entry.Kind == tree.File {
				return s.FP, s.Entry.Hash, true
			}
		}
		i, ok := idx[path]
		if !ok {
			return tree.Fingerprint{}, tree.Hash{}, false
		}
		s := recs[i].rec.Local
		if side == RemoteSide {
			s = recs[i].rec.Remote
		}
		return s.FP, s.Hash, !s.Hash.IsZero()
	}
	return opt
}

// indexRecs maps the path of every journal record with a cached file hash
// to its position, for the scans' lookups.
func indexRecs(recs []pathRec) map[string]int32 {
	idx := make(map[string]int32, len(recs))
	for i, r := range recs {
		if !r.rec.Local.Hash.IsZero() || !r.rec.Remote.Hash.IsZero() {
			idx[r.path] = int32(i)
		}
	}
	return idx
}

// dropProblemPaths removes every row at or under a path a scan could not
// take in: such paths are left alone on both sides.
func dropProblemPaths(rows []Row, probs []Problem) []Row {
	if len(probs) == 0 {
		return rows
	}
	bad := make(map[string]bool, len(probs))
	for _, pr := range probs {
		bad[pr.Path] = true
	}
	out := rows[:0]
	for _, r := range rows {
		if !coveredBy(bad, r.Path) {
			out = append(out, r)
		}
	}
	return out
}

// coveredBy reports whether p or one of its ancestors is in set.
func coveredBy(set map[string]bool, p string) bool {
	for {
		if set[p] {
			return true
		}
		if p == "" {
			return false
		}
		p = tree.Parent(p)
	}
}

// DefaultMaxDelete is the share (in percent) of a side's synced files a
// run may delete without --force.
const DefaultMaxDelete = 50

// SafetyCheck is CheckDeletes with DefaultMaxDelete.
func (pl *Plan) SafetyCheck() error { return pl.CheckDeletes(DefaultMaxDelete) }

// CheckDeletes refuses a run that would mirror a vanished or emptied root
// (a side that now holds nothing while the pair had synced entries), or
// delete more than maxPercent of a side's synced files (renames do not
// count). In push and pull modes, which also delete what only the target
// holds, the share is of the files the target holds, and it is checked at
// a first sync too: a mirror pointed at the wrong directory stops there.
// The error says how many and where.
func (pl *Plan) CheckDeletes(maxPercent int) error {
	mirror := pl.Policy.Mode != reconcile.TwoWay
	if pl.BaseCount == 0 && !mirror {
		return nil
	}
	if pl.BaseCount > 0 {
		for s, n := range pl.Counts {
			if n == 0 {
				return fmt.Errorf("%s side is empty but %d entries were synced before: refusing to delete them on the other side (pass --force if this is what you want)", Side(s), pl.BaseCount)
			}
		}
	}
	moved := map[int]bool{}
	for _, m := range []map[int]int{pl.Moves.Files, pl.Moves.Edits} {
		for _, from := range m {
			moved[from] = true
		}
	}
	for _, from := range pl.Moves.Dirs {
		for k := from; k < len(pl.Rows) && (k == from || tree.IsUnder(pl.Rows[k].Path, pl.Rows[from].Path)); k++ {
			moved[k] = true
		}
	}
	synced := pl.settledFiles
	held := [2]int{pl.settledFiles, pl.settledFiles} // files each side holds
	var deleted [2]int
	var where [2][]string
	for i, r := range pl.Rows {
		if r.Rec.Base.Exists() && r.Rec.Base.Kind != tree.Dir {
			synced++
		}
		for s := range held {
			if e := r.On(Side(s)).Entry; e.Exists() && e.Kind != tree.Dir {
				held[s]++
			}
		}
		d := pl.Decisions[i]
		if d.Under != "" || moved[i] || (d.Action != reconcile.ToRemote && d.Action != reconcile.ToLocal) {
			continue
		}
		t := RemoteSide
		if d.Action == reconcile.ToLocal {
			t = LocalSide
		}
		src, dst := r.On(t.Other()).Entry, r.On(t).Entry
		if src.Exists() || !dst.Exists() || dst.Kind == tree.Dir {
			continue
		}
		deleted[t]++
		dir := tree.Parent(r.Path)
		if n := len(where[t]); n == 0 || where[t][n-1] != dir {
			where[t] = append(where[t], dir)
		}
	}
	for s, n := range deleted {
		of, what := synced, "synced files"
		if mirror {
			of, what = held[s], "files"
		}
		if n == 0 || n*100 <= maxPercent*of {
			continue
		}
		dirs := where[s]
		more := ""
		if len(dirs) > 3 {
			more = fmt.Sprintf(" and %d more", len(dirs)-3)
			dirs = dirs[:3]
		}
		for k, d := range dirs {
			dirs[k] = orRoot(d)
		}
		return fmt.Errorf("this run would delete %d of the %d %s on the %s side (more than %d%%), in %s%s: refusing (pass --force, or a larger --max-delete, if this is what you want)",
			n, of, what, Side(s), maxPercent, strings.Join(dirs, ", "), more)
	}
	return nil
}

// Top returns the decisions that stand for themselves (not inside a
// conflict at an ancestor) and are not equal.
func (pl *Plan) Top() []reconcile.Decision {
	var out []reconcile.Decision
	for _, d := range pl.Decisions {
		if d.Under == "" && d.Action != reconcile.Equal {
			out = append(out, d)
		}
	}
	return out
}

// Conflicts returns the conflicts of the plan (top-level only) that no
// clean merge settles.
func (pl *Plan) Conflicts() []reconcile.Decision {
	var out []reconcile.Decision
	for _, d := range pl.Decisions {
		if d.Under == "" && d.Action == reconcile.Conflict && !pl.IsMerged(d.Path) {
			out = append(out, d)
		}
	}
	return out
}

// lookupScan finds path in a scan's sorted entries.
func lookupScan(r *replica.ScanResult, path string) (tree.Scanned, bool) {
	if i := scanIndex(r, path); i >= 0 {
		return r.Entries[i], true
	}
	return tree.Scanned{}, false
}

// scanIndex returns the position of path in a scan's sorted entries, or -1.
func scanIndex(r *replica.ScanResult, path string) int {
	if r == nil {
		return -1
	}
	es := r.Entries
	i := sort.Search(len(es), func(i int) bool { return tree.Compare(es[i].Path, path) >= 0 })
	if i < len(es) && es[i].Path == path {
		return i
	}
	return -1
}
