package engine

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// This file reads the backup areas: the versions a path had before a run
// replaced or deleted it (see backupArea), listed by Backups and put back
// by Restore. Both go through the replicas, so a remote backup area is
// read beneath the remote root without following any symlink, as the
// trees are.

// Origin says what set a version aside, as its stamp directory records it.
type Origin string

const (
	FromRun     Origin = "sync"    // a sync or a commit replaced or deleted it
	FromView    Origin = "view"    // a gesture in a mount's view moved it aside
	FromRestore Origin = "restore" // a restore put another version in its place
)

// Backup is one version a side's backup area holds.
type Backup struct {
	Side    Side
	Path    string    // the path it was a version of
	Stored  string    // where it lies on its side: .myrrorfs-backup/STAMP/PATH
	Time    time.Time // when the run (or gesture) that kept it began, to the second
	Origin  Origin
	Kind    tree.Kind
	Perm    uint32
	Size    int64 // a file's size; a directory's: the bytes of the files under it
	Files   int   // a directory: how many files lie under it
	MtimeNs int64
	Target  string // a symlink's target
}

// stampLayout is the time at the start of a stamp (UTC, to the second).
const stampLayout = "20060102-150405"

// taggedStamp names the directory of the versions a gesture or a restore
// sets aside: as a run's (see backupStamp), with the origin after the time.
func taggedStamp(t time.Time, o Origin) string {
	return t.UTC().Format(stampLayout) + "-" + string(o) + "-" + randomHex()[:6]
}

// newTaggedArea is a backup area for what o sets aside.
func newTaggedArea(r replica.Replica, now time.Time, o Origin) *backupArea {
	return &backupArea{r: r, stamp: taggedStamp(now, o)}
}

// where is where p's version goes in the backup area.
func (b *backupArea) where(p string) string {
	return tree.BackupDir + "/" + b.stamp + "/" + p
}

// parseStamp reads a stamp directory's name; ok is false for any other
// name (which the backup area may hold: it is then never touched).
func parseStamp(name string) (t time.Time, o Origin, ok bool) {
	if len(name) < len(stampLayout)+2 || name[len(stampLayout)] != '-' {
		return time.Time{}, "", false
	}
	t, err := time.ParseInLocation(stampLayout, name[:len(stampLayout)], time.UTC)
	if err != nil {
		return time.Time{}, "", false
	}
	o = FromRun
	rest := name[len(stampLayout)+1:]
	for _, tagged := range []Origin{FromView, FromRestore} {
		if strings.HasPrefix(rest, string(tagged)+"-") {
			o = tagged
		}
	}
	return t, o, true
}

// stampDirs lists the stamp directories of r's backup area, with their
// times and origins; a missing backup area holds none.
func stampDirs(r replica.Replica) ([]Backup, error) {
	infos, err := r.ReadDir(tree.BackupDir)
	if errors.Is(err, replica.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup area: %w", err)
	}
	var out []Backup
	for _, in := range infos {
		t, o, ok := parseStamp(in.Name)
		if ok && in.Kind == tree.Dir {
			out = append(out, Backup{Stored: tree.BackupDir + "/" + in.Name, Time: t, Origin: o})
		}
	}
	return out, nil
}

// backupLookups bounds the lookups of a path in stamp directories made at
// once (one round trip each on a remote).
const backupLookups = 16

// Backups lists the versions of path held in both sides' backup areas,
// newest first (local before remote at the same second). A directory's
// Size and Files count what lies under it.
func (p *Pair) Backups(path string) ([]Backup, error) {
	if path == "" || tree.ValidPath(path) != nil || tree.Internal(path) {
		return nil, fmt.Errorf("%s: not a path of the tree", QuotePath(path))
	}
	var out []Backup
	for s, r := range [2]replica.Replica{p.Local, p.remote()} {
		stamps, err := stampDirs(r)
		if err != nil {
			return nil, fmt.Errorf("%s side: %w", Side(s), err)
		}
		found := make([]*Backup, len(stamps))
		errs := make([]error, len(stamps))
		sem := make(chan struct{}, backupLookups)
		var wg sync.WaitGroup
		for i := range stamps {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				b := stamps[i]
				b.Side, b.Path, b.Stored = Side(s), path, b.Stored+"/"+path
				ok, err := describeBackup(r, &b)
				if ok {
					found[i] = &b
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("%s side: %w", Side(s), err)
		}
		for _, b := range found {
			if b != nil {
				out = append(out, *b)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		if out[i].Side != out[j].Side {
			return out[i].Side < out[j].Side
		}
		return out[i].Stored > out[j].Stored
	})
	return out, nil
}

// describeBackup fills in what b.Stored holds on r; ok is false when it
// holds nothing there.
func describeBackup(r replica.Replica, b *Backup) (ok bool, err error) {
	info, err := r.Lstat(b.Stored)
	if errors.Is(err, replica.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b.Kind, b.Perm, b.Size, b.MtimeNs = info.Kind, info.Perm, info.Size, info.MtimeNs
	switch info.Kind {
	case tree.Symlink:
		b.Target, err = r.Readlink(b.Stored)
	case tree.Dir:
		b.Size, b.Files, err = du(r, b.Stored)
	case tree.Absent:
		return false, nil // a socket, a fifo: never kept by myrrorfs
	}
	return err == nil, err
}

// du counts the bytes and the files under directory dir of r.
func du(r replica.Replica, dir string) (bytes int64, files int, err error) {
	infos, err := r.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, in := range infos {
		switch in.Kind {
		case tree.Dir:
			b, f, err := du(r, tree.Join(dir, in.Name))
			if err != nil {
				return 0, 0, err
			}
			bytes, files = bytes+b, files+f
		case tree.File:
			bytes, files = bytes+in.Size, files+1
		}
	}
	return bytes, files, nil
}

// Restored says what Restore did.
type Restored struct {
	// Kept is where the version LOCAL held at the path went, in LOCAL's
	// backup area ("" when there was none).
	Kept string
	// Same: LOCAL held this very version already (same content, type and
	// permission bits); nothing was done.
	Same bool
}

// Restore puts version b back at b.Path in LOCAL, whichever side's backup
// area holds it: a file is copied into a temporary next to the path, given
// its permission bits and mtime, and renamed into place; a symlink is made
// under a temporary name and renamed into place; a directory is made anew
// and filled the same way. What LOCAL held at the path goes to LOCAL's
// backup area first (a file by a hard link, then replaced atomically), so
// nothing is lost, and parent directories missing in LOCAL are made. The
// version itself stays in its backup area. The base is left alone: the
// next sync or commit carries the restored version to the remote as a
// local change (or shows a conflict if the remote changed meanwhile).
func (p *Pair) Restore(b Backup) (Restored, error) {
	if err := p.checkBackup(b); err != nil {
		return Restored{}, err
	}
	src := p.Local
	if b.Side == RemoteSide {
		src = p.remote()
	}
	info, err := src.Lstat(b.Stored)
	if errors.Is(err, replica.ErrNotExist) {
		return Restored{}, fmt.Errorf("%s side: %s is no longer in the backup area", b.Side, QuotePath(b.Stored))
	}
	if err != nil {
		return Restored{}, err
	}
	if info.Kind != b.Kind || info.Kind == tree.Absent {
		return Restored{}, fmt.Errorf("%s side: %s changed since it was listed", b.Side, QuotePath(b.Stored))
	}
	if err := p.makeParents(b.Path); err != nil {
		return Restored{}, err
	}
	cur, err := p.Local.Lstat(b.Path)
	if err != nil && !errors.Is(err, replica.ErrNotExist) {
		return Restored{}, err
	}
	curEntry := tree.Scanned{Entry: tree.Entry{Kind: cur.Kind}, FP: cur.FP}
	if err != nil {
		curEntry = tree.Scanned{} // nothing there
	}
	area := newTaggedArea(p.Local, time.Now(), FromRestore)
	var res Restored
	if info.Kind == tree.Dir {
		if curEntry.Entry.Exists() {
			if err := area.keep(b.Path, false); err != nil {
				return Restored{}, err
			}
			res.Kept = area.where(b.Path)
		}
		return res, p.restoreDir(src, b.Stored, b.Path, info.Perm)
	}
	tmp, err := p.stageVersion(src, b.Stored, info, tree.Parent(b.Path))
	if err != nil {
		return Restored{}, err
	}
	if same, err := p.sameAsStaged(tmp, b.Path, cur, info); err != nil || same {
		p.Local.Remove(tmp)
		return Restored{Same: same}, err
	}
	_, backup, err := area.install(tmp, b.Path, curEntry)
	if err != nil {
		p.Local.Remove(tmp)
		if errors.Is(err, replica.ErrChanged) {
			return Restored{}, fmt.Errorf("%s changed in LOCAL meanwhile; nothing was restored: %w", QuotePath(b.Path), err)
		}
		return Restored{}, err
	}
	res.Kept = backup
	return res, nil
}

// checkBackup makes sure b names a version in a backup area: a path under
// a stamp directory, which is the path it stands for.
func (p *Pair) checkBackup(b Backup) error {
	bad := fmt.Errorf("%s: not a version in a backup area", QuotePath(b.Stored))
	if b.Path == "" || tree.ValidPath(b.Path) != nil || tree.Internal(b.Path) || tree.ValidPath(b.Stored) != nil {
		return bad
	}
	rest, ok := strings.CutPrefix(b.Stored, tree.BackupDir+"/")
	if !ok {
		return bad
	}
	stamp, path, ok := strings.Cut(rest, "/")
	if _, _, isStamp := parseStamp(stamp); !ok || !isStamp || path != b.Path {
		return bad
	}
	if b.Side != LocalSide && b.Side != RemoteSide {
		return bad
	}
	return nil
}

// makeParents makes the parent directories of path missing in LOCAL.
func (p *Pair) makeParents(path string) error {
	dir := tree.Parent(path)
	if dir == "" {
		return nil
	}
	info, err := p.Local.Lstat(dir)
	switch {
	case err == nil && info.Kind == tree.Dir:
		return nil
	case err == nil:
		return fmt.Errorf("%s is a %s in LOCAL, not a directory: move it away to restore %s", QuotePath(dir), info.Kind, QuotePath(path))
	case !errors.Is(err, replica.ErrNotExist):
		return err
	}
	if err := p.makeParents(dir); err != nil {
		return err
	}
	if err := p.Local.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", QuotePath(dir), err)
	}
	return nil
}

// stageVersion copies file or symlink stored on src (as info describes it)
// into a new temporary of LOCAL in dir, with its permission bits and
// mtime, and returns the temporary's path. A file that changes while it
// is copied is not staged.
func (p *Pair) stageVersion(src replica.Replica, stored string, info replica.Info, dir string) (string, error) {
	if info.Kind == tree.Symlink {
		target, err := src.Readlink(stored)
		if err != nil {
			return "", err
		}
		tmp := tree.Join(dir, replica.TempNameFor(p.TempMarker()))
		if err := p.Local.Symlink(target, tmp); err != nil {
			return "", fmt.Errorf("make a temporary in LOCAL: %w", err)
		}
		return tmp, nil
	}
	rc, err := src.Open(stored)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tmp, w, err := p.Local.CreateTemp(dir, info.Perm)
	if err != nil {
		return "", fmt.Errorf("make a temporary in LOCAL: %w", err)
	}
	n, _, err := copyHashed(w, rc, info.Size, nil)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != info.Size {
		err = fmt.Errorf("%s: %d bytes read, %d listed: %w", QuotePath(stored), n, info.Size, ErrChanged)
	}
	if err == nil {
		err = replica.Check(src, stored, tree.Scanned{Entry: tree.Entry{Kind: tree.File}, FP: info.FP})
	}
	if err == nil {
		err = p.Local.Chtimes(tmp, info.MtimeNs)
	}
	if err != nil {
		p.Local.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// sameAsStaged reports whether LOCAL's cur at path holds what the staged
// temporary tmp does (same type, permission bits and content).
func (p *Pair) sameAsStaged(tmp, path string, cur, version replica.Info) (bool, error) {
	if cur.Kind != version.Kind || cur.Perm != version.Perm {
		return false, nil
	}
	switch cur.Kind {
	case tree.Symlink:
		a, err1 := p.Local.Readlink(tmp)
		b, err2 := p.Local.Readlink(path)
		return err1 == nil && err2 == nil && a == b, nil
	case tree.File:
		if cur.Size != version.Size {
			return false, nil
		}
		a, _, err := replica.HashFile(p.Local, tmp)
		if err != nil {
			return false, err
		}
		b, _, err := replica.HashFile(p.Local, path)
		return err == nil && a == b, nil
	}
	return false, nil
}

// restoreDir makes directory path in LOCAL (where nothing is now) with
// what directory stored holds on src, entry by entry.
func (p *Pair) restoreDir(src replica.Replica, stored, path string, perm uint32) error {
	if err := p.Local.Mkdir(path, 0o700); err != nil { // perm once filled
		return fmt.Errorf("make %s: %w", QuotePath(path), err)
	}
	infos, err := src.ReadDir(stored)
	if err != nil {
		return err
	}
	for _, in := range infos {
		from, to := tree.Join(stored, in.Name), tree.Join(path, in.Name)
		switch in.Kind {
		case tree.Dir:
			err = p.restoreDir(src, from, to, in.Perm)
		case tree.File, tree.Symlink:
			var tmp string
			if tmp, err = p.stageVersion(src, from, in, path); err == nil {
				if err = p.Local.Rename(tmp, to); err != nil {
					p.Local.Remove(tmp)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", QuotePath(to), err)
		}
	}
	return p.Local.Chmod(path, perm)
}
