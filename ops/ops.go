// Package ops turns a pair's decisions into the explicit list of
// operations that carries them out: stage content, make a directory,
// rename, install, chmod, move aside to the backup area. Each operation
// names the state it expects at its target and the operations it depends
// on; an executor runs them and skips, with its dependents, every operation
// whose expectation fails or whose dependency did not complete. No
// fallback ever replaces a skipped operation with a more destructive one.
//
// The package is pure: no I/O, no clock. Every decision about renames is
// made here, next to reconcile.
package ops

import (
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Side names one side of a pair.
type Side uint8

const (
	Local Side = iota
	Remote
)

func (s Side) String() string {
	if s == Local {
		return "local"
	}
	return "remote"
}

// Other returns the other side.
func (s Side) Other() Side { return 1 - s }

// target returns the side a one-sided decision writes to.
func target(a reconcile.Action) Side {
	if a == reconcile.ToLocal {
		return Local
	}
	return Remote
}

// Row is everything known about one path: the journal's record and what
// each side's scan found (Entry.Kind Absent when the side has nothing).
type Row struct {
	Path          string
	Rec           tree.Record
	Local, Remote tree.Scanned
}

// On returns what the scan of side s found at the row's path.
func (r *Row) On(s Side) tree.Scanned {
	if s == Local {
		return r.Local
	}
	return r.Remote
}

// Kind is the kind of an operation.
type Kind uint8

const (
	// Mkdir makes directory Path with Entry's permission bits; Path must
	// hold nothing.
	Mkdir Kind = iota
	// Stage writes the version Src (the other side's entry at From, as
	// scanned) into a fresh temporary next to Path. It changes nothing a
	// user sees.
	Stage
	// Rename renames From (holding Want) to Path, which must hold nothing.
	Rename
	// Install renames the temporary of its Stage (its first dependency)
	// onto Path, which must hold Want; a version it replaces is kept in
	// the backup area.
	Install
	// Chmod sets Entry's permission bits on Path, which must hold Want.
	Chmod
	// Remove moves Path, which must hold Want, into the backup area (a
	// directory only once all that is under it is gone).
	Remove
)

var kindNames = [...]string{"mkdir", "stage", "rename", "install", "chmod", "remove"}

func (k Kind) String() string { return kindNames[k] }

// Op is one operation of a plan.
type Op struct {
	Kind Kind
	Side Side   // the side it writes to
	Path string // its target
	// From: for Rename the path moved; for Stage where the source lies on
	// the other side.
	From string
	// Want is what the target must hold when the op runs (Rename: what
	// From holds); Kind Absent means nothing. A fingerprint field that is
	// zero is not compared (a renamed file keeps its inode and mtime but
	// not its ctime).
	Want tree.Scanned
	// Src is the version a Stage copies, as scanned on the other side.
	Src tree.Scanned
	// Entry is the version the op makes (Mkdir, Stage, Install) or whose
	// permission bits it sets (Chmod).
	Entry tree.Entry
	Row   int   // the row of Path
	Deps  []int // operations that must have completed first
	// Done lists the rows this op brings in step: once it completes, both
	// sides hold the version given for each.
	Done []Done
}

// Done says that a row's path holds the same version on both sides.
type Done struct {
	Row  int
	Base tree.Entry // the version both sides now hold; Absent: none
	// Stat: the op wrote the path on that side, so its fingerprint is read
	// afresh; otherwise the scan's stands (or Moved's, below).
	Stat [2]bool
	// Moved is the row whose target-side entry a directory rename brought
	// here (its fingerprint stays), or -1.
	Moved int
}

// Class orders ready operations: all the ready ops of the lowest class run
// before the others, so that content is staged before anything it might
// be copied from is renamed, replaced or removed.
func (k Kind) Class() int {
	switch k {
	case Mkdir:
		return 0
	case Stage:
		return 1
	case Rename:
		return 2
	case Install, Chmod:
		return 3
	}
	return 4
}
