package sftp

import (
	"io"

	pkgsftp "github.com/pkg/sftp"
)

// readFile is a remote file open for reading. Its WriteTo (used by io.Copy)
// keeps many reads in flight; bytes read are counted on the replica.
type readFile struct {
	r *Replica
	p string
	f *pkgsftp.File
}

// Read reads from the file; io.EOF at its end.
func (rf *readFile) Read(b []byte) (int, error) {
	n, err := rf.f.Read(b)
	rf.r.bytesRead.Add(int64(n))
	return n, rf.err("read", err)
}

// WriteTo copies the rest of the file to w with concurrent requests.
func (rf *readFile) WriteTo(w io.Writer) (int64, error) {
	n, err := rf.f.WriteTo(&countWriter{w: w, n: &rf.r.bytesRead})
	return n, rf.err("read", err)
}

// Close closes the remote handle.
func (rf *readFile) Close() error {
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

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n interface{ Add(int64) int64 }
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	return n, err
}
