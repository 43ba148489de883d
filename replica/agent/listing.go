package agent

import (
	"encoding/binary"
	"fmt"

	"github.com/myrrorfs/myrrorfs/tree"
)

// A listing batch (the Batch of a response to opList) is a sequence of
// groups, each the entries of one directory that fit in the batch:
//
//	group:  dir (str), count (u32), count records
//	record: name (str), kind (u8), mode (u32: st_mode), size (u64),
//	        mtime (u64: ns), ctime (u64: ns), inode (u64), then 0 and the
//	        symlink target (str, "" unless a symlink), or 1, an error class
//	        (u8) and message (str)
//
// Strings are a u32 length and bytes; numbers are big-endian. The agent
// never sends an empty group, nor two groups of the same directory in a
// row.

// listRecord is one entry of a listing.
type listRecord struct {
	Name    string
	Kind    tree.Kind
	Mode    uint32 // st_mode
	Size    int64
	MtimeNs int64
	CtimeNs int64
	Ino     uint64
	Target  string       // a symlink's target
	Err     *remoteError // non-nil: the entry could not be taken in
}

// Record statuses on the wire.
const (
	recordOK    byte = 0
	recordError byte = 1
)

// batchTarget is the size from which the agent sends a batch.
const batchTarget = 64 << 10

// listEncoder builds listing batches; the zero value is ready for use.
type listEncoder struct {
	e       encoder
	dir     string // directory of the open group
	countAt int    // offset of the open group's count
	count   uint32 // records in the open group; 0: no group is open
}

// add appends rec, an entry of directory dir.
func (l *listEncoder) add(dir string, rec *listRecord) {
	if l.count == 0 || dir != l.dir {
		l.closeGroup()
		l.e.str(dir)
		l.dir, l.countAt = dir, len(l.e.b)
		l.e.u32(0)
	}
	l.count++
	l.e.str(rec.Name)
	l.e.u8(byte(rec.Kind))
	l.e.u32(rec.Mode)
	l.e.u64(uint64(rec.Size))
	l.e.u64(uint64(rec.MtimeNs))
	l.e.u64(uint64(rec.CtimeNs))
	l.e.u64(rec.Ino)
	if rec.Err != nil {
		l.e.u8(recordError)
		l.e.u8(rec.Err.Class)
		l.e.str(rec.Err.Msg)
		return
	}
	l.e.u8(recordOK)
	l.e.str(rec.Target)
}

// closeGroup writes the open group's count.
func (l *listEncoder) closeGroup() {
	if l.count > 0 {
		binary.BigEndian.PutUint32(l.e.b[l.countAt:], l.count)
		l.count = 0
	}
}

// size is the size of the batch so far.
func (l *listEncoder) size() int { return len(l.e.b) }

// take returns the batch (nil if empty) and starts a new one.
func (l *listEncoder) take() []byte {
	l.closeGroup()
	b := l.e.b
	l.e.b = nil
	return b
}

// decodeListing calls fn for every record of batch b with its directory;
// it stops at fn's first error and returns it. A malformed batch (an empty
// group, an unknown kind or record status, a short read) is an error
// wrapping errBadMessage, possibly after some calls to fn. Names and
// directories are not checked here.
func decodeListing(b []byte, fn func(dir string, rec *listRecord) error) error {
	d := decoder{b: b}
	for len(d.b) > 0 && d.err == nil {
		dir, n := d.str(), d.u32()
		if d.err == nil && n == 0 {
			return fmt.Errorf("%w: empty group", errBadMessage)
		}
		for range n {
			rec, err := decodeRecord(&d)
			if err != nil {
				return err
			}
			if err := fn(dir, &rec); err != nil {
				return err
			}
		}
	}
	return d.end()
}

// decodeRecord takes one record from d.
func decodeRecord(d *decoder) (listRecord, error) {
	rec := listRecord{Name: d.str(), Kind: tree.Kind(d.u8()), Mode: d.u32(),
		Size: int64(d.u64()), MtimeNs: int64(d.u64()), CtimeNs: int64(d.u64()), Ino: d.u64()}
	switch status := d.u8(); {
	case d.err != nil:
	case rec.Kind > tree.Symlink:
		d.err = fmt.Errorf("%w: entry kind %d", errBadMessage, rec.Kind)
	case status == recordOK:
		rec.Target = d.str()
	case status == recordError:
		rec.Err = &remoteError{Class: d.u8(), Msg: d.str()}
	default:
		d.err = fmt.Errorf("%w: record status %d", errBadMessage, status)
	}
	return rec, d.err
}
