package local

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica"
)

// pathError is the error every method returns: the operation, the full path
// on disk and the cause. kind is the replica error class the cause belongs
// to (replica.ErrNotExist, replica.ErrUnsafePath) or nil.
type pathError struct {
	op   string
	path string
	kind error
	err  error
}

func (e *pathError) Error() string {
	return e.op + " " + e.path + ": " + e.err.Error()
}

// Unwrap exposes the cause (usually a unix.Errno).
func (e *pathError) Unwrap() error { return e.err }

// Is makes errors.Is recognise the replica error classes, and fs.ErrNotExist
// for replica.ErrNotExist.
func (e *pathError) Is(target error) bool {
	if e.kind == nil {
		return false
	}
	if target == e.kind {
		return true
	}
	return e.kind == replica.ErrNotExist && target == fs.ErrNotExist
}

// errIsSymlink is the cause when a method finds a symlink where it must not
// follow one.
var errIsSymlink = errors.New("is a symbolic link, not followed")

// errNotRegular is the cause when a file operation meets a directory,
// socket, fifo or device.
var errNotRegular = errors.New("not a regular file")

// errRoot is the cause when an operation would remove, replace or change
// the root itself.
var errRoot = errors.New("the root of the tree cannot be changed")

// classify maps an errno to the replica error class it belongs to.
func classify(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return replica.ErrNotExist
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV),
		errors.Is(err, errIsSymlink), errors.Is(err, errRoot),
		errors.Is(err, replica.ErrUnsafePath):
		return replica.ErrUnsafePath
	}
	return nil
}

// wrap builds the error for op on relative path p (nil stays nil).
func (r *Replica) wrap(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pathError
	if errors.As(err, &pe) {
		return err
	}
	return &pathError{op: op, path: r.diskPath(p), kind: classify(err), err: err}
}
