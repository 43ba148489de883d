package local

import (
	"context"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/tree"
	"github.com/myrrorfs/myrrorfs/watch"
)

var _ replica.Watcher = (*Replica)(nil)

// Watch reports the changes under the root as they happen (see package
// watch); myrrorfs's own directories (tree.Internal) are not watched.
func (r *Replica) Watch(ctx context.Context, fn func(replica.Changes)) error {
	w, err := watch.New(r.root, watch.Options{Skip: tree.Internal})
	if err != nil {
		return err
	}
	defer w.Close()
	noted := false
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case b, ok := <-w.Batches():
			if !ok {
				return ctx.Err()
			}
			c := replica.Changes{Paths: b.Paths, Overflow: b.Overflow}
			if err := w.Incomplete(); err != nil && !noted {
				c.Note, noted = err.Error(), true
			}
			fn(c)
		}
	}
}
