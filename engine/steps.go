package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/ops"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// do runs one operation; every kind checks that its target still holds
// what the plan expects there (a mkdir, which can replace nothing, only
// when it fails).
func (e *executor) do(k int, op *ops.Op) error {
	r := e.reps[op.Side]
	switch op.Kind {
	case ops.Mkdir:
		// A mkdir replaces nothing: it fails if anything appeared at the
		// path since the scan, and the check then says what (a round
		// trip saved per directory level across a link). Other failures
		// (of the chmod or fsyncs after the mkdir) are reported as such.
		err := r.Mkdir(op.Path, op.Entry.Perm)
		if errors.Is(err, fs.ErrExist) {
			if cerr := replica.Check(r, op.Path, op.Want); cerr != nil {
				return cerr
			}
		}
		return err
	case ops.Stage:
		tmp, err := e.stage(k, op)
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.temps[k] = tmp
		e.mu.Unlock()
		return nil
	case ops.Rename:
		if err := replica.Check(r, op.From, op.Want); err != nil {
			return err
		}
		if err := replica.Check(r, op.Path, tree.Scanned{}); err != nil {
			return err
		}
		return r.Rename(op.From, op.Path)
	case ops.Install:
		e.mu.Lock()
		tmp := e.temps[op.Deps[0]]
		e.mu.Unlock()
		info, _, err := e.backups[op.Side].install(tmp, op.Path, op.Want)
		if err == nil && info.Kind != tree.Absent {
			e.mu.Lock()
			e.installed[k] = info
			e.mu.Unlock()
		}
		return err
	case ops.Chmod:
		if err := replica.Check(r, op.Path, op.Want); err != nil {
			return err
		}
		return r.Chmod(op.Path, op.Entry.Perm)
	case ops.Remove:
		if op.Want.Entry.Kind == tree.Dir {
			return e.removeDir(op)
		}
		if err := replica.Check(r, op.Path, op.Want); err != nil {
			return err
		}
		return e.backups[op.Side].keep(op.Path, false)
	}
	return fmt.Errorf("unknown operation %d", op.Kind)
}

// removeDir removes a directory whose scanned content has been removed. If
// it still holds entries, they must all be ignored or internal ones (then
// the directory goes to the backup area whole); anything else means the
// directory changed since the scan and it stays.
func (e *executor) removeDir(op *ops.Op) error {
	r := e.reps[op.Side]
	if err := replica.Check(r, op.Path, op.Want); err != nil {
		return err
	}
	err := r.Remove(op.Path)
	if err == nil {
		return nil
	}
	infos, lerr := r.ReadDir(op.Path)
	if lerr != nil {
		return err
	}
	for _, in := range infos {
		child := tree.Join(op.Path, in.Name)
		if !tree.Internal(child) && !e.p.ig.Ignored(child, in.Kind == tree.Dir) {
			return fmt.Errorf("not removed, it holds %s: %w", in.Name, ErrChanged)
		}
	}
	return e.backups[op.Side].keepDir(op.Path)
}

// stage writes an op's new content into a temporary next to its target:
// a symlink, a copy of a file the target side already holds with the same
// content, or a transfer from the other side.
func (e *executor) stage(k int, op *ops.Op) (string, error) {
	dst := e.reps[op.Side]
	if op.Src.Entry.Kind == tree.Symlink {
		tmp := tree.Join(tree.Parent(op.Path), replica.TempNameFor(e.p.TempMarker()))
		if err := dst.Symlink(op.Src.Entry.Target, tmp); err != nil {
			return "", err
		}
		return tmp, nil
	}
	if tmp, ok := e.copyOnTarget(op); ok {
		return tmp, nil
	}
	return e.transfer(k, op)
}

// transfer copies the source file into a temporary next to the target and
// verifies it holds exactly the scanned content: by its hash when the scan
// hashed it, otherwise by the source's fingerprint before and after the
// copy (a file rewritten meanwhile is never installed).
func (e *executor) transfer(k int, op *ops.Op) (string, error) {
	src := op.Src.Entry
	if src.Size <= replica.MaxSmall {
		return e.transferSmall(k, op)
	}
	e.large <- struct{}{} // as many large files at once as the pair has workers
	defer func() { <-e.large }()
	from := e.reps[op.Side.Other()]
	if src.Hash.IsZero() {
		if err := replica.Check(from, op.From, op.Src); err != nil {
			return "", fmt.Errorf("source: %w", err)
		}
	}
	rc, err := from.Open(op.From)
	if err != nil {
		if errors.Is(err, replica.ErrNotExist) {
			return "", fmt.Errorf("source vanished: %w", ErrChanged)
		}
		return "", fmt.Errorf("read: %w", err)
	}
	defer rc.Close()
	dst := e.reps[op.Side]
	tmp, w, err := dst.CreateTemp(tree.Parent(op.Path), op.Entry.Perm)
	if err != nil {
		return "", fmt.Errorf("create temporary: %w", err)
	}
	var extra io.Writer = progressWriter(e.opt.Progress)
	var capture *baseCapture
	if e.p.merging() && src.Size <= e.p.mergeLimit() {
		capture = &baseCapture{limit: e.p.mergeLimit()}
		extra = io.MultiWriter(extra, capture)
	}
	n, h, cerr := copyHashed(w, rc, src.Size, extra)
	if err := w.Close(); cerr == nil {
		cerr = err
	}
	if cerr == nil && (n != src.Size || (!src.Hash.IsZero() && h != src.Hash)) {
		cerr = fmt.Errorf("source content differs from the scan: %w", ErrChanged)
	}
	if cerr == nil && src.Hash.IsZero() {
		if err := replica.Check(from, op.From, op.Src); err != nil {
			cerr = fmt.Errorf("source changed during the copy: %w", ErrChanged)
		}
	}
	if cerr == nil {
		cerr = dst.Chtimes(tmp, src.MtimeNs)
	}
	if cerr != nil {
		dst.Remove(tmp)
		return "", cerr
	}
	if capture != nil && !capture.over {
		e.p.keepBase(h, capture.buf.Bytes())
	}
	e.mu.Lock()
	if src.Hash.IsZero() {
		e.learned[k] = h // the scan left it to the copy to hash
	}
	e.res.Bytes += n
	e.mu.Unlock()
	return tmp, nil
}

// transferSmall is transfer for a file of at most replica.MaxSmall bytes:
// read whole (the source's fingerprint checked before and after), checked
// against the scan's hash, and written whole, each in one exchange with a
// replica that can.
func (e *executor) transferSmall(k int, op *ops.Op) (string, error) {
	data, err := e.readSmall(k, op)
	if err != nil {
		return "", err
	}
	dst, dir := e.reps[op.Side], tree.Parent(op.Path)
	var tmp string
	if w, ok := dst.(replica.SmallWriter); ok {
		tmp, err = w.PutTemp(dir, op.Entry.Perm, op.Src.Entry.MtimeNs, data)
	} else {
		tmp, err = replica.PutTempWith(dst, dir, op.Entry.Perm, op.Src.Entry.MtimeNs, data)
	}
	if err != nil {
		return "", fmt.Errorf("write temporary: %w", err)
	}
	e.copied(len(data))
	return tmp, nil
}

// putNew carries out Stage op k and Install op i (see fusable) in one
// exchange: the small source file is read as transferSmall reads it and
// written at i's path, where nothing may be.
func (e *executor) putNew(k, i int, op *ops.Op) error {
	data, err := e.readSmall(k, op)
	if err != nil {
		return err
	}
	info, err := e.reps[op.Side].(replica.NewFileWriter).PutNew(op.Path, op.Entry.Perm, op.Src.Entry.MtimeNs, data)
	if err != nil {
		return err
	}
	e.copied(len(data))
	if info.Kind != tree.Absent {
		e.mu.Lock()
		e.installed[i] = info
		e.mu.Unlock()
	}
	return nil
}

// fusable returns the Install op that only waits for Stage op k, when
// both can run as one putNew: the target replica has such an exchange, the
// source is a small file with no copy of its content on the target side
// (copyOnTarget would copy it there instead), and the install is of a path
// that held nothing, even to a filesystem that ignores case. Such an
// install moves, replaces and removes nothing, so running it in the
// stage's wave, before the renames and the other installs, changes
// nothing any other op reads or expects.
func (e *executor) fusable(k int, op *ops.Op) (int, bool) {
	if op.Kind != ops.Stage || op.Src.Entry.Kind != tree.File || op.Src.Entry.Size > replica.MaxSmall {
		return 0, false
	}
	if _, ok := e.reps[op.Side].(replica.NewFileWriter); !ok {
		return 0, false
	}
	i, ok := e.installOf[k]
	if !ok {
		return 0, false
	}
	inst := &e.plan.Ops[i]
	if inst.Want.Entry.Exists() || inst.Path != op.Path || inst.Side != op.Side {
		return 0, false
	}
	// on a filesystem that ignores case, the path may be one a rename or
	// removal of this run empties first (readme renamed away, README
	// new): that install waits for its turn
	if e.leaving[op.Side][strings.ToLower(op.Path)] {
		return 0, false
	}
	if _, ok := e.contentOn(op.Side, op.Src.Entry); ok {
		if _, copier := e.reps[op.Side].(replica.Copier); copier {
			return 0, false
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state[i] != opPending {
		return 0, false
	}
	for _, d := range inst.Deps {
		if d != k && e.state[d] != opDone {
			return 0, false
		}
	}
	return i, true
}

// readSmall reads the small source file of Stage op k whole, checked
// against the scan, and keeps it as a base for later merges.
func (e *executor) readSmall(k int, op *ops.Op) ([]byte, error) {
	src := op.Src.Entry
	from := e.reps[op.Side.Other()]
	var data []byte
	var err error
	if g, ok := from.(replica.SmallReader); ok {
		data, err = g.Get(op.From, op.Src.FP)
	} else {
		data, err = replica.GetWith(from, op.From, op.Src.FP)
	}
	if err != nil {
		if errors.Is(err, replica.ErrChanged) {
			return nil, fmt.Errorf("source: %w", err)
		}
		return nil, fmt.Errorf("read: %w", err)
	}
	h := tree.Hash(blake3.Sum256(data))
	if !src.Hash.IsZero() && h != src.Hash {
		return nil, fmt.Errorf("source content differs from the scan: %w", ErrChanged)
	}
	e.p.keepBase(h, data)
	if src.Hash.IsZero() {
		e.mu.Lock()
		e.learned[k] = h // the scan left it to the copy to hash
		e.mu.Unlock()
	}
	return data, nil
}

// copied counts n bytes copied between the sides.
func (e *executor) copied(n int) {
	if e.opt.Progress != nil {
		e.opt.Progress(int64(n))
	}
	e.mu.Lock()
	e.res.Bytes += int64(n)
	e.mu.Unlock()
}

// copyOnTarget makes op's temporary by copying a file the target side
// already holds with the same content, when the target replica can copy on
// its own side. The copy's source is checked against the scan before and
// after, so a file changed meanwhile is never used.
func (e *executor) copyOnTarget(op *ops.Op) (string, bool) {
	dst := e.reps[op.Side]
	c, ok := dst.(replica.Copier)
	if !ok {
		return "", false
	}
	src, ok := e.contentOn(op.Side, op.Src.Entry)
	if !ok {
		return "", false
	}
	if replica.Check(dst, src.Path, src) != nil {
		return "", false
	}
	tmp, err := c.CopyTemp(src.Path, tree.Parent(op.Path), op.Entry.Perm)
	if err != nil {
		return "", false
	}
	if replica.Check(dst, src.Path, src) != nil || dst.Chtimes(tmp, op.Src.Entry.MtimeNs) != nil {
		dst.Remove(tmp)
		return "", false
	}
	e.mu.Lock()
	e.res.Copied++
	e.mu.Unlock()
	return tmp, true
}

// contentOn finds a file on side s, as scanned, with the content of want.
func (e *executor) contentOn(s Side, want tree.Entry) (tree.Scanned, bool) {
	if want.Hash.IsZero() {
		return tree.Scanned{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	idx := e.content[s]
	if idx == nil {
		idx = map[tree.Hash]tree.Scanned{}
		for _, r := range e.plan.Rows {
			sc := r.On(s)
			if sc.Entry.Kind == tree.File && sc.Entry.Size > 0 && !sc.Entry.Hash.IsZero() {
				if _, dup := idx[sc.Entry.Hash]; !dup {
					idx[sc.Entry.Hash] = sc
				}
			}
		}
		e.content[s] = idx
	}
	sc, ok := idx[want.Hash]
	return sc, ok && sc.Entry.Size == want.Size
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

// copyBufs holds copyHashed's buffers, used again from file to file.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

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
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		n, err = io.CopyBuffer(struct{ io.Writer }{io.MultiWriter(w, h, extra)}, struct{ io.Reader }{r}, *buf)
	}
	var sum tree.Hash
	copy(sum[:], h.Sum(nil))
	return n, sum, err
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
	bp, err := b.prepare(p)
	if err != nil {
		return err
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

// install renames the temporary tmp onto p if p still holds want (see
// replica.InstallWith), the version it replaces going into the backup
// area; it returns what p became, when the replica says, and where that
// version went ("" when p held nothing).
func (b *backupArea) install(tmp, p string, want tree.Scanned) (replica.Info, string, error) {
	backup := ""
	if want.Entry.Exists() {
		var err error
		if backup, err = b.prepare(p); err != nil {
			return replica.Info{}, "", err
		}
	}
	var info replica.Info
	var err error
	if in, ok := b.r.(replica.Installer); ok {
		info, err = in.Install(tmp, p, want, backup)
	} else {
		info, err = replica.InstallWith(b.r, tmp, p, want, backup)
	}
	return info, backup, err
}

// prepare returns where p's version goes in the backup area, having made
// the directories it needs.
func (b *backupArea) prepare(p string) (string, error) {
	bp := b.where(p)
	if err := b.mkdirAll(tree.Parent(bp)); err != nil {
		return "", fmt.Errorf("backup area: %w", err)
	}
	return bp, nil
}

// keepDir moves directory p into the backup area. Where the backup area
// already holds a directory of that name (the entries under p that were
// removed one by one this run went there), what p still holds joins it,
// one entry at a time.
func (b *backupArea) keepDir(p string) error {
	err := b.keep(p, false)
	if err == nil {
		return nil
	}
	infos, lerr := b.r.ReadDir(p)
	if lerr != nil {
		return err
	}
	for _, in := range infos {
		child := tree.Join(p, in.Name)
		if in.Kind == tree.Dir {
			err = b.keepDir(child)
		} else {
			err = b.keep(child, false)
		}
		if err != nil {
			return err
		}
	}
	return b.r.Remove(p)
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
