package sftp

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const benchSize = 64 << 20

// benchData returns benchSize bytes that do not compress.
func benchData() []byte {
	b := make([]byte, benchSize)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// BenchmarkUpload64MiB writes 64 MiB through CreateTemp and io.Copy and
// checks what arrived on disk.
func BenchmarkUpload64MiB(b *testing.B) {
	r, dir := dialTest(b)
	data := benchData()
	want := sha256.Sum256(data)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		p, w, err := r.CreateTemp("", 0o644)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || sha256.Sum256(got) != want {
			b.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
		}
		os.Remove(filepath.Join(dir, p))
		b.StartTimer()
	}
}

// BenchmarkDownload64MiB reads 64 MiB through Open and io.Copy and checks
// every byte (downloads must never be truncated).
func BenchmarkDownload64MiB(b *testing.B) {
	r, dir := dialTest(b)
	data := benchData()
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	want := sha256.Sum256(data)
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		rc, err := r.Open("big")
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != benchSize || !bytes.Equal(h.Sum(nil), want[:]) {
			b.Fatalf("downloaded %d bytes (%v), or content differs", n, err)
		}
	}
}
