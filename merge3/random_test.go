package merge3

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomAlphabet is few distinct lines, so that diffs have many equally
// short alignments to choose from, and lines without letters or digits.
var randomAlphabet = []string{"a\n", "b\n", "c\n", "d\n", "x\n", "\n", "{\n", "}\n", "a\r\n", "}"}

func randomLines(r *rand.Rand, n int) []string {
	ls := make([]string, n)
	for i := range ls {
		ls[i] = randomAlphabet[r.IntN(len(randomAlphabet))]
	}
	return ls
}

// randomEdit applies fewer than edits random replacements, insertions and
// deletions of one to three lines to base.
func randomEdit(r *rand.Rand, base []string, edits int) []string {
	ls := append([]string(nil), base...)
	for range r.IntN(edits) {
		at := r.IntN(len(ls) + 1)
		n := 1 + r.IntN(3)
		switch r.IntN(3) {
		case 0: // insert
			ls = append(ls[:at], append(randomLines(r, n), ls[at:]...)...)
		case 1: // delete
			ls = append(ls[:at], ls[min(at+n, len(ls)):]...)
		case 2: // replace
			end := min(at+n, len(ls))
			ls = append(ls[:at], append(randomLines(r, end-at+r.IntN(2)), ls[end:]...)...)
		}
	}
	return ls
}

// randomCase returns three versions as lines, base shorter than size and
// each side fewer than edits edits away from it; the last line of each may
// lack its newline.
func randomCase(r *rand.Rand, size, edits int) (base, local, remote []string) {
	base = randomLines(r, r.IntN(size))
	local = randomEdit(r, base, edits)
	switch r.IntN(10) {
	case 0:
		remote = append([]string(nil), local...) // the same change
	case 1:
		remote = randomEdit(r, local, edits) // the same change and more
	default:
		remote = randomEdit(r, base, edits)
	}
	for _, v := range [][]string{base, local, remote} {
		if len(v) > 0 && r.IntN(5) == 0 {
			v[len(v)-1] = strings.TrimSuffix(v[len(v)-1], "\n")
		}
	}
	return base, local, remote
}

// codeLike returns three versions of a file that is mostly blank lines and
// braces, where each side rewrites a few blocks with mostly new lines: the
// case where the diff leaves out of its search the blank lines and braces
// found among new lines (see prefilter).
func codeLike(r *rand.Rand, fresh *int) (base, local, remote []string) {
	common := []string{"\n", "}\n", "\t}\n"}
	line := func(pNew int) string {
		if r.IntN(100) < pNew {
			*fresh++
			return fmt.Sprintf("line %d\n", *fresh)
		}
		return common[r.IntN(len(common))]
	}
	base = make([]string, 20+r.IntN(100))
	for i := range base {
		base[i] = line(30)
	}
	side := func() []string {
		ls := append([]string(nil), base...)
		for range 1 + r.IntN(3) {
			at := r.IntN(len(ls))
			end := min(len(ls), at+r.IntN(12))
			block := make([]string, r.IntN(16))
			for i := range block {
				block[i] = line(80)
			}
			ls = append(ls[:at], append(block, ls[end:]...)...)
		}
		return ls
	}
	return base, side(), side()
}

// TestMergeRandomAgainstGit compares Merge with git merge-file on random
// edits: of small files and then longer ones over few distinct lines, where
// alignments are most often ambiguous, and of code-like files. Every output
// must be identical, byte for byte.
func TestMergeRandomAgainstGit(t *testing.T) {
	git := needGit(t)
	small, long, code := 600, 150, 150
	if testing.Short() {
		small, long, code = 100, 20, 20
	}
	r := rand.New(rand.NewPCG(3, 3))
	fresh := 0
	clean, conflicted, mismatches := 0, 0, 0
	for i := range small + long + code {
		var base, local, remote []string
		switch {
		case i < small:
			base, local, remote = randomCase(r, 13, 4)
		case i < small+long:
			base, local, remote = randomCase(r, 90, 12)
		default:
			base, local, remote = codeLike(r, &fresh)
		}
		if ok, _ := agrees(t, git, base, local, remote); !ok {
			if mismatches == 0 {
				base, local, remote = shrink(t, git, base, local, remote)
				_, msg := agrees(t, git, base, local, remote)
				t.Errorf("case %d: merge differs from git merge-file (shrunk):\n%s", i, msg)
			}
			mismatches++
			continue
		}
		got, _ := Merge(join(base), join(local), join(remote), labels)
		if got.Conflicts == 0 {
			clean++
		} else {
			conflicted++
		}
	}
	t.Logf("%d random cases: %d clean and %d with conflicts agree with git, %d differ", small+long+code, clean, conflicted, mismatches)
}

// agrees reports whether Merge and git merge the three versions alike, and
// if not, how they differ.
func agrees(t *testing.T, git *gitMerger, base, local, remote []string) (bool, string) {
	t.Helper()
	b, l, rm := join(base), join(local), join(remote)
	got, err := Merge(b, l, rm, labels)
	if err != nil {
		t.Fatal(err)
	}
	want, status := git.merge(t, b, l, rm, labels)
	if bytes.Equal(got.Merged, want) && min(got.Conflicts, 127) == status {
		return true, ""
	}
	return false, mismatch(string(b), string(l), string(rm), got, want, status)
}

// shrink removes lines from the three versions while Merge and git still
// differ, to report a small case.
func shrink(t *testing.T, git *gitMerger, base, local, remote []string) ([]string, []string, []string) {
	t.Helper()
	vs := [3][]string{base, local, remote}
	for changed := true; changed; {
		changed = false
		for v := range vs {
			for i := 0; i < len(vs[v]); i++ {
				try := vs
				try[v] = append(append([]string(nil), vs[v][:i]...), vs[v][i+1:]...)
				if ok, _ := agrees(t, git, try[0], try[1], try[2]); !ok {
					vs = try
					changed = true
					i--
				}
			}
		}
	}
	return vs[0], vs[1], vs[2]
}

func join(ls []string) []byte { return []byte(strings.Join(ls, "")) }

// TestMergeLargeAgainstGit compares Merge with git merge-file on long files
// with many changes, where the diff's edit cost passes the limits past
// which git's diff settles for good-enough alignments: the first cases take
// the cost limit's split, the two of 35,000 lines (long enough for a limit
// above 256) also the splits after a long run of equal lines.
func TestMergeLargeAgainstGit(t *testing.T) {
	git := needGit(t)
	r := rand.New(rand.NewPCG(5, 8))
	for i := range 6 {
		words := 40 + 400*(i%3) // few distinct lines repeat a lot
		size := 3000 + r.IntN(2000)
		if i >= 4 {
			if testing.Short() {
				break
			}
			words, size = 5000, 35000
		}
		line := func() string { return fmt.Sprintf("line %d\n", r.IntN(words)) }
		base := make([]string, size)
		for j := range base {
			base[j] = line()
		}
		side := func() []string {
			var out []string
			for j := 0; j < len(base); {
				run := 1 + r.IntN(40)
				if r.IntN(3) == 0 { // rewrite a stretch
					for range r.IntN(2 * run) {
						out = append(out, line())
					}
				} else {
					out = append(out, base[j:min(j+run, len(base))]...)
				}
				j += run
			}
			return out
		}
		local, remote := side(), side()
		b, l, rm := join(base), join(local), join(remote)
		got, err := Merge(b, l, rm, labels)
		if err != nil {
			t.Fatal(err)
		}
		want, status := git.merge(t, b, l, rm, labels)
		if !bytes.Equal(got.Merged, want) || min(got.Conflicts, 127) != status {
			t.Errorf("large case %d: %d conflicts, git %d; outputs %s", i, got.Conflicts, status, whereDiffer(got.Merged, want))
		}
	}
}

// whereDiffer shows where two long texts part.
func whereDiffer(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if i == len(a) && i == len(b) {
		return "equal"
	}
	from := max(0, i-60)
	return fmt.Sprintf("part at byte %d:\nmerge3 %q\ngit    %q", i, a[from:min(len(a), i+60)], b[from:min(len(b), i+60)])
}
