package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestDotEntries: directories of the view list "." and ".." as a
// filesystem does, and the root has an inode number (0 reads as none).
func TestDotEntries(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"d/x": "x", "y": "y"}})
	for _, dir := range []string{f.mnt, filepath.Join(f.mnt, "d")} {
		got := strings.Fields(mustSh(t, dir, "LC_ALL=C ls -a1"))
		if len(got) < 3 || got[0] != "." || got[1] != ".." {
			t.Errorf("ls -a in %s lists %q", dir, got)
		}
	}
	var root, d syscall.Stat_t
	if err := syscall.Stat(f.mnt, &root); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Join(f.mnt, "d"), &d); err != nil {
		t.Fatal(err)
	}
	if root.Ino == 0 || d.Ino == 0 || root.Ino == d.Ino {
		t.Errorf("inode numbers: root %d, d %d", root.Ino, d.Ino)
	}
	ino := direntInos(t, filepath.Join(f.mnt, "d"))
	if ino["."] != d.Ino || ino[".."] != root.Ino {
		t.Errorf("d lists . as %d and .. as %d, want %d and %d", ino["."], ino[".."], d.Ino, root.Ino)
	}
}

// direntInos returns the inode numbers getdents gives the entries of dir.
func direntInos(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	ino := map[string]uint64{}
	fd, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.ReadDirent(int(fd.Fd()), buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return ino
		}
		for b := buf[:n]; len(b) > 0; {
			de := (*syscall.Dirent)(unsafe.Pointer(&b[0]))
			name := b[unsafe.Offsetof(de.Name):de.Reclen]
			if i := strings.IndexByte(string(name), 0); i >= 0 {
				name = name[:i]
			}
			ino[string(name)] = de.Ino
			b = b[de.Reclen:]
		}
	}
}

// TestFsyncDirectory: fsync and fdatasync of a directory of the view (as
// databases and careful writers do after a create or a rename) succeed,
// whether LOCAL or only the remote holds it.
func TestFsyncDirectory(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"d/x": "x"}, remote: map[string]string{"r/y": "y"}})
	for _, dir := range []string{"", "d", "r"} {
		fd, err := syscall.Open(filepath.Join(f.mnt, dir), syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Fsync(fd); err != nil {
			t.Errorf("fsync of %q: %v", dir, err)
		}
		if err := syscall.Fdatasync(fd); err != nil {
			t.Errorf("fdatasync of %q: %v", dir, err)
		}
		syscall.Close(fd)
	}
}

// TestLinkRemoteOnly: a hard link to a file only the remote holds makes it
// local first, as a write would; both names then hold it, and a commit
// carries both.
func TestLinkRemoteOnly(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"keep": "k"}, remote: map[string]string{"d/f": "x"}})
	mustSh(t, f.mnt, "ln d/f d/g && ln d/f h")
	if got := content(f.local, "d/g") + content(f.local, "h"); got != "xx" {
		t.Fatalf("LOCAL d/g and h: %q", got)
	}
	var a, b syscall.Stat_t
	syscall.Stat(filepath.Join(f.local, "d/f"), &a)
	syscall.Stat(filepath.Join(f.local, "h"), &b)
	if a.Ino != b.Ino || a.Nlink != 3 {
		t.Errorf("LOCAL d/f and h: inodes %d and %d, %d links", a.Ino, b.Ino, a.Nlink)
	}
	f.commitWant(t, 0)
	check(t, "remote", f.remote, map[string]string{"keep": "k", "d/f": "x", "d/g": "x", "h": "x"})
}
