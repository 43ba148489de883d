// Package merge3 merges two versions of a text file that both came from a
// common base, line by line, with the results of `git merge-file` (its
// default style and level, no options): a change made on one side only is
// taken, the same change made on both sides is taken once, and changes that
// overlap or touch are a conflict, written between standard markers:
//
//	<<<<<<< local
//	the local side's lines
//	=======
//	the remote side's lines
//	>>>>>>> remote
//
// Like git's default (XDL_MERGE_ZEALOUS_ALNUM), a conflict is narrowed by
// diffing the two sides' versions of it: lines both sides agree on are
// written once, outside the markers, and the conflict may split in several.
// Conflicts left with at most three lines between them, or with only lines
// lacking ASCII letters and digits between them (blank lines, braces), are
// joined into one.
//
// Lines end at '\n'; "\r\n" is just a line ending in '\r' as far as the
// diff goes, as in git without options. Markers end in "\r\n" when the lines
// around them do (git's rule), and a side whose part of a conflict ends
// without a newline gets one before the next marker.
//
// The diff is a Myers diff made to pair lines exactly as git's default diff
// does (see diff.go), so results are byte for byte those of git merge-file:
// the tests compare them on a table of cases, on 900 random merges and on
// long files. Two versions that differ by hundreds of lines make git's diff
// stop looking for a shortest edit and take a good-enough one; this package
// takes the same, a path the tests check on six long files only.
//
// The cost grows with the length of the files times how much they differ:
// merging three unrelated files of 100,000 lines takes a few seconds (git
// takes about half as long). The package does no I/O; reading files, size
// limits and writing results are the caller's.
package merge3

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrBinary is returned by Merge for an input that is not text.
var ErrBinary = errors.New("not a text file")

// IsText reports whether b is text this package merges: b holds no NUL
// byte. Other bytes, invalid UTF-8 included, are fine: lines are cut at
// '\n' whatever the encoding, as git does. Git calls a file binary when its
// first 8000 bytes hold a NUL; this looks at all of b, so it is stricter
// (text with a NUL further on is not merged) but never looser. UTF-16 text
// holds NUL bytes and so is not text here, which is right for a line merge.
//
// The size limit is the caller's: it knows a file's size before reading it.
func IsText(b []byte) bool {
	return bytes.IndexByte(b, 0) < 0
}

// Labels name the two sides on the conflict markers ("<<<<<<< " + Local).
// An empty label gives a bare marker ("<<<<<<<"), as recent git does (older
// git leaves a space after it). A label should not contain a newline.
type Labels struct {
	Local, Remote string
}

// Result is the outcome of a merge.
type Result struct {
	// Merged is the merged text; it holds conflict markers where
	// Conflicts > 0.
	Merged []byte
	// Conflicts is the number of conflicting hunks, each between its own
	// markers. git merge-file exits with this number, capped at 127.
	Conflicts int
}

// Merge merges the changes local and remote made to base. It returns an
// error wrapping ErrBinary, and no result, if any input fails IsText. The
// inputs are not modified and Merged shares no memory with them.
func Merge(base, local, remote []byte, l Labels) (Result, error) {
	for _, in := range []struct {
		name string
		b    []byte
	}{{"base", base}, {"local", local}, {"remote", remote}} {
		if !IsText(in.b) {
			return Result{}, fmt.Errorf("merge3: %s: %w", in.name, ErrBinary)
		}
	}
	o, l1, l2 := splitLines(base), splitLines(local), splitLines(remote)
	h1 := diffLines(o, l1)
	h2 := diffLines(o, l2)
	// A side that changed nothing yields the other side, byte for byte.
	if len(h1) == 0 {
		return Result{Merged: bytes.Clone(remote)}, nil
	}
	if len(h2) == 0 {
		return Result{Merged: bytes.Clone(local)}, nil
	}
	m := &merger{base: o, local: l1, remote: l2}
	rs := m.combine(h1, h2)
	rs = m.refine(rs)
	rs = m.join(rs)
	out, n := m.write(rs, l, len(local)+len(remote))
	return Result{Merged: out, Conflicts: n}, nil
}
