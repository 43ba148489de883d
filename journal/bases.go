package journal

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

// Bases is a pair's store of base contents: the bytes of small files as
// they were when last synced, named by their content hash (so stored once
// however many paths hold them), for three-way merges. It is a cache: a
// missing or damaged entry only means that a conflict is not merged. What
// it reads is checked against its name, since the state directory is not
// trusted. Its methods are safe for concurrent use.
type Bases struct {
	dir   string
	limit int64 // total size kept by Prune
}

// DefaultBasesLimit bounds the total size of a pair's base store.
const DefaultBasesLimit = 256 << 20

// Bases returns the base store kept in the pair's directory, holding at
// most DefaultBasesLimit bytes after each Prune.
func (db *DB) Bases() *Bases {
	return &Bases{dir: filepath.Join(db.dir, "bases"), limit: DefaultBasesLimit}
}

func (b *Bases) path(h tree.Hash) string { return filepath.Join(b.dir, h.String()) }

// Has reports whether the content of hash h is stored.
func (b *Bases) Has(h tree.Hash) bool {
	fi, err := os.Lstat(b.path(h))
	return err == nil && fi.Mode().IsRegular()
}

// Put stores data as the content of hash h, which it must have.
func (b *Bases) Put(h tree.Hash, data []byte) error {
	if tree.Hash(blake3.Sum256(data)) != h {
		return fmt.Errorf("base store: content does not have hash %s", h)
	}
	if b.Has(h) {
		now := time.Now()
		os.Chtimes(b.path(h), now, now) // used again: pruned last
		return nil
	}
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return fmt.Errorf("base store: %w", err)
	}
	f, err := os.CreateTemp(b.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("base store: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), b.path(h))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("base store: %w", err)
	}
	return nil
}

// Get returns the stored content of hash h, if it is there, is a regular
// file of at most max bytes and has that hash (a damaged entry is removed).
func (b *Bases) Get(h tree.Hash, max int64) ([]byte, bool) {
	f, err := os.OpenFile(b.path(h), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > max {
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil || int64(len(data)) > max {
		return nil, false
	}
	if tree.Hash(blake3.Sum256(data)) != h {
		os.Remove(b.path(h))
		return nil, false
	}
	return data, true
}

// Prune removes the stored contents that referenced says no path's base
// holds any more, and then, while the store holds more than its limit, the
// ones used least recently. It also removes what is not a stored content
// (leftover temporaries, foreign names).
func (b *Bases) Prune(referenced func(tree.Hash) bool) error {
	des, err := os.ReadDir(b.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("base store: %w", err)
	}
	type kept struct {
		name string
		size int64
		used time.Time
	}
	var keep []kept
	var total int64
	for _, de := range des {
		name := de.Name()
		if name == prunedStamp {
			continue
		}
		h, ok := parseHash(name)
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if !ok || !fi.Mode().IsRegular() || !referenced(h) {
			if !strings.HasPrefix(name, ".tmp-") || time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(filepath.Join(b.dir, name))
			}
			continue
		}
		keep = append(keep, kept{name, fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].used.Before(keep[j].used) })
	for _, k := range keep {
		if total <= b.limit {
			break
		}
		if os.Remove(filepath.Join(b.dir, k.name)) == nil {
			total -= k.size
		}
	}
	return os.WriteFile(filepath.Join(b.dir, prunedStamp), nil, 0o600)
}

// prunedStamp is the file whose mtime says when the store was last pruned.
const prunedStamp = ".pruned"

// PruneDue reports whether the store holds something and was not pruned
// within the last interval.
func (b *Bases) PruneDue(interval time.Duration) bool {
	if _, err := os.Stat(b.dir); err != nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(b.dir, prunedStamp))
	return err != nil || time.Since(fi.ModTime()) > interval
}

// parseHash reads a stored content's name.
func parseHash(name string) (tree.Hash, bool) {
	var h tree.Hash
	if len(name) != 2*len(h) {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(name)); err != nil || h.String() != name {
		return h, false
	}
	return h, true
}
