package merge3

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unified returns git's unified diff from a to b with context lines, from
// its "---" line on (git names the files a/old and b/new), the function
// names after each hunk's "@@" line left out.
func (g *gitMerger) unified(t testing.TB, a, b []byte, context int) []byte {
	t.Helper()
	for name, data := range map[string][]byte{"old": a, "new": b} {
		if err := os.WriteFile(filepath.Join(g.dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("git", "diff", "--no-index", "--no-color", "--no-ext-diff", "--no-indent-heuristic",
		fmt.Sprintf("-U%d", context), "old", "new")
	cmd.Dir = g.dir
	cmd.Env = g.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("git diff: %v: %s", err, stderr.Bytes())
	}
	out := stdout.Bytes()
	if len(out) == 0 {
		return nil
	}
	i := bytes.Index(out, []byte("\n--- "))
	if i < 0 {
		t.Fatalf("git diff printed no --- line:\n%s", out)
	}
	return funcName.ReplaceAll(out[i+1:], []byte("$1"))
}

// funcName matches a hunk header and the function name git adds to it.
var funcName = regexp.MustCompile(`(?m)^(@@ -[0-9,]+ \+[0-9,]+ @@).*$`)

// many returns n numbered lines starting at from.
func many(from, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d\n", from+i)
	}
	return b.String()
}

var unifiedCases = []struct {
	name string
	a, b string
}{
	{"equal", fn, fn},
	{"both empty", "", ""},
	{"from empty", "", lines("a", "b")},
	{"to empty", lines("a", "b"), ""},
	{"one line changed", fn, edit(fn, 3, "\tb := 20\n")},
	{"first line", fn, edit(fn, 1, "func g(x int) int {\n")},
	{"last line", fn, edit(fn, 12, "} // f\n")},
	{"line inserted", fn, edit(fn, 5, "\n\te := 5\n\n")},
	{"line deleted", fn, edit(fn, 5, "")},
	{"lines deleted at the start", fn, edit(edit(fn, 1, ""), 1, "")},
	{"lines added at the end", fn, fn + lines("", "// end")},
	{"two hunks joined: 6 lines apart", many(0, 20), strings.Replace(strings.Replace(many(0, 20), "line 3\n", "three\n", 1), "line 10\n", "ten\n", 1)},
	{"two hunks apart: 7 lines apart", many(0, 20), strings.Replace(strings.Replace(many(0, 20), "line 3\n", "three\n", 1), "line 11\n", "eleven\n", 1)},
	{"many hunks", many(0, 60), strings.NewReplacer("line 5\n", "", "line 20\n", "twenty\n", "line 21\n", "", "line 40\n", "line 40\nmore\n", "line 59\n", "last\n").Replace(many(0, 60))},
	{"no newline at the end of both, last line changed", "a\nb\nc", "a\nb\nd"},
	{"no newline at the end of both, unchanged", "a\nb\nc", "x\nb\nc"},
	{"newline added at the end", "a\nb\nc", "a\nb\nc\n"},
	{"newline removed at the end", "a\nb\nc\n", "a\nb\nc"},
	{"no newline, one line each", "a", "b"},
	{"no newline, to empty", "a", ""},
	{"crlf", crlf(fn), crlf(edit(fn, 3, "\tb := 20\n"))},
	{"crlf to lf", crlf(fn), fn},
	{"blank lines", lines("a", "", "", "b", "", "c"), lines("a", "", "b", "", "", "c")},
	{"repeated lines slide", lines("x", "a", "a", "a", "y"), lines("x", "a", "a", "y")},
	{"braces", lines("if a {", "\tf()", "}", "", "if b {", "\tg()", "}"), lines("if a {", "\tf()", "}", "", "if c {", "\th()", "}", "", "if b {", "\tg()", "}")},
	{"unrelated", many(0, 10), many(100, 7)},
	{"invalid utf-8 and controls", "caf\xe9\n\x1b[31mred\n", "caf\xc3\xa9\n\x1b[31mred\n"},
}

// TestUnifiedAgainstGit compares Unified with git diff on a table of
// cases, with 3 lines of context (the default), 0 and 1.
func TestUnifiedAgainstGit(t *testing.T) {
	git := needGit(t)
	for _, c := range unifiedCases {
		for _, ctx := range []int{3, 0, 1} {
			got := Unified([]byte(c.a), []byte(c.b), "a/old", "b/new", ctx)
			want := git.unified(t, []byte(c.a), []byte(c.b), ctx)
			if !bytes.Equal(got, want) {
				t.Errorf("%s, -U%d: got\n%s\nwant (git diff)\n%s", c.name, ctx, got, want)
			}
		}
	}
}

// TestUnifiedRandomAgainstGit compares Unified with git diff on random
// edits of short and longer files over few distinct lines, and on
// code-like files.
func TestUnifiedRandomAgainstGit(t *testing.T) {
	git := needGit(t)
	n := 300
	if testing.Short() {
		n = 60
	}
	r := rand.New(rand.NewPCG(7, 11))
	fresh, differ := 0, 0
	for i := range n {
		var a, b []string
		switch i % 3 {
		case 0:
			a, b, _ = randomCase(r, 13, 4)
		case 1:
			a, b, _ = randomCase(r, 90, 12)
		default:
			_, a, b = codeLike(r, &fresh)
		}
		ctx := r.IntN(5)
		got := Unified(join(a), join(b), "a/old", "b/new", ctx)
		want := git.unified(t, join(a), join(b), ctx)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d, -U%d: %q to %q: got\n%s\nwant (git diff)\n%s", i, ctx, join(a), join(b), got, want)
		}
		if got != nil {
			differ++
		}
	}
	t.Logf("%d random pairs (%d differing) diff as git diff does", n, differ)
}

// TestUnifiedLabels checks that the labels are written as given, and that
// equal inputs give nothing at all.
func TestUnifiedLabels(t *testing.T) {
	got := string(Unified([]byte("a\n"), []byte("b\n"), "remote/x y", `local/"q"`, 3))
	want := "--- remote/x y\n+++ local/\"q\"\n@@ -1 +1 @@\n-a\n+b\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Unified([]byte("same"), []byte("same"), "a", "b", 3); got != nil {
		t.Errorf("equal inputs: got %q, want nil", got)
	}
	// a negative context is none
	if got, want := Unified([]byte("a\nb\nc\n"), []byte("a\nx\nc\n"), "a", "b", -1), Unified([]byte("a\nb\nc\n"), []byte("a\nx\nc\n"), "a", "b", 0); !bytes.Equal(got, want) {
		t.Errorf("context -1: got %q, want %q", got, want)
	}
}
