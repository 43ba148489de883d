package daemon

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/merge3"
)

// A short line diff of two small text files, for `myrrorfs resolve` to show
// what a conflict is about: the unified diff of merge3 (the one `myrrorfs
// diff` prints), cut to a few lines and escaped for the terminal.

const diffContext = 2 // unchanged lines shown around a change

// isText reports whether b reads as text: valid UTF-8 without NUL.
func isText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// ShortDiff returns a unified diff from a (the local version) to b (the
// remote one) of at most max lines, each line's control characters escaped
// so that a file cannot send escape sequences to the terminal; "" when they
// do not both read as text, or do not differ line by line.
func ShortDiff(a, b []byte, max int) string {
	if !isText(a) || !isText(b) {
		return ""
	}
	u := merge3.Unified(a, b, "local", "remote", diffContext)
	lines := strings.Split(strings.TrimSuffix(string(u), "\n"), "\n")
	if len(u) == 0 || len(lines) < 3 {
		return ""
	}
	body := lines[2:] // after the --- and +++ lines
	changed, shown := 0, 0
	for _, l := range body {
		if l != "" && (l[0] == '+' || l[0] == '-') {
			changed++
		}
	}
	var out []string
	for _, l := range body {
		if len(out) >= max || strings.HasPrefix(l, "@@") && len(out)+2 > max {
			break
		}
		out = append(out, engine.EscapeLine(l))
		if l != "" && (l[0] == '+' || l[0] == '-') {
			shown++
		}
	}
	if rest := changed - shown; rest > 0 {
		out = append(out, fmt.Sprintf("… %d more changed lines", rest))
	}
	return "--- local\n+++ remote\n" + strings.Join(out, "\n") + "\n"
}
