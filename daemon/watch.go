package daemon

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
)

// A mount watches both sides instead of rescanning them at an interval:
// a local change refreshes the view from a local rescan, a remote change
// (reported by the agent) from a rescan of both sides. A side that cannot
// be watched (no agent on the remote, the watch limit reached, the
// connection lost) is rescanned every pollInterval instead, and a full
// rescan of both sides still runs every Options.Rescan as a safety net.
// Nothing runs while nothing changes.

// pollInterval is how often a side that is not watched is rescanned.
const pollInterval = 30 * time.Second

// watchState tells which sides are watched now.
type watchState struct {
	local, remote atomic.Bool
	swapped       chan struct{} // a new remote replica is in use
	localChanged  chan struct{}
	remoteChanged chan struct{}
}

func newWatchState() *watchState {
	return &watchState{swapped: make(chan struct{}, 1), localChanged: make(chan struct{}, 1), remoteChanged: make(chan struct{}, 1)}
}

// signal wakes whoever waits on ch, without waiting.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// startWatching starts watching both sides.
func (d *Daemon) startWatching() {
	go d.watchLocal()
	go d.watchRemote()
}

// watchLocal watches LOCAL for as long as the mount lives.
func (d *Daemon) watchLocal() {
	w, ok := d.pair.Local.(replica.Watcher)
	if !ok {
		return
	}
	d.watch.local.Store(true)
	err := w.Watch(d.ctx, func(c replica.Changes) {
		if c.Note != "" {
			d.watch.local.Store(false)
			fmt.Fprintf(d.opt.Log, "myrrorfs: %s; the local side is rescanned every %v\n", c.Note, pollInterval)
		}
		signal(d.watch.localChanged)
	})
	d.watch.local.Store(false)
	if d.ctx.Err() == nil {
		fmt.Fprintf(d.opt.Log, "myrrorfs: cannot watch the local side (%v); it is rescanned every %v\n", err, pollInterval)
	}
}

// watchRemote watches the remote replica in use, and the next one after a
// reconnection.
func (d *Daemon) watchRemote() {
	said := false
	for d.ctx.Err() == nil {
		r := d.pair.CurrentRemote()
		if w, ok := r.(replica.Watcher); ok {
			d.watch.remote.Store(true)
			err := w.Watch(d.ctx, func(c replica.Changes) {
				if c.Note != "" {
					d.watch.remote.Store(false)
					fmt.Fprintf(d.opt.Log, "myrrorfs: remote: %s; the remote side is rescanned every %v\n", c.Note, pollInterval)
				}
				signal(d.watch.remoteChanged)
			})
			d.watch.remote.Store(false)
			if d.ctx.Err() != nil {
				return
			}
			fmt.Fprintf(d.opt.Log, "myrrorfs: watching the remote side stopped (%v); it is rescanned every %v until reconnected\n", err, pollInterval)
			said = false
		} else if !said {
			fmt.Fprintf(d.opt.Log, "myrrorfs: the remote side cannot be watched without the myrrorfs agent; it is rescanned every %v\n", pollInterval)
			said = true
		}
		select {
		case <-d.ctx.Done():
			return
		case <-d.watch.swapped:
		}
	}
}

// rescanLoop refreshes the view when a side changed, rescans a side that
// is not watched every pollInterval, and both sides every Options.Rescan.
// A rescan a change calls for starts no sooner after the previous one
// than that one took, so a tree that keeps changing costs at most half a
// core of rescans whatever its size (changes meanwhile are taken in by
// the next one).
func (d *Daemon) rescanLoop() {
	t := time.NewTicker(min(pollInterval, d.opt.Rescan))
	defer t.Stop()
	last := time.Now()
	var rest time.Time // no rescan a change calls for starts before then
	paced := func(fn func()) bool {
		if wait := time.Until(rest); wait > 0 {
			select {
			case <-d.ctx.Done():
				return false
			case <-time.After(wait):
			}
		}
		start := time.Now()
		fn()
		rest = time.Now().Add(time.Since(start))
		return true
	}
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.watch.localChanged:
			if !paced(d.refreshLocal) {
				return
			}
			continue
		case <-d.watch.remoteChanged:
			if !paced(func() { d.rescan(&last) }) {
				return
			}
			continue
		case <-t.C:
			if d.watch.local.Load() && d.watch.remote.Load() && time.Since(last) < d.opt.Rescan {
				continue
			}
		}
		d.rescan(&last)
	}
}

// rescan rescans both sides and refreshes the view, noting when in last.
func (d *Daemon) rescan(last *time.Time) {
	*last = time.Now()
	if _, err := d.Rescan(d.ctx); err != nil {
		fmt.Fprintf(d.opt.Log, "myrrorfs: rescan: %v\n", err)
	}
}

// refreshLocal rescans the local side (the last remote scan standing in
// for the remote) and refreshes the view.
func (d *Daemon) refreshLocal() {
	d.mu.Lock()
	plan, err := d.pair.Refresh(d.ctx, false)
	if err == nil {
		d.takeMerges(plan)
	}
	gen := d.bases
	d.mu.Unlock()
	if err != nil {
		fmt.Fprintf(d.opt.Log, "myrrorfs: rescan of the local side: %v\n", err)
		return
	}
	d.show(plan, gen)
	d.prepareMerges(plan)
}
