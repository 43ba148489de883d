package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrrorfs/myrrorfs/journal"
)

// Recorded is a pair as the state directory records it: every pair opened
// with that state directory leaves its identity there (see journal.Open),
// so that a path in LOCAL leads to its pair (`myrrorfs resolve PATH`).
type Recorded struct {
	Local  string // the LOCAL root, absolute and symlink-free when opened
	Remote Spec
}

// Args returns the LOCAL and REMOTE arguments that open the pair.
func (r Recorded) Args() (string, string) { return r.Local, r.Remote.String() }

// RecordedPairs lists the pairs recorded under the state directory of opt
// (only opt.StateDir is used). A record that does not read as a pair (an
// identity whose LOCAL is not an absolute clean path, or whose REMOTE does
// not parse back to itself) is skipped: the state directory is not trusted.
func RecordedPairs(opt Options) ([]Recorded, error) {
	ids, err := journal.Identities(stateDir(opt))
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", stateDir(opt), unwrapPathErr(err))
	}
	var out []Recorded
	for _, id := range ids {
		l, r, ok := strings.Cut(id, "\x00")
		if !ok || !filepath.IsAbs(l) || filepath.Clean(l) != l {
			continue
		}
		rs, err := ParseSpec(r)
		if err != nil || rs.String() != r || (!rs.IsRemote() && (!filepath.IsAbs(r) || filepath.Clean(r) != r)) {
			continue
		}
		out = append(out, Recorded{Local: l, Remote: rs})
	}
	return out, nil
}

// PairsHolding returns the pairs whose LOCAL holds path (absolute and
// symlink-free, see CanonicalPath), or is it: of those, the ones with the
// longest LOCAL (several when pairs share their LOCAL).
func PairsHolding(pairs []Recorded, path string) []Recorded {
	var best []Recorded
	for _, r := range pairs {
		if r.Local != path && !within(path, r.Local) {
			continue
		}
		switch {
		case len(best) == 0 || len(r.Local) > len(best[0].Local):
			best = []Recorded{r}
		case len(r.Local) == len(best[0].Local):
			best = append(best, r)
		}
	}
	return best
}

// CanonicalPath returns p made absolute with the symlinks of its parent
// directories resolved, as the roots of a pair are, so that it can be
// compared with them. Its last component is never followed (a conflict on
// a symlink names the link), and it need not exist (a conflict on a path
// deleted here): the parents that do not exist are taken as written.
func CanonicalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if abs == "/" {
		return abs, nil
	}
	dir, rest := filepath.Dir(abs), filepath.Base(abs)
	for {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return filepath.Join(real, rest), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", p, unwrapPathErr(err))
		}
		if dir == "/" {
			return abs, nil
		}
		dir, rest = filepath.Dir(dir), filepath.Join(filepath.Base(dir), rest)
	}
}
