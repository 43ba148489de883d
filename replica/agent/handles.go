package agent

import (
	"fmt"
	"sync"
)

// maxHandles bounds the files a session holds open on the agent, for
// reading and for writing each.
const maxHandles = 4096

// handles are the files a session holds open, by the handle number the
// client chose for each.
type handles[T any] struct {
	mu   sync.Mutex
	open map[uint64]T
	what string // "files open for reading", "temporaries"
}

func newHandles[T any](what string) handles[T] {
	return handles[T]{open: map[uint64]T{}, what: what}
}

// free checks that handle h can be opened: not in use, and the session
// below its limit. op names the request for the error.
func (hs *handles[T]) free(h uint64, op string) *remoteError {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, dup := hs.open[h]; dup {
		return &remoteError{Msg: fmt.Sprintf("%s: handle %d is in use", op, h)}
	}
	if n := len(hs.open); n >= maxHandles {
		return &remoteError{Msg: fmt.Sprintf("%s: %d %s already", op, n, hs.what)}
	}
	return nil
}

func (hs *handles[T]) put(h uint64, v T) {
	hs.mu.Lock()
	hs.open[h] = v
	hs.mu.Unlock()
}

func (hs *handles[T]) get(h uint64) (T, bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	v, ok := hs.open[h]
	return v, ok
}

// take removes handle h and returns what it held.
func (hs *handles[T]) take(h uint64) (T, bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	v, ok := hs.open[h]
	delete(hs.open, h)
	return v, ok
}

// drain removes every handle and returns what they held.
func (hs *handles[T]) drain() []T {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	out := make([]T, 0, len(hs.open))
	for h, v := range hs.open {
		out = append(out, v)
		delete(hs.open, h)
	}
	return out
}
