package sftp

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// ErrWritesRefused is wrapped (with replica.ErrUnsafePath) by the error of
// every operation that would write, rename or remove on a plain SFTP
// replica made without Options.UnsafeWrites: see Replica.
var ErrWritesRefused error = &kindError{
	msg:   "refused: plain SFTP cannot write safely beneath the remote root (a remote directory may be swapped for a symlink meanwhile); a myrrorfs agent on the remote is needed (see --remote-myrrorfs), or --unsafe-sftp-writes to accept the risk",
	kinds: []error{replica.ErrUnsafePath},
}

// refuseWrite fails unless r may write: ErrWritesRefused naming p.
func (r *Replica) refuseWrite(op, p string) error {
	if r.unsafeWrites {
		return nil
	}
	return &fs.PathError{Op: op, Path: r.where(p), Err: ErrWritesRefused}
}

// refuseLink is refuseWrite for an operation on two paths.
func (r *Replica) refuseLink(op, oldp, newp string) error {
	if r.unsafeWrites {
		return nil
	}
	return &os.LinkError{Op: op, Old: r.where(oldp), New: r.where(newp), Err: ErrWritesRefused}
}

// check validates relative path p and makes sure that none of its parent
// directories is a symlink (or not a directory at all), by one lstat of
// each, every time: nothing is cached, so that the window in which a parent
// can be swapped for a symlink is as short as path-based SFTP allows (it is
// never closed: see Replica). The root itself is trusted: the user chose it.
func (r *Replica) check(op, p string) error {
	if err := tree.ValidPath(p); err != nil {
		return &fs.PathError{Op: op, Path: r.where(p), Err: fmt.Errorf("%w: %w", replica.ErrUnsafePath, err)}
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if err := r.checkDir(op, p[:i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkDir makes sure that relative path dir is a real directory.
func (r *Replica) checkDir(op, dir string) error {
	st, err := r.lstat(dir)
	if err != nil {
		return r.pathErr(op, dir, err)
	}
	switch tree.KindOfMode(st.Mode) {
	case tree.Dir:
		return nil
	case tree.Symlink:
		return &fs.PathError{Op: op, Path: r.where(dir), Err: errSymlink}
	}
	return &fs.PathError{Op: op, Path: r.where(dir), Err: errNotDir}
}

// abs is the absolute remote path of relative path p.
func (r *Replica) abs(p string) string {
	switch {
	case p == "":
		return r.root
	case strings.HasSuffix(r.root, "/"):
		return r.root + p
	}
	return r.root + "/" + p
}
