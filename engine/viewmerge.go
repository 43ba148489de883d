package engine

import (
	"fmt"
	"time"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// TakeMergeOf resolves the conflict d, as decided earlier, with data (a
// merge with conflict markers, or what the user made of it): data becomes
// the local version and the path's base moves to d's remote version, as a
// clean merge is carried out (takeMerge). plan is a fresh plan of the
// pair; it must still see d's two versions at the path, otherwise nothing
// is done and the error wraps ErrChanged.
func (p *Pair) TakeMergeOf(plan *Plan, d reconcile.Decision, data []byte) error {
	for i := range plan.Rows {
		r := &plan.Rows[i]
		if r.Path != d.Path {
			continue
		}
		if !tree.Same(r.Local.Entry, d.Local) || !tree.Same(r.Remote.Entry, d.Remote) {
			return fmt.Errorf("%s: a version changed since it was merged: %w", d.Path, ErrChanged)
		}
		return p.takeMerge(plan, d.Path, data, time.Now())
	}
	return fmt.Errorf("%s: %w", d.Path, ErrChanged)
}
