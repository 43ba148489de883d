// Package readahead reads a file in order through many reads at offsets
// kept in flight at once, so that a download over a link with latency
// costs about one round trip in all instead of one per chunk. Replicas
// reached over ssh (replica/sftp, replica/agent) build their Open on it.
package readahead

import (
	"errors"
	"io"
	"sync"
)

// Reader reads a file from its start to its end in order. It asks ra for
// the file chunk by chunk, with up to Window chunks asked for and not yet
// consumed; chunks may complete in any order. A chunk that comes back
// short, or with io.EOF, is the end of the file: what came before it is
// delivered and nothing after it, so the bytes delivered are always the
// file's first bytes, never with a hole, even when the file changes size
// during the read (a caller that needs the whole of one version still
// checks the length and the hash). An error is delivered in order too,
// after the bytes before it.
//
// A Reader is not safe for concurrent use, except that Close may be
// called while a Read waits.
type Reader struct {
	ra     io.ReaderAt
	chunk  int
	window int

	// size is the size the file is expected to have, or -1 when unknown.
	// While it is known no chunk is asked beyond the one that reaches one
	// byte past it, which is enough to see the end; when that chunk comes
	// back full the file grew, and size becomes unknown.
	size int64
	next int64 // offset of the next chunk to ask for

	queue  []*piece // asked for, by offset
	cur    *piece   // being consumed
	pos    int      // consumed bytes of cur
	free   [][]byte // buffers of chunk bytes to reuse
	err    error    // sticky: the end (io.EOF) or the first error
	stop   chan struct{}
	closed sync.Once
}

// piece is one chunk asked for.
type piece struct {
	off  int64
	want int
	buf  []byte
	n    int
	err  error
	done chan struct{}
}

// Options tune a Reader; the zero value is usable.
type Options struct {
	// Chunk is the most one read asks for (default DefaultChunk).
	Chunk int
	// Window is how many chunks may be asked for and not yet consumed
	// (default DefaultWindow); it bounds the Reader's memory to about
	// Chunk × Window bytes.
	Window int
}

// Defaults: 16 chunks of 192 KiB, 3 MiB in flight, more than OpenSSH's
// 2 MiB channel window, so that the window of ssh rather than this one
// bounds a download over a link with latency.
const (
	DefaultChunk  = 192 << 10
	DefaultWindow = 16
)

// ErrClosed is returned by a read after Close.
var ErrClosed = errors.New("read after close")

// New returns a Reader of the file ra reads, starting at offset 0. size is
// the size the file is expected to have (from a stat just before), or -1
// when unknown; it only decides how many reads to ask for at once.
func New(ra io.ReaderAt, size int64, o Options) *Reader {
	if o.Chunk <= 0 {
		o.Chunk = DefaultChunk
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if size < 0 {
		size = -1
	}
	return &Reader{ra: ra, chunk: o.Chunk, window: o.Window, size: size, stop: make(chan struct{})}
}

// stopped reports whether Close was called.
func (r *Reader) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// fill asks for chunks until the window is full or the end is asked for.
func (r *Reader) fill() {
	for len(r.queue) < r.window && r.err == nil && !r.stopped() {
		want := r.chunk
		if r.size >= 0 {
			if r.next > r.size {
				return // the chunk past the expected end is asked for
			}
			if r.size < r.next+int64(want) {
				want = int(r.size + 1 - r.next)
			}
		}
		p := &piece{off: r.next, want: want, buf: r.buffer(want), done: make(chan struct{})}
		r.next += int64(want)
		r.queue = append(r.queue, p)
		go func() {
			p.n, p.err = r.ra.ReadAt(p.buf[:p.want], p.off)
			close(p.done)
		}()
	}
}

// buffer returns a buffer of at least n bytes.
func (r *Reader) buffer(n int) []byte {
	if n == r.chunk && len(r.free) > 0 {
		b := r.free[len(r.free)-1]
		r.free = r.free[:len(r.free)-1]
		return b
	}
	return make([]byte, n)
}

// advance makes cur the next chunk with bytes to deliver, or sets err.
func (r *Reader) advance() error {
	for r.cur == nil || r.pos == r.cur.n {
		if p := r.cur; p != nil {
			r.cur = nil
			switch {
			case p.err != nil && p.err != io.EOF:
				r.err = p.err
			case p.err == io.EOF || p.n < p.want:
				r.err = io.EOF
			case r.size >= 0 && p.off+int64(p.n) > r.size:
				r.size = -1 // it grew: read on to wherever it ends now
			}
			if len(p.buf) == r.chunk {
				r.free = append(r.free, p.buf)
			}
		}
		if r.err != nil {
			return r.err
		}
		if r.stopped() {
			r.err = ErrClosed
			return r.err
		}
		r.fill()
		if len(r.queue) == 0 { // cannot happen: the chunk past the end says where it is
			r.err = io.ErrNoProgress
			return r.err
		}
		p := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		select {
		case <-p.done:
		case <-r.stop:
			r.err = ErrClosed
			return r.err
		}
		if p.n < 0 || p.n > p.want {
			p.n, p.err = 0, io.ErrNoProgress
		}
		r.cur, r.pos = p, 0
	}
	return nil
}

// Read reads the next bytes of the file; io.EOF at its end.
func (r *Reader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := r.advance(); err != nil {
		return 0, err
	}
	n := copy(b, r.cur.buf[r.pos:r.cur.n])
	r.pos += n
	return n, nil
}

// WriteTo writes the rest of the file to w, each chunk as it is its turn,
// without copying it first (io.Copy uses it). It returns nil at the end
// of the file.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	for {
		if err := r.advance(); err == io.EOF {
			return written, nil
		} else if err != nil {
			return written, err
		}
		n, err := w.Write(r.cur.buf[r.pos:r.cur.n])
		written += int64(n)
		r.pos += n
		if err == nil && r.pos < r.cur.n {
			err = io.ErrShortWrite
		}
		if err != nil {
			r.err = err
			return written, err
		}
	}
}

// Close stops the reader: chunks still in flight are dropped as they
// come, and a Read waiting for one returns ErrClosed. It does not close
// the file ra reads.
func (r *Reader) Close() error {
	r.closed.Do(func() { close(r.stop) })
	return nil
}
