package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrNoJournal is returned by MoveAside when the pair has no journal.
var ErrNoJournal = errors.New("no journal")

// MoveAside moves the journal of the pair named by identity out of the way,
// keeping it: PairDir(stateDir, identity) is renamed, in the same
// directory, to its name followed by ".aside-" and the time (UTC), and
// that name is returned. The next Open starts an empty journal. It fails,
// with an error wrapping ErrLocked that names the holder, while another
// process holds the pair, and with ErrNoJournal when there is none.
func MoveAside(stateDir, identity string, now time.Time) (string, error) {
	dir := PairDir(stateDir, identity)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w for this pair in %s", ErrNoJournal, stateDir)
	} else if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	lock, err := lockPair(dir)
	if err != nil {
		return "", fmt.Errorf("journal %s: %w", dir, err)
	}
	defer lock.unlock()
	base := dir + ".aside-" + now.UTC().Format("20060102T150405Z")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(dir, aside); err != nil {
		return "", fmt.Errorf("journal: move aside: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dir)); err == nil {
		d.Sync()
		d.Close()
	}
	return aside, nil
}
