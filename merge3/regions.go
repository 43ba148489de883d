package merge3

import "bytes"

// kind says how a region of the merge is resolved.
type kind uint8

const (
	conflict   kind = iota
	takeLocal       // only local changed it
	takeRemote      // only remote changed it
	agreed          // both sides changed it alike (found when refining)
)

// A region is a stretch of the merge: local[Loc:Loc+NLoc] on the local side
// and remote[Rem:Rem+NRem] on the remote side. Outside regions, local and
// remote are equal to base and to each other, and the merge copies local.
type region struct {
	kind      kind
	Loc, NLoc int
	Rem, NRem int
}

type merger struct {
	base, local, remote [][]byte
}

// combine walks the two diffs from base in step. A hunk that ends before
// the other side's next hunk starts is one side's change alone; hunks that
// overlap or touch (one ends where the other starts, or both insert at the
// same place) are a conflict spanning both, unless they are the same
// change, which the merge gets by copying local. Regions that touch on
// either side are joined, and a join of different kinds is a conflict.
func (m *merger) combine(h1, h2 []hunk) []region {
	var rs []region
	add := func(r region) {
		if n := len(rs); n > 0 {
			last := &rs[n-1]
			if r.Loc <= last.Loc+last.NLoc || r.Rem <= last.Rem+last.NRem {
				if r.kind != last.kind {
					last.kind = conflict
				}
				last.NLoc = r.Loc + r.NLoc - last.Loc
				last.NRem = r.Rem + r.NRem - last.Rem
				return
			}
		}
		rs = append(rs, r)
	}
	i, j := 0, 0
	for i < len(h1) && j < len(h2) {
		x, y := h1[i], h2[j]
		xEnd, yEnd := x.A+x.NA, y.A+y.NA
		switch {
		case xEnd < y.A:
			// Before y, remote is base shifted by y.B - y.A lines.
			add(region{kind: takeLocal, Loc: x.B, NLoc: x.NB, Rem: x.A + y.B - y.A, NRem: x.NA})
			i++
			continue
		case yEnd < x.A:
			add(region{kind: takeRemote, Loc: y.A + x.B - x.A, NLoc: y.NA, Rem: y.B, NRem: y.NB})
			j++
			continue
		}
		if !m.sameChange(x, y) {
			// Stretch each side's part to the base lines the other's covers.
			start, end := min(x.A, y.A), max(xEnd, yEnd)
			loc := x.B - (x.A - start)
			rem := y.B - (y.A - start)
			add(region{
				kind: conflict,
				Loc:  loc, NLoc: x.B + x.NB + (end - xEnd) - loc,
				Rem: rem, NRem: y.B + y.NB + (end - yEnd) - rem,
			})
		}
		if xEnd >= yEnd {
			j++
		}
		if yEnd >= xEnd {
			i++
		}
	}
	// Past the last hunk of one side, that side is base shifted by the
	// difference in length.
	for ; i < len(h1); i++ {
		x := h1[i]
		add(region{kind: takeLocal, Loc: x.B, NLoc: x.NB, Rem: x.A + len(m.remote) - len(m.base), NRem: x.NA})
	}
	for ; j < len(h2); j++ {
		y := h2[j]
		add(region{kind: takeRemote, Loc: y.A + len(m.local) - len(m.base), NLoc: y.NA, Rem: y.B, NRem: y.NB})
	}
	return rs
}

// sameChange reports whether x and y replace the same base lines by the
// same lines.
func (m *merger) sameChange(x, y hunk) bool {
	if x.A != y.A || x.NA != y.NA || x.NB != y.NB {
		return false
	}
	for k := range x.NB {
		if !bytes.Equal(m.local[x.B+k], m.remote[y.B+k]) {
			return false
		}
	}
	return true
}

// refine narrows each conflict where both sides have lines to the hunks of
// a diff between the two sides' versions: lines both sides have in common
// leave the conflict, which may split in several. A conflict whose two
// versions are equal is resolved.
func (m *merger) refine(rs []region) []region {
	out := make([]region, 0, len(rs))
	for _, r := range rs {
		if r.kind != conflict || r.NLoc == 0 || r.NRem == 0 {
			out = append(out, r)
			continue
		}
		hs := diffLines(m.local[r.Loc:r.Loc+r.NLoc], m.remote[r.Rem:r.Rem+r.NRem])
		if len(hs) == 0 {
			r.kind = agreed
			out = append(out, r)
			continue
		}
		for _, h := range hs {
			out = append(out, region{kind: conflict, Loc: r.Loc + h.A, NLoc: h.NA, Rem: r.Rem + h.B, NRem: h.NB})
		}
	}
	return out
}

// join makes one conflict of two consecutive conflicts when the local lines
// between them are at most three, or have no ASCII letter or digit.
func (m *merger) join(rs []region) []region {
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.kind == conflict && r.kind == conflict {
				gap := m.local[last.Loc+last.NLoc : r.Loc]
				if len(gap) <= 3 || !hasAlnum(gap) {
					last.NLoc = r.Loc + r.NLoc - last.Loc
					last.NRem = r.Rem + r.NRem - last.Rem
					continue
				}
			}
		}
		out = append(out, r)
	}
	return out
}

func hasAlnum(lines [][]byte) bool {
	for _, l := range lines {
		for _, c := range l {
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				return true
			}
		}
	}
	return false
}

const markerLen = 7

// write renders the merge: local, with each region replaced by its
// resolution. It returns the text and the number of conflicts.
func (m *merger) write(rs []region, l Labels, sizeHint int) ([]byte, int) {
	out := make([]byte, 0, sizeHint)
	copyLines := func(lines [][]byte) {
		for _, line := range lines {
			out = append(out, line...)
		}
	}
	n := 0
	at := 0 // next local line to copy
	for _, r := range rs {
		switch r.kind {
		case conflict:
			n++
			copyLines(m.local[at:r.Loc])
			eol := "\n"
			if m.crlfMarkers(r) {
				eol = "\r\n"
			}
			side := func(lines [][]byte) {
				copyLines(lines)
				if k := len(lines); k > 0 && !bytes.HasSuffix(lines[k-1], []byte("\n")) {
					out = append(out, eol...)
				}
			}
			out = appendMarker(out, '<', l.Local, eol)
			side(m.local[r.Loc : r.Loc+r.NLoc])
			out = appendMarker(out, '=', "", eol)
			side(m.remote[r.Rem : r.Rem+r.NRem])
			out = appendMarker(out, '>', l.Remote, eol)
		case takeLocal:
			copyLines(m.local[at : r.Loc+r.NLoc])
		case takeRemote:
			copyLines(m.local[at:r.Loc])
			copyLines(m.remote[r.Rem : r.Rem+r.NRem])
		default:
			// Agreed: local's lines are copied with what follows.
			continue
		}
		at = r.Loc + r.NLoc
	}
	copyLines(m.local[at:])
	return out, n
}

func appendMarker(out []byte, c byte, label, eol string) []byte {
	for range markerLen {
		out = append(out, c)
	}
	if label != "" {
		out = append(out, ' ')
		out = append(out, label...)
	}
	return append(out, eol...)
}

// crlfMarkers reports whether the markers of conflict r end in "\r\n", as
// git decides it: base's first line must end in "\r\n", and the line before
// the conflict (or the first line) on each side must not end in a bare
// "\n"; a side that does not tell (empty, or one line without a newline)
// does not count against.
func (m *merger) crlfMarkers(r region) bool {
	return crlfAt(m.local, max(r.Loc-1, 0)) != no &&
		crlfAt(m.remote, max(r.Rem-1, 0)) != no &&
		crlfAt(m.base, 0) == yes
}

type tristate int8

const (
	no tristate = iota
	yes
	unknown
)

// crlfAt says whether line i ends in "\r\n". The last line, if it has no
// newline, goes by the line before it; a file that is empty or a single
// line without a newline does not tell.
func crlfAt(lines [][]byte, i int) tristate {
	endsCRLF := func(l []byte) tristate {
		if bytes.HasSuffix(l, []byte("\r\n")) {
			return yes
		}
		return no
	}
	switch {
	case len(lines) == 0:
		return unknown
	case i < len(lines)-1 || bytes.HasSuffix(lines[i], []byte("\n")):
		return endsCRLF(lines[i])
	case i == 0:
		return unknown
	default:
		return endsCRLF(lines[i-1])
	}
}
