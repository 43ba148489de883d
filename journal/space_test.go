package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"golang.org/x/sys/unix"
)

// fill writes a file in dir until its filesystem has about left bytes free.
func fill(t *testing.T, dir string, left int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	n := int64(st.Bavail)*int64(st.Bsize) - left
	if n <= 0 {
		return
	}
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := f.Write(buf[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
}

// A state directory on a filesystem with too little space is refused with
// an error, not opened for badger to die of SIGBUS later.
func TestOpenNeedsFreeSpace(t *testing.T) {
	state := testenv.Tmpfs(t, 4<<20)
	_, err := Open(state, testIdentity, "test")
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Open on a 4 MiB filesystem: %v", err)
	}
}

// Large writes check the free space as they go: a filesystem filled while
// the journal is open stops them with an error, never a fault in badger.
func TestBatchStopsWhenSpaceRunsOut(t *testing.T) {
	state := testenv.Tmpfs(t, 96<<20)
	db := openTest(t, state)
	fill(t, state, 6<<20)
	b := db.NewBatch()
	defer b.Cancel()
	var err error
	for i := 0; i < 400000 && err == nil; i++ {
		err = b.Put(fmt.Sprintf("dir%d/file%d", i%100, i), fileRecord(i))
	}
	if err == nil {
		err = b.Flush()
	}
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("400k records with 6 MiB free: %v", err)
	}
}
