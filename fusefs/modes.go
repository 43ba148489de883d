package fusefs

import (
	"context"
	"os"
	"syscall"

	localreplica "github.com/myrrorfs/myrrorfs/replica/local"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Entries created through the view get what a local file system would
// give them. The kernel has already applied the caller's umask to the
// mode it passes; the daemon's own umask must not apply on top of it, and
// the setuid, setgid and sticky bits asked for are kept. When the daemon
// runs as root on behalf of another user (a mount with allow_other), the
// entry belongs to that user, with the group of a setgid directory.

// settleNew gives entry name of directory dirfd, just created for the
// caller of ctx, its owner and exactly mode's permission and special bits.
// fd is a descriptor of the entry, or -1 to reach it by name (never
// through a symlink).
func settleNew(ctx context.Context, dirfd int, name string, fd int, mode uint32) error {
	var dir unix.Stat_t
	if err := unix.Fstat(dirfd, &dir); err != nil {
		return err
	}
	if err := ownNew(ctx, dirfd, name, fd, &dir); err != nil {
		return err
	}
	var st unix.Stat_t
	if fd >= 0 {
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
	} else if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	kind := st.Mode & unix.S_IFMT
	if kind == unix.S_IFLNK {
		return nil // a symlink's mode means nothing
	}
	want := mode & 0o7777
	if kind == unix.S_IFDIR && dir.Mode&unix.S_ISGID != 0 {
		want |= unix.S_ISGID // inherited from a setgid directory, as mkdir(2) does
	}
	if st.Mode&0o7777 == want {
		return nil
	}
	if fd >= 0 {
		return unix.Fchmod(fd, want)
	}
	return localreplica.ChmodAt(dirfd, name, want)
}

// ownNew gives a new entry to the caller of ctx when the daemon runs as
// root and the caller is someone else; its group stays that of a setgid
// directory dir.
func ownNew(ctx context.Context, dirfd int, name string, fd int, dir *unix.Stat_t) error {
	caller, ok := fuse.FromContext(ctx)
	if !ok || os.Geteuid() != 0 || (caller.Uid == 0 && caller.Gid == 0) {
		return nil
	}
	uid, gid := int(caller.Uid), int(caller.Gid)
	if dir.Mode&unix.S_ISGID != 0 {
		gid = -1
	}
	if fd >= 0 {
		return unix.Fchown(fd, uid, gid)
	}
	return unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// createLocal opens local path real for a Create: a new file gets exactly
// the caller's mode and owner (see settleNew); an existing one is opened
// as it is, unless flags hold O_EXCL.
func (v *View) createLocal(ctx context.Context, real string, flags int, mode uint32) (*os.File, error) {
	var f *os.File
	err := v.lt.At("create", real, func(dirfd int, name string) error {
		fl := flags | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_CLOEXEC
		fd, err := unix.Openat(dirfd, name, fl|unix.O_EXCL, mode&0o7777)
		created := err == nil
		if err == unix.EEXIST && flags&unix.O_EXCL == 0 {
			fd, err = unix.Openat(dirfd, name, fl, mode&0o7777)
		}
		if err != nil {
			return err
		}
		if created {
			if err := settleNew(ctx, dirfd, name, fd, mode); err != nil {
				unix.Close(fd)
				unix.Unlinkat(dirfd, name, 0)
				return err
			}
		}
		f = os.NewFile(uintptr(fd), v.root+"/"+real)
		return nil
	})
	return f, err
}

// settleAt is settleNew for local path real, reached by name.
func (v *View) settleAt(ctx context.Context, real string, mode uint32) error {
	return v.lt.At("set the mode of", real, func(dirfd int, name string) error {
		return settleNew(ctx, dirfd, name, -1, mode)
	})
}

// refusesWrites reports whether t is a version the view shows but never
// writes: p.remote and everything inside a p.remote directory (a write
// there fails with EROFS; renaming the sibling keeps it), and the name of
// a sibling just resolved away that still answers (see merged.go). Their modes
// show no write bit, and access(W_OK) fails, so that file managers and
// editors say "read-only" before the user types.
func refusesWrites(t target) bool {
	return t.side == remote && (t.sib != nil || t.under) || t.glow != nil
}

// readOnlyAttr takes the write bits out of the attributes of an entry
// that refuses writes.
func readOnlyAttr(t target, a *fuse.Attr) {
	if refusesWrites(t) && a.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		a.Mode &^= 0o222
	}
}

var _ fs.NodeAccesser = (*node)(nil)

// Access answers access(2) (the kernel asks only when the mount has no
// default_permissions): EROFS for a write to an entry that refuses
// writes, otherwise what the mode and owners shown allow the caller.
func (n *node) Access(ctx context.Context, mask uint32) syscall.Errno {
	t, ok := n.v.model().resolve(n.vpath())
	if !ok {
		return syscall.ENOENT
	}
	if mask&unix.W_OK != 0 && refusesWrites(t) {
		return syscall.EROFS
	}
	var out fuse.AttrOut
	if errno := n.Getattr(ctx, nil, &out); errno != 0 {
		return errno
	}
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return 0
	}
	if !permits(caller.Uid, caller.Gid, out.Uid, out.Gid, out.Mode, mask) {
		return syscall.EACCES
	}
	return 0
}

// permits reports whether a caller may access an entry of mode, owned by
// uid:gid, in the ways mask asks (R_OK, W_OK, X_OK), as the kernel decides
// for a local file system (supplementary groups aside).
func permits(cuid, cgid, uid, gid, mode, mask uint32) bool {
	mask &= 7
	if cuid == 0 {
		// root reads and writes anything, and executes what someone may
		// execute (any directory)
		return mask&unix.X_OK == 0 || mode&0o111 != 0 || mode&syscall.S_IFMT == syscall.S_IFDIR
	}
	perm := mode & 7
	switch {
	case cuid == uid:
		perm = mode >> 6 & 7
	case cgid == gid:
		perm = mode >> 3 & 7
	}
	return perm&mask == mask
}
