package journal

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrNoSpace is wrapped by the errors of a journal whose filesystem has too
// little free space.
var ErrNoSpace = errors.New("no space")

// Badger writes its logs and tables through memory mapped over sparse
// files: when the filesystem fills, a write faults (SIGBUS) in one of
// badger's own goroutines, where nothing can recover it. So the journal
// insists on free space before it opens and, every checkEvery bytes, while
// a Batch writes.
const (
	// reserve is the free space the journal wants: the two memtable logs
	// (8 MiB each, see badgerOptions) and the table a flush writes, with
	// room for a compaction.
	reserve = 32 << 20
	// checkEvery is how many bytes of records a Batch takes between two
	// checks.
	checkEvery = 1 << 20
)

// checkSpace checks that the filesystem of dir, which holds the journal of
// a pair, has reserve bytes free. When its free space cannot be read, it
// says nothing.
func checkSpace(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil
	}
	if free := int64(st.Bavail) * int64(st.Bsize); free < reserve {
		return fmt.Errorf("journal %s: %w: %s free on its filesystem, it needs %s (free some space, or give another --state)",
			dir, ErrNoSpace, mib(free), mib(reserve))
	}
	return nil
}

// mib prints a size in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
