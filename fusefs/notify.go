package fusefs

import (
	"context"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// Watchers on the mount (inotify: GIO's file monitor, so Nautilus and
// Thunar, or inotifywait) hear only of operations that pass through the
// kernel's VFS on the mount. FUSE's invalidations produce no event for a
// directory's watcher (NOTIFY_DELETE gives IN_DELETE_SELF to a watch on
// the entry itself only; NOTIFY_INVAL_ENTRY and NOTIFY_INVAL_INODE nothing).
// So when the view changes by itself (a gesture collapses siblings, a rescan
// or a commit installs new decisions), the view echoes each change on its
// own mount: one goroutine, locked to its thread, makes the matching call
// through the mountpoint (mknod, mkdir or symlink for a name that appeared,
// unlink or rmdir for one that vanished, a touch of the mtime for new
// content), and the view answers the requests of that thread alone (the
// kernel gives the caller's thread id in each request) from the model,
// without touching the local tree. The kernel then emits IN_CREATE,
// IN_DELETE or IN_MODIFY as for any operation. The echo never runs inside a
// request handler or with a view lock held, and requests from any other
// thread are served as always.

// echoKind is what an echo does.
type echoKind uint8

const (
	echoCreate echoKind = iota
	echoDelete
	echoModify
)

// echo is one change of the view to make known on the mount.
type echo struct {
	kind echoKind
	path string // view path
	mode uint32 // S_IFMT of the entry that appeared or vanished
}

// notifier runs the echoes (and the kernel cache invalidations) of the
// installed models, in order, on its own goroutine.
type notifier struct {
	v    *View
	mnt  string
	dev  uint64 // the mount's device: the echoes never reach another file system
	tid  atomic.Int32
	cur  atomic.Pointer[echo] // the echo under way
	mu   sync.Mutex
	q    []batch
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// batch is what one install changed.
type batch struct {
	old, m *model
	echoes []echo
}

func newNotifier(v *View, mnt string) *notifier {
	nt := &notifier{v: v, mnt: mnt, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err == nil {
		nt.dev = st.Dev
	}
	ready := make(chan struct{})
	go nt.loop(ready)
	<-ready
	return nt
}

// push queues a batch; it never blocks.
func (nt *notifier) push(b batch) {
	nt.mu.Lock()
	nt.q = append(nt.q, b)
	nt.mu.Unlock()
	select {
	case nt.wake <- struct{}{}:
	default:
	}
}

func (nt *notifier) close() {
	select {
	case <-nt.stop:
	default:
		close(nt.stop)
	}
	<-nt.done
}

func (nt *notifier) loop(ready chan struct{}) {
	// the thread is never unlocked: it ends with the goroutine, so its id
	// is never another goroutine's
	runtime.LockOSThread()
	nt.tid.Store(int32(unix.Gettid()))
	close(ready)
	defer close(nt.done)
	defer nt.tid.Store(0)
	for {
		select {
		case <-nt.stop:
			return
		case <-nt.wake:
		}
		for {
			nt.mu.Lock()
			if len(nt.q) == 0 {
				nt.mu.Unlock()
				break
			}
			b := nt.q[0]
			nt.q = nt.q[1:]
			nt.mu.Unlock()
			select {
			case <-nt.stop:
				return
			default:
			}
			nt.v.invalidate(b.old, b.m)
			nt.run(b.echoes)
		}
	}
}

// run makes the echoes through a descriptor of the mount's root, once it
// is sure the mountpoint still shows this mount (never the directory
// under it, after an unmount).
func (nt *notifier) run(es []echo) {
	if len(es) == 0 {
		return
	}
	fd, err := unix.Open(nt.mnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Dev != nt.dev {
		return
	}
	for i := range es {
		e := es[i]
		if !nt.v.stillTrue(e) {
			continue // the view moved on since (a later batch tells)
		}
		nt.cur.Store(&e)
		switch e.kind {
		case echoCreate:
			switch e.mode {
			case syscall.S_IFDIR:
				unix.Mkdirat(fd, e.path, 0o755)
			case syscall.S_IFLNK:
				unix.Symlinkat(".", fd, e.path)
			default:
				unix.Mknodat(fd, e.path, e.mode|0o644, 0)
			}
		case echoDelete:
			flags := 0
			if e.mode == syscall.S_IFDIR {
				flags = unix.AT_REMOVEDIR
			}
			unix.Unlinkat(fd, e.path, flags)
		case echoModify:
			ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_NOW}}
			unix.UtimesNanoAt(fd, e.path, ts, unix.AT_SYMLINK_NOFOLLOW)
		}
		nt.cur.Store(nil)
	}
}

// stillTrue reports whether the view still shows what echo e tells: a
// name that appeared is there with the same kind, one that vanished is
// not (a user may have made it again meanwhile: its own event told).
func (v *View) stillTrue(e echo) bool {
	m := v.model()
	// the names of conflicts just resolved (glow) are gone from the view
	t, ok := m.resolveGlow(e.path, false)
	mode := uint32(0)
	if ok && t.side == remote {
		mode = kindMode(m.remote[t.real].Kind)
	} else if ok {
		var st syscall.Stat_t
		if _, err := v.lstat(t.real, &st); err != nil {
			ok = false
		} else {
			mode = st.Mode & syscall.S_IFMT
		}
	}
	if e.kind == echoDelete {
		return !ok
	}
	return ok && mode == e.mode
}

// echoing returns the echo under way when the request comes from the
// notifier's thread (nil otherwise).
func (v *View) echoing(ctx context.Context) (*echo, bool) {
	nt := v.nt.Load()
	if nt == nil {
		return nil, false
	}
	c, ok := fuse.FromContext(ctx)
	if !ok || c.Pid == 0 || int32(c.Pid) != nt.tid.Load() {
		return nil, false
	}
	return nt.cur.Load(), true
}

// echoLookup answers a lookup of the notifier: a name it is about to
// create does not exist yet, one it is about to remove still does.
func (n *node) echoLookup(ctx context.Context, e *echo, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno, bool) {
	if e == nil || e.path != n.child(name) {
		return nil, 0, false
	}
	switch e.kind {
	case echoCreate:
		return nil, syscall.ENOENT, true
	case echoDelete:
		id := fs.StableAttr{Mode: e.mode, Ino: remoteIno(e.path, remote) ^ 1}
		if ch := n.GetChild(name); ch != nil {
			id = ch.StableAttr()
		}
		out.Attr.Mode = id.Mode | 0o644
		out.Attr.Ino = id.Ino
		out.SetEntryTimeout(0)
		out.SetAttrTimeout(0)
		return n.NewInode(ctx, &node{v: n.v}, id), 0, true
	}
	return nil, 0, false
}

// echoMake answers the notifier's mknod, mkdir or symlink: the entry the
// view now shows under that name, without touching the local tree.
func (n *node) echoMake(ctx context.Context, e *echo, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e == nil || e.kind != echoCreate || e.path != n.child(name) {
		return nil, syscall.EPERM
	}
	return n.lookup(ctx, name, out)
}

// echoRemove answers the notifier's unlink or rmdir: the name is gone from
// the view already.
func (n *node) echoRemove(e *echo, name string) syscall.Errno {
	if e == nil || e.kind != echoDelete || e.path != n.child(name) {
		return syscall.EPERM
	}
	return 0
}

// owning wraps a gesture's fn: the view paths the gesture's own request
// creates or removes get their events from the kernel, so the view does
// not echo them.
func (v *View) owning(paths []string, fn func() (bool, syscall.Errno)) func() (bool, syscall.Errno) {
	return func() (bool, syscall.Errno) {
		reload, errno := fn()
		if errno == 0 {
			if v.own == nil {
				v.own = map[string]bool{}
			}
			for _, p := range paths {
				v.own[p] = true
			}
		}
		return reload, errno
	}
}

// shown is an entry the view shows for a decision.
type shown struct {
	path string
	e    tree.Entry
}

// shownFor returns what the view of model m shows for decision d (a
// conflict shows two siblings).
func (m *model) shownFor(d *reconcile.Decision, buf []shown) []shown {
	buf = buf[:0]
	if hiddenName(d.Path) {
		return buf
	}
	if d.Under != "" {
		o := m.ov[d.Under]
		if o == nil || o.kind != ovConflict || !tree.IsUnder(d.Path, d.Under) {
			return buf
		}
		rel := d.Path[len(d.Under)+1:]
		dir := tree.Parent(d.Under)
		if o.localName != "" && d.Local.Exists() && !m.goneLocal[d.Path] {
			buf = append(buf, shown{tree.Join(tree.Join(dir, o.localName), rel), d.Local})
		}
		if o.remoteName != "" && d.Remote.Exists() && !m.gone[d.Path] {
			buf = append(buf, shown{tree.Join(tree.Join(dir, o.remoteName), rel), d.Remote})
		}
		return buf
	}
	o := m.ov[d.Path]
	switch {
	case o == nil:
		if d.Local.Exists() {
			buf = append(buf, shown{d.Path, d.Local})
		}
	case o.kind == ovRemote:
		buf = append(buf, shown{d.Path, d.Remote})
	case o.kind == ovConflict:
		dir := tree.Parent(d.Path)
		if o.localName != "" {
			buf = append(buf, shown{tree.Join(dir, o.localName), d.Local})
		}
		if o.remoteName != "" {
			buf = append(buf, shown{tree.Join(dir, o.remoteName), d.Remote})
		}
		if o.mergedName != "" {
			buf = append(buf, shown{tree.Join(dir, o.mergedName), o.merge.e})
		}
	}
	return buf
}

// sameShown reports whether a watcher needs no event for an entry that
// showed a and now shows b.
func sameShown(a, b tree.Entry) bool {
	return a.Kind == b.Kind && a.Perm == b.Perm && a.Size == b.Size && a.MtimeNs == b.MtimeNs &&
		a.Hash == b.Hash && a.Target == b.Target
}

// siblingNames returns the sibling names of the conflict a decision lies
// in, if any: local, remote and merged.
func (m *model) siblingNames(d *reconcile.Decision) [3]string {
	p := d.Path
	if d.Under != "" {
		p = d.Under
	}
	if o := m.ov[p]; o != nil {
		return [3]string{o.localName, o.remoteName, o.mergedName}
	}
	return [3]string{}
}

// echoes returns what changed in the view between two installs (old
// decisions ods shown by model om, new ones nds by m), both in tree order:
// the paths that vanished, then those that appeared, then those whose
// content changed. Only the topmost of the paths that appear or vanish
// counts (a watcher lists a new directory), and the paths in own (changed
// by the requests of gestures, which the kernel reported) are left out.
func echoes(ods []reconcile.Decision, om *model, nds []reconcile.Decision, m *model, own map[string]bool) []echo {
	type change struct {
		old, new *tree.Entry
	}
	changes := map[string]*change{}
	var ob, nb []shown
	note := func(od, nd *reconcile.Decision) {
		if od != nil && nd != nil && *od == *nd {
			if om.siblingNames(od) == m.siblingNames(nd) && om.gone[od.Path] == m.gone[od.Path] && om.goneLocal[od.Path] == m.goneLocal[od.Path] {
				return
			}
		}
		ob, nb = ob[:0], nb[:0]
		if od != nil {
			ob = om.shownFor(od, ob)
		}
		if nd != nil {
			nb = m.shownFor(nd, nb)
		}
		for i := range ob {
			c := changes[ob[i].path]
			if c == nil {
				c = &change{}
				changes[ob[i].path] = c
			}
			e := ob[i].e
			c.old = &e
		}
		for i := range nb {
			c := changes[nb[i].path]
			if c == nil {
				c = &change{}
				changes[nb[i].path] = c
			}
			e := nb[i].e
			c.new = &e
		}
	}
	i, j := 0, 0
	for i < len(ods) || j < len(nds) {
		switch {
		case j == len(nds) || (i < len(ods) && tree.Compare(ods[i].Path, nds[j].Path) < 0):
			note(&ods[i], nil)
			i++
		case i == len(ods) || tree.Compare(ods[i].Path, nds[j].Path) > 0:
			note(nil, &nds[j])
			j++
		default:
			note(&ods[i], &nds[j])
			i++
			j++
		}
	}
	var dels, adds, mods []echo
	for p, c := range changes {
		switch {
		case c.old != nil && c.new != nil && c.old.Kind == c.new.Kind:
			if !sameShown(*c.old, *c.new) && c.new.Kind != tree.Dir {
				mods = append(mods, echo{echoModify, p, kindMode(c.new.Kind)})
			}
			continue
		}
		if c.old != nil {
			dels = append(dels, echo{echoDelete, p, kindMode(c.old.Kind)})
		}
		if c.new != nil {
			adds = append(adds, echo{echoCreate, p, kindMode(c.new.Kind)})
		}
	}
	// a path under one that appears or vanishes needs no event of its own
	moved := map[string]bool{}
	for _, e := range append(dels, adds...) {
		moved[e.path] = true
	}
	keep := func(es []echo) []echo {
		out := es[:0]
		for _, e := range es {
			top := true
			for d := tree.Parent(e.path); d != ""; d = tree.Parent(d) {
				if moved[d] {
					top = false
					break
				}
			}
			if top && !own[e.path] {
				out = append(out, e)
			}
		}
		sort.Slice(out, func(a, b int) bool { return tree.Compare(out[a].path, out[b].path) < 0 })
		return out
	}
	out := keep(dels)
	out = append(out, keep(adds)...)
	return append(out, keep(mods)...)
}

// startNotifier starts echoing the view's changes on the mount at mnt.
func (v *View) startNotifier(mnt string) {
	v.nt.Store(newNotifier(v, mnt))
}

// notifyTimeout bounds how long Close waits for the echoes under way.
const notifyTimeout = 5 * time.Second

// stopNotifier stops the echoes (the mount is gone or going).
func (v *View) stopNotifier() {
	nt := v.nt.Load()
	if nt == nil {
		return
	}
	done := make(chan struct{})
	go func() { nt.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(notifyTimeout):
		// an echo waits on a mount that no longer answers: it fails
		// once the kernel gives up on it
	}
}
