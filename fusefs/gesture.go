package fusefs

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// This file turns changes made in the view into local operations and, where
// they concern a version only the remote holds, moves of that path's base
// to the version the user saw. Ordinary reconciliation then yields what the
// user did.

// gesture runs fn with the gesture lock held and, when fn changed a base or
// the local tree behind an overlay, reloads the model.
func (v *View) gesture(fn func() (reload bool, errno syscall.Errno)) syscall.Errno {
	v.gmu.Lock()
	defer v.gmu.Unlock()
	reload, errno := fn()
	if reload {
		if e := v.reload(); errno == 0 {
			errno = e
		}
	}
	return errno
}

// need is a remote version a gesture downloads.
type need struct {
	path string
	e    tree.Entry
}

// fetched is a remote version in the local cache.
type fetched struct {
	e     tree.Entry
	cache string
}

// fetchTries bounds how often a gesture fetches again because the remote
// versions it needs changed while it fetched.
const fetchTries = 3

// gestureFetching is gesture for changes that download remote versions:
// the versions needs lists for the current model are fetched first,
// without the gesture lock, so that a remote that is slow or hangs never
// holds up other gestures. Under the lock, fn runs only if the model still
// needs nothing but what was fetched (download takes it from v.fetched,
// and never fetches itself); if the model moved on meanwhile (a rescan
// saw the remote change, which may also fail the fetch), the new versions
// are fetched and fn tried again, and after fetchTries attempts the
// gesture fails with EAGAIN, having changed nothing.
func (v *View) gestureFetching(needs func(m *model) []need, fn func() (bool, syscall.Errno)) syscall.Errno {
	got := map[string]fetched{}
	for try := 0; try < fetchTries; try++ {
		for _, nd := range needs(v.model()) {
			if f, ok := got[nd.path]; ok && f.e == nd.e {
				continue
			}
			cache, err := v.b.Fetch(nd.path, nd.e)
			if err != nil {
				if stillNeeded(needs(v.model()), nd) {
					return errnoOf(err)
				}
				break // the remote changed and the model with it: again
			}
			got[nd.path] = fetched{nd.e, cache}
		}
		stale := false
		errno := v.gesture(func() (bool, syscall.Errno) {
			for _, nd := range needs(v.model()) {
				if f, ok := got[nd.path]; !ok || f.e != nd.e {
					stale = true
					return false, syscall.EAGAIN
				}
			}
			v.fetched = got
			defer func() { v.fetched = nil }()
			return fn()
		})
		if !stale {
			return errno
		}
	}
	return syscall.EAGAIN
}

func stillNeeded(ns []need, nd need) bool {
	for _, n := range ns {
		if n == nd {
			return true
		}
	}
	return false
}

// cached returns the local cache of remote version e of path, fetched
// before the gesture took the lock (see gestureFetching).
func (v *View) cached(path string, e tree.Entry) (string, error) {
	f, ok := v.fetched[path]
	if !ok || f.e != e {
		return "", syscall.EAGAIN // not fetched: never fetch under the lock
	}
	return f.cache, nil
}

// remoteFiles lists the remote files of the subtree at p as the model
// shows it (what downloadTree downloads).
func (m *model) remoteFiles(p string) []need {
	var ns []need
	var walk func(p string)
	walk = func(p string) {
		e := m.remote[p]
		switch e.Kind {
		case tree.File:
			ns = append(ns, need{p, e})
		case tree.Dir:
			for _, name := range m.rkids[p] {
				walk(tree.Join(p, name))
			}
		}
	}
	walk(p)
	return ns
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return en
	}
	if errors.Is(err, os.ErrNotExist) {
		return syscall.ENOENT
	}
	return syscall.EIO
}

// prepareNew makes the view ready for a new entry at view path vp: its
// parent must be a local directory (a remote-only directory is made
// locally first), and a local entry the view hides (deleted on the remote)
// is moved to the backup area with its base cleared. It returns the local
// tree path for the new entry.
func (v *View) prepareNew(vp string) (string, bool, syscall.Errno) {
	if real, ok, errno := v.reuseSibling(vp); ok {
		return real, true, errno
	}
	m := v.model()
	pt, ok := m.resolve(tree.Parent(vp))
	if !ok {
		return "", false, syscall.ENOENT
	}
	name := tree.Base(vp)
	if pt.side == remote {
		if pt.under {
			return "", false, syscall.EROFS
		}
		if errno := v.materializeDirs(m, pt.real); errno != 0 {
			return "", true, errno
		}
	}
	real := tree.Join(pt.real, name)
	if hiddenName(real) && !pt.under {
		return "", false, syscall.EPERM
	}
	if pt.under {
		if m.goneLocal[real] {
			// a version hidden by a removal inside p.local: the new entry
			// must not replace it unseen, so it goes to the backup area
			if err := v.b.BackupLocal(real); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", false, errnoOf(err)
			}
			v.unhide(real)
		}
		return real, pt.side == remote, 0
	}
	if _, isSib := m.sib[pt.real+"\x00"+name]; isSib {
		return "", false, syscall.EEXIST
	}
	if o := m.ov[real]; o != nil {
		switch o.kind {
		case ovRemote:
			return "", false, syscall.EEXIST
		case ovConflict:
			if _, err := v.lt.Lstat(real); err == nil {
				return "", false, syscall.EEXIST
			}
		case ovHidden:
			if err := v.b.BackupLocal(real); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", false, errnoOf(err)
			}
			if err := v.setBase(real, tree.Entry{}); err != nil {
				return "", true, syscall.EIO
			}
			return real, true, 0
		}
	}
	return real, pt.side == remote, 0
}

// materializeDirs makes the remote-only directories down to real exist
// locally, each with the remote version as its base.
func (v *View) materializeDirs(m *model, real string) syscall.Errno {
	if real == "" {
		return 0
	}
	if errno := v.materializeDirs(m, tree.Parent(real)); errno != 0 {
		return errno
	}
	if o := m.ov[real]; o != nil && o.kind == ovRemote {
		return v.copyUp(real, o.d.Remote)
	}
	return 0
}

// copyUpFor makes a remote-backed entry local before it is changed.
func (v *View) copyUpFor(t target) syscall.Errno {
	if t.under || t.sib != nil || t.glow != nil {
		return syscall.EROFS // write to p.remote in place: rename it to keep it
	}
	needs := func(m *model) []need {
		if o := m.ov[t.real]; o != nil && o.kind == ovRemote && o.d.Remote.Kind == tree.File {
			return []need{{t.real, o.d.Remote}}
		}
		return nil
	}
	return v.gestureFetching(needs, func() (bool, syscall.Errno) {
		m := v.model()
		o := m.ov[t.real]
		if o == nil || o.kind != ovRemote {
			return false, 0 // already local
		}
		if errno := v.materializeDirs(m, tree.Parent(t.real)); errno != 0 {
			return true, errno
		}
		return true, v.copyUp(t.real, o.d.Remote)
	})
}

// tempName returns a fresh temporary name next to real.
func tempName(real string) string {
	return tree.Join(tree.Parent(real), replica.TempName())
}

// copyUp makes the local tree hold remote version e at real (the local
// entry it replaces goes to the backup area) and moves the base there.
func (v *View) copyUp(real string, e tree.Entry) syscall.Errno {
	if err := v.download(real, real, e); err != nil {
		return errnoOf(err)
	}
	if err := v.setBase(real, e); err != nil {
		return syscall.EIO
	}
	return 0
}

// download writes remote version e (of remote path from) at local path to,
// through a temporary renamed into place. An existing local entry of
// another kind, or a file, is kept in the backup area first.
func (v *View) download(from, to string, e tree.Entry) error {
	cur, err := v.lt.Lstat(to)
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if exists && e.Kind == tree.Dir && cur.Kind == tree.Dir {
		return nil
	}
	var tmp string
	switch e.Kind {
	case tree.Dir:
		tmp = tempName(to)
		if err := v.lt.Mkdir(tmp, e.Perm&0o7777); err != nil {
			return err
		}
	case tree.Symlink:
		tmp = tempName(to)
		if err := v.lt.Symlink(e.Target, tmp); err != nil {
			return err
		}
	default:
		cache, err := v.cached(from, e)
		if err != nil {
			return err
		}
		if tmp, err = v.copyIn(cache, tree.Parent(to), e); err != nil {
			return err
		}
	}
	if exists {
		if err := v.b.BackupLocal(to); err != nil {
			v.lt.Remove(tmp)
			return err
		}
	}
	if err := v.lt.Rename(tmp, to); err != nil {
		v.lt.Remove(tmp)
		return err
	}
	return nil
}

// copyIn copies a cached remote version (a file in the state directory,
// outside the tree) to a new temporary in local directory dir, with e's
// mode and mtime, and returns the temporary's path.
func (v *View) copyIn(cache, dir string, e tree.Entry) (string, error) {
	in, err := os.Open(cache)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, w, err := v.lt.CreateTemp(dir, e.Perm&0o7777)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(w, in)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = v.lt.Chtimes(tmp, e.MtimeNs)
	}
	if err != nil {
		v.lt.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// downloadTree copies the remote subtree at from (as the model shows it) to
// local path to.
func (v *View) downloadTree(m *model, from, to string) error {
	e := m.remote[from]
	if err := v.download(from, to, e); err != nil {
		return err
	}
	if e.Kind != tree.Dir {
		return nil
	}
	for _, name := range m.rkids[from] {
		if err := v.downloadTree(m, tree.Join(from, name), tree.Join(to, name)); err != nil {
			return err
		}
	}
	return nil
}

// setBase moves one base.
func (v *View) setBase(p string, e tree.Entry) error {
	return v.b.SetBases([]BaseChange{{Path: p, Entry: e}})
}

// setBaseTree moves the bases of a remote subtree to what the model shows.
func (v *View) setBaseTree(m *model, p string) error {
	var cs []BaseChange
	var walk func(p string)
	walk = func(p string) {
		cs = append(cs, BaseChange{Path: p, Entry: m.remote[p]})
		for _, name := range m.rkids[p] {
			walk(tree.Join(p, name))
		}
	}
	walk(p)
	return v.b.SetBases(cs)
}

// newLocal makes the inode for view entry name, just created at local path
// real (a conflict sibling again, when it took a sibling's place).
func (n *node) newLocal(ctx context.Context, name, real string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var st syscall.Stat_t
	gen, err := n.v.lstat(real, &st)
	if err != nil {
		return nil, errnoOf(err)
	}
	t, ok := n.v.model().resolve(n.child(name))
	if !ok || t.side != local || t.real != real {
		t = target{side: local, real: real}
	}
	return n.newChild(ctx, t, &st, gen, out), 0
}

// creating runs a creation of view entry name under n.
func (n *node) creating(name string, make func(real string) error) (string, syscall.Errno) {
	var real string
	errno := n.v.gesture(n.v.owning([]string{n.child(name)}, func() (bool, syscall.Errno) {
		r, reload, errno := n.v.prepareNew(n.child(name))
		if errno != 0 {
			return reload, errno
		}
		real = r
		return reload, errnoOf(make(r))
	}))
	return real, errno
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if _, ok := n.v.echoing(ctx); ok {
		return nil, nil, 0, syscall.EPERM
	}
	flags &^= syscall.O_APPEND
	var f *os.File
	real, errno := n.creating(name, func(real string) error {
		var err error
		f, err = n.v.createLocal(ctx, real, int(flags), mode)
		return err
	})
	if errno != 0 {
		if f != nil {
			f.Close() // made, but the reload after it failed
		}
		return nil, nil, 0, errno
	}
	in, errno := n.newLocal(ctx, name, real, out)
	if errno != 0 {
		f.Close()
		return nil, nil, 0, errno
	}
	// the handle owns f from here on: it closes it at release
	return in, in.Operations().(*node).passthroughFile(f), 0, 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e, ok := n.v.echoing(ctx); ok {
		return n.echoMake(ctx, e, name, out)
	}
	real, errno := n.creating(name, func(real string) error {
		if err := n.v.lt.Mkdir(real, mode&0o7777); err != nil {
			return err
		}
		return n.v.settleAt(ctx, real, mode)
	})
	if errno != 0 {
		return nil, errno
	}
	return n.newLocal(ctx, name, real, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e, ok := n.v.echoing(ctx); ok {
		return n.echoMake(ctx, e, name, out)
	}
	real, errno := n.creating(name, func(real string) error {
		return n.v.lt.At("mknod", real, func(dirfd int, name string) error {
			if err := unix.Mknodat(dirfd, name, mode, int(dev)); err != nil {
				return err
			}
			return settleNew(ctx, dirfd, name, -1, mode)
		})
	})
	if errno != 0 {
		return nil, errno
	}
	return n.newLocal(ctx, name, real, out)
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e, ok := n.v.echoing(ctx); ok {
		return n.echoMake(ctx, e, name, out)
	}
	real, errno := n.creating(name, func(real string) error {
		if err := n.v.lt.Symlink(target, real); err != nil {
			return err
		}
		return n.v.settleAt(ctx, real, 0)
	})
	if errno != 0 {
		return nil, errno
	}
	return n.newLocal(ctx, name, real, out)
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	tn, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	t, ok := n.v.model().resolve(tn.vpath())
	if !ok {
		return nil, syscall.ENOENT
	}
	if t.glow != nil || t.side == remote && (t.sib != nil || t.under) {
		return nil, syscall.EXDEV // a conflict's remote version stays as it is
	}
	if t.side == remote {
		// a version only the remote holds: made local first, as a write
		// would, then linked
		if errno := n.v.copyUpFor(t); errno != 0 {
			return nil, errno
		}
		if t, ok = n.v.model().resolve(tn.vpath()); !ok || t.side != local {
			return nil, syscall.EXDEV
		}
	}
	real, errno := n.creating(name, func(real string) error {
		return n.v.lt.Link(t.real, real)
	})
	if errno != 0 {
		return nil, errno
	}
	return n.newLocal(ctx, name, real, out)
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if e, ok := n.v.echoing(ctx); ok {
		return n.echoRemove(e, name)
	}
	return n.remove(name, false)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	if e, ok := n.v.echoing(ctx); ok {
		return n.echoRemove(e, name)
	}
	return n.remove(name, true)
}

// rmdirLocal removes a local directory the view shows empty: entries of it
// that the view hides (deleted on the remote) go to the backup area first,
// their bases cleared.
func (v *View) rmdirLocal(real string) error {
	err := v.lt.Remove(real)
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return err
	}
	m := v.model()
	for _, name := range v.localNames(real) {
		c := tree.Join(real, name)
		if o := m.ov[c]; o != nil && o.kind == ovHidden {
			if err := v.b.BackupLocal(c); err != nil {
				return err
			}
			if err := v.setBase(c, tree.Entry{}); err != nil {
				return err
			}
		}
	}
	return v.lt.Remove(real)
}

// remove handles unlink and rmdir: local entries are removed; removing a
// version only the remote holds moves the base to it (and removes the local
// entry it would replace), so that commit deletes it on the remote. Inside
// a conflict sibling nothing is removed at once: the entry is hidden, and
// the sibling's own removal or rename decides (see the design's gesture
// table). rmdir of a directory the view shows entries in fails, whatever
// the local tree holds.
func (n *node) remove(name string, dir bool) syscall.Errno {
	vp := n.child(name)
	return n.v.gesture(n.v.owning([]string{vp}, func() (bool, syscall.Errno) {
		m := n.v.model()
		t, ok := m.resolve(vp)
		if !ok {
			return false, syscall.ENOENT
		}
		if errno := n.v.checkRemove(m, t, dir); errno != 0 {
			return false, errno
		}
		switch {
		case t.merged != nil:
			// rm p.merged: only the merge goes; the conflict stays
			return true, errnoOf(n.v.dismissMerged(t.merged))
		case t.glow != nil:
			// the other sibling of a conflict resolved just before by
			// removing one, while its merge showed: the merge stands
			return true, n.v.takeGlow(t.glow)
		case t.sib != nil:
			// rm p.remote keeps the local version, rm p.local the remote
			// one, over the conflict's whole subtree
			errno := errnoOf(n.v.b.SetBases(t.sib.subtreeBases(t.side.Other())))
			if errno == 0 {
				n.v.glowOther(t)
			}
			return true, errno
		case t.under:
			// inside p.remote or p.local: hidden until the sibling itself
			// goes; the local tree keeps the version meanwhile
			n.v.hide(t)
			return false, 0
		case t.side == remote:
			if _, err := n.v.lt.Lstat(t.real); err == nil {
				if err := n.v.b.BackupLocal(t.real); err != nil {
					return true, errnoOf(err)
				}
			}
			return true, errnoOf(n.v.setBase(t.real, m.remote[t.real]))
		}
		if dir {
			return false, errnoOf(n.v.rmdirLocal(t.real))
		}
		return false, errnoOf(n.v.lt.Remove(t.real))
	}))
}

// checkRemove refuses unlink of a directory, rmdir of anything else, and
// rmdir of a directory in which the view shows entries.
func (v *View) checkRemove(m *model, t target, dir bool) syscall.Errno {
	var isDir bool
	if t.side == remote {
		isDir = m.remote[t.real].Kind == tree.Dir
	} else {
		var st syscall.Stat_t
		if _, err := v.lstat(t.real, &st); err != nil {
			return errnoOf(err)
		}
		isDir = st.Mode&syscall.S_IFMT == syscall.S_IFDIR
	}
	switch {
	case dir && !isDir:
		return syscall.ENOTDIR
	case !dir && isDir:
		return syscall.EISDIR
	case !dir:
		return 0
	}
	kids, err := v.children(m, t)
	if err != nil {
		return errnoOf(err)
	}
	if len(kids) > 0 {
		return syscall.ENOTEMPTY
	}
	return 0
}

// hide stops showing t, an entry inside a conflict sibling. The model is
// copied, not changed in place: requests may be reading it.
func (v *View) hide(t target) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := *v.m
	if t.side == remote {
		m.gone = cloneSet(m.gone)
		m.gone[t.real] = true
	} else {
		m.goneLocal = cloneSet(m.goneLocal)
		m.goneLocal[t.real] = true
	}
	v.m = &m
}

// unhide shows local path p and everything under it again (once the
// versions hidden there went to the backup area).
func (v *View) unhide(p string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := *v.m
	m.goneLocal = cloneSet(m.goneLocal)
	for g := range m.goneLocal {
		if g == p || tree.IsUnder(g, p) {
			delete(m.goneLocal, g)
		}
	}
	v.m = &m
}

// backupHidden moves the versions hidden inside local path p (removed in
// the view inside p.local) to the backup area, before p is kept.
func (v *View) backupHidden(m *model, p string) error {
	for _, g := range m.goneUnder(p) {
		if err := v.b.BackupLocal(g); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func cloneSet(s map[string]bool) map[string]bool {
	c := make(map[string]bool, len(s)+1)
	for k := range s {
		c[k] = true
	}
	return c
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if _, ok := n.v.echoing(ctx); ok {
		// a touch that tells watchers of new content: nothing changes
		return n.Getattr(ctx, nil, out)
	}
	t, ok := n.v.model().resolve(n.vpath())
	if !ok {
		return syscall.ENOENT
	}
	if t.glow != nil {
		return syscall.EROFS
	}
	if t.side == remote {
		if errno := n.v.copyUpFor(t); errno != 0 {
			return errno
		}
		f = nil // the handle, if any, reads the cached remote version
	}
	if fsa, ok := f.(fs.FileSetattrer); ok && f != nil {
		if errno := fsa.Setattr(ctx, in, out); errno != 0 {
			return errno
		}
		return n.Getattr(ctx, nil, out)
	}
	if mode, ok := in.GetMode(); ok {
		var err error
		if t.real == "" {
			// the root, which the replica never changes
			err = n.v.lt.At("chmod", "", func(dirfd int, name string) error {
				return unix.Fchmodat(dirfd, name, mode&0o7777, 0)
			})
		} else {
			err = n.v.lt.Chmod(t.real, mode&0o7777)
		}
		if err != nil {
			return errnoOf(err)
		}
	}
	if err := n.v.lt.At("setattr", t.real, func(dirfd int, name string) error {
		if errno := setattrAt(dirfd, name, in); errno != 0 {
			return errno
		}
		return nil
	}); err != nil {
		return errnoOf(err)
	}
	return n.Getattr(ctx, nil, out)
}

// setattrAt applies a SETATTR request but its mode to entry name of
// directory dirfd, never following a symlink there: truncate acts on a
// descriptor opened without following one.
func setattrAt(dirfd int, name string, in *fuse.SetAttrIn) syscall.Errno {
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		su, sg := -1, -1
		if uok {
			su = int(uid)
		}
		if gok {
			sg = int(gid)
		}
		if err := unix.Fchownat(dirfd, name, su, sg, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fs.ToErrno(err)
		}
	}
	if sz, ok := in.GetSize(); ok {
		if err := truncateAt(dirfd, name, int64(sz)); err != nil {
			return fs.ToErrno(err)
		}
	}
	mtime, mok := in.GetMTime()
	atime, aok := in.GetATime()
	if mok || aok {
		omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
		ts := []unix.Timespec{omit, omit}
		if aok {
			ts[0] = unix.NsecToTimespec(atime.UnixNano())
		}
		if mok {
			ts[1] = unix.NsecToTimespec(mtime.UnixNano())
		}
		if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fs.ToErrno(err)
		}
	}
	return 0
}
