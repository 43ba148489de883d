package local

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/tree"
)

// fsyncObserver, when set, is told the disk path of every fsync made.
var fsyncObserver atomic.Pointer[func(diskPath string)]

// ObserveFsync makes fn be called with the disk path of every file and
// directory the replicas of this process fsync, after each successful
// fsync (nil: no longer). Tests use it to check that the durability the
// replica.Replica contract promises is asked of the kernel.
func ObserveFsync(fn func(diskPath string)) {
	if fn == nil {
		fsyncObserver.Store(nil)
		return
	}
	fsyncObserver.Store(&fn)
}

// fsynced reports a successful fsync of diskPath to the observer.
func fsynced(diskPath string) {
	if fn := fsyncObserver.Load(); fn != nil {
		(*fn)(diskPath)
	}
}

// fsyncFd fsyncs fd, retrying on EINTR, and reports it as diskPath.
func fsyncFd(fd int, diskPath string) error {
	for {
		err := unix.Fsync(fd)
		if err == unix.EINTR {
			continue
		}
		if err == nil {
			fsynced(diskPath)
		}
		return err
	}
}

// syncDirFd fsyncs the directory dirfd (which may be an O_PATH descriptor),
// dir being its path relative to the root, so that the entries created,
// renamed or removed in it survive a crash.
func (r *Replica) syncDirFd(dirfd int, dir string) error {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fsyncFd(fd, r.diskPath(dir))
}

// Sync makes the file or directory at p durable: its content, its
// attributes and, for a directory, its entries. p is never followed when
// it is a symlink (ErrUnsafePath). A file that cannot be opened for reading
// or writing (permission bits 0) is made durable with syncfs of its
// filesystem instead.
func (r *Replica) Sync(p string) error {
	if err := checkPath(p); err != nil {
		return r.wrap("fsync", p, err)
	}
	if p == "" {
		return r.wrap("fsync", p, r.syncDirFd(r.rootfd, ""))
	}
	return r.atParent("fsync", p, func(dirfd int, name string) error {
		var fd int
		var err error
		for _, mode := range []int{unix.O_RDONLY, unix.O_WRONLY} {
			fd, err = unix.Openat(dirfd, name, mode|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != unix.EACCES && err != unix.EISDIR {
				break
			}
		}
		switch err {
		case nil:
		case unix.EACCES:
			return r.syncFs(dirfd, p)
		default:
			return err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if k := kindOf(st.Mode); k != tree.File && k != tree.Dir {
			return errNotRegular
		}
		return fsyncFd(fd, r.diskPath(p))
	})
}

// syncFs flushes the whole filesystem holding directory dirfd, for an
// entry p that cannot be opened.
func (r *Replica) syncFs(dirfd int, p string) error {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return err
	}
	fsynced(r.diskPath(p))
	return nil
}
