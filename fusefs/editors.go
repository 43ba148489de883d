package fusefs

import (
	"syscall"
	"time"
)

// Editors that save by renaming the file to a backup name (Emacs's
// default: p.local to p.local~) and writing a new file under the old name
// would resolve a conflict by accident: moving p.local elsewhere keeps
// both versions and brings the remote one back to p. So the view remembers
// a sibling renamed away for a moment, and a new entry made under its name
// right after (created, or renamed there) takes the sibling's place: it
// becomes the local version of the still open conflict.

// reuseWithin is how long after a sibling was renamed away a new entry
// under its name is taken as its new content.
const reuseWithin = 5 * time.Second

// moved is a conflict sibling just renamed away.
type moved struct {
	path  string       // the conflict's path
	bases []BaseChange // its bases before the rename, which reopen it
	at    time.Time
	// merged is set for p.merged, whose merge had the versions key: a
	// new entry under its name becomes its content again
	merged bool
	key    mergeKey
}

// remember records that the sibling shown at view path vp, the local
// version of the conflict at path p, was renamed away; called with gmu
// held.
func (v *View) remember(vp, p string, bases []BaseChange) {
	if v.moved == nil {
		v.moved = map[string]moved{}
	}
	for k, mv := range v.moved {
		if time.Since(mv.at) > reuseWithin {
			delete(v.moved, k)
		}
	}
	v.moved[vp] = moved{path: p, bases: bases, at: time.Now()}
}

// rememberMerged records that p.merged, shown at view path vp for the
// conflict at path p with the merge of versions key, was renamed away;
// called with gmu held.
func (v *View) rememberMerged(vp, p string, key mergeKey) {
	v.remember(vp, p, nil)
	mv := v.moved[vp]
	mv.merged, mv.key = true, key
	v.moved[vp] = mv
}

// shows reports whether the view has an entry at view path vp.
func (v *View) shows(vp string) bool {
	t, ok := v.model().resolve(vp)
	if !ok {
		return false
	}
	if t.side == local {
		_, err := v.lt.Lstat(t.real)
		return err == nil
	}
	return true
}

// reuseSibling returns the local path for a new entry at view path vp
// when vp names a sibling renamed away just before (ok set): the
// conflict's own path, with its bases moved back, so that the new entry
// is the conflict's local version. Called with gmu held.
func (v *View) reuseSibling(vp string) (real string, ok bool, errno syscall.Errno) {
	mv, found := v.moved[vp]
	if !found {
		return "", false, 0
	}
	delete(v.moved, vp)
	if time.Since(mv.at) > reuseWithin {
		return "", false, 0
	}
	if v.shows(vp) {
		return "", false, 0 // the name is taken again: nothing to reuse
	}
	if mv.merged {
		// p.merged again, if its conflict still has that merge
		c := contentPath(mv.path)
		rec, ok := v.readRecord(mv.path)
		if _, err := v.lt.Lstat(c); err == nil || !ok || !rec.matches(mv.key) || !rec.Dismissed {
			return "", false, 0
		}
		rec.Dismissed = false
		if err := v.writeRecord(rec); err != nil {
			return "", true, syscall.EIO
		}
		return c, true, 0
	}
	if _, err := v.lt.Lstat(mv.path); err == nil {
		return "", false, 0 // the local tree holds the path again
	}
	if err := v.b.SetBases(mv.bases); err != nil {
		return "", true, syscall.EIO
	}
	return mv.path, true, 0
}
