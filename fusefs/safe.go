package fusefs

import (
	"os"
	"strconv"
	"syscall"

	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// Every change the view makes to the local tree goes through the local
// replica (View.lt), which resolves each path beneath the root without
// following a symlink. at serves the few calls that replica has no method
// for (open with the caller's flags, mknod, truncate, chown, utimes with
// an access time, extended attributes, statx, RENAME_EXCHANGE): it
// resolves a path's parent directory with openat2, refusing symlinks and
// anything outside the local root, and hands fn a path through that open
// directory (/proc/self/fd/N/name), so the kernel cannot follow a symlink
// in a parent, and fn's own call decides about the last component
// (O_NOFOLLOW, lstat...). It should become the local replica's own
// resolution (an exported form of its atParent) instead of a second one.
func (v *View) at(real string, fn func(p string) error) error {
	if real == "" {
		return fn(v.root)
	}
	fd := v.rootFd
	dir := tree.Parent(real)
	if dir != "" {
		pfd, err := unix.Openat2(fd, dir, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
		})
		if err == unix.ELOOP || err == unix.EXDEV {
			return syscall.EACCES
		}
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		fd = pfd
	}
	return fn("/proc/self/fd/" + strconv.Itoa(fd) + "/" + tree.Base(real))
}

// at2 is at for operations on two paths (rename, link).
func (v *View) at2(a, b string, fn func(pa, pb string) error) error {
	return v.at(a, func(pa string) error {
		return v.at(b, func(pb string) error { return fn(pa, pb) })
	})
}

// openLocal opens a local tree path, never through a symlink.
func (v *View) openLocal(real string, flags int, mode os.FileMode) (*os.File, error) {
	var f *os.File
	err := v.at(real, func(p string) error {
		var err error
		f, err = os.OpenFile(p, flags|syscall.O_NOFOLLOW, mode)
		return err
	})
	return f, err
}

// openDir opens a local tree directory for reading, never through a
// symlink, and returns its raw descriptor: the caller owns it and closes
// it exactly once.
func (v *View) openDir(real string) (int, error) {
	fd := -1
	err := v.at(real, func(p string) error {
		var err error
		fd, err = unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		return err
	})
	return fd, err
}

// lstatGen is lstat that also returns a generation number for the inode:
// its birth time, so that an inode number the file system reuses for a new
// file is not taken for the old file (which the kernel may still know).
func lstatGen(p string, st *syscall.Stat_t) (uint64, error) {
	var x unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
		return 0, err
	}
	*st = syscall.Stat_t{
		Dev:     unix.Mkdev(x.Dev_major, x.Dev_minor),
		Ino:     x.Ino,
		Nlink:   uint64(x.Nlink),
		Mode:    uint32(x.Mode),
		Uid:     x.Uid,
		Gid:     x.Gid,
		Rdev:    unix.Mkdev(x.Rdev_major, x.Rdev_minor),
		Size:    int64(x.Size),
		Blksize: int64(x.Blksize),
		Blocks:  int64(x.Blocks),
		Atim:    syscall.Timespec{Sec: x.Atime.Sec, Nsec: int64(x.Atime.Nsec)},
		Mtim:    syscall.Timespec{Sec: x.Mtime.Sec, Nsec: int64(x.Mtime.Nsec)},
		Ctim:    syscall.Timespec{Sec: x.Ctime.Sec, Nsec: int64(x.Ctime.Nsec)},
	}
	if x.Mask&unix.STATX_BTIME == 0 {
		return 1, nil
	}
	return uint64(x.Btime.Sec)*1e9 + uint64(x.Btime.Nsec) + 1, nil
}

// truncateNoFollow truncates regular file p, never what a symlink at p
// points to.
func truncateNoFollow(p string, size int64) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, size)
}
