package merge3

import (
	"bytes"
	"strconv"
)

// Unified returns the unified diff that turns a into b, in the format of
// `diff -u` and `git diff`: a "--- labelA" and a "+++ labelB" line, then
// hunks of changed lines with context unchanged lines around each (hunks
// closer than twice that are joined), each under an "@@ -start,count
// +start,count @@" line; a line that ends its file without a newline is
// followed by "\ No newline at end of file". It returns nil when a and b
// hold the same lines.
//
// The lines are paired by the diff the merges use, the one of git's
// default diff (see diff.go), so the output is byte for byte what `git
// diff --no-index --no-indent-heuristic` prints from its "---" line on,
// but for the function names git adds after a hunk's "@@" line. (git diff
// slides changes by indentation by default, which this does not do.)
//
// The labels are written as given: quoting a name that holds a newline is
// the caller's business. The inputs may be binary; whether to diff them
// is the caller's choice too (see IsText).
func Unified(a, b []byte, labelA, labelB string, context int) []byte {
	la, lb := splitLines(a), splitLines(b)
	hs := diffLines(la, lb)
	if len(hs) == 0 {
		return nil
	}
	context = max(context, 0)
	var out bytes.Buffer
	out.WriteString("--- " + labelA + "\n+++ " + labelB + "\n")
	end := 0 // in a, where the previous group of hunks ended
	for i := 0; i < len(hs); {
		// hunks no further apart than twice the context are shown as one
		j := i
		for j+1 < len(hs) && hs[j+1].A-(hs[j].A+hs[j].NA) <= 2*context {
			j++
		}
		// as many unchanged lines precede (and follow) the group in a as
		// in b: they pair up
		pre := min(context, hs[i].A-end)
		last := hs[j]
		post := min(context, len(la)-(last.A+last.NA))
		s1, s2 := hs[i].A-pre, hs[i].B-pre
		e1, e2 := last.A+last.NA+post, last.B+last.NB+post
		out.WriteString("@@ -" + hunkRange(s1, e1-s1) + " +" + hunkRange(s2, e2-s2) + " @@\n")
		pos := s1
		for _, h := range hs[i : j+1] {
			writeLines(&out, ' ', la[pos:h.A])
			writeLines(&out, '-', la[h.A:h.A+h.NA])
			writeLines(&out, '+', lb[h.B:h.B+h.NB])
			pos = h.A + h.NA
		}
		writeLines(&out, ' ', la[pos:e1])
		end = last.A + last.NA
		i = j + 1
	}
	return out.Bytes()
}

// hunkRange writes a range of count lines from line start (from 0) as a
// hunk header does: the first line counted from 1, the count left out when
// it is 1, and for no lines the line before them.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return strconv.Itoa(start) + ",0"
	case 1:
		return strconv.Itoa(start + 1)
	}
	return strconv.Itoa(start+1) + "," + strconv.Itoa(count)
}

// writeLines writes lines, each after prefix; a line without its newline
// (the last of a file) gets one, and the marker that says it had none.
func writeLines(out *bytes.Buffer, prefix byte, lines [][]byte) {
	for _, l := range lines {
		out.WriteByte(prefix)
		out.Write(l)
		if len(l) == 0 || l[len(l)-1] != '\n' {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}
