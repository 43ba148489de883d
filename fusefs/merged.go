package fusefs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// A conflict on a text file whose versions the pair merged (three-way,
// from the base content) with overlapping edits shows a third sibling,
// p.merged, beside p.local and p.remote: the merge with conflict markers.
// It is an ordinary writable file: the user edits it in place, or saves
// over it, and resolves the conflict with it by moving it to the bare name
// p (or by removing both p.local and p.remote, or `myrrorfs resolve --keep
// merged`): its content then becomes the local version, and p's base moves
// to the remote version, as a clean merge is carried out (the backend's
// TakeMerged), so the next commit sends it to the remote.
//
// Its content lives in the local tree, where nothing is synced or shown:
// .myrrorfs-merged/<id>-<name> at the root, <id> naming the conflict's path,
// with a record .myrrorfs-merged/<id>.json of the versions it was merged
// from, the hash of the merge as written (what the user changed shows
// against it) and whether the user removed p.merged. So edits survive
// rescans, unmounts and crashes. A mounted view writes the content when a
// conflict first shows a merge, and keeps it while the conflict holds the
// same versions. When either side changes the file again, the merge is made
// anew: content the user edited goes to the local backup area first. When
// the conflict goes (resolved in any way), so do its record and content
// (edited content to the backup area, unless it became the local version).
//
// Removing p.merged only stops showing it, until either side changes the
// file again: the conflict stays, as p.local and p.remote.
//
// Removing one of p.local and p.remote keeps the other version, as it does
// without a merge, and the view collapses at once. For a few seconds after
// (reuseWithin), the name of the other sibling still answers a lookup,
// though no listing shows it: removing it too (`rm p.local p.remote`, or a
// file manager deleting both) undoes nothing but takes the merge instead,
// as the last sibling standing.

// Merger is implemented by a Backend whose pair merges text conflicts.
// Its methods are called with the view's gesture lock held.
type Merger interface {
	// Merged returns the three-way merge of the versions of conflict d,
	// with conflict markers, if the pair made one.
	Merged(d reconcile.Decision) ([]byte, bool)
	// TakeMerged resolves conflict d with data: data becomes the local
	// version (the local version goes to the local backup area) and the
	// path's base moves to d's remote version. It fails, changing nothing,
	// when either side no longer holds d's version.
	TakeMerged(d reconcile.Decision, data []byte) error
}

// ErrNoMerge is a conflict without a merge to keep.
var ErrNoMerge = errors.New("no merge to keep: only a text file changed on both sides since a sync that copied it is merged")

// NameStyle is how the view names the siblings of a conflict.
type NameStyle uint8

const (
	NamesSuffix NameStyle = iota // report.docx.local, report.docx.remote, report.docx.merged
	NamesExt                     // report.local.docx, report.remote.docx, report.merged.docx
)

func (s NameStyle) String() string {
	if s == NamesExt {
		return "ext"
	}
	return "suffix"
}

// ParseNameStyle reads "suffix" or "ext".
func ParseNameStyle(s string) (NameStyle, error) {
	switch s {
	case "suffix", "":
		return NamesSuffix, nil
	case "ext":
		return NamesExt, nil
	}
	return 0, fmt.Errorf("%q: want suffix (report.docx.local) or ext (report.local.docx)", s)
}

// sibName returns the name of the sibling tag (local, remote, merged) of
// a conflict named name, as a stem and an extension, so that a
// disambiguating number goes between them: name.tag, or with ext, when
// name has an extension, stem.tag.ext.
func sibName(name, tag string, ext bool) (string, string) {
	if ext {
		if stem, x := splitExt(name); x != "" {
			return stem + "." + tag, x
		}
	}
	return name + "." + tag, ""
}

// splitExt splits off the extension of a name: what follows its last dot,
// 1 to 15 letters, digits, '-', '_' or '+', together with a ".tar" before
// it (archive.tar.gz: ".tar.gz"). A name without one (README, a name
// ending in a dot, a dotfile such as .bashrc) gives "".
func splitExt(name string) (stem, ext string) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 || !isExt(name[i+1:]) || strings.Trim(name[:i], ".") == "" {
		return name, ""
	}
	stem, ext = name[:i], name[i:]
	if j := strings.LastIndexByte(stem, '.'); j >= 0 && strings.EqualFold(stem[j+1:], "tar") && strings.Trim(stem[:j], ".") != "" {
		stem, ext = stem[:j], name[j:]
	}
	return stem, ext
}

func isExt(s string) bool {
	if len(s) == 0 || len(s) > 15 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '+'
		if !ok {
			return false
		}
	}
	return true
}

// mergeInfo is the merge of a conflict, as the model holds it.
type mergeInfo struct {
	key  mergeKey // the versions merged
	data []byte   // the merge, with conflict markers
	// stored is the local path of the content p.merged shows ("" when
	// the view does not show it)
	stored string
	e      tree.Entry // what p.merged stands for, for the echoes
}

// mergeKey names the versions of a merge: base, local and remote.
type mergeKey [3]tree.Hash

func keyOf(d reconcile.Decision) mergeKey {
	return mergeKey{d.Base.Hash, d.Local.Hash, d.Remote.Hash}
}

// mergesOf returns the merges the backend has for the conflicts of ds, by
// path (nil when it has none).
func (v *View) mergesOf(ds []reconcile.Decision) map[string]*mergeInfo {
	mg, ok := v.b.(Merger)
	if !ok {
		return nil
	}
	var out map[string]*mergeInfo
	for _, d := range ds {
		if d.Action != reconcile.Conflict || d.Under != "" || d.Local.Kind != tree.File || d.Remote.Kind != tree.File {
			continue
		}
		data, ok := mg.Merged(d)
		if !ok {
			continue
		}
		if out == nil {
			out = map[string]*mergeInfo{}
		}
		e := tree.Entry{Kind: tree.File, Perm: d.Local.Perm, Size: int64(len(data)), Hash: blake3.Sum256(data)}
		out[d.Path] = &mergeInfo{key: keyOf(d), data: data, e: e}
	}
	return out
}

// mergedDir holds the content of the p.merged siblings, at the local root.
const mergedDir = tree.MergedDir

// mergedMax bounds the content of p.merged that a resolution reads.
const mergedMax = 64 << 20

// mergedRecord is the record of a p.merged sibling (see the top of this
// file). Hashes are in hex; the path in bytes, as JSON would mangle a name
// that is not UTF-8.
type mergedRecord struct {
	Path      []byte `json:"path"`
	Base      string `json:"base"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	Orig      string `json:"orig"` // of the merge as written
	Dismissed bool   `json:"dismissed,omitempty"`
}

func (r mergedRecord) matches(k mergeKey) bool {
	return r.Base == k[0].String() && r.Local == k[1].String() && r.Remote == k[2].String()
}

func newRecord(p string, k mergeKey, data []byte) mergedRecord {
	return mergedRecord{Path: []byte(p), Base: k[0].String(), Local: k[1].String(), Remote: k[2].String(), Orig: hashHex(data)}
}

func hashHex(b []byte) string {
	h := blake3.Sum256(b)
	return hex.EncodeToString(h[:])
}

// mergedID names the files of conflict path p in mergedDir.
func mergedID(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:16])
}

// contentPath is the local path of the content of p.merged: its id, then
// p's name (cut to keep within the length of a name), so that a copy in
// the backup area says what it was.
func contentPath(p string) string {
	name := tree.Base(p)
	if len(name) > 200 {
		name = name[:200]
	}
	return mergedDir + "/" + mergedID(p) + "-" + name
}

func recordPath(p string) string { return mergedDir + "/" + mergedID(p) + ".json" }

// readRecord returns the record of conflict path p, if there is one.
func (v *View) readRecord(p string) (mergedRecord, bool) {
	var rec mergedRecord
	r, err := v.lt.Open(recordPath(p))
	if err != nil {
		return rec, false
	}
	defer r.Close()
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&rec); err != nil || string(rec.Path) != p {
		return rec, false
	}
	return rec, true
}

func (v *View) writeRecord(rec mergedRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return v.writeAtomic(recordPath(string(rec.Path)), b, 0o600)
}

// writeAtomic writes a local file through a temporary renamed into place.
func (v *View) writeAtomic(p string, data []byte, perm uint32) error {
	if err := v.mkdirAll(tree.Parent(p)); err != nil {
		return err
	}
	tmp, w, err := v.lt.CreateTemp(tree.Parent(p), perm)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = v.lt.Rename(tmp, p)
	}
	if err != nil {
		v.lt.Remove(tmp)
	}
	return err
}

// readLocal reads a local file of at most mergedMax bytes.
func (v *View) readLocal(p string) ([]byte, error) {
	r, err := v.lt.Open(p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, mergedMax+1))
	if err == nil && len(b) > mergedMax {
		err = fmt.Errorf("%s: larger than %d MiB", p, mergedMax>>20)
	}
	return b, err
}

// syncMerged brings the content of the p.merged siblings in line with
// merges (see the top of this file), and sets the stored path of each
// merge the view shows. A failure only leaves a merge unshown. Called with
// gmu held.
func (v *View) syncMerged(merges map[string]*mergeInfo) {
	live := map[string]bool{} // ids whose files stay
	for p, mi := range merges {
		rec, ok := v.readRecord(p)
		switch {
		case ok && rec.matches(mi.key) && rec.Dismissed:
			live[mergedID(p)] = true
			continue
		case ok && rec.matches(mi.key):
			if _, err := v.lt.Lstat(contentPath(p)); err == nil {
				live[mergedID(p)] = true
				mi.stored = contentPath(p)
				continue
			}
		case ok:
			// the merge of other versions: made anew
			if v.dropMerged(p, rec) != nil {
				continue
			}
		}
		if err := v.writeAtomic(contentPath(p), mi.data, mi.e.Perm&0o777|0o600); err != nil {
			continue
		}
		if err := v.writeRecord(newRecord(p, mi.key, mi.data)); err != nil {
			v.lt.Remove(contentPath(p))
			continue
		}
		live[mergedID(p)] = true
		mi.stored = contentPath(p)
	}
	for _, g := range v.glows {
		live[mergedID(g.path)] = true
	}
	v.cleanMerged(live)
}

// cleanMerged removes the files of mergedDir but those of the ids in
// live: of conflicts gone, or merged again (see dropMerged).
func (v *View) cleanMerged(live map[string]bool) {
	const idLen = 32
	idOf := func(name string) string {
		if len(name) > idLen {
			return name[:idLen]
		}
		return name
	}
	infos, err := v.lt.ReadDir(mergedDir)
	if err != nil {
		return
	}
	kept := map[string]bool{} // ids whose record stays
	for _, in := range infos {
		id, ok := strings.CutSuffix(in.Name, ".json")
		if !ok || len(id) != idLen || live[id] {
			continue
		}
		rp := tree.Join(mergedDir, in.Name)
		if rec, ok := v.readRecordAt(rp); ok {
			if v.dropMerged(string(rec.Path), rec) != nil {
				kept[id] = true // edited content that could not be kept elsewhere
			}
			continue
		}
		v.lt.Remove(rp)
	}
	// what is left: content without a record (never shown) and temporaries
	if infos, err = v.lt.ReadDir(mergedDir); err != nil {
		return
	}
	for _, in := range infos {
		if id := idOf(in.Name); !live[id] && !kept[id] {
			v.lt.Remove(tree.Join(mergedDir, in.Name))
		}
	}
	v.lt.Remove(mergedDir) // once empty
}

// readRecordAt reads a record by its local path.
func (v *View) readRecordAt(rp string) (mergedRecord, bool) {
	var rec mergedRecord
	r, err := v.lt.Open(rp)
	if err != nil {
		return rec, false
	}
	defer r.Close()
	if err := json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(&rec); err != nil || recordPath(string(rec.Path)) != rp {
		return rec, false
	}
	return rec, true
}

// dropMerged removes the content and record of conflict path p; content
// the user edited goes to the local backup area. It fails only when that
// content could not be kept.
func (v *View) dropMerged(p string, rec mergedRecord) error {
	c := contentPath(p)
	if data, err := v.readLocal(c); err == nil && hashHex(data) != rec.Orig {
		if err := v.b.BackupLocal(c); err != nil {
			return err
		}
	} else if err == nil || !errors.Is(err, os.ErrNotExist) {
		v.lt.Remove(c)
	}
	v.lt.Remove(recordPath(p))
	return nil
}

// forgetMerged removes the content and record of conflict path p, whose
// content was taken.
func (v *View) forgetMerged(p string) {
	v.lt.Remove(contentPath(p))
	v.lt.Remove(recordPath(p))
}

// dismissMerged stops showing the p.merged of conflict o until its
// versions change: its content goes, its record says so.
func (v *View) dismissMerged(o *overlay) error {
	rec := newRecord(o.d.Path, o.merge.key, o.merge.data)
	rec.Dismissed = true
	if err := v.writeRecord(rec); err != nil {
		return err
	}
	if err := v.lt.Remove(contentPath(o.d.Path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// mergedData returns what resolving conflict path p with its merge mi
// takes: the content of p.merged when the view keeps one for these
// versions (edited set when the user changed it), else the merge.
func (v *View) mergedData(p string, mi *mergeInfo) (data []byte, edited bool, err error) {
	if rec, ok := v.readRecord(p); ok && rec.matches(mi.key) && !rec.Dismissed {
		data, err := v.readLocal(contentPath(p))
		if err == nil {
			return data, hashHex(data) != rec.Orig, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, false, err
		}
	}
	return mi.data, false, nil
}

// takeMerge resolves conflict d with data (see Merger.TakeMerged) and
// drops what the view kept of its merge. Called with gmu held.
func (v *View) takeMerge(d reconcile.Decision, data []byte) error {
	mg, ok := v.b.(Merger)
	if !ok {
		return ErrNoMerge
	}
	if err := mg.TakeMerged(d, data); err != nil {
		return err
	}
	v.forgetMerged(d.Path)
	return nil
}

// moveMerged handles a rename of p.merged (target st): to the bare name
// it resolves the conflict with its content; anywhere else (the trash
// included) the content goes there and p.merged is no longer shown.
func (v *View) moveMerged(st target, vp, dst string) (bool, syscall.Errno) {
	o := st.merged
	p := o.d.Path
	if dst == p {
		data, _, err := v.mergedData(p, o.merge)
		if err != nil {
			return false, errnoOf(err)
		}
		return true, errnoOf(v.takeMerge(o.d, data))
	}
	real := dst
	if tree.InTrash(dst) {
		if err := v.mkdirAll(tree.Parent(dst)); err != nil {
			return false, errnoOf(err)
		}
	} else {
		r, reload, errno := v.prepareNew(dst)
		if errno != 0 {
			return reload, errno
		}
		real = r
	}
	if err := v.rename(st.real, real, 0); err != nil {
		return true, errnoOf(err)
	}
	if err := v.dismissMerged(o); err != nil {
		return true, errnoOf(err)
	}
	// an editor that renamed it aside may write it anew (see editors.go),
	// and Undo of the trash gesture may put it back at once
	v.rememberMerged(vp, p, o.merge.key)
	return true, 0
}

// glow is the name of the other sibling of a conflict just resolved by
// removing one sibling while the view showed its merge: for a moment it
// still stands for its version, so that removing it too takes the merge.
type glow struct {
	path  string             // the conflict's path
	side  side               // the version the name showed
	d     reconcile.Decision // the conflict as decided
	merge *mergeInfo
	until time.Time
}

// glowOther makes the other sibling of t glow, once the removal of
// sibling t resolved its conflict. Called with gmu held.
func (v *View) glowOther(t target) {
	o := t.sib
	if o == nil || o.mergedName == "" || o.merge == nil {
		return
	}
	name, s := o.remoteName, remote
	if t.side == remote {
		name, s = o.localName, local
	}
	if name == "" {
		return
	}
	if v.glows == nil {
		v.glows = map[string]*glow{}
	}
	v.glows[tree.Parent(o.d.Path)+"\x00"+name] = &glow{path: o.d.Path, side: s, d: o.d, merge: o.merge, until: time.Now().Add(reuseWithin)}
}

// liveGlows returns the glowing names, forgetting those whose time is
// over. Called with gmu held.
func (v *View) liveGlows() map[string]*glow {
	var out map[string]*glow
	now := time.Now()
	for k, g := range v.glows {
		if now.After(g.until) {
			delete(v.glows, k)
			continue
		}
		if out == nil {
			out = map[string]*glow{}
		}
		out[k] = g
	}
	return out
}

// takeGlow takes the merge of a conflict whose other sibling was removed
// just before: both are gone, the merge is what stands.
func (v *View) takeGlow(g *glow) syscall.Errno {
	for k, h := range v.glows {
		if h == g {
			delete(v.glows, k)
		}
	}
	data, _, err := v.mergedData(g.path, g.merge)
	if err != nil {
		return errnoOf(err)
	}
	return errnoOf(v.takeMerge(g.d, data))
}

// trashGlow handles a rename of a glowing name: into the trash, as its
// removal (a copy lands in the trash); anywhere else the name is gone.
func (v *View) trashGlow(m *model, st target, dst string) (bool, syscall.Errno) {
	if !tree.InTrash(dst) {
		return false, syscall.ENOENT
	}
	e := st.glow.d.Local
	if st.side == remote {
		e = m.remote[st.real]
	}
	if err := v.trashCopy(m, st, dst, e); err != nil {
		return false, errnoOf(err)
	}
	return true, v.takeGlow(st.glow)
}

// MergedSibling returns the view path of the p.merged of the conflict at
// path, or "" when the view shows none.
func (v *View) MergedSibling(path string) string {
	o := v.model().ov[path]
	if o == nil || o.kind != ovConflict || o.mergedName == "" {
		return ""
	}
	return tree.Join(tree.Parent(path), o.mergedName)
}
