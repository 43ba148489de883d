package engine

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/tree"
)

// TestDefaultIgnore: editors' backup, lock, auto-save and swap files are
// left out by default, and a negation in the ignore file takes one back.
func TestDefaultIgnore(t *testing.T) {
	ig := NewIgnorer([]byte("!keep.swp\n"), nil)
	for p, want := range map[string]bool{
		"a~": true, "d/a.txt~": true, ".#a": true, "d/.#a": true, "#a#": true, "d/#a#": true, ".a.swp": true,
		"a": false, "#a": false, "a#": false, "a~b": false, "keep.swp": false,
	} {
		if got := ig.Ignored(p, false); got != want {
			t.Errorf("%s: ignored %v, want %v", p, got, want)
		}
	}
}

// TestIgnoreNamePatterns: patterns without '/' are matched by the
// Ignorer itself exactly as the gitignore package matches them.
func TestIgnoreNamePatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	pick := func(alphabet string, max int) string {
		var b strings.Builder
		for n := rng.IntN(max + 1); n > 0; n-- {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for i := 0; i < 3000; i++ {
		var lines []string
		for n := 1 + rng.IntN(4); n > 0; n-- {
			l := pick(`ab.#~*?[]\! `, 6)
			if rng.IntN(4) == 0 {
				l += "/"
			}
			lines = append(lines, l)
		}
		ig := NewIgnorer([]byte(strings.Join(lines, "\n")), nil)
		for k := 0; k < 20; k++ {
			var names []string
			for n := 1 + rng.IntN(3); n > 0; n-- {
				if name := pick(`ab.#~*?[]\! `, 5); tree.ValidName(name) == nil {
					names = append(names, name)
				}
			}
			if len(names) == 0 {
				continue
			}
			p := strings.Join(names, "/")
			isDir := rng.IntN(2) == 0
			want := !ig.empty && ig.m.Match(strings.Split(p, "/"), isDir)
			if got := ig.Ignored(p, isDir); got != want {
				t.Fatalf("patterns %q, path %q (dir %v): ignored %v, the gitignore package says %v", lines, p, isDir, got, want)
			}
		}
	}
}
