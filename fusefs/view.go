// Package fusefs renders the merged view of a pair as a FUSE file system:
// each path shows the version that should win, a conflict shows as
// name.local and name.remote, and gestures in a file manager become local
// operations plus moves of a path's base (see the design's gesture table).
// The view never writes to the remote side.
package fusefs

import (
	"context"
	"hash/fnv"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Backend is what the view needs from the pair it shows. Its methods but
// Fetch are called with the view's gesture lock held, one at a time.
// Fetch, which may wait on the remote, is never called with the lock held:
// it may run at any time, concurrently with any other method.
type Backend interface {
	// Refresh rescans the local side, reconciles it with the base and the
	// latest remote scan, and returns the decisions in tree order.
	Refresh() ([]reconcile.Decision, error)
	// Fetch returns a local file holding the remote version e of path.
	Fetch(path string, e tree.Entry) (string, error)
	// SetBases moves the bases of paths at once, durably (an Entry of
	// kind tree.Absent clears a base).
	SetBases(cs []BaseChange) error
	// BackupLocal moves a local path into the local backup area.
	BackupLocal(path string) error
}

// StreamFetcher is implemented by a Backend that can show a remote version
// while it is still being fetched. Like Fetch, FetchStream is never called
// with the view's gesture lock held.
type StreamFetcher interface {
	// FetchStream returns a local file holding the remote version e of
	// path when there is one already, else a Stream of the version as it
	// arrives. It fails when the remote file cannot be opened.
	FetchStream(path string, e tree.Entry) (string, Stream, error)
}

// Stream is a remote version being fetched, read as it arrives.
type Stream interface {
	// ReadAt reads len(b) bytes at off once they arrived; fewer only at
	// the end of the file. It fails when the fetch failed (the remote
	// file changed since the scan, say) or ctx ended first.
	ReadAt(ctx context.Context, b []byte, off int64) (int, error)
	// Close releases the stream; the fetch goes on.
	Close() error
}

// Tree is the local tree as the view changes it: replica/local's replica,
// whose every call resolves its path beneath the root without following a
// symlink (openat2 with RESOLVE_BENEATH), so that nothing the view writes
// can land outside the tree, whatever was swapped in behind its back.
type Tree interface {
	replica.Replica
	replica.Copier
	// At runs fn on the directory holding p, resolved beneath the root
	// without following a symlink, and p's last component (the root's
	// descriptor and "." for p == ""), for calls the replica has no
	// method for; fn must not follow the last component either.
	At(op, p string, fn func(dirfd int, name string) error) error
	// RenameFlags is Rename with renameat2 flags (RENAME_NOREPLACE,
	// RENAME_EXCHANGE), atomic like the system call.
	RenameFlags(oldp, newp string, flags uint) error
}

// BaseChange moves the base of one path.
type BaseChange = tree.BaseChange

// View is the merged view of one pair.
type View struct {
	b    Backend
	lt   Tree   // every write to the local tree goes through it
	root string // local tree on disk

	mu sync.RWMutex
	m  *model

	gmu     sync.Mutex         // serializes gestures and reloads
	fetched map[string]fetched // remote versions fetched for the gesture holding gmu
	moved   map[string]moved   // siblings just renamed away, by view path (see reuseSibling); under gmu
	uid     uint32
	gid     uint32
	dev     uint64
	node    *node // the root node, once mounted

	ds  []reconcile.Decision     // the decisions installed last (under gmu)
	own map[string]bool          // view paths changed by gestures' own requests since (under gmu)
	nt  atomic.Pointer[notifier] // echoes the view's own changes on the mount, once mounted

	ext     bool             // siblings keep the extension (NamesExt); set before mounting
	managed bool             // the view keeps the content of p.merged siblings (once mounted)
	glows   map[string]*glow // names of conflicts just resolved, by dir + "\x00" + name (under gmu)
}

// New makes a view of the local tree at localRoot, changed through lt (the
// replica of the same directory), with the decisions ds.
func New(localRoot string, b Backend, lt Tree, ds []reconcile.Decision) (*View, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(localRoot, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: localRoot, Err: err}
	}
	v := &View{b: b, lt: lt, root: localRoot, uid: st.Uid, gid: st.Gid, dev: st.Dev, ds: ds}
	v.m = v.build(ds)
	return v, nil
}

// build renders decisions as a model, with the merges the backend has
// for them; a mounted view first brings the content of its p.merged
// siblings in line with them (see merged.go). Called with gmu held (or
// before the view is shared).
func (v *View) build(ds []reconcile.Decision) *model {
	merges := v.mergesOf(ds)
	if v.managed {
		v.syncMerged(merges)
	}
	m := buildModel(ds, v.localNames, buildOpts{ext: v.ext, merges: merges})
	m.glow = v.liveGlows()
	return m
}

// MountOptions tune Mount.
type MountOptions struct {
	FsName string // shown as the mount's source (e.g. in /proc/mounts)
	Debug  bool   // log every FUSE request
	// Timeout is how long the kernel may cache names and attributes of
	// entries changed outside the mount; 0 means one second.
	Timeout time.Duration
	// AllowOther lets every user reach the mount, with the kernel checking
	// permissions against the modes and owners shown
	// (-o allow_other,default_permissions, as with sshfs).
	AllowOther bool
	// ReadOnly mounts the view read-only (-o ro): every write gets EROFS.
	ReadOnly bool
	// ConflictNames is how conflict siblings are named (NamesSuffix:
	// p.local; NamesExt: report.local.docx).
	ConflictNames NameStyle
}

// Mount mounts the view at mountpoint and returns the running server.
func (v *View) Mount(mountpoint string, o MountOptions) (*fuse.Server, error) {
	t := o.Timeout
	if t == 0 {
		t = time.Second
	}
	// a mounted view shows merges as p.merged, under the names it is
	// told to use
	v.gmu.Lock()
	v.ext, v.managed = o.ConflictNames == NamesExt, !o.ReadOnly
	m := v.build(v.ds)
	v.mu.Lock()
	v.m = m
	v.mu.Unlock()
	v.gmu.Unlock()
	v.node = &node{v: v}
	// No negative caching: a name a resolution brings back (p after
	// p.local and p.remote collapse) must show at once.
	// NullPermissions: stat shows the mode LOCAL holds, 0000 included (the
	// library would show 0644). The owners are those LOCAL holds too.
	opts := &fs.Options{
		EntryTimeout:    &t,
		AttrTimeout:     &t,
		NullPermissions: true,
		// the root's inode number shows as FUSE's root id, not 0 (which
		// programs take for no inode: ls -i prints "?")
		RootStableAttr: &fs.StableAttr{Ino: fuse.FUSE_ROOT_ID},
		MountOptions: fuse.MountOptions{
			FsName:        o.FsName,
			Name:          "myrrorfs",
			MaxWrite:      1 << 20,
			MaxBackground: 64,
			DirectMount:   os.Geteuid() == 0,
			EnableLocks:   true,
			// maps of remote versions, served with direct I/O
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
			Debug:             o.Debug,
		},
	}
	if o.AllowOther {
		opts.MountOptions.AllowOther = true
		opts.MountOptions.Options = append(opts.MountOptions.Options, "default_permissions")
	}
	if o.ReadOnly {
		opts.MountOptions.Options = append(opts.MountOptions.Options, "ro")
	}
	srv, err := fs.Mount(mountpoint, v.node, opts)
	if err != nil {
		return nil, err
	}
	v.startNotifier(mountpoint)
	return srv, nil
}

// Siblings returns the view paths under which the conflict at path shows
// its local and remote versions ("" for a side that has none, or when path
// is no conflict).
func (v *View) Siblings(path string) (local, remote string) {
	o := v.model().ov[path]
	if o == nil || o.kind != ovConflict {
		return "", ""
	}
	dir := tree.Parent(path)
	if o.localName != "" {
		local = tree.Join(dir, o.localName)
	}
	if o.remoteName != "" {
		remote = tree.Join(dir, o.remoteName)
	}
	return local, remote
}

// Close is called once the view is unmounted. The view holds no
// descriptor of its own (the local tree's replica holds the root's), so
// there is nothing to release; calling it again is harmless.
func (v *View) Close() error {
	v.stopNotifier()
	return nil
}

func (v *View) model() *model {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.m
}

// localNames lists a local directory (for sibling names).
func (v *View) localNames(dir string) []string {
	infos, err := v.lt.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, len(infos))
	for i, in := range infos {
		names[i] = in.Name
	}
	return names
}

// Update installs decisions computed elsewhere (a periodic rescan, a
// commit) and tells the kernel what changed.
func (v *View) Update(ds []reconcile.Decision) {
	v.gmu.Lock()
	defer v.gmu.Unlock()
	v.install(ds)
}

// UpdateIf is Update for decisions that may have been overtaken by a
// gesture made since they were computed: under the gesture lock, it
// installs ds if current() still says they are current, and otherwise
// reloads the view from the backend.
func (v *View) UpdateIf(ds []reconcile.Decision, current func() bool) {
	v.gmu.Lock()
	defer v.gmu.Unlock()
	if current() {
		v.install(ds)
		return
	}
	v.reload()
}

// reload rescans the local side after a gesture; called with gmu held.
func (v *View) reload() syscall.Errno {
	ds, err := v.b.Refresh()
	if err != nil {
		return syscall.EIO
	}
	v.install(ds)
	return 0
}

func (v *View) install(ds []reconcile.Decision) {
	m := v.build(ds)
	v.mu.Lock()
	old := v.m
	m.keepGone(old)
	v.m = m
	v.mu.Unlock()
	if nt := v.nt.Load(); nt != nil {
		nt.push(batch{old: old, m: m, echoes: echoes(v.ds, old, ds, m, v.own)})
	}
	v.ds, v.own = ds, nil
}

// invalidate tells the kernel to forget names whose meaning changed
// between two models. It runs on the notifier's goroutine: a notification
// sent from a FUSE handler would deadlock the mount.
func (v *View) invalidate(old, m *model) {
	changed := map[string]map[string]bool{} // dir -> names
	mark := func(p string, o *overlay) {
		dir := tree.Parent(p)
		if changed[dir] == nil {
			changed[dir] = map[string]bool{}
		}
		changed[dir][tree.Base(p)] = true
		if o != nil {
			for _, n := range []string{o.localName, o.remoteName, o.mergedName} {
				if n != "" {
					changed[dir][n] = true
				}
			}
		}
	}
	for p, o := range old.ov {
		if n := m.ov[p]; n == nil || !sameOverlay(o, n) {
			mark(p, o)
			mark(p, n)
		}
	}
	for p, n := range m.ov {
		if old.ov[p] == nil {
			mark(p, n)
		}
	}
	dirs := make([]string, 0, len(changed))
	for d := range changed {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		parent := v.inodeAt(d)
		if parent == nil {
			continue
		}
		for name := range changed[d] {
			if ch := parent.GetChild(name); ch != nil {
				ch.NotifyContent(0, 0)
				if ch.StableAttr().Mode == syscall.S_IFDIR && v.plainDir(m, tree.Join(d, name)) {
					// Still a directory (say a remote-only one now made
					// in LOCAL): the kernel would drop the name, and the
					// processes inside would lose their working
					// directory. Its attributes and listing are
					// refreshed above; lookups keep its inode.
					continue
				}
			}
			parent.NotifyEntry(name)
		}
	}
}

// plainDir reports whether view path vp is a directory in m, neither a
// conflict's version nor in the trash.
func (v *View) plainDir(m *model, vp string) bool {
	t, ok := m.resolve(vp)
	if !ok || t.sib != nil || t.glow != nil || t.merged != nil {
		return false
	}
	if t.side == remote {
		return m.remote[t.real].Kind == tree.Dir
	}
	st, err := v.lt.Lstat(t.real)
	return err == nil && st.Kind == tree.Dir
}

func sameOverlay(a, b *overlay) bool {
	return a.kind == b.kind && a.localName == b.localName && a.remoteName == b.remoteName && a.mergedName == b.mergedName &&
		tree.Same(a.d.Remote, b.d.Remote) && tree.Same(a.d.Local, b.d.Local)
}

// inodeAt finds the kernel-known inode of a view directory, if any.
func (v *View) inodeAt(dir string) *fs.Inode {
	in := v.node.EmbeddedInode()
	if dir == "" {
		return in
	}
	for _, c := range strings.Split(dir, "/") {
		if in = in.GetChild(c); in == nil {
			return nil
		}
	}
	return in
}

// remoteIno numbers remote-backed entries, away from local inode numbers.
func remoteIno(real string, s side) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(s)})
	h.Write([]byte(real))
	return h.Sum64() | 1<<63
}

// localIno numbers local entries as a loopback file system does.
func (v *View) localIno(st *syscall.Stat_t) uint64 {
	swapped := (uint64(st.Dev) << 32) | (uint64(st.Dev) >> 32)
	swappedRoot := (v.dev << 32) | (v.dev >> 32)
	return (swapped ^ swappedRoot) ^ st.Ino
}

// remoteAttr fills attributes for a remote version.
func (v *View) remoteAttr(e tree.Entry, ino uint64, out *fuse.Attr) {
	*out = fuse.Attr{Ino: ino, Size: uint64(e.Size), Nlink: 1, Blksize: 4096}
	out.Blocks = (out.Size + 511) / 512
	sec, nsec := uint64(e.MtimeNs/1e9), uint32(e.MtimeNs%1e9)
	out.Mtime, out.Mtimensec = sec, nsec
	out.Ctime, out.Ctimensec = sec, nsec
	out.Atime, out.Atimensec = sec, nsec
	out.Mode = kindMode(e.Kind) | e.Perm&0o7777
	if e.Kind == tree.Symlink {
		out.Mode |= 0o777
		out.Size = uint64(len(e.Target))
	}
	out.Owner = fuse.Owner{Uid: v.uid, Gid: v.gid}
}

func kindMode(k tree.Kind) uint32 {
	switch k {
	case tree.Dir:
		return syscall.S_IFDIR
	case tree.Symlink:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}
