package sftp

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	pkgsftp "github.com/pkg/sftp"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/readahead"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Replica is a remote directory tree reached over SFTP. It implements
// replica.Replica; it is safe for concurrent use. Fingerprints carry size,
// mtime (whole seconds: SFTP version 3) and mode; inode and ctime are 0.
//
// Durability (see replica.Replica) over plain SFTP rests on the server's
// fsync@openssh.com extension: WriteFile.Close sends it on the temporary's
// handle before closing it. SFTP has no way to fsync a directory; OpenSSH's
// server lets a directory be opened like a file for reading and fsyncs that
// handle, which is what Rename, Mkdir, Symlink, Remove and Link do with the
// directories they change. A server without the extension, or one that
// cannot open the directory (no read permission), gives no durability at
// all: the operation still succeeds. With an agent (UseSyncer) the agent
// fsyncs instead.
//
// Safety: OpenSSH's SFTP server, like SFTP itself, acts by path. A parent
// directory checked with lstat to be a real directory may be swapped for a
// symlink by the remote before the next request, which then acts outside
// the tree; no sequence of SFTP requests can rule that out. So a Replica
// is read-only unless made with Options.UnsafeWrites (AllowUnsafeWrites):
// CreateTemp, Rename, Mkdir, Symlink, Remove, Chmod, Chtimes and Link fail
// with an error wrapping ErrWritesRefused and replica.ErrUnsafePath, and
// do nothing. Reads (Lstat, ReadDir, Readlink, Open) check every parent
// before each call, with the same race: a swapped parent can make them
// read outside the tree, never write. With UnsafeWrites every parent is
// still checked right before each call, which narrows the window without
// closing it. Only an agent on the remote (replica/agent) acts beneath
// the root safely.
type Replica struct {
	host   string // as the user gave it
	spec   string // host:path as the user gave it
	root   string // absolute remote path of the root
	client *pkgsftp.Client
	proc   Transport
	fsync  bool   // the server has fsync@openssh.com
	syncer Syncer // when set, used instead of fsync@openssh.com

	unsafeWrites bool                   // writes are allowed, racy as they are (see Replica)
	marker       atomic.Pointer[string] // pair marker of the temporaries it creates

	bytesRead    atomic.Int64
	bytesWritten atomic.Int64
	closeOnce    sync.Once
}

var (
	_ replica.Replica     = (*Replica)(nil)
	_ replica.TempMarking = (*Replica)(nil)
)

// SetTempMarker names the temporaries created from now on after the pair
// with this marker (see replica.TempNameFor).
func (r *Replica) SetTempMarker(marker string) { r.marker.Store(&marker) }

// TempMarker is the marker set by SetTempMarker ("" if none).
func (r *Replica) TempMarker() string {
	if p := r.marker.Load(); p != nil {
		return *p
	}
	return ""
}

// Transport is the connection an SFTP client runs over (an ssh Process,
// or a channel of another protocol), as far as error messages need it.
type Transport interface {
	// Exited reports whether the connection is gone for good.
	Exited() bool
	// WaitExit waits up to d for the connection to end; it reports whether it did.
	WaitExit(d time.Duration) bool
	// Cause describes in one line why the connection ended ("" if unknown).
	Cause() string
	// Close ends the connection and waits for it to be gone.
	Close() error
}

// FromClient makes the replica of host:root over client, which runs over
// t. root must be absolute; it is checked to be a directory. The replica's
// Close closes client, then t; on error neither is closed.
func FromClient(client *pkgsftp.Client, t Transport, host, root string) (*Replica, error) {
	if !path.IsAbs(root) {
		return nil, fmt.Errorf("remote root %s:%s: not an absolute path", host, root)
	}
	root = path.Clean(root)
	r := &Replica{
		host:   host,
		spec:   host + ":" + root,
		root:   root,
		client: client,
		proc:   t,
	}
	ext, ok := client.HasExtension("fsync@openssh.com")
	r.fsync = ok && ext == "1" // what pkg/sftp's File.Sync requires
	fi, err := client.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("remote root %s:%s: %w", host, root, r.mapErr(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("remote root %s:%s: not a directory", host, root)
	}
	return r, nil
}

// Syncer makes a file or directory on the remote host durable by a means
// of its own (an agent running there).
type Syncer interface {
	// Sync fsyncs the file or directory at p (relative to the root, "" for
	// the root) without following a symlink.
	Sync(p string) error
}

// AllowUnsafeWrites lets r write, rename and remove by path, although the
// remote can make such an operation act outside the tree (see Replica).
// It must be called before r is used.
func (r *Replica) AllowUnsafeWrites() { r.unsafeWrites = true }

// UseSyncer makes r make files and directories durable through s instead
// of fsync@openssh.com. It must be called before r is used.
func (r *Replica) UseSyncer(s Syncer) { r.syncer = s }

// syncFile makes the content of file p, just written through an SFTP
// handle and closed, durable through the syncer (fsync@openssh.com is sent
// on the handle before it is closed: see writeFile.Close).
func (r *Replica) syncFile(p string) error {
	if r.syncer == nil {
		return nil
	}
	return r.syncer.Sync(p)
}

// syncDir makes the entries of directory dir durable: through the syncer,
// else by opening dir for reading and sending fsync@openssh.com on that
// handle, which OpenSSH's server honours. When the server lacks the
// extension, cannot open dir, or answers the fsync with "unsupported" or
// a generic failure, nothing is done (SFTP defines no directory fsync, and
// a server may refuse it on a directory; OpenSSH reports EIO as the same
// generic failure, so that too goes unseen); any other failure is an error.
func (r *Replica) syncDir(dir string) error {
	if r.syncer != nil {
		return r.syncer.Sync(dir)
	}
	if !r.fsync {
		return nil
	}
	f, err := r.client.Open(r.abs(dir))
	if err != nil {
		if r.isConnLost(err) {
			return r.pathErr("fsync", dir, err)
		}
		return nil
	}
	defer f.Close()
	err = f.Sync()
	var se *pkgsftp.StatusError
	if errors.As(err, &se) && (se.FxCode() == pkgsftp.ErrSSHFxOpUnsupported || se.FxCode() == pkgsftp.ErrSSHFxFailure) {
		return nil
	}
	return r.pathErr("fsync", dir, err)
}

// syncDirs makes the directories of oldp and newp durable (once when they
// are the same).
func (r *Replica) syncDirs(oldp, newp string) error {
	if err := r.syncDir(tree.Parent(newp)); err != nil {
		return err
	}
	if tree.Parent(oldp) == tree.Parent(newp) {
		return nil
	}
	return r.syncDir(tree.Parent(oldp))
}

// String returns host:path as the user gave them.
func (r *Replica) String() string { return r.spec }

// Root returns the absolute path of the root on the remote host.
func (r *Replica) Root() string { return r.root }

// BytesRead returns how many bytes of file content were read from the
// remote host through Open since the replica was made.
func (r *Replica) BytesRead() int64 { return r.bytesRead.Load() }

// BytesWritten returns how many bytes of file content were written to the
// remote host through CreateTemp since the replica was made.
func (r *Replica) BytesWritten() int64 { return r.bytesWritten.Load() }

// Close ends the SFTP session and closes the transport (an ssh Process
// exits, or is killed if it does not within a few seconds). Later calls
// return nil.
func (r *Replica) Close() error {
	r.closeOnce.Do(func() {
		r.client.Close()
		r.proc.Close()
	})
	return nil
}

// lstat returns the raw attributes of relative path p (no check of p).
func (r *Replica) lstat(p string) (*pkgsftp.FileStat, error) {
	fi, err := r.client.Lstat(r.abs(p))
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*pkgsftp.FileStat)
	if !ok {
		return nil, fmt.Errorf("no attributes for %s", r.where(p))
	}
	return st, nil
}

// info converts raw attributes of an entry named name.
func info(name string, st *pkgsftp.FileStat) replica.Info {
	mtime := int64(st.Mtime) * int64(time.Second)
	return replica.Info{
		Name:    name,
		Kind:    tree.KindOfMode(st.Mode),
		Perm:    st.Mode & 0o7777,
		Size:    int64(st.Size),
		MtimeNs: mtime,
		FP:      tree.Fingerprint{Size: int64(st.Size), MtimeNs: mtime, Mode: st.Mode},
	}
}

// Lstat reports the entry at p without following a final symlink.
func (r *Replica) Lstat(p string) (replica.Info, error) {
	if err := r.check("lstat", p); err != nil {
		return replica.Info{}, err
	}
	st, err := r.lstat(p)
	if err != nil {
		return replica.Info{}, r.pathErr("lstat", p, err)
	}
	name := ""
	if p != "" {
		name = tree.Base(p)
	}
	return info(name, st), nil
}

// ReadDir lists directory p; children with invalid names are dropped. A
// symlink at p is refused (ErrUnsafePath).
func (r *Replica) ReadDir(p string) ([]replica.Info, error) {
	if err := r.check("readdir", p); err != nil {
		return nil, err
	}
	if p != "" {
		if err := r.checkDir("readdir", p); err != nil {
			return nil, err
		}
	}
	fis, err := r.client.ReadDir(r.abs(p))
	if err != nil {
		return nil, r.pathErr("readdir", p, err)
	}
	return dirInfos(fis), nil
}

// dirInfos converts a listing, dropping invalid and repeated names (the
// client keeps only the last component of each name a server sends, so a
// hostile "x/a" would repeat "a").
func dirInfos(fis []fs.FileInfo) []replica.Info {
	out := make([]replica.Info, 0, len(fis))
	seen := make(map[string]bool, len(fis))
	for _, fi := range fis {
		st, ok := fi.Sys().(*pkgsftp.FileStat)
		if !ok || tree.ValidName(fi.Name()) != nil || seen[fi.Name()] {
			continue
		}
		seen[fi.Name()] = true
		out = append(out, info(fi.Name(), st))
	}
	return out
}

// Readlink returns the target of symlink p.
func (r *Replica) Readlink(p string) (string, error) {
	if err := r.check("readlink", p); err != nil {
		return "", err
	}
	target, err := r.client.ReadLink(r.abs(p))
	return target, r.pathErr("readlink", p, err)
}

// requireKind fails unless p (already checked) is an entry of kind want,
// and returns its attributes. A symlink where another kind is wanted is
// ErrUnsafePath: following it could lead out of the tree.
func (r *Replica) requireKind(op, p string, want tree.Kind) (*pkgsftp.FileStat, error) {
	st, err := r.lstat(p)
	if err != nil {
		return nil, r.pathErr(op, p, err)
	}
	switch got := tree.KindOfMode(st.Mode); {
	case got == want:
		return st, nil
	case got == tree.Symlink:
		return nil, &fs.PathError{Op: op, Path: r.where(p), Err: fmt.Errorf("%w: is a symbolic link", replica.ErrUnsafePath)}
	default:
		return nil, &fs.PathError{Op: op, Path: r.where(p), Err: fmt.Errorf("is a %s, not a %s", got, want)}
	}
}

// Open opens regular file p for reading. A symlink at p is refused. The
// file is read with many requests in flight (see package readahead), as
// many as the size the check before the open saw calls for.
func (r *Replica) Open(p string) (io.ReadCloser, error) {
	if err := r.check("open", p); err != nil {
		return nil, err
	}
	st, err := r.requireKind("open", p, tree.File)
	if err != nil {
		return nil, err
	}
	f, err := r.client.Open(r.abs(p))
	if err != nil {
		return nil, r.pathErr("open", p, err)
	}
	rf := &readFile{r: r, p: p, f: f}
	rf.Reader = readahead.New(rf, int64(st.Size), readahead.Options{Chunk: maxPacket, Window: readAhead})
	return rf, nil
}

// CreateTemp creates a new empty file with permission perm (exactly, no
// umask) in directory dir under a fresh tree.TempPrefix name.
func (r *Replica) CreateTemp(dir string, perm uint32) (string, replica.WriteFile, error) {
	if err := r.refuseWrite("create", dir); err != nil {
		return "", nil, err
	}
	if err := r.check("create", tree.Join(dir, "x")); err != nil {
		return "", nil, err
	}
	var lastErr error
	for range 10 {
		p := tree.Join(dir, replica.TempNameFor(r.TempMarker()))
		f, err := r.client.OpenFile(r.abs(p), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			lastErr = r.pathErr("create", p, err)
			if r.isConnLost(err) || errors.Is(lastErr, fs.ErrNotExist) {
				return "", nil, lastErr
			}
			continue // most likely the name exists: try another
		}
		if err := f.Chmod(fs.FileMode(perm & 0o7777)); err != nil {
			f.Close()
			r.client.Remove(r.abs(p))
			return "", nil, r.pathErr("chmod", p, err)
		}
		return p, &writeFile{r: r, p: p, f: f}, nil
	}
	return "", nil, lastErr
}

// Rename moves oldp to newp atomically, replacing a file or symlink at newp
// (posix-rename@openssh.com).
func (r *Replica) Rename(oldp, newp string) error {
	if err := r.refuseLink("rename", oldp, newp); err != nil {
		return err
	}
	if err := r.check("rename", oldp); err != nil {
		return err
	}
	if err := r.check("rename", newp); err != nil {
		return err
	}
	if oldp == "" || newp == "" {
		return r.linkErr("rename", oldp, newp, errors.New("cannot rename the root"))
	}
	if err := r.client.PosixRename(r.abs(oldp), r.abs(newp)); err != nil {
		return r.linkErr("rename", oldp, newp, err)
	}
	return r.syncDirs(oldp, newp)
}

// Mkdir creates directory p with permission perm (exactly, no umask).
func (r *Replica) Mkdir(p string, perm uint32) error {
	if err := r.refuseWrite("mkdir", p); err != nil {
		return err
	}
	if err := r.check("mkdir", p); err != nil {
		return err
	}
	if err := r.client.Mkdir(r.abs(p)); err != nil {
		// the server's answer is a bare "Failure": say whether it is
		// that something is there
		if _, lerr := r.client.Lstat(r.abs(p)); lerr == nil {
			return &fs.PathError{Op: "mkdir", Path: r.where(p), Err: fs.ErrExist}
		}
		return r.pathErr("mkdir", p, err)
	}
	if err := r.check("chmod", p); err != nil { // again: the window stays narrow
		return err
	}
	if err := r.client.Chmod(r.abs(p), fs.FileMode(perm&0o7777)); err != nil {
		return r.pathErr("chmod", p, err)
	}
	if err := r.syncDir(p); err != nil {
		return err
	}
	return r.syncDir(tree.Parent(p))
}

// Symlink creates a symbolic link at p pointing to target, stored as given.
func (r *Replica) Symlink(target, p string) error {
	if err := r.refuseWrite("symlink", p); err != nil {
		return err
	}
	if err := r.check("symlink", p); err != nil {
		return err
	}
	if err := r.client.Symlink(target, r.abs(p)); err != nil {
		return r.pathErr("symlink", p, err)
	}
	return r.syncDir(tree.Parent(p))
}

// Remove removes a file, a symlink or an empty directory.
func (r *Replica) Remove(p string) error {
	if err := r.refuseWrite("remove", p); err != nil {
		return err
	}
	if err := r.check("remove", p); err != nil {
		return err
	}
	if p == "" {
		return r.pathErr("remove", p, errors.New("cannot remove the root"))
	}
	st, err := r.lstat(p)
	if err != nil {
		return r.pathErr("remove", p, err)
	}
	if err := r.check("remove", p); err != nil { // again: the window stays narrow
		return err
	}
	if tree.KindOfMode(st.Mode) == tree.Dir {
		err = r.client.RemoveDirectory(r.abs(p))
	} else {
		err = r.client.Remove(r.abs(p))
	}
	if err != nil {
		return r.pathErr("remove", p, err)
	}
	return r.syncDir(tree.Parent(p))
}

// Chmod sets the permission bits of p; a symlink at p is refused.
func (r *Replica) Chmod(p string, perm uint32) error {
	if err := r.refuseWrite("chmod", p); err != nil {
		return err
	}
	if err := r.check("chmod", p); err != nil {
		return err
	}
	if err := r.requireNotSymlink("chmod", p); err != nil {
		return err
	}
	if err := r.check("chmod", p); err != nil { // again: the window stays narrow
		return err
	}
	return r.pathErr("chmod", p, r.client.Chmod(r.abs(p), fs.FileMode(perm&0o7777)))
}

// Chtimes sets the modification time of p, rounded down to whole seconds;
// the access time is set to the same value. A symlink at p is refused.
func (r *Replica) Chtimes(p string, mtimeNs int64) error {
	if err := r.refuseWrite("chtimes", p); err != nil {
		return err
	}
	if err := r.check("chtimes", p); err != nil {
		return err
	}
	if err := r.requireNotSymlink("chtimes", p); err != nil {
		return err
	}
	if err := r.check("chtimes", p); err != nil { // again: the window stays narrow
		return err
	}
	t := time.Unix(0, mtimeNs).Truncate(time.Second)
	if mtimeNs < 0 && t.UnixNano() > mtimeNs {
		t = t.Add(-time.Second) // round down before 1970 too
	}
	return r.pathErr("chtimes", p, r.client.Chtimes(r.abs(p), t, t))
}

// requireNotSymlink fails if p (already checked) is a symlink or absent.
func (r *Replica) requireNotSymlink(op, p string) error {
	st, err := r.lstat(p)
	if err != nil {
		return r.pathErr(op, p, err)
	}
	if tree.KindOfMode(st.Mode) == tree.Symlink {
		return &fs.PathError{Op: op, Path: r.where(p), Err: fmt.Errorf("%w: is a symbolic link", replica.ErrUnsafePath)}
	}
	return nil
}

// Link makes newp a hard link to file oldp with hardlink@openssh.com, or
// returns an error wrapping replica.ErrUnsupported when the server lacks it.
func (r *Replica) Link(oldp, newp string) error {
	if err := r.refuseLink("link", oldp, newp); err != nil {
		return err
	}
	if err := r.check("link", oldp); err != nil {
		return err
	}
	if err := r.check("link", newp); err != nil {
		return err
	}
	if _, ok := r.client.HasExtension("hardlink@openssh.com"); !ok {
		return r.linkErr("link", oldp, newp, replica.ErrUnsupported)
	}
	if err := r.client.Link(r.abs(oldp), r.abs(newp)); err != nil {
		return r.linkErr("link", oldp, newp, err)
	}
	return r.syncDir(tree.Parent(newp))
}
