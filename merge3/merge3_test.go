package merge3

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

var labels = Labels{Local: "local", Remote: "remote"}

// lines joins its arguments with a newline after each.
func lines(ls ...string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

// crlf turns every "\n" of s into "\r\n".
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// A function of 12 lines the cases below edit.
var fn = lines(
	"func f(x int) int {",
	"\ta := 1",
	"\tb := 2",
	"\tc := 3",
	"",
	"\tif x > 0 {",
	"\t\treturn a",
	"\t}",
	"",
	"\td := 4",
	"\treturn b + c + d",
	"}",
)

// edit replaces line n (from 1) of s, which has lines, by repl (any number
// of lines, each with its newline).
func edit(s string, n int, repl string) string {
	ls := strings.SplitAfter(s, "\n")
	return strings.Join(ls[:n-1], "") + repl + strings.Join(ls[n:], "")
}

var cases = []struct {
	name                string
	base, local, remote string
	conflicts           int // what git merge-file reports
}{
	{"both unchanged", fn, fn, fn, 0},
	{"local only", fn, edit(fn, 3, "\tb := 20\n"), fn, 0},
	{"remote only", fn, fn, edit(fn, 3, "\tb := 20\n"), 0},
	{"clean, apart", fn, edit(fn, 2, "\ta := 10\n"), edit(fn, 11, "\treturn b * c * d\n"), 0},
	{"clean, one unchanged line between", fn, edit(fn, 2, "\ta := 10\n"), edit(fn, 4, "\tc := 30\n"), 0},
	{"overlapping", fn, edit(fn, 3, "\tb := 20\n"), edit(fn, 3, "\tb := 21\n"), 1},
	{"identical change", fn, edit(fn, 3, "\tb := 20\n"), edit(fn, 3, "\tb := 20\n"), 0},
	{"identical change and one more", fn, edit(edit(fn, 3, "\tb := 20\n"), 10, "\td := 40\n"), edit(fn, 3, "\tb := 20\n"), 0},
	{"adjacent lines", fn, edit(fn, 3, "\tb := 20\n"), edit(fn, 4, "\tc := 30\n"), 1},
	{"insert at start, both", fn, "// one\n" + fn, "// two\n" + fn, 1},
	{"insert at start, same", fn, "// one\n" + fn, "// one\n" + fn, 0},
	{"insert at start and end", fn, "// head\n" + fn, fn + "// tail\n", 0},
	{"insert at end, both", fn, fn + "// one\n", fn + "// two\n", 1},
	{"insert at same place, different", fn, edit(fn, 5, "\n\te := 5\n"), edit(fn, 5, "\n\tf := 6\n"), 1},
	{"delete, edit elsewhere", fn, edit(fn, 6, ""), edit(fn, 2, "\ta := 10\n"), 0},
	{"both delete the same", fn, edit(fn, 10, ""), edit(fn, 10, ""), 0},
	{"delete what the other edits", fn, edit(fn, 10, ""), edit(fn, 10, "\td := 40\n"), 1},
	{"delete a block, other edits inside", fn, edit(edit(edit(fn, 8, ""), 7, ""), 6, ""), edit(fn, 7, "\t\treturn a + 1\n"), 1},
	{"delete all, other edits", fn, "", edit(fn, 3, "\tb := 20\n"), 1},
	{"delete all, both", fn, "", "", 0},
	{"empty base, both add different", "", lines("a", "b"), lines("a", "c"), 1},
	{"empty base, both add the same", "", lines("a", "b"), lines("a", "b"), 0},
	{"empty base, one adds", "", lines("a", "b"), "", 0},
	{"all empty", "", "", "", 0},
	{"no final newline anywhere, edits apart", "a\nb\nc\nd\ne", "A\nb\nc\nd\ne", "a\nb\nc\nd\nE", 0},
	{"no final newline anywhere, last line conflicts", "a\nb\nc", "a\nb\nC1", "a\nb\nC2", 1},
	{"no final newline on local only, conflict", "a\nb\nc\n", "a\nb\nC1", "a\nb\nC2\n", 1},
	{"no final newline on remote only, conflict", "a\nb\nc\n", "a\nb\nC1\n", "a\nb\nC2", 1},
	{"local drops final newline, remote edits start", "a\nb\nc\nd\ne\n", "a\nb\nc\nd\ne", "A\nb\nc\nd\ne\n", 0},
	{"local adds final newline, remote edits start", "a\nb\nc\nd\ne", "a\nb\nc\nd\ne\n", "A\nb\nc\nd\ne", 0},
	{"both append after a last line without newline", "a\nb", "a\nb\nc\n", "a\nb\nd\n", 1},
	{"one line without newline, both change", "x", "y", "z", 1},
	{"crlf, clean", crlf(fn), crlf(edit(fn, 2, "\ta := 10\n")), crlf(edit(fn, 11, "\treturn 0\n")), 0},
	{"crlf, conflict", crlf(fn), crlf(edit(fn, 3, "\tb := 20\n")), crlf(edit(fn, 3, "\tb := 21\n")), 1},
	{"crlf, conflict at end without newline", "a\r\nb\r\nc", "a\r\nb\r\nC1", "a\r\nb\r\nC2", 1},
	{"crlf base, lf sides", crlf(lines("a", "b", "c")), lines("a", "B1", "c"), lines("a", "B2", "c"), 1},
	{"lf base, crlf sides", lines("a", "b", "c"), crlf(lines("a", "B1", "c")), crlf(lines("a", "B2", "c")), 1},
	{"crlf, conflict at start", crlf(lines("a", "b", "c")), crlf(lines("A1", "b", "c")), crlf(lines("A2", "b", "c")), 1},
	{"empty base, crlf sides", "", crlf(lines("a", "b")), crlf(lines("a", "c")), 1},
	{"only line endings differ", lines("a", "b", "c"), crlf(lines("a", "b", "c")), lines("a", "B", "c"), 1},
	{
		"refined: common lines inside a conflict",
		lines("1", "2", "3", "4", "5", "6", "7", "8", "9"),
		lines("1", "x2", "3", "x4", "5", "6", "7", "x8", "9"),
		lines("1", "y2", "3", "x4", "5", "6", "7", "y8", "9"),
		2,
	},
	{
		"refined: both rewrite a block, one line differs",
		fn,
		edit(edit(edit(fn, 4, "\tc := 30\n"), 3, "\tb := 20\n"), 2, "\ta := 10\n"),
		edit(edit(edit(fn, 4, "\tc := 30\n"), 3, "\tb := 21\n"), 2, "\ta := 10\n"),
		1,
	},
	{
		"conflicts 3 alnum lines apart are joined",
		lines("a", "b", "c", "d", "e", "f", "g", "h", "i"),
		lines("a", "B1", "c", "d", "e", "F1", "g", "h", "i"),
		lines("a", "B2", "c", "d", "e", "F2", "g", "h", "i"),
		1,
	},
	{
		"conflicts 4 alnum lines apart stay apart",
		lines("a", "b", "c", "d", "e", "f", "g", "h", "i"),
		lines("a", "B1", "c", "d", "e", "f", "G1", "h", "i"),
		lines("a", "B2", "c", "d", "e", "f", "G2", "h", "i"),
		2,
	},
	{
		"conflicts apart by blank lines are joined",
		lines("a", "b", "", "", "", "", "", "c", "d"),
		lines("a", "B1", "", "", "", "", "", "C1", "d"),
		lines("a", "B2", "", "", "", "", "", "C2", "d"),
		1,
	},
	{
		"conflicts apart by punctuation lines are joined",
		lines("f {", "x", "}", "", "}", "", "{", "y", "}"),
		lines("f {", "x1", "}", "", "}", "", "{", "y1", "}"),
		lines("f {", "x2", "}", "", "}", "", "{", "y2", "}"),
		1,
	},
	{
		"conflicts apart by a line with a digit stay apart",
		lines("a", "b", "", "", "1", "", "", "c", "d"),
		lines("a", "B1", "", "", "1", "", "", "C1", "d"),
		lines("a", "B2", "", "", "1", "", "", "C2", "d"),
		2,
	},
	{
		"non-ascii letters are not alnum",
		lines("a", "b", "é", "é", "é", "é", "c", "d"),
		lines("a", "B1", "é", "é", "é", "é", "C1", "d"),
		lines("a", "B2", "é", "é", "é", "é", "C2", "d"),
		1,
	},
	{
		"a clean edit between two conflicts",
		lines("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"),
		lines("a", "B1", "c", "d", "e", "f", "G", "h", "i", "j", "k", "L1", "m"),
		lines("a", "B2", "c", "d", "e", "f", "g", "h", "i", "j", "k", "L2", "m"),
		2,
	},
	{
		"one side inserts, the other rewrites around",
		lines("a", "b", "c", "d"),
		lines("a", "b", "new", "c", "d"),
		lines("a", "B", "C", "d"),
		1,
	},
	{
		"moved block",
		lines("1", "2", "3", "4", "5", "6", "7", "8"),
		lines("5", "6", "1", "2", "3", "4", "7", "8"),
		lines("1", "2", "3", "4", "5", "6", "7", "8x"),
		0,
	},
	{
		"repeated lines",
		lines("}", "}", "}", "x", "}", "}", "}", "y", "}", "}"),
		lines("}", "}", "x", "}", "}", "}", "}", "y", "}", "}"),
		lines("}", "}", "}", "x", "}", "}", "y", "}", "}", "}", "z"),
		1,
	},
	{
		"markers already in the text, clean",
		lines("a", "<<<<<<< old", "b", "=======", "c", ">>>>>>> old", "d"),
		lines("a", "<<<<<<< old", "B", "=======", "c", ">>>>>>> old", "d"),
		lines("a", "<<<<<<< old", "b", "=======", "C", ">>>>>>> old", "d"),
		0,
	},
}

// TestMergeTable checks each case's conflict count, and its output and
// count against git merge-file.
func TestMergeTable(t *testing.T) {
	git := needGit(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Merge([]byte(c.base), []byte(c.local), []byte(c.remote), labels)
			if err != nil {
				t.Fatal(err)
			}
			if got.Conflicts != c.conflicts {
				t.Errorf("%d conflicts, want %d", got.Conflicts, c.conflicts)
			}
			want, status := git.merge(t, []byte(c.base), []byte(c.local), []byte(c.remote), labels)
			if !bytes.Equal(got.Merged, want) || min(got.Conflicts, 127) != status {
				t.Errorf("merge differs from git merge-file:\n%s", mismatch(c.base, c.local, c.remote, got, want, status))
			}
		})
	}
}

// TestMergeLabels checks that the labels land on the markers as git writes
// them.
func TestMergeLabels(t *testing.T) {
	git := needGit(t)
	base, local, remote := lines("a", "b", "c"), lines("a", "x", "c"), lines("a", "y", "c")
	for _, l := range []Labels{{"local", "remote"}, {"mine (laptop)", "theirs"}, {"ä", "a b c"}} {
		got, err := Merge([]byte(base), []byte(local), []byte(remote), l)
		if err != nil {
			t.Fatal(err)
		}
		want, status := git.merge(t, []byte(base), []byte(local), []byte(remote), l)
		if !bytes.Equal(got.Merged, want) || got.Conflicts != status {
			t.Errorf("labels %q: merge differs from git merge-file:\n%s", l, mismatch(base, local, remote, got, want, status))
		}
	}
}

// TestMergeEmptyLabels checks that an empty label gives a marker with no
// trailing space (as recent versions of git write it).
func TestMergeEmptyLabels(t *testing.T) {
	got, err := Merge([]byte("a\n"), []byte("b\n"), []byte("c\n"), Labels{})
	if err != nil {
		t.Fatal(err)
	}
	want := "<<<<<<<\nb\n=======\nc\n>>>>>>>\n"
	if string(got.Merged) != want || got.Conflicts != 1 {
		t.Errorf("got %q, %d conflicts; want %q, 1", got.Merged, got.Conflicts, want)
	}
}

func TestBinary(t *testing.T) {
	text := []byte("a\nb\n")
	bin := []byte("a\x00b\n")
	if !IsText(text) || !IsText(nil) || !IsText([]byte("\xff\xfe latin-1 \xe9\n")) {
		t.Error("text taken for binary")
	}
	if IsText(bin) {
		t.Error("NUL byte taken for text")
	}
	for i, in := range [][3][]byte{{bin, text, text}, {text, bin, text}, {text, text, bin}} {
		if _, err := Merge(in[0], in[1], in[2], labels); !errors.Is(err, ErrBinary) {
			t.Errorf("binary input %d: error %v, want ErrBinary", i, err)
		}
	}
}

// TestMergeNoAliasing checks that the result is a copy, also when it equals
// an input.
func TestMergeNoAliasing(t *testing.T) {
	base, local, remote := []byte("a\n"), []byte("a\n"), []byte("b\n")
	r, err := Merge(base, local, remote, labels)
	if err != nil {
		t.Fatal(err)
	}
	r.Merged[0] = 'z'
	if string(remote) != "b\n" {
		t.Error("Merged shares memory with remote")
	}
}

// mismatch describes a difference between Merge and git for a test log.
func mismatch(base, local, remote string, got Result, want []byte, status int) string {
	return fmt.Sprintf("base   %q\nlocal  %q\nremote %q\nmerge3 %q (%d conflicts)\ngit    %q (status %d)",
		base, local, remote, got.Merged, got.Conflicts, want, status)
}
