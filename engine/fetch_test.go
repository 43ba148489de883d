package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// openResident opens a pair as a mount does: it keeps its scans.
func openResident(t *testing.T, l, r, state string) *Pair {
	t.Helper()
	p, err := Open(context.Background(), l, r, Options{StateDir: state, Holder: "test", Resident: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// gatedRemote is a remote whose downloads deliver their first `head`
// bytes at once and the rest only once gate is closed; it counts opens.
type gatedRemote struct {
	replica.Replica
	head  int
	gate  chan struct{}
	opens *atomic.Int32
}

func (g gatedRemote) Open(p string) (io.ReadCloser, error) {
	g.opens.Add(1)
	rc, err := g.Replica.Open(p)
	if err != nil {
		return nil, err
	}
	return &gatedReader{ReadCloser: rc, left: g.head, gate: g.gate}, nil
}

type gatedReader struct {
	io.ReadCloser
	left int
	gate chan struct{}
}

func (r *gatedReader) Read(b []byte) (int, error) {
	if r.left == 0 {
		<-r.gate
	} else if len(b) > r.left {
		b = b[:r.left]
	}
	n, err := r.ReadCloser.Read(b)
	r.left = max(0, r.left-n)
	return n, err
}

// streamPair is a pair whose remote holds file f of size bytes, scanned,
// with downloads gated after head bytes.
func streamPair(t *testing.T, size, head int) (p *Pair, g gatedRemote, content []byte, e tree.Entry) {
	t.Helper()
	l, r, state := newPairDirs(t, snapshot{})
	content = make([]byte, size)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	if err := os.WriteFile(filepath.Join(r, "f"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	p = openResident(t, l, r, state)
	if _, err := p.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, ok := p.LastRemote("f")
	if !ok || s.Entry.Hash.IsZero() {
		t.Fatalf("remote f not scanned with its hash: %+v", s)
	}
	g = gatedRemote{Replica: p.Remote, head: head, gate: make(chan struct{}), opens: new(atomic.Int32)}
	p.Remote = g
	return p, g, content, s.Entry
}

// A stream gives the first bytes of a remote version before the rest has
// arrived; a Fetch meanwhile shares the download; the version ends up in
// the cache, verified.
func TestFetchStreamReadsFirstBytesEarly(t *testing.T) {
	const size, head = 3<<20 + 5, 64 << 10
	p, g, content, e := streamPair(t, size, head)
	cache, s, err := p.FetchStream("f", e)
	if err != nil || s == nil {
		t.Fatalf("FetchStream = %q, %v, %v; want a stream", cache, s, err)
	}
	defer s.Close()
	b := make([]byte, 4096)
	if n, err := s.ReadAt(context.Background(), b, 100); err != nil || n != len(b) || !bytes.Equal(b, content[100:100+len(b)]) {
		t.Fatalf("first bytes: %d, %v, equal %v", n, err, bytes.Equal(b[:n], content[100:100+n]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if _, err := s.ReadAt(ctx, b, head); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read past what arrived = %v; want it to wait", err)
	}
	cancel()
	fetched := make(chan error, 1)
	go func() {
		got, err := p.Fetch("f", e)
		if err == nil {
			var b []byte
			if b, err = os.ReadFile(got); err == nil && !bytes.Equal(b, content) {
				err = errors.New("cache differs")
			}
		}
		fetched <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(g.gate)
	if err := <-fetched; err != nil {
		t.Fatalf("Fetch during the stream: %v", err)
	}
	if dst, err := s.Wait(); err != nil || filepath.Base(dst) != e.Hash.String() {
		t.Fatalf("Wait = %q, %v; want the cache file named by the hash", dst, err)
	}
	tail := make([]byte, 100)
	if n, err := s.ReadAt(context.Background(), tail, size-10); err != nil || n != 10 || !bytes.Equal(tail[:n], content[size-10:]) {
		t.Fatalf("read at the end: %d, %v", n, err)
	}
	if n := g.opens.Load(); n != 1 {
		t.Fatalf("the remote file was opened %d times; want one download", n)
	}
	if cache, s2, err := p.FetchStream("f", e); err != nil || s2 != nil || cache == "" {
		t.Fatalf("FetchStream of a cached version = %q, %v, %v; want the cache file", cache, s2, err)
	}
}

// A version that changed on the remote since its scan fails the stream
// once all of it arrived, and never joins the cache.
func TestFetchStreamChangedFails(t *testing.T) {
	const size, head = 1 << 20, 8 << 10
	p, g, content, e := streamPair(t, size, head)
	changed := bytes.Clone(content)
	changed[size-1] ^= 0xff
	r := p.RemoteSpec.Path
	if err := os.WriteFile(filepath.Join(r, "f"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	_, s, err := p.FetchStream("f", e)
	if err != nil || s == nil {
		t.Fatalf("FetchStream = %v, %v", s, err)
	}
	defer s.Close()
	close(g.gate)
	if _, err := s.Wait(); !errors.Is(err, ErrChanged) {
		t.Fatalf("Wait = %v; want ErrChanged", err)
	}
	if _, err := s.ReadAt(context.Background(), make([]byte, 10), 0); !errors.Is(err, ErrChanged) {
		t.Fatalf("read after a failed verification = %v; want ErrChanged", err)
	}
	if _, err := os.Stat(filepath.Join(p.CacheDir(), e.Hash.String())); !os.IsNotExist(err) {
		t.Fatalf("changed content in the cache: %v", err)
	}
	if _, err := p.Fetch("f", e); !errors.Is(err, ErrChanged) {
		t.Fatalf("Fetch again = %v; want a new download, failing the same way", err)
	}
	if n := g.opens.Load(); n != 2 {
		t.Fatalf("%d downloads; want 2", n)
	}
}

// A version the scan did not hash (plain SFTP) is downloaded once: the
// hash the download learned names it in the cache afterwards.
func TestFetchUnhashedOnce(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{})
	os.WriteFile(filepath.Join(r, "f"), []byte("remote content"), 0o644)
	p := openResident(t, l, r, state)
	var opens atomic.Int32
	p.Remote = lazyReplica{Replica: p.Remote, onRead: func(string) { opens.Add(1) }}
	if _, err := p.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, _ := p.LastRemote("f")
	if !s.Entry.Hash.IsZero() {
		t.Fatal("the lazy scan hashed f")
	}
	for range 2 {
		got, err := p.Fetch("f", s.Entry)
		if b, _ := os.ReadFile(got); err != nil || string(b) != "remote content" {
			t.Fatalf("Fetch = %q (%q), %v", got, b, err)
		}
	}
	if n := opens.Load(); n != 1 {
		t.Fatalf("%d downloads of one version; want 1", n)
	}
}
