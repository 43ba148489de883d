package readahead

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const (
	testChunk  = 1000
	testWindow = 4
)

var testOpts = Options{Chunk: testChunk, Window: testWindow}

// fakeFile is an io.ReaderAt over content that may change between reads,
// with a random delay per read so that reads complete out of order.
type fakeFile struct {
	mu       sync.Mutex
	data     []byte
	delay    time.Duration        // up to this much per read, at random
	failAt   int64                // a read at this offset fails with failErr (when failErr is set)
	failErr  error                //
	short    int                  // when > 0, reads return at most this many bytes, without an error
	onRead   func(off int64)      // called before each read, outside mu
	gate     map[int64]chan error // a read at one of these offsets waits for its channel
	inFlight int
	maxIn    int
	reads    []int64 // offsets asked for, in the order asked
}

func newFake(data []byte) *fakeFile { return &fakeFile{data: bytes.Clone(data)} }

func (f *fakeFile) ReadAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	f.inFlight++
	f.maxIn = max(f.maxIn, f.inFlight)
	f.reads = append(f.reads, off)
	gate := f.gate[off]
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.onRead != nil {
		f.onRead(off)
	}
	if f.delay > 0 {
		time.Sleep(rand.N(f.delay))
	}
	if gate != nil {
		if err := <-gate; err != nil {
			return 0, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failErr != nil && off == f.failAt {
		return 0, f.failErr
	}
	if off >= int64(len(f.data)) {
		return 0, io.EOF
	}
	n := copy(b, f.data[off:])
	if f.short > 0 && n > f.short {
		return f.short, nil
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// stats returns the most reads seen in flight at once and the offsets asked for.
func (f *fakeFile) stats() (maxIn int, reads []int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxIn, append([]int64(nil), f.reads...)
}

func (f *fakeFile) setData(b []byte) {
	f.mu.Lock()
	f.data = b
	f.mu.Unlock()
}

// pattern is n bytes that differ from one chunk to the next.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7+i/251) ^ seed
	}
	return b
}

// readers are the ways a caller takes a Reader's bytes.
var readers = map[string]func(r *Reader) ([]byte, error){
	"Read7": func(r *Reader) ([]byte, error) {
		var out []byte
		buf := make([]byte, 7)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
		}
	},
	"ReadAll": func(r *Reader) ([]byte, error) { return io.ReadAll(r) },
	"WriteTo": func(r *Reader) ([]byte, error) {
		var out bytes.Buffer
		n, err := r.WriteTo(&out)
		if n != int64(out.Len()) {
			return out.Bytes(), fmt.Errorf("WriteTo says %d bytes, wrote %d", n, out.Len())
		}
		return out.Bytes(), err
	},
}

// Every byte arrives, in order, whatever the size against the chunk and
// window, and whether the size given is right, wrong or unknown.
func TestWholeFiles(t *testing.T) {
	sizes := []int{0, 1, testChunk - 1, testChunk, testChunk + 1, 2 * testChunk, 2*testChunk + 1,
		testWindow * testChunk, testWindow*testChunk + 1, 5*testWindow*testChunk + 3}
	for _, size := range sizes {
		data := pattern(size, 0)
		for _, hint := range []int64{int64(size), -1, int64(size / 2), int64(2*size + 5)} {
			for name, read := range readers {
				f := newFake(data)
				f.delay = 200 * time.Microsecond
				r := New(f, hint, testOpts)
				got, err := read(r)
				r.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("size %d, size given %d, %s: %d bytes, equal %v, err %v", size, hint, name, len(got), bytes.Equal(got, data), err)
				}
				if maxIn, _ := f.stats(); maxIn > testWindow {
					t.Errorf("size %d, size given %d, %s: %d reads in flight, window %d", size, hint, name, maxIn, testWindow)
				}
			}
		}
	}
}

// With the right size given, a download asks for each chunk once and for
// one byte past the end, no more: a small file costs one read.
func TestNoReadBeyondTheEnd(t *testing.T) {
	for _, size := range []int{0, 1, testChunk - 1, testChunk, 3*testChunk + 5} {
		f := newFake(pattern(size, 0))
		r := New(f, int64(size), testOpts)
		if _, err := io.ReadAll(r); err != nil {
			t.Fatal(err)
		}
		if _, reads := f.stats(); len(reads) != size/testChunk+1 {
			t.Errorf("size %d: %d reads (%v), want %d", size, len(reads), reads, size/testChunk+1)
		}
	}
}

// Chunks that complete in reverse order are still delivered in order.
func TestOutOfOrder(t *testing.T) {
	data := pattern(testWindow*testChunk+10, 1)
	f := newFake(data)
	f.gate = map[int64]chan error{}
	for i := range testWindow {
		f.gate[int64(i*testChunk)] = make(chan error, 1)
	}
	r := New(f, int64(len(data)), testOpts)
	go func() {
		for i := testWindow - 1; i >= 0; i-- {
			time.Sleep(2 * time.Millisecond)
			f.gate[int64(i*testChunk)] <- nil
		}
	}()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%d bytes, equal %v, err %v", len(got), bytes.Equal(got, data), err)
	}
}

// An error mid-stream comes after exactly the bytes before it, even when
// later chunks arrived first, and stays.
func TestErrorMidStream(t *testing.T) {
	data := pattern(10*testChunk, 2)
	boom := errors.New("link lost")
	for name, read := range readers {
		f := newFake(data)
		f.failAt, f.failErr = 3*testChunk, boom
		f.gate = map[int64]chan error{3 * testChunk: make(chan error, 1)}
		go func() { time.Sleep(5 * time.Millisecond); f.gate[3*testChunk] <- nil }()
		r := New(f, int64(len(data)), testOpts)
		got, err := read(r)
		if !errors.Is(err, boom) || !bytes.Equal(got, data[:3*testChunk]) {
			t.Errorf("%s: %d bytes (equal to the first %d: %v), err %v; want %d bytes then %v",
				name, len(got), len(got), bytes.Equal(got, data[:len(got)]), err, 3*testChunk, boom)
		}
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, boom) {
			t.Errorf("%s: read after the error: %v, want %v again", name, err, boom)
		}
		r.Close()
	}
}

// A file that shrinks during the read gives fewer bytes than it had, all
// of them its first bytes: never a hole, never its old length.
func TestShrinksDuringRead(t *testing.T) {
	data := pattern(20*testChunk, 3)
	for name, read := range readers {
		f := newFake(data)
		f.delay = 100 * time.Microsecond
		var once sync.Once
		f.onRead = func(off int64) {
			if off >= 2*testChunk {
				once.Do(func() { f.setData(bytes.Clone(data[:7*testChunk+3])) })
			}
		}
		r := New(f, int64(len(data)), testOpts)
		got, err := read(r)
		if err != nil || len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
			t.Errorf("%s: %d bytes of %d, a prefix %v, err %v; want fewer, a prefix", name, len(got), len(data), bytes.Equal(got, data[:min(len(got), len(data))]), err)
		}
	}
}

// A file that grows during the read is read to its new end, or to its old
// one if the end was seen first; the bytes are its first bytes either way.
func TestGrowsDuringRead(t *testing.T) {
	old := pattern(5*testChunk+1, 4)
	grown := append(bytes.Clone(old), pattern(3*testChunk, 5)...)
	for name, read := range readers {
		for _, at := range []int64{0, 4 * testChunk, 5 * testChunk} {
			f := newFake(old)
			var once sync.Once
			f.onRead = func(off int64) {
				if off >= at {
					once.Do(func() { f.setData(bytes.Clone(grown)) })
				}
			}
			r := New(f, int64(len(old)), testOpts)
			got, err := read(r)
			if err != nil || len(got) < len(old) || !bytes.Equal(got, grown[:len(got)]) {
				t.Errorf("%s, grown at %d: %d bytes (old %d, new %d), a prefix %v, err %v", name, at, len(got), len(old), len(grown), bytes.Equal(got, grown[:min(len(got), len(grown))]), err)
			}
		}
	}
}

// A read that comes back short without an error (a server that gives less
// than asked) ends the file there: nothing after it is delivered, so the
// bytes never have a hole.
func TestShortReadEnds(t *testing.T) {
	data := pattern(10*testChunk, 6)
	for name, read := range readers {
		f := newFake(data)
		f.short = testChunk / 2
		r := New(f, int64(len(data)), testOpts)
		got, err := read(r)
		if err != nil || !bytes.Equal(got, data[:testChunk/2]) {
			t.Errorf("%s: %d bytes, err %v; want the first %d", name, len(got), err, testChunk/2)
		}
	}
}

// Close wakes a Read waiting for a chunk, and later reads fail.
func TestCloseWhileReading(t *testing.T) {
	f := newFake(pattern(3*testChunk, 7))
	f.gate = map[int64]chan error{0: make(chan error, 1)}
	r := New(f, -1, testOpts)
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(5 * time.Millisecond)
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read during Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still waits after Close")
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	f.gate[0] <- nil
}
