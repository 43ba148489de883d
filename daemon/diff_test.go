package daemon

import (
	"strings"
	"testing"
)

func TestShortDiff(t *testing.T) {
	lines := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(f(i) + "\n")
		}
		return b.String()
	}
	num := func(i int) string { return strings.Repeat("x", i%7) + string(rune('a'+i%26)) }
	cases := []struct {
		name, a, b, want string
		max              int
	}{
		{"one line", "old\n", "new\n", "--- local\n+++ remote\n@@ -1 +1 @@\n-old\n+new\n", 16},
		{"edit in the middle, context of two",
			"1\n2\n3\n4\n5\n6\n7\n", "1\n2\n3\nfour\n5\n6\n7\n",
			"--- local\n+++ remote\n@@ -2,5 +2,5 @@\n 2\n 3\n-4\n+four\n 5\n 6\n", 16},
		{"two hunks, an insertion and a deletion",
			"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "a\nnew\nb\nc\nd\ne\nf\ng\nh\nj\n",
			"--- local\n+++ remote\n@@ -1,3 +1,4 @@\n a\n+new\n b\n c\n@@ -7,4 +8,3 @@\n g\n h\n-i\n j\n", 16},
		{"appended to an empty file", "", "x\n", "--- local\n+++ remote\n@@ -0,0 +1 @@\n+x\n", 16},
		{"cut short", lines(30, num), lines(30, func(i int) string { return "changed " + num(i) }),
			"", 6},
		{"escape sequences escaped, tabs kept", "a\tb\n", "a\x1b[2J\tb\n", "--- local\n+++ remote\n@@ -1 +1 @@\n-a\tb\n+a\\x1b[2J\tb\n", 16},
		{"binary", "a\x00b\n", "c\n", "", 16},
		{"not UTF-8", "a\xffb\n", "c\n", "", 16},
		{"same lines", "a\n", "a\n", "", 16},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ShortDiff([]byte(c.a), []byte(c.b), c.max)
			if c.name == "cut short" {
				ls := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
				if len(ls) != 2+6+1 || !strings.HasPrefix(ls[len(ls)-1], "… 55 more changed lines") {
					t.Fatalf("cut short diff:\n%s", got)
				}
				return
			}
			if got != c.want {
				t.Fatalf("ShortDiff:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
