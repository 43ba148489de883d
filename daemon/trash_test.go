package daemon

import (
	"path/filepath"
	"testing"
)

// TestRestoreFromTrashAfterCommit: p.local trashed, the resolution
// committed (LOCAL's p replaced by the remote version, the local one in
// the backup area), then restored from the trash: the conflict is open
// again with the restored version as p.local, and the version the commit
// brought goes to the backup area.
func TestRestoreFromTrashAfterCommit(t *testing.T) {
	f := setup(t, mm)
	mustSh(t, f.mnt, "gio trash p.local")
	f.commitWant(t, 0)
	check(t, "local after commit", f.local, map[string]string{"p": "R"})
	mustSh(t, f.mnt, "mv .Trash-0/files/p.local p.local")
	if got := lsMount(t, f.mnt); got != "keep p.local p.remote" {
		t.Fatalf("view after the restore = %q", got)
	}
	checkView(t, "view after the restore", f.mnt, map[string]string{"p.local": "L", "p.remote": "R", ".Trash-0/files/p.local": absent})
	check(t, "local after the restore", f.local, map[string]string{"p": "L", "p.local": absent})
	f.commitWant(t, 1)
	check(t, "remote", f.remote, map[string]string{"p": "R", "p.local": absent})
}

// TestRestoreRemoteFromTrashAfterCommit: p.remote trashed and the
// resolution committed (the remote's p replaced by the local version):
// the conflict cannot come back without writing to the remote, so the
// copy is restored as an ordinary file, nothing lost.
func TestRestoreRemoteFromTrashAfterCommit(t *testing.T) {
	f := setup(t, mm)
	mustSh(t, f.mnt, "gio trash p.remote")
	f.commitWant(t, 0)
	mustSh(t, f.mnt, "mv .Trash-0/files/p.remote p.remote")
	if got := lsMount(t, f.mnt); got != "keep p p.remote" {
		t.Fatalf("view after the restore = %q", got)
	}
	checkView(t, "view after the restore", f.mnt, map[string]string{"p": "L", "p.remote": "R"})
}

// TestRestoreFromTrashAfterRemount: the trash remembers what a restore
// needs, across a new daemon on the same pair.
func TestRestoreFromTrashAfterRemount(t *testing.T) {
	for _, sib := range []string{"p.local", "p.remote"} {
		t.Run(sib, func(t *testing.T) {
			f := setup(t, mm)
			mustSh(t, f.mnt, "gio trash "+sib)
			if got := lsMount(t, filepath.Join(f.mnt, ".Trash-0")); got != "files/ info/" {
				t.Errorf("the trash folder shows %q", got)
			}
			f.remount(t)
			mustSh(t, f.mnt, "mv .Trash-0/files/"+sib+" "+sib)
			if got := lsMount(t, f.mnt); got != "keep p.local p.remote" {
				t.Fatalf("view after the restore = %q", got)
			}
			checkView(t, "view after the restore", f.mnt, map[string]string{"p.local": "L", "p.remote": "R", ".Trash-0/files/" + sib: absent})
			f.commitWant(t, 1)
			check(t, "local", f.local, map[string]string{"p": "L", sib: absent})
			check(t, "remote", f.remote, map[string]string{"p": "R", sib: absent})
		})
	}
}
