package engine

import "testing"

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
