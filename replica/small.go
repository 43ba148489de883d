package replica

import (
	"errors"
	"fmt"
	"io"

	"github.com/myrrorfs/myrrorfs/tree"
)

// ErrChanged: a path is no longer what the caller's scan saw there, so it
// was left alone.
var ErrChanged = errors.New("changed since the scan; left alone until the next run")

// A run over a slow link spends its time in round trips, not bytes: a file
// of a few KiB written through CreateTemp, Write, Close, Chtimes and
// installed through Lstat, Link, Rename and Lstat costs eight of them. The
// interfaces below let a remote replica do each half in one exchange;
// PutTempWith, GetWith and InstallWith are what they do on the remote's
// side, and what the caller does itself with a replica that has no such
// shortcut, so the two never differ.

// MaxSmall is the largest file content PutTemp and Get carry in one
// exchange; larger files go through CreateTemp and Open.
const MaxSmall = 192 << 10

// Pipelined is implemented by replicas across a link, where an operation
// spends its time waiting for an answer: InFlight is how many operations
// are worth keeping going at once.
type Pipelined interface {
	InFlight() int
}

// SmallWriter is implemented by replicas that write a whole small file in
// one exchange.
type SmallWriter interface {
	// PutTemp creates a new temporary in dir with permission perm holding
	// data (at most MaxSmall bytes) and modification time mtimeNs, durable
	// as WriteFile.Close makes it, and returns its path.
	PutTemp(dir string, perm uint32, mtimeNs int64, data []byte) (string, error)
}

// SmallReader is implemented by replicas that read a whole small file in
// one exchange.
type SmallReader interface {
	// Get returns the content of regular file p, if its fingerprint is
	// want both before and after it is read: a file that is not want, or
	// is larger than MaxSmall, gives an error wrapping ErrChanged.
	Get(p string, want tree.Fingerprint) ([]byte, error)
}

// Installer is implemented by replicas that install a temporary in one
// exchange.
type Installer interface {
	// Install does what InstallWith does, and returns what InstallWith
	// returns.
	Install(tmp, p string, want tree.Scanned, backup string) (Info, error)
}

// NewFileWriter is implemented by replicas that write a whole small file
// at a path that holds nothing in one exchange: what PutTemp and then
// Install of that path do in two.
type NewFileWriter interface {
	// PutNew does what PutNewWith does, and returns what it returns.
	PutNew(p string, perm uint32, mtimeNs int64, data []byte) (Info, error)
}

// PutNewWith writes data (at most MaxSmall bytes) with permission perm and
// mtime mtimeNs into a new temporary next to p, then installs it at p if p
// still holds nothing (InstallWith with an absent want: else an error
// wrapping ErrChanged, and the temporary is removed). It returns what p
// became, as InstallWith does.
func PutNewWith(r Replica, p string, perm uint32, mtimeNs int64, data []byte) (Info, error) {
	tmp, err := PutTempWith(r, tree.Parent(p), perm, mtimeNs, data)
	if err != nil {
		return Info{}, err
	}
	info, err := InstallWith(r, tmp, p, tree.Scanned{Path: p}, "")
	if err != nil {
		r.Remove(tmp)
		return Info{}, err
	}
	return info, nil
}

// PutTempWith writes a small file into a new temporary of r through
// CreateTemp and Chtimes (see SmallWriter).
func PutTempWith(r Replica, dir string, perm uint32, mtimeNs int64, data []byte) (string, error) {
	if len(data) > MaxSmall {
		return "", fmt.Errorf("put in %s: %d bytes, more than %d", orDot(dir), len(data), MaxSmall)
	}
	return WriteTemp(r, dir, perm, mtimeNs, data)
}

// WriteTemp writes data, of any size, into a new temporary of r in dir
// with permission bits perm and mtime mtimeNs, and returns its path.
func WriteTemp(r Replica, dir string, perm uint32, mtimeNs int64, data []byte) (string, error) {
	tmp, w, err := r.CreateTemp(dir, perm)
	if err != nil {
		return "", err
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Chtimes(tmp, mtimeNs)
	}
	if err != nil {
		r.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// GetWith reads small file p of r through Lstat and Open (see
// SmallReader).
func GetWith(r Replica, p string, want tree.Fingerprint) ([]byte, error) {
	if want.Size > MaxSmall || want.Size < 0 {
		return nil, fmt.Errorf("get %s: %d bytes, more than %d", p, want.Size, MaxSmall)
	}
	if err := Check(r, p, tree.Scanned{Entry: tree.Entry{Kind: tree.File}, FP: want}); err != nil {
		return nil, err
	}
	rc, err := r.Open(p)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return nil, fmt.Errorf("%s vanished: %w", p, ErrChanged)
		}
		return nil, err
	}
	// one byte more than the scan saw tells a file that grew
	data := make([]byte, want.Size+1)
	n, err := io.ReadFull(rc, data)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	data = data[:n]
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != want.Size {
		return nil, fmt.Errorf("%s: content differs from the scan: %w", p, ErrChanged)
	}
	if err := Check(r, p, tree.Scanned{Entry: tree.Entry{Kind: tree.File}, FP: want}); err != nil {
		return nil, err
	}
	return data, nil
}

// InstallWith replaces p on r with temporary tmp if p still is what want
// says (Check); the version p held, if any, is kept at backup (a path whose
// parent exists) by a hard link, or moved there where r cannot link. It
// returns what p is afterwards (a zero Info if that could not be read: the
// install happened all the same).
func InstallWith(r Replica, tmp, p string, want tree.Scanned, backup string) (Info, error) {
	if err := Check(r, p, want); err != nil {
		return Info{}, err
	}
	if want.Entry.Exists() {
		if backup == "" {
			return Info{}, fmt.Errorf("install %s: no backup path for the version it replaces", p)
		}
		// Without a hard link (unsupported, or refused by the
		// filesystem) the version is moved instead: it is kept all the
		// same.
		if r.Link(p, backup) != nil {
			if err := r.Rename(p, backup); err != nil {
				return Info{}, fmt.Errorf("move to backup: %w", err)
			}
		}
	}
	rename := r.Rename
	if nr, ok := r.(NewRenamer); ok && !want.Entry.Exists() {
		rename = nr.RenameNew
	}
	if err := rename(tmp, p); err != nil {
		return Info{}, err
	}
	info, err := r.Lstat(p)
	if err != nil {
		return Info{}, nil
	}
	return info, nil
}

// NewRenamer is implemented by replicas that rename onto a path only if
// nothing is there, atomically: InstallWith then leaves no window between
// its check and its rename in which something made at the path would be
// replaced.
type NewRenamer interface {
	// RenameNew renames oldp to newp if nothing is at newp; else the
	// error wraps ErrChanged and both stay as they are.
	RenameNew(oldp, newp string) error
}

// Check verifies that p on r still is what a scan saw (want; Absent:
// nothing there), so that nothing changed meanwhile is ever overwritten.
// A directory is compared by kind only; a fingerprint field want leaves
// zero is not compared, except size and mtime. A mismatch wraps
// ErrChanged.
func Check(r Replica, p string, want tree.Scanned) error {
	info, err := r.Lstat(p)
	if !want.Entry.Exists() {
		if errors.Is(err, ErrNotExist) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("appeared after the scan: %w", ErrChanged)
		}
		return err
	}
	if errors.Is(err, ErrNotExist) {
		return fmt.Errorf("vanished after the scan: %w", ErrChanged)
	}
	if err != nil {
		return err
	}
	if info.Kind != want.Entry.Kind || (info.Kind != tree.Dir && !SameFP(want.FP, info.FP)) {
		return ErrChanged
	}
	return nil
}

// SameFP compares a fingerprint with an expected one, whose zero ctime,
// inode and mode are not compared.
func SameFP(want, got tree.Fingerprint) bool {
	if want.CtimeNs == 0 {
		got.CtimeNs = 0
	}
	if want.Ino == 0 {
		got.Ino = 0
	}
	if want.Mode == 0 {
		got.Mode = 0
	}
	return want == got
}

func orDot(p string) string {
	if p == "" {
		return "."
	}
	return p
}
