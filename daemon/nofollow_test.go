package daemon

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestViewLocalCallsStayInTree swaps a local directory for a symlink to a
// directory outside the tree while the kernel still caches the entry (and
// the file in it), then makes calls on local-backed entries below it that
// the local replica has no plain method for: create, open for writing,
// truncate, mknod, times, owner, extended attributes. Nothing outside the
// tree may be created or changed.
func TestViewLocalCallsStayInTree(t *testing.T) {
	cases := []struct {
		name    string
		gesture string                 // shell script run in the mount
		call    func(mnt string) error // or a call made from this process
	}{
		{name: "create", gesture: "printf x > d/new"},
		{name: "open for append", gesture: "printf x >> d/f"},
		{name: "open with O_TRUNC", gesture: ": > d/f"},
		{name: "truncate", gesture: "truncate -s 0 d/f"},
		{name: "mknod", gesture: "mkfifo d/fifo"},
		{name: "times", gesture: "touch -d @1 d/f"},
		{name: "owner", gesture: "chown 1:1 d/f"},
		{name: "mode", gesture: "chmod 600 d/f"},
		{name: "xattr", call: func(mnt string) error {
			return unix.Lsetxattr(filepath.Join(mnt, "d/f"), "user.myrrorfs-test", []byte("v"), 0)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t, scenario{base: map[string]string{"d/f": "base"}})
			// the kernel caches d and d/f
			checkView(t, "view", f.mnt, map[string]string{"d/f": "base"})
			outside := t.TempDir()
			victim := filepath.Join(outside, "f")
			if err := os.WriteFile(victim, []byte("outside"), 0o644); err != nil {
				t.Fatal(err)
			}
			old := time.Unix(1000, 0)
			if err := os.Chtimes(victim, old, old); err != nil {
				t.Fatal(err)
			}
			var before unix.Stat_t
			if err := unix.Lstat(victim, &before); err != nil {
				t.Fatal(err)
			}
			swapped := filepath.Join(f.local, "d")
			if err := os.RemoveAll(swapped); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, swapped); err != nil {
				t.Fatal(err)
			}
			if c.call != nil {
				t.Logf("call: %v", c.call(f.mnt))
			} else {
				out, err := sh(t, f.mnt, c.gesture)
				t.Logf("gesture %q: %v %s", c.gesture, err, out)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("the view created entries outside the tree: %v", names)
			}
			var after unix.Stat_t
			if err := unix.Lstat(victim, &after); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(victim); string(b) != "outside" {
				t.Errorf("a file outside the tree was written: %q", b)
			}
			if after.Mode != before.Mode || after.Uid != before.Uid || after.Gid != before.Gid ||
				after.Mtim != before.Mtim || after.Atim != before.Atim {
				t.Errorf("a file outside the tree changed: mode %o->%o owner %d:%d->%d:%d mtime %v->%v atime %v->%v",
					before.Mode, after.Mode, before.Uid, before.Gid, after.Uid, after.Gid, before.Mtim, after.Mtim, before.Atim, after.Atim)
			}
			if sz, _ := unix.Llistxattr(victim, nil); sz > 0 {
				t.Errorf("a file outside the tree got extended attributes")
			}
		})
	}
}

// TestRenameNoReplaceRace renames with RENAME_NOREPLACE through the view
// while the target appears in the local tree behind the view's back: the
// rename must either fail with EEXIST or happen before the target appears,
// never replace it.
func TestRenameNoReplaceRace(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"x": "x"}})
	deadline := time.Now().Add(5 * time.Second)
	rounds, raced := 0, 0
	for i := 0; i < 3000 && time.Now().Before(deadline); i++ {
		rounds++
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		if err := os.WriteFile(filepath.Join(f.local, a), []byte("A"), 0o644); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(rand.Intn(200)) * time.Microsecond
		var wg sync.WaitGroup
		var made error
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(delay)
			var fd int
			fd, made = unix.Open(filepath.Join(f.local, b), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if made == nil {
				unix.Write(fd, []byte("B"))
				unix.Close(fd)
			}
		}()
		err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(f.mnt, a), unix.AT_FDCWD, filepath.Join(f.mnt, b), unix.RENAME_NOREPLACE)
		wg.Wait()
		if err == nil && made == nil {
			t.Fatalf("round %d: RENAME_NOREPLACE succeeded and replaced %s, which appeared meanwhile (now %q)", i, b, content(f.local, b))
		}
		if err != nil && made == nil {
			raced++
		}
		if err != nil && err != unix.EEXIST {
			t.Fatalf("round %d: rename: %v", i, err)
		}
		os.Remove(filepath.Join(f.local, a))
		os.Remove(filepath.Join(f.local, b))
	}
	t.Logf("%d rounds, %d renames refused because the target appeared first", rounds, raced)
}
