package sftp

import (
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// dirTTL is how long a directory checked to be a real directory (not a
// symlink) is trusted without a new check.
const dirTTL = 2 * time.Second

// dirCache remembers directories recently checked to be real directories.
// Entries expire after ttl, and Rename and Remove forget what they touch.
// It is safe for concurrent use.
type dirCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	checked map[string]time.Time // relative path -> when checked
	now     func() time.Time
}

func newDirCache(ttl time.Duration) *dirCache {
	return &dirCache{ttl: ttl, checked: make(map[string]time.Time), now: time.Now}
}

// fresh reports whether p was checked less than ttl ago.
func (c *dirCache) fresh(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.checked[p]
	return ok && c.now().Sub(at) < c.ttl
}

// add records that p was just checked to be a real directory.
func (c *dirCache) add(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.checked) >= 4096 {
		c.pruneLocked(now)
	}
	c.checked[p] = now
}

// pruneLocked drops expired entries.
func (c *dirCache) pruneLocked(now time.Time) {
	for k, at := range c.checked {
		if now.Sub(at) >= c.ttl {
			delete(c.checked, k)
		}
	}
}

// forget drops p and everything under it.
func (c *dirCache) forget(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p == "" {
		clear(c.checked)
		return
	}
	delete(c.checked, p)
	for k := range c.checked {
		if tree.IsUnder(k, p) {
			delete(c.checked, k)
		}
	}
}

// check validates relative path p and makes sure that none of its parent
// directories is a symlink (or not a directory at all). The root itself is
// trusted: the user chose it.
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
	if r.dirs.fresh(dir) {
		return nil
	}
	st, err := r.lstat(dir)
	if err != nil {
		return r.pathErr(op, dir, err)
	}
	switch modeKind(st.Mode) {
	case tree.Dir:
		r.dirs.add(dir)
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

// Forget drops what is known about directory p and everything under it,
// for a change made behind the replica's back (e.g. by a remote agent).
func (r *Replica) Forget(p string) { r.dirs.forget(p) }
