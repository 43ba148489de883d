package engine

import (
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// FuzzParseSpec: any argument either fails with an error or gives a spec
// whose host is usable as one ssh argument and that prints back as given.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"host:dir", "user@host:", "./a:b", "/abs", "-oProxyCommand=x:y", "h\x00:p", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			return
		}
		if sp.IsRemote() && (strings.HasPrefix(sp.Host, "-") || strings.ContainsAny(sp.Host, " \t\n\x00/")) {
			t.Fatalf("%q: host %q", s, sp.Host)
		}
		if !sp.IsRemote() && sp.Path == "" {
			t.Fatalf("%q: empty local path", s)
		}
		if sp.String() != s {
			t.Fatalf("%q prints back as %q", s, sp.String())
		}
	})
}

// FuzzIgnore: any ignore file parses, and matching never panics; a
// negation of everything ignores nothing.
func FuzzIgnore(f *testing.F) {
	f.Add([]byte("build/\n!build/keep\n*.o\n/top\n# c\n"), "build/x.o")
	f.Fuzz(func(t *testing.T, file []byte, p string) {
		if tree.ValidPath(p) != nil {
			return
		}
		ig := NewIgnorer(file, nil)
		ig.Ignored(p, false)
		ig.Ignored(p, true)
		if all := NewIgnorer(file, []string{"!*", "!**"}); all.Ignored(p, false) && p != "" && !strings.Contains(p, "/") {
			t.Fatalf("%q ignored after !*", p)
		}
	})
}
