package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// TestPlanPrune runs the pruning rule on a fake clock.
func TestPlanPrune(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	v := func(name string, age time.Duration, size int64) kept {
		return kept{path: name, time: now.Add(-age), kind: tree.File, size: size}
	}
	vs := []kept{
		v("old-unique", 40*day, 10),
		v("old-held", 31*day, 10),
		v("mid-unique", 20*day, 100),
		v("mid-held", 10*day, 100),
		v("new-held", 2*day, 100),
		v("new-unique", 1*day, 100),
	}
	heldSet := map[string]bool{"old-held": true, "mid-held": true, "new-held": true}
	names := func(ks []kept) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.path)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		lim    BackupLimits
		remove []string
		over   int64
	}{
		{"no limits", BackupLimits{}, nil, 0},
		{"age only: everything older, held or not", BackupLimits{KeepFor: 30 * day}, []string{"old-unique", "old-held"}, 0},
		{"age exactly at the limit stays", BackupLimits{KeepFor: 40 * day}, nil, 0},
		{"size under the limit", BackupLimits{MaxSize: 1000}, nil, 0},
		{"size: oldest held first, unique ones skipped", BackupLimits{MaxSize: 320}, []string{"old-held", "mid-held"}, 0},
		{"size: down to the limit", BackupLimits{MaxSize: 415}, []string{"old-held"}, 0},
		{"size: only unique ones left, over the limit", BackupLimits{MaxSize: 100}, []string{"old-held", "mid-held", "new-held"}, 110},
		{"age then size", BackupLimits{KeepFor: 30 * day, MaxSize: 300}, []string{"old-unique", "old-held", "mid-held"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			held := func(k kept) bool { asked = append(asked, k.path); return heldSet[k.path] }
			in := append([]kept(nil), vs...)
			// the order given does not matter
			in[0], in[5] = in[5], in[0]
			remove, over := planPrune(in, tc.lim, now, held)
			if got := names(remove); !reflect.DeepEqual(got, tc.remove) {
				t.Errorf("removed %q; want %q", got, tc.remove)
			}
			if over != tc.over {
				t.Errorf("over by %d; want %d", over, tc.over)
			}
			if tc.lim.MaxSize == 0 && len(asked) > 0 {
				t.Errorf("asked about %q without a size limit", asked)
			}
			for _, a := range asked {
				if strings.HasPrefix(a, "old-") && tc.lim.KeepFor > 0 {
					t.Errorf("asked about %s, which its age removes", a)
				}
			}
		})
	}
}

// stampAt makes the backup area of side root hold content at path, as the
// run at time at left it; it returns the version's stored path.
func stampAt(t *testing.T, root string, at time.Time, path, content string) string {
	t.Helper()
	stored := tree.BackupDir + "/" + backupStamp(at) + "/" + path
	full := filepath.Join(root, stored)
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return stored
}

// TestPruneBackups: a prune after a run removes what its age removes,
// then, over the size limit, the oldest versions whose content a tree
// still holds; never a version that is the only copy of its content.
func TestPruneBackups(t *testing.T) {
	local, remote, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, local, snapshot{"kept": "f:in the trees:-", "other": "f:x:-"})
	syncPair(t, local, remote, state)
	now := time.Now()
	day := 24 * time.Hour
	old := stampAt(t, local, now.Add(-40*day), "gone", "only here")
	// the only copy is older, and of the same size as a file in the trees
	unique := stampAt(t, remote, now.Add(-6*day), "u", "not in trees")
	oldHeld := stampAt(t, remote, now.Add(-5*day), "kept", "in the trees")
	newHeld := stampAt(t, remote, now.Add(-1*day), "dir/kept", "in the trees")
	os.MkdirAll(filepath.Join(local, tree.BackupDir, "not-a-stamp"), 0o700)
	os.WriteFile(filepath.Join(local, tree.BackupDir, "not-a-stamp", "x"), []byte("mine"), 0o600)

	p := openTestPair(t, local, remote, state)
	res := p.PruneBackups(BackupLimits{KeepFor: 30 * day, MaxSize: 30}, now)
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	exists := func(root, p string) bool { _, err := os.Lstat(filepath.Join(root, p)); return err == nil }
	if exists(local, old) || exists(local, filepath.Dir(old)) {
		t.Errorf("%s (40 days old) is still there, or its stamp directory", old)
	}
	if exists(remote, oldHeld) || exists(remote, filepath.Dir(oldHeld)) {
		t.Errorf("%s (a tree holds its content) was not pruned for size", oldHeld)
	}
	if !exists(remote, unique) {
		t.Errorf("%s, the only copy of its content, was pruned for size", unique)
	}
	if !exists(remote, newHeld) {
		t.Errorf("%s was pruned although the area was under the limit without it", newHeld)
	}
	if !exists(local, tree.BackupDir+"/not-a-stamp/x") {
		t.Errorf("a name the backup area holds that is no stamp was removed")
	}
	if res.Removed != [2]int{1, 1} || res.Bytes != [2]int64{9, 12} {
		t.Errorf("removed %v versions, %v bytes; want [1 1], [9 12]", res.Removed, res.Bytes)
	}
	if res.Over != [2]int64{} {
		t.Errorf("over the limit by %v; want nothing", res.Over)
	}
	// the same content held only by another backup is the only copy still
	os.Remove(filepath.Join(local, "kept"))
	os.Remove(filepath.Join(remote, "kept"))
	p.Close()
	syncPair(t, local, remote, state)
	p = openTestPair(t, local, remote, state)
	res = p.PruneBackups(BackupLimits{KeepFor: 30 * day, MaxSize: 1}, now)
	if !exists(remote, newHeld) {
		t.Errorf("%s was pruned for size once no tree held its content", newHeld)
	}
	if res.Removed != [2]int{} || res.Over[RemoteSide] != 12+12-1 {
		t.Errorf("removed %v versions, over by %v; want none, over by %d on the remote", res.Removed, res.Over, 12+12-1)
	}
}

// countingReplica counts the directories listed.
type countingReplica struct {
	replica.Replica
	listed []string
}

func (c *countingReplica) ReadDir(p string) ([]replica.Info, error) {
	c.listed = append(c.listed, p)
	return c.Replica.ReadDir(p)
}

// A pair that stays open (a mount) walks each stamp directory of its
// backup areas once: later prunes list the backup area and walk only the
// stamp directories that are new.
func TestPruneWalksNewStampsOnly(t *testing.T) {
	local, remote, state := t.TempDir(), t.TempDir(), t.TempDir()
	now := time.Now()
	day := 24 * time.Hour
	first := stampAt(t, local, now.Add(-10*day), "a/b/c", "one")
	p := openTestPair(t, local, remote, state)
	c := &countingReplica{Replica: p.Local}
	p.Local = c
	defer func() { p.Local = c.Replica }()
	lim := BackupLimits{KeepFor: 30 * day, MaxSize: 1 << 20}
	p.PruneBackups(lim, now)
	if len(c.listed) != 4 { // the area, the stamp, a, a/b
		t.Errorf("first prune listed %q", c.listed)
	}
	c.listed = nil
	second := stampAt(t, local, now.Add(-1*day), "x", "two")
	p.PruneBackups(lim, now)
	if want := []string{tree.BackupDir, filepath.Dir(second)}; !reflect.DeepEqual(c.listed, want) {
		t.Errorf("second prune listed %q; want %q", c.listed, want)
	}
	// what the prunes remember is what they remove
	res := p.PruneBackups(BackupLimits{KeepFor: 5 * day}, now)
	if res.Removed[LocalSide] != 1 {
		t.Errorf("removed %d versions; want 1", res.Removed[LocalSide])
	}
	if _, err := os.Lstat(filepath.Join(local, tree.BackupDir, strings.Split(first, "/")[1])); err == nil {
		t.Errorf("the stamp directory of %s is still there", first)
	}
	c.listed = nil
	res = p.PruneBackups(BackupLimits{KeepFor: 5 * day}, now.Add(10*day))
	// (the stamp directory is listed once its last version is gone: to
	// remove it if empty)
	if want := []string{tree.BackupDir, filepath.Dir(second)}; res.Removed[LocalSide] != 1 || !reflect.DeepEqual(c.listed, want) {
		t.Errorf("removed %d versions, listed %q; want 1 version removed, %q listed", res.Removed[LocalSide], c.listed, want)
	}
}

// What a prune removed no longer counts at the next prune of an open pair.
func TestPruneForgetsWhatItRemoved(t *testing.T) {
	local, remote, state := t.TempDir(), t.TempDir(), t.TempDir()
	writeTree(t, local, snapshot{"a": "f:held:-", "b": "f:also:-"})
	syncPair(t, local, remote, state)
	now := time.Now()
	stamp := filepath.Dir(stampAt(t, remote, now.Add(-2*time.Hour), "a", "held"))
	os.WriteFile(filepath.Join(remote, stamp, "b"), []byte("also"), 0o644)
	p := openTestPair(t, local, remote, state)
	lim := BackupLimits{MaxSize: 5}
	if res := p.PruneBackups(lim, now); res.Removed[RemoteSide] != 1 {
		t.Fatalf("first prune removed %v; want one version on the remote", res.Removed)
	}
	if res := p.PruneBackups(lim, now); res.Removed[RemoteSide] != 0 {
		t.Errorf("second prune removed %v; want nothing: the area is under its limit", res.Removed)
	}
}
