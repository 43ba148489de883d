package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
)

// A mount shows remote versions from a local cache of them, named by
// content hash (see CacheDir). A version is downloaded once, by one
// goroutine, however many opens and gestures want it meanwhile: they wait
// for it (Fetch) or read it as it arrives (FetchStream). It is verified
// (size, and hash when the scan gave one) before it joins the cache.

// download is one remote version being copied into the fetch cache.
type download struct {
	p    *Pair
	key  string
	path string
	e    tree.Entry

	mu       sync.Mutex
	rd       *os.File      // the temporary, for reading what arrived; closed when refs reach 0
	progress int64         // bytes of the temporary written
	wake     chan struct{} // closed (and replaced) when progress moves or the download ends
	done     chan struct{} // closed when the download ended
	dst      string        // the cache file, once done without error
	err      error         // why the download failed, once done
	refs     int           // the download itself, and each caller holding it
}

// fetchKey names the version e of path among downloads and in the cache.
// A version the scan did not hash is named by path, size and mtime: two
// of them are never taken for one another.
func fetchKey(path string, e tree.Entry) string {
	if !e.Hash.IsZero() {
		return e.Hash.String()
	}
	return "path:" + path + "@" + strconv.FormatInt(e.Size, 10) + "." + strconv.FormatInt(e.MtimeNs, 10)
}

// startFetch returns the cache file holding version e of path, or the
// download that brings it (the caller holds a reference: release it).
func (p *Pair) startFetch(path string, e tree.Entry) (string, *download, error) {
	if e.Kind != tree.File {
		return "", nil, fmt.Errorf("fetch %s: not a file", path)
	}
	if e.Hash.IsZero() {
		// a version an earlier download (or a hash by download) hashed
		if s, ok := p.LastRemote(path); ok && !s.Entry.Hash.IsZero() && s.Entry.Size == e.Size && s.Entry.MtimeNs == e.MtimeNs {
			e.Hash = s.Entry.Hash
		}
	}
	key := fetchKey(path, e)
	p.dlMu.Lock()
	if d := p.downloads[key]; d != nil {
		d.mu.Lock()
		d.refs++
		d.mu.Unlock()
		p.dlMu.Unlock()
		return "", d, nil
	}
	if !e.Hash.IsZero() {
		dst := filepath.Join(p.CacheDir(), key)
		if fi, err := os.Stat(dst); err == nil && fi.Size() == e.Size {
			p.dlMu.Unlock()
			now := time.Now()
			os.Chtimes(dst, now, now) // recently used: pruned last
			return dst, nil, nil
		}
	}
	d := &download{p: p, key: key, path: path, e: e, wake: make(chan struct{}), done: make(chan struct{}), refs: 2}
	if p.downloads == nil {
		p.downloads = map[string]*download{}
	}
	p.downloads[key] = d
	p.dlMu.Unlock()
	rc, tmp, err := d.open()
	if err != nil {
		d.finish("", err) // callers that joined meanwhile get err too
		d.release()
		d.release()
		return "", nil, fmt.Errorf("fetch %s: %w", path, err)
	}
	go d.run(rc, tmp)
	return "", d, nil
}

// open opens the remote file and the temporary the download fills.
func (d *download) open() (io.ReadCloser, *os.File, error) {
	if err := os.MkdirAll(d.p.CacheDir(), 0o700); err != nil {
		return nil, nil, fmt.Errorf("cache: %w", err)
	}
	rc, err := d.p.remote().Open(d.path)
	if err != nil {
		return nil, nil, err
	}
	tmp, err := os.CreateTemp(d.p.CacheDir(), tree.TempPrefix)
	if err != nil {
		rc.Close()
		return nil, nil, fmt.Errorf("cache: %w", err)
	}
	rd, err := os.Open(tmp.Name())
	if err != nil {
		rc.Close()
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, nil, fmt.Errorf("cache: %w", err)
	}
	d.mu.Lock()
	d.rd = rd
	d.mu.Unlock()
	return rc, tmp, nil
}

// run copies the remote file into the temporary, verifies it and moves it
// into the cache.
func (d *download) run(rc io.ReadCloser, tmp *os.File) {
	n, h, err := copyHashed(filling{tmp, d}, rc, d.e.Size, nil)
	rc.Close()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && (n != d.e.Size || (!d.e.Hash.IsZero() && h != d.e.Hash)) {
		err = fmt.Errorf("the remote file changed since it was scanned: %w", ErrChanged)
	}
	dst := filepath.Join(d.p.CacheDir(), h.String())
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o400)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		d.finish("", err)
		d.release()
		return
	}
	if d.e.Hash.IsZero() {
		d.p.learnRemote(d.path, h)
	}
	d.p.pruneCache(dst)
	d.finish(dst, nil)
	d.release()
}

// filling is the temporary as the download writes it: readers learn of
// each write once it is in the file.
type filling struct {
	f *os.File
	d *download
}

func (w filling) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if n > 0 {
		w.d.advance(int64(n))
	}
	return n, err
}

func (w filling) Close() error { return nil } // run closes the file

// advance records n more bytes in the temporary.
func (d *download) advance(n int64) {
	d.mu.Lock()
	d.progress += n
	close(d.wake)
	d.wake = make(chan struct{})
	d.mu.Unlock()
}

// finish ends the download: later fetches of the version find it in the
// cache, or start again.
func (d *download) finish(dst string, err error) {
	d.p.dlMu.Lock()
	delete(d.p.downloads, d.key)
	d.p.dlMu.Unlock()
	d.mu.Lock()
	d.dst, d.err = dst, err
	close(d.done)
	close(d.wake)
	d.wake = make(chan struct{})
	d.mu.Unlock()
}

// release drops a reference; the last one closes the temporary's reader.
func (d *download) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refs--; d.refs == 0 && d.rd != nil {
		d.rd.Close()
		d.rd = nil
	}
}

// wait waits for the end of the download and returns the cache file.
func (d *download) wait() (string, error) {
	<-d.done
	if d.err != nil {
		return "", fmt.Errorf("fetch %s: %w", d.path, d.err)
	}
	return d.dst, nil
}

// Fetch returns the path of a local file holding the remote version e of
// path, downloading and verifying it on first use. The cache is content
// addressed, so one download serves every path with the same content.
func (p *Pair) Fetch(path string, e tree.Entry) (string, error) {
	cache, d, err := p.startFetch(path, e)
	if d == nil {
		return cache, err
	}
	defer d.release()
	return d.wait()
}

// Stream is a remote version read while it is being fetched into the
// cache (see FetchStream). Its bytes are those of the remote file as they
// arrive: they are verified against the version (size, hash) only once
// all came, and a read after a failed verification fails.
type Stream struct {
	d    *download
	once sync.Once
}

// FetchStream is Fetch without waiting for the download: it returns the
// cache file when the version is already there, else a Stream that reads
// it as it arrives (the download goes on to the cache either way). It
// fails at once when the remote file cannot be opened.
func (p *Pair) FetchStream(path string, e tree.Entry) (string, *Stream, error) {
	cache, d, err := p.startFetch(path, e)
	if d == nil {
		return cache, nil, err
	}
	select {
	case <-d.done: // ended already: the cache has it, or it failed
		defer d.release()
		cache, err := d.wait()
		return cache, nil, err
	default:
	}
	return "", &Stream{d: d}, nil
}

// ReadAt reads len(b) bytes at off, waiting for them to arrive; fewer only
// at the end of the file. It fails when the download failed, or when ctx
// ends first.
func (s *Stream) ReadAt(ctx context.Context, b []byte, off int64) (int, error) {
	d := s.d
	for {
		d.mu.Lock()
		progress, wake, rd := d.progress, d.wake, d.rd
		var ended bool
		select {
		case <-d.done:
			ended = true
		default:
		}
		err := d.err
		d.mu.Unlock()
		switch {
		case ended && err != nil:
			return 0, fmt.Errorf("fetch %s: %w", d.path, err)
		case rd != nil && (ended || progress >= off+int64(len(b))):
			n, err := rd.ReadAt(b, off)
			if err == io.EOF {
				err = nil
			}
			return n, err
		case ended:
			return 0, fmt.Errorf("fetch %s: stream closed", d.path)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Wait waits for the end of the download and returns the cache file.
func (s *Stream) Wait() (string, error) { return s.d.wait() }

// Close releases the stream; the download goes on.
func (s *Stream) Close() error {
	s.once.Do(s.d.release)
	return nil
}
