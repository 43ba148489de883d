// Package reconcile decides, for every path of a pair, what a sync does with
// it: nothing, bring one side's version to the other side, or report a
// conflict. It works on the three states of each path (base, local, remote)
// and does no I/O.
package reconcile

import (
	"strconv"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Action is what a sync does with one path.
type Action uint8

const (
	// Equal: both sides already hold the same result; nothing to do.
	Equal Action = iota
	// ToRemote: make the remote entry equal to the local one (copy, create,
	// delete, chmod).
	ToRemote
	// ToLocal: make the local entry equal to the remote one.
	ToLocal
	// Conflict: both sides changed differently; nothing is done until the
	// user resolves it.
	Conflict
)

var actionNames = [...]string{"equal", "to-remote", "to-local", "conflict"}

// String returns "equal", "to-remote", "to-local" or "conflict" (and
// "action(N)" for a value outside the enumeration).
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Kind is the kind of a conflict.
type Kind uint8

const (
	// NoConflict is the Kind of every decision that is not a Conflict.
	NoConflict Kind = iota
	// ModifyModify: both sides changed an existing path differently.
	ModifyModify
	// CreateCreate: both sides created the path (or it is new on both sides
	// at a first sync) with different results.
	CreateCreate
	// ModifyDelete: local changed the path, remote removed it.
	ModifyDelete
	// DeleteModify: local removed the path, remote changed it.
	DeleteModify
	// FileDir: one side holds a directory, the other a non-directory.
	FileDir
)

var kindNames = [...]string{"", "modify/modify", "create/create", "modify/delete", "delete/modify", "file/dir"}

// String returns "" for NoConflict, then "modify/modify", "create/create",
// "modify/delete", "delete/modify" and "file/dir" (and "kind(N)" for a value
// outside the enumeration).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Item is one path's three states. Base.Kind == tree.Absent means no base
// (a new path, or a first sync).
type Item struct {
	Path                string
	Base, Local, Remote tree.Entry
}

// Decision is what to do with one path.
type Decision struct {
	Item
	Action Action
	Kind   Kind // set when Action == Conflict, NoConflict otherwise
	// Under is non-empty when this path lies inside a conflict decided at an
	// ancestor directory (Under is that ancestor's path); such a path must
	// not be touched, and Action is Conflict with the ancestor's Kind.
	Under string
	// Settled is the kind of the conflict a preference settled at this
	// path (see DecideWith), for the run to list, and LocalWon tells
	// whose version won. NoConflict and false otherwise.
	Settled  Kind
	LocalWon bool
}

// Reconcile decides every path. items must be sorted by tree.Compare with
// unique paths, and hold every path present in any of base/local/remote (a
// path's parent directories are present before it whenever the path exists
// somewhere). It returns one Decision per item, in the same order.
//
// Each path is first decided on its own (see DESIGN.md's decision table).
// Then directories are looked at as a whole: a directory that one side
// removed (or replaced by a non-directory) while the other side holds a
// change somewhere under it that does not agree with the removal becomes one
// delete/modify (or file/dir) conflict; otherwise the removal propagates to
// the whole subtree. Every path under a conflict is marked Under the highest
// conflicting ancestor and left alone. Time and memory are linear in
// len(items) times the depth of the tree.
func Reconcile(items []Item) []Decision {
	ds := make([]Decision, len(items))
	for i, it := range items {
		ds[i].Item = it
	}
	Decide(ds)
	return ds
}

// Decide is Reconcile in place: ds holds the items (each Decision's Item
// set, in the order Reconcile requires) and receives the decisions. It
// spares a caller holding many paths a second copy of them.
func Decide(ds []Decision) {
	for i := range ds {
		ds[i] = decide(ds[i].Item)
	}
	settle(ds, subtreeWrites(ds))
}

// Mirror returns the decision seen with local and remote swapped: Local and
// Remote swap in the Item, ToRemote and ToLocal swap, ModifyDelete and
// DeleteModify swap. Path, Base and Under are kept.
func Mirror(d Decision) Decision {
	d.Local, d.Remote = d.Remote, d.Local
	switch d.Action {
	case ToRemote:
		d.Action = ToLocal
	case ToLocal:
		d.Action = ToRemote
	}
	switch d.Kind {
	case ModifyDelete:
		d.Kind = DeleteModify
	case DeleteModify:
		d.Kind = ModifyDelete
	}
	return d
}

// Count summarises decisions for a plan: it counts top-level decisions
// (Under == "") by action name, and conflicts by "conflict " plus their
// kind, e.g. {"to-remote": 3, "conflict modify/modify": 1}. Keys with a zero
// count are absent.
func Count(ds []Decision) map[string]int {
	n := make(map[string]int)
	for _, d := range ds {
		if d.Under != "" {
			continue
		}
		key := d.Action.String()
		if d.Action == Conflict {
			key += " " + d.Kind.String()
		}
		n[key]++
	}
	return n
}

// decide decides one path on its own, without looking at other paths.
func decide(it Item) Decision {
	d := Decision{Item: it}
	dl, dr := tree.Diff(it.Base, it.Local), tree.Diff(it.Base, it.Remote)
	switch {
	case dl == tree.Unchanged && dr == tree.Unchanged:
		d.Action = Equal
	case dr == tree.Unchanged:
		d.Action = ToRemote
	case dl == tree.Unchanged:
		d.Action = ToLocal
	case tree.Same(it.Local, it.Remote): // includes both removed
		d.Action = Equal
	default:
		d.Action, d.Kind = Conflict, conflictKind(it.Local, it.Remote, dl, dr)
	}
	return d
}

// conflictKind names the conflict between two different changes dl and dr
// that led from the same base to local and remote.
func conflictKind(local, remote tree.Entry, dl, dr tree.Change) Kind {
	switch {
	case dr == tree.Removed:
		return ModifyDelete
	case dl == tree.Removed:
		return DeleteModify
	case (local.Kind == tree.Dir) != (remote.Kind == tree.Dir):
		return FileDir
	case dl == tree.Added: // then dr == tree.Added too: the base is absent
		return CreateCreate
	}
	return ModifyModify
}

// writes tells which sides a decision (or a set of decisions) would write
// to, if carried out; a conflict counts as writing to both.
type writes uint8

const (
	writesLocal writes = 1 << iota
	writesRemote
)

// writes returns the sides d writes to.
func (d *Decision) writes() writes {
	switch d.Action {
	case ToRemote:
		return writesRemote
	case ToLocal:
		return writesLocal
	case Conflict:
		return writesLocal | writesRemote
	}
	return 0
}

// subtreeWrites returns, for each decision, the union of the sides written
// by the decisions strictly under its path. It relies on a path's
// descendants directly following it in tree.Compare order, and keeps a stack
// of the paths enclosing the current one.
func subtreeWrites(ds []Decision) []writes {
	below := make([]writes, len(ds))
	open := make([]int, 0, 16)
	pop := func() {
		c := open[len(open)-1]
		open = open[:len(open)-1]
		if len(open) > 0 {
			below[open[len(open)-1]] |= below[c] | ds[c].writes()
		}
	}
	for i := range ds {
		for len(open) > 0 && !tree.IsUnder(ds[i].Path, ds[open[len(open)-1]].Path) {
			pop()
		}
		open = append(open, i)
	}
	for len(open) > 0 {
		pop()
	}
	return below
}

// settle applies the directory rules to the per-path decisions ds, given
// what the subtree under each one writes, and marks every path under a
// conflict as Under its highest conflicting ancestor.
func settle(ds []Decision, below []writes) {
	root := -1 // index of the conflict enclosing the current path, if any
	for i := range ds {
		d := &ds[i]
		if root >= 0 && tree.IsUnder(d.Path, ds[root].Path) {
			d.Action, d.Kind, d.Under = Conflict, ds[root].Kind, ds[root].Path
			continue
		}
		root = -1
		guardRemoval(d, below[i])
		if d.Action == Conflict {
			root = i
		}
	}
}

// guardRemoval turns the removal of a directory into a conflict when the
// side that still holds the directory has, under it, a change that the
// removal would lose: the directory was in base, one side removed it or
// replaced it by a non-directory (so the decision carries that to the other
// side), and something under it would be written to the removing side or is
// itself a conflict.
func guardRemoval(d *Decision, below writes) {
	if d.Base.Kind != tree.Dir {
		return
	}
	switch {
	case d.Action == ToRemote && d.Remote.Kind == tree.Dir && below&writesLocal != 0:
		d.Action, d.Kind = Conflict, removalKind(d.Local, DeleteModify)
	case d.Action == ToLocal && d.Local.Kind == tree.Dir && below&writesRemote != 0:
		d.Action, d.Kind = Conflict, removalKind(d.Remote, ModifyDelete)
	}
}

// removalKind is the conflict kind for a directory that one side turned into
// gone: file/dir when that side now holds a non-directory, deleted otherwise.
func removalKind(gone tree.Entry, deleted Kind) Kind {
	if gone.Exists() {
		return FileDir
	}
	return deleted
}
