package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Operations a request asks for.
const (
	opHash   byte = 1 // hash file Path in place
	opCopy   byte = 2 // copy file Path into a new temporary in directory Dir
	opRename byte = 3 // rename Path to Dir (the new path)
	opList   byte = 4 // list the tree below directory Path: batches, then a response
	// Since protocol 2:
	opSync    byte = 5 // fsync file or directory Path
	opStat    byte = 6 // lstat Path: its fingerprint
	opReadDir byte = 7 // list directory Path (one level, no symlink targets): batches, then a response
	// Since protocol 3 (every write is a request; see write.go):
	opCreate   byte = 8  // create a temporary in directory Path with Perm, as handle Num: its path
	opWrite    byte = 9  // append Data to the temporary of handle Num; not answered
	opClose    byte = 10 // fsync and close the temporary of handle Num
	opMkdir    byte = 11 // make directory Path with Perm
	opSymlink  byte = 12 // make symlink Path pointing to Data
	opRemove   byte = 13 // remove file, symlink or empty directory Path
	opChmod    byte = 14 // set the permission bits of Path to Perm
	opChtimes  byte = 15 // set the mtime of Path to Num nanoseconds (as an int64)
	opLink     byte = 16 // hard link Dir to file Path
	opReadlink byte = 17 // the target of symlink Path, in the response's Path
	// Since protocol 4 (downloads are requests; see read.go):
	opOpen      byte = 18 // open regular file Path for reading as handle Num
	opRead      byte = 19 // read up to Perm bytes of handle Num at the offset in Data: the bytes, in the response's Path
	opCloseRead byte = 20 // close the file of handle Num
	// Since protocol 5 (small files in one exchange; see small.go):
	opPut     byte = 21 // write a new temporary in directory Path with Perm, mtime Num, marker and content in Data: its path
	opGet     byte = 22 // read file Path whole if its fingerprint is the one in Data: the bytes, in the response's Path
	opInstall byte = 23 // rename temporary Path onto Dir if Dir is as Data says, keeping its version at Data's backup path: the new fingerprint
	opWatch   byte = 24 // watch the tree: a batch of changed paths per change (see watch.go), until the session ends
	// Since protocol 6:
	opPutNew byte = 25 // put as opPut next to Path, then install it at Path if Path holds nothing: the new fingerprint
)

// helloID is the id of the agent's first message, sent unasked: its Path is
// the absolute root the agent serves, or its error why it serves none.
const helloID = 0

// request is one agent request. Paths are relative to the agent's root.
type request struct {
	ID   uint32
	Op   byte
	Path string // hash: the file; copy: the source
	Dir  string // copy: the directory of the new temporary; rename: the new path
	Perm uint32 // copy, create, mkdir, chmod: permission bits
	Num  uint64 // create, write, close: the temporary's handle; chtimes: the mtime
	Data []byte // write: file content; symlink: the target
}

// response answers the request with the same ID. A list request gets any
// number of batches (Batch set) before its one response proper.
type response struct {
	ID    uint32
	Err   *remoteError // nil on success
	Hash  tree.Hash
	FP    tree.Fingerprint // hash, stat: the full fingerprint (ns mtime and ctime, inode)
	Path  string           // copy: the temporary; hello: the root
	Batch []byte           // list: a batch of the listing (see listing.go); nil otherwise
}

// Statuses of a response on the wire.
const (
	statusOK    byte = 0
	statusError byte = 1
	statusBatch byte = 2
)

// Classes of errors carried over the wire, so errors.Is works on the client.
const (
	errOther byte = iota
	errNotExist
	errUnsafePath
	errChanged
	errUnsupported
	errStale // since protocol 5: the path changed since the scan
	errExist // since protocol 6: something is at the path (fs.ErrExist)
)

// remoteError is an error that happened on the agent's side.
type remoteError struct {
	Class byte
	Msg   string
}

func (e *remoteError) Error() string { return e.Msg }

// Unwrap makes errors.Is recognise the class's sentinels.
func (e *remoteError) Unwrap() []error {
	switch e.Class {
	case errNotExist:
		return []error{replica.ErrNotExist, fs.ErrNotExist}
	case errUnsafePath:
		return []error{replica.ErrUnsafePath}
	case errChanged:
		return []error{replica.ErrChangedWhileReading}
	case errUnsupported:
		return []error{replica.ErrUnsupported}
	case errStale:
		return []error{replica.ErrChanged}
	case errExist:
		return []error{fs.ErrExist}
	}
	return nil
}

// toRemote turns an error of the agent's side into what is sent.
func toRemote(err error) *remoteError {
	class := errOther
	switch {
	case errors.Is(err, replica.ErrNotExist), errors.Is(err, fs.ErrNotExist):
		class = errNotExist
	case errors.Is(err, replica.ErrUnsafePath):
		class = errUnsafePath
	case errors.Is(err, replica.ErrChangedWhileReading):
		class = errChanged
	case errors.Is(err, replica.ErrUnsupported):
		class = errUnsupported
	case errors.Is(err, replica.ErrChanged):
		class = errStale
	case errors.Is(err, fs.ErrExist):
		class = errExist
	}
	return &remoteError{Class: class, Msg: err.Error()}
}

// errBadMessage is wrapped by every error about a malformed message.
var errBadMessage = errors.New("malformed agent message")

// encoder appends fields to a message.
type encoder struct{ b []byte }

func (e *encoder) u8(v byte)    { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) str(s string) { e.u32(uint32(len(s))); e.b = append(e.b, s...) }

// decoder takes fields from a message; the first short read sets err and
// every later read returns zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("%w: truncated", errBadMessage)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) str() string {
	n := d.u32()
	if n > maxFrame {
		d.take(-1)
		return ""
	}
	return string(d.take(int(n)))
}

// end fails if anything is left over or a read fell short.
func (d *decoder) end() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%w: %d bytes left over", errBadMessage, len(d.b))
	}
	return d.err
}

// marshal encodes q as: id, op, path, dir, perm, num, data.
func (q *request) marshal() []byte {
	e := encoder{b: make([]byte, 0, 29+len(q.Path)+len(q.Dir)+len(q.Data))}
	e.u32(q.ID)
	e.u8(q.Op)
	e.str(q.Path)
	e.str(q.Dir)
	e.u32(q.Perm)
	e.u64(q.Num)
	e.u32(uint32(len(q.Data)))
	e.b = append(e.b, q.Data...)
	return e.b
}

// unmarshalRequest decodes a request made by marshal; anything else is an
// error wrapping errBadMessage. Paths are not checked here.
func unmarshalRequest(b []byte) (request, error) {
	d := decoder{b: b}
	q := request{ID: d.u32(), Op: d.u8(), Path: d.str(), Dir: d.str(), Perm: d.u32(), Num: d.u64()}
	if n := d.u32(); n > 0 {
		q.Data = bytes.Clone(d.take(int(n)))
	}
	return q, d.end()
}

// marshal encodes r as: id, status, then for statusOK hash, fingerprint
// and path; for statusError error class and message; for statusBatch the
// batch's bytes.
func (r *response) marshal() []byte {
	e := encoder{b: make([]byte, 0, 96+len(r.Path)+len(r.Batch))}
	e.u32(r.ID)
	switch {
	case r.Batch != nil:
		e.u8(statusBatch)
		e.b = append(e.b, r.Batch...)
		return e.b
	case r.Err != nil:
		e.u8(statusError)
		e.u8(r.Err.Class)
		e.str(r.Err.Msg)
		return e.b
	}
	e.u8(statusOK)
	e.b = append(e.b, r.Hash[:]...)
	e.u64(uint64(r.FP.Size))
	e.u64(uint64(r.FP.MtimeNs))
	e.u64(uint64(r.FP.CtimeNs))
	e.u64(r.FP.Ino)
	e.u32(r.FP.Mode)
	e.str(r.Path)
	return e.b
}

// unmarshalResponse decodes a response made by marshal; anything else is
// an error wrapping errBadMessage. A batch is copied out of b.
func unmarshalResponse(b []byte) (response, error) {
	d := decoder{b: b}
	r := response{ID: d.u32()}
	switch status := d.u8(); status {
	case statusOK:
		copy(r.Hash[:], d.take(len(r.Hash)))
		r.FP = tree.Fingerprint{Size: int64(d.u64()), MtimeNs: int64(d.u64()),
			CtimeNs: int64(d.u64()), Ino: d.u64(), Mode: d.u32()}
		r.Path = d.str()
	case statusError:
		r.Err = &remoteError{Class: d.u8(), Msg: d.str()}
	case statusBatch:
		r.Batch = bytes.Clone(d.take(len(d.b)))
		if r.Batch == nil {
			r.Batch = []byte{}
		}
	default:
		if d.err == nil {
			d.err = fmt.Errorf("%w: status %d", errBadMessage, status)
		}
	}
	return r, d.end()
}
