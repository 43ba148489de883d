package agent

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
)

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
