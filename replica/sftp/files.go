package sftp

import (
	"io"

	pkgsftp "github.com/pkg/sftp"

	"github.com/myrrorfs/myrrorfs/replica/readahead"
)

// readAhead is how many read requests a download keeps in flight: 4 MiB
// of maxPacket chunks, more than the 2 MiB of OpenSSH's channel window, so
// that ssh's window, not this one, bounds a download over a link with
// latency.
const readAhead = 16

// readFile is a remote file open for reading, read in order with
// readAhead requests of maxPacket bytes in flight. pkg/sftp's own WriteTo
// is not used: a read that a server answers short in mid-file would leave
// a hole in what it delivers, where File.ReadAt asks again for the rest.
// Bytes received are counted on the replica.
type readFile struct {
	*readahead.Reader
	r *Replica
	p string
	f *pkgsftp.File
}

// ReadAt reads one chunk at off; fewer bytes only at the end of the file
// (with io.EOF) or with an error.
func (rf *readFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := rf.f.ReadAt(b, off)
	rf.r.bytesRead.Add(int64(n))
	return n, rf.err("read", err)
}

// Close closes the remote handle (once the reads in flight are answered).
func (rf *readFile) Close() error {
	rf.Reader.Close()
	return rf.err("close", rf.f.Close())
}

// err maps err, leaving io.EOF as is (the end of the file is no error).
func (rf *readFile) err(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return rf.r.pathErr(op, rf.p, err)
}

// writeFile is a remote temporary open for writing. Its ReadFrom (used by
// io.Copy) keeps many writes in flight; bytes written are counted on the replica.
type writeFile struct {
	r *Replica
	p string
	f *pkgsftp.File
}

// Write writes b at the current offset.
func (wf *writeFile) Write(b []byte) (int, error) {
	n, err := wf.f.Write(b)
	wf.r.bytesWritten.Add(int64(n))
	return n, wf.err("write", err)
}

// ReadFrom copies src into the file until io.EOF with concurrent requests.
func (wf *writeFile) ReadFrom(src io.Reader) (int64, error) {
	n, err := wf.f.ReadFromWithConcurrency(src, 0)
	wf.r.bytesWritten.Add(n)
	return n, wf.err("write", err)
}

// Close makes the content durable and closes the remote handle: it sends
// fsync@openssh.com on the handle first when the server has it, or has the
// replica's Syncer fsync the file once closed. An error means the content
// is not trustworthy.
func (wf *writeFile) Close() error {
	if wf.r.syncer == nil && wf.r.fsync {
		if err := wf.f.Sync(); err != nil {
			wf.f.Close()
			return wf.err("fsync", err)
		}
	}
	if err := wf.f.Close(); err != nil {
		return wf.err("close", err)
	}
	return wf.r.syncFile(wf.p)
}

func (wf *writeFile) err(op string, err error) error {
	if err == nil {
		return nil
	}
	return wf.r.pathErr(op, wf.p, err)
}
