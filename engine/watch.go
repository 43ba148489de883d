package engine

import (
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
)

// journalIdle is how long the journal of a resident pair (a mount) stays
// open without use (see journal.DB.SetIdleClose).
const journalIdle = 10 * time.Second

// CurrentRemote returns the remote replica in use (SetRemote and
// Reconnect replace it), for a caller that watches it.
func (p *Pair) CurrentRemote() replica.Replica { return p.remote() }

// Identity names the pair (localArg, remoteArg) as its journal does, for
// a process that serves requests about the pair it holds (sync --watch).
func Identity(localArg, remoteArg string) (string, error) {
	ls, rs, err := resolvePair(localArg, remoteArg)
	if err != nil {
		return "", err
	}
	return identity(ls, rs), nil
}
