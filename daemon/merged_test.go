package daemon

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

// mergedSc is a conflict on a text file whose edits overlap: the view
// shows its merge as p.merged.
var mergedSc = scenario{base: map[string]string{"p": "a\nb\nc\n", "keep": "k"},
	local: map[string]string{"p": "a\nL\nc\n"}, remote: map[string]string{"p": "a\nR\nc\n"}}

const mergedP = "a\n<<<<<<< local\nL\n=======\nR\n>>>>>>> remote\nc\n"

// inBackup reports whether the backup area of root holds a file with
// content want, under any name.
func inBackup(root, want string) bool {
	found := false
	filepath.WalkDir(filepath.Join(root, tree.BackupDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && string(b) == want {
				found = true
			}
		}
		return nil
	})
	return found
}

// TestMergedGestures: what editors and file managers do to p.merged.
func TestMergedGestures(t *testing.T) {
	for _, c := range []struct {
		name, gesture, after string
		view                 map[string]string
		local                map[string]string // LOCAL right after the gesture
		remount              bool
		// then: a second gesture, and what both sides hold after commit
		then      string
		conflicts int
		both      map[string]string
	}{
		{name: "mv p.merged p", gesture: "mv p.merged p", after: "keep p", view: map[string]string{"p": mergedP},
			both: map[string]string{"p": mergedP}},
		{name: "editor: temporary renamed onto p.merged", gesture: `printf 'a\nX\nc\n' > .p.merged.tmp && mv .p.merged.tmp p.merged`,
			after: "keep p.local p.merged p.remote", view: map[string]string{"p.merged": "a\nX\nc\n"}, remount: true,
			then: "mv p.merged p", both: map[string]string{"p": "a\nX\nc\n"}},
		{name: "Emacs: p.merged renamed to a backup, written anew", gesture: `mv p.merged p.merged~ && printf 'a\nY\nc\n' > p.merged`,
			after: "keep p.local p.merged p.merged~ p.remote", view: map[string]string{"p.merged": "a\nY\nc\n", "p.merged~": mergedP}, remount: true,
			then: "rm p.local p.remote", both: map[string]string{"p": "a\nY\nc\n"}},
		{name: "mv p.merged q", gesture: "mv p.merged q",
			after: "keep p.local p.remote q", view: map[string]string{"q": mergedP, "p.merged": absent}, remount: true,
			conflicts: 1, both: map[string]string{"q": mergedP}},
		{name: "gio trash p.merged, then restore it", gesture: "gio trash p.merged && mv .Trash-0/files/p.merged p.merged",
			after: "keep p.local p.merged p.remote", view: map[string]string{"p.merged": mergedP}, remount: true,
			local: map[string]string{"p.merged": absent}, // p.merged again, not a new file of that name
			then:  "gio trash p.merged", conflicts: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t, mergedSc)
			if got := lsMount(t, f.mnt); got != "keep p.local p.merged p.remote" {
				t.Fatalf("view before = %q", got)
			}
			mustSh(t, f.mnt, c.gesture)
			if got := lsMount(t, f.mnt); got != c.after {
				t.Fatalf("view after %q = %q, want %q", c.gesture, got, c.after)
			}
			checkView(t, "view", f.mnt, c.view)
			check(t, "local", f.local, c.local)
			if c.remount {
				f.remount(t)
				if got := lsMount(t, f.mnt); got != c.after {
					t.Fatalf("view after a remount = %q, want %q", got, c.after)
				}
				checkView(t, "view after a remount", f.mnt, c.view)
			}
			if c.then != "" {
				mustSh(t, f.mnt, c.then)
			}
			f.commitWant(t, c.conflicts)
			check(t, "local", f.local, c.both)
			check(t, "remote", f.remote, c.both)
			if c.conflicts > 0 {
				check(t, "local", f.local, map[string]string{"p": "a\nL\nc\n"})
				check(t, "remote", f.remote, map[string]string{"p": "a\nR\nc\n"})
			}
		})
	}
}

// TestMergedSSH: a merge taken in the view reaches a remote over ssh.
func TestMergedSSH(t *testing.T) {
	sc := mergedSc
	sc.sshRemote = true
	// another size: plain SFTP sees no same-size edit within the second
	sc.remote = map[string]string{"p": "a\nRemote\nc\n"}
	f := setup(t, sc)
	if got := lsMount(t, f.mnt); got != "keep p.local p.merged p.remote" {
		t.Fatalf("view before = %q", got)
	}
	mustSh(t, f.mnt, `printf 'a\nLR\nc\n' > p.merged && mv p.merged p`)
	f.commitWant(t, 0)
	check(t, "both", f.remote, map[string]string{"p": "a\nLR\nc\n"})
	if !inBackup(f.remote, "a\nRemote\nc\n") || !inBackup(f.local, "a\nL\nc\n") {
		t.Error("the edited versions are not in the backup areas")
	}
}

// TestMergedStaleEdit: when a side changes the file again, p.merged shows
// the new merge, and what the user had made of the old one goes to the
// local backup area.
func TestMergedStaleEdit(t *testing.T) {
	f := setup(t, mergedSc)
	mustSh(t, f.mnt, `printf 'a\nmine\nc\n' > p.merged`)
	if err := os.WriteFile(filepath.Join(f.remote, "p"), []byte("a\nR2\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkView(t, "view", f.mnt, map[string]string{"p.merged": strings.Replace(mergedP, "R\n", "R2\n", 1)})
	if !inBackup(f.local, "a\nmine\nc\n") {
		t.Error("the edited merge is not in the local backup area")
	}
}

// TestMergedOtherSiblingAnswers: after rm p.local, while p.merged showed,
// p.remote is no longer listed but answers for a moment (so that removing
// it too takes the merge), refusing writes; then it is gone.
func TestMergedOtherSiblingAnswers(t *testing.T) {
	f := setup(t, mergedSc)
	mustSh(t, f.mnt, "rm p.local")
	if got := lsMount(t, f.mnt); got != "keep p" {
		t.Fatalf("view = %q", got)
	}
	checkView(t, "view", f.mnt, map[string]string{"p": "a\nR\nc\n", "p.remote": "a\nR\nc\n"})
	if out, err := sh(t, f.mnt, "printf x > p.remote"); err == nil || !strings.Contains(out, "Read-only") {
		t.Errorf("write to p.remote after rm p.local: %v %s", err, out)
	}
	time.Sleep(6 * time.Second)
	if out, err := sh(t, f.mnt, "rm p.remote"); err == nil {
		t.Errorf("rm p.remote long after rm p.local succeeded: %s", out)
	}
	f.commitWant(t, 0)
	check(t, "local", f.local, map[string]string{"p": "a\nR\nc\n"})
}

// TestStressMerged: listings and reads of the view, rescans and edits of
// p.merged all at once; p.merged keeps showing, holds one of the edits
// whole, and then resolves the conflict.
func TestStressMerged(t *testing.T) {
	f := setup(t, mergedSc)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	loop := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := fn(); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	edits := map[string]bool{mergedP: true}
	for i := 0; i < 4; i++ {
		edits[fmt.Sprintf("a\nedit %d\nc\n", i)] = true
	}
	loop(func() error { _, err := f.d.Rescan(context.Background()); return err })
	for i := 0; i < 2; i++ {
		loop(func() error {
			des, err := os.ReadDir(f.mnt)
			if err != nil {
				return err
			}
			var ns []string
			for _, de := range des {
				if de.Name() != ".p.merged.tmp" { // the writer's, for a moment
					ns = append(ns, de.Name())
				}
			}
			if got := strings.Join(ns, " "); got != "keep p.local p.merged p.remote" {
				return fmt.Errorf("the view lists %s", got)
			}
			b, err := os.ReadFile(filepath.Join(f.mnt, "p.merged"))
			if err != nil {
				return err
			}
			if len(b) > 0 && !edits[string(b)] {
				return fmt.Errorf("p.merged holds %q", b)
			}
			return nil
		})
	}
	n := 0
	loop(func() error {
		n++
		tmp := filepath.Join(f.mnt, ".p.merged.tmp")
		if err := os.WriteFile(tmp, []byte(fmt.Sprintf("a\nedit %d\nc\n", n%4)), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, filepath.Join(f.mnt, "p.merged"))
	})
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	want := content(f.mnt, "p.merged")
	if !edits[want] {
		t.Fatalf("p.merged holds %q", want)
	}
	mustSh(t, f.mnt, "mv p.merged p")
	f.commitWant(t, 0)
	check(t, "remote", f.remote, map[string]string{"p": want})
}
