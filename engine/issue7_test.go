package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Reproductions of issue 7's cases 1 and 7, one test per case, in both
// orientations (the renaming side local, then remote).

// sidesOf returns (renamer, editor) for the orientation.
func issue7Sides(l, r string, localRenames bool) (string, string) {
	if localRenames {
		return l, r
	}
	return r, l
}

// issue7EditKept fails unless the editor side still holds the edit (at the
// old path, left as a conflict, or carried to the new path), and unless a
// run reporting "in sync" left both sides equal with the edit at the new
// path.
func issue7EditKept(t *testing.T, res *Result, l, r, editor, oldPath, newPath, edit string) {
	t.Helper()
	got := readTree(t, editor)
	if got[oldPath] != edit && got[newPath] != edit {
		t.Errorf("the edit %q was moved aside: the editing side holds %v (result %+v)", edit, got, res)
	}
	if res.InSync() {
		gl, gr := readTree(t, l), readTree(t, r)
		if fmt.Sprint(gl) != fmt.Sprint(gr) || gl[newPath] != edit {
			t.Errorf("the run reports in sync, but local %v remote %v (want %s = %q on both)", gl, gr, newPath, edit)
		}
	}
}

// Issue 7 case 1: side A turns file x into a directory and renames a to
// x/b; side B edits a. B's edit must not be moved aside while A's older
// content replaces it, and the run must not report in sync unless the edit
// was carried.
func TestIssue7Case1RenameIntoReplacedFile(t *testing.T) {
	for _, localRenames := range []bool{true, false} {
		t.Run(fmt.Sprint("localRenames=", localRenames), func(t *testing.T) {
			l, r, state := newPairDirs(t, snapshot{"a": "f:original:-", "x": "f:file x:-"})
			renamer, editor := issue7Sides(l, r, localRenames)
			os.Remove(filepath.Join(renamer, "x"))
			os.Mkdir(filepath.Join(renamer, "x"), 0o755)
			os.Rename(filepath.Join(renamer, "a"), filepath.Join(renamer, "x/b"))
			os.WriteFile(filepath.Join(editor, "a"), []byte("edited"), 0o644)
			_, res := syncPair(t, l, r, state)
			issue7EditKept(t, res, l, r, editor, "a", "x/b", "f:edited:-")
		})
	}
}

// Issue 7 case 1, second form: side A renames a to x/b (x a new
// directory), side B edits a, and after the scan a file x appears on B, so
// that B cannot make the directory x in this run.
func TestIssue7Case1TargetBlockedAfterScan(t *testing.T) {
	for _, localRenames := range []bool{true, false} {
		t.Run(fmt.Sprint("localRenames=", localRenames), func(t *testing.T) {
			l, r, state := newPairDirs(t, snapshot{"a": "f:original:-"})
			renamer, editor := issue7Sides(l, r, localRenames)
			os.Mkdir(filepath.Join(renamer, "x"), 0o755)
			os.Rename(filepath.Join(renamer, "a"), filepath.Join(renamer, "x/b"))
			os.WriteFile(filepath.Join(editor, "a"), []byte("edited"), 0o644)
			p := openTest(t, l, r, state)
			plan, err := p.Scan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(editor, "x"), []byte("appeared after the scan"), 0o644)
			res, err := p.Apply(context.Background(), plan, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			issue7EditKept(t, res, l, r, editor, "a", "x/b", "f:edited:-")
			if got := readTree(t, editor)["x"]; got != "f:appeared after the scan:-" {
				t.Errorf("the file that appeared after the scan is now %q", got)
			}
		})
	}
}

// Issue 7 case 7, first form: `mv d e; chmod +x e/s.sh` on one side, the
// other side unchanged. Both sides must end with e/s.sh executable, and a
// second run must have nothing to do.
func TestIssue7Case7DirRenamePlusChmod(t *testing.T) {
	for _, localRenames := range []bool{true, false} {
		t.Run(fmt.Sprint("localRenames=", localRenames), func(t *testing.T) {
			l, r, state := newPairDirs(t, snapshot{"d": "d", "d/s.sh": "f:echo hi:-", "d/other": "f:other:-"})
			renamer, _ := issue7Sides(l, r, localRenames)
			os.Rename(filepath.Join(renamer, "d"), filepath.Join(renamer, "e"))
			os.Chmod(filepath.Join(renamer, "e/s.sh"), 0o755)
			_, res := syncPair(t, l, r, state)
			want := fmt.Sprint(snapshot{"e": "d", "e/s.sh": "f:echo hi:x", "e/other": "f:other:-"})
			for _, root := range []string{l, r} {
				if got := fmt.Sprint(readTree(t, root)); got != want {
					t.Errorf("%s = %s, want %s (result %+v)", filepath.Base(root), got, want, res)
				}
			}
			if again := planOf(t, l, r, state); len(again.Top()) != 0 {
				t.Errorf("second run would do %v", again.Top())
			}
		})
	}
}

// Issue 7 case 7, second form: a rename plus chmod +x of a file on one side,
// an edit of it on the other. The result must carry both the edit and the
// exec bit (or be a conflict that leaves both versions in place), never
// drop one.
func TestIssue7Case7RenamePlusChmodVsEdit(t *testing.T) {
	for _, localRenames := range []bool{true, false} {
		t.Run(fmt.Sprint("localRenames=", localRenames), func(t *testing.T) {
			l, r, state := newPairDirs(t, snapshot{"a": "f:original:-"})
			renamer, editor := issue7Sides(l, r, localRenames)
			os.Rename(filepath.Join(renamer, "a"), filepath.Join(renamer, "b"))
			os.Chmod(filepath.Join(renamer, "b"), 0o755)
			os.WriteFile(filepath.Join(editor, "a"), []byte("edited"), 0o644)
			plan, res := syncPair(t, l, r, state)
			gl, gr := readTree(t, l), readTree(t, r)
			merged := fmt.Sprint(snapshot{"b": "f:edited:x"})
			if len(plan.Conflicts()) == 0 {
				if fmt.Sprint(gl) != merged || fmt.Sprint(gr) != merged {
					t.Errorf("local %v remote %v, want %s on both (result %+v)", gl, gr, merged, res)
				}
				return
			}
			if readTree(t, renamer)["b"] != "f:original:x" || readTree(t, editor)["a"] != "f:edited:-" {
				t.Errorf("conflicts %v, but local %v remote %v", plan.Conflicts(), gl, gr)
			}
		})
	}
}
