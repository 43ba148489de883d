package agent

import (
	"fmt"
	"strings"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Every operation of the agent replica that writes, renames or removes is
// an agent request, done by replica/local on the remote host beneath the
// root (openat2 with RESOLVE_BENEATH, no symlink followed), so that a
// remote directory swapped for a symlink meanwhile cannot redirect it. The
// SFTP channel is read-only.

// writeChunk is the most file content one write request carries (a frame
// holds at most maxFrame bytes, headers included).
const writeChunk = 192 << 10

// temps are the temporaries a session is writing, by the handle the client
// chose for each. Writes are applied by the stream reader, in the order
// they came; create and close requests go to the workers (a client sends
// writes only once its create was answered, and its close only after its
// last write, so both see every write in place).
type temps = handles[*openTemp]

// openTemp is one temporary being written.
type openTemp struct {
	p   string
	w   replica.WriteFile
	err error // the first write error; the close reports it
}

// create makes a temporary in dir with perm under handle h.
func (s *server) create(q request) response {
	if err := s.temps.free(q.Num, "create in "+q.Path); err != nil {
		return response{Err: err}
	}
	s.setMarker(q)
	p, w, err := s.loc.CreateTemp(q.Path, q.Perm&0o7777)
	if err != nil {
		return response{Err: toRemote(err)}
	}
	s.temps.put(q.Num, &openTemp{p: p, w: w})
	return response{Path: p}
}

// write appends q.Data to temporary q.Num; it answers nothing (an error is
// kept for the close). Called by the stream reader only.
func (s *server) write(q request) {
	t, ok := s.temps.get(q.Num)
	if !ok || t.err != nil {
		return
	}
	if _, err := t.w.Write(q.Data); err != nil {
		t.err = fmt.Errorf("write %s: %w", t.p, err)
	}
}

// closeTemp makes temporary q.Num durable and closes it.
func (s *server) closeTemp(q request) response {
	t, ok := s.temps.take(q.Num)
	if !ok {
		return response{Err: &remoteError{Msg: fmt.Sprintf("close: no temporary with handle %d", q.Num)}}
	}
	err := t.w.Close()
	if t.err != nil {
		err = t.err
	}
	if err != nil {
		return response{Err: toRemote(err)}
	}
	return response{}
}

// closeAll closes the temporaries a client left open (its connection
// ended); they stay, as after a crash, for the next run to clean.
func (s *server) closeAll() {
	for _, t := range s.temps.drain() {
		t.w.Close()
	}
}

// errResponse is the response to a request done by fn.
func errResponse(err error) response {
	if err != nil {
		return response{Err: toRemote(err)}
	}
	return response{}
}

// CreateTemp creates a new empty file with permission perm in directory
// dir on the remote host, beneath the root, through the agent; its content
// is sent in write requests, and Close has the agent fsync it.
func (r *Replica) CreateTemp(dir string, perm uint32) (string, replica.WriteFile, error) {
	h := r.handles.Add(1)
	resp, err := r.c.call(request{Op: opCreate, Path: dir, Perm: perm & 0o7777, Num: h, Data: []byte(r.TempMarker())})
	if err != nil {
		return "", nil, err
	}
	if err := tree.ValidPath(resp.Path); err != nil || tree.Parent(resp.Path) != dir ||
		!strings.HasPrefix(tree.Base(resp.Path), tree.TempPrefix) {
		return "", nil, fmt.Errorf("create in %s:%s: agent answered a bad temporary %q", r.c.host, dir, resp.Path)
	}
	return resp.Path, &writeFile{r: r, p: resp.Path, h: h}, nil
}

// writeFile is a temporary being written through the agent. Content is
// gathered into chunks, each sent as a write request that is not answered:
// Close reports the first error.
type writeFile struct {
	r      *Replica
	p      string
	h      uint64
	buf    []byte
	err    error
	closed bool
}

// Write gathers b, sending every full chunk.
func (w *writeFile) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, fmt.Errorf("write %s:%s: file already closed", w.r.c.host, w.p)
	}
	n := len(b)
	for len(b) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, writeChunk)
		}
		k := min(len(b), writeChunk-len(w.buf))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
		if len(w.buf) == writeChunk {
			if err := w.flush(); err != nil {
				return n - len(b), err
			}
		}
	}
	return n, nil
}

// flush sends what is gathered.
func (w *writeFile) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.r.c.send(request{Op: opWrite, Num: w.h, Data: w.buf}, func(uint32) {})
	w.r.bytesWritten.Add(int64(len(w.buf)))
	w.buf = w.buf[:0]
	if err != nil {
		w.err = err
	}
	return err
}

// Close sends the rest and has the agent fsync and close the temporary.
func (w *writeFile) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if err := w.flush(); err != nil {
		return err
	}
	_, err := w.r.c.call(request{Op: opClose, Num: w.h})
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

// BytesWritten returns how many bytes of file content were sent to the
// remote host (through CreateTemp) since Dial.
func (r *Replica) BytesWritten() int64 { return r.bytesWritten.Load() + r.Replica.BytesWritten() }

// Mkdir creates directory p with permission perm beneath the root.
func (r *Replica) Mkdir(p string, perm uint32) error {
	_, err := r.c.call(request{Op: opMkdir, Path: p, Perm: perm & 0o7777})
	return err
}

// Symlink creates a symbolic link at p pointing to target beneath the root.
func (r *Replica) Symlink(target, p string) error {
	_, err := r.c.call(request{Op: opSymlink, Path: p, Data: []byte(target)})
	return err
}

// Remove removes a file, a symlink or an empty directory beneath the root.
func (r *Replica) Remove(p string) error {
	_, err := r.c.call(request{Op: opRemove, Path: p})
	return err
}

// Chmod sets the permission bits of p (not a symlink) beneath the root.
func (r *Replica) Chmod(p string, perm uint32) error {
	_, err := r.c.call(request{Op: opChmod, Path: p, Perm: perm & 0o7777})
	return err
}

// Chtimes sets the modification time of p (not a symlink) beneath the
// root, to the nanosecond.
func (r *Replica) Chtimes(p string, mtimeNs int64) error {
	_, err := r.c.call(request{Op: opChtimes, Path: p, Num: uint64(mtimeNs)})
	return err
}

// Link makes newp a hard link to file oldp beneath the root.
func (r *Replica) Link(oldp, newp string) error {
	_, err := r.c.call(request{Op: opLink, Path: oldp, Dir: newp})
	return err
}

// Readlink returns the target of symlink p, read beneath the root.
func (r *Replica) Readlink(p string) (string, error) {
	resp, err := r.c.call(request{Op: opReadlink, Path: p})
	if err != nil {
		return "", err
	}
	return resp.Path, nil
}

// setMarker makes the marker a create or copy request carries (its data,
// when a valid marker) the one of the temporaries made from now on: one
// agent serves one pair.
func (s *server) setMarker(q request) {
	m := string(q.Data)
	if got, ok := replica.ParseTempName(replica.TempNameFor(m)); m != "" && ok && got == m {
		s.loc.SetTempMarker(m)
	}
}
