package fusefs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/myrrorfs/myrrorfs/tree"
)

// A sibling moved into the mount's trash resolves its conflict (as rm),
// and a copy lands in the trash. The file manager's Undo, or "Restore",
// moves that copy back to the sibling's name: the view then reopens the
// conflict, moving its bases back to what they were before the trash
// gesture, instead of taking the copy as a new file named p.local.

// trashed is a conflict sibling moved into the trash. It is kept next
// to the copy, in the trash folder (under a name the view never shows), so
// that a restore days and remounts later still finds it.
type trashed struct {
	VP    string       // the sibling's view path
	Path  string       // the conflict's path
	Side  side         // the version the sibling showed
	E     tree.Entry   // that version
	Bases []BaseChange // the conflict's bases before the gesture
}

// trashRecord returns the local path of the record of trash path to:
// .Trash-UID/.myrrorfs-restore/<digest of to>.
func trashRecord(to string) string {
	top := to
	if i := strings.IndexByte(to, '/'); i >= 0 {
		top = to[:i]
	}
	sum := sha256.Sum256([]byte(to))
	return tree.Join(top, tree.InternalPrefix+"-restore/"+hex.EncodeToString(sum[:16]))
}

// rememberTrash records that the sibling st, shown at view path vp, was
// moved to local trash path to. Called with gmu held.
func (v *View) rememberTrash(to, vp string, st target, e tree.Entry) error {
	b, err := json.Marshal(trashed{VP: vp, Path: st.real, Side: st.side, E: e, Bases: st.sib.baseBefore()})
	if err != nil {
		return err
	}
	rec := trashRecord(to)
	if err := v.mkdirAll(tree.Parent(rec)); err != nil {
		return err
	}
	tmp, w, err := v.lt.CreateTemp(tree.Parent(rec), 0o600)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = v.lt.Rename(tmp, rec)
	}
	if err != nil {
		v.lt.Remove(tmp)
	}
	return err
}

// trashedAt returns the record of trash path from, if any.
func (v *View) trashedAt(from string) (trashed, bool) {
	var tr trashed
	r, err := v.lt.Open(trashRecord(from))
	if err != nil {
		return tr, false
	}
	defer r.Close()
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&tr); err != nil {
		return tr, false
	}
	return tr, true
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
	tr, ok := v.trashedAt(from)
	if !ok || tr.VP != dst || v.shows(dst) {
		return false, false, 0
	}
	if info, err := v.lt.Lstat(from); err != nil || info.Kind != tr.E.Kind || (tr.E.Kind == tree.File && info.Size != tr.E.Size) {
		return false, false, 0 // not the copy the record speaks of
	}
	switch tr.Side {
	case remote:
		still, err := v.remoteHolds(tr.Path, tr.E)
		if err != nil {
			return true, false, errnoOf(err)
		}
		if !still {
			v.lt.Remove(trashRecord(from))
			return false, false, 0
		}
		// the remote still holds the version: the copy is not needed
		if err := v.lt.Remove(from); err != nil {
			return true, false, errnoOf(err)
		}
	case local:
		var a, b syscall.Stat_t
		_, errA := v.lstat(from, &a)
		_, errB := v.lstat(tr.Path, &b)
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
				if err := v.b.BackupLocal(tr.Path); err != nil {
					return true, false, errnoOf(err)
				}
			} else if !errors.Is(errB, os.ErrNotExist) {
				return true, false, errnoOf(errB)
			}
			if err := v.rename(from, tr.Path, 0); err != nil {
				return true, true, errnoOf(err)
			}
		}
	}
	v.lt.Remove(trashRecord(from))
	return true, true, errnoOf(v.b.SetBases(tr.Bases))
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
