package daemon

import (
	"sort"
	"testing"

	"github.com/hanwen/go-fuse/v2/posixtest"
)

// posixExcluded lists the posixtest tests that cannot apply to the merged
// view, with the reason. Every other test of the suite runs.
var posixExcluded = map[string]string{
	// The view implements no fs.NodeTmpfiler: open(O_TMPFILE) gets
	// EOPNOTSUPP and the test would skip itself. A nameless file has
	// nothing to sync; supporting it means creating it in the local tree.
	"Tmpfile": "O_TMPFILE is not implemented by the view",
	// It races a file against a symlink to the machine's real /etc/passwd:
	// a regression in the view could damage the test machine itself.
	// TestSymlinkRace runs the same race against a throwaway file, with
	// writes as well as reads.
	"OpenSymlinkRace": "aims at the real /etc/passwd; TestSymlinkRace runs it against a throwaway file",
}

// TestPosix runs go-fuse's POSIX suite on the mount of an empty synced
// pair, each test on a fresh mount.
func TestPosix(t *testing.T) {
	names := make([]string, 0, len(posixtest.All))
	for name := range posixtest.All {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if why, ok := posixExcluded[name]; ok {
			t.Logf("%s: excluded: %s", name, why)
			continue
		}
		fn := posixtest.All[name]
		t.Run(name, func(t *testing.T) {
			f := setup(t, scenario{})
			f.commitWant(t, 0)
			fn(t, f.mnt)
		})
	}
}
