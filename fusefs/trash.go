package fusefs

import (
	"errors"
	"os"
	"syscall"

	"github.com/myrrorfs/myrrorfs/tree"
)

// A sibling moved into the mount's trash resolves its conflict (as rm),
// and a copy lands in the trash. The file manager's Undo, or "Restore",
// moves that copy back to the sibling's name: the view then reopens the
// conflict, moving its bases back to what they were before the trash
// gesture, instead of taking the copy as a new file named p.local.

// trashed is a conflict sibling moved into the trash.
type trashed struct {
	vp    string       // the sibling's view path
	path  string       // the conflict's path
	side  side         // the version the sibling showed
	e     tree.Entry   // that version
	bases []BaseChange // the conflict's bases before the gesture
}

// rememberTrash records that the sibling st, shown at view path vp, was
// moved to local trash path to; called with gmu held.
func (v *View) rememberTrash(to, vp string, st target, e tree.Entry) {
	if v.trashed == nil {
		v.trashed = map[string]trashed{}
	}
	v.trashed[to] = trashed{vp: vp, path: st.real, side: st.side, e: e, bases: st.sib.baseBefore()}
}

// untrash handles a rename of local trash path from to view path dst
// when it puts a trashed sibling back under its name (done set): the
// conflict is reopened and the copy leaves the trash. A local version
// goes back to the conflict's path if the local tree no longer holds it
// there (a commit replaced it: what replaced it goes to the backup area).
// A remote version that the remote no longer holds (a commit replaced
// it) cannot reopen the conflict: the rename is then an ordinary one.
// Called with gmu held.
func (v *View) untrash(from, dst string) (done, reload bool, errno syscall.Errno) {
	tr, ok := v.trashed[from]
	if !ok || tr.vp != dst || v.shows(dst) {
		return false, false, 0
	}
	switch tr.side {
	case remote:
		still, err := v.remoteHolds(tr.path, tr.e)
		if err != nil {
			return true, false, errnoOf(err)
		}
		if !still {
			delete(v.trashed, from)
			return false, false, 0
		}
		// the remote still holds the version: the copy is not needed
		if err := v.lt.Remove(from); err != nil {
			return true, false, errnoOf(err)
		}
	case local:
		var a, b syscall.Stat_t
		_, errA := v.lstat(from, &a)
		_, errB := v.lstat(tr.path, &b)
		switch {
		case errA != nil:
			return true, false, errnoOf(errA)
		case errB == nil && a.Dev == b.Dev && a.Ino == b.Ino:
			// a link to the version the local tree still holds
			if err := v.lt.Remove(from); err != nil {
				return true, false, errnoOf(err)
			}
		default:
			if errB == nil {
				if err := v.b.BackupLocal(tr.path); err != nil {
					return true, false, errnoOf(err)
				}
			} else if !errors.Is(errB, os.ErrNotExist) {
				return true, false, errnoOf(errB)
			}
			if err := v.rename(from, tr.path, 0); err != nil {
				return true, true, errnoOf(err)
			}
		}
	}
	delete(v.trashed, from)
	return true, true, errnoOf(v.b.SetBases(tr.bases))
}

// remoteHolds reports whether the remote side, as last scanned, holds
// version e at path.
func (v *View) remoteHolds(path string, e tree.Entry) (bool, error) {
	ds, err := v.b.Refresh()
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.Path == path {
			return tree.Same(d.Remote, e), nil
		}
	}
	return false, nil
}
