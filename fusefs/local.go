package fusefs

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Every call the view makes on the local tree goes through the local
// replica (View.lt), which resolves each path beneath the root without
// following a symlink. The calls it has no method for (open with the
// caller's flags, mknod, truncate, chown, times with an access time,
// extended attributes, statx) run through its At, on the directory it
// resolved and the last component, which they never follow either.

// procPath names entry name of the open directory dirfd, for the calls
// that take no directory descriptor (extended attributes): the kernel
// reaches the directory through the descriptor, never through a symlink.
func procPath(dirfd int, name string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name
}

// lstat is lstat of a local tree path that also returns a generation
// number for the inode: its birth time, so that an inode number the file
// system reuses for a new file is not taken for the old file (which the
// kernel may still know).
func (v *View) lstat(real string, st *syscall.Stat_t) (gen uint64, err error) {
	err = v.lt.At("stat", real, func(dirfd int, name string) error {
		gen, err = statxGen(dirfd, name, st)
		return err
	})
	return gen, err
}

func statxGen(dirfd int, name string, st *syscall.Stat_t) (uint64, error) {
	var x unix.Statx_t
	if err := unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
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

// openLocal opens a local tree path with the caller's flags (and mode, when
// it creates the file), never through a symlink.
func (v *View) openLocal(real string, flags int, mode uint32) (*os.File, error) {
	var f *os.File
	err := v.lt.At("open", real, func(dirfd int, name string) error {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode&0o7777)
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), v.root+"/"+real)
		return nil
	})
	return f, err
}

// openDir opens a local tree directory for reading, never through a
// symlink, and returns its raw descriptor: the caller owns it and closes
// it exactly once.
func (v *View) openDir(real string) (int, error) {
	fd := -1
	err := v.lt.At("open directory", real, func(dirfd int, name string) error {
		var err error
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		return err
	})
	return fd, err
}

// truncateAt truncates regular file name in dirfd, never what a symlink
// there points to.
func truncateAt(dirfd int, name string, size int64) error {
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, size)
}
