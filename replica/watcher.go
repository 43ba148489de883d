package replica

import "context"

// Changes is one batch of changes a Watcher saw.
type Changes struct {
	// Paths changed (relative to the root; a directory may stand for
	// anything under it).
	Paths []string
	// Overflow: changes were lost, or could not be told; only a full
	// rescan is exact.
	Overflow bool
	// Note, once, says why part of the tree is not watched (its changes
	// are seen at rescans only).
	Note string
}

// Watcher is implemented by replicas that report changes as they happen,
// so that a long-running caller rescans only when something changed.
type Watcher interface {
	// Watch calls fn with each batch of changes under the root until ctx
	// ends (it then returns ctx's error) or watching fails. fn is called
	// from one goroutine, one batch at a time.
	Watch(ctx context.Context, fn func(Changes)) error
}
