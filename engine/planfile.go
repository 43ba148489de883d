package engine

// A plan saved with `status --json > FILE` is read back by `sync --plan
// FILE`, which applies its fresh scan's plan only when that plan is the
// saved one: every path the file lists is decided the same way with both
// sides as the file recorded them, and every path the scan finds to act
// on (or in conflict) is in the file. The file is untrusted input: every
// way it can be damaged is an error naming its line, never a panic.

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Limits on a plan file: a longer line, or more lines, is refused.
const (
	MaxPlanLine  = 1 << 20    // bytes in one line (a path and a symlink target fit many times)
	MaxPlanPaths = 10_000_000 // paths in one plan
)

// SavedPlan is a plan file read back: what each path it lists was decided
// and what each side held there when it was saved.
type SavedPlan struct {
	name    string
	policy  reconcile.Policy // from the lines (the default when there are none)
	paths   []string         // in the file's order
	rows    map[string]*savedRow
	needAll bool // lists equal paths, or paths under a conflicting directory
}

// savedRow is one line of a plan file.
type savedRow struct {
	line          int
	action        reconcile.Action
	merged        bool // a conflict a clean merge settles (action "merged")
	op            string
	kind          reconcile.Kind
	under         string
	local, remote tree.Entry
}

// Name is the file's name, as given to ReadPlanFile.
func (sp *SavedPlan) Name() string { return sp.name }

// Len is the number of paths the file lists.
func (sp *SavedPlan) Len() int { return len(sp.paths) }

// Policy is the mode and preference the plan was decided with (the
// default when the file lists no path).
func (sp *SavedPlan) Policy() reconcile.Policy { return sp.policy }

// NeedsAllRows reports whether the file lists paths that a compact plan
// leaves out (equal paths, paths under a conflicting directory: a file
// saved with status --json --all): the scan to check it against must then
// keep every row (Options.AllRows).
func (sp *SavedPlan) NeedsAllRows() bool { return sp.needAll }

// ReadPlanFile reads the plan file name (see ReadPlan).
func ReadPlanFile(name string) (*SavedPlan, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--plan: %s", EscapeControls(err.Error()))
	}
	defer f.Close()
	return ReadPlan(name, f)
}

// ReadPlan reads a plan saved by status --json from r, which holds the
// file name: one JSON object per line (blank lines are skipped). A line
// that is not such an object, names an invalid path or a path listed
// before, or holds a field status never writes (an unknown action, a mode
// that is not octal, a hash that is not 64 hex digits, …) is an error
// naming name:LINE and the cause. Fields it does not know are ignored.
func ReadPlan(name string, r io.Reader) (*SavedPlan, error) {
	sp := &SavedPlan{name: name, rows: map[string]*savedRow{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxPlanLine)
	n, policyLine := 0, 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", QuotePath(name), n, EscapeControls(fmt.Sprintf(format, args...)))
		}
		if len(sp.paths) == MaxPlanPaths {
			return nil, fail("more than %d paths: not a plan myrrorfs reads", MaxPlanPaths)
		}
		path, row, pol, err := parsePlanLine(b)
		if err != nil {
			return nil, fail("%v", err)
		}
		if prev, ok := sp.rows[path]; ok {
			return nil, fail("%s is listed twice (first on line %d)", QuotePath(path), prev.line)
		}
		if policyLine == 0 {
			sp.policy, policyLine = pol, n
		} else if pol != sp.policy {
			return nil, fail("decided with %s, line %d with %s: lines of two plans", PolicyFlags(pol), policyLine, PolicyFlags(sp.policy))
		}
		row.line = n
		sp.rows[path] = row
		sp.paths = append(sp.paths, path)
		if row.action == reconcile.Equal || row.under != "" {
			sp.needAll = true
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes: not a plan saved by status --json", QuotePath(name), n+1, MaxPlanLine)
		}
		return nil, fmt.Errorf("%s:%d: %s", QuotePath(name), n+1, EscapeControls(err.Error()))
	}
	return sp, nil
}

// planLine is one line of a plan file as it is decoded. Local and Remote
// are raw, so that a missing field and null differ.
type planLine struct {
	Path       *string         `json:"path"`
	PathBytes  []byte          `json:"path_bytes"`
	Action     string          `json:"action"`
	Op         string          `json:"op"`
	Kind       string          `json:"kind"`
	Under      string          `json:"under"`
	UnderBytes []byte          `json:"under_bytes"`
	Local      json.RawMessage `json:"local"`
	Remote     json.RawMessage `json:"remote"`
	SyncMode   string          `json:"sync_mode"`
	Prefer     string          `json:"prefer"`
}

// entryLine is an entry of a plan file as it is decoded.
type entryLine struct {
	Type        string  `json:"type"`
	Size        int64   `json:"size"`
	Mode        *string `json:"mode"`
	Mtime       *string `json:"mtime"`
	Hash        *string `json:"hash"`
	Target      string  `json:"target"`
	TargetBytes []byte  `json:"target_bytes"`
}

// parsePlanLine decodes and checks one line.
func parsePlanLine(b []byte) (string, *savedRow, reconcile.Policy, error) {
	var pol reconcile.Policy
	var l planLine
	if err := json.Unmarshal(b, &l); err != nil {
		return "", nil, pol, jsonError(err)
	}
	if l.Path == nil {
		return "", nil, pol, errors.New(`no "path"`)
	}
	path := *l.Path
	if l.PathBytes != nil {
		path = string(l.PathBytes)
	}
	if err := checkPlanPath(path); err != nil {
		return "", nil, pol, err
	}
	row := &savedRow{under: l.Under}
	if l.UnderBytes != nil {
		row.under = string(l.UnderBytes)
	}
	var err error
	if pol.Mode, err = reconcile.ParseMode(orDefault(l.SyncMode, "two-way")); err != nil {
		return "", nil, pol, fmt.Errorf("sync_mode: %w", err)
	}
	if pol.Prefer, err = reconcile.ParsePrefer(l.Prefer); err != nil {
		return "", nil, pol, fmt.Errorf("prefer: %w", err)
	}
	if err := pol.Check(); err != nil {
		return "", nil, pol, err
	}
	if l.Action == ActionMerged {
		row.action, row.merged = reconcile.Conflict, true
	} else if row.action, err = parseAction(l.Action); err != nil {
		return "", nil, pol, err
	}
	switch row.action {
	case reconcile.ToRemote, reconcile.ToLocal:
		switch l.Op {
		case "create", "update", "delete", "replace", "chmod":
			row.op = l.Op
		default:
			return "", nil, pol, fmt.Errorf("action %s with op %q (create, update, delete, replace or chmod)", l.Action, l.Op)
		}
	case reconcile.Conflict:
		if row.kind, err = parseKind(l.Kind); err != nil {
			return "", nil, pol, err
		}
	}
	if l.Op != "" && row.op == "" {
		return "", nil, pol, fmt.Errorf("action %s with an op (%q)", l.Action, l.Op)
	}
	if l.Kind != "" && row.kind == reconcile.NoConflict {
		return "", nil, pol, fmt.Errorf("action %s with a conflict kind (%q)", l.Action, l.Kind)
	}
	if row.under != "" {
		if row.action != reconcile.Conflict {
			return "", nil, pol, fmt.Errorf("action %s under a conflicting directory", l.Action)
		}
		if err := checkPlanPath(row.under); err != nil || !tree.IsUnder(path, row.under) {
			return "", nil, pol, fmt.Errorf("under %s: not a directory above %s", QuotePath(row.under), QuotePath(path))
		}
	}
	if row.local, err = parsePlanEntry(l.Local); err != nil {
		return "", nil, pol, fmt.Errorf("local: %w", err)
	}
	if row.remote, err = parsePlanEntry(l.Remote); err != nil {
		return "", nil, pol, fmt.Errorf("remote: %w", err)
	}
	return path, row, pol, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkPlanPath checks a path of a plan file: one a plan can hold.
func checkPlanPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path (the root is never in a plan)")
	case tree.ValidPath(p) != nil:
		return fmt.Errorf("invalid path %s (not relative, an empty, . or .. component, or a NUL)", QuotePath(p))
	case tree.Internal(p):
		return fmt.Errorf("path %s is one myrrorfs never syncs", QuotePath(p))
	}
	return nil
}

// jsonError words a decoding error for a person who may have edited the
// file by hand.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not a JSON object: %v (at byte %d)", err, syn.Offset)
	case errors.As(err, &typ):
		what := typ.Type.Kind().String()
		switch what {
		case "int64":
			what = "number"
		case "slice":
			what = "base64 string"
		case "ptr":
			what = "string"
		}
		if typ.Field == "" {
			return fmt.Errorf("a JSON %s where an object belongs", typ.Value)
		}
		return fmt.Errorf("%s: a JSON %s where a %s belongs", typ.Field, typ.Value, what)
	}
	return fmt.Errorf("not a plan line: %v", err)
}

func parseAction(s string) (reconcile.Action, error) {
	for a := reconcile.Equal; a <= reconcile.Conflict; a++ {
		if s == a.String() {
			return a, nil
		}
	}
	return 0, fmt.Errorf("action %q (equal, to-remote, to-local, merged or conflict)", s)
}

func parseKind(s string) (reconcile.Kind, error) {
	for k := reconcile.ModifyModify; k <= reconcile.FileDir; k++ {
		if s == k.String() {
			return k, nil
		}
	}
	return 0, fmt.Errorf("conflict kind %q (modify/modify, create/create, modify/delete, delete/modify or file/dir)", s)
}

// parsePlanEntry decodes an entry: null is an absent one.
func parsePlanEntry(raw json.RawMessage) (tree.Entry, error) {
	var e tree.Entry
	if len(raw) == 0 {
		return e, errors.New("missing (null when the side holds nothing)")
	}
	if string(raw) == "null" {
		return e, nil
	}
	var j entryLine
	if err := json.Unmarshal(raw, &j); err != nil {
		return e, jsonError(err)
	}
	need := func(field string, v *string) (string, error) {
		if v == nil {
			return "", fmt.Errorf("a %s without %q", j.Type, field)
		}
		return *v, nil
	}
	mode := func() error {
		s, err := need("mode", j.Mode)
		if err != nil {
			return err
		}
		m, err := strconv.ParseUint(s, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("mode %q: not octal permission bits", s)
		}
		e.Perm = uint32(m)
		return nil
	}
	switch j.Type {
	case "file":
		e.Kind, e.Size = tree.File, j.Size
		if e.Size < 0 {
			return e, fmt.Errorf("size %d", e.Size)
		}
		if err := mode(); err != nil {
			return e, err
		}
		s, err := need("mtime", j.Mtime)
		if err != nil {
			return e, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || t.Year() < 1678 || t.Year() > 2261 {
			return e, fmt.Errorf("mtime %q: not an RFC 3339 time", s)
		}
		e.MtimeNs = t.UnixNano()
		if s, err = need("hash", j.Hash); err != nil {
			return e, err
		}
		h, err := hex.DecodeString(s)
		if err != nil || len(h) != len(e.Hash) {
			return e, fmt.Errorf("hash %q: not 64 hex digits", s)
		}
		copy(e.Hash[:], h)
	case "dir":
		e.Kind = tree.Dir
		if err := mode(); err != nil {
			return e, err
		}
	case "symlink":
		e.Kind, e.Target = tree.Symlink, j.Target
		if j.TargetBytes != nil {
			e.Target = string(j.TargetBytes)
		}
		if e.Target == "" {
			return e, errors.New("a symlink without a target")
		}
	default:
		return e, fmt.Errorf("type %q (file, dir or symlink)", j.Type)
	}
	return e, nil
}

// PolicyFlags words a policy as the flags that ask for it.
func PolicyFlags(pol reconcile.Policy) string {
	s := "--mode " + pol.Mode.String()
	if pol.Prefer != reconcile.PreferNone {
		s += " --prefer " + pol.Prefer.String()
	}
	return s
}

// CheckPolicy returns an error when the file was saved with another mode
// or preference than pol: its actions are not the ones a run with pol
// decides, whatever changed. A file listing no path passes.
func (sp *SavedPlan) CheckPolicy(pol reconcile.Policy) error {
	if len(sp.paths) == 0 || pol == sp.policy {
		return nil
	}
	return fmt.Errorf("plan %s was decided with %s, this sync with %s: the actions differ; run sync --plan with the flags status had (%s), or save a new plan (nothing done)",
		QuotePath(sp.name), PolicyFlags(sp.policy), PolicyFlags(pol), PolicyFlags(sp.policy))
}

// PlanChange is a path whose decision or entries differ from a saved plan.
type PlanChange struct {
	Path string
	What string // e.g. "local: size 3 -> 5, content, mtime …"
}

func (c PlanChange) String() string { return QuotePath(c.Path) + ": " + c.What }

// StalePlanError says that a saved plan is not the plan of the pair now.
type StalePlanError struct {
	Name    string
	Changes []PlanChange // in path order
}

func (e *StalePlanError) Error() string {
	paths := "paths"
	if len(e.Changes) == 1 {
		paths = "path"
	}
	return fmt.Sprintf("plan %s is out of date: %d %s changed since it was saved (nothing done)", QuotePath(e.Name), len(e.Changes), paths)
}

// Lines returns the changes one per line, at most max of them, then "and
// N more" for the rest.
func (e *StalePlanError) Lines(max int) []string {
	var lines []string
	for i, c := range e.Changes {
		if i == max {
			lines = append(lines, fmt.Sprintf("and %d more", len(e.Changes)-max))
			break
		}
		lines = append(lines, c.String())
	}
	return lines
}

// Check compares the saved plan with pl, a fresh plan of the pair (scanned
// with every row when NeedsAllRows). It returns nil when pl is the saved
// plan, the error of CheckPolicy when their policies differ, and else a
// *StalePlanError listing the paths that changed:
//
//   - a path the file lists that pl decides otherwise (another action, op
//     or conflict kind, or under another conflicting directory) or where
//     a side's entry differs from the recorded one: its type, its mode,
//     for a file its size, mtime and content hash (compared when both
//     are known: a remote hashed by download may leave it unknown, and size
//     and mtime then stand for it), for a symlink its target;
//   - a path the file lists that pl has nothing to do with, or that its
//     scan could not read (one of pl.Problems);
//   - a path pl acts on or holds a conflict on that the file does not list
//     (a path that was equal when the plan was saved and changed since).
//
// Paths pl finds equal, or inside a conflicting directory, need not be in
// the file.
func (sp *SavedPlan) Check(pl *Plan) error {
	if err := sp.CheckPolicy(pl.Policy); err != nil {
		return err
	}
	var changes []PlanChange
	seen := make(map[string]bool, len(sp.rows))
	for _, d := range pl.Decisions {
		s, ok := sp.rows[d.Path]
		if !ok {
			if d.Action != reconcile.Equal && d.Under == "" {
				changes = append(changes, PlanChange{d.Path, "not in the plan, now " + decisionWords(d, pl.IsMerged(d.Path))})
			}
			continue
		}
		seen[d.Path] = true
		if what := rowChanges(s, d, pl.IsMerged(d.Path)); what != "" {
			changes = append(changes, PlanChange{d.Path, what})
		}
	}
	unread := map[string]bool{}
	for _, pr := range pl.Problems {
		unread[pr.Path] = true
	}
	for _, p := range sp.paths {
		switch {
		case seen[p]:
		case unread[p]:
			changes = append(changes, PlanChange{p, "cannot be read now (the plan said " + sp.rows[p].words() + ")"})
		default:
			changes = append(changes, PlanChange{p, "nothing to do now (the plan said " + sp.rows[p].words() + ")"})
		}
	}
	if len(changes) == 0 {
		return nil
	}
	sort.SliceStable(changes, func(i, j int) bool { return tree.Compare(changes[i].Path, changes[j].Path) < 0 })
	return &StalePlanError{Name: sp.name, Changes: changes}
}

// rowChanges tells how decision d differs from the saved row s ("" when
// it does not).
func rowChanges(s *savedRow, d reconcile.Decision, merged bool) string {
	var parts []string
	now := savedRow{action: d.Action, merged: merged, kind: d.Kind, under: d.Under}
	if d.Action == reconcile.ToRemote || d.Action == reconcile.ToLocal {
		now.op = Op(d)
	}
	if now.action != s.action || now.merged != s.merged || now.op != s.op || now.kind != s.kind || now.under != s.under {
		parts = append(parts, "now "+now.words()+" (the plan said "+s.words()+")")
	}
	for _, side := range []struct {
		name     string
		was, now tree.Entry
	}{{"local", s.local, d.Local}, {"remote", s.remote, d.Remote}} {
		if what := entryChanges(side.was, side.now); what != "" {
			parts = append(parts, side.name+": "+what)
		}
	}
	return strings.Join(parts, "; ")
}

// words describes a row's decision: "to-remote update", "conflict
// modify/modify", "conflict delete/modify under d", "equal".
func (s *savedRow) words() string {
	w := s.action.String()
	if s.merged {
		w = ActionMerged
	}
	switch {
	case s.op != "":
		w += " " + s.op
	case s.kind != reconcile.NoConflict:
		w += " " + s.kind.String()
	}
	if s.under != "" {
		w += " under " + QuotePath(s.under)
	}
	return w
}

func decisionWords(d reconcile.Decision, merged bool) string {
	s := savedRow{action: d.Action, merged: merged, kind: d.Kind, under: d.Under}
	if d.Action == reconcile.ToRemote || d.Action == reconcile.ToLocal {
		s.op = Op(d)
	}
	return s.words()
}

// entryChanges tells how a side's entry now differs from the one a plan
// recorded ("" when it does not): the fields status --json prints.
func entryChanges(was, now tree.Entry) string {
	switch {
	case was.Kind != now.Kind && !now.Exists():
		return "deleted (was a " + was.Kind.String() + ")"
	case was.Kind != now.Kind && !was.Exists():
		return "created (a " + now.Kind.String() + ")"
	case was.Kind != now.Kind:
		return "was a " + was.Kind.String() + ", now a " + now.Kind.String()
	}
	var parts []string
	if now.Kind == tree.File || now.Kind == tree.Dir {
		if was.Perm != now.Perm {
			parts = append(parts, fmt.Sprintf("mode %04o -> %04o", was.Perm, now.Perm))
		}
	}
	switch now.Kind {
	case tree.File:
		if was.Size != now.Size {
			parts = append(parts, fmt.Sprintf("size %d -> %d", was.Size, now.Size))
		}
		if was.Hash != now.Hash && !was.Hash.IsZero() && !now.Hash.IsZero() {
			parts = append(parts, "content")
		}
		if was.MtimeNs != now.MtimeNs {
			parts = append(parts, "mtime "+rfc3339(was.MtimeNs)+" -> "+rfc3339(now.MtimeNs))
		}
	case tree.Symlink:
		if was.Target != now.Target {
			parts = append(parts, "target "+QuotePath(was.Target)+" -> "+QuotePath(now.Target))
		}
	}
	return strings.Join(parts, ", ")
}

func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
