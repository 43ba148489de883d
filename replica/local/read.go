package local

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// fingerprint extracts what a scan compares from a stat result.
func fingerprint(st *unix.Stat_t) tree.Fingerprint {
	return tree.Fingerprint{
		Size:    st.Size,
		MtimeNs: st.Mtim.Nano(),
		CtimeNs: st.Ctim.Nano(),
		Ino:     st.Ino,
		Mode:    st.Mode,
	}
}

// kindOf maps a st_mode to an entry kind; sockets, fifos and devices are Absent.
func kindOf(mode uint32) tree.Kind {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return tree.File
	case unix.S_IFDIR:
		return tree.Dir
	case unix.S_IFLNK:
		return tree.Symlink
	}
	return tree.Absent
}

// infoOf builds the Info of an entry named name from its stat result.
func infoOf(name string, st *unix.Stat_t) replica.Info {
	return replica.Info{
		Name:    name,
		Kind:    kindOf(st.Mode),
		Perm:    st.Mode & 0o7777,
		Size:    st.Size,
		MtimeNs: st.Mtim.Nano(),
		FP:      fingerprint(st),
	}
}

// lstatAt stats name in dirfd without following it.
func lstatAt(dirfd int, name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return st, err
		}
	}
}

// Lstat reports the entry at p ("" is the root) without following it.
func (r *Replica) Lstat(p string) (replica.Info, error) {
	if p == "" {
		var st unix.Stat_t
		if err := unix.Fstat(r.rootfd, &st); err != nil {
			return replica.Info{}, r.wrap("lstat", p, err)
		}
		return infoOf("", &st), nil
	}
	var info replica.Info
	err := r.atParent("lstat", p, func(dirfd int, name string) error {
		st, err := lstatAt(dirfd, name)
		info = infoOf(name, &st)
		return err
	})
	return info, err
}

// direntBufSize is the getdents buffer; big enough for a few thousand names.
const direntBufSize = 64 << 10

var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufSize); return &b }}

// ReadDir lists directory p: it opens p once and stats every child relative
// to that descriptor. Children that vanish meanwhile are left out.
func (r *Replica) ReadDir(p string) ([]replica.Info, error) {
	if err := checkPath(p); err != nil {
		return nil, r.wrap("readdir", p, err)
	}
	fd, err := r.openBeneath(p, unix.O_RDONLY|unix.O_NOFOLLOW)
	if err != nil {
		return nil, r.wrap("readdir", p, err)
	}
	defer unix.Close(fd)
	names, err := readNames(fd)
	if err != nil {
		return nil, r.wrap("readdir", p, err)
	}
	infos := make([]replica.Info, 0, len(names))
	for _, name := range names {
		if tree.ValidName(name) != nil {
			continue
		}
		st, err := lstatAt(fd, name)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			return nil, r.wrap("readdir", tree.Join(p, name), err)
		}
		infos = append(infos, infoOf(name, &st))
	}
	return infos, nil
}

// readNames reads every name of the open directory fd, without "." and "..".
func readNames(fd int) ([]string, error) {
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// Readlink returns the target of symlink p.
func (r *Replica) Readlink(p string) (string, error) {
	var target string
	err := r.atParent("readlink", p, func(dirfd int, name string) error {
		buf := make([]byte, 256)
		for {
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err != nil {
				return err
			}
			if n < len(buf) {
				target = string(buf[:n])
				return nil
			}
			buf = make([]byte, 2*len(buf))
		}
	})
	return target, err
}

// openFile opens regular file p for reading, refusing a symlink, and
// returns it with its stat result.
func (r *Replica) openFile(op, p string) (*os.File, unix.Stat_t, error) {
	var f *os.File
	var st unix.Stat_t
	err := r.atParent(op, p, func(dirfd int, name string) error {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err = unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
			err = errNotRegular
		}
		if err == nil {
			err = unix.SetNonblock(fd, false)
		}
		if err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), r.diskPath(p))
		return nil
	})
	return f, st, err
}

// Open opens regular file p for reading. A symlink at p gives
// replica.ErrUnsafePath; a directory, socket, fifo or device an error.
func (r *Replica) Open(p string) (io.ReadCloser, error) {
	f, _, err := r.openFile("open", p)
	if err != nil {
		return nil, err
	}
	return f, nil
}

var hashers = sync.Pool{New: func() any { return blake3.New(32, nil) }}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Hash returns the BLAKE3-256 hash of regular file p and the fingerprint of
// the file it read (stat'ed from the same descriptor before and after
// reading; if they differ the file changed while being read and Hash fails).
func (r *Replica) Hash(p string) (tree.Hash, tree.Fingerprint, error) {
	f, before, err := r.openFile("hash", p)
	if err != nil {
		return tree.Hash{}, tree.Fingerprint{}, err
	}
	defer f.Close()
	h := hashers.Get().(*blake3.Hasher)
	defer hashers.Put(h)
	h.Reset()
	bp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(h, onlyReader{f}, *bp)
	copyBufs.Put(bp)
	if err != nil {
		return tree.Hash{}, tree.Fingerprint{}, r.wrap("hash", p, err)
	}
	var after unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &after); err != nil {
		return tree.Hash{}, tree.Fingerprint{}, r.wrap("hash", p, err)
	}
	fp := fingerprint(&after)
	if fp != fingerprint(&before) {
		return tree.Hash{}, tree.Fingerprint{}, r.wrap("hash", p, replica.ErrChangedWhileReading)
	}
	var sum tree.Hash
	copy(sum[:], h.Sum(nil))
	return sum, fp, nil
}

// onlyReader hides every method but Read, so io.CopyBuffer uses the buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(b []byte) (int, error) { return o.r.Read(b) }
