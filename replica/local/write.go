package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// tempFile is a file being written under a temporary name.
type tempFile struct {
	f *os.File
}

// Write writes to the temporary.
func (t *tempFile) Write(b []byte) (int, error) { return t.f.Write(b) }

// Close flushes the content to stable storage and closes the file, so that
// once it is renamed into place a crash cannot leave it empty.
func (t *tempFile) Close() error {
	serr := t.f.Sync()
	if serr == nil {
		fsynced(t.f.Name())
	}
	cerr := t.f.Close()
	if serr != nil {
		return serr
	}
	return cerr
}

// permOf keeps the permission bits of perm.
func permOf(perm uint32) uint32 { return perm & 0o7777 }

// CreateTemp creates an empty file with exactly permission perm (the umask
// does not apply) in directory dir under a fresh tree.TempPrefix name.
func (r *Replica) CreateTemp(dir string, perm uint32) (string, replica.WriteFile, error) {
	f, p, err := r.createTemp(dir, perm)
	if err != nil {
		return "", nil, err
	}
	return p, &tempFile{f: f}, nil
}

// createTemp creates the temporary and returns it open for writing.
func (r *Replica) createTemp(dir string, perm uint32) (*os.File, string, error) {
	if err := checkPath(dir); err != nil {
		return nil, "", r.wrap("create temporary in", dir, err)
	}
	dfd, err := r.openBeneath(dir, unix.O_PATH)
	if err != nil {
		return nil, "", r.wrap("create temporary in", dir, err)
	}
	defer unix.Close(dfd)
	return r.createTempAt(dfd, dir, perm)
}

// createTempAt is createTemp in the directory dfd, dir being its path.
func (r *Replica) createTempAt(dfd int, dir string, perm uint32) (*os.File, string, error) {
	for {
		name := r.tempName()
		p := tree.Join(dir, name)
		fd, err := unix.Openat(dfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err == unix.EEXIST || err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, "", r.wrap("create temporary", p, err)
		}
		if err := unix.Fchmod(fd, permOf(perm)); err != nil {
			unix.Close(fd)
			unix.Unlinkat(dfd, name, 0)
			return nil, "", r.wrap("chmod temporary", p, err)
		}
		return os.NewFile(uintptr(fd), r.diskPath(p)), p, nil
	}
}

// PutNew writes data (at most replica.MaxSmall bytes) into a new file at
// p, where nothing may be, with permission perm and mtime mtimeNs (see
// replica.NewFileWriter), resolving p's directory once: a temporary is
// written there, given its mtime and fsynced, then renamed onto p with
// RENAME_NOREPLACE, so that nothing that appeared at p meanwhile is ever
// replaced (an error wrapping replica.ErrChanged, and the temporary
// removed), and the directory is fsynced.
func (r *Replica) PutNew(p string, perm uint32, mtimeNs int64, data []byte) (replica.Info, error) {
	if len(data) > replica.MaxSmall {
		return replica.Info{}, fmt.Errorf("put %s: %d bytes, more than %d", r.diskPath(p), len(data), replica.MaxSmall)
	}
	var info replica.Info
	err := r.atParent("put", p, func(dirfd int, name string) error {
		if _, err := lstatAt(dirfd, name); err == nil {
			return errAppeared
		} else if err != unix.ENOENT {
			return err
		}
		dir := tree.Parent(p)
		f, tmp, err := r.createTempAt(dirfd, dir, perm)
		if err != nil {
			return err
		}
		tmpName := tree.Base(tmp)
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtimeNs)}
		_, err = f.Write(data)
		if err == nil {
			err = unix.UtimesNanoAt(dirfd, tmpName, ts, unix.AT_SYMLINK_NOFOLLOW)
		}
		if cerr := (&tempFile{f: f}).Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = renameNewAt(dirfd, tmpName, dirfd, name)
		}
		if err != nil {
			unix.Unlinkat(dirfd, tmpName, 0)
			return err
		}
		if err := r.syncDirFd(dirfd, dir); err != nil {
			return err
		}
		if st, err := lstatAt(dirfd, name); err == nil {
			info = infoOf(name, &st)
		}
		return nil
	})
	return info, err
}

// RenameNew renames oldp to newp if nothing is at newp (see
// replica.NewRenamer), fsyncing the directories as Rename does.
func (r *Replica) RenameNew(oldp, newp string) error {
	return r.renameWith(oldp, newp, renameNewAt)
}

// errAppeared: something is at a path where the caller's scan saw nothing.
var errAppeared = fmt.Errorf("appeared after the scan: %w", replica.ErrChanged)

// renameNewAt renames oname in odir onto nname in ndir, where nothing may
// be: atomically with RENAME_NOREPLACE; on a filesystem without it, after a
// check (a narrow window).
func renameNewAt(odir int, oname string, ndir int, nname string) error {
	err := unix.Renameat2(odir, oname, ndir, nname, unix.RENAME_NOREPLACE)
	switch err {
	case unix.EEXIST:
		return errAppeared
	case unix.EINVAL, unix.ENOSYS, unix.ENOTSUP:
		if _, err := lstatAt(ndir, nname); err == nil {
			return errAppeared
		} else if err != unix.ENOENT {
			return err
		}
		return unix.Renameat(odir, oname, ndir, nname)
	}
	return err
}

// CopyTemp copies regular file src into a new temporary with permission
// perm in directory dstDir, using copy_file_range where the filesystem can,
// and returns the temporary's path. On error no temporary is left behind.
func (r *Replica) CopyTemp(src, dstDir string, perm uint32) (string, error) {
	in, _, err := r.openFile("copy", src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, p, err := r.createTemp(dstDir, perm)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = (&tempFile{f: out}).Close()
	} else {
		out.Close()
	}
	if err != nil {
		r.Remove(p)
		return "", r.wrap("copy "+r.diskPath(src)+" to", p, err)
	}
	return p, nil
}

// Rename moves oldp to newp atomically, replacing a file or symlink at newp
// (or an empty directory when oldp is a directory). Neither may be the root.
// The directories of both are fsynced before it returns.
func (r *Replica) Rename(oldp, newp string) error {
	return r.RenameFlags(oldp, newp, 0)
}

// RenameFlags is Rename with renameat2 flags: unix.RENAME_NOREPLACE fails
// with EEXIST, atomically, when newp exists; unix.RENAME_EXCHANGE swaps
// oldp and newp, which must both exist.
func (r *Replica) RenameFlags(oldp, newp string, flags uint) error {
	return r.renameWith(oldp, newp, func(odir int, oname string, ndir int, nname string) error {
		return unix.Renameat2(odir, oname, ndir, nname, flags)
	})
}

// renameWith renames oldp to newp with rn, given the parents' descriptors
// and the last components, then fsyncs the directories whose entries
// changed.
func (r *Replica) renameWith(oldp, newp string, rn func(odir int, oname string, ndir int, nname string) error) error {
	return r.atParents("rename", oldp, newp, func(odir int, oname string, ndir int, nname string) error {
		if err := rn(odir, oname, ndir, nname); err != nil {
			return err
		}
		if err := r.syncDirFd(ndir, tree.Parent(newp)); err != nil {
			return err
		}
		if tree.Parent(oldp) == tree.Parent(newp) {
			return nil
		}
		return r.syncDirFd(odir, tree.Parent(oldp))
	})
}

// Mkdir creates directory p with exactly permission perm. The new
// directory and its parent are fsynced before it returns.
func (r *Replica) Mkdir(p string, perm uint32) error {
	return r.atParent("mkdir", p, func(dirfd int, name string) error {
		// made with its permission bits at once (a concurrent scan sees
		// them), then set again past the umask
		if err := unix.Mkdirat(dirfd, name, permOf(perm)); err != nil {
			return err
		}
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Fchmod(fd, permOf(perm)); err != nil {
			return err
		}
		if err := fsyncFd(fd, r.diskPath(p)); err != nil {
			return err
		}
		return r.syncDirFd(dirfd, tree.Parent(p))
	})
}

// Symlink creates symlink p pointing to target, stored verbatim. Its
// directory is fsynced before it returns.
func (r *Replica) Symlink(target, p string) error {
	return r.atParent("symlink", p, func(dirfd int, name string) error {
		if target == "" {
			return errors.New("empty symlink target")
		}
		if err := unix.Symlinkat(target, dirfd, name); err != nil {
			return err
		}
		return r.syncDirFd(dirfd, tree.Parent(p))
	})
}

// Remove removes file, symlink or empty directory p. Its directory is
// fsynced before it returns.
func (r *Replica) Remove(p string) error {
	return r.atParent("remove", p, func(dirfd int, name string) error {
		err := unix.Unlinkat(dirfd, name, 0)
		if err == unix.EISDIR {
			err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		}
		if err != nil {
			return err
		}
		return r.syncDirFd(dirfd, tree.Parent(p))
	})
}

// Chmod sets the permission bits of p. A symlink at p is refused with
// replica.ErrUnsafePath and left unchanged.
func (r *Replica) Chmod(p string, perm uint32) error {
	return r.atParent("chmod", p, func(dirfd int, name string) error {
		return ChmodAt(dirfd, name, perm)
	})
}

// ChmodAt sets the permission bits of entry name of directory dirfd, never
// following a symlink (one is refused), for callers of At.
func ChmodAt(dirfd int, name string, perm uint32) error {
	err := unix.Fchmodat(dirfd, name, permOf(perm), unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	// Either name is a symlink or the kernel lacks fchmodat2.
	return chmodByPath(dirfd, name, permOf(perm))
}

// chmodByPath changes the mode through an O_PATH descriptor of name, which
// cannot be a symlink once it is open.
func chmodByPath(dirfd int, name string, perm uint32) error {
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
		return errIsSymlink
	}
	return unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), perm, 0)
}

// Chtimes sets the modification time of p (nanoseconds), leaving its access
// time alone. A symlink at p is refused with replica.ErrUnsafePath.
func (r *Replica) Chtimes(p string, mtimeNs int64) error {
	return r.atParent("chtimes", p, func(dirfd int, name string) error {
		st, err := lstatAt(dirfd, name)
		if err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return errIsSymlink
		}
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(mtimeNs)}
		return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

// Link makes newp a hard link to file oldp. The directory of newp is
// fsynced before it returns.
func (r *Replica) Link(oldp, newp string) error {
	return r.atParents("link", oldp, newp, func(odir int, oname string, ndir int, nname string) error {
		if err := unix.Linkat(odir, oname, ndir, nname, 0); err != nil {
			return err
		}
		return r.syncDirFd(ndir, tree.Parent(newp))
	})
}
