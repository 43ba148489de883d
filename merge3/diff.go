package merge3

import "math"

// This file computes line diffs the way git's default diff (xdiff's Myers
// variant, with no options) does, because the merge's output depends on
// exactly which lines a diff pairs up. The steps, in order:
//
//  1. The common first and last lines of the two files are set aside.
//  2. Lines of one file that the other file does not contain at all are
//     marked changed and left out of the search; so are lines that occur
//     very often in the other file when they stand among such unmatched
//     lines (see prefilter).
//  3. The remaining lines are compared by Myers' bisection: find the middle
//     snake of a box, recurse on the two halves. Ties between equally short
//     paths are broken the way xdiff breaks them, and past an edit cost of
//     256 the search takes a good-enough split instead of the best one.
//  4. Each run of changed lines is slid as far down as equal lines allow,
//     then back up to line up with a run of changes in the other file if it
//     passed one (see slide).

// hunk says that lines a[A:A+NA] of the old file became b[B:B+NB] of the new.
type hunk struct {
	A, NA, B, NB int
}

// splitLines cuts b into lines, each keeping its '\n'. A last line without
// one is a line too, and differs from the same text with a newline.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	lines := make([][]byte, 0, n+1)
	start := 0
	for i, c := range b {
		if c == '\n' {
			lines = append(lines, b[start:i+1:i+1])
			start = i + 1
		}
	}
	if start < len(b) {
		lines = append(lines, b[start:len(b):len(b)])
	}
	return lines
}

// diffLines returns the hunks that turn a into b, in order.
func diffLines(a, b [][]byte) []hunk {
	ida, idb := intern(a, b)
	ca := make([]bool, len(ida))
	cb := make([]bool, len(idb))
	markChanges(ida, idb, ca, cb)
	slide(ida, ca, cb)
	slide(idb, cb, ca)
	return hunks(ca, cb)
}

// intern gives every distinct line of a and b a small integer.
func intern(a, b [][]byte) (ida, idb []int) {
	ids := make(map[string]int, len(a)+len(b))
	conv := func(lines [][]byte) []int {
		out := make([]int, len(lines))
		for i, l := range lines {
			id, ok := ids[string(l)]
			if !ok {
				id = len(ids)
				ids[string(l)] = id
			}
			out[i] = id
		}
		return out
	}
	return conv(a), conv(b)
}

// markChanges sets ca[i] for every line of a that is not kept in b, and cb[j]
// for every line of b that is not in a.
func markChanges(a, b []int, ca, cb []bool) {
	// Step 1: set aside the common head and tail.
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}

	// Step 2: how often each line occurs in the other file (whole files).
	nMax := 0
	for _, id := range a {
		nMax = max(nMax, id+1)
	}
	for _, id := range b {
		nMax = max(nMax, id+1)
	}
	inA := make([]int, nMax)
	inB := make([]int, nMax)
	for _, id := range a {
		inA[id]++
	}
	for _, id := range b {
		inB[id]++
	}
	ka, ia := prefilter(a, head, len(a)-tail, inB, ca)
	kb, ib := prefilter(b, head, len(b)-tail, inA, cb)

	// Step 3.
	s := &search{
		a: ka, b: kb, posA: ia, posB: ib, ca: ca, cb: cb,
		off: len(kb) + 1,
	}
	n := len(ka) + len(kb) + 3
	s.fwd = make([]int, n)
	s.bwd = make([]int, n)
	s.maxCost = max(minCostLimit, roughSqrt(n))
	s.compare(0, len(ka), 0, len(kb), false)
}

// Classes of a line for prefilter.
const (
	unmatched = iota // the other file lacks it
	matched          // the other file has it a few times
	frequent         // the other file has it at least roughly sqrt(len) times
)

const (
	frequentMax = 1024 // cap on the count that makes a line frequent
	scanWindow  = 100  // how far prefilter looks around a frequent line
)

// prefilter returns the lines of x[lo:hi] that enter the search (and their
// positions in x), marking the others changed. It keeps every line the
// other file has a few times, drops every line it lacks, and drops a
// frequent line when the runs of unmatched or frequent lines on both sides
// of it hold some unmatched lines and, with it, are more than a quarter
// unmatched.
func prefilter(x []int, lo, hi int, inOther []int, changed []bool) (kept, pos []int) {
	limit := min(roughSqrt(len(x)), frequentMax)
	class := make([]uint8, hi-lo)
	for i := lo; i < hi; i++ {
		switch n := inOther[x[i]]; {
		case n == 0:
			class[i-lo] = unmatched
		case n >= limit:
			class[i-lo] = frequent
		default:
			class[i-lo] = matched
		}
	}
	kept = make([]int, 0, hi-lo)
	pos = make([]int, 0, hi-lo)
	for i := range class {
		keep := class[i] == matched || class[i] == frequent && !amongUnmatched(class, i)
		if keep {
			kept = append(kept, x[lo+i])
			pos = append(pos, lo+i)
		} else {
			changed[lo+i] = true
		}
	}
	return kept, pos
}

// amongUnmatched reports whether the frequent line class[i] stands among
// enough unmatched lines to be dropped.
func amongUnmatched(class []uint8, i int) bool {
	first := max(0, i-scanWindow)
	last := min(len(class)-1, i+scanWindow)
	// Each count of frequent lines includes line i itself.
	unBefore, freqBefore := 0, 1
	for j := i - 1; j >= first && class[j] != matched; j-- {
		if class[j] == unmatched {
			unBefore++
		} else {
			freqBefore++
		}
	}
	if unBefore == 0 {
		return false
	}
	unAfter, freqAfter := 0, 1
	for j := i + 1; j <= last && class[j] != matched; j++ {
		if class[j] == unmatched {
			unAfter++
		} else {
			freqAfter++
		}
	}
	if unAfter == 0 {
		return false
	}
	un, freq := unBefore+unAfter, freqBefore+freqAfter
	return 4*freq < freq+un
}

// roughSqrt is the power of two xdiff uses as a square root: 2^k for the
// least k with 4^k > n.
func roughSqrt(n int) int {
	r := 1
	for ; n > 0; n >>= 2 {
		r <<= 1
	}
	return r
}

const (
	minCostLimit = 256 // edit cost past which a split may be approximate
	goodSnake    = 20  // a run of equal lines this long counts as a good one
)

// search runs Myers' bisection over the lines that passed prefilter.
type search struct {
	a, b       []int  // lines in the search
	posA, posB []int  // their indices in the whole files
	ca, cb     []bool // changed marks over the whole files
	// fwd[off+k] and bwd[off+k] hold, for diagonal k = i - j, how far the
	// forward and backward searches got (an index into a).
	fwd, bwd []int
	off      int
	maxCost  int
}

// compare marks the changes between a[lo1:hi1] and b[lo2:hi2]. With exact
// set, the split is always the middle of a shortest path.
func (s *search) compare(lo1, hi1, lo2, hi2 int, exact bool) {
	for lo1 < hi1 && lo2 < hi2 && s.a[lo1] == s.b[lo2] {
		lo1++
		lo2++
	}
	for lo1 < hi1 && lo2 < hi2 && s.a[hi1-1] == s.b[hi2-1] {
		hi1--
		hi2--
	}
	switch {
	case lo1 == hi1:
		for j := lo2; j < hi2; j++ {
			s.cb[s.posB[j]] = true
		}
	case lo2 == hi2:
		for i := lo1; i < hi1; i++ {
			s.ca[s.posA[i]] = true
		}
	default:
		x, y, exactLo, exactHi := s.split(lo1, hi1, lo2, hi2, exact)
		s.compare(lo1, x, lo2, y, exactLo)
		s.compare(x, hi1, y, hi2, exactHi)
	}
}

// split returns a point (x, y) on a short path through the box, and whether
// each of the two parts it cuts the box into must be searched exactly.
// Both boxes are non-empty and their ends differ, so no path is free.
func (s *search) split(lo1, hi1, lo2, hi2 int, exact bool) (x, y int, exactLo, exactHi bool) {
	a, b, fwd, bwd, o := s.a, s.b, s.fwd, s.bwd, s.off
	kMin, kMax := lo1-hi2, hi1-lo2 // the diagonals the box spans
	fMid, bMid := lo1-lo2, hi1-hi2 // where each search starts
	odd := (fMid-bMid)&1 != 0
	fLo, fHi, bLo, bHi := fMid, fMid, bMid, bMid
	fwd[o+fMid] = lo1
	bwd[o+bMid] = hi1

	for cost := 1; ; cost++ {
		snake := false

		// Forward: widen the band of diagonals by one each way, or narrow
		// it where it meets the box's edge (the band keeps its parity),
		// with a sentinel just outside.
		if fLo > kMin {
			fLo--
			fwd[o+fLo-1] = -1
		} else {
			fLo++
		}
		if fHi < kMax {
			fHi++
			fwd[o+fHi+1] = -1
		} else {
			fHi--
		}
		for k := fHi; k >= fLo; k -= 2 {
			var i int
			if fwd[o+k-1] >= fwd[o+k+1] {
				i = fwd[o+k-1] + 1
			} else {
				i = fwd[o+k+1]
			}
			from := i
			j := i - k
			for i < hi1 && j < hi2 && a[i] == b[j] {
				i++
				j++
			}
			if i-from > goodSnake {
				snake = true
			}
			fwd[o+k] = i
			if odd && bLo <= k && k <= bHi && bwd[o+k] <= i {
				return i, j, true, true
			}
		}

		// Backward, the same from the box's far corner.
		if bLo > kMin {
			bLo--
			bwd[o+bLo-1] = math.MaxInt
		} else {
			bLo++
		}
		if bHi < kMax {
			bHi++
			bwd[o+bHi+1] = math.MaxInt
		} else {
			bHi--
		}
		for k := bHi; k >= bLo; k -= 2 {
			var i int
			if bwd[o+k-1] < bwd[o+k+1] {
				i = bwd[o+k-1]
			} else {
				i = bwd[o+k+1] - 1
			}
			from := i
			j := i - k
			for i > lo1 && j > lo2 && a[i-1] == b[j-1] {
				i--
				j--
			}
			if from-i > goodSnake {
				snake = true
			}
			bwd[o+k] = i
			if !odd && fLo <= k && k <= fHi && i <= fwd[o+k] {
				return i, j, true, true
			}
		}

		if exact {
			continue
		}

		// Past minCostLimit, after a long run of equal lines, settle for a
		// diagonal that got far for its cost and ends a good snake.
		if snake && cost > minCostLimit {
			best := 0
			for k := fHi; k >= fLo; k -= 2 {
				i := fwd[o+k]
				j := i - k
				v := (i - lo1) + (j - lo2) - abs(k-fMid)
				if v > 4*cost && v > best &&
					lo1+goodSnake <= i && i < hi1 && lo2+goodSnake <= j && j < hi2 &&
					equalRun(a[i-goodSnake:i], b[j-goodSnake:j]) {
					best, x, y = v, i, j
				}
			}
			if best > 0 {
				return x, y, true, false
			}
			for k := bHi; k >= bLo; k -= 2 {
				i := bwd[o+k]
				j := i - k
				v := (hi1 - i) + (hi2 - j) - abs(k-bMid)
				if v > 4*cost && v > best &&
					lo1 < i && i <= hi1-goodSnake && lo2 < j && j <= hi2-goodSnake &&
					equalRun(a[i:i+goodSnake], b[j:j+goodSnake]) {
					best, x, y = v, i, j
				}
			}
			if best > 0 {
				return x, y, false, true
			}
		}

		// Too expensive: take whichever search got furthest from its start.
		if cost >= s.maxCost {
			fBest, fX := -1, -1
			for k := fHi; k >= fLo; k -= 2 {
				i := min(fwd[o+k], hi1)
				j := i - k
				if j > hi2 {
					i, j = hi2+k, hi2
				}
				if i+j > fBest {
					fBest, fX = i+j, i
				}
			}
			bBest, bX := math.MaxInt, math.MaxInt
			for k := bHi; k >= bLo; k -= 2 {
				i := max(lo1, bwd[o+k])
				j := i - k
				if j < lo2 {
					i, j = lo2+k, lo2
				}
				if i+j < bBest {
					bBest, bX = i+j, i
				}
			}
			if (hi1+hi2)-bBest < fBest-(lo1+lo2) {
				return fX, fBest - fX, true, false
			}
			return bX, bBest - bX, false, true
		}
	}
}

func equalRun(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// A group is a run of changed lines x[start:end] (possibly empty) between
// two unchanged ones. Both files have as many unchanged lines, so their
// groups pair up in order.
type group struct{ start, end int }

func firstGroup(c []bool) group {
	g := group{}
	for g.end < len(c) && c[g.end] {
		g.end++
	}
	return g
}

// next moves g to the following group; false at the end of the file.
func (g *group) next(c []bool) bool {
	if g.end == len(c) {
		return false
	}
	g.start = g.end + 1
	g.end = g.start
	for g.end < len(c) && c[g.end] {
		g.end++
	}
	return true
}

// prev moves g to the preceding group; false at the start of the file.
func (g *group) prev(c []bool) bool {
	if g.start == 0 {
		return false
	}
	g.end = g.start - 1
	g.start = g.end
	for g.start > 0 && c[g.start-1] {
		g.start--
	}
	return true
}

// down shifts g one line down if the line after it equals its first line,
// joining a group it runs into.
func (g *group) down(x []int, c []bool) bool {
	if g.end == len(c) || x[g.start] != x[g.end] {
		return false
	}
	c[g.start] = false
	c[g.end] = true
	g.start++
	g.end++
	for g.end < len(c) && c[g.end] {
		g.end++
	}
	return true
}

// up shifts g one line up if the line before it equals its last line,
// joining a group it runs into.
func (g *group) up(x []int, c []bool) bool {
	if g.start == 0 || x[g.start-1] != x[g.end-1] {
		return false
	}
	g.start--
	g.end--
	c[g.start] = true
	c[g.end] = false
	for g.start > 0 && c[g.start-1] {
		g.start--
	}
	return true
}

// slide moves each group of changed lines of x (marks cx; cy marks the
// other file) as low as it goes, joining groups it meets, and then back up
// to the lowest place where it lines up with a non-empty group of the other
// file, if it passed one.
func slide(x []int, cx, cy []bool) {
	g, o := firstGroup(cx), firstGroup(cy)
	for {
		if g.end > g.start {
			var top, aligned int
			for {
				size := g.end - g.start
				aligned = -1
				for g.up(x, cx) {
					o.prev(cy)
				}
				top = g.end
				if o.end > o.start {
					aligned = g.end
				}
				for g.down(x, cx) {
					o.next(cy)
					if o.end > o.start {
						aligned = g.end
					}
				}
				if g.end-g.start == size {
					break
				}
			}
			if g.end != top && aligned != -1 {
				for o.end == o.start {
					g.up(x, cx)
					o.prev(cy)
				}
			}
		}
		if !g.next(cx) {
			return
		}
		o.next(cy)
	}
}

// hunks lists the runs of changed lines, pairing the unchanged lines of
// both files in order.
func hunks(ca, cb []bool) []hunk {
	var hs []hunk
	i, j := 0, 0
	for i < len(ca) || j < len(cb) {
		if (i < len(ca) && ca[i]) || (j < len(cb) && cb[j]) {
			h := hunk{A: i, B: j}
			for i < len(ca) && ca[i] {
				i++
			}
			for j < len(cb) && cb[j] {
				j++
			}
			h.NA, h.NB = i-h.A, j-h.B
			hs = append(hs, h)
			continue
		}
		i++
		j++
	}
	return hs
}
