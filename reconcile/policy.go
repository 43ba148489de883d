package reconcile

import (
	"fmt"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Mode is the direction a pair syncs in.
type Mode uint8

const (
	// TwoWay carries each side's changes to the other; a path changed on
	// both sides is a conflict.
	TwoWay Mode = iota
	// Push makes the remote a replica of the local side: every path where
	// they differ is brought to the local state, whatever changed it.
	Push
	// Pull makes the local side a replica of the remote.
	Pull
)

var modeNames = [...]string{"two-way", "push", "pull"}

// String returns "two-way", "push" or "pull".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// ParseMode reads a mode's name.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return TwoWay, fmt.Errorf("unknown mode %q (two-way, push or pull)", s)
}

// Prefer says which version settles a conflict of a two-way sync.
type Prefer uint8

const (
	// PreferNone leaves conflicts alone.
	PreferNone Prefer = iota
	// PreferLocal: the local version wins.
	PreferLocal
	// PreferRemote: the remote version wins.
	PreferRemote
	// PreferNewer: of two files, the one modified last wins; a version that
	// exists wins over a deletion. Other conflicts (a symlink or a
	// directory against anything, two files with the same time) stay.
	PreferNewer
)

var preferNames = [...]string{"none", "local", "remote", "newer"}

// String returns "none", "local", "remote" or "newer".
func (p Prefer) String() string {
	if int(p) < len(preferNames) {
		return preferNames[p]
	}
	return fmt.Sprintf("prefer(%d)", int(p))
}

// ParsePrefer reads a preference's name ("" is PreferNone).
func ParsePrefer(s string) (Prefer, error) {
	if s == "" {
		return PreferNone, nil
	}
	for i, n := range preferNames {
		if s == n {
			return Prefer(i), nil
		}
	}
	return PreferNone, fmt.Errorf("unknown preference %q (local, remote or newer)", s)
}

// Policy is how a run decides beyond the two-way decision table: its mode
// and, in two-way mode, its preference for conflicts.
type Policy struct {
	Mode   Mode
	Prefer Prefer
}

// Check reports a policy that makes no sense: a preference outside
// two-way mode (a mirror has no conflicts to settle).
func (pol Policy) Check() error {
	if pol.Mode != TwoWay && pol.Prefer != PreferNone {
		return fmt.Errorf("--prefer %s: only in two-way mode (--mode %s has no conflicts)", pol.Prefer, pol.Mode)
	}
	return nil
}

// DecideWith is Decide under a policy. In push (pull) mode every path
// where the sides do not hold the same result is decided to-remote
// (to-local), whatever changed it: a mirror has no conflicts. In two-way
// mode with a preference, each conflict it can settle is decided for the
// preferred side together with every path under it, and marked Settled
// with its kind and LocalWon; the others stay conflicts. The
// losing versions are replaced like any overwritten version, so the
// executor moves them to their side's backup area.
func DecideWith(ds []Decision, pol Policy) {
	Decide(ds)
	switch pol.Mode {
	case Push:
		for i := range ds {
			mirrorFrom(&ds[i], true)
		}
		return
	case Pull:
		for i := range ds {
			mirrorFrom(&ds[i], false)
		}
		return
	}
	if pol.Prefer == PreferNone {
		return
	}
	for i := 0; i < len(ds); {
		d := &ds[i]
		if d.Action != Conflict || d.Under != "" {
			i++
			continue
		}
		end := i + 1
		for end < len(ds) && ds[end].Under == d.Path {
			end++
		}
		local, ok := preferLocal(d, pol.Prefer)
		if ok {
			kind := d.Kind
			for j := i; j < end; j++ {
				mirrorFrom(&ds[j], local)
			}
			d.Settled, d.LocalWon = kind, local
		}
		i = end
	}
}

// mirrorFrom decides d for one side: equal when both sides hold the same
// result, else to the other side (local: to-remote).
func mirrorFrom(d *Decision, local bool) {
	d.Kind, d.Under = NoConflict, ""
	switch {
	case tree.Same(d.Local, d.Remote): // both absent included
		d.Action = Equal
	case local:
		d.Action = ToRemote
	default:
		d.Action = ToLocal
	}
}

// preferLocal tells which side a preference picks for the conflict d
// (true: local), and false as its second result when it picks none.
func preferLocal(d *Decision, p Prefer) (local, ok bool) {
	switch p {
	case PreferLocal:
		return true, true
	case PreferRemote:
		return false, true
	case PreferNewer:
		l, r := d.Local, d.Remote
		switch {
		case !r.Exists():
			return true, l.Exists()
		case !l.Exists():
			return false, true
		case l.Kind != tree.File || r.Kind != tree.File || l.MtimeNs == r.MtimeNs:
			return false, false
		}
		return l.MtimeNs > r.MtimeNs, true
	}
	return false, false
}
