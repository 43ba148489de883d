package agent

import (
	"context"
	"fmt"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Watching the remote tree (a watch request, since protocol 5): the agent
// watches its root as replica/local does and sends each batch of changed
// paths as a batch of the request's answer, for as long as the connection
// lasts, so a mount learns of a remote change within about a second
// without listing the tree again while nothing changes.

var _ replica.Watcher = (*Replica)(nil)

// Watch reports the changes under the remote root as the agent sees them.
// A changed path that is not a valid relative path (a hostile or broken
// agent) is never passed on: the batch becomes an overflow (rescan all).
func (r *Replica) Watch(ctx context.Context, fn func(replica.Changes)) error {
	st, err := r.c.stream(request{Op: opWatch})
	if err != nil {
		return err
	}
	defer st.drop()
	for {
		batch, end, err := st.next(ctx)
		switch {
		case err != nil:
			return err
		case end != nil && end.Err != nil:
			return fmt.Errorf("agent on %s: watch: %w", r.c.host, end.Err)
		case end != nil:
			return fmt.Errorf("agent on %s: watch ended", r.c.host)
		}
		fn(decodeChanges(batch))
	}
}

// encodeChanges is a batch of a watch's answer: overflow, note, then each
// path.
func encodeChanges(c replica.Changes) []byte {
	var e encoder
	if c.Overflow {
		e.u8(1)
	} else {
		e.u8(0)
	}
	e.str(c.Note)
	e.u32(uint32(len(c.Paths)))
	for _, p := range c.Paths {
		e.str(p)
	}
	return e.b
}

// decodeChanges reads what encodeChanges wrote; anything malformed or
// invalid asks for a full rescan.
func decodeChanges(b []byte) replica.Changes {
	d := decoder{b: b}
	c := replica.Changes{Overflow: d.u8() != 0, Note: d.str()}
	n := d.u32()
	for i := uint32(0); i < n && d.err == nil; i++ {
		p := d.str()
		if tree.ValidPath(p) != nil {
			c.Overflow = true
			continue
		}
		c.Paths = append(c.Paths, p)
	}
	if d.end() != nil {
		c.Overflow = true
	}
	return c
}

// watch answers a watch request: batches until the session ends.
func (s *server) watch(q request) response {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // ends with the watch or the session, whichever first
		select {
		case <-s.ended:
			cancel()
		case <-ctx.Done():
		}
	}()
	var sendErr error
	err := s.loc.Watch(ctx, func(c replica.Changes) {
		if sendErr == nil {
			sendErr = s.fw.write(chanAgent, (&response{ID: q.ID, Batch: encodeChanges(c)}).marshal())
			if sendErr != nil {
				cancel()
			}
		}
	})
	if sendErr != nil {
		err = sendErr
	}
	return errResponse(err)
}
