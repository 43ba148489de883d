package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

// TestViewWritesStayInTree swaps a local directory for a symlink to a
// directory outside the tree while the kernel still caches the entry as a
// directory, then makes gestures that write remote content below it
// (copy-up, a download to a new name, a copy into the trash, a remote-only
// directory made local): nothing may land outside the tree.
func TestViewWritesStayInTree(t *testing.T) {
	cases := []struct {
		name    string
		swap    string // local directory swapped for the symlink
		gesture string
	}{
		{"copy-up", "d", "printf x >> d/f"},
		{"download to a new name", "d", "mv p.remote d/nd/q"},
		{"remote-only dir made local", "d", "printf c > d/nd/c"},
		{"copy into the trash", ".Trash-0/files", "mv p.remote .Trash-0/files/p.remote"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t, scenario{
				base:   map[string]string{"d/f": "base", "p": "base", ".Trash-0/files/old": "o"},
				local:  map[string]string{"p": "L"},
				remote: map[string]string{"d/f": "R", "p": "R", "d/nd/g": "G"},
			})
			// the kernel caches the names the gesture goes through
			checkView(t, "view", f.mnt, map[string]string{"d/f": "R", "p.remote": "R", "d/nd/g": "G", ".Trash-0/files": "dir/"})
			outside := t.TempDir()
			swapped := filepath.Join(f.local, c.swap)
			if err := os.RemoveAll(swapped); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, swapped); err != nil {
				t.Fatal(err)
			}
			out, err := sh(t, f.mnt, c.gesture)
			t.Logf("gesture %q: %v %s", c.gesture, err, out)
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Fatalf("the view wrote outside the tree: %v", names)
			}
		})
	}
}
