package agent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/readahead"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Downloads are agent requests (since protocol 4): the agent opens the file
// with replica/local, beneath its root without following any symlink, and
// reads from that descriptor, so a remote directory swapped for a symlink
// can never make a download read a file outside the tree (the SFTP
// channel acts by path).

// readChunk is the most file content one read request asks for, and an
// agent answers (a response must fit in a frame). Every agent of this
// protocol caps a read at 192 KiB, and the client takes a short read for
// the end of the file: asking for more would truncate downloads from them.
const readChunk = 192 << 10

// readAhead is how many read requests a download keeps in flight: 3 MiB,
// more than the 2 MiB of OpenSSH's channel window, so that ssh's window,
// not this one, bounds a download over a link with latency.
const readAhead = 16

type readAtCloser interface {
	io.ReaderAt
	io.Closer
}

// openRead opens regular file q.Path for reading as handle q.Num. The
// response's fingerprint gives the size and mode of the file opened, so
// that the client knows how many reads to ask for at once (an agent
// before this gave neither: mode 0).
func (s *server) openRead(q request) response {
	if err := s.reads.free(q.Num, "open "+q.Path); err != nil {
		return response{Err: err}
	}
	rc, err := s.loc.Open(q.Path)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	f, ok := rc.(readAtCloser)
	if !ok {
		rc.Close()
		return response{Err: &remoteError{Class: errUnsupported, Msg: fmt.Sprintf("open %s: cannot read at an offset", q.Path)}}
	}
	var fp tree.Fingerprint
	if st, ok := rc.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			fp = tree.Fingerprint{Size: fi.Size(), Mode: unix.S_IFREG | uint32(fi.Mode().Perm())}
		}
	}
	s.reads.put(q.Num, f)
	return response{FP: fp}
}

// readAt reads up to q.Perm bytes (at most readChunk) of handle q.Num at
// the offset in q.Data (8 bytes, big-endian); they are the response's
// Path. Fewer bytes than asked means the end of the file. answerRead
// answers most reads in its stead.
func (s *server) readAt(q request) response {
	f, ok := s.reads.get(q.Num)
	if !ok || len(q.Data) != 8 {
		return response{Err: &remoteError{Msg: fmt.Sprintf("read: handle %d is not open", q.Num)}}
	}
	off := int64(binary.BigEndian.Uint64(q.Data))
	buf := make([]byte, min(int(q.Perm), readChunk))
	n, err := f.ReadAt(buf, off)
	if err != nil && err != io.EOF {
		return response{Err: toRemote(fmt.Errorf("read %s: %w", q.Path, err))}
	}
	return response{Path: string(buf[:n])}
}

// answerRead answers read request q itself, with the bytes read straight
// into the frame it sends, from a pool of frame buffers: the generic path
// (readAt, then marshal) makes two buffers of garbage per read, and the
// collection of them cost a download through the agent about as much
// CPU as everything else the agent does. It reports whether it answered;
// when not, readAt does (a handle not open, or a response layout this
// code does not know).
func (s *server) answerRead(q request) bool {
	f, ok := s.reads.get(q.Num)
	if !ok || len(q.Data) != 8 || !readLayoutKnown {
		return false
	}
	off := int64(binary.BigEndian.Uint64(q.Data))
	want := min(int(q.Perm), readChunk)
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	head := (&response{ID: q.ID}).marshal() // ends with the length of an empty Path
	b := append((*bp)[:0], head...)
	if cap(b) < len(b)+want {
		return false
	}
	n, err := f.ReadAt(b[len(b):len(b)+want], off)
	if err != nil && err != io.EOF {
		resp := response{ID: q.ID, Err: toRemote(fmt.Errorf("read %s: %w", q.Path, err))}
		s.fw.write(chanAgent, resp.marshal())
		return true
	}
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(n))
	s.fw.write(chanAgent, b[:len(b)+n]) // a broken stream ends demux too
	return true
}

// frameBufs are buffers for answerRead's frames.
var frameBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, maxFrame)
	return &b
}}

// readLayoutKnown says that a response with a Path is marshaled as the
// same response without it, its Path's length (4 bytes, big-endian, last)
// set, then the Path's bytes: what answerRead writes.
var readLayoutKnown = func() bool {
	head := (&response{ID: 7}).marshal()
	full := (&response{ID: 7, Path: "xyz"}).marshal()
	if len(head) < 4 || binary.BigEndian.Uint32(head[len(head)-4:]) != 0 {
		return false
	}
	want := binary.BigEndian.AppendUint32(bytes.Clone(head[:len(head)-4]), 3)
	return bytes.Equal(full, append(want, "xyz"...))
}()

// closeRead closes handle q.Num.
func (s *server) closeRead(q request) response {
	if f, ok := s.reads.take(q.Num); ok {
		f.Close()
	}
	return response{}
}

// closeReaders closes the files a client left open.
func (s *server) closeReaders() {
	for _, f := range s.reads.drain() {
		f.Close()
	}
}

// Open opens regular file p for reading through the agent, which opens it
// beneath its root without following any symlink and reads that very
// file (see read requests). A symlink anywhere in p is refused. The file
// is read with readAhead requests in flight (see package readahead).
func (r *Replica) Open(p string) (io.ReadCloser, error) {
	if err := tree.ValidPath(p); err != nil || p == "" {
		return nil, fmt.Errorf("open %s:%s: %w", r.c.host, p, replica.ErrUnsafePath)
	}
	h := r.handles.Add(1)
	resp, err := r.c.call(request{Op: opOpen, Path: p, Num: h})
	if err != nil {
		return nil, err
	}
	size := int64(-1) // an agent that does not say
	if resp.FP.Mode != 0 {
		size = resp.FP.Size
	}
	f := &readFile{r: r, p: p, h: h}
	return &download{Reader: readahead.New(f, size, readahead.Options{Chunk: readChunk, Window: readAhead}), f: f}, nil
}

// readFile is a remote file open for reading on the agent.
type readFile struct {
	r *Replica
	p string
	h uint64
}

// ReadAt reads len(b) bytes (at most readChunk) at off with one read
// request; fewer, with io.EOF, at the end of the file.
func (f *readFile) ReadAt(b []byte, off int64) (int, error) {
	q := request{Op: opRead, Path: f.p, Num: f.h, Perm: uint32(len(b)), Data: binary.BigEndian.AppendUint64(nil, uint64(off))}
	resp, err := f.r.c.call(q)
	if err != nil {
		return 0, err
	}
	if len(resp.Path) > len(b) {
		return 0, fmt.Errorf("read %s:%s: %w: %d bytes for a read of %d", f.r.c.host, f.p, errBadMessage, len(resp.Path), len(b))
	}
	n := copy(b, resp.Path)
	f.r.bytesRead.Add(int64(n))
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// download is a file being read through the agent.
type download struct {
	*readahead.Reader
	f      *readFile
	closed bool
}

// Close closes the file on the agent. Reads still in flight are dropped.
func (d *download) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	d.Reader.Close()
	_, err := d.f.r.c.call(request{Op: opCloseRead, Path: d.f.p, Num: d.f.h})
	return err
}

// BytesRead is the file content received since Dial.
func (r *Replica) BytesRead() int64 { return r.bytesRead.Load() + r.Replica.BytesRead() }
