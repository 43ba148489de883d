package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
)

// historyOf reads the pair's whole history, newest first.
func historyOf(t *testing.T, l, r, state string) []HistoryEntry {
	t.Helper()
	es, warns, err := ReadHistory(l, r, Options{StateDir: state, Holder: "test"}, 0)
	if err != nil || len(warns) > 0 {
		t.Fatalf("ReadHistory: %v %q", err, warns)
	}
	return es
}

// Paths whose operations failed are not listed as changed: they are in
// the entry's failures.
func TestHistoryLeavesOutFailedPaths(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"f": "f:old:-", "g": "f:old:-"})
	os.WriteFile(filepath.Join(l, "f"), []byte("local edit"), 0o644)
	os.Remove(filepath.Join(l, "g"))
	os.WriteFile(filepath.Join(l, "h"), []byte("new"), 0o644)
	p := openTest(t, l, r, state)
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// both targets change on the remote after the scan
	os.WriteFile(filepath.Join(r, "f"), []byte("remote edit"), 0o644)
	os.WriteFile(filepath.Join(r, "g"), []byte("remote edit of g"), 0o644)
	now := time.Date(2026, 11, 29, 14, 3, 12, 0, time.Local)
	res, err := p.Apply(context.Background(), plan, ApplyOptions{Now: now})
	if err != nil || res.Failed() != 2 {
		t.Fatalf("apply: %v, problems %v", err, res.Problems)
	}
	p.Close()
	es := historyOf(t, l, r, state)
	if len(es) != 1 { // the first sync found both sides equal: no entry
		t.Fatalf("%d entries", len(es))
	}
	e := es[0]
	if e.Command != CommandSync || !e.Time.Equal(now) || e.ToRemote != 1 || e.Failed != 2 || len(e.RemoteChanges) != 1 ||
		e.RemoteChanges[0].Path != "h" || e.RemoteChanges[0].Op != "create" || len(e.Failures) != 2 ||
		!strings.HasPrefix(e.Failures[0], "remote f: ") || !strings.HasPrefix(e.Failures[1], "remote g: ") {
		t.Fatalf("entry: %+v", e)
	}
}

// Each list of an entry keeps journal.HistoryMaxPaths paths and counts
// the others.
func TestHistoryCapsPaths(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{})
	n := journal.HistoryMaxPaths + 5
	for i := 0; i < n; i++ {
		os.WriteFile(filepath.Join(l, fmt.Sprintf("f%04d", i)), nil, 0o644)
	}
	syncPair(t, l, r, state)
	es := historyOf(t, l, r, state)
	if len(es) != 1 {
		t.Fatalf("%d entries", len(es))
	}
	e := es[0]
	if e.ToRemote != n || len(e.RemoteChanges) != journal.HistoryMaxPaths || e.RemoteMore != 5 {
		t.Fatalf("entry: %d to remote, %d listed, %d more", e.ToRemote, len(e.RemoteChanges), e.RemoteMore)
	}
	var b strings.Builder
	WriteHistory(&b, es, false)
	if !strings.Contains(b.String(), "\n  > … and 5 more to remote\n") {
		t.Fatalf("text does not count the rest: %q", b.String()[len(b.String())-200:])
	}
}

// Resolutions and merges noted go with the next run's entry, or into an
// entry of their own when the pair closes first; a run with nothing to
// record adds no entry.
func TestHistoryNotes(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"a": "f:a:-"})
	p := openTest(t, l, r, state)
	p.NoteResolution("x", "local")
	p.NoteMerge("m")
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(context.Background(), plan, ApplyOptions{Command: CommandCommit}); err != nil {
		t.Fatal(err)
	}
	// nothing to do, nothing noted: no entry
	plan, _ = p.Scan(context.Background())
	p.Apply(context.Background(), plan, ApplyOptions{})
	p.NoteResolution("bad\nname", "both")
	p.Close()
	es := historyOf(t, l, r, state)
	if len(es) != 2 {
		t.Fatalf("%d entries: %+v", len(es), es)
	}
	if e := es[1]; e.Command != CommandCommit || len(e.Resolutions) != 1 || e.Resolutions[0].Path != "x" || e.Resolutions[0].Keep != "local" ||
		len(e.Merged) != 1 || e.Merged[0].Path != "m" {
		t.Fatalf("the run's entry: %+v", e)
	}
	e := es[0]
	if e.Command != CommandResolve || len(e.Resolutions) != 1 || e.Resolutions[0].Path != "bad\nname" || e.Resolutions[0].Keep != "both" {
		t.Fatalf("the entry of the resolutions alone: %+v", e)
	}
	var b strings.Builder
	WriteHistory(&b, es[:2], false)
	want := "  resolve  1 resolved\n  resolved \"bad\\nname\"  (both versions kept)\n\n" +
		"  commit  two-way  0 to remote, 0 to local, 0 conflicts, copied 0 B\n  resolved x  (local version kept)\n  merged m\n"
	if got := stripTimes(b.String()); got != want {
		t.Fatalf("text:\n%s\nwant (times aside):\n%s", got, want)
	}
}

// stripTimes removes the time of each block's first line.
func stripTimes(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if len(line) > 19 && line[4] == '-' && line[13] == ':' {
			lines[i] = line[19:]
		}
	}
	return strings.Join(lines, "\n")
}

// What the journal holds is not trusted: its strings are printed escaped.
func TestWriteHistoryEscapes(t *testing.T) {
	e := HistoryEntry{Time: time.Now(), Command: "sync\x1b[2J", Mode: "two-way\n", ToRemote: 1,
		RemoteChanges: []journal.HistoryPath{{Op: "up\rdate", Path: "a\x1b]0;x\x07"}},
		Failures:      []string{"remote a: \x1b[31mred"}, Error: "line\nbreak"}
	var b strings.Builder
	WriteHistory(&b, []HistoryEntry{e}, false)
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r\x07") || strings.Count(out, "\n") != 4 {
		t.Fatalf("unescaped output: %q", out)
	}
	for _, want := range []string{`sync\x1b[2J  two-way\n  1 to remote`, `  > up\rdate "a\x1b]0;x\a"`, `  failed: remote a: \x1b[31mred`, `  stopped: line\nbreak`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in %q", want, out)
		}
	}
}

// A run interrupted before its end is recorded with what it did.
func TestHistoryInterrupted(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{})
	os.WriteFile(filepath.Join(l, "f"), []byte("new"), 0o644)
	p := openTest(t, l, r, state)
	plan, err := p.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Apply(ctx, plan, ApplyOptions{}); err == nil {
		t.Fatal("Apply with its context cancelled did not fail")
	}
	p.Close()
	es := historyOf(t, l, r, state)
	if len(es) != 1 || es[0].Error != "interrupted" || es[0].ToRemote != 0 {
		t.Fatalf("history: %+v", es)
	}
	var b strings.Builder
	WriteHistory(&b, es, false)
	if !strings.HasSuffix(b.String(), "  0 to remote, 0 to local, 0 conflicts, copied 0 B\n  stopped: interrupted\n") {
		t.Fatalf("text: %q", b.String())
	}
}
