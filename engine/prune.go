package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// BackupLimits bound each side's backup area; PruneBackups enforces them
// after a run. A zero field sets no limit.
type BackupLimits struct {
	// KeepFor: a version set aside longer ago than this is removed,
	// whatever it holds.
	KeepFor time.Duration
	// MaxSize: while a side's backup area holds more bytes than this, its
	// oldest versions whose content a file of either tree still holds are
	// removed. A version that is the only copy of its content is never
	// removed for size: it waits for KeepFor.
	MaxSize int64
}

// Defaults of the backup limits (the flags of sync and mount).
const (
	DefaultBackupKeepDays = 30
	DefaultBackupMaxSize  = 1 << 30
)

// IsZero reports whether l sets no limit at all.
func (l BackupLimits) IsZero() bool { return l.KeepFor <= 0 && l.MaxSize <= 0 }

// Pruned says what PruneBackups did on each side.
type Pruned struct {
	Removed [2]int   // versions removed
	Bytes   [2]int64 // their bytes
	// Over: the bytes by which the area still exceeds MaxSize, held by
	// versions that are the only copy of their content (kept until
	// KeepFor).
	Over     [2]int64
	Problems []Problem // what could not be read or removed (warnings)
}

// String says what a prune did in one line ("" when it removed nothing
// and nothing is over the limit).
func (pr Pruned) String() string {
	var parts []string
	for s := range pr.Removed {
		if pr.Removed[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d old backups removed on the %s side (%s)", pr.Removed[s], Side(s), HumanBytes(pr.Bytes[s])))
		}
	}
	for s := range pr.Over {
		if pr.Over[s] > 0 {
			parts = append(parts, fmt.Sprintf("the %s backup area is %s over its size limit, in versions that are the only copy of their content (kept until they are old enough)", Side(s), HumanBytes(pr.Over[s])))
		}
	}
	return strings.Join(parts, "; ")
}

// kept is one file or symlink in a backup area, as a prune sees it.
type kept struct {
	path string // on its side: .myrrorfs-backup/STAMP/...
	time time.Time
	kind tree.Kind
	size int64
}

// planPrune chooses which of vs (one side's backup area: every file,
// symlink and empty directory under its stamp directories) to remove at time now under lim:
// every version set aside before now-lim.KeepFor; then, while the rest
// hold more than lim.MaxSize bytes, the oldest first among those that
// held reports a tree still holds the content of (held is asked only
// about versions that would otherwise be removed, oldest first, and may
// do I/O). It returns the versions to remove and by how many bytes the
// rest still exceed lim.MaxSize.
func planPrune(vs []kept, lim BackupLimits, now time.Time, held func(kept) bool) (remove []kept, over int64) {
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].time.Before(vs[j].time) })
	var rest []kept
	var total int64
	for _, v := range vs {
		if lim.KeepFor > 0 && now.Sub(v.time) > lim.KeepFor {
			remove = append(remove, v)
			continue
		}
		rest = append(rest, v)
		total += v.size
	}
	if lim.MaxSize <= 0 {
		return remove, 0
	}
	for _, v := range rest {
		if total <= lim.MaxSize {
			break
		}
		if held(v) {
			remove = append(remove, v)
			total -= v.size
		}
	}
	return remove, max(0, total-lim.MaxSize)
}

// PruneAfter prunes the backup areas with the pair's limits
// (Options.Backups) after a run that had res as its result, unless a path
// failed in it: the journal then says what the trees hold (see
// PruneBackups).
func (p *Pair) PruneAfter(res *Result) Pruned {
	if res == nil || res.Failed() > 0 {
		return Pruned{}
	}
	return p.PruneBackups(p.opt.Backups, time.Now())
}

// PruneBackups enforces lim on both sides' backup areas at time now (see
// BackupLimits), after a run that brought every path it could in step:
// "a tree still holds its content" is then judged by what the journal
// records of each side (the hashes the run saw or wrote), so call it only
// after a run without failures. Only files and symlinks under stamp
// directories are removed, then the directories they leave empty;
// anything else in a backup area is never touched. A side whose backup
// area cannot be read or written (a read-only plain SFTP remote) is left
// as it is, with one problem reported; nothing here fails a run.
func (p *Pair) PruneBackups(lim BackupLimits, now time.Time) Pruned {
	var out Pruned
	if lim.IsZero() {
		return out
	}
	var content *heldContent
	for s, r := range [2]replica.Replica{p.Local, p.remote()} {
		side := Side(s)
		if p.backupsSeen[s] == nil {
			p.backupsSeen[s] = map[string][]kept{}
		}
		vs, stamps, err := listKept(r, p.backupsSeen[s])
		if err != nil {
			out.Problems = append(out.Problems, Problem{Side: side, Path: tree.BackupDir, Err: err, Warning: true})
			continue
		}
		held := func(v kept) bool {
			if v.kind != tree.File {
				return false // a symlink is kept until KeepFor: it costs nothing
			}
			if content == nil {
				content = p.heldContent()
			}
			return content.holds(r, v)
		}
		remove, over := planPrune(vs, lim, now, held)
		out.Over[s] = over
		var failed, removed []kept
		var first error
		for _, v := range remove {
			err := r.Remove(v.path)
			if err == nil || errors.Is(err, replica.ErrNotExist) {
				removed = append(removed, v)
			}
			switch {
			case errors.Is(err, replica.ErrNotExist):
				continue
			case err != nil:
				if first == nil {
					first = err
				}
				failed = append(failed, v)
				out.Over[s] += v.size
				continue
			}
			out.Removed[s]++
			out.Bytes[s] += v.size
			removeEmptyParents(r, tree.Parent(v.path), stamps)
		}
		forget(p.backupsSeen[s], removed)
		if len(failed) > 0 {
			more := ""
			if len(failed) > 1 {
				more = fmt.Sprintf(" (and %d more)", len(failed)-1)
			}
			out.Problems = append(out.Problems, Problem{Side: side, Path: failed[0].path, Warning: true,
				Err: fmt.Errorf("old backup not removed%s: %w", more, first)})
		}
	}
	return out
}

// listKept lists every file, symlink and empty directory under the stamp
// directories of r's backup area, and the set of those directories. A
// stamp directory is only ever written by the run it is named after, so
// what seen (stamp directory -> its entries, updated here) holds of one
// from an earlier prune is taken as it is, and only new ones are walked,
// several at once: a mount or sync --watch lists its backup areas in full
// once.
func listKept(r replica.Replica, seen map[string][]kept) ([]kept, map[string]bool, error) {
	dirs, err := stampDirs(r)
	if err != nil {
		return nil, nil, err
	}
	stamps := map[string]bool{}
	var fresh []Backup
	for _, d := range dirs {
		stamps[d.Stored] = true
		if _, ok := seen[d.Stored]; !ok {
			fresh = append(fresh, d)
		}
	}
	for dir := range seen {
		if !stamps[dir] {
			delete(seen, dir)
		}
	}
	walked := make([][]kept, len(fresh))
	errs := make([]error, len(fresh))
	sem := make(chan struct{}, backupLookups)
	var wg sync.WaitGroup
	for i, d := range fresh {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			walked[i], errs[i] = walkStamp(r, d.Stored, d.Time)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	for i, d := range fresh {
		seen[d.Stored] = walked[i]
	}
	var out []kept
	for _, d := range dirs {
		out = append(out, seen[d.Stored]...)
	}
	return out, stamps, nil
}

// walkStamp lists every file, symlink and empty directory under stamp
// directory dir of r, all set aside at time t.
func walkStamp(r replica.Replica, dir string, t time.Time) ([]kept, error) {
	var out []kept
	var walk func(dir string) error
	walk = func(dir string) error {
		infos, err := r.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, in := range infos {
			p := tree.Join(dir, in.Name)
			n := len(out)
			switch in.Kind {
			case tree.Dir:
				if err := walk(p); err != nil {
					return err
				}
				if len(out) == n {
					// an empty directory (a deleted one was empty) is a
					// version too: it goes with its stamp's age
					out = append(out, kept{path: p, time: t, kind: tree.Dir})
				}
			case tree.File, tree.Symlink:
				out = append(out, kept{path: p, time: t, kind: in.Kind, size: in.Size})
			}
		}
		return nil
	}
	return out, walk(dir)
}

// forget drops the versions removed from what seen holds of their stamp
// directories.
func forget(seen map[string][]kept, removed []kept) {
	gone := map[string]bool{}
	for _, v := range removed {
		gone[v.path] = true
	}
	for dir, vs := range seen {
		seen[dir] = slices.DeleteFunc(vs, func(v kept) bool { return gone[v.path] })
	}
}

// removeEmptyParents removes dir and its parents up to the stamp
// directory holding them (that one included), as long as they are empty.
func removeEmptyParents(r replica.Replica, dir string, stamps map[string]bool) {
	for dir != tree.BackupDir && dir != "" {
		if infos, err := r.ReadDir(dir); err != nil || len(infos) > 0 || r.Remove(dir) != nil {
			return
		}
		if stamps[dir] {
			return
		}
		dir = tree.Parent(dir)
	}
}

// heldContent is what the journal records each side's files to hold.
type heldContent struct {
	hashes map[tree.Hash]bool
	sizes  map[int64]bool
	err    error
}

// heldContent reads the contents the journal records on either side.
func (p *Pair) heldContent() *heldContent {
	c := &heldContent{hashes: map[tree.Hash]bool{}, sizes: map[int64]bool{}}
	c.err = p.db.Load(func(path string, rec tree.Record) error {
		for _, side := range [2]tree.Cached{rec.Local, rec.Remote} {
			if !side.Hash.IsZero() { // only files have one
				c.hashes[side.Hash] = true
				c.sizes[side.FP.Size] = true
			}
		}
		return nil
	})
	return c
}

// holds reports whether a file of either tree holds the content of v (on
// r): when in doubt (the journal or v could not be read), it does not.
func (c *heldContent) holds(r replica.Replica, v kept) bool {
	if c.err != nil || !c.sizes[v.size] {
		return false
	}
	h, fp, err := replica.HashFile(r, v.path)
	return err == nil && fp.Size == v.size && c.hashes[h]
}
