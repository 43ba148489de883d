package engine

import "github.com/myrrorfs/myrrorfs/replica"

// CurrentRemote returns the remote replica in use (SetRemote and
// Reconnect replace it), for a caller that watches it.
func (p *Pair) CurrentRemote() replica.Replica { return p.remote() }
