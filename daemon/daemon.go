// Package daemon runs a mount: it holds a pair open, shows its merged view
// through fusefs, follows the changes of both sides (see watch.go), and serves status, conflicts and
// commit requests from other myrrorfs processes over a unix socket.
package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/fusefs"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
	"golang.org/x/sys/unix"
)

// Options configure a mount.
type Options struct {
	Local, Remote string // as given by the user
	Mountpoint    string
	Engine        engine.Options
	Rescan        time.Duration // interval of the full rescans of both sides, a safety net (changes are watched); 0 means an hour
	Debug         bool          // log FUSE requests
	AllowOther    bool          // -o allow_other,default_permissions
	// ConflictNames is how the view names conflict siblings (p.local, or
	// report.local.docx).
	ConflictNames fusefs.NameStyle
	Log           io.Writer // diagnostics; nil discards them
}

// Daemon is a running mount.
type Daemon struct {
	opt    Options
	mnt    string
	pair   *engine.Pair
	view   *fusefs.View
	server *fuse.Server

	mu     sync.Mutex // guards pair, bases and merges
	scan   sync.Mutex // one remote scan at a time, and none during a commit; taken before mu
	bases  uint64     // counts the gestures' moves of bases
	merges mergeIndex // the merges of the latest plan
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	watch  *watchState
}

// SocketPath is where the daemon of a mountpoint listens, under the state
// directory: one socket per (canonical) mountpoint.
func SocketPath(stateDir, mountpoint string) string {
	if stateDir == "" {
		stateDir = engine.DefaultStateDir()
	}
	sum := sha256.Sum256([]byte(mountpoint))
	return filepath.Join(stateDir, "mounts", hex.EncodeToString(sum[:8])+".sock")
}

// Start opens the pair, scans both sides, mounts the view and returns once
// the mount is live.
func Start(ctx context.Context, opt Options) (_ *Daemon, err error) {
	if opt.Rescan <= 0 {
		opt.Rescan = time.Hour
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	mnt, err := prepareMountpoint(opt.Mountpoint)
	if err != nil {
		return nil, err
	}
	d := &Daemon{opt: opt, mnt: mnt, done: make(chan struct{}), watch: newWatchState()}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if opt.Engine.Holder == "" {
		opt.Engine.Holder = fmt.Sprintf("mount at %s (pid %d)", mnt, os.Getpid())
	}
	opt.Engine.Resident = true
	if d.pair, err = engine.Open(ctx, opt.Local, opt.Remote, opt.Engine); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.pair.Close()
		}
	}()
	if err := d.pair.CheckMountpoint(mnt); err != nil {
		return nil, err
	}
	plan, err := scanMerged(ctx, d.pair)
	if err != nil {
		return nil, err
	}
	d.takeMerges(plan)
	lt, ok := d.pair.Local.(fusefs.Tree)
	if !ok {
		return nil, fmt.Errorf("%s: the local side cannot be shown in a view", opt.Local)
	}
	if d.view, err = fusefs.New(d.pair.LocalSpec.Path, (*backend)(d), lt, plan.Decisions); err != nil {
		return nil, err
	}
	d.server, err = d.view.Mount(mnt, fusefs.MountOptions{FsName: d.pair.RemoteSpec.String(), Debug: opt.Debug, AllowOther: opt.AllowOther,
		ConflictNames: opt.ConflictNames,
		// a pull mount shows REMOTE, and commit would undo any local edit
		ReadOnly: opt.Engine.Policy.Mode == reconcile.Pull})
	if err != nil {
		d.view.Close()
		return nil, fmt.Errorf("mount %s: %w", opt.Mountpoint, err)
	}
	d.startWatching()
	go d.rescanLoop()
	go func() {
		d.server.Wait()
		d.cancel()
		close(d.done)
	}()
	return d, nil
}

// prepareMountpoint checks the mountpoint and recovers a stale mount left
// by a killed daemon ("transport endpoint is not connected").
func prepareMountpoint(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	var st syscall.Stat_t
	err = syscall.Stat(abs, &st)
	if errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) {
		if uerr := unix.Unmount(abs, unix.MNT_DETACH); uerr != nil {
			return "", fmt.Errorf("%s: stale mount could not be removed: %w", p, uerr)
		}
		err = syscall.Stat(abs, &st)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return "", fmt.Errorf("%s: not a directory", p)
	}
	return abs, nil
}

// Mountpoint returns the absolute mountpoint.
func (d *Daemon) Mountpoint() string { return d.mnt }

// Siblings returns the view paths of a conflict's two versions.
func (d *Daemon) Siblings(path string) (local, remote string) {
	return d.view.Siblings(path)
}

// MergedSibling returns the view path of a conflict's merge, p.merged
// ("" when the view shows none).
func (d *Daemon) MergedSibling(path string) string {
	return d.view.MergedSibling(path)
}

// Wait blocks until the view is unmounted.
func (d *Daemon) Wait() { <-d.done }

// Unmount unmounts the view; Wait then returns.
func (d *Daemon) Unmount() error {
	err := d.server.Unmount()
	if err != nil {
		// busy: detach, so the mount goes away once no longer used
		if uerr := unix.Unmount(d.mnt, unix.MNT_DETACH); uerr == nil {
			err = nil
		}
	}
	return err
}

// Close releases the pair once the view is unmounted.
func (d *Daemon) Close() error {
	d.cancel()
	d.view.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pair.Close()
}

// Rescan rescans both sides (reconnecting to the remote if needed) and
// refreshes the view. If the remote cannot be reached, the local side is
// rescanned all the same and the error is returned. The remote side is
// scanned (and reconnected) without holding the pair, so the view's
// gestures go on whatever the remote does meanwhile.
func (d *Daemon) Rescan(ctx context.Context) (*engine.Plan, error) {
	d.scan.Lock()
	defer d.scan.Unlock()
	rs, err := d.pair.ScanRemote(ctx)
	if err != nil {
		if r, rerr := d.pair.DialRemote(ctx); rerr == nil {
			d.mu.Lock()
			d.pair.SetRemote(r)
			d.mu.Unlock()
			signal(d.watch.swapped)
			rs, err = d.pair.ScanRemote(ctx)
		}
	}
	d.mu.Lock()
	var plan, view *engine.Plan
	if err == nil {
		plan, err = d.pair.RefreshWith(ctx, rs)
		view = plan
	}
	if err != nil {
		plan = nil
		view, _ = d.pair.Refresh(ctx, false)
	}
	d.takeMerges(view)
	gen := d.bases
	d.mu.Unlock()
	if view != nil {
		d.show(view, gen)
		d.prepareMerges(view)
	}
	return plan, err
}

// scanMerged scans both sides of a resident pair, whose scans read no
// version, and again the local side when that found merges to take.
func scanMerged(ctx context.Context, p *engine.Pair) (*engine.Plan, error) {
	plan, err := p.Refresh(ctx, true)
	if err == nil && p.PrepareMerges(ctx, plan.Decisions) {
		plan, err = p.Refresh(ctx, false)
	}
	return plan, err
}

// prepareMerges merges, without holding the pair, the text conflicts of
// plan that no scan merged yet (a scan of the mount reads no version: see
// engine.Pair.PrepareMerges), then refreshes the view to take them.
func (d *Daemon) prepareMerges(plan *engine.Plan) {
	if d.pair.PrepareMerges(d.ctx, plan.Decisions) {
		d.refreshLocal()
	}
}

// takeMerges carries out the clean text merges of plan (nil: none) in
// LOCAL, so that the view shows each merged path as one file holding the
// merge; called with d.mu held.
func (d *Daemon) takeMerges(plan *engine.Plan) {
	if plan == nil {
		return
	}
	for _, pr := range d.pair.TakeMerges(plan) {
		fmt.Fprintf(d.opt.Log, "myrrorfs: %v\n", pr)
	}
	d.merges = indexMerges(plan)
}

// show installs a plan's decisions in the view unless a gesture moved a
// base since they were computed (when bases was gen): then the view
// reloads instead, so a resolution never disappears from it.
func (d *Daemon) show(plan *engine.Plan, gen uint64) {
	d.view.UpdateIf(plan.Decisions, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.bases == gen
	})
}

// rescanLocked is Rescan's scan, under d.mu; view is the plan the view
// should show (the local-only rescan when the remote is out of reach).
func (d *Daemon) rescanLocked(ctx context.Context) (plan, view *engine.Plan, err error) {
	plan, err = d.pair.Refresh(ctx, true)
	if err != nil {
		if rerr := d.pair.Reconnect(ctx); rerr == nil {
			signal(d.watch.swapped)
			plan, err = d.pair.Refresh(ctx, true)
		}
	}
	if err != nil {
		view, _ = d.pair.Refresh(ctx, false)
		if view != nil {
			d.merges = indexMerges(view)
		}
		return nil, view, err
	}
	d.merges = indexMerges(plan)
	return plan, plan, nil
}

// Commit rescans both sides and applies the plan, unless check refuses it
// (it sees the plan first; nil accepts). It holds the pair from the scan to
// the end of the apply, so a resolution made in the view meanwhile (which
// moves bases through the pair) waits and is never overwritten by what
// the commit scanned. It then refreshes the view.
func (d *Daemon) Commit(ctx context.Context, check func(*engine.Plan) error, opt engine.ApplyOptions) (*engine.Plan, *engine.Result, error) {
	if opt.Command == "" {
		opt.Command = engine.CommandCommit // in the pair's history
	}
	d.scan.Lock()
	d.mu.Lock()
	plan, view, err := d.rescanLocked(ctx)
	gen := d.bases
	if err == nil && check != nil {
		err = check(plan)
	}
	var res *engine.Result
	if err == nil {
		res, err = d.pair.Apply(ctx, plan, opt)
	}
	if err == nil {
		d.logPruned(d.pair.PruneAfter(res))
	}
	d.mu.Unlock()
	d.scan.Unlock()
	if view != nil && res == nil {
		d.show(view, gen)
	}
	if res == nil {
		return plan, nil, err
	}
	if err != nil {
		return plan, res, err
	}
	_, rerr := d.Rescan(ctx)
	return plan, res, rerr
}

// backend gives the view what it needs from the pair.
var _ fusefs.StreamFetcher = (*backend)(nil)

type backend Daemon

func (b *backend) Refresh() ([]reconcile.Decision, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	plan, err := b.pair.Refresh(b.ctx, false)
	if err != nil {
		return nil, err
	}
	b.merges = indexMerges(plan)
	return plan.Decisions, nil
}

// Merged gives the view the merge of a conflict's versions (see
// fusefs.Merger).
func (b *backend) Merged(d reconcile.Decision) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.merges.of(d)
}

// TakeMerged resolves a conflict with a merge, as a clean merge is carried
// out, in a fresh plan of the local side.
func (b *backend) TakeMerged(d reconcile.Decision, data []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	plan, err := b.pair.Refresh(b.ctx, false)
	if err != nil {
		return err
	}
	b.bases++
	return b.pair.TakeMergeOf(plan, d, data)
}

// Fetch downloads without holding the pair: a slow or hanging remote never
// holds up other gestures.
func (b *backend) Fetch(path string, e tree.Entry) (string, error) {
	return b.pair.Fetch(path, e)
}

// FetchStream is Fetch for an open: a version not in the cache yet is read
// as it arrives.
func (b *backend) FetchStream(path string, e tree.Entry) (string, fusefs.Stream, error) {
	cache, s, err := b.pair.FetchStream(path, e)
	if s == nil {
		return cache, nil, err // no nil *engine.Stream in the interface
	}
	return cache, s, err
}

func (b *backend) SetBases(cs []fusefs.BaseChange) error {
	// the remote I/O a base may need happens before taking the pair
	if err := b.pair.HashBases(cs); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bases++
	return b.pair.SetBases(cs)
}

func (b *backend) BackupLocal(path string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pair.BackupLocal(path)
}
