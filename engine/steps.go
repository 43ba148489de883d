package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// removals deletes (into the backup area) every target entry that must go:
// deletions, and old entries replaced by one of another kind. Files first,
// in parallel; then directories, deepest first.
func (a *applier) removals(ctx context.Context) {
	ms := a.moves(func(m move) bool {
		return m.dstS.Entry.Exists() && m.srcS.Entry.Kind != m.dstS.Entry.Kind && !a.done[m.i]
	})
	var files, dirs []move
	for _, m := range ms {
		if m.dstS.Entry.Kind == tree.Dir {
			dirs = append(dirs, m)
		} else {
			files = append(files, m)
		}
	}
	a.parallel(ctx, files, func(m move) {
		if err := a.checkScanned(m.dst, m.path, m.dstS); err != nil {
			a.problem(m, err)
			return
		}
		if err := a.backups[m.dstSide].keep(m.path, false); err != nil {
			a.problem(m, err)
			return
		}
		a.afterRemoval(m)
	})
	for k := len(dirs) - 1; k >= 0 && ctx.Err() == nil; k-- {
		m := dirs[k]
		if err := a.removeDir(m); err != nil {
			a.failDir(m, err)
			continue
		}
		a.afterRemoval(m)
	}
}

// afterRemoval records a removal: a deletion is complete; a replacement by
// another kind continues in a later step.
func (a *applier) afterRemoval(m move) {
	if !m.srcS.Entry.Exists() {
		a.completed(m, tree.Fingerprint{})
		return
	}
	a.mu.Lock()
	a.removed[m.i] = true
	a.mu.Unlock()
	// Record at once that the old entry is gone: should the run stop before
	// the new one is made, the next run sees a one-sided addition, not a
	// conflict between a removal and a type change.
	b := a.p.db.NewBatch()
	err := b.Delete(m.path)
	if err == nil {
		err = b.Flush()
	}
	if err != nil {
		a.problem(m, fmt.Errorf("journal: %w", err))
	}
}

// removeDir removes a directory whose scanned content has been removed. If
// it still holds entries, they must all be ignored or internal ones (then
// the directory goes to the backup area whole); anything else means the
// directory changed since the scan and it stays.
func (a *applier) removeDir(m move) error {
	if err := a.checkScanned(m.dst, m.path, m.dstS); err != nil {
		return err
	}
	err := m.dst.Remove(m.path)
	if err == nil || errors.Is(err, replica.ErrNotExist) {
		return nil
	}
	infos, lerr := m.dst.ReadDir(m.path)
	if lerr != nil {
		return err
	}
	for _, in := range infos {
		child := tree.Join(m.path, in.Name)
		if !tree.Internal(child) && !a.p.ig.Ignored(child, in.Kind == tree.Dir) {
			return fmt.Errorf("not removed, it holds %s: %w", in.Name, ErrChanged)
		}
	}
	return a.backups[m.dstSide].keep(m.path, false)
}

// mkdirs creates directories in tree order, parents first.
func (a *applier) mkdirs(ctx context.Context) {
	ms := a.moves(func(m move) bool {
		return m.srcS.Entry.Kind == tree.Dir && m.dstS.Entry.Kind != tree.Dir
	})
	for _, m := range ms {
		if ctx.Err() != nil {
			return
		}
		if a.done[m.i] || a.blocked(m) {
			continue
		}
		if m.dstS.Entry.Exists() && !a.removed[m.i] {
			a.mu.Lock()
			a.pending[m.path] = true // made once the old entry is removed
			a.mu.Unlock()
			continue
		}
		a.mu.Lock()
		delete(a.pending, m.path)
		a.mu.Unlock()
		if err := a.checkScanned(m.dst, m.path, tree.Scanned{}); err != nil {
			a.failDir(m, err)
			continue
		}
		if err := m.dst.Mkdir(m.path, m.srcS.Entry.Perm); err != nil {
			a.failDir(m, err)
			continue
		}
		info, err := m.dst.Lstat(m.path)
		if err != nil {
			a.failDir(m, err)
			continue
		}
		a.completed(m, info.FP)
	}
}

// fileMoves returns the moves that bring a file or symlink over.
func (a *applier) fileMoves() []move {
	return a.moves(func(m move) bool {
		k := m.srcS.Entry.Kind
		return k == tree.File || k == tree.Symlink
	})
}

// claim marks row i as handled by the calling step; it reports false when
// another step already took it.
func (a *applier) claim(i int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.handled[i] || a.done[i] {
		return false
	}
	a.handled[i] = true
	return true
}

// target returns what m's target must still hold when it is replaced, and
// whether m can proceed now (its target's old entry of another kind must
// have been removed first).
func (a *applier) target(m move) (tree.Scanned, bool) {
	if a.removed[m.i] {
		return tree.Scanned{}, true
	}
	if m.dstS.Entry.Exists() && m.dstS.Entry.Kind != m.srcS.Entry.Kind {
		return tree.Scanned{}, false
	}
	return m.dstS, true
}

// stage writes the new content of every file and symlink whose target can
// take it now into a temporary next to the target, in parallel, before
// anything is renamed or removed: a copy made on the target side may read a
// file that a later step replaces, moves or deletes.
func (a *applier) stage(ctx context.Context) {
	a.parallel(ctx, a.fileMoves(), func(m move) {
		want, ok := a.target(m)
		if !ok || a.blocked(m) || a.isRenameTarget(m.i) {
			return
		}
		if want.Entry.Kind == tree.File && tree.SameContent(m.srcS.Entry, want.Entry) {
			return // a chmod, done when installing
		}
		if !a.claim(m.i) {
			return
		}
		tmp, err := a.makeTemp(m)
		if err != nil {
			a.problem(m, err)
			return
		}
		a.mu.Lock()
		a.staged[m.i] = tmp
		a.mu.Unlock()
	})
}

// install renames the staged temporaries into place and applies the
// permission-only changes.
func (a *applier) install(ctx context.Context) {
	a.parallel(ctx, a.fileMoves(), func(m move) {
		a.mu.Lock()
		tmp := a.staged[m.i]
		a.mu.Unlock()
		want, ok := a.target(m)
		if !ok || a.blocked(m) {
			return
		}
		if tmp == "" {
			if !(want.Entry.Kind == tree.File && tree.SameContent(m.srcS.Entry, want.Entry)) || !a.claim(m.i) {
				return
			}
		}
		a.finish(m, tmp, want)
	})
}

// files brings over what the earlier steps could not (targets whose old
// entry of another kind was removed meanwhile).
func (a *applier) files(ctx context.Context) {
	a.parallel(ctx, a.fileMoves(), func(m move) {
		want, ok := a.target(m)
		if !ok || a.blocked(m) || !a.claim(m.i) {
			return
		}
		tmp := ""
		if !(want.Entry.Kind == tree.File && tree.SameContent(m.srcS.Entry, want.Entry)) {
			var err error
			if tmp, err = a.makeTemp(m); err != nil {
				a.problem(m, err)
				return
			}
		}
		a.finish(m, tmp, want)
	})
}

// finish installs tmp at m's target (or, with no tmp, sets the permission
// bits of identical content) and records the path as done.
func (a *applier) finish(m move, tmp string, want tree.Scanned) {
	var err error
	if tmp == "" {
		if err = a.checkScanned(m.dst, m.path, want); err == nil {
			err = m.dst.Chmod(m.path, m.srcS.Entry.Perm)
		}
	} else if err = a.installTemp(m, tmp, want); err != nil {
		m.dst.Remove(tmp)
	}
	if err != nil {
		a.problem(m, err)
		return
	}
	fp, err := a.statFP(m.dst, m.path)
	if err != nil {
		a.problem(m, err)
		return
	}
	a.completed(m, fp)
}

// makeTemp writes m's new content into a temporary next to its target.
func (a *applier) makeTemp(m move) (string, error) {
	if m.srcS.Entry.Kind == tree.Symlink {
		return a.symlinkTemp(m)
	}
	if tmp, ok := a.copyOnTarget(m); ok {
		return tmp, nil
	}
	return a.transfer(m)
}

func (a *applier) statFP(r replica.Replica, p string) (tree.Fingerprint, error) {
	info, err := r.Lstat(p)
	return info.FP, err
}

// installTemp renames tmp onto m.path after checking the target still
// holds want, keeping the replaced version in the backup area.
func (a *applier) installTemp(m move, tmp string, want tree.Scanned) error {
	if err := a.checkScanned(m.dst, m.path, want); err != nil {
		return err
	}
	if want.Entry.Exists() {
		if err := a.backups[m.dstSide].keep(m.path, true); err != nil {
			return err
		}
	}
	return m.dst.Rename(tmp, m.path)
}

// symlinkTemp creates the symlink under a temporary name next to its target.
func (a *applier) symlinkTemp(m move) (string, error) {
	tmp := tree.Join(tree.Parent(m.path), replica.TempName())
	if err := m.dst.Symlink(m.srcS.Entry.Target, tmp); err != nil {
		return "", err
	}
	return tmp, nil
}

// transfer copies the source file into a temporary next to the target and
// verifies it holds exactly the scanned content.
func (a *applier) transfer(m move) (string, error) {
	src := m.srcS.Entry
	rc, err := m.src.Open(m.path)
	if err != nil {
		if errors.Is(err, replica.ErrNotExist) {
			return "", fmt.Errorf("source vanished: %w", ErrChanged)
		}
		return "", fmt.Errorf("read: %w", err)
	}
	defer rc.Close()
	tmp, w, err := m.dst.CreateTemp(tree.Parent(m.path), src.Perm)
	if err != nil {
		return "", fmt.Errorf("create temporary: %w", err)
	}
	n, h, cerr := copyHashed(w, rc, src.Size, progressWriter(a.opt.Progress))
	if err := w.Close(); cerr == nil {
		cerr = err
	}
	if cerr == nil && (n != src.Size || (!src.Hash.IsZero() && h != src.Hash)) {
		cerr = fmt.Errorf("source content differs from the scan: %w", ErrChanged)
	}
	if cerr == nil && src.Hash.IsZero() {
		a.mu.Lock()
		a.learned[m.i] = h // the scan left it to the copy to hash
		a.mu.Unlock()
	}
	if cerr == nil {
		cerr = m.dst.Chtimes(tmp, src.MtimeNs)
	}
	if cerr != nil {
		m.dst.Remove(tmp)
		return "", cerr
	}
	a.mu.Lock()
	a.res.Bytes += n
	a.mu.Unlock()
	return tmp, nil
}

// progressWriter turns a progress callback into a writer that counts.
type progressWriter func(int64)

func (f progressWriter) Write(b []byte) (int, error) {
	if f != nil {
		f(int64(len(b)))
	}
	return len(b), nil
}

// sizedReader tells pkg/sftp's ReadFrom how much is coming, so it writes
// with many requests in flight.
type sizedReader struct {
	io.Reader
	n int64
}

func (s sizedReader) Size() int64 { return s.n }

// copyHashed copies r to w, hashing what it copies, in whichever way lets a
// remote file move many requests at once.
func copyHashed(w replica.WriteFile, r io.Reader, size int64, extra io.Writer) (int64, tree.Hash, error) {
	h := blake3.New(32, nil)
	if extra == nil {
		extra = io.Discard
	}
	var n int64
	var err error
	_, rIsFile := r.(*os.File)
	_, wIsFile := w.(*os.File)
	if wt, ok := r.(io.WriterTo); ok && !rIsFile {
		n, err = wt.WriteTo(io.MultiWriter(w, h, extra))
	} else if rf, ok := w.(io.ReaderFrom); ok && !wIsFile {
		n, err = rf.ReadFrom(sizedReader{io.TeeReader(r, io.MultiWriter(h, extra)), size})
	} else {
		buf := make([]byte, 1<<20)
		n, err = io.CopyBuffer(struct{ io.Writer }{io.MultiWriter(w, h, extra)}, struct{ io.Reader }{r}, buf)
	}
	var sum tree.Hash
	copy(sum[:], h.Sum(nil))
	return n, sum, err
}

// checkScanned verifies that p on r still is what the scan saw (Absent:
// nothing there), so that nothing changed meanwhile is ever overwritten.
func (a *applier) checkScanned(r replica.Replica, p string, want tree.Scanned) error {
	info, err := r.Lstat(p)
	if !want.Entry.Exists() {
		if errors.Is(err, replica.ErrNotExist) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("appeared after the scan: %w", ErrChanged)
		}
		return err
	}
	if errors.Is(err, replica.ErrNotExist) {
		return fmt.Errorf("vanished after the scan: %w", ErrChanged)
	}
	if err != nil {
		return err
	}
	if info.Kind != want.Entry.Kind || (info.Kind != tree.Dir && info.FP != want.FP) {
		return ErrChanged
	}
	return nil
}

// backupArea moves replaced and deleted versions into a side's backup
// area, under one directory per run.
type backupArea struct {
	r     replica.Replica
	stamp string
	dirs  sync.Map // directories known to exist
}

func newBackupArea(r replica.Replica, now time.Time) *backupArea {
	return &backupArea{r: r, stamp: backupStamp(now)}
}

// keep moves p into the backup area; with link, a hard link is made
// instead when the replica can, so p stays in place until it is atomically
// replaced.
func (b *backupArea) keep(p string, link bool) error {
	bp := tree.BackupDir + "/" + b.stamp + "/" + p
	if err := b.mkdirAll(tree.Parent(bp)); err != nil {
		return fmt.Errorf("backup area: %w", err)
	}
	if link && b.r.Link(p, bp) == nil {
		return nil
	}
	// Without a hard link (unsupported, or refused by the filesystem) the
	// version is moved instead: it is kept all the same.
	if err := b.r.Rename(p, bp); err != nil {
		return fmt.Errorf("move to backup: %w", err)
	}
	return nil
}

// mkdirAll creates directory p and its parents.
func (b *backupArea) mkdirAll(p string) error {
	if p == "" {
		return nil
	}
	if _, ok := b.dirs.Load(p); ok {
		return nil
	}
	if err := b.mkdirAll(tree.Parent(p)); err != nil {
		return err
	}
	if err := b.r.Mkdir(p, 0o700); err != nil {
		info, serr := b.r.Lstat(p)
		if serr != nil || info.Kind != tree.Dir {
			return err
		}
	}
	b.dirs.Store(p, true)
	return nil
}
