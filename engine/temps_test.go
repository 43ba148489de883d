package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Two pairs sharing one LOCAL never remove each other's temporaries, even
// while one is being written; each removes its own stale ones.
func TestSharedLocalKeepsOtherPairsTemps(t *testing.T) {
	dir := t.TempDir()
	l, r1, r2 := filepath.Join(dir, "l"), filepath.Join(dir, "r1"), filepath.Join(dir, "r2")
	for _, d := range []string{l, r1, r2} {
		os.Mkdir(d, 0o755)
	}
	writeTree(t, l, snapshot{"a": "f:1:-"})
	s1, s2 := filepath.Join(dir, "s1"), filepath.Join(dir, "s2")

	pb := openTest(t, l, r2, s2)
	if _, err := pb.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	tmp, w, err := pb.Local.CreateTemp("", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("in flight"))
	for range 2 {
		syncPair(t, l, r1, s1)
		if _, err := os.Lstat(filepath.Join(l, tmp)); err != nil {
			t.Fatalf("the other pair's temporary %s was removed: %v", tmp, err)
		}
	}
	if len(findTemps(t, r1)) != 0 {
		t.Fatalf("temporaries synced to r1: %v", findTemps(t, r1))
	}
	w.Close()
	pb.Close()
	// the pair that made it removes it as a stale temporary on its next run
	syncPair(t, l, r2, s2)
	if _, err := os.Lstat(filepath.Join(l, tmp)); err == nil {
		t.Fatalf("stale temporary %s of its own pair not removed", tmp)
	}
	if got := readTree(t, r2); got["a"] != "f:1:-" {
		t.Fatalf("r2 = %v", got)
	}
}

// changing makes Hash of one path fail as if the file changed while it was
// read, the first fails times (or always when fails < 0).
type changing struct {
	replica.Replica
	path  string
	fails int
	calls int
}

func (c *changing) Hash(p string) (tree.Hash, tree.Fingerprint, error) {
	if p == c.path {
		c.calls++
		if c.fails < 0 || c.calls <= c.fails {
			return tree.Hash{}, tree.Fingerprint{}, fmt.Errorf("hash %s: %w", p, replica.ErrChangedWhileReading)
		}
	}
	return c.Replica.(replica.Hasher).Hash(p)
}

// A file that keeps changing while it is hashed is a problem of that path,
// never an empty side; one that settles is retried and synced.
func TestFileChangingWhileHashed(t *testing.T) {
	for _, fails := range []int{-1, 1} {
		t.Run(fmt.Sprint(fails), func(t *testing.T) {
			l, r, state := newPairDirs(t, snapshot{"f": "f:1:-"})
			writeEntry(t, filepath.Join(l, "f"), "f:2:-")
			p := openTest(t, l, r, state)
			p.Local = &changing{Replica: p.Local, path: "f", fails: fails}
			plan, err := p.Scan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.SafetyCheck(); err != nil {
				t.Fatalf("SafetyCheck: %v", err)
			}
			var probs []string
			for _, pr := range plan.Problems {
				probs = append(probs, pr.Error())
			}
			if fails < 0 {
				if len(probs) != 1 || !strings.Contains(probs[0], "local f: ") || !strings.Contains(probs[0], "changed while being read") {
					t.Fatalf("problems = %q", probs)
				}
				return
			}
			if len(probs) != 0 {
				t.Fatalf("problems = %q", probs)
			}
			res, err := p.Apply(context.Background(), plan, ApplyOptions{})
			if err != nil || res.Failed() != 0 {
				t.Fatalf("apply: %v %+v", err, res)
			}
			if got := readTree(t, r); got["f"] != "f:2:-" {
				t.Fatalf("remote = %v", got)
			}
		})
	}
}

func TestQuotePath(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"sp ace/é":   "sp ace/é",
		"new\nline":  `"new\nline"`,
		"esc\x1b[2J": `"esc\x1b[2J"`,
		"bad\xff":    `"bad\xff"`,
		`"q`:         `"\"q"`,
		"rlo\u202e":  `"rlo\u202e"`,
	} {
		if got := QuotePath(in); got != want {
			t.Errorf("QuotePath(%q) = %s, want %s", in, got, want)
		}
	}
	if got := EscapeControls("open a\x1bb: denied"); got != `open a\x1bb: denied` {
		t.Errorf("EscapeControls = %s", got)
	}
}
