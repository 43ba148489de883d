package fusefs

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// Rename implements the resolutions of the gesture table: a sibling moved
// to the bare name or into the trash resolves the conflict, a sibling moved
// elsewhere keeps both versions, and a file renamed onto p.local (an
// editor's atomic save) replaces the local version.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	if _, ok := n.v.echoing(ctx); ok {
		return syscall.EPERM
	}
	src, dst := n.child(name), np.child(newName)
	if flags&unix.RENAME_EXCHANGE != 0 {
		return n.v.exchange(src, dst)
	}
	needs := func(m *model) []need { return renameNeeds(m, src, dst) }
	return n.v.gestureFetching(needs, n.v.owning([]string{src, dst}, func() (bool, syscall.Errno) {
		m := n.v.model()
		st, ok := m.resolve(src)
		if !ok {
			return false, syscall.ENOENT
		}
		dt, dstExists := m.resolve(dst)
		if dstExists && dt.side == local {
			_, err := n.v.lt.Lstat(dt.real)
			dstExists = err == nil
		}
		if dstExists && flags&unix.RENAME_NOREPLACE != 0 {
			return false, syscall.EEXIST
		}
		if dstExists && (dt.glow != nil || dt.side == remote && (dt.sib != nil || dt.under)) {
			return false, syscall.EROFS
		}
		if st.merged != nil {
			return n.v.moveMerged(st, src, dst)
		}
		if st.glow != nil {
			return n.v.trashGlow(m, st, dst)
		}
		if st.sib != nil {
			return n.v.moveSibling(m, st, dst)
		}
		if st.side == local && tree.InTrash(st.real) {
			// back from the trash: a sibling put back reopens its conflict
			if done, reload, errno := n.v.untrash(st.real, dst); done {
				return reload, errno
			}
		}
		if st.side == local {
			// a source gone behind the view's back fails the rename before
			// anything is changed
			if _, err := n.v.lt.Lstat(st.real); err != nil {
				return false, errnoOf(err)
			}
		}
		real, reload, errno := n.v.prepareRenameTarget(m, dst, dt, dstExists)
		if errno != 0 {
			return reload, errno
		}
		// landing on a version only the remote holds edits it: its base
		// moves to that version, once the rename has succeeded
		edited := dstExists && dt.side == remote
		onto := func() syscall.Errno {
			if !edited {
				return 0
			}
			return errnoOf(n.v.setBase(dt.real, m.remote[dt.real]))
		}
		if st.side == remote {
			// a version only the remote holds: download it to the new
			// name; its old path's base moves to it (it is deleted there)
			if err := n.v.downloadTree(m, st.real, real); err != nil {
				return true, errnoOf(err)
			}
			if errno := onto(); errno != 0 {
				return true, errno
			}
			if _, err := n.v.lt.Lstat(st.real); err == nil && !st.under {
				if err := n.v.b.BackupLocal(st.real); err != nil {
					return true, errnoOf(err)
				}
			}
			return true, errnoOf(n.v.setBaseTree(m, st.real))
		}
		// the inode the kernel knows for dst keeps its file (see
		// node.replaced)
		var replaced *os.File
		old := np.knownFile(newName)
		if old != nil && dstExists && dt.side == local {
			replaced, _ = n.v.openLocal(dt.real, unix.O_PATH, 0)
		}
		if err := n.v.rename(st.real, real, flags); err != nil {
			if replaced != nil {
				replaced.Close()
			}
			return reload, errnoOf(err)
		}
		if replaced != nil {
			old.keepReplaced(replaced)
		}
		if edited {
			return true, onto()
		}
		return reload || st.under, 0
	}))
}

// renameNeeds lists the remote files a rename of view path src to dst
// downloads: those of a remote-backed source (into the trash, only a
// sibling's own version if it is a file; to its bare name, none).
func renameNeeds(m *model, src, dst string) []need {
	st, ok := m.resolve(src)
	if !ok || st.side != remote || st.glow != nil && !tree.InTrash(dst) {
		return nil
	}
	if st.sib != nil {
		switch {
		case dst == st.real:
			return nil
		case tree.InTrash(dst):
			if e := st.sib.d.Remote; e.Kind == tree.File {
				return []need{{st.real, e}}
			}
			return nil
		}
	}
	return m.remoteFiles(st.real)
}

// prepareRenameTarget returns the local path a rename lands on. Landing on
// a version only the remote holds, or on a path the remote deleted, counts
// as editing it: the local entry it replaces is kept in the backup area
// (and the caller moves the base once the rename succeeded).
func (v *View) prepareRenameTarget(m *model, dst string, dt target, exists bool) (string, bool, syscall.Errno) {
	if !exists {
		real, reload, errno := v.prepareNew(dst)
		return real, reload, errno
	}
	if dt.side == local {
		return dt.real, false, 0 // includes p.local: the save replaces the local version
	}
	// a remote-backed entry (not a sibling): edited by the rename
	if _, err := v.lt.Lstat(dt.real); err == nil {
		if err := v.b.BackupLocal(dt.real); err != nil {
			return "", false, errnoOf(err)
		}
	}
	if errno := v.materializeDirs(m, tree.Parent(dt.real)); errno != 0 {
		return "", true, errno
	}
	return dt.real, true, 0
}

// moveSibling handles a rename of p.local or p.remote.
func (v *View) moveSibling(m *model, st target, dst string) (bool, syscall.Errno) {
	o := st.sib
	p := st.real
	mine := o.d.Local
	if st.side == remote {
		mine = o.d.Remote
	}
	if st.side == local && !tree.InTrash(dst) {
		// the local version is kept: what was removed inside it goes
		if err := v.backupHidden(m, p); err != nil {
			return true, errnoOf(err)
		}
	}
	switch {
	case dst == p: // outside conflicts, view and tree paths are the same
		// to the bare name: as rm of the other sibling (a lone sibling is
		// kept: its bases are cleared, since the other side has nothing)
		return true, errnoOf(v.b.SetBases(o.subtreeBases(st.side)))
	case tree.InTrash(dst):
		// into the trash: as rm of this sibling; a copy lands in the trash
		if err := v.trashCopy(m, st, dst, mine); err != nil {
			return false, errnoOf(err)
		}
		if err := v.b.SetBases(o.subtreeBases(st.side.Other())); err != nil {
			return true, errnoOf(err)
		}
		v.glowOther(st)
		if mine.Kind != tree.Dir {
			name := o.localName
			if st.side == remote {
				name = o.remoteName
			}
			// the resolution stands even if this fails: only a later
			// restore would not reopen the conflict
			v.rememberTrash(dst, tree.Join(tree.Parent(p), name), st, mine)
		}
		return true, 0
	}
	real, reload, errno := v.prepareNew(dst)
	if errno != 0 {
		return reload, errno
	}
	if st.side == local {
		// keep both: the local version moves to the new name, the remote
		// one comes back to p
		if err := v.rename(p, real, 0); err != nil {
			return reload, fs.ToErrno(err)
		}
		cs := o.subtreeBases(local)
		for i := range cs {
			cs[i].Entry = tree.Entry{}
		}
		if err := v.b.SetBases(cs); err != nil {
			return true, errnoOf(err)
		}
		if o.d.Local.Kind == tree.File {
			v.remember(tree.Join(tree.Parent(p), o.localName), p, o.baseBefore())
		}
		return true, 0
	}
	return v.keepBoth(m, o, real)
}

// keepBoth keeps both versions of conflict o: the remote one is downloaded
// to local path real, and o's path keeps the local one (its bases move to
// the remote one).
func (v *View) keepBoth(m *model, o *overlay, real string) (bool, syscall.Errno) {
	if err := v.downloadTree(m, o.d.Path, real); err != nil {
		return true, errnoOf(err)
	}
	return true, errnoOf(v.b.SetBases(o.subtreeBases(local)))
}

// rename renames a local tree path, replacing an empty directory like
// rename(2), never through a symlink. With RENAME_NOREPLACE an entry at to
// is refused atomically, also one that appeared behind the view's back.
func (v *View) rename(from, to string, flags uint32) error {
	return v.lt.RenameFlags(from, to, uint(flags&unix.RENAME_NOREPLACE))
}

// trashCopy puts a copy of a sibling at dst in the trash folder (kept in
// the local tree, never synced). Directories are not copied: the version
// stays in the backup area after commit all the same.
func (v *View) trashCopy(m *model, st target, dst string, e tree.Entry) error {
	if e.Kind == tree.Dir {
		return nil
	}
	if err := v.mkdirAll(tree.Parent(dst)); err != nil {
		return err
	}
	if st.side == remote {
		return v.download(st.real, dst, e)
	}
	err := v.lt.Link(st.real, dst)
	if errors.Is(err, os.ErrExist) {
		return err
	}
	if err != nil && e.Kind == tree.File {
		tmp, err := v.lt.CopyTemp(st.real, tree.Parent(dst), e.Perm&0o7777)
		if err != nil {
			return err
		}
		if err := v.lt.Rename(tmp, dst); err != nil {
			v.lt.Remove(tmp)
			return err
		}
	}
	return nil
}

// mkdirAll makes local directory p and its missing parents (mode 0700).
func (v *View) mkdirAll(p string) error {
	if p == "" {
		return nil
	}
	info, err := v.lt.Lstat(p)
	if err == nil {
		if info.Kind != tree.Dir {
			return syscall.ENOTDIR
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := v.mkdirAll(tree.Parent(p)); err != nil {
		return err
	}
	err = v.lt.Mkdir(p, 0o700)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}

// exchange swaps two entries (RENAME_EXCHANGE); only plain local entries
// can be swapped.
func (v *View) exchange(src, dst string) syscall.Errno {
	return v.gesture(func() (bool, syscall.Errno) {
		m := v.model()
		a, ok1 := m.resolve(src)
		b, ok2 := m.resolve(dst)
		if !ok1 || !ok2 {
			return false, syscall.ENOENT
		}
		if a.side != local || b.side != local || a.sib != nil || b.sib != nil || a.glow != nil || b.glow != nil {
			return false, syscall.EINVAL
		}
		return false, errnoOf(v.lt.RenameFlags(a.real, b.real, unix.RENAME_EXCHANGE))
	})
}
