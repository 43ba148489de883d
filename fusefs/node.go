package fusefs

import (
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// node is one entry of the view. It holds no state of its own: what backs
// it is looked up from its view path in the current model at every call,
// so the view can change under it (a resolution, a rescan).
type node struct {
	fs.Inode
	v *View
	// passthrough counts the open handles of this inode that the kernel
	// may serve by passthrough: while one is open, the kernel fails an
	// open of the inode that does not use passthrough (see openRemote).
	passthrough atomic.Int32
	// replaced holds, once a rename in the view replaced the local file
	// this inode stood for, that file (opened O_PATH): the kernel may
	// still open or stat the inode it looked up before the rename, and a
	// filesystem would give it the old file. Closed when the kernel
	// forgets the inode.
	replacedMu sync.Mutex
	replaced   *os.File
}

var (
	_ fs.NodeLookuper   = (*node)(nil)
	_ fs.NodeGetattrer  = (*node)(nil)
	_ fs.NodeFsyncer    = (*node)(nil)
	_ fs.NodeSetattrer  = (*node)(nil)
	_ fs.NodeReaddirer  = (*node)(nil)
	_ fs.NodeOpener     = (*node)(nil)
	_ fs.NodeCreater    = (*node)(nil)
	_ fs.NodeMkdirer    = (*node)(nil)
	_ fs.NodeMknoder    = (*node)(nil)
	_ fs.NodeUnlinker   = (*node)(nil)
	_ fs.NodeRmdirer    = (*node)(nil)
	_ fs.NodeRenamer    = (*node)(nil)
	_ fs.NodeSymlinker  = (*node)(nil)
	_ fs.NodeReadlinker = (*node)(nil)
	_ fs.NodeLinker     = (*node)(nil)
	_ fs.NodeStatfser   = (*node)(nil)
)

// vpath returns the node's path in the view. A node no longer linked to
// the root (its name was unlinked or renamed over while it stays open)
// gets a path no view entry has, so that nothing resolves it to another
// entry (the root, say).
func (n *node) vpath() string {
	if n.IsRoot() {
		return ""
	}
	var parts []string
	for in := n.EmbeddedInode(); !in.IsRoot(); {
		name, parent := in.Parent()
		if parent == nil {
			return orphanPath
		}
		parts = append(parts, name)
		in = parent
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// errGone answers a call the kernel makes on an inode whose path the view
// no longer has (gone in a rescan, a gesture, or a rename that beat a
// directory listing's lookup of the name; replaced by a rename; or whose
// local entry is gone): ESTALE makes the kernel look the name up again and
// retry (open, stat, readlink, opendir all do), so the call finds what the
// path holds now, or ENOENT, or creates the file an O_CREAT open asked
// for, instead of failing on a stale entry.
const errGone = syscall.ESTALE

// goneIfMissing is errnoOf(err), but errGone if the local entry a path of
// the view stands for is missing: the view's model is a moment behind the
// tree (say a file renamed away before the next rescan), and the kernel's
// second look finds the name gone, or what replaced it.
func goneIfMissing(err error) syscall.Errno {
	if errno := errnoOf(err); errno != syscall.ENOENT {
		return errno
	}
	return errGone
}

// orphanPath is the path of nodes cut off from the view: it contains a NUL
// byte, which no name can, so it never resolves.
const orphanPath = "\x00orphan"

func (n *node) child(name string) string { return tree.Join(n.vpath(), name) }

// newChild makes the inode for an entry just found or made.
func (n *node) newChild(ctx context.Context, t target, st *syscall.Stat_t, gen uint64, out *fuse.EntryOut) *fs.Inode {
	return n.NewInode(ctx, &node{v: n.v}, n.childAttr(t, st, gen, out))
}

// childAttr fills out for an entry just found or made and returns its
// inode's identity.
func (n *node) childAttr(t target, st *syscall.Stat_t, gen uint64, out *fuse.EntryOut) fs.StableAttr {
	var id fs.StableAttr
	if t.side == local {
		out.Attr.FromStat(st)
		id = fs.StableAttr{Mode: st.Mode & syscall.S_IFMT, Ino: n.v.localIno(st), Gen: gen}
		if t.sib != nil {
			// p.local is not the same inode as p: the names come and go
			// with resolutions
			id.Ino = remoteIno(t.real, local)
		}
	} else {
		e := n.v.model().remote[t.real]
		id = fs.StableAttr{Mode: kindMode(e.Kind), Ino: remoteIno(t.real, remote)}
		n.v.remoteAttr(e, id.Ino, &out.Attr)
		readOnlyAttr(t, &out.Attr)
	}
	out.Attr.Ino = id.Ino
	if t.sib != nil || t.side == remote || t.merged != nil || t.glow != nil {
		// names that a gesture or a rescan may change: cache them briefly
		out.SetEntryTimeout(time.Millisecond)
		out.SetAttrTimeout(time.Millisecond)
	}
	return id
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e, ok := n.v.echoing(ctx); ok {
		if in, errno, done := n.echoLookup(ctx, e, name, out); done {
			return in, errno
		}
	}
	return n.lookup(ctx, name, out)
}

func (n *node) lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := n.v.model().resolve(n.child(name))
	if !ok {
		return nil, syscall.ENOENT
	}
	var st syscall.Stat_t
	var gen uint64
	if t.side == local {
		var err error
		if gen, err = n.v.lstat(t.real, &st); err != nil {
			return nil, errnoOf(err)
		}
	}
	id := n.childAttr(t, &st, gen, out)
	if known := n.GetChild(name); known != nil && known.StableAttr().Mode == id.Mode && sameEntry(known, t, id) {
		out.Attr.Ino = known.StableAttr().Ino
		return known, 0
	}
	return n.NewInode(ctx, &node{v: n.v}, id), 0
}

// sameEntry reports whether known, the inode the kernel knows at a name,
// still stands for target t there (of identity id), though what backs it
// changed. A directory keeps its inode when it is made in LOCAL by a
// write inside it: with another one the kernel would drop the name, and
// the processes inside would lose their working directory (getcwd
// fails). A version only the remote held keeps its inode once copied
// into LOCAL, by a write or a sync: programs that compare the inode of
// the path with the one of their open file (SQLite) would take the file
// for replaced.
func sameEntry(known *fs.Inode, t target, id fs.StableAttr) bool {
	if id.Mode == syscall.S_IFDIR {
		return true
	}
	return t.side == local && t.sib == nil && t.merged == nil && t.glow == nil &&
		known.StableAttr().Ino == remoteIno(t.real, remote)
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	defer func() { out.Ino = n.StableAttr().Ino }()
	fga, _ := f.(fs.FileGetattrer)
	if fga != nil && !servesRemote(f) {
		return fga.Getattr(ctx, out)
	}
	m, vp := n.v.model(), n.vpath()
	if vp == orphanPath {
		// a remote version open: cut off from the view, only its open
		// file has attributes
		if fga != nil {
			return fga.Getattr(ctx, out)
		}
		var st syscall.Stat_t
		if n.statReplaced(&st) {
			out.FromStat(&st)
			return 0
		}
		return errGone // as in Open
	}
	t, ok := m.resolve(vp)
	if !ok {
		if fga != nil {
			return fga.Getattr(ctx, out) // an open remote version
		}
		return errGone
	}
	if t.side == remote {
		n.v.remoteAttr(m.remote[t.real], n.StableAttr().Ino, &out.Attr)
		readOnlyAttr(t, &out.Attr)
		return 0
	}
	var st syscall.Stat_t
	if _, err := n.v.lstat(t.real, &st); err != nil {
		return goneIfMissing(err)
	}
	if want := n.StableAttr().Mode; vp != "" && want != 0 && st.Mode&syscall.S_IFMT != want {
		// the path now holds another kind of entry than this inode (say a
		// symlink swapped in for a file): its attributes are not this
		// inode's
		return syscall.EIO
	}
	out.FromStat(&st)
	return 0
}

func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	m := n.v.model()
	t, ok := m.resolve(n.vpath())
	if !ok {
		return nil, errGone
	}
	seen, err := n.v.children(m, t)
	if err != nil {
		return nil, errnoOf(err)
	}
	// an entry the kernel knows shows that inode's number, as stat does
	// (a directory made in LOCAL keeps its inode; a conflict's version
	// has its own)
	for name, e := range seen {
		if in := n.GetChild(name); in != nil && in.StableAttr().Mode == e.Mode&syscall.S_IFMT {
			e.Ino = in.StableAttr().Ino
			seen[name] = e
		}
	}
	// "." and "..", as a filesystem lists them (ls -a, readdir(3) users
	// counting entries)
	up := n.EmbeddedInode()
	if _, parent := up.Parent(); parent != nil {
		up = parent
	}
	return fs.NewListDirStream(append([]fuse.DirEntry{
		{Name: ".", Mode: fuse.S_IFDIR, Ino: n.StableAttr().Ino},
		{Name: "..", Mode: fuse.S_IFDIR, Ino: up.StableAttr().Ino},
	}, sortedEntries(seen)...)), 0
}

// children returns the entries the view shows in directory t.
func (v *View) children(m *model, t target) (map[string]fuse.DirEntry, error) {
	seen := map[string]fuse.DirEntry{}
	if t.side == remote {
		for _, name := range m.rkids[t.real] {
			p := tree.Join(t.real, name)
			if m.gone[p] {
				continue
			}
			seen[name] = fuse.DirEntry{Name: name, Mode: kindMode(m.remote[p].Kind), Ino: remoteIno(p, remote)}
		}
		return seen, nil
	}
	fd, err := v.openDir(t.real)
	if err != nil {
		return nil, err
	}
	// the stream owns fd from here on: its Close closes it, and nothing
	// else may
	ds, errno := fs.NewLoopbackDirStreamFd(fd)
	if errno != 0 {
		unix.Close(fd)
		return nil, errno
	}
	for ds.HasNext() {
		e, errno := ds.Next()
		if errno != 0 {
			break
		}
		if e.Name == "." || e.Name == ".." {
			continue
		}
		p := tree.Join(t.real, e.Name)
		if hiddenName(p) || (!t.under && m.ov[p] != nil) || (t.under && m.goneLocal[p]) {
			continue
		}
		seen[e.Name] = e
	}
	ds.Close()
	if !t.under {
		for _, name := range m.extra[t.real] {
			ct, ok := m.step(t, name)
			if !ok {
				continue
			}
			var e fuse.DirEntry
			if ct.side == remote {
				e = fuse.DirEntry{Name: name, Mode: kindMode(m.remote[ct.real].Kind), Ino: remoteIno(ct.real, remote)}
			} else {
				var st syscall.Stat_t
				if _, err := v.lstat(ct.real, &st); err != nil {
					continue
				}
				e = fuse.DirEntry{Name: name, Mode: st.Mode & syscall.S_IFMT, Ino: v.localIno(&st)}
			}
			seen[name] = e
		}
	}
	return seen, nil
}

// sortedEntries returns the entries of seen in name order.
func sortedEntries(seen map[string]fuse.DirEntry) []fuse.DirEntry {
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	list := make([]fuse.DirEntry, len(names))
	for i, name := range names {
		list[i] = seen[name]
	}
	return list
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	t, ok := n.v.model().resolve(n.vpath())
	if !ok {
		return nil, errGone
	}
	if t.side == remote {
		e := n.v.model().remote[t.real]
		if e.Kind != tree.Symlink {
			return nil, syscall.EINVAL
		}
		return []byte(e.Target), 0
	}
	s, err := n.v.lt.Readlink(t.real)
	if err != nil {
		return nil, errnoOf(err)
	}
	return []byte(s), 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var s syscall.Statfs_t
	if err := n.v.lt.At("statfs", "", func(dirfd int, name string) error {
		return syscall.Statfs(procPath(dirfd, name), &s)
	}); err != nil {
		return errnoOf(err)
	}
	out.FromStatfsT(&s)
	return 0
}

// knownFile returns the inode the kernel knows for the regular file name in
// directory n, or nil.
func (n *node) knownFile(name string) *node {
	in := n.GetChild(name)
	if in == nil || in.StableAttr().Mode != syscall.S_IFREG {
		return nil
	}
	c, _ := in.Operations().(*node)
	return c
}

// keepReplaced keeps f, the local file this inode stood for, which a
// rename just replaced (see node.replaced); it takes f over.
func (n *node) keepReplaced(f *os.File) {
	n.replacedMu.Lock()
	old := n.replaced
	n.replaced = f
	n.replacedMu.Unlock()
	if old != nil {
		old.Close()
	}
}

// openReplaced opens the file a rename replaced, or returns nil.
func (n *node) openReplaced(flags uint32) *os.File {
	n.replacedMu.Lock()
	defer n.replacedMu.Unlock()
	if n.replaced == nil {
		return nil
	}
	// reopening an O_PATH descriptor through its /proc link opens the
	// inode itself, whatever its name is now
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(int(n.replaced.Fd())), int(flags)|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), n.replaced.Name())
}

// statReplaced fills st from the file a rename replaced, if it is kept.
func (n *node) statReplaced(st *syscall.Stat_t) bool {
	n.replacedMu.Lock()
	defer n.replacedMu.Unlock()
	return n.replaced != nil && syscall.Fstat(int(n.replaced.Fd()), st) == nil
}

// OnForget closes the replaced file kept for the kernel's late opens.
func (n *node) OnForget() { n.keepReplaced(nil) }

// Fsync syncs an open file through its handle, and a directory's entries
// in LOCAL (fsync on a directory: databases and careful writers ask for it
// after creating or renaming a file). A directory only the remote holds
// has nothing to sync here: the mount never writes the remote.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if ff, ok := f.(fs.FileFsyncer); ok {
		return ff.Fsync(ctx, flags)
	}
	if n.StableAttr().Mode != syscall.S_IFDIR {
		return syscall.ENOTSUP
	}
	t, ok := n.v.model().resolve(n.vpath())
	if !ok || t.side != local || t.glow != nil {
		return 0
	}
	fd, err := n.v.openDir(t.real)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	return errnoOf(unix.Fsync(fd))
}

// isWrite reports whether open flags may change the file.
func isWrite(flags uint32) bool {
	return flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC) != 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	flags &^= syscall.O_APPEND
	vp := n.vpath()
	if vp == orphanPath {
		// The kernel looked the name up before a rename replaced this
		// inode, and opens it after. A read opens the replaced file, as
		// on a filesystem; otherwise ESTALE makes the kernel look the
		// name up again, so the open finds the new file, as it would
		// have an instant later (a write to a file no name leads to
		// would be lost).
		if !isWrite(flags) {
			if f := n.openReplaced(flags); f != nil {
				return n.passthroughFile(f), 0, 0
			}
		}
		return nil, 0, errGone
	}
	t, ok := n.v.model().resolve(vp)
	if !ok {
		return nil, 0, errGone
	}
	if t.glow != nil && isWrite(flags) {
		return nil, 0, syscall.EROFS
	}
	if t.side == remote {
		if !isWrite(flags) {
			return n.openRemote(t)
		}
		if errno := n.v.copyUpFor(t); errno != 0 {
			return nil, 0, errno
		}
		f, err := n.v.openLocal(t.real, int(flags), 0)
		if err != nil {
			return nil, 0, fs.ToErrno(err)
		}
		return n.passthroughFile(f), 0, 0
	}
	f, err := n.v.openLocal(t.real, int(flags), 0)
	if err != nil {
		return nil, 0, goneIfMissing(err)
	}
	return n.passthroughFile(f), 0, 0
}

// ptFile is a loopback file handle, which the kernel may serve by
// passthrough: it is counted on its node while open.
type ptFile struct {
	*fs.LoopbackFile
	n *node
}

// passthroughFile makes the handle of f, an open file of n; the handle
// closes f at release.
func (n *node) passthroughFile(f *os.File) *ptFile {
	n.passthrough.Add(1)
	return &ptFile{fs.NewLoopbackFileFromOS(f), n}
}

func (f *ptFile) Release(ctx context.Context) syscall.Errno {
	f.n.passthrough.Add(-1)
	return f.LoopbackFile.Release(ctx)
}

// openRemote serves a remote version from the local cache. A version not
// there yet is served as it arrives (see streamed), unless the inode is
// open with passthrough already (a LOCAL file another process holds open,
// the inode having changed sides): then the open waits for all of it, and
// the kernel may still refuse it, as it refuses any open of such an inode
// that does not pass through to the same file.
func (n *node) openRemote(t target) (fs.FileHandle, uint32, syscall.Errno) {
	e := n.v.model().remote[t.real]
	if e.Kind != tree.File {
		return nil, 0, syscall.EISDIR
	}
	var cache string
	var err error
	if sf, ok := n.v.b.(StreamFetcher); ok && n.passthrough.Load() == 0 {
		var s Stream
		cache, s, err = sf.FetchStream(t.real, e)
		if err == nil && s != nil {
			return &streamed{s: s, v: n.v, e: e}, fuse.FOPEN_DIRECT_IO, 0
		}
	} else {
		cache, err = n.v.fetch(t.real, e)
	}
	if err != nil {
		return nil, 0, syscall.EIO
	}
	f, err := os.Open(cache)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	return readOnly{fs.NewLoopbackFileFromOS(f)}, fuse.FOPEN_DIRECT_IO, 0
}

// servesRemote reports whether f serves a remote version (whose
// attributes are the remote's, not those of the file the handle reads).
func servesRemote(f fs.FileHandle) bool {
	switch f.(type) {
	case readOnly, *streamed:
		return true
	}
	return false
}

// readOnly serves a cached remote version from the cache file, and
// refuses changes. It is opened for direct I/O without passthrough: the
// kernel lets an inode pass through to one backing file only, and reuses
// it for every open of the inode while one is open. A cache file as that
// backing would serve, and take the writes of, a later open of the file
// LOCAL then holds (after a write copies the version into LOCAL, or a
// sync). Shared maps of it work where the kernel allows them on direct
// I/O (FUSE_DIRECT_IO_ALLOW_MMAP).
type readOnly struct{ *fs.LoopbackFile }

// PassthroughFd keeps the kernel from passing readOnly through.
func (readOnly) PassthroughFd() (int, bool) { return 0, false }

func (r readOnly) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (r readOnly) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return 0, syscall.EROFS
}

// streamed serves a remote version while it is being fetched: a read
// waits for its bytes to arrive, so the first bytes come long before the
// last. Its bytes are verified against the version only once all came; a
// read after a failed verification fails with EIO. It is opened for
// direct I/O, without passthrough: the kernel keeps no pages of it, and
// later opens of the inode may use passthrough (of the cache file, once
// there) while it is open. A shared mmap of it fails (ENODEV); a private
// one, as exec and loaders make, works.
type streamed struct {
	s Stream
	v *View
	e tree.Entry // the version
}

// Getattr gives the version's attributes, for an fstat once the path left
// the view (see node.Getattr).
func (f *streamed) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	f.v.remoteAttr(f.e, 0, &out.Attr)
	return 0
}

var (
	_ fs.FileReader   = (*streamed)(nil)
	_ fs.FileReleaser = (*streamed)(nil)
	_ fs.FileFlusher  = (*streamed)(nil)
	_ fs.FileFsyncer  = (*streamed)(nil)
)

func (f *streamed) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	n, err := f.s.ReadAt(ctx, dest, off)
	if err != nil {
		if ctx.Err() != nil {
			return nil, syscall.EINTR
		}
		return nil, syscall.EIO
	}
	// written out as is: a read of 1 MiB does not fit the pipe go-fuse
	// would splice ReadResultData through
	return fuse.ReadResultVector([][]byte{dest[:n]}), 0
}

func (f *streamed) Release(ctx context.Context) syscall.Errno {
	f.s.Close()
	return 0
}

func (f *streamed) Flush(ctx context.Context) syscall.Errno { return 0 }

func (f *streamed) Fsync(ctx context.Context, flags uint32) syscall.Errno { return 0 }

// fetch fetches a remote version without the gesture lock: a remote that
// hangs holds up this open only.
func (v *View) fetch(real string, e tree.Entry) (string, error) {
	return v.b.Fetch(real, e)
}

// Extended attributes pass through to local entries; versions only the
// remote holds have none, and take none.

var (
	_ fs.NodeGetxattrer    = (*node)(nil)
	_ fs.NodeSetxattrer    = (*node)(nil)
	_ fs.NodeListxattrer   = (*node)(nil)
	_ fs.NodeRemovexattrer = (*node)(nil)
)

// onLocal runs fn on a path naming the local entry behind n through its
// directory's descriptor (see procPath), or returns remoteErr for versions
// only the remote holds.
func (n *node) onLocal(remoteErr syscall.Errno, fn func(p string) error) syscall.Errno {
	t, ok := n.v.model().resolve(n.vpath())
	if !ok {
		return syscall.ENOENT
	}
	if t.side == remote || t.glow != nil {
		return remoteErr
	}
	return errnoOf(n.v.lt.At("xattr", t.real, func(dirfd int, name string) error {
		return fn(procPath(dirfd, name))
	}))
}

func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var sz int
	errno := n.onLocal(syscall.ENODATA, func(p string) (err error) {
		sz, err = unix.Lgetxattr(p, attr, dest)
		return err
	})
	return uint32(sz), errno
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.onLocal(syscall.ENOTSUP, func(p string) error { return unix.Lsetxattr(p, attr, data, int(flags)) })
}

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	var sz int
	errno := n.onLocal(0, func(p string) (err error) {
		sz, err = unix.Llistxattr(p, dest)
		return err
	})
	return uint32(sz), errno
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.onLocal(syscall.ENODATA, func(p string) error { return unix.Lremovexattr(p, attr) })
}
