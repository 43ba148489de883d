package agent

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Downloads are agent requests (since protocol 4): the agent opens the file
// with replica/local, beneath its root without following any symlink, and
// reads from that descriptor, so a remote directory swapped for a symlink
// can never make a download read a file outside the tree (the SFTP
// channel acts by path).

// readChunk is the most file content one read request asks for (a
// response must fit in a frame).
const readChunk = 192 << 10

// readAhead is how many read requests a download keeps in flight.
const readAhead = 8

type readAtCloser interface {
	io.ReaderAt
	io.Closer
}

// openRead opens regular file q.Path for reading as handle q.Num.
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
	s.reads.put(q.Num, f)
	return response{}
}

// readAt reads up to q.Perm bytes (at most readChunk) of handle q.Num at
// the offset in q.Data (8 bytes, big-endian); they are the response's
// Path. Fewer bytes than asked means the end of the file.
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
// file (see read requests). A symlink anywhere in p is refused.
func (r *Replica) Open(p string) (io.ReadCloser, error) {
	if err := tree.ValidPath(p); err != nil || p == "" {
		return nil, fmt.Errorf("open %s:%s: %w", r.c.host, p, replica.ErrUnsafePath)
	}
	h := r.handles.Add(1)
	if _, err := r.c.call(request{Op: opOpen, Path: p, Num: h}); err != nil {
		return nil, err
	}
	return &readFile{r: r, p: p, h: h}, nil
}

// readFile is a remote file being read through the agent, with readAhead
// requests in flight.
type readFile struct {
	r      *Replica
	p      string
	h      uint64
	next   int64             // offset of the next request to send
	queue  []chan readResult // requests in flight, by offset
	buf    []byte            // received and not yet returned
	ended  bool              // a short read was received: the file ends after buf
	err    error             // sticky
	closed bool
}

type readResult struct {
	data []byte
	err  error
}

// fill keeps readAhead requests in flight.
func (f *readFile) fill() {
	for len(f.queue) < readAhead {
		ch := make(chan readResult, 1)
		q := request{Op: opRead, Path: f.p, Num: f.h, Perm: readChunk, Data: binary.BigEndian.AppendUint64(nil, uint64(f.next))}
		f.next += readChunk
		go func() {
			resp, err := f.r.c.call(q)
			ch <- readResult{[]byte(resp.Path), err}
		}()
		f.queue = append(f.queue, ch)
	}
}

// Read reads from the file; io.EOF at its end.
func (f *readFile) Read(b []byte) (int, error) {
	for len(f.buf) == 0 {
		switch {
		case f.err != nil:
			return 0, f.err
		case f.closed:
			return 0, fmt.Errorf("read %s:%s: file closed", f.r.c.host, f.p)
		case f.ended:
			f.err = io.EOF
			continue
		}
		f.fill()
		res := <-f.queue[0]
		f.queue = f.queue[1:]
		if res.err != nil {
			f.err = res.err
			continue
		}
		f.buf = res.data
		f.ended = len(res.data) < readChunk
	}
	n := copy(b, f.buf)
	f.buf = f.buf[n:]
	f.r.bytesRead.Add(int64(n))
	return n, nil
}

// Close closes the file on the agent. Reads still in flight are dropped.
func (f *readFile) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	_, err := f.r.c.call(request{Op: opCloseRead, Path: f.p, Num: f.h})
	return err
}

// BytesRead is the file content received since Dial.
func (r *Replica) BytesRead() int64 { return r.bytesRead.Load() + r.Replica.BytesRead() }
