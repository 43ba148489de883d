package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Side is what was last seen of a path on one side (see tree.Cached).
type Side = tree.Cached

// Record is everything the journal knows about one path (see tree.Record).
type Record = tree.Record

// recordVersion is the first byte of every encoded record.
const recordVersion = 1

// Flag bits of an encoded Side: which of its fields are stored.
const (
	sideSize = 1 << iota
	sideMtime
	sideCtime
	sideIno
	sideMode
	sideHash
	sideAll = sideSize | sideMtime | sideCtime | sideIno | sideMode | sideHash
)

// ErrCorrupt is wrapped by every DecodeRecord error.
var ErrCorrupt = errors.New("corrupt journal record")

// EncodeRecord appends the binary encoding of r to dst and returns the
// extended slice. The encoding is a version byte, then Base.Kind and, for an
// existing base, its Perm, Size and MtimeNs as varints, its Hash for files
// only and its Target for symlinks only; then each Side as a flag byte naming
// the fields that are non-zero, followed by those fields. A zero Side costs
// one byte. Fields the tree.Entry contract leaves unused for the base's kind
// (Hash of a non-file, Target of a non-symlink, everything of an absent base)
// are not stored, so they decode as zero.
func EncodeRecord(dst []byte, r Record) []byte {
	dst = append(dst, recordVersion)
	dst = appendEntry(dst, r.Base)
	dst = appendSide(dst, r.Local)
	return appendSide(dst, r.Remote)
}

func appendEntry(dst []byte, e tree.Entry) []byte {
	dst = append(dst, byte(e.Kind))
	if !e.Exists() {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(e.Perm))
	dst = binary.AppendVarint(dst, e.Size)
	dst = binary.AppendVarint(dst, e.MtimeNs)
	switch e.Kind {
	case tree.File:
		dst = append(dst, e.Hash[:]...)
	case tree.Symlink:
		dst = binary.AppendUvarint(dst, uint64(len(e.Target)))
		dst = append(dst, e.Target...)
	}
	return dst
}

func sideFlags(s Side) byte {
	var f byte
	if s.FP.Size != 0 {
		f |= sideSize
	}
	if s.FP.MtimeNs != 0 {
		f |= sideMtime
	}
	if s.FP.CtimeNs != 0 {
		f |= sideCtime
	}
	if s.FP.Ino != 0 {
		f |= sideIno
	}
	if s.FP.Mode != 0 {
		f |= sideMode
	}
	if !s.Hash.IsZero() {
		f |= sideHash
	}
	return f
}

func appendSide(dst []byte, s Side) []byte {
	f := sideFlags(s)
	dst = append(dst, f)
	if f&sideSize != 0 {
		dst = binary.AppendVarint(dst, s.FP.Size)
	}
	if f&sideMtime != 0 {
		dst = binary.AppendVarint(dst, s.FP.MtimeNs)
	}
	if f&sideCtime != 0 {
		dst = binary.AppendVarint(dst, s.FP.CtimeNs)
	}
	if f&sideIno != 0 {
		dst = binary.AppendUvarint(dst, s.FP.Ino)
	}
	if f&sideMode != 0 {
		dst = binary.AppendUvarint(dst, uint64(s.FP.Mode))
	}
	if f&sideHash != 0 {
		dst = append(dst, s.Hash[:]...)
	}
	return dst
}

// DecodeRecord decodes what EncodeRecord wrote. It never panics: truncated,
// oversized or otherwise malformed input (unknown version, kind or flag bits,
// overflowing varints, trailing bytes) yields an error wrapping ErrCorrupt.
func DecodeRecord(b []byte) (Record, error) {
	d := decoder{b: b}
	var r Record
	if v := d.byte("version"); d.err == nil && v != recordVersion {
		d.fail(fmt.Sprintf("unknown version %d", v))
	}
	r.Base = d.entry()
	r.Local = d.side()
	r.Remote = d.side()
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return Record{}, d.err
	}
	return r, nil
}

// decoder reads fields off b; after the first failure every read returns
// zero and err keeps the first cause.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated at " + what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string, max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint at " + what)
		return 0
	}
	if v > max {
		d.fail("out of range " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint at " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string, n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated at " + what)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) hash(what string) tree.Hash {
	var h tree.Hash
	copy(h[:], d.bytes(what, uint64(len(h))))
	return h
}

func (d *decoder) entry() tree.Entry {
	var e tree.Entry
	e.Kind = tree.Kind(d.byte("kind"))
	if d.err != nil || e.Kind == tree.Absent {
		return tree.Entry{}
	}
	if e.Kind > tree.Symlink {
		d.fail(fmt.Sprintf("unknown kind %d", e.Kind))
		return tree.Entry{}
	}
	e.Perm = uint32(d.uvarint("perm", math.MaxUint32))
	e.Size = d.varint("size")
	e.MtimeNs = d.varint("mtime")
	switch e.Kind {
	case tree.File:
		e.Hash = d.hash("hash")
	case tree.Symlink:
		n := d.uvarint("target length", math.MaxInt32)
		e.Target = string(d.bytes("target", n))
	}
	return e
}

func (d *decoder) side() Side {
	var s Side
	f := d.byte("side flags")
	if f&^sideAll != 0 {
		d.fail(fmt.Sprintf("unknown side flags %#x", f))
		return Side{}
	}
	if f&sideSize != 0 {
		s.FP.Size = d.varint("fingerprint size")
	}
	if f&sideMtime != 0 {
		s.FP.MtimeNs = d.varint("fingerprint mtime")
	}
	if f&sideCtime != 0 {
		s.FP.CtimeNs = d.varint("fingerprint ctime")
	}
	if f&sideIno != 0 {
		s.FP.Ino = d.uvarint("fingerprint inode", math.MaxUint64)
	}
	if f&sideMode != 0 {
		s.FP.Mode = uint32(d.uvarint("fingerprint mode", math.MaxUint32))
	}
	if f&sideHash != 0 {
		s.Hash = d.hash("side hash")
	}
	return s
}
