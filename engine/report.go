package engine

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// Op names what a one-sided decision does to its target.
func Op(d reconcile.Decision) string {
	src, dst := d.Local, d.Remote
	if d.Action == reconcile.ToLocal {
		src, dst = d.Remote, d.Local
	}
	switch {
	case !src.Exists():
		return "delete"
	case !dst.Exists():
		return "create"
	case src.Kind != dst.Kind:
		return "replace"
	case tree.SameContent(src, dst):
		return "chmod"
	}
	return "update"
}

// ActionMerged is the JSON action of a conflict a clean merge settles.
const ActionMerged = "merged"

// Summary is the plan in numbers.
type Summary struct {
	ToRemote, ToLocal, Conflicts, Equal int
	Merged                              int   // conflicts a clean text merge settles
	Bytes                               int64 // file bytes to copy
}

// Summarize counts the plan's top-level decisions.
func (pl *Plan) Summarize() Summary {
	s := Summary{Equal: pl.Settled}
	for _, d := range pl.Decisions {
		if d.Under != "" {
			continue
		}
		switch d.Action {
		case reconcile.Equal:
			s.Equal++
		case reconcile.ToRemote:
			s.ToRemote++
		case reconcile.ToLocal:
			s.ToLocal++
		case reconcile.Conflict:
			if m, ok := pl.MergeAt(d.Path); ok && m.Clean() {
				s.Merged++
				s.Bytes += 2 * int64(len(m.Data)) // to both sides
			} else {
				s.Conflicts++
			}
		}
		if d.Action == reconcile.ToRemote && d.Local.Kind == tree.File && Op(d) != "chmod" {
			s.Bytes += d.Local.Size
		}
		if d.Action == reconcile.ToLocal && d.Remote.Kind == tree.File && Op(d) != "chmod" {
			s.Bytes += d.Remote.Size
		}
	}
	return s
}

// WriteText prints the plan grouped: to remote, to local, conflicts by kind.
func (pl *Plan) WriteText(w io.Writer) {
	var toRemote, toLocal, settled, merged []string
	conflicts := map[string][]string{}
	renamedFrom, hidden := pl.renames()
	switch pl.Policy.Mode {
	case reconcile.Push:
		fmt.Fprintln(w, "mode push: the remote is made a replica of the local side (what it replaces goes to its backup area)")
	case reconcile.Pull:
		fmt.Fprintln(w, "mode pull: the local side is made a replica of the remote (what it replaces goes to its backup area)")
	}
	for i, d := range pl.Decisions {
		if d.Settled != reconcile.NoConflict {
			won := "remote"
			if d.LocalWon {
				won = "local"
			}
			name := QuotePath(d.Path)
			if d.Local.Kind == tree.Dir || d.Remote.Kind == tree.Dir {
				name += "/"
			}
			settled = append(settled, fmt.Sprintf("  %-13s %s  (%s version kept)", d.Settled, name, won))
		}
		if d.Under != "" || d.Action == reconcile.Equal || hidden[i] {
			continue
		}
		name := QuotePath(d.Path)
		if d.Local.Kind == tree.Dir || d.Remote.Kind == tree.Dir {
			name += "/"
		}
		op := Op(d)
		if old, ok := renamedFrom[i]; ok {
			from := QuotePath(pl.Rows[old].Path)
			if _, dir := pl.Moves.Dirs[i]; dir {
				from += "/"
			}
			op, name = "rename", from+" -> "+name
		}
		switch d.Action {
		case reconcile.ToRemote:
			toRemote = append(toRemote, fmt.Sprintf("  %-7s %s", op, name))
		case reconcile.ToLocal:
			toLocal = append(toLocal, fmt.Sprintf("  %-7s %s", op, name))
		case reconcile.Conflict:
			if m, ok := pl.MergeAt(d.Path); ok {
				if m.Clean() {
					merged = append(merged, "  "+name)
					continue
				}
				name += fmt.Sprintf("  (merged with %d conflicting hunks: myrrorfs resolve --keep merged takes it, markers and all)", m.Conflicts)
			}
			k := d.Kind.String()
			conflicts[k] = append(conflicts[k], "  "+name)
		}
	}
	group := func(title string, lines []string) {
		if len(lines) > 0 {
			fmt.Fprintf(w, "%s (%d):\n%s\n", title, len(lines), strings.Join(lines, "\n"))
		}
	}
	group("to remote", toRemote)
	group("to local", toLocal)
	group("merged", merged)
	kinds := make([]string, 0, len(conflicts))
	for k := range conflicts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		group("conflicts "+k, conflicts[k])
	}
	group("conflicts settled by --prefer "+pl.Policy.Prefer.String()+", the other version to its backup area", settled)
	s := pl.Summarize()
	if pl.RemoteHashing == HashByDownload && !pl.Checksum {
		fmt.Fprintf(w, "remote files are hashed %s (no myrrorfs agent on the remote)\n", pl.RemoteHashing)
	}
	if s.ToRemote+s.ToLocal+s.Conflicts+s.Merged == 0 {
		fmt.Fprintf(w, "in sync (%d paths)\n", s.Equal)
	} else {
		merges := ""
		if s.Merged > 0 {
			merges = fmt.Sprintf("%d merged, ", s.Merged)
		}
		fmt.Fprintf(w, "%d to remote, %d to local, %s%d conflicts, %d equal; %s to copy\n",
			s.ToRemote, s.ToLocal, merges, s.Conflicts, s.Equal, HumanBytes(s.Bytes))
	}
	if pl.Checksum {
		fmt.Fprintln(w, pl.CheckLine())
	}
}

// CheckLine says, on one line, how the scans told changed files from
// unchanged ones (the check level): by stat fingerprints against the
// journal, or (Checksum) by the content of every file.
func (pl *Plan) CheckLine() string {
	if pl.Checksum {
		how := ""
		if pl.RemoteHashing == HashByDownload {
			how = ", downloaded"
		}
		return fmt.Sprintf("check: content of every file (--checksum): %d local files (%s) and %d remote files (%s%s) hashed",
			pl.Hashed[LocalSide], HumanBytes(pl.HashedBytes[LocalSide]), pl.Hashed[RemoteSide], HumanBytes(pl.HashedBytes[RemoteSide]), how)
	}
	fields := "size, mtime, ctime, inode and mode of each file"
	if pl.RemoteHashing == HashByDownload {
		fields = "size, mtime, ctime, inode and mode of local files, size, mtime and mode of remote files"
	}
	return "check: " + fields + "; content hashed only where these changed since last seen (--checksum hashes every file)"
}

// renames returns, for the plan's text and the history, the row of the
// old path of every renamed row, and the rows a rename stands for (old
// paths, and paths under a renamed directory).
func (pl *Plan) renames() (map[int]int, map[int]bool) {
	from, hidden := map[int]int{}, map[int]bool{}
	for _, m := range []map[int]int{pl.Moves.Files, pl.Moves.Edits} {
		for to, old := range m {
			from[to], hidden[old] = old, true
		}
	}
	for to, old := range pl.Moves.Dirs {
		from[to] = old
		for _, root := range []int{to, old} {
			for k := root; k < len(pl.Rows) && (k == root || tree.IsUnder(pl.Rows[k].Path, pl.Rows[root].Path)); k++ {
				hidden[k] = k != to
			}
		}
	}
	return from, hidden
}

// HumanBytes formats a byte count with a binary unit.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// QuotePath returns path p as text output prints it: as it is, or, when
// it holds a control or other non-printable character or invalid UTF-8 or
// begins with a double quote, in double quotes with Go's escapes (\n,
// \x1b, \xff, \u202e, \", \\), so that a name can neither split a line
// nor reach the terminal as an escape sequence, and two names never print
// alike.
func QuotePath(p string) string {
	if NeedsQuote(p) {
		return strconv.Quote(p)
	}
	return p
}

// NeedsQuote reports whether QuotePath quotes p.
func NeedsQuote(p string) bool {
	return strings.HasPrefix(p, `"`) || unsafeAt(p) >= 0
}

// EscapeLine is EscapeControls for a line of a text file shown on a
// terminal: its tabs are kept.
func EscapeLine(s string) string {
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = EscapeControls(p)
	}
	return strings.Join(parts, "\t")
}

// EscapeControls returns s with every control or other non-printable
// character and every invalid byte replaced by its Go escape (as QuotePath
// writes them), for a message that may hold a name.
func EscapeControls(s string) string {
	if unsafeAt(s) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeAt returns the index of the first character of s that QuotePath
// escapes, or -1.
func unsafeAt(s string) int {
	for i := 0; i < len(s); {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			return i
		}
		i += n
	}
	return -1
}

// unsafeRune: a decoded rune (of n bytes) that must be escaped.
func unsafeRune(r rune, n int) bool {
	return r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) && r != ' '
}

// PathBytes returns the bytes of p for a JSON *_bytes field (base64) when
// the readable string field cannot carry p exactly or safely: invalid
// UTF-8 (which JSON turns into U+FFFD, so that two names could print
// alike) or characters QuotePath would quote. nil otherwise.
func PathBytes(p string) []byte {
	if NeedsQuote(p) {
		return []byte(p)
	}
	return nil
}

// EntryJSON is an entry in the JSON output.
type EntryJSON struct {
	Type        string `json:"type"`
	Size        int64  `json:"size,omitempty"`
	Mode        string `json:"mode,omitempty"`
	Mtime       string `json:"mtime,omitempty"`
	Hash        string `json:"hash,omitempty"`
	Target      string `json:"target,omitempty"`
	TargetBytes []byte `json:"target_bytes,omitempty"` // see PathBytes
}

// DecisionJSON is one line of `status --json` and `conflicts --json`.
// Path (and Under, and a symlink's Target) are readable strings; when one
// is not valid UTF-8 or holds control characters, its exact bytes are in
// the matching *_bytes field too, base64-encoded.
type DecisionJSON struct {
	Path       string     `json:"path"`
	PathBytes  []byte     `json:"path_bytes,omitempty"`
	Action     string     `json:"action"`
	Op         string     `json:"op,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	Under      string     `json:"under,omitempty"` // the conflicting directory this path lies in
	UnderBytes []byte     `json:"under_bytes,omitempty"`
	Local      *EntryJSON `json:"local"`
	Remote     *EntryJSON `json:"remote"`
	// SyncMode and Prefer are the plan's policy (--mode, --prefer), left
	// out when they are the default (two-way, leaving conflicts alone).
	SyncMode string `json:"sync_mode,omitempty"`
	Prefer   string `json:"prefer,omitempty"`
}

func entryJSON(e tree.Entry) *EntryJSON {
	if !e.Exists() {
		return nil
	}
	j := &EntryJSON{Type: e.Kind.String(), Mode: fmt.Sprintf("%04o", e.Perm)}
	switch e.Kind {
	case tree.File:
		j.Size = e.Size
		j.Hash = e.Hash.String()
		j.Mtime = time.Unix(0, e.MtimeNs).UTC().Format(time.RFC3339Nano)
	case tree.Symlink:
		j.Target, j.TargetBytes = e.Target, PathBytes(e.Target)
		j.Mode = ""
	}
	return j
}

// ToJSON converts a decision for the JSON output.
func ToJSON(d reconcile.Decision) DecisionJSON {
	j := DecisionJSON{Path: d.Path, PathBytes: PathBytes(d.Path), Action: d.Action.String(),
		Under: d.Under, UnderBytes: PathBytes(d.Under), Local: entryJSON(d.Local), Remote: entryJSON(d.Remote)}
	switch d.Action {
	case reconcile.Conflict:
		j.Kind = d.Kind.String()
	case reconcile.ToRemote, reconcile.ToLocal:
		j.Op = Op(d)
	}
	return j
}

// WriteJSON prints one JSON object per line for each decision selected by
// keep. Paths inside a conflicting directory are printed only with all
// (marked "under"); otherwise the conflict on the directory stands for them.
func (pl *Plan) WriteJSON(w io.Writer, all bool, keep func(reconcile.Decision) bool) error {
	enc := json.NewEncoder(w)
	for _, d := range pl.Decisions {
		if (d.Under != "" && !all) || !keep(d) {
			continue
		}
		j := ToJSON(d)
		if d.Under == "" && pl.IsMerged(d.Path) {
			j.Action = ActionMerged
		}
		if pl.Policy.Mode != reconcile.TwoWay {
			j.SyncMode = pl.Policy.Mode.String()
		}
		if pl.Policy.Prefer != reconcile.PreferNone {
			j.Prefer = pl.Policy.Prefer.String()
		}
		if err := enc.Encode(j); err != nil {
			return err
		}
	}
	return nil
}

// Digest identifies what Apply would do with this plan: it changes when
// any operation does (its kind, side, paths, the state it expects and the
// version it makes). A plan shown to a user travels as its digest, so that
// what runs is what was approved.
func (pl *Plan) Digest() string {
	h := blake3.New(32, nil)
	var buf []byte
	entry := func(e tree.Entry) {
		buf = append(buf, byte(e.Kind))
		buf = binary.AppendUvarint(buf, uint64(e.Perm))
		buf = binary.AppendVarint(buf, e.Size)
		buf = append(buf, e.Hash[:]...)
		buf = append(buf, e.Target...)
		buf = append(buf, 0)
	}
	scanned := func(s tree.Scanned) {
		entry(s.Entry)
		fp := s.FP
		for _, v := range []int64{fp.Size, fp.MtimeNs, fp.CtimeNs, int64(fp.Ino), int64(fp.Mode)} {
			buf = binary.AppendVarint(buf, v)
		}
	}
	for _, m := range pl.Merges {
		if m.Clean() {
			sum := blake3.Sum256(m.Data)
			h.Write(append(append([]byte("merge\x00"+m.Path+"\x00"), sum[:]...), 0))
		}
	}
	for _, op := range pl.Ops {
		buf = append(buf[:0], byte(op.Kind), byte(op.Side))
		buf = append(buf, op.Path...)
		buf = append(buf, 0)
		buf = append(buf, op.From...)
		buf = append(buf, 0)
		scanned(op.Want)
		scanned(op.Src)
		entry(op.Entry)
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}
