package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/fusefs"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// This file serves `myrrorfs resolve`: resolutions by name, with the
// meaning of the view's gestures (fusefs.View.Resolve). A mount resolves in
// its own view, which collapses at once; without a mount, Offline makes a
// view of the pair that is never mounted, so that there is one
// implementation of every resolution.

// Resolver resolves conflicts by name: a mount's daemon, and Offline.
type Resolver interface {
	// Resolve resolves the conflict named by path: a path in LOCAL
	// (relative to its root), or with inView a path in the view, where a
	// conflict's versions also name it (see fusefs.View.ConflictAt).
	Resolve(ctx context.Context, path string, inView bool, keep fusefs.Keep) (Resolved, error)
	// Describe describes the conflict named by path (as for Resolve) or,
	// with all, every conflict at path or under it (a path in LOCAL; ""
	// for all of them).
	Describe(ctx context.Context, path string, inView, all bool) ([]Described, error)
}

// Described is a conflict as `myrrorfs resolve` shows it before asking.
// Paths are bytes: JSON would mangle a name that is not UTF-8.
type Described struct {
	Path   []byte   `json:"path"`
	Kind   string   `json:"kind"`
	Local  *Version `json:"local"` // nil: deleted on that side
	Remote *Version `json:"remote"`
	// LocalName and RemoteName are, on a mount, the view paths its
	// versions show under, and MergedName that of its merge (p.merged).
	LocalName  []byte `json:"local_name,omitempty"`
	RemoteName []byte `json:"remote_name,omitempty"`
	MergedName []byte `json:"merged_name,omitempty"`
	// Merge is set when the pair merged the two versions (resolve --keep
	// merged takes it): how many hunks conflict in it.
	Merge *MergeNote `json:"merge,omitempty"`
	// Diff is a short unified diff from the local version to the remote
	// one, when both are small text files (see ShortDiff).
	Diff string `json:"diff,omitempty"`
}

// MergeNote tells of the merge of a conflict's versions.
type MergeNote struct {
	Conflicts int `json:"conflicts"` // conflicting hunks, shown with markers
}

// Version is one side's version of a conflict.
type Version struct {
	Type    string `json:"type"` // file, dir, symlink
	Size    int64  `json:"size,omitempty"`
	MtimeNs int64  `json:"mtime_ns,omitempty"`
	Perm    uint32 `json:"perm,omitempty"`
	Target  []byte `json:"target,omitempty"`
	// Entries counts, for a directory conflict, the paths inside this
	// side's version, and Changed those of them changed since the last sync.
	Entries int `json:"entries,omitempty"`
	Changed int `json:"changed,omitempty"`
}

// Limits of the diff shown for a conflict.
const (
	diffMaxSize  = 64 << 10 // bytes of each version
	diffMaxLines = 16
)

// describe describes the conflict d of plan: under holds the decisions
// inside it (a directory conflict); the file versions are read, for the
// diff, from the local tree and from the pair's fetch cache.
func describe(p *engine.Pair, d reconcile.Decision, under []reconcile.Decision) Described {
	out := Described{Path: []byte(d.Path), Kind: d.Kind.String(), Local: version(d.Local), Remote: version(d.Remote)}
	for _, u := range under {
		for _, s := range []struct {
			v       *Version
			e, base tree.Entry
		}{{out.Local, u.Local, u.Base}, {out.Remote, u.Remote, u.Base}} {
			if s.v == nil || !s.e.Exists() {
				continue
			}
			s.v.Entries++
			if !tree.Same(s.e, s.base) {
				s.v.Changed++
			}
		}
	}
	if d.Local.Kind != tree.File || d.Remote.Kind != tree.File || d.Local.Size > diffMaxSize || d.Remote.Size > diffMaxSize {
		return out
	}
	l, err := p.ReadVersion(engine.LocalSide, d.Path, d.Local, diffMaxSize)
	if err != nil {
		return out
	}
	r, err := p.ReadFetched(d.Path, d.Remote, diffMaxSize)
	if err != nil {
		return out
	}
	out.Diff = ShortDiff(l, r, diffMaxLines)
	return out
}

func version(e tree.Entry) *Version {
	if !e.Exists() {
		return nil
	}
	v := &Version{Type: e.Kind.String(), Perm: e.Perm}
	switch e.Kind {
	case tree.File:
		v.Size, v.MtimeNs = e.Size, e.MtimeNs
	case tree.Symlink:
		v.Target = []byte(e.Target)
	}
	return v
}

// describeIn describes, from plan, the conflict at p or, with all, every
// conflict at p or under it. names gives a conflict's view names, of its
// local and remote versions and its merge (nil without a view).
func describeIn(pr *engine.Pair, plan *engine.Plan, p string, all bool, names func(string) []string) []Described {
	var out []Described
	ds := plan.Decisions
	for i := 0; i < len(ds); i++ {
		d := ds[i]
		if d.Action != reconcile.Conflict || d.Under != "" {
			continue
		}
		if d.Path != p && !(all && tree.IsUnder(d.Path, p)) {
			continue
		}
		j := i + 1
		for j < len(ds) && ds[j].Under == d.Path {
			j++
		}
		desc := describe(pr, d, ds[i+1:j])
		if m, ok := plan.MergeAt(d.Path); ok {
			desc.Merge = &MergeNote{Conflicts: m.Conflicts}
		}
		if names != nil {
			ns := names(d.Path)
			desc.LocalName, desc.RemoteName, desc.MergedName = []byte(ns[0]), []byte(ns[1]), []byte(ns[2])
		}
		out = append(out, desc)
		i = j - 1
	}
	return out
}

// notConflictIn explains, from plan, why p is not a conflict there.
func notConflictIn(plan *engine.Plan, p string) error {
	i := sort.Search(len(plan.Decisions), func(i int) bool { return tree.Compare(plan.Decisions[i].Path, p) >= 0 })
	if i < len(plan.Decisions) && plan.Decisions[i].Path == p {
		if u := plan.Decisions[i].Under; u != "" {
			return &fusefs.NotConflictError{Path: p, Why: "inside a directory conflict, which resolves as a whole", Conflict: u, Kind: plan.Decisions[i].Kind}
		}
		switch plan.Decisions[i].Action {
		case reconcile.ToRemote:
			return &fusefs.NotConflictError{Path: p, Why: "not a conflict: only the local side changed it, and the next sync copies that to the remote"}
		case reconcile.ToLocal:
			return &fusefs.NotConflictError{Path: p, Why: "not a conflict: only the remote side changed it, and the next sync brings that to LOCAL"}
		}
	}
	return &fusefs.NotConflictError{Path: p, Why: "not a conflict now"}
}

// Offline resolves the conflicts of a pair this process holds, without a
// mount, through a view of the pair that is never mounted: each
// resolution is what the matching gesture in a mount does.
type Offline struct {
	ctx    context.Context
	pair   *engine.Pair
	view   *fusefs.View
	plan   *engine.Plan // the latest
	merges mergeIndex   // its merges
}

// NewOffline scans both sides of p and makes its view. Open p with
// engine.Options.Resident, so that the view's refreshes after each
// resolution rescan the local side only.
func NewOffline(ctx context.Context, p *engine.Pair) (*Offline, error) {
	plan, err := scanMerged(ctx, p)
	if err != nil {
		return nil, err
	}
	lt, ok := p.Local.(fusefs.Tree)
	if !ok {
		return nil, fmt.Errorf("%s: the local side cannot be resolved in", p.LocalSpec)
	}
	o := &Offline{ctx: ctx, pair: p, plan: plan, merges: indexMerges(plan)}
	if o.view, err = fusefs.New(p.LocalSpec.Path, (*offlineBackend)(o), lt, plan.Decisions); err != nil {
		return nil, err
	}
	return o, nil
}

// Plan returns the plan the latest scan gave (the local side rescanned
// after each resolution).
func (o *Offline) Plan() *engine.Plan { return o.plan }

// Resolve implements Resolver; a path in a view is a path in LOCAL here.
func (o *Offline) Resolve(ctx context.Context, path string, inView bool, keep fusefs.Keep) (Resolved, error) {
	r, err := o.view.Resolve(path, keep)
	noteResolution(o.pair, r, err)
	return resolvedOf(r, err)
}

// Describe implements Resolver.
func (o *Offline) Describe(ctx context.Context, path string, inView, all bool) ([]Described, error) {
	out := describeIn(o.pair, o.plan, path, all, nil)
	if len(out) == 0 && !all {
		return nil, notConflictIn(o.plan, path)
	}
	return out, nil
}

// offlineBackend gives the view of an Offline what it needs from the pair.
type offlineBackend Offline

func (b *offlineBackend) Refresh() ([]reconcile.Decision, error) {
	plan, err := b.pair.Refresh(b.ctx, false)
	if err != nil {
		return nil, err
	}
	b.plan, b.merges = plan, indexMerges(plan)
	return plan.Decisions, nil
}

func (b *offlineBackend) Merged(d reconcile.Decision) ([]byte, bool) { return b.merges.of(d) }

func (b *offlineBackend) TakeMerged(d reconcile.Decision, data []byte) error {
	plan, err := b.pair.Refresh(b.ctx, false)
	if err != nil {
		return err
	}
	return b.pair.TakeMergeOf(plan, d, data)
}

func (b *offlineBackend) Fetch(path string, e tree.Entry) (string, error) {
	return b.pair.Fetch(path, e)
}

func (b *offlineBackend) SetBases(cs []fusefs.BaseChange) error { return b.pair.SetBases(cs) }

func (b *offlineBackend) BackupLocal(path string) error { return b.pair.BackupLocal(path) }

// Resolve implements Resolver for a mount: the resolution is made in the
// view, which collapses at once.
func (d *Daemon) Resolve(ctx context.Context, path string, inView bool, keep fusefs.Keep) (Resolved, error) {
	if inView {
		p, err := d.view.ConflictAt(path)
		if err != nil {
			return Resolved{}, err
		}
		path = p
	}
	r, err := d.view.Resolve(path, keep)
	noteResolution(d.pair, r, err)
	return resolvedOf(r, err)
}

// noteResolution notes a resolution made for the pair's history (see
// engine.Pair.NoteResolution): it goes with the entry of the run that
// carries it out, when this process runs it (a commit from the mount, a
// round of sync --watch), else in an entry of its own.
func noteResolution(p *engine.Pair, r fusefs.Resolution, err error) {
	if err == nil {
		p.NoteResolution(r.Path, r.Keep.String())
	}
}

// Describe implements Resolver for a mount, which rescans both sides
// first.
func (d *Daemon) Describe(ctx context.Context, path string, inView, all bool) ([]Described, error) {
	plan, err := d.Rescan(ctx)
	if err != nil {
		return nil, err
	}
	if inView && !all {
		p, err := d.view.ConflictAt(path)
		if err != nil {
			return nil, err
		}
		path = p
	}
	out := describeIn(d.pair, plan, path, all, conflictNames(d))
	if len(out) == 0 && !all {
		return nil, notConflictIn(plan, path)
	}
	return out, nil
}

// Resolved is a resolution in a response (see fusefs.Resolution).
type Resolved struct {
	Path   []byte `json:"path"`
	Kind   string `json:"kind"`
	Keep   string `json:"keep"`
	Copy   []byte `json:"copy,omitempty"`
	Edited bool   `json:"edited,omitempty"` // keep merged: p.merged as the user changed it
}

// resolvedOf converts what fusefs.View.Resolve returns.
func resolvedOf(r fusefs.Resolution, err error) (Resolved, error) {
	if err != nil {
		return Resolved{}, err
	}
	out := Resolved{Path: []byte(r.Path), Kind: r.Kind.String(), Keep: r.Keep.String(), Edited: r.Edited}
	if r.Copy != "" {
		out.Copy = []byte(r.Copy)
	}
	return out, nil
}

// HandleResolve serves resolve and describe requests, when m is a
// Resolver.
func HandleResolve(ctx context.Context, m Mount, req Request) Response {
	r, ok := m.(Resolver)
	if !ok {
		return errorResponse(errors.New("this process cannot resolve conflicts"))
	}
	var resp Response
	var err error
	if req.Op == OpDescribe {
		var ds []Described
		if ds, err = r.Describe(ctx, string(req.Path), req.View, req.All); err == nil {
			resp = Response{V: ProtocolVersion, Described: ds}
		}
	} else {
		var keep fusefs.Keep
		if keep, err = fusefs.ParseKeep(req.Keep); err == nil {
			var res Resolved
			if res, err = r.Resolve(ctx, string(req.Path), req.View, keep); err == nil {
				resp = Response{V: ProtocolVersion, Resolved: &res}
			}
		}
	}
	if err != nil {
		resp = errorResponse(err)
		var nc *fusefs.NotConflictError
		if errors.As(err, &nc) {
			resp.NotConflict = true
			if nc.Conflict != "" {
				resp.Under = []byte(nc.Conflict)
			}
		}
	}
	return resp
}
