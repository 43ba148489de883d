package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	pkgsftp "github.com/pkg/sftp"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/local"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Protocol is the version of the agent protocol this package speaks. The
// client refuses an agent that speaks another.
//
// Version 2: fingerprints are whole (listing records carry ctime and
// inode; stat and one-level listing requests give them for Lstat and
// ReadDir), and the agent makes what it writes durable (sync requests;
// copies and renames fsync before answering).
//
// Version 3: every operation that writes, renames or removes is an agent
// request done beneath the root (requests carry a number and data); the
// SFTP channel is read-only.
//
// Version 4: downloads are agent requests too (open, read, close), so no
// file content is read by path over the SFTP channel.
//
// Version 5: small files in one exchange each (put, get, install
// requests), answered by many workers so that a client can keep hundreds
// in flight over a link with latency.
const Protocol = 6

// greetingWord begins the line the agent writes first:
// "myrrorfs-agent <protocol> <version>\n".
const greetingWord = "myrrorfs-agent"

// sftpPacket is the largest SFTP packet either side sends (OpenSSH
// truncates downloads at 256 KiB; pkg/sftp issue 658).
const sftpPacket = 252 * 1024

// Version is the version of this myrrorfs build, as the greeting shows it.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "unknown"
	}
	return strings.Join(strings.Fields(bi.Main.Version), "_")
}

// Serve is the agent: it writes the greeting to w, then serves, over the
// frames read from r and written to w, read-only SFTP (channel 0) on the
// whole filesystem and agent requests (channel 1) on the tree at root,
// which it opens with replica/local so no request ever follows a symlink:
// every write is such a request, so none can leave the tree. It
// returns nil when r ends cleanly, or the error that stopped it (a missing
// root, a malformed frame, a broken stream).
func Serve(r io.Reader, w io.Writer, root string) error {
	return serve(r, w, root, Protocol)
}

// serve is Serve announcing the given protocol number (tests use another).
func serve(r io.Reader, w io.Writer, root string, protocol int) error {
	if _, err := fmt.Fprintf(w, "%s %d %s\n", greetingWord, protocol, Version()); err != nil {
		return fmt.Errorf("agent: write greeting: %w", err)
	}
	fw := &frameWriter{w: w}
	loc, err := local.New(root)
	hello := response{ID: helloID}
	if err != nil {
		hello.Err = toRemote(err)
	} else {
		hello.Path = loc.Root()
		defer loc.Close()
	}
	if werr := fw.write(chanAgent, hello.marshal()); werr != nil {
		return fmt.Errorf("agent: write hello: %w", werr)
	}
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	s := newServer(loc, fw)
	return s.run(r)
}

// serveWorkers is how many requests an agent works on at once.
const serveWorkers = 64

// server is one agent session.
type server struct {
	loc     *local.Replica
	fw      *frameWriter
	sftpIn  *io.PipeWriter // SFTP bytes for the SFTP server
	sftpOut *io.PipeReader // what the SFTP server reads
	work    chan request
	ended   chan struct{} // closed when the request stream ended
	workers sync.WaitGroup
	temps   temps
	reads   handles[readAtCloser]
}

func newServer(loc *local.Replica, fw *frameWriter) *server {
	pr, pw := io.Pipe()
	return &server{loc: loc, fw: fw, sftpIn: pw, sftpOut: pr, work: make(chan request, 256), ended: make(chan struct{}),
		temps: newHandles[*openTemp]("temporaries"), reads: newHandles[readAtCloser]("files open for reading")}
}

// run serves until r ends or fails, then waits for every goroutine.
func (s *server) run(r io.Reader) error {
	// read-only: SFTP acts by path, so a write could be redirected out of
	// the tree by a directory swapped for a symlink; writes are requests
	srv, err := pkgsftp.NewServer(sftpConn{s.sftpOut, streamWriter{s.fw, chanSFTP}},
		pkgsftp.WithMaxTxPacket(sftpPacket), pkgsftp.ReadOnly())
	if err != nil {
		return fmt.Errorf("agent: start the SFTP server: %w", err)
	}
	sftpDone := make(chan struct{})
	go func() {
		srv.Serve()
		srv.Close()
		close(sftpDone)
	}()
	// Most requests wait on the disk (an fsync per file written), not on
	// a CPU: many workers let the filesystem commit them together.
	for range max(serveWorkers, runtime.NumCPU()) {
		s.workers.Go(s.serveRequests)
	}
	err = s.demux(bufio.NewReaderSize(r, 64<<10))
	close(s.ended)
	s.sftpIn.CloseWithError(io.EOF)
	close(s.work)
	s.workers.Wait()
	s.closeAll()
	s.closeReaders()
	<-sftpDone
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// demux reads frames until r ends: SFTP bytes go to the SFTP server,
// requests to the workers. A clean end of r is no error.
func (s *server) demux(r *bufio.Reader) error {
	var buf []byte
	for {
		ch, payload, nb, err := readFrame(r, buf)
		buf = nb
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read request stream: %w", err)
		}
		if ch == chanSFTP {
			if _, err := s.sftpIn.Write(payload); err != nil {
				return fmt.Errorf("SFTP server stopped: %w", err)
			}
			continue
		}
		q, err := unmarshalRequest(payload)
		if err != nil {
			return err
		}
		if q.Op == opWrite { // in order, here: see temps
			s.write(q)
			continue
		}
		s.work <- q
	}
}

// serveRequests answers requests until there are no more.
func (s *server) serveRequests() {
	for q := range s.work {
		if q.Op == opRead && s.answerRead(q) {
			continue // answered without garbage (read.go)
		}
		resp := s.answer(q)
		resp.ID = q.ID
		s.fw.write(chanAgent, resp.marshal()) // a broken stream ends demux too
	}
}

// answer does what q asks on the local tree.
func (s *server) answer(q request) response {
	if err := checkPaths(q); err != nil {
		return response{Err: toRemote(err)}
	}
	switch q.Op {
	case opHash:
		h, fp, err := s.loc.Hash(q.Path)
		if err != nil {
			return response{Err: toRemote(err)}
		}
		return response{Hash: h, FP: fp}
	case opCopy:
		s.setMarker(q)
		p, err := s.loc.CopyTemp(q.Path, q.Dir, q.Perm&0o7777)
		if err != nil {
			return response{Err: toRemote(err)}
		}
		return response{Path: p}
	case opRename:
		if err := s.loc.Rename(q.Path, q.Dir); err != nil {
			return response{Err: toRemote(err)}
		}
		return response{}
	case opList:
		return s.list(q)
	case opSync:
		if err := s.loc.Sync(q.Path); err != nil {
			return response{Err: toRemote(err)}
		}
		return response{}
	case opStat:
		info, err := s.loc.Lstat(q.Path)
		if err != nil {
			return response{Err: toRemote(err)}
		}
		return response{FP: info.FP}
	case opReadDir:
		return s.readDir(q)
	case opCreate:
		return s.create(q)
	case opClose:
		return s.closeTemp(q)
	case opMkdir:
		return errResponse(s.loc.Mkdir(q.Path, q.Perm&0o7777))
	case opSymlink:
		return errResponse(s.loc.Symlink(string(q.Data), q.Path))
	case opRemove:
		return errResponse(s.loc.Remove(q.Path))
	case opChmod:
		return errResponse(s.loc.Chmod(q.Path, q.Perm&0o7777))
	case opChtimes:
		return errResponse(s.loc.Chtimes(q.Path, int64(q.Num)))
	case opLink:
		return errResponse(s.loc.Link(q.Path, q.Dir))
	case opOpen:
		return s.openRead(q)
	case opRead:
		return s.readAt(q)
	case opCloseRead:
		return s.closeRead(q)
	case opPut:
		return s.put(q)
	case opGet:
		return s.get(q)
	case opInstall:
		return s.install(q)
	case opPutNew:
		return s.putNew(q)
	case opWatch:
		return s.watch(q)
	case opReadlink:
		target, err := s.loc.Readlink(q.Path)
		if err != nil {
			return response{Err: toRemote(err)}
		}
		return response{Path: target}
	}
	return response{Err: &remoteError{Class: errUnsupported, Msg: fmt.Sprintf("unknown agent operation %d", q.Op)}}
}

// checkPaths refuses a request whose paths are not valid relative paths.
func checkPaths(q request) error {
	for _, p := range []string{q.Path, q.Dir} {
		if err := tree.ValidPath(p); err != nil {
			return fmt.Errorf("%q: %w: %w", p, replica.ErrUnsafePath, err)
		}
	}
	return nil
}

// sftpConn is the SFTP server's side of channel 0.
type sftpConn struct {
	r *io.PipeReader
	w io.Writer
}

func (c sftpConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c sftpConn) Write(b []byte) (int, error) { return c.w.Write(b) }
func (c sftpConn) Close() error                { return c.r.Close() }
