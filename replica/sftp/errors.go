package sftp

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	pkgsftp "github.com/pkg/sftp"

	"github.com/myrrorfs/myrrorfs/replica"
)

// ErrConnectionLost is wrapped by every error of a call made after the
// connection to the remote host broke. Such a call fails at once; the
// Replica stays unusable and should be closed.
var ErrConnectionLost = errors.New("connection lost")

// kindError is an error with its own text that matches several sentinels.
type kindError struct {
	msg   string
	kinds []error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return e.kinds }

// errNotExist satisfies errors.Is for both fs.ErrNotExist and replica.ErrNotExist.
var errNotExist error = &kindError{"no such file or directory", []error{replica.ErrNotExist, fs.ErrNotExist}}

// errSymlink is the cause given when a path that must be a directory (a
// parent, or the directory ReadDir lists) is a symlink.
var errSymlink = fmt.Errorf("%w: is a symbolic link", replica.ErrUnsafePath)

// errNotDir is the cause given when a parent of a path is not a directory.
var errNotDir error = syscall.ENOTDIR

// pathErr wraps the cause of a failed op on relative path p, naming the
// remote path as host:/abs/path.
func (r *Replica) pathErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: r.where(p), Err: tooLong(r.mapErr(err), r.abs(p))}
}

// pathMax is the longest path OpenSSH's SFTP server takes (PATH_MAX).
const pathMax = 4096

// tooLong gives ENAMETOOLONG for err when it is the "Bad message" an SFTP
// server answers for a path (one of paths, absolute) that is too long.
func tooLong(err error, paths ...string) error {
	var se *pkgsftp.StatusError
	if !errors.As(err, &se) || se.FxCode() != pkgsftp.ErrSSHFxBadMessage {
		return err
	}
	for _, p := range paths {
		if len(p) >= pathMax {
			return syscall.ENAMETOOLONG
		}
	}
	return err
}

// linkErr wraps the cause of a failed op on two relative paths.
func (r *Replica) linkErr(op, oldp, newp string, err error) error {
	if err == nil {
		return nil
	}
	return &os.LinkError{Op: op, Old: r.where(oldp), New: r.where(newp), Err: tooLong(r.mapErr(err), r.abs(oldp), r.abs(newp))}
}

// where names relative path p for messages: host:/absolute/remote/path.
func (r *Replica) where(p string) string {
	return r.host + ":" + r.abs(p)
}

// mapErr turns an SFTP or transport error into the error classes of
// package replica (see mapErr).
// An SFTP server's "Failure" says nothing of its cause; when the remote
// filesystem (asked with statvfs@openssh.com) is read-only or full, that
// cause is given instead.
func (r *Replica) mapErr(err error) error {
	err = mapErr(r.proc, r.host, err)
	var se *pkgsftp.StatusError
	if errors.As(err, &se) && se.FxCode() == pkgsftp.ErrSSHFxFailure {
		if cause := r.failureCause(); cause != nil {
			return cause
		}
	}
	return err
}

// stRdonly is statvfs's ST_RDONLY flag.
const stRdonly = 1

// failureCause is what makes writes to the remote filesystem fail, when
// statvfs tells it: EROFS, ENOSPC (no block or no inode left); else nil.
func (r *Replica) failureCause() error {
	st, err := r.client.StatVFS(r.root)
	switch {
	case err != nil:
		return nil
	case st.Flag&stRdonly != 0:
		return syscall.EROFS
	case st.Bavail == 0 || st.Favail == 0:
		return syscall.ENOSPC
	}
	return nil
}

// isConnLost reports whether err means the connection is gone.
func (r *Replica) isConnLost(err error) bool { return isConnLost(r.proc, err) }

// mapErr turns err of a call over t to host into the error classes of
// package replica: a missing file gives errNotExist, a broken connection
// gives an ErrConnectionLost error naming host and the transport's cause.
func mapErr(t Transport, host string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // pkg/sftp adds its own path; ours replaces it
	}
	switch {
	case isConnLost(t, err):
		return connLost(t, host)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, pkgsftp.ErrSSHFxNoSuchFile):
		return errNotExist
	}
	return err
}

// isConnLost reports whether err, of a call over t, means the connection is gone.
func isConnLost(t Transport, err error) bool {
	if errors.Is(err, ErrConnectionLost) {
		return false // already mapped
	}
	return t.Exited() ||
		errors.Is(err, pkgsftp.ErrSSHFxConnectionLost) ||
		errors.Is(err, pkgsftp.ErrSSHFxNoConnection) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// connLost is the error for calls made over the broken connection t to
// host. It waits a moment for t to end, so that its last words are known.
func connLost(t Transport, host string) error {
	t.WaitExit(300 * time.Millisecond)
	if cause := t.Cause(); cause != "" {
		return fmt.Errorf("%w to %s: %s", ErrConnectionLost, host, cause)
	}
	return fmt.Errorf("%w to %s", ErrConnectionLost, host)
}
