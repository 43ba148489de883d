package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStatOpenRemoteVersionAfterRemoval: a process holding a remote version
// open can still fstat and read it after the path left the view.
func TestStatOpenRemoteVersionAfterRemoval(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"p": "base", "keep": "k"}, remote: map[string]string{"p": "remote version"}})
	r, err := os.Open(filepath.Join(f.mnt, "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Remove(filepath.Join(f.mnt, "p")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the kernel's attribute cache
	fi, err := r.Stat()
	if err != nil || fi.Size() != int64(len("remote version")) {
		t.Fatalf("fstat of the open remote version after rm: %v, %v", fi, err)
	}
	buf := make([]byte, 64)
	if n, _ := r.ReadAt(buf, 0); string(buf[:n]) != "remote version" {
		t.Fatalf("read %q", buf[:n])
	}
}

// TestWriteWhileRemoteVersionRead: a remote-backed file held open for
// reading is served from its remote version (as it arrives, or from the
// cache once there); opening it for writing meanwhile copies it up into
// LOCAL, and the writes must land there, never in the cache the reader
// reads (as they would if the write open were given a backing file the
// inode already passes through to). The reader goes on reading the
// version it opened, as with a replaced file. Also once a commit brought
// the version into LOCAL while the reader holds it.
func TestWriteWhileRemoteVersionRead(t *testing.T) {
	for _, c := range []struct {
		name                string
		cached, commitFirst bool
	}{{"first read", false, false}, {"cached", true, false}, {"cached, then committed", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t, scenario{base: map[string]string{"p": "base", "keep": "k"}, remote: map[string]string{"p": "remote version"}})
			p := filepath.Join(f.mnt, "p")
			if c.cached {
				if got := viewContent(t, f.mnt, "p"); got != "remote version" { // now in the cache
					t.Fatalf("view p = %q", got)
				}
			}
			r, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			buf := make([]byte, 64)
			if n, _ := r.ReadAt(buf, 0); string(buf[:n]) != "remote version" {
				t.Fatalf("read %q", buf[:n])
			}
			if c.commitFirst {
				f.commitWant(t, 0)
				if got := content(f.local, "p"); got != "remote version" {
					t.Fatalf("LOCAL p after commit = %q", got)
				}
			}
			if err := os.WriteFile(p, []byte("local edit"), 0o644); err != nil {
				t.Fatalf("write while the remote version is read: %v", err)
			}
			if got := content(f.local, "p"); got != "local edit" {
				t.Fatalf("LOCAL p = %q, want the edit", got)
			}
			if n, _ := r.ReadAt(buf, 0); string(buf[:n]) != "remote version" {
				t.Fatalf("the reader of the remote version now reads %q", buf[:n])
			}
			r.Close()
			if got := viewContent(t, f.mnt, "p"); got != "local edit" {
				t.Fatalf("view p = %q", got)
			}
			f.commitWant(t, 0)
			if got := content(f.remote, "p"); got != "local edit" {
				t.Fatalf("remote p after commit = %q", got)
			}
		})
	}
}
