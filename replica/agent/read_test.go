package agent

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The agent answers reads without garbage (answerRead) only while it
// knows how a response is laid out.
func TestReadLayoutKnown(t *testing.T) {
	if !readLayoutKnown {
		t.Fatal("the response layout changed: update answerRead")
	}
}

// BenchmarkDownload256MiB reads 256 MiB through Open and io.Copy and
// checks every byte.
func BenchmarkDownload256MiB(b *testing.B) {
	const size = 256 << 20
	r, dir := dialTest(b)
	data := make([]byte, size)
	x := uint64(88172645463325252)
	for i := range data {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		data[i] = byte(x)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	want := sha256.Sum256(data)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		rc, err := r.Open("big")
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != size || !bytes.Equal(h.Sum(nil), want[:]) {
			b.Fatalf("downloaded %d bytes (%v), or content differs", n, err)
		}
	}
}

// BenchmarkPipeDownload256MiB is BenchmarkDownload256MiB with the agent in
// this process, over pipes: the cost of the protocol alone, without ssh.
func BenchmarkPipeDownload256MiB(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	a := startPipeAgent(b, func(r io.Reader, w io.Writer) { Serve(r, w, dir) })
	r, err := openPipe(a)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		rc, err := r.Open("big")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("downloaded %d bytes (%v)", n, err)
		}
	}
}
