// Package local implements replica.Replica (with replica.Hasher and
// replica.Copier) on a directory of the local filesystem.
//
// Every path is resolved beneath a descriptor of the root with openat2 and
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, and every operation then uses the
// *at system calls on the last component without following it, so no symbolic
// link is ever followed and nothing outside the root is ever touched.
package local

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Replica is one side of a pair that lives in a local directory.
// Its methods are safe for concurrent use.
type Replica struct {
	root      string // absolute, cleaned, as given (a symlink to the root itself is followed once, at New)
	rootfd    int    // O_PATH descriptor of the root directory
	closeOnce sync.Once
	marker    atomic.Pointer[string] // pair marker of the temporaries it creates
}

var (
	_ replica.Replica       = (*Replica)(nil)
	_ replica.Hasher        = (*Replica)(nil)
	_ replica.Copier        = (*Replica)(nil)
	_ replica.NewFileWriter = (*Replica)(nil)
	_ replica.NewRenamer    = (*Replica)(nil)

	_ replica.TempMarking = (*Replica)(nil)
)

// SetTempMarker names the temporaries created from now on after the pair
// with this marker (see replica.TempNameFor).
func (r *Replica) SetTempMarker(marker string) { r.marker.Store(&marker) }

// tempName returns a fresh name for a temporary.
func (r *Replica) tempName() string {
	m := ""
	if p := r.marker.Load(); p != nil {
		m = *p
	}
	return replica.TempNameFor(m)
}

// New opens the directory root as a replica. root must exist and be a
// directory; the error otherwise names it. The replica holds a descriptor of
// root until Close, so renaming root meanwhile does not redirect it.
func New(root string) (*Replica, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open replica %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open replica %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open replica %s: not a directory", abs)
	}
	fd, err := unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open replica %s: %w", abs, err)
	}
	return &Replica{root: abs, rootfd: fd}, nil
}

// String returns the root directory.
func (r *Replica) String() string { return r.root }

// Root returns the absolute path of the root directory.
func (r *Replica) Root() string { return r.root }

// Close releases the root descriptor. Calls after Close fail.
func (r *Replica) Close() error {
	var err error
	r.closeOnce.Do(func() {
		err = unix.Close(r.rootfd)
		if err != nil {
			err = fmt.Errorf("close replica %s: %w", r.root, err)
		}
	})
	return err
}

// diskPath is the path of p on disk, for messages.
func (r *Replica) diskPath(p string) string {
	if p == "" {
		return r.root
	}
	return r.root + "/" + p
}

// checkPath rejects a path that tree.ValidPath refuses.
func checkPath(p string) error {
	if err := tree.ValidPath(p); err != nil {
		return fmt.Errorf("%w: %q", replica.ErrUnsafePath, p)
	}
	return nil
}

// resolveHow is how every directory below the root is reached.
const resolveHow = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS

// openBeneath opens directory dir (relative, "" for the root) below the root
// with the given open flags, refusing any symlink on the way and at the end.
func (r *Replica) openBeneath(dir string, flags uint64) (int, error) {
	if dir == "" {
		dir = "."
	}
	how := unix.OpenHow{Flags: flags | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolveHow}
	for {
		fd, err := unix.Openat2(r.rootfd, dir, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// parentDir is an open directory holding the last component of a path.
type parentDir struct {
	fd    int
	owned bool
}

func (d parentDir) close() {
	if d.owned {
		unix.Close(d.fd)
	}
}

// parent resolves the directory containing p (which must not be the root)
// and returns it with p's last component.
func (r *Replica) parent(p string) (parentDir, string, error) {
	if err := checkPath(p); err != nil {
		return parentDir{}, "", err
	}
	if p == "" {
		return parentDir{}, "", errRoot
	}
	dir, name := tree.Parent(p), tree.Base(p)
	if dir == "" {
		return parentDir{fd: r.rootfd}, name, nil
	}
	fd, err := r.openBeneath(dir, unix.O_PATH)
	if err != nil {
		return parentDir{}, "", err
	}
	return parentDir{fd: fd, owned: true}, name, nil
}

// atParent runs fn on the parent directory of p and p's last component,
// and wraps any error with op and p.
func (r *Replica) atParent(op, p string, fn func(dirfd int, name string) error) error {
	d, name, err := r.parent(p)
	if err != nil {
		return r.wrap(op, p, err)
	}
	defer d.close()
	return r.wrap(op, p, fn(d.fd, name))
}

// atParents resolves the parents of oldp and newp, runs fn on them and the
// last components, and wraps any error with op and both paths.
func (r *Replica) atParents(op, oldp, newp string, fn func(odir int, oname string, ndir int, nname string) error) error {
	wrap := func(err error) error {
		return &pathError{op: op, path: r.diskPath(oldp) + " to " + r.diskPath(newp), kind: classify(err), err: err}
	}
	od, oname, err := r.parent(oldp)
	if err != nil {
		return wrap(err)
	}
	defer od.close()
	nd, nname, err := r.parent(newp)
	if err != nil {
		return wrap(err)
	}
	defer nd.close()
	if err := fn(od.fd, oname, nd.fd, nname); err != nil {
		return wrap(err)
	}
	return nil
}

// At resolves the directory holding p beneath the root, refusing any
// symlink on the way and anything outside the root, and runs fn on that
// directory's descriptor (O_PATH, valid during fn only) and p's last
// component. fn decides about the last component itself and must not
// follow it (AT_SYMLINK_NOFOLLOW, O_NOFOLLOW...). For p == "" (the root
// itself) fn gets the root's descriptor and ".". It serves callers that
// need a call the replica has no method for; errors are wrapped with op
// and p like the replica's own.
func (r *Replica) At(op, p string, fn func(dirfd int, name string) error) error {
	if p == "" {
		return r.wrap(op, p, fn(r.rootfd, "."))
	}
	return r.atParent(op, p, fn)
}
