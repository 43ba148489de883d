// Package tree holds the values myrrorfs reasons about: entries of a tree,
// stat fingerprints, content hashes and relative paths. It does no I/O.
package tree

import (
	"encoding/hex"
	"errors"
	"strings"
)

// Kind is the type of an entry. Absent means "no entry at this path".
type Kind uint8

const (
	Absent Kind = iota
	File
	Dir
	Symlink
)

func (k Kind) String() string {
	switch k {
	case Absent:
		return "absent"
	case File:
		return "file"
	case Dir:
		return "dir"
	case Symlink:
		return "symlink"
	}
	return "unknown"
}

// KindOfMode is the kind of an st_mode (type bits as in stat(2)); Absent
// for anything but a file, a directory or a symlink.
func KindOfMode(mode uint32) Kind {
	switch mode & 0o170000 {
	case 0o100000:
		return File
	case 0o040000:
		return Dir
	case 0o120000:
		return Symlink
	}
	return Absent
}

// Hash is a BLAKE3-256 content hash. The zero Hash means "not known".
type Hash [32]byte

// IsZero reports whether h is the unknown hash.
func (h Hash) IsZero() bool { return h == Hash{} }

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Fingerprint is what stat says about a file. When a file's fingerprint is
// the one recorded with its hash, the file is taken as unchanged and is not
// hashed again. Fields a side cannot report (inode and ctime over SFTP) are 0.
type Fingerprint struct {
	Size    int64
	MtimeNs int64
	CtimeNs int64
	Ino     uint64
	Mode    uint32 // type and permission bits, as st_mode
}

// SameFile reports whether a file seen now with fingerprint seen is the
// one recorded with fingerprint known. A side that reports neither inode
// nor ctime (SFTP) reports whole seconds too: against a record made by a
// side that reports more (the agent), only size, mode and the mtime's
// second are compared, all that side can tell.
func SameFile(known, seen Fingerprint) bool {
	if known == seen {
		return true
	}
	if seen.Ino != 0 || seen.CtimeNs != 0 || seen.MtimeNs%1e9 != 0 {
		return false
	}
	sec := known.MtimeNs / 1e9
	if known.MtimeNs%1e9 < 0 {
		sec-- // before 1970: the second is the floor, as st_mtime's
	}
	return known.Size == seen.Size && known.Mode == seen.Mode && sec*1e9 == seen.MtimeNs
}

// Entry is the state of one path on one side, or the base both sides agree on.
type Entry struct {
	Kind    Kind
	Perm    uint32 // permission bits (0o7777)
	Size    int64  // files only
	MtimeNs int64  // files only; carried along, never compared
	Hash    Hash   // files only
	Target  string // symlinks only
}

// Exists reports whether e is an entry at all.
func (e Entry) Exists() bool { return e.Kind != Absent }

// Exec reports whether the owner's executable bit is set. It is the only
// permission bit that is compared and synced as a change.
func (e Entry) Exec() bool { return e.Perm&0o100 != 0 }

// Same reports whether a and b hold the same result: same type and, for
// files, same content and executable bit; for symlinks, the same target.
// Directories are compared by existence. Mtime is never compared.
func Same(a, b Entry) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case File:
		return a.Hash == b.Hash && a.Size == b.Size && a.Exec() == b.Exec()
	case Symlink:
		return a.Target == b.Target
	}
	return true
}

// SameContent reports whether a and b are files with the same bytes,
// whatever their permission bits.
func SameContent(a, b Entry) bool {
	return a.Kind == File && b.Kind == File && a.Hash == b.Hash && a.Size == b.Size
}

// Change is how a side's entry differs from base.
type Change uint8

const (
	Unchanged   Change = iota
	Added              // absent in base, present now
	Modified           // same kind, different content or exec bit
	Removed            // present in base, absent now
	TypeChanged        // present in both with different kinds
)

func (c Change) String() string {
	return [...]string{"unchanged", "added", "modified", "removed", "type-changed"}[c]
}

// Diff tells how cur differs from base.
func Diff(base, cur Entry) Change {
	switch {
	case !base.Exists() && !cur.Exists():
		return Unchanged
	case !base.Exists():
		return Added
	case !cur.Exists():
		return Removed
	case base.Kind != cur.Kind:
		return TypeChanged
	case Same(base, cur):
		return Unchanged
	}
	return Modified
}

// Scanned is one entry found by a scan, with the fingerprint it had.
type Scanned struct {
	Path  string
	Entry Entry
	FP    Fingerprint
}

// Cached is what was last seen of a path on one side: its stat fingerprint
// and the content hash computed for it. It is a hash cache: a file whose
// fingerprint still matches FP is not hashed again.
type Cached struct {
	FP   Fingerprint
	Hash Hash
}

// Record is everything the journal knows about one path: the base both
// sides agreed on, and what was last seen on each side.
type Record struct {
	Base          Entry  // Kind Absent: no base (never synced / not agreed)
	Local, Remote Cached // zero: nothing cached
}

// BaseChange moves the base of one path: a gesture in the view, or a
// resolution, is nothing but such moves plus local operations.
type BaseChange struct {
	Path  string
	Entry Entry // Kind Absent clears the base
}

// ---- paths ----
//
// A path is relative to a tree's root, uses '/' as separator, has no empty,
// "." or ".." component, and is "" for the root itself.

// ErrBadName is returned for a name or path that must never be acted on.
var ErrBadName = errors.New("invalid name")

// ValidName checks one path component: non-empty, not "." or "..", and
// without '/' or NUL.
func ValidName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return ErrBadName
	}
	return nil
}

// ValidPath checks a relative path ("" is the root), without allocating.
func ValidPath(p string) error {
	if p == "" {
		return nil
	}
	for {
		name, rest, more := strings.Cut(p, "/")
		if err := ValidName(name); err != nil {
			return err
		}
		if !more {
			return nil
		}
		p = rest
	}
}

// Join joins a directory path and a name.
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Parent returns the directory containing p ("" for top-level entries and the root).
func Parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Base returns the last component of p.
func Base(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// IsUnder reports whether p lies strictly inside directory dir.
func IsUnder(p, dir string) bool {
	if dir == "" {
		return p != ""
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && p[:len(dir)] == dir
}

// Compare orders paths so that a directory comes right before everything
// under it: it compares byte by byte with '/' sorting below every other byte.
// Scans, the journal and reconciliation all use this order.
func Compare(a, b string) int {
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// SortKey encodes p so that bytes.Compare of keys equals Compare of paths
// ('/' becomes a NUL byte, which never occurs in a name).
func SortKey(p string) []byte {
	k := []byte(p)
	for i, c := range k {
		if c == '/' {
			k[i] = 0
		}
	}
	return k
}

// CompareKey compares path p with the path of sort key k (see SortKey) as
// Compare does, without converting either.
func CompareKey(p string, k []byte) int {
	n := min(len(p), len(k))
	for i := 0; i < n; i++ {
		a, b := p[i], k[i]
		if a == '/' {
			a = 0
		}
		if a == b {
			continue
		}
		if a < b {
			return -1
		}
		return 1
	}
	switch {
	case len(p) < len(k):
		return -1
	case len(p) > len(k):
		return 1
	}
	return 0
}

// PathFromKey inverts SortKey, with a single allocation.
func PathFromKey(k []byte) string {
	var sb strings.Builder
	sb.Grow(len(k))
	for _, c := range k {
		if c == 0 {
			c = '/'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// Prefix of every name myrrorfs keeps inside a tree (temporaries, backups).
const InternalPrefix = ".myrrorfs"

// TempPrefix begins the name of every temporary file myrrorfs writes.
const TempPrefix = ".myrrorfs-tmp-"

// BackupDir is the directory, at the root of each side, that receives
// overwritten and deleted versions.
const BackupDir = ".myrrorfs-backup"

// MergedDir is the directory, at the root of the local side, where a mount
// keeps the content of the merges it shows as p.merged.
const MergedDir = ".myrrorfs-merged"

// InTrash reports whether p is, or lies in, a .Trash or .Trash-* folder at
// the root (where file managers put what they delete).
func InTrash(p string) bool {
	top := p
	if i := strings.IndexByte(p, '/'); i >= 0 {
		top = p[:i]
	}
	return top == ".Trash" || strings.HasPrefix(top, ".Trash-")
}

// Internal reports whether p is something myrrorfs keeps to itself and never
// syncs, shows or reports: any component named .myrrorfs*, or a .Trash-*
// folder at the root.
func Internal(p string) bool {
	if InTrash(p) {
		return true
	}
	for p != "" {
		name := p
		if i := strings.IndexByte(p, '/'); i >= 0 {
			name, p = p[:i], p[i+1:]
		} else {
			p = ""
		}
		if strings.HasPrefix(name, InternalPrefix) {
			return true
		}
	}
	return false
}
