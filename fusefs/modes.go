package fusefs

import (
	"context"
	"os"
	"strconv"
	"syscall"

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
	return chmodNoFollow(dirfd, name, want)
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

// chmodNoFollow changes the mode of entry name of dirfd through an O_PATH
// descriptor, which cannot be a symlink's target once open.
func chmodNoFollow(dirfd int, name string, mode uint32) error {
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return syscall.ELOOP
	}
	return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
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
