package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Tests that what appears, vanishes or changes in the view reaches inotify
// watchers on the mount (as GIO's file monitor, so Nautilus and Thunar, and
// inotifywait -r see it), whether a gesture, a rescan or a commit changed it.

// notifyWithin is how soon a watcher must hear of a change.
const notifyWithin = time.Second

// inotifyEvent is one event a watcher got, with its path relative to the
// watched root.
type inotifyEvent struct {
	path string
	mask uint32
}

func (e inotifyEvent) String() string {
	var names []string
	for _, m := range []struct {
		bit  uint32
		name string
	}{{unix.IN_CREATE, "CREATE"}, {unix.IN_DELETE, "DELETE"}, {unix.IN_MOVED_FROM, "MOVED_FROM"},
		{unix.IN_MOVED_TO, "MOVED_TO"}, {unix.IN_MODIFY, "MODIFY"}, {unix.IN_ATTRIB, "ATTRIB"},
		{unix.IN_CLOSE_WRITE, "CLOSE_WRITE"}, {unix.IN_DELETE_SELF, "DELETE_SELF"}, {unix.IN_ISDIR, "ISDIR"}} {
		if e.mask&m.bit != 0 {
			names = append(names, m.name)
		}
	}
	return e.path + " " + strings.Join(names, ",")
}

// watcher is a recursive inotify watcher on a directory, as inotifywait -r
// sets one up: a watch on every directory, and on every directory that
// appears.
type watcher struct {
	fd   int
	root string
	mu   sync.Mutex
	dirs map[int]string // watch descriptor -> directory relative to root
	evs  []inotifyEvent
	done chan struct{}
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF

// watch starts a recursive watcher on root, stopped when t ends.
func watch(t *testing.T, root string) *watcher {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	w := &watcher{fd: fd, root: root, dirs: map[int]string{}, done: make(chan struct{})}
	if err := w.addTree(""); err != nil {
		unix.Close(fd)
		t.Fatalf("watch %s: %v", root, err)
	}
	stop := make(chan struct{})
	go w.loop(stop)
	t.Cleanup(func() {
		close(stop)
		<-w.done
		unix.Close(fd)
	})
	return w
}

// addTree watches directory rel and every directory under it (trash
// folders left out).
func (w *watcher) addTree(rel string) error {
	return filepath.WalkDir(filepath.Join(w.root, rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		r, _ := filepath.Rel(w.root, p)
		if r == "." {
			r = ""
		}
		if strings.HasPrefix(r, ".Trash") {
			return filepath.SkipDir
		}
		wd, err := unix.InotifyAddWatch(w.fd, p, watchMask)
		if err != nil {
			return nil
		}
		w.mu.Lock()
		w.dirs[wd] = filepath.ToSlash(r)
		w.mu.Unlock()
		return nil
	})
}

func (w *watcher) loop(stop chan struct{}) {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		select {
		case <-stop:
			return
		default:
		}
		fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(fds, 50); n <= 0 {
			continue
		}
		n, err := unix.Read(w.fd, buf)
		if err != nil || n <= 0 {
			continue
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if i := strings.IndexByte(string(name), 0); i >= 0 {
				name = name[:i]
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			w.mu.Lock()
			dir, ok := w.dirs[int(ev.Wd)]
			w.mu.Unlock()
			if !ok {
				continue
			}
			p := dir
			if len(name) > 0 {
				p = strings.TrimPrefix(dir+"/"+string(name), "/")
			}
			w.mu.Lock()
			w.evs = append(w.evs, inotifyEvent{p, ev.Mask})
			w.mu.Unlock()
			if ev.Mask&unix.IN_ISDIR != 0 && ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0 {
				w.addTree(p)
			}
		}
	}
}

// events returns the events so far.
func (w *watcher) events() []inotifyEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]inotifyEvent(nil), w.evs...)
}

// reset forgets the events so far.
func (w *watcher) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evs = nil
}

// has reports whether some event on path p has a bit of mask.
func has(evs []inotifyEvent, p string, mask uint32) bool {
	for _, e := range evs {
		if e.path == p && e.mask&mask != 0 {
			return true
		}
	}
	return false
}

const (
	gone     = unix.IN_DELETE | unix.IN_MOVED_FROM
	appeared = unix.IN_CREATE | unix.IN_MOVED_TO
	changed  = unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE
)

// expectEvents waits until the watcher got, for each path of want, an
// event with a bit of its mask, and fails t with what it got otherwise.
func expectEvents(t *testing.T, w *watcher, want map[string]uint32) {
	t.Helper()
	deadline := time.Now().Add(notifyWithin)
	for {
		evs := w.events()
		var missing []string
		for _, p := range sortedKeys(want) {
			if !has(evs, p, want[p]) {
				missing = append(missing, fmt.Sprintf("%s (%s)", p, inotifyEvent{mask: want[p]}.String()[1:]))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the watcher got no event for %s; it got %v", notifyWithin, strings.Join(missing, ", "), evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noEvents fails t if the watcher got an event on one of paths.
func noEvents(t *testing.T, w *watcher, paths ...string) {
	t.Helper()
	for _, e := range w.events() {
		for _, p := range paths {
			if e.path == p {
				t.Errorf("unexpected event %v (all: %v)", e, w.events())
			}
		}
	}
}

// findMount lists every path of the mount (trash folders left out), with
// find(1) in a separate process.
func findMount(t *testing.T, mnt string) map[string]bool {
	t.Helper()
	out := mustSh(t, mnt, `find . -mindepth 1 -name '.Trash*' -prune -o -print`)
	ps := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimPrefix(l, "./"); l != "" {
			ps[l] = true
		}
	}
	return ps
}

// topmost keeps the paths of ps whose parent is not in ps.
func topmost(ps map[string]bool) []string {
	var out []string
	for p := range ps {
		if !ps[filepath.Dir(p)] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TestNotifyGestures makes every gesture of the design's table in a mount
// watched by a recursive inotify watcher: every path that vanished from
// the view gets a delete or move-out event, every path that appeared a
// create or move-in event (the topmost of them: a watcher lists what a new
// directory holds), within a second, and the untouched file none.
func TestNotifyGestures(t *testing.T) {
	for _, c := range gestureCases {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t, c.sc)
			before := findMount(t, f.mnt)
			w := watch(t, f.mnt)
			if out, err := sh(t, f.mnt, c.gesture); err != nil {
				t.Fatalf("gesture %q: %v\n%s", c.gesture, err, out)
			}
			after := findMount(t, f.mnt)
			vanished, came := map[string]bool{}, map[string]bool{}
			for p := range before {
				if !after[p] {
					vanished[p] = true
				}
			}
			for p := range after {
				if !before[p] {
					came[p] = true
				}
			}
			want := map[string]uint32{}
			for _, p := range topmost(vanished) {
				want[p] = gone
			}
			for _, p := range topmost(came) {
				want[p] |= appeared
			}
			expectEvents(t, w, want)
			noEvents(t, w, "keep")
		})
	}
}

// TestNotifyCollapseLeavesLocalAlone: the events of a collapse are the
// daemon's own operations on its mount, which never reach the local tree.
func TestNotifyCollapseLeavesLocalAlone(t *testing.T) {
	f := setup(t, mm)
	w := watch(t, f.mnt)
	mustSh(t, f.mnt, "rm p.local")
	expectEvents(t, w, map[string]uint32{"p.remote": gone, "p": appeared, "p.local": gone})
	check(t, "local after rm p.local", f.local, map[string]string{"p": "L", "p.local": absent, "p.remote": absent, "keep": "k"})
	checkView(t, "view", f.mnt, map[string]string{"p": "R", "p.local": absent, "p.remote": absent})
	if got := lsMount(t, f.mnt); got != "keep p" {
		t.Errorf("view = %q", got)
	}
	f.commitWant(t, 0)
	check(t, "both after commit", f.local, map[string]string{"p": "R"})
	check(t, "both after commit", f.remote, map[string]string{"p": "R"})
}

// TestNotifyRescan: what a rescan brings into the view (remote creations,
// edits and deletions, outside changes of the local tree) reaches the
// watcher.
func TestNotifyRescan(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"e": "base", "x": "base", "keep": "k", "d/y": "base", "l": "base", "lx": "base"}})
	w := watch(t, f.mnt)
	checkView(t, "view", f.mnt, map[string]string{"e": "base", "x": "base", "d/y": "base"})
	put(t, f.remote, map[string]string{"n": "new", "e": "edited on the remote", "d/z": "deep", "nd/a": "A"})
	os.Remove(filepath.Join(f.remote, "x"))
	put(t, f.local, map[string]string{"ln": "new local", "l": "edited locally"})
	os.Remove(filepath.Join(f.local, "lx"))
	w.reset()
	if _, err := f.d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, w, map[string]uint32{
		"n": appeared, "d/z": appeared, "nd": appeared, "e": changed, "x": gone,
		"ln": appeared, "l": changed, "lx": gone,
	})
	noEvents(t, w, "keep", "d/y")
	checkView(t, "view", f.mnt, map[string]string{"n": "new", "e": "edited on the remote", "x": absent, "d/z": "deep", "nd/a": "A"})
	check(t, "local (the events never reach it)", f.local, map[string]string{"n": absent, "e": "base", "x": "base", "nd": absent, "d/z": absent})

	// a conflict made behind the mount's back: p becomes p.local and p.remote
	put(t, f.local, map[string]string{"e": "L"})
	put(t, f.remote, map[string]string{"e": "R"})
	w.reset()
	if _, err := f.d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, w, map[string]uint32{"e": gone, "e.local": appeared, "e.remote": appeared})
}

// TestNotifyCommit: a commit rescans first; what that brings reaches the
// watcher, and a remote-backed file that becomes local-backed with the same
// content neither vanishes nor appears.
func TestNotifyCommit(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"keep": "k", "r": "base"}, remote: map[string]string{"r": "R"}})
	checkView(t, "view", f.mnt, map[string]string{"r": "R"})
	w := watch(t, f.mnt)
	put(t, f.remote, map[string]string{"c": "made before commit"})
	f.commitWant(t, 0)
	expectEvents(t, w, map[string]uint32{"c": appeared})
	for _, e := range w.events() {
		if e.path == "r" && e.mask&(gone|appeared) != 0 {
			t.Errorf("r vanished or appeared at commit: %v", w.events())
		}
	}
	noEvents(t, w, "keep")
	checkView(t, "view", f.mnt, map[string]string{"r": "R", "c": "made before commit"})
	check(t, "local", f.local, map[string]string{"r": "R", "c": "made before commit"})
}

// TestNotifyConcurrentGestures: while rescans bring remote changes (whose
// echoes run on the mount), a user creates, renames and removes files in
// the mount: every operation succeeds, the local tree holds exactly what
// the user made, and the watcher heard of every remote file that stayed.
func TestNotifyConcurrentGestures(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"keep": "k"}})
	w := watch(t, f.mnt)
	const n = 15
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			put(t, f.remote, map[string]string{fmt.Sprintf("r%d", i): "remote"})
			if i > 0 {
				os.Remove(filepath.Join(f.remote, fmt.Sprintf("r%d", i-1)))
			}
			if _, err := f.d.Rescan(context.Background()); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	mustSh(t, f.mnt, `i=0; while [ $i -lt 40 ]; do
		printf $i > u$i && mv u$i v$i && cat v$i >/dev/null && ls >/dev/null || exit 1
		[ $i -gt 0 ] && { rm v$((i-1)) || exit 1; }
		i=$((i+1)); done`)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"v39": "39", "v38": absent, "u39": absent, "keep": "k"}
	check(t, "local", f.local, want)
	for i := 0; i < n-1; i++ {
		want[fmt.Sprintf("r%d", i)] = absent
	}
	want[fmt.Sprintf("r%d", n-1)] = "remote"
	checkView(t, "view", f.mnt, want)
	expectEvents(t, w, map[string]uint32{fmt.Sprintf("r%d", n-1): appeared, "v39": appeared})
	if got := lsMount(t, f.mnt); got != fmt.Sprintf("keep r%d v39", n-1) {
		t.Errorf("view = %q", got)
	}
}
