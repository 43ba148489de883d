package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// This file holds what a mount needs from a pair besides scan and apply:
// moving a path's base, fetching remote versions into a local cache and
// keeping local versions in the backup area. Like the rest of Pair, these
// methods are not safe for concurrent use, except Fetch, FetchStream and
// HashBases, which a mount calls without holding the pair (they do remote
// I/O; see fetch.go for the first two).

// BaseChange is one move of a base.
type BaseChange = tree.BaseChange

// SetBases moves the bases of paths at once, durably, keeping what the
// journal caches about each side (an Entry of kind tree.Absent clears a
// base). A resolution made in the view is nothing but such moves plus local
// operations, so it survives restarts.
//
// A remote file version left unhashed by a lazy scan is hashed first (a
// remote read): call HashBases beforehand, without holding the pair, to
// keep that remote I/O out of SetBases.
func (p *Pair) SetBases(cs []BaseChange) error {
	if err := p.HashBases(cs); err != nil {
		return err
	}
	b := p.db.NewBatch()
	for _, c := range cs {
		rec, _, err := p.db.Get(c.Path)
		if err != nil {
			b.Cancel()
			return fmt.Errorf("journal: %w", err)
		}
		rec.Base = c.Entry
		if rec == (journal.Record{}) {
			err = b.Delete(c.Path)
		} else {
			err = b.Put(c.Path, rec)
		}
		if err != nil {
			b.Cancel()
			return fmt.Errorf("journal: set base of %s: %w", c.Path, err)
		}
	}
	err := b.Flush()
	if err == nil {
		err = p.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("journal: set bases: %w", err)
	}
	return nil
}

// HashBases fills in, in place, the hash of every remote file version of cs
// that a lazy scan left unhashed: a base must say what content it stands
// for. It may run while another goroutine uses the pair.
func (p *Pair) HashBases(cs []BaseChange) error {
	for i := range cs {
		if err := p.hashRemoteEntry(&cs[i]); err != nil {
			return err
		}
	}
	return nil
}

// hashRemoteEntry fills in the hash of one remote file version.
func (p *Pair) hashRemoteEntry(c *BaseChange) error {
	e := &c.Entry
	if e.Kind != tree.File || !e.Hash.IsZero() {
		return nil
	}
	if s, ok := p.LastRemote(c.Path); ok && !s.Entry.Hash.IsZero() && s.Entry.Size == e.Size && s.Entry.MtimeNs == e.MtimeNs {
		e.Hash = s.Entry.Hash
		return nil
	}
	h, fp, err := replica.HashFile(p.remote(), c.Path)
	if err != nil {
		return fmt.Errorf("hash remote %s: %w", c.Path, err)
	}
	if fp.Size != e.Size || fp.MtimeNs != e.MtimeNs {
		// the remote changed since the view showed it: the base stands for
		// a version no side holds, so the change shows as a conflict
		e.Hash = unknownVersion
		return nil
	}
	e.Hash = h
	p.learnRemote(c.Path, h)
	return nil
}

// unknownVersion stands for the hash of a version that was shown but not
// hashed before it changed.
var unknownVersion = tree.Hash{0: 0xff, 31: 0xff}

// CacheDir is where remote versions shown by a mount are kept, named by
// content hash.
func (p *Pair) CacheDir() string { return filepath.Join(p.db.Dir(), "cache") }

// DefaultCacheLimit bounds the fetch cache of a pair (bytes).
const DefaultCacheLimit = 1 << 30

// pruneCache removes the least recently used files of the fetch cache
// until it holds at most the pair's cache limit, keeping keep (the file
// just fetched). A removed file that the view still has open stays
// readable through its descriptor.
func (p *Pair) pruneCache(keep string) {
	limit := p.opt.CacheLimit
	if limit == 0 {
		limit = DefaultCacheLimit
	}
	des, err := os.ReadDir(p.CacheDir())
	if err != nil {
		return
	}
	type cached struct {
		path  string
		size  int64
		mtime time.Time
	}
	var files []cached
	var total int64
	for _, de := range des {
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() || strings.HasPrefix(de.Name(), tree.TempPrefix) {
			continue
		}
		files = append(files, cached{filepath.Join(p.CacheDir(), de.Name()), fi.Size(), fi.ModTime()})
		total += fi.Size()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mtime.Before(files[j].mtime) })
	for _, f := range files {
		if total <= limit {
			return
		}
		if f.path == keep {
			continue
		}
		if os.Remove(f.path) == nil {
			total -= f.size
		}
	}
}

// BackupLocal moves a local path into the local backup area (a gesture in
// the view sets it aside).
func (p *Pair) BackupLocal(path string) error {
	return newTaggedArea(p.Local, time.Now(), FromView).keep(path, false)
}

// LastRemote returns the remote entry the latest scan saw at path.
func (p *Pair) LastRemote(path string) (tree.Scanned, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return lookupScan(p.last[RemoteSide], path)
}

// remote returns the remote replica, for the calls made without holding
// the pair.
func (p *Pair) remote() replica.Replica {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Remote
}
