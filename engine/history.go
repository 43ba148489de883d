package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// The history of a pair (`myrrorfs log`): Apply records one entry per run
// that changed a path, left a conflict or a failure, settled a conflict
// by a preference, or carried resolutions or merges (see
// journal.HistoryEntry). Recording never makes a run fail: a history that
// cannot be written is a warning (Options.Warn).

// Commands a history entry names (ApplyOptions.Command).
const (
	CommandSync    = "sync"    // myrrorfs sync
	CommandCommit  = "commit"  // a commit from a mount
	CommandWatch   = "watch"   // a run of sync --watch
	CommandResolve = "resolve" // resolutions noted outside any run (see NoteResolution)
)

// HistoryEntry is one entry of a pair's history.
type HistoryEntry = journal.HistoryEntry

// maxFailures bounds the failure lines an entry keeps.
const maxFailures = 100

// pathList is one list of an entry's paths, bounded by
// journal.HistoryMaxPaths and journal.HistoryMaxPathBytes: the paths
// beyond are only counted.
type pathList struct {
	list  []journal.HistoryPath
	more  int
	bytes int
}

func (l *pathList) add(hp journal.HistoryPath) {
	n := len(hp.Path) + len(hp.From)
	if len(l.list) >= journal.HistoryMaxPaths || l.bytes+n > journal.HistoryMaxPathBytes {
		l.more++
		return
	}
	l.bytes += n
	l.list = append(l.list, hp)
}

func (l *pathList) count() int { return len(l.list) + l.more }

// historyPath is path as a history list holds it (with its exact bytes
// when JSON cannot carry them, see PathBytes).
func historyPath(path string) journal.HistoryPath {
	return journal.HistoryPath{Path: path, PathBytes: PathBytes(path)}
}

// historyNotes are the resolutions and merges noted since the last entry.
type historyNotes struct {
	mu          sync.Mutex
	resolutions pathList
	merged      pathList
}

// NoteResolution notes that the conflict at path was resolved by keeping
// keep ("local", "remote" or "both"), for the history: the note goes into
// the entry of the pair's next run in this process (the commit that
// carries the resolution out, for a mount), or, when the pair is closed
// before any run records an entry, into an entry of its own whose
// command is "resolve" (CommandResolve). It is safe for concurrent use.
func (p *Pair) NoteResolution(path, keep string) {
	hp := historyPath(path)
	hp.Keep = keep
	p.notes.mu.Lock()
	p.notes.resolutions.add(hp)
	p.notes.mu.Unlock()
}

// NoteMerge notes, for the history, that the two versions of path were
// merged into one: a merge noted while Apply runs goes into that run's
// entry; otherwise as for NoteResolution.
func (p *Pair) NoteMerge(path string) {
	p.notes.mu.Lock()
	p.notes.merged.add(historyPath(path))
	p.notes.mu.Unlock()
}

// takeNotes moves the notes into e, and says whether there were any.
func (p *Pair) takeNotes(e *HistoryEntry) bool {
	n := &p.notes
	n.mu.Lock()
	defer n.mu.Unlock()
	e.Resolutions, e.ResolutionsMore = n.resolutions.list, n.resolutions.more
	e.Merged, e.MergedMore = n.merged.list, n.merged.more
	any := n.resolutions.count()+n.merged.count() > 0
	n.resolutions, n.merged = pathList{}, pathList{}
	return any
}

// giveBackNotes puts the notes of an entry that could not be recorded
// back, ahead of those noted since, for the next entry.
func (p *Pair) giveBackNotes(e *HistoryEntry) {
	n := &p.notes
	n.mu.Lock()
	defer n.mu.Unlock()
	res, merged := n.resolutions, n.merged
	n.resolutions = pathList{more: e.ResolutionsMore + res.more}
	n.merged = pathList{more: e.MergedMore + merged.more}
	for _, hp := range append(e.Resolutions, res.list...) {
		n.resolutions.add(hp)
	}
	for _, hp := range append(e.Merged, merged.list...) {
		n.merged.add(hp)
	}
}

// warn passes a one-line warning to Options.Warn, or to standard error.
func (p *Pair) warn(msg string) {
	if p.opt.Warn != nil {
		p.opt.Warn(msg)
		return
	}
	fmt.Fprintf(os.Stderr, "myrrorfs: warning: %s\n", msg)
}

// recordRun adds the entry of the run e carried out to the history (if
// the run did anything worth one); runErr is why it stopped early, if it
// did. A failure to record is a warning, never the run's failure.
func (p *Pair) recordRun(e *executor, runErr error) {
	h := e.historyEntry(runErr)
	notes := p.takeNotes(&h)
	if !notes && h.ToRemote+h.ToLocal+h.Conflicts+h.Failed+len(h.Settled)+h.SettledMore == 0 && h.Error == "" {
		return
	}
	if err := p.db.AppendHistory(&h, 0); err != nil {
		p.giveBackNotes(&h)
		p.warn(fmt.Sprintf("this run is not in the history (myrrorfs log): %v", err))
	}
}

// historyEntry builds the history entry of the run e carried out.
func (e *executor) historyEntry(runErr error) HistoryEntry {
	pl, res := e.plan, &e.res
	cmd := e.opt.Command
	if cmd == "" {
		cmd = CommandSync
	}
	h := HistoryEntry{
		Time: e.opt.Now.UTC(), Command: cmd, Mode: pl.Policy.Mode.String(),
		Renamed: res.Renamed, Copied: res.Copied, Bytes: res.Bytes,
		Conflicts: len(res.Conflicts), Failed: res.Failed(),
	}
	if pl.Policy.Prefer != reconcile.PreferNone {
		h.Prefer = pl.Policy.Prefer.String()
	}
	switch {
	case errors.Is(runErr, context.Canceled):
		h.Error = "interrupted"
	case runErr != nil:
		h.Error = EscapeControls(strings.Join(strings.Fields(runErr.Error()), " "))
	}
	var toRemote, toLocal, settled, unresolved pathList
	renamedFrom, hidden := pl.renames()
	for i, d := range pl.Decisions {
		if d.Under != "" {
			continue
		}
		dir := d.Local.Kind == tree.Dir || d.Remote.Kind == tree.Dir
		if d.Settled != reconcile.NoConflict && (d.Action == reconcile.Equal || e.rowDone[i]) {
			hp := historyPath(d.Path)
			hp.Kind, hp.Dir, hp.Keep = d.Settled.String(), dir, "remote"
			if d.LocalWon {
				hp.Keep = "local"
			}
			settled.add(hp)
		}
		switch {
		case d.Action == reconcile.Conflict:
			hp := historyPath(d.Path)
			hp.Kind, hp.Dir = d.Kind.String(), dir
			unresolved.add(hp)
			continue
		case d.Action == reconcile.Equal || hidden[i] || !e.rowDone[i]:
			continue
		}
		hp := historyPath(d.Path)
		hp.Op, hp.Dir = Op(d), dir
		if old, ok := renamedFrom[i]; ok {
			hp.Op, hp.From, hp.FromBytes = "rename", pl.Rows[old].Path, PathBytes(pl.Rows[old].Path)
		}
		if d.Action == reconcile.ToRemote {
			toRemote.add(hp)
		} else {
			toLocal.add(hp)
		}
	}
	h.ToRemote, h.RemoteChanges, h.RemoteMore = toRemote.count(), toRemote.list, toRemote.more
	h.ToLocal, h.LocalChanges, h.LocalMore = toLocal.count(), toLocal.list, toLocal.more
	h.Settled, h.SettledMore = settled.list, settled.more
	h.Unresolved, h.UnresolvedMore = unresolved.list, unresolved.more
	for _, pr := range res.Problems {
		if pr.Warning {
			continue
		}
		if len(h.Failures) >= maxFailures {
			h.FailuresMore++
			continue
		}
		line := strings.Join(strings.Fields(pr.Error()), " ")
		if len(line) > 1024 {
			line = line[:1024] + "…"
		}
		h.Failures = append(h.Failures, line)
	}
	return h
}

// flushNotes records the notes no run took as an entry of their own.
func (p *Pair) flushNotes() {
	h := HistoryEntry{Time: time.Now().UTC(), Command: CommandResolve}
	if !p.takeNotes(&h) {
		return
	}
	if err := p.db.AppendHistory(&h, 0); err != nil {
		p.warn(fmt.Sprintf("resolutions not in the history (myrrorfs log): %v", err))
	}
}

// History returns the newest n entries of the pair's history (all with n
// <= 0), newest first, and a warning for each damaged entry skipped.
func (p *Pair) History(n int) ([]HistoryEntry, []string, error) {
	return readHistory(p.db, n)
}

func readHistory(db *journal.DB, n int) ([]HistoryEntry, []string, error) {
	var out []HistoryEntry
	var warns []string
	err := db.History(func(e HistoryEntry) bool {
		out = append(out, e)
		return n <= 0 || len(out) < n
	}, func(w string) { warns = append(warns, w) })
	return out, warns, err
}

// ReadHistory is History for a pair that is not open: it opens the pair's
// journal alone (holder opt.Holder; the remote is not reached) and closes
// it again. A pair without a journal (never synced with this state
// directory) has no history: the error then wraps journal.ErrNoJournal
// and names the state directory. While another
// process holds the pair, the error wraps journal.ErrLocked and names it.
// Only opt.StateDir and opt.Holder are used.
func ReadHistory(localArg, remoteArg string, opt Options, n int) ([]HistoryEntry, []string, error) {
	ls, rs, err := resolvePair(localArg, remoteArg)
	if err != nil {
		return nil, nil, err
	}
	state, id := stateDir(opt), identity(ls, rs)
	if _, err := os.Lstat(journal.PairDir(state, id)); errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w of %s and %s in %s", journal.ErrNoJournal, ls, rs, state)
	}
	db, err := journal.Open(state, id, opt.Holder)
	if err != nil {
		return nil, nil, fmt.Errorf("journal of %s and %s: %w", ls, rs, err)
	}
	out, warns, err := readHistory(db, n)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return out, warns, err
}

// WriteHistory prints history entries as `myrrorfs log` does: with
// asJSON one JSON object per line (journal.HistoryEntry), else a block
// per entry, blocks apart by an empty line:
//
//	2026-11-29 14:03:12  sync  two-way  2 to remote, 1 to local, 0 conflicts, copied 1.2 KiB
//	  > update a.txt
//	  > rename old.txt -> new.txt
//	  < create b/
//	  settled modify/modify x  (local version kept)
//
// Lines of a block: "> OP PATH" a path changed on the remote, "< OP PATH"
// on the local side, "settled KIND PATH" a conflict a preference settled,
// "resolved PATH" a resolution, "merged PATH" a merge, "conflict KIND
// PATH" a conflict left untouched, "failed: …" a path that failed,
// "stopped: …" why the run stopped early ("interrupted" when its context
// was cancelled). Times are local. Every name is
// quoted as QuotePath does, and every other string of the journal
// escaped: the state directory is not trusted.
func WriteHistory(w io.Writer, entries []HistoryEntry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteString("\n")
		}
		writeHistoryEntry(&b, e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHistoryEntry prints one entry's block.
func writeHistoryEntry(b *strings.Builder, e HistoryEntry) {
	esc := EscapeControls
	fmt.Fprintf(b, "%s  %s", e.Time.Local().Format("2006-01-02 15:04:05"), esc(e.Command))
	if e.Mode != "" {
		fmt.Fprintf(b, "  %s", esc(e.Mode))
		if e.Prefer != "" {
			fmt.Fprintf(b, " --prefer %s", esc(e.Prefer))
		}
	}
	if e.Command == CommandResolve {
		fmt.Fprintf(b, "  %d resolved", len(e.Resolutions)+e.ResolutionsMore)
		if n := len(e.Merged) + e.MergedMore; n > 0 {
			fmt.Fprintf(b, ", %d merged", n)
		}
	} else {
		fmt.Fprintf(b, "  %d to remote, %d to local, %d conflicts", e.ToRemote, e.ToLocal, e.Conflicts)
		if e.Failed > 0 {
			fmt.Fprintf(b, ", %d failed", e.Failed)
		}
		fmt.Fprintf(b, ", copied %s", HumanBytes(e.Bytes))
	}
	b.WriteString("\n")
	name := func(hp journal.HistoryPath) string {
		n := QuotePath(hp.Path)
		if hp.Dir {
			n += "/"
		}
		return n
	}
	changes := func(mark, where string, l []journal.HistoryPath, more int) {
		for _, hp := range l {
			if hp.Op == "rename" {
				from := QuotePath(hp.From)
				if hp.Dir {
					from += "/"
				}
				fmt.Fprintf(b, "  %s rename %s -> %s\n", mark, from, name(hp))
				continue
			}
			fmt.Fprintf(b, "  %s %s %s\n", mark, esc(hp.Op), name(hp))
		}
		if more > 0 {
			fmt.Fprintf(b, "  %s … and %d more %s\n", mark, more, where)
		}
	}
	changes(">", "to remote", e.RemoteChanges, e.RemoteMore)
	changes("<", "to local", e.LocalChanges, e.LocalMore)
	more := func(what string, n int) {
		if n > 0 {
			fmt.Fprintf(b, "  … and %d more %s\n", n, what)
		}
	}
	for _, hp := range e.Settled {
		fmt.Fprintf(b, "  settled %s %s  (%s version kept)\n", esc(hp.Kind), name(hp), esc(hp.Keep))
	}
	more("settled", e.SettledMore)
	for _, hp := range e.Resolutions {
		kept := esc(hp.Keep) + " version"
		if hp.Keep == "both" {
			kept = "both versions"
		}
		fmt.Fprintf(b, "  resolved %s  (%s kept)\n", name(hp), kept)
	}
	more("resolved", e.ResolutionsMore)
	for _, hp := range e.Merged {
		fmt.Fprintf(b, "  merged %s\n", name(hp))
	}
	more("merged", e.MergedMore)
	for _, hp := range e.Unresolved {
		fmt.Fprintf(b, "  conflict %s %s\n", esc(hp.Kind), name(hp))
	}
	more("conflicts", e.UnresolvedMore)
	for _, f := range e.Failures {
		fmt.Fprintf(b, "  failed: %s\n", esc(f))
	}
	more("failed", e.FailuresMore)
	if e.Error != "" {
		fmt.Fprintf(b, "  stopped: %s\n", esc(e.Error))
	}
}
