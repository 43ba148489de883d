package fusefs

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// This file resolves a conflict by name, without a gesture in a mounted
// view: `myrrorfs resolve` on a mount asks its daemon, and without a mount
// it makes a view of the pair that is never mounted. Each resolution runs
// the code of the gesture with the same meaning, under the gesture lock:
// keeping one side is moving that side's sibling to the bare name, keeping
// both is moving p.remote to a name of its own, keeping the merge is
// moving p.merged to the bare name.

// Keep is which version of a conflict a resolution keeps.
type Keep uint8

const (
	KeepLocal  Keep = iota + 1 // as `mv p.local p` (or `rm p.remote`)
	KeepRemote                 // as `mv p.remote p` (or `rm p.local`)
	KeepBoth                   // as `mv p.remote p.remote-name`
	KeepMerged                 // as `mv p.merged p`: the merge, or p.merged as edited
)

func (k Keep) String() string {
	switch k {
	case KeepLocal:
		return "local"
	case KeepRemote:
		return "remote"
	case KeepBoth:
		return "both"
	case KeepMerged:
		return "merged"
	}
	return "keep(" + strconv.Itoa(int(k)) + ")"
}

// ParseKeep reads "local", "remote", "both" or "merged".
func ParseKeep(s string) (Keep, error) {
	for _, k := range []Keep{KeepLocal, KeepRemote, KeepBoth, KeepMerged} {
		if s == k.String() {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%q: want local, remote, both or merged", s)
}

// Resolution is what Resolve did.
type Resolution struct {
	Path string         // the conflict
	Kind reconcile.Kind // its kind
	// Keep is what was kept: KeepBoth only where both sides hold a
	// version (otherwise the one version there is was kept).
	Keep Keep
	Copy string // KeepBoth: where the remote version now is in LOCAL
	// Edited is set, for KeepMerged, when the content taken was p.merged
	// as the user changed it (not the merge as made).
	Edited bool
}

// NotConflictError is a path that names no conflict, and why. Its text
// names no path: the caller, which prints paths, adds Conflict.
type NotConflictError struct {
	Path string
	Why  string
	// Conflict is, for a path inside a directory conflict, that
	// directory: the conflict resolves as a whole.
	Conflict string
	Kind     reconcile.Kind // Conflict's kind
}

func (e *NotConflictError) Error() string { return e.Why }

// ErrRetry means that the remote versions a resolution downloads kept
// changing while they were fetched: nothing was changed.
var ErrRetry = errors.New("the remote version changed while it was fetched; nothing was changed, try again")

// Resolve resolves the conflict at tree path p, as the gestures of the
// view do (see Keep): it moves bases and acts on the local tree only, and
// the next commit or sync carries the resolution out. A p that is no
// conflict now fails with a *NotConflictError.
func (v *View) Resolve(p string, keep Keep) (Resolution, error) {
	if keep < KeepLocal || keep > KeepMerged {
		return Resolution{}, fmt.Errorf("resolve: invalid %v", keep)
	}
	var res Resolution
	var rerr error
	fn := func() (bool, syscall.Errno) {
		res, rerr = Resolution{}, nil
		m := v.model()
		o := m.ov[p]
		if o == nil || o.kind != ovConflict {
			rerr = v.notConflict(p)
			return false, 0
		}
		res = Resolution{Path: p, Kind: o.d.Kind, Keep: keep}
		if keep == KeepBoth && !o.d.Local.Exists() {
			res.Keep = KeepRemote // the one version there is
		}
		if keep == KeepBoth && !o.d.Remote.Exists() {
			res.Keep = KeepLocal
		}
		switch res.Keep {
		case KeepMerged:
			if o.merge == nil {
				rerr = ErrNoMerge
				return false, 0
			}
			data, edited, err := v.mergedData(p, o.merge)
			if err == nil {
				err = v.takeMerge(o.d, data)
			}
			if err != nil {
				rerr = err
				return true, 0
			}
			res.Edited = edited
			return true, 0
		case KeepLocal:
			return v.moveSibling(m, target{side: local, real: p, sib: o, under: true}, p)
		case KeepRemote:
			return v.moveSibling(m, target{side: remote, real: p, sib: o, under: true}, p)
		}
		name, err := v.copyName(m, p)
		if err != nil {
			rerr = err
			return false, 0
		}
		res.Copy = name
		return v.keepBoth(m, o, name)
	}
	var errno syscall.Errno
	if keep == KeepBoth {
		needs := func(m *model) []need {
			if o := m.ov[p]; o != nil && o.kind == ovConflict && o.d.Local.Exists() {
				return m.remoteFiles(p)
			}
			return nil
		}
		errno = v.gestureFetching(needs, fn)
	} else {
		errno = v.gesture(fn)
	}
	switch {
	case rerr != nil:
		return Resolution{}, rerr
	case errno == syscall.EAGAIN:
		return Resolution{}, ErrRetry
	case errno != 0:
		return Resolution{}, errno
	}
	return res, nil
}

// copyName returns where keeping both versions of the conflict at p puts
// the remote one: p.remote, or p.remote-2, p.remote-3... (in a view that
// keeps extensions, report.remote.docx, report.remote-2.docx...) the first name
// that neither side holds (nor scanned), that the view shows for no other
// conflict, and that is not myrrorfs's own.
func (v *View) copyName(m *model, p string) (string, error) {
	dir := tree.Parent(p)
	stem, ext := sibName(tree.Base(p), "remote", v.ext)
	for i := 1; i < 1000; i++ {
		name := stem + ext
		if i > 1 {
			name = stem + "-" + strconv.Itoa(i) + ext
		}
		c := tree.Join(dir, name)
		if hiddenName(c) {
			break
		}
		if s, ok := m.sib[dir+"\x00"+name]; ok && s.path != p {
			continue
		}
		if d, ok := v.decision(c); ok && (d.Local.Exists() || d.Remote.Exists()) {
			continue
		}
		_, err := v.lt.Lstat(c)
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		return c, nil
	}
	return "", fmt.Errorf("no free name for the remote version next to it")
}

// decision returns the decision installed last for tree path p; called
// with the gesture lock held.
func (v *View) decision(p string) (reconcile.Decision, bool) {
	i := sort.Search(len(v.ds), func(i int) bool { return tree.Compare(v.ds[i].Path, p) >= 0 })
	if i < len(v.ds) && v.ds[i].Path == p {
		return v.ds[i], true
	}
	return reconcile.Decision{}, false
}

// notConflict says why tree path p is no conflict; called with the
// gesture lock held.
func (v *View) notConflict(p string) error {
	e := &NotConflictError{Path: p}
	d, ok := v.decision(p)
	switch {
	case p == "":
		e.Why = "the root of the pair is no conflict"
	case ok && d.Under != "":
		e.Why = "inside a directory conflict, which resolves as a whole"
		e.Conflict, e.Kind = d.Under, d.Kind
	case ok && d.Action == reconcile.ToRemote:
		e.Why = "not a conflict: only the local side changed it, and the next sync copies that to the remote"
	case ok && d.Action == reconcile.ToLocal:
		e.Why = "not a conflict: only the remote side changed it, and the next sync brings that to LOCAL"
	case ok && d.Action == reconcile.Equal:
		e.Why = "not a conflict: both sides agree"
	default:
		if _, err := v.lt.Lstat(p); err == nil {
			e.Why = "not a conflict: both sides agree (or it is ignored)"
		} else {
			e.Why = "not a conflict: no such path on either side"
		}
	}
	return e
}

// ConflictAt returns the conflict that view path vp names: the conflict's
// own path (a bare name the view does not show) or one of the names its
// versions show under (p.local, p.remote, or the free names that stand
// for them). Any other path fails with a *NotConflictError.
func (v *View) ConflictAt(vp string) (string, error) {
	v.gmu.Lock()
	defer v.gmu.Unlock()
	m := v.model()
	pt, ok := m.resolve(tree.Parent(vp))
	if !ok {
		return "", &NotConflictError{Path: vp, Why: "no such entry in the view"}
	}
	name := tree.Base(vp)
	switch {
	case pt.sib != nil || pt.under:
		// inside a version of a directory conflict
		c := pt.real
		for c != "" && (m.ov[c] == nil || m.ov[c].kind != ovConflict) {
			c = tree.Parent(c)
		}
		e := &NotConflictError{Path: vp, Why: "inside one version of a directory conflict, which resolves as a whole"}
		if o := m.ov[c]; o != nil && o.kind == ovConflict {
			e.Conflict, e.Kind = c, o.d.Kind
		}
		return "", e
	case pt.side == remote:
		return "", &NotConflictError{Path: vp, Why: "not a conflict: only the remote side holds it, and the next commit brings it to LOCAL"}
	}
	if s, ok := m.sib[pt.real+"\x00"+name]; ok {
		return s.path, nil
	}
	p := tree.Join(pt.real, name)
	if o := m.ov[p]; o != nil && o.kind == ovConflict {
		return p, nil
	}
	return "", v.notConflict(p)
}
