package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/merge3"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// This file serves `myrrorfs diff`: what differs between the two versions
// of a path, as a unified diff, from a plan. A mount answers it (OpDiff)
// reading remote versions through its fetch cache, so what its view
// showed is not downloaded again; without a mount, the command reads both
// versions where they are, with the same code.

// OpDiff asks for the differences at Request.Paths (paths in LOCAL, or
// with View in the view) and under them; the mount rescans both sides
// first. Response.Diffs answers for each path, in order.
const OpDiff = "diff"

// Limits of a diff.
const (
	DiffMaxSize = 8 << 20 // the largest version compared line by line
	DiffContext = 3       // unchanged lines around a change
)

// Diffed is what `myrrorfs diff` prints for one path: a line saying what
// differs (What), lines about the versions (Meta) and their unified diff,
// or why they could not be compared (Error). Names in What and Meta are quoted as
// engine.QuotePath does; Unified holds the files' own bytes.
//
// The old version (the diff's "---" side) is the one that is replaced:
// for a conflict, the remote version (like git diff, which shows what is
// yours as added); for a path one side changed, the other side's version,
// which the next sync replaces.
type Diffed struct {
	Path []byte `json:"path"` // in the pair
	// What is "conflict (KIND) PATH", "to remote (OP) PATH" or "to local
	// (OP) PATH".
	What string `json:"what,omitempty"`
	// Meta: the executable bit's change ("old mode 100644", "new mode
	// 100755"), and when the versions are not compared line by line, one
	// line saying how they differ (binary, too large, not both files).
	Meta []string `json:"meta,omitempty"`
	// Unified is the unified diff of two text files (merge3.Unified): its
	// first two lines are the "---" and "+++" lines.
	Unified []byte `json:"unified,omitempty"`
	Error   string `json:"error,omitempty"`
}

// VersionReader reads the version e of the file at path on side s, at most
// DiffMaxSize bytes, checked to be that version.
type VersionReader func(s engine.Side, path string, e tree.Entry) ([]byte, error)

// DirectReader reads both sides' versions where they are (a pair that no
// mount holds).
func DirectReader(p *engine.Pair) VersionReader {
	return func(s engine.Side, path string, e tree.Entry) ([]byte, error) {
		return p.ReadVersion(s, path, e, DiffMaxSize)
	}
}

// fetchedReader reads remote versions through the pair's fetch cache.
func fetchedReader(p *engine.Pair) VersionReader {
	return func(s engine.Side, path string, e tree.Entry) ([]byte, error) {
		if s == engine.RemoteSide {
			return p.ReadFetched(path, e, DiffMaxSize)
		}
		return p.ReadVersion(s, path, e, DiffMaxSize)
	}
}

// Diff returns the differences, from plan, at path p of the pair and
// under it ("" for all), in tree order: every path that is not equal, but
// those inside a directory conflict (the directory stands for them) unless
// p lies inside it, and the old paths of renames unless p names one. It
// fails when neither side has p; plan must hold every path (a resident
// pair's, or engine.Options.AllRows).
func Diff(plan *engine.Plan, p string, read VersionReader) ([]Diffed, error) {
	ds := plan.Decisions
	from, hidden := renamed(plan)
	found := p == ""
	var out []Diffed
	for i := 0; i < len(ds); i++ {
		d := ds[i]
		if p != "" && d.Path != p && !tree.IsUnder(d.Path, p) {
			continue
		}
		found = true
		if d.Action == reconcile.Equal || (hidden[i] && d.Path != p) {
			continue
		}
		if d.Under != "" && (p == d.Under || !tree.IsUnder(p, d.Under)) {
			continue
		}
		var under []reconcile.Decision
		if d.Action == reconcile.Conflict && d.Under == "" {
			j := i + 1
			for j < len(ds) && ds[j].Under == d.Path {
				j++
			}
			under = ds[i+1 : j]
		}
		out = append(out, diffOne(plan, i, from, under, read))
	}
	if !found {
		return nil, errors.New("no such path on either side (or it is ignored)")
	}
	return out, nil
}

// renamed returns, for each decision a rename carries out, the row it is
// renamed from, and the rows that rename stands for (as in the plan's
// text: the old paths, and what lies in a renamed directory).
func renamed(plan *engine.Plan) (from map[int]int, hidden map[int]bool) {
	from, hidden = map[int]int{}, map[int]bool{}
	for _, m := range []map[int]int{plan.Moves.Files, plan.Moves.Edits, plan.Moves.Dirs} {
		for to, old := range m {
			from[to], hidden[old] = old, true
		}
	}
	rows := plan.Rows
	for to, old := range plan.Moves.Dirs {
		for _, root := range []int{to, old} {
			for k := root + 1; k < len(rows) && tree.IsUnder(rows[k].Path, rows[root].Path); k++ {
				hidden[k] = true
			}
		}
	}
	return from, hidden
}

// diffOne is the difference of decision i of plan; under holds the
// decisions inside it when it is a directory conflict.
func diffOne(plan *engine.Plan, i int, from map[int]int, under []reconcile.Decision, read VersionReader) Diffed {
	d := plan.Decisions[i]
	oldSide, newSide := engine.RemoteSide, engine.LocalSide
	if d.Action == reconcile.ToLocal {
		oldSide, newSide = engine.LocalSide, engine.RemoteSide
	}
	entry := func(d reconcile.Decision, s engine.Side) tree.Entry {
		if s == engine.LocalSide {
			return d.Local
		}
		return d.Remote
	}
	old, cur := entry(d, oldSide), entry(d, newSide)
	oldPath := d.Path
	name := engine.QuotePath(d.Path)
	if d.Local.Kind == tree.Dir || d.Remote.Kind == tree.Dir {
		name += "/" // as the plan prints it
	}
	out := Diffed{Path: []byte(d.Path), What: what(plan, d, i, from) + " " + name}
	if _, ok := plan.Moves.Dirs[i]; ok {
		return out // the same names and contents under it: nothing else differs
	}
	if k, ok := plan.Moves.Files[i]; ok && k == from[i] {
		// a rename: the version it moves is the old path's
		oldPath = plan.Rows[k].Path
		old = entry(plan.Decisions[k], oldSide)
	}
	lo := engine.QuotePath(oldSide.String() + "/" + oldPath)
	ln := engine.QuotePath(newSide.String() + "/" + d.Path)
	if old.Kind != tree.File || cur.Kind != tree.File {
		out.Meta = []string{fmt.Sprintf("%s %s; %s %s", lo, describeEntry(old, oldSide, under), ln, describeEntry(cur, newSide, under))}
		return out
	}
	if old.Exec() != cur.Exec() {
		out.Meta = append(out.Meta, "old mode "+gitMode(old), "new mode "+gitMode(cur))
	}
	if tree.SameContent(old, cur) {
		return out
	}
	if old.Size > DiffMaxSize || cur.Size > DiffMaxSize {
		out.Meta = append(out.Meta, fmt.Sprintf("%s and %s differ (not compared line by line: larger than %s)", lo, ln, engine.HumanBytes(DiffMaxSize)))
		return out
	}
	a, err := read(oldSide, oldPath, old)
	if err == nil {
		var b []byte
		if b, err = read(newSide, d.Path, cur); err == nil {
			switch {
			case !merge3.IsText(a) || !merge3.IsText(b):
				out.Meta = append(out.Meta, fmt.Sprintf("Binary files %s and %s differ", lo, ln))
			case bytes.Equal(a, b):
				if len(out.Meta) == 0 {
					out.Meta = append(out.Meta, "the two versions hold the same bytes")
				}
			default:
				out.Unified = merge3.Unified(a, b, lo, ln, DiffContext)
			}
			return out
		}
	}
	if errors.Is(err, engine.ErrChanged) {
		err = errors.New("a version changed while it was read: run the diff again")
	}
	out.Error = OneLine(err.Error())
	return out
}

// what says what the difference at decision i is, and what the next sync
// (or commit) does with it.
func what(plan *engine.Plan, d reconcile.Decision, i int, from map[int]int) string {
	switch d.Action {
	case reconcile.Conflict:
		switch {
		case d.Under != "":
			return fmt.Sprintf("conflict (%s, in directory %s)", d.Kind, engine.QuotePath(d.Under))
		case plan.IsMerged(d.Path):
			return fmt.Sprintf("conflict (%s, merges cleanly)", d.Kind)
		}
		return fmt.Sprintf("conflict (%s)", d.Kind)
	case reconcile.ToRemote, reconcile.ToLocal:
		dir := "to remote"
		if d.Action == reconcile.ToLocal {
			dir = "to local"
		}
		op := engine.Op(d)
		if k, ok := from[i]; ok {
			op = "rename from " + engine.QuotePath(plan.Rows[k].Path)
			if _, dir := plan.Moves.Dirs[i]; dir {
				op += "/"
			}
		}
		if d.Settled != reconcile.NoConflict {
			op += fmt.Sprintf(", settling a %s conflict", d.Settled)
		}
		return fmt.Sprintf("%s (%s)", dir, op)
	}
	return d.Action.String()
}

// describeEntry says what a version is, after its label: "is a file (12
// B)", "does not exist"...; under counts what a directory conflict's
// version holds.
func describeEntry(e tree.Entry, s engine.Side, under []reconcile.Decision) string {
	switch e.Kind {
	case tree.Absent:
		return "does not exist"
	case tree.File:
		if e.Exec() {
			return fmt.Sprintf("is an executable file (%s)", engine.HumanBytes(e.Size))
		}
		return fmt.Sprintf("is a file (%s)", engine.HumanBytes(e.Size))
	case tree.Symlink:
		return "is a symlink to " + engine.QuotePath(e.Target)
	case tree.Dir:
		n := 0
		for _, u := range under {
			if (s == engine.LocalSide && u.Local.Exists()) || (s == engine.RemoteSide && u.Remote.Exists()) {
				n++
			}
		}
		switch n {
		case 0:
			return "is a directory"
		case 1:
			return "is a directory (1 entry inside)"
		}
		return fmt.Sprintf("is a directory (%d entries inside)", n)
	}
	return "is a " + e.Kind.String()
}

// gitMode is a file's mode as git prints it.
func gitMode(e tree.Entry) string {
	if e.Exec() {
		return "100755"
	}
	return "100644"
}

// Differ answers diff requests; *Daemon is one.
type Differ interface {
	// Diff answers for each of paths, in order (see Diff).
	Diff(ctx context.Context, paths []string, inView bool) ([]DiffAnswer, error)
}

// DiffAnswer answers for one path of a diff request: its differences,
// or why there are none to show.
type DiffAnswer struct {
	Diffs []Diffed `json:"diffs,omitempty"`
	Error string   `json:"error,omitempty"`
}

// DiffPaths is Diff for each of paths, in order.
func DiffPaths(plan *engine.Plan, paths []string, read VersionReader) []DiffAnswer {
	out := make([]DiffAnswer, len(paths))
	for i, p := range paths {
		ds, err := Diff(plan, p, read)
		if err != nil {
			out[i].Error = OneLine(err.Error())
		}
		out[i].Diffs = ds
	}
	return out
}

// Diff implements Differ for a mount: it rescans both sides, and reads
// remote versions through the fetch cache. A view path names what the view
// shows there: a conflict's version names the conflict, and a path inside
// a version of a directory conflict the path inside the directory.
func (d *Daemon) Diff(ctx context.Context, paths []string, inView bool) ([]DiffAnswer, error) {
	plan, err := d.Rescan(ctx)
	if err != nil {
		return nil, err
	}
	if inView {
		mapped := make([]string, len(paths))
		for i, p := range paths {
			mapped[i] = d.pairPath(p)
		}
		paths = mapped
	}
	return DiffPaths(plan, paths, fetchedReader(d.pair)), nil
}

// pairPath returns the path of the pair that view path vp shows.
func (d *Daemon) pairPath(vp string) string {
	if vp == "" {
		return ""
	}
	parts := strings.Split(vp, "/")
	for i := 1; i <= len(parts); i++ {
		if c, err := d.view.ConflictAt(strings.Join(parts[:i], "/")); err == nil {
			if i == len(parts) {
				return c
			}
			return tree.Join(c, strings.Join(parts[i:], "/"))
		}
	}
	return vp
}

// HandleDiff answers a diff request, when m is a Differ.
func HandleDiff(ctx context.Context, m Mount, req Request) Response {
	df, ok := m.(Differ)
	if !ok {
		return errorResponse(errors.New("this process cannot show differences"))
	}
	paths := make([]string, len(req.Paths))
	for i, p := range req.Paths {
		paths[i] = string(p)
	}
	ds, err := df.Diff(ctx, paths, req.View)
	if err != nil {
		return errorResponse(err)
	}
	return Response{V: ProtocolVersion, Diffs: ds}
}
