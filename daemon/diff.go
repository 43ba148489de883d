package daemon

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/myrrorfs/myrrorfs/engine"
)

// A short line diff of two small text files, for `myrrorfs resolve` to show
// what a conflict is about. It needs no library: the common head and tail
// are cut off, and what is left is compared by longest common subsequence
// when that is small (an edit or two, the usual conflict), else shown as
// removed and added whole.

const (
	diffContext = 2       // unchanged lines shown around a change
	diffCells   = 1 << 20 // largest table of the subsequence search
)

// isText reports whether b reads as text: valid UTF-8 without NUL.
func isText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// splitLines splits text into lines without their newlines.
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" && len(b) <= 1 {
		if len(b) == 0 {
			return nil
		}
		return []string{""}
	}
	return strings.Split(s, "\n")
}

// diffOp is one line of a diff: ' ' kept, '-' only in a, '+' only in b.
type diffOp struct {
	op   byte
	line string
	ai   int // 1-based line in a (' ', '-') or the line before ('+')
	bi   int // 1-based line in b (' ', '+') or the line before ('-')
}

// lineOps returns the lines of a and b as a sequence of kept, removed and
// added lines.
func lineOps(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	var ops []diffOp
	ai, bi := 0, 0
	keep := func(l string) { ai++; bi++; ops = append(ops, diffOp{' ', l, ai, bi}) }
	del := func(l string) { ai++; ops = append(ops, diffOp{'-', l, ai, bi}) }
	add := func(l string) { bi++; ops = append(ops, diffOp{'+', l, ai, bi}) }
	for _, l := range a[:pre] {
		keep(l)
	}
	n, m := len(ma), len(mb)
	if (n+1)*(m+1) > diffCells {
		for _, l := range ma {
			del(l)
		}
		for _, l := range mb {
			add(l)
		}
	} else {
		// lcs[i*(m+1)+j]: longest common subsequence of ma[i:] and mb[j:]
		lcs := make([]int32, (n+1)*(m+1))
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				k := i*(m+1) + j
				switch {
				case ma[i] == mb[j]:
					lcs[k] = lcs[k+m+2] + 1
				case lcs[k+m+1] >= lcs[k+1]:
					lcs[k] = lcs[k+m+1]
				default:
					lcs[k] = lcs[k+1]
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				keep(ma[i])
				i, j = i+1, j+1
			case j == m || (i < n && lcs[(i+1)*(m+1)+j] >= lcs[i*(m+1)+j+1]):
				del(ma[i])
				i++
			default:
				add(mb[j])
				j++
			}
		}
	}
	for _, l := range a[len(a)-suf:] {
		keep(l)
	}
	return ops
}

// ShortDiff returns a unified diff from a (the local version) to b (the
// remote one) of at most max lines, each line's control characters escaped
// so that a file cannot send escape sequences to the terminal; "" when they
// do not both read as text, or do not differ line by line.
func ShortDiff(a, b []byte, max int) string {
	if !isText(a) || !isText(b) {
		return ""
	}
	ops := lineOps(splitLines(a), splitLines(b))
	var out []string
	shown := 0 // changed lines shown
	changed := 0
	for _, o := range ops {
		if o.op != ' ' {
			changed++
		}
	}
	for k := 0; k < len(ops); {
		if ops[k].op == ' ' {
			k++
			continue
		}
		// a hunk: from diffContext kept lines before the change to
		// diffContext kept lines after the last change that is at most
		// 2*diffContext kept lines from the one before
		start := max0(k - diffContext)
		end := k
		for end < len(ops) {
			if ops[end].op != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].op == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*diffContext {
				end = min(end+diffContext, len(ops))
				break
			}
			end = run
		}
		if len(out)+2 > max {
			break
		}
		out = append(out, hunkHeader(ops[start:end]))
		for _, o := range ops[start:end] {
			if len(out) >= max {
				break
			}
			out = append(out, string(o.op)+escapeLine(o.line))
			if o.op != ' ' {
				shown++
			}
		}
		k = end
	}
	if len(out) == 0 {
		return ""
	}
	if rest := changed - shown; rest > 0 {
		out = append(out, fmt.Sprintf("… %d more changed lines", rest))
	}
	return "--- local\n+++ remote\n" + strings.Join(out, "\n") + "\n"
}

// hunkHeader is the @@ line of a hunk.
func hunkHeader(h []diffOp) string {
	var na, nb int
	for _, o := range h {
		if o.op != '+' {
			na++
		}
		if o.op != '-' {
			nb++
		}
	}
	sa, sb := h[0].ai, h[0].bi
	if h[0].op == '+' {
		sa++
	}
	if h[0].op == '-' {
		sb++
	}
	if na == 0 {
		sa-- // the line before, as diff -u writes it
	}
	if nb == 0 {
		sb--
	}
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@", sa, na, sb, nb)
}

// escapeLine escapes a line of text for the terminal, tabs apart.
func escapeLine(s string) string {
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = engine.EscapeControls(p)
	}
	return strings.Join(parts, "\t")
}

func max0(n int) int {
	if n < 0 {
		return 0
	}
	return n
}
