package fusefs

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/myrrorfs/myrrorfs/ops"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// side says which tree backs an entry of the view: the project's one side
// enum, under short names.
type side = ops.Side

const (
	local  = ops.Local
	remote = ops.Remote
)

// ovKind says how the view differs from the local tree at a path.
type ovKind uint8

const (
	ovHidden   ovKind = iota // the remote deleted it: the view hides the local entry
	ovRemote                 // the remote version wins: the view shows it
	ovConflict               // changed on both sides: shown as siblings
)

// overlay is what the view shows at a path where it differs from the
// local tree. Every other path shows the local tree as it is on disk.
type overlay struct {
	kind ovKind
	d    reconcile.Decision
	// names of the conflict's siblings in the same directory ("" when that
	// side has nothing: a modify/delete conflict shows its survivor alone)
	localName, remoteName string
	// merge is the three-way merge of the conflict's versions, if the pair
	// has one, and mergedName the name of its sibling p.merged ("" when
	// the view does not show it; see merged.go)
	merge      *mergeInfo
	mergedName string
	// under holds the decisions of the paths under a conflicting directory
	under []reconcile.Decision
}

// sibling is what a conflict sibling name stands for.
type sibling struct {
	path   string // the conflicting path
	side   side
	merged bool // p.merged: the conflict's merge, not a side's version
}

// model is the view derived from the decisions: only the differences from
// the local tree are kept, so its size follows the number of pending
// remote changes and conflicts, not the size of the tree.
type model struct {
	ov     map[string]*overlay
	extra  map[string][]string   // dir -> names shown there that the local tree may lack
	sib    map[string]sibling    // dir + "\x00" + sibling name -> conflict
	remote map[string]tree.Entry // remote entries the view may show
	rkids  map[string][]string   // dir -> names of its remote children the view may show
	// gone holds paths removed inside a p.remote directory: the view stops
	// showing them, and their bases move only when p.remote itself goes
	gone map[string]bool
	// goneLocal holds paths removed inside a p.local directory: the view
	// stops showing them, but the local tree keeps them until the
	// resolution of p decides (commit then moves them to the backup area,
	// as it does for p itself)
	goneLocal map[string]bool
	// glow holds, for a moment, the sibling names of conflicts just
	// resolved by removing one sibling, when a merge was shown (dir +
	// "\x00" + name; see merged.go): removing the other one then takes
	// the merge
	glow map[string]*glow
}

// buildOpts are what buildModel needs besides the decisions.
type buildOpts struct {
	ext    bool                  // siblings keep the name's extension (NamesExt)
	merges map[string]*mergeInfo // by conflict path
}

// buildModel renders decisions (in tree order) as a model. localNames lists
// the names in a local directory, to keep sibling names off real entries.
func buildModel(ds []reconcile.Decision, localNames func(dir string) []string, bo buildOpts) *model {
	m := &model{
		ov:     map[string]*overlay{},
		extra:  map[string][]string{},
		sib:    map[string]sibling{},
		remote: map[string]tree.Entry{},
		rkids:  map[string][]string{},
		gone:   map[string]bool{},

		goneLocal: map[string]bool{},
	}
	taken := map[string]map[string]bool{} // dir -> names in use, filled on demand
	for _, d := range ds {
		dir, name := tree.Parent(d.Path), tree.Base(d.Path)
		if d.Under != "" {
			m.addRemote(d, dir, name)
			if o := m.ov[d.Under]; o != nil {
				o.under = append(o.under, d)
			}
			continue
		}
		switch d.Action {
		case reconcile.ToLocal:
			if !d.Remote.Exists() {
				m.ov[d.Path] = &overlay{kind: ovHidden, d: d}
				continue
			}
			m.ov[d.Path] = &overlay{kind: ovRemote, d: d}
			m.extra[dir] = append(m.extra[dir], name)
			m.addRemote(d, dir, name)
		case reconcile.Conflict:
			o := &overlay{kind: ovConflict, d: d}
			used := taken[dir]
			if used == nil {
				used = map[string]bool{}
				for _, n := range localNames(dir) {
					used[n] = true
				}
				taken[dir] = used
			}
			if d.Local.Exists() {
				o.localName = freeSibName(used, name, "local", bo.ext)
				m.sib[dir+"\x00"+o.localName] = sibling{path: d.Path, side: local}
				m.extra[dir] = append(m.extra[dir], o.localName)
			}
			if d.Remote.Exists() {
				o.remoteName = freeSibName(used, name, "remote", bo.ext)
				m.sib[dir+"\x00"+o.remoteName] = sibling{path: d.Path, side: remote}
				m.extra[dir] = append(m.extra[dir], o.remoteName)
				m.addRemote(d, dir, name)
			}
			if mi := bo.merges[d.Path]; mi != nil {
				o.merge = mi
				if mi.stored != "" {
					o.mergedName = freeSibName(used, name, "merged", bo.ext)
					m.sib[dir+"\x00"+o.mergedName] = sibling{path: d.Path, merged: true}
					m.extra[dir] = append(m.extra[dir], o.mergedName)
				}
			}
			m.ov[d.Path] = o
		}
	}
	return m
}

func (m *model) addRemote(d reconcile.Decision, dir, name string) {
	if d.Remote.Exists() {
		m.remote[d.Path] = d.Remote
		m.rkids[dir] = append(m.rkids[dir], name)
	}
}

// freeSibName returns the free name of sibling tag of a conflict named
// name (see sibName and freeName).
func freeSibName(used map[string]bool, name, tag string, ext bool) string {
	stem, x := sibName(name, tag, ext)
	return freeName(used, stem, x)
}

// freeName returns stem+ext, or stem-2+ext, stem-3+ext... the first not
// in used, and marks it used. The order of decisions is stable, so the
// names are too.
func freeName(used map[string]bool, stem, ext string) string {
	n := stem + ext
	for i := 2; used[n]; i++ {
		n = stem + "-" + strconv.Itoa(i) + ext
	}
	used[n] = true
	return n
}

// target is what a view path stands for.
type target struct {
	side side
	real string // the path in that side's tree
	// sib is set when the path is a conflict sibling itself
	sib *overlay
	// under is set inside a conflict sibling's subtree, where the side's
	// tree is shown as it is
	under bool
	// merged is set when the path is a conflict's p.merged (real is then
	// the local path of its content)
	merged *overlay
	// glow is set when the path is the other sibling of a conflict just
	// resolved by removing one sibling (see merged.go)
	glow *glow
}

// hiddenName reports whether a local path is never shown: what myrrorfs
// keeps to itself, also inside the trash folders (which are shown).
func hiddenName(p string) bool {
	if tree.InTrash(p) {
		_, in, _ := strings.Cut(p, "/")
		return in != "" && tree.Internal(in)
	}
	return tree.Internal(p)
}

// resolve maps a view path to what backs it. ok is false when the view has
// no such entry (a local entry may still be missing on disk: callers stat).
func (m *model) resolve(vpath string) (t target, ok bool) {
	return m.resolveGlow(vpath, true)
}

// resolveGlow is resolve, with the names of glow (just resolved
// conflicts) only when glowing is set.
func (m *model) resolveGlow(vpath string, glowing bool) (t target, ok bool) {
	if vpath == "" {
		return target{}, true
	}
	if strings.IndexByte(vpath, 0) >= 0 {
		return target{}, false // a node cut off from the view
	}
	for _, c := range strings.Split(vpath, "/") {
		if t, ok = m.stepGlow(t, c, glowing); !ok {
			return t, false
		}
	}
	return t, true
}

// step resolves one more component below t.
func (m *model) step(t target, c string) (target, bool) {
	return m.stepGlow(t, c, true)
}

func (m *model) stepGlow(t target, c string, glowing bool) (target, bool) {
	rp := tree.Join(t.real, c)
	switch {
	case t.side == remote:
		if _, ok := m.remote[rp]; !ok || m.gone[rp] {
			return t, false
		}
		return target{side: remote, real: rp, under: t.under}, true
	case t.under:
		if hiddenName(rp) || m.goneLocal[rp] {
			return t, false
		}
		return target{side: local, real: rp, under: true}, true
	}
	if s, ok := m.sib[t.real+"\x00"+c]; ok {
		if s.merged {
			o := m.ov[s.path]
			return target{side: local, real: o.merge.stored, merged: o}, true
		}
		return target{side: s.side, real: s.path, sib: m.ov[s.path], under: true}, true
	}
	if hiddenName(rp) {
		return t, false
	}
	if g := m.glowAt(t.real, c, glowing); g != nil && m.ov[rp] == nil && time.Now().Before(g.until) {
		return target{side: g.side, real: g.path, glow: g}, true
	}
	if o := m.ov[rp]; o != nil {
		if o.kind != ovRemote {
			return t, false
		}
		return target{side: remote, real: rp}, true
	}
	return target{side: local, real: rp}, true
}

// glowAt returns the glow of name c in directory dir, if glows are looked
// at (glowing) and there is one: the key is built only then, since every
// step of every path comes here.
func (m *model) glowAt(dir, c string, glowing bool) *glow {
	if !glowing || len(m.glow) == 0 {
		return nil
	}
	return m.glow[dir+"\x00"+c]
}

// keepGone carries over the removals made inside p.remote and p.local
// directories that still stand in the new model.
func (m *model) keepGone(old *model) {
	for p := range old.gone {
		if _, ok := m.remote[p]; ok {
			m.gone[p] = true
		}
	}
	for p := range old.goneLocal {
		if m.underLocalSibling(p) {
			m.goneLocal[p] = true
		}
	}
}

// underLocalSibling reports whether local path p lies inside a conflict
// whose local version the view shows as a sibling.
func (m *model) underLocalSibling(p string) bool {
	for d := tree.Parent(p); ; d = tree.Parent(d) {
		if o := m.ov[d]; o != nil && o.kind == ovConflict && o.localName != "" {
			return true
		}
		if d == "" {
			return false
		}
	}
}

// goneUnder returns the paths removed in the view inside local path p,
// outermost first.
func (m *model) goneUnder(p string) []string {
	var out []string
	for g := range m.goneLocal {
		if tree.IsUnder(g, p) {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return tree.Compare(out[i], out[j]) < 0 })
	// keep only the outermost: moving a directory away takes its content
	var top []string
	for _, g := range out {
		if len(top) == 0 || !tree.IsUnder(g, top[len(top)-1]) {
			top = append(top, g)
		}
	}
	return top
}

// subtreeBases returns the base changes that make side s's version win
// over the whole conflict o: the base of every path of the conflict (the
// root and every path under it) moves to the other side's entry.
func (o *overlay) subtreeBases(keep side) []BaseChange {
	pick := func(d reconcile.Decision) tree.Entry {
		if keep == local {
			return d.Remote
		}
		return d.Local
	}
	cs := []BaseChange{{Path: o.d.Path, Entry: pick(o.d)}}
	for _, d := range o.under {
		cs = append(cs, BaseChange{Path: d.Path, Entry: pick(d)})
	}
	return cs
}

// viewName returns the name under which the view shows real path p of the
// given side in p's directory, if the view shows it there at all.
func (m *model) viewName(p string, s side) (string, bool) {
	o := m.ov[p]
	name := tree.Base(p)
	switch {
	case o == nil:
		return name, s == local
	case o.kind == ovRemote:
		return name, s == remote
	case o.kind == ovConflict && s == local && o.localName != "":
		return o.localName, true
	case o.kind == ovConflict && s == remote && o.remoteName != "":
		return o.remoteName, true
	}
	return "", false
}

// baseBefore returns the bases of the conflict's paths as they were when
// it was decided: moving them back reopens the conflict.
func (o *overlay) baseBefore() []BaseChange {
	cs := []BaseChange{{Path: o.d.Path, Entry: o.d.Base}}
	for _, d := range o.under {
		cs = append(cs, BaseChange{Path: d.Path, Entry: d.Base})
	}
	return cs
}
