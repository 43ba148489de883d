package daemon

import (
	"sort"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// The view shows the merge of a conflict with overlapping edits as a third
// sibling, p.merged (see fusefs/merged.go): the backends give it the
// merges of their latest plan, and carry out a resolution by a merge as
// the engine carries out a clean one.

// mergeIndex holds the merges of a plan's conflicts, by path and the
// versions merged.
type mergeIndex map[mergeKey][]byte

type mergeKey struct {
	path                string
	base, local, remote tree.Hash
}

func keyOf(d reconcile.Decision) mergeKey {
	return mergeKey{d.Path, d.Base.Hash, d.Local.Hash, d.Remote.Hash}
}

// indexMerges returns the merges of plan's conflicts (nil: none).
func indexMerges(plan *engine.Plan) mergeIndex {
	var ix mergeIndex
	for _, m := range plan.Merges {
		d, ok := decisionAt(plan, m.Path)
		if !ok || d.Action != reconcile.Conflict {
			continue
		}
		if ix == nil {
			ix = mergeIndex{}
		}
		ix[keyOf(d)] = m.Data
	}
	return ix
}

// of returns the merge of the versions of conflict d, if indexed.
func (ix mergeIndex) of(d reconcile.Decision) ([]byte, bool) {
	data, ok := ix[keyOf(d)]
	return data, ok
}

// decisionAt returns plan's decision on path.
func decisionAt(plan *engine.Plan, path string) (reconcile.Decision, bool) {
	ds := plan.Decisions
	i := sort.Search(len(ds), func(i int) bool { return tree.Compare(ds[i].Path, path) >= 0 })
	if i < len(ds) && ds[i].Path == path {
		return ds[i], true
	}
	return reconcile.Decision{}, false
}

// conflictNames returns, for the conflicts a mount lists, the names its
// view shows them under: the two versions and the merge.
func conflictNames(m Mount) func(string) []string {
	mg, _ := m.(interface{ MergedSibling(string) string })
	return func(p string) []string {
		l, r := m.Siblings(p)
		names := []string{l, r}
		if mg != nil {
			names = append(names, mg.MergedSibling(p))
		}
		return names
	}
}
