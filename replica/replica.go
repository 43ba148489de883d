// Package replica defines how myrrorfs reads and writes one side of a pair,
// and the algorithms shared by every implementation (scan, hashing, atomic
// writes, backups). Implementations live in replica/local and replica/sftp;
// replica/replicatest holds the conformance suite they all pass.
package replica

import (
	"context"
	"errors"
	"io"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Errors every implementation reports in a form errors.Is recognises
// (wrapped with the path and the cause's own text).
var (
	// ErrNotExist: the path (or one of its parents) does not exist.
	// Implementations wrap io/fs.ErrNotExist so both tests work.
	ErrNotExist = errors.New("no such file or directory")
	// ErrUnsupported: this replica cannot do the operation (e.g. hard links).
	ErrUnsupported = errors.New("operation not supported by this replica")
	// ErrUnsafePath: the path is invalid (see tree.ValidPath) or would lead
	// through a symbolic link; nothing was done.
	ErrUnsafePath = errors.New("unsafe path")
)

// Info is what Lstat and ReadDir report about one entry.
type Info struct {
	Name    string    // last path component (the root's is "")
	Kind    tree.Kind // File, Dir or Symlink; Absent for anything else (socket, fifo, device)
	Perm    uint32    // permission bits (0o7777)
	Size    int64
	MtimeNs int64
	FP      tree.Fingerprint
}

// WriteFile is a file being written under a temporary name.
type WriteFile interface {
	io.Writer
	// Close flushes the content to stable storage (fsync) and closes the
	// file: once it returns nil the content survives a crash or a power
	// loss (see Durability on Replica). An error means its content is not
	// trustworthy and the caller removes the temporary.
	Close() error
}

// Replica reads and writes one side of a pair. All paths are relative to the
// replica's root, '/'-separated, "" for the root (see package tree); a path
// that fails tree.ValidPath gets ErrUnsafePath.
//
// No method ever follows a symbolic link: not in the last component, and
// not in any parent directory (a parent that is a symlink gives
// ErrUnsafePath), so nothing is ever read or written outside the tree.
// Methods are safe for concurrent use.
//
// Durability: a method that returns nil has made what it did durable
// before returning, so that a caller may record the result (in the
// journal) at once, with no separate sync call:
//   - WriteFile.Close and Copier.CopyTemp fsync the temporary's content
//     (and its permission bits, set at creation);
//   - Rename, Mkdir, Symlink, Remove and Link fsync the directory (or both
//     directories) whose entries they changed; Mkdir also fsyncs the new
//     directory;
//   - CreateTemp does not fsync the directory: a temporary's name only
//     matters once Rename installs it, which makes it durable. A crash may
//     leave a temporary or lose one; the next run removes stale ones.
//   - Chmod and Chtimes are not made durable by themselves.
//
// An error from the fsync that follows an operation is returned, although
// the operation itself may then have happened. (Measured on ext4, 2,000
// installs of 4 KiB files: ~1.0 ms a file with the directory fsynced on
// every Rename, ~0.7 ms with one directory fsync per directory at the end;
// the file's own fsync dominates, and a per-call guarantee needs no
// cooperation from the caller.) Over plain SFTP, durability depends on the
// server: see replica/sftp.
type Replica interface {
	// String describes the replica for messages (a directory or host:path).
	String() string

	// Lstat reports the entry at p without following a final symlink.
	Lstat(p string) (Info, error)

	// ReadDir lists directory p with Lstat information for each child, in
	// no particular order, without "." and "..". A child whose name fails
	// tree.ValidName is never returned (the remote may be hostile).
	ReadDir(p string) ([]Info, error)

	// Readlink returns the target of symlink p.
	Readlink(p string) (string, error)

	// Open opens regular file p for reading.
	Open(p string) (io.ReadCloser, error)

	// CreateTemp creates a new empty file with permission perm in directory
	// dir, under a fresh name beginning with tree.TempPrefix, and returns its
	// path (relative to the root) and the open file.
	CreateTemp(dir string, perm uint32) (string, WriteFile, error)

	// Rename moves oldp to newp atomically. If newp is an existing file or
	// symlink it is replaced atomically; an existing directory at newp is an
	// error unless it is empty and oldp is a directory.
	Rename(oldp, newp string) error

	// Mkdir creates directory p with permission perm; its parent must exist.
	// If anything is at p already, it stays, and the error wraps
	// fs.ErrExist.
	Mkdir(p string, perm uint32) error

	// Symlink creates a symbolic link at p pointing to target (the target
	// is stored as given and never resolved).
	Symlink(target, p string) error

	// Remove removes a file, a symlink or an empty directory.
	Remove(p string) error

	// Chmod sets the permission bits of p, which must not be a symlink.
	Chmod(p string, perm uint32) error

	// Chtimes sets the modification time of p, which must not be a symlink.
	// Replicas that keep whole seconds only round down.
	Chtimes(p string, mtimeNs int64) error

	// Link makes newp a hard link to file oldp, or returns ErrUnsupported.
	Link(oldp, newp string) error

	// Close releases the replica's resources (connections, descriptors).
	Close() error
}

// Hasher is implemented by replicas that can hash a file where it lives
// (without sending its content anywhere).
type Hasher interface {
	Hash(p string) (tree.Hash, tree.Fingerprint, error)
}

// Copier is implemented by replicas that can copy a file on their own side
// (server-side copy) into a new temporary next to dst.
type Copier interface {
	CopyTemp(src, dstDir string, perm uint32) (string, error)
}

// Listed is one entry a TreeLister reports: what a ReadDir of Dir gives for
// it, plus the target of a symlink.
type Listed struct {
	Dir    string // the directory holding the entry ("" for the root)
	Info   Info   // the entry; Info.Name is its name in Dir
	Target string // a symlink's target
	// Err: the entry could not be taken in (a directory that could not be
	// listed, a symlink that could not be read). Info.Kind still says what
	// it is; nothing under it is listed.
	Err error
}

// TreeLister is implemented by replicas that can list their whole tree in
// one go (a remote agent walking it in place); Scan then uses it instead of
// one ReadDir per directory.
type TreeLister interface {
	// ListTree walks the tree below the root without following symlinks
	// or hashing anything, and calls fn for every entry, one call at a
	// time, in any order in which a directory comes before everything
	// under it. A directory is reported once it has been listed, or with
	// Err when it could not be; one that tree.Internal names need not be
	// descended into. An error from fn stops the walk and is returned.
	//
	// ListTree fails if the root cannot be listed or ctx ends. Before
	// calling fn it may fail with an error wrapping ErrUnsupported: the
	// replica cannot list its tree after all (an older remote), and the
	// caller falls back to ReadDir.
	ListTree(ctx context.Context, fn func(Listed) error) error
}
