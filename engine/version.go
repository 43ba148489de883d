package engine

import (
	"fmt"
	"io"
	"os"

	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// ReadVersion reads the version e of the file at path on side s, where the
// side holds it (the remote one without going through the fetch cache),
// checked to be that version: its size, and its hash when the scan gave
// one. A file that changed since the scan fails with ErrChanged; one larger
// than limit bytes is not read.
func (p *Pair) ReadVersion(s Side, path string, e tree.Entry, limit int64) ([]byte, error) {
	if e.Kind != tree.File {
		return nil, fmt.Errorf("%s: not a file", QuotePath(path))
	}
	if e.Size > limit {
		return nil, fmt.Errorf("%s: larger than %s", QuotePath(path), HumanBytes(limit))
	}
	r := p.Local
	if s == RemoteSide {
		r = p.remote()
	}
	f, err := r.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, e.Size+1))
	if err != nil {
		return nil, err
	}
	return data, checkVersion(path, e, data)
}

// ReadFetched reads the remote version e of path from the fetch cache,
// fetching it first if it is not there (see Fetch): a mount's diff reads
// what its view shows, and downloads nothing twice.
func (p *Pair) ReadFetched(path string, e tree.Entry, limit int64) ([]byte, error) {
	if e.Size > limit {
		return nil, fmt.Errorf("%s: larger than %s", QuotePath(path), HumanBytes(limit))
	}
	cache, err := p.Fetch(path, e)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(cache)
	if err != nil {
		return nil, err
	}
	return data, checkVersion(path, e, data)
}

// checkVersion checks that data is the version e of path.
func checkVersion(path string, e tree.Entry, data []byte) error {
	if int64(len(data)) != e.Size || (!e.Hash.IsZero() && tree.Hash(blake3.Sum256(data)) != e.Hash) {
		return fmt.Errorf("%s: %w", QuotePath(path), ErrChanged)
	}
	return nil
}
