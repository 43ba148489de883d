package fusefs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/fusefs"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// streamBackend serves a view from an engine pair like the daemon,
// remote versions streamed as they arrive.
type streamBackend struct {
	mu sync.Mutex
	p  *engine.Pair
}

func (b *streamBackend) Refresh() ([]reconcile.Decision, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	plan, err := b.p.Refresh(context.Background(), true)
	if err != nil {
		return nil, err
	}
	return plan.Decisions, nil
}

func (b *streamBackend) Fetch(path string, e tree.Entry) (string, error) { return b.p.Fetch(path, e) }

func (b *streamBackend) FetchStream(path string, e tree.Entry) (string, fusefs.Stream, error) {
	cache, s, err := b.p.FetchStream(path, e)
	if s == nil {
		return cache, nil, err
	}
	return cache, s, err
}

func (b *streamBackend) SetBases(cs []fusefs.BaseChange) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p.SetBases(cs)
}

func (b *streamBackend) BackupLocal(path string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p.BackupLocal(path)
}

// slowRemote is a remote whose downloads deliver their first head bytes
// at once and the rest once gate is closed.
type slowRemote struct {
	replica.Replica
	head int
	gate chan struct{}
}

func (s slowRemote) Open(p string) (io.ReadCloser, error) {
	rc, err := s.Replica.Open(p)
	if err != nil {
		return nil, err
	}
	return &slowReader{ReadCloser: rc, left: s.head, gate: s.gate}, nil
}

type slowReader struct {
	io.ReadCloser
	left int
	gate chan struct{}
}

func (r *slowReader) Read(b []byte) (int, error) {
	if r.left == 0 {
		<-r.gate
	} else if len(b) > r.left {
		b = b[:r.left]
	}
	n, err := r.ReadCloser.Read(b)
	r.left = max(0, r.left-n)
	return n, err
}

// mountStreaming mounts the view of a pair whose remote holds big (size
// bytes) only, its downloads held after head bytes until the returned
// gate is closed; afterwards the remote's copy of big is set to onRemote
// when given (a change the scan did not see).
func mountStreaming(t *testing.T, content, onRemote []byte, head int) (mnt string, release func()) {
	t.Helper()
	testenv.FUSE(t)
	dir := t.TempDir()
	local, remote := filepath.Join(dir, "l"), filepath.Join(dir, "r")
	mnt = filepath.Join(dir, "m")
	for _, d := range []string{local, remote, mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(remote, "big"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := engine.Open(context.Background(), local, remote, engine.Options{StateDir: filepath.Join(dir, "s"), Resident: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	b := &streamBackend{p: p}
	ds, err := b.Refresh()
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	p.Remote = slowRemote{Replica: p.Remote, head: head, gate: gate}
	if onRemote != nil {
		if err := os.WriteFile(filepath.Join(remote, "big"), onRemote, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lt, ok := p.Local.(fusefs.Tree)
	if !ok {
		t.Fatal("the local replica cannot back a view")
	}
	v, err := fusefs.New(local, b, lt, ds)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := v.Mount(mnt, fusefs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		v.Close()
	})
	// a read blocked on the gate ends before the unmount
	t.Cleanup(release)
	return mnt, release
}

// within runs fn and fails t if it takes longer than d.
func within(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %v", what, d)
	}
}

// streamContent is size bytes that differ from one block to the next.
func streamContent(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// The first bytes of a remote-only file read through the view come while
// the rest is still on its way; the whole file follows, and an open once
// it is in the cache reads the same.
func TestStreamFirstBytesEarly(t *testing.T) {
	const size, head = 4<<20 + 3, 256 << 10
	content := streamContent(size)
	mnt, release := mountStreaming(t, content, nil, head)
	f, err := os.Open(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	first := make([]byte, 64<<10)
	within(t, 10*time.Second, "read the first bytes while the download hangs", func() error {
		if _, err := io.ReadFull(f, first); err != nil {
			return err
		}
		if !bytes.Equal(first, content[:len(first)]) {
			return errors.New("the first bytes differ")
		}
		return nil
	})
	other := make([]byte, 1000)
	within(t, 10*time.Second, "a second open reads them too", func() error {
		g, err := os.Open(filepath.Join(mnt, "big"))
		if err != nil {
			return err
		}
		defer g.Close()
		if _, err := g.ReadAt(other, 5000); err != nil || !bytes.Equal(other, content[5000:6000]) {
			return errors.New("the second open read other bytes")
		}
		return nil
	})
	release()
	within(t, 20*time.Second, "read the rest", func() error {
		rest, err := io.ReadAll(f)
		if err != nil {
			return err
		}
		if !bytes.Equal(append(first, rest...), content) {
			return errors.New("the file read through the view differs")
		}
		return nil
	})
	within(t, 20*time.Second, "read it again from the cache", func() error {
		got, err := os.ReadFile(filepath.Join(mnt, "big"))
		if err == nil && !bytes.Equal(got, content) {
			err = errors.New("the cached file read through the view differs")
		}
		return err
	})
}

// A remote file that changed since the scan is shown as it arrives, but
// once the download fails its check reads fail: the view never serves it
// as the version it showed.
func TestStreamChangedFails(t *testing.T) {
	const size, head = 1 << 20, 64 << 10
	content := streamContent(size)
	changed := bytes.Clone(content)
	changed[size-1] ^= 0xff
	mnt, release := mountStreaming(t, content, changed, head)
	f, err := os.Open(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	within(t, 10*time.Second, "read the first bytes", func() error {
		_, err := io.ReadFull(f, make([]byte, 4096))
		return err
	})
	release()
	var err2 error
	within(t, 20*time.Second, "read the rest", func() error {
		_, err2 = io.ReadAll(f)
		return nil
	})
	if !errors.Is(err2, syscall.EIO) {
		t.Fatalf("reading a version that failed its check: %v; want EIO", err2)
	}
}
