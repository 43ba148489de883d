package replicatest

import (
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

var nameTests = []subtest{
	{"UnusualNames", testUnusualNames},
}

// unusualNames are valid names that shells and naive code get wrong.
var unusualNames = []string{
	"with space", " leading space", "-leading-dash", "--", "ünïcødé 文件", "tab\there",
	"new\nline", "back\\slash", "quote'\"", "*?[", ".hidden", "...",
}

func testUnusualNames(t *testing.T, e *env) {
	e.mkdir("d", 0o755)
	for _, name := range unusualNames {
		p := tree.Join("d", name)
		e.write(p, "content "+name, 0o644)
		if got := e.read(p); got != "content "+name {
			t.Errorf("read %q = %q", p, got)
		}
		if info := e.lstat(p); info.Name != name || info.Kind != tree.File {
			t.Errorf("Lstat %q = %+v", p, info)
		}
		e.mkdir(p+".dir", 0o755)
		e.symlink(name, p+".link")
	}
	got := e.names("d")
	for _, name := range unusualNames {
		if got[name] != tree.File || got[name+".dir"] != tree.Dir || got[name+".link"] != tree.Symlink {
			t.Errorf("ReadDir d lacks %q (file, .dir, .link): %v", name, got)
		}
		if target, err := e.r.Readlink(tree.Join("d", name+".link")); err != nil || target != name {
			t.Errorf("Readlink of %q.link = %q, %v", name, target, err)
		}
	}
	for _, name := range unusualNames {
		for _, p := range []string{name, name + ".dir", name + ".link"} {
			if err := e.r.Remove(tree.Join("d", p)); err != nil {
				t.Errorf("Remove %q: %v", p, err)
			}
		}
	}
	if got := e.names("d"); len(got) != 0 {
		t.Errorf("d not empty after removing everything: %v", got)
	}
}
