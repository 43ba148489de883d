package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/replica"
)

// watchPoll is how often `sync --watch` rescans when a side is not
// watched (no agent on the remote, the watch limit reached, the
// connection lost), and the safety net's interval is watchSafety.
const (
	watchPoll   = 30 * time.Second
	watchSafety = time.Hour
)

// runWatch is `sync --watch`: it syncs, then syncs again whenever either
// side changes (a few hundred milliseconds after the changes stop), until
// ctx ends (Ctrl-C), which lets the run in progress finish its current
// step and leaves both sides as a crash would: consistent, resumed by the
// next run. Conflicts are left untouched and listed when they change.
func runWatch(ctx context.Context, c common, local, remote string, maxDelete int, out io.Writer) error {
	p, err := openPair(ctx, c, local, remote, "myrrorfs sync --watch")
	if err != nil {
		return err
	}
	defer p.Close()
	var mu sync.Mutex // one scan at a time: a round's, or a status request's
	changed := make(chan struct{}, 1)
	if srv, err := listenWatch(c, local, remote, &watchedPair{p: p, mu: &mu, changed: changed}); err != nil {
		fmt.Fprintf(out, "watch: status and conflicts cannot ask this process: %s\n", daemon.OneLine(err.Error()))
	} else {
		defer srv.Close()
	}
	var watched [2]bool
	watching := make(chan struct{}, 2) // a watch ended
	watch := func(s engine.Side, r replica.Replica) {
		w, ok := r.(replica.Watcher)
		if !ok {
			return
		}
		watched[s] = true
		go func() {
			err := w.Watch(ctx, func(ch replica.Changes) {
				if ch.Note != "" {
					fmt.Fprintf(out, "watch: %s\n", daemon.OneLine(ch.Note))
				}
				signalChan(changed)
			})
			if ctx.Err() == nil {
				fmt.Fprintf(out, "watch: %s side: %s; rescanning every %v\n", s, daemon.OneLine(err.Error()), watchPoll)
			}
			watching <- struct{}{}
		}()
	}
	watch(engine.LocalSide, p.Local)
	watch(engine.RemoteSide, p.CurrentRemote())
	if !watched[engine.RemoteSide] {
		fmt.Fprintf(out, "watch: the remote side cannot be watched without the myrrorfs agent; rescanning every %v\n", watchPoll)
	}
	poll := watchSafety
	if !watched[engine.LocalSide] || !watched[engine.RemoteSide] {
		poll = watchPoll
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	var conflicts []string
	fmt.Fprintf(out, "watching %s and %s; Ctrl-C stops\n", local, remote)
	// a tree that keeps changing costs at most half a core of runs: a run
	// starts no sooner after the last one than that one took (changes
	// meanwhile are taken in by it)
	var rest time.Time
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopped")
			return nil
		case <-time.After(time.Until(rest)):
		}
		start := time.Now()
		mu.Lock()
		conflicts = watchRound(ctx, p, maxDelete, conflicts, out)
		mu.Unlock()
		rest = time.Now().Add(time.Since(start))
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopped")
			return nil
		case <-changed:
		case <-ticker.C:
		case <-watching:
			ticker.Reset(watchPoll)
		}
	}
}

// watchRound runs one sync of a watched pair and reports what it did;
// errors are reported and the watch goes on. It returns the conflicts
// left, printing them when they differ from before.
func watchRound(ctx context.Context, p *engine.Pair, maxDelete int, before []string, out io.Writer) []string {
	plan, err := p.Scan(ctx)
	if err != nil && ctx.Err() == nil {
		if rerr := p.Reconnect(ctx); rerr == nil {
			plan, err = p.Scan(ctx)
		}
	}
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(out, "%s  error: %s\n", stamp(), daemon.OneLine(err.Error()))
		}
		return before
	}
	printWarnings(plan.Problems)
	var conflicts []string
	for _, d := range plan.Conflicts() {
		conflicts = append(conflicts, d.Path)
	}
	if !slices.Equal(conflicts, before) {
		for _, c := range conflicts {
			if !slices.Contains(before, c) {
				fmt.Fprintf(out, "%s  conflict, left untouched: %s\n", stamp(), engine.QuotePath(c))
			}
		}
	}
	sum := plan.Summarize()
	if sum.ToRemote+sum.ToLocal == 0 {
		return conflicts
	}
	if maxDelete >= 0 {
		if err := plan.CheckDeletes(maxDelete); err != nil {
			fmt.Fprintf(out, "%s  not applied: %s\n", stamp(), daemon.OneLine(err.Error()))
			return conflicts
		}
	}
	res, err := p.Apply(ctx, plan, engine.ApplyOptions{Command: engine.CommandWatch})
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(out, "%s  error: %s\n", stamp(), daemon.OneLine(err.Error()))
		}
		return conflicts
	}
	_, failures := daemon.SplitProblems(res.Problems)
	fmt.Fprintf(out, "%s  %d to remote, %d to local, copied %s\n", stamp(), sum.ToRemote, sum.ToLocal, engine.HumanBytes(res.Bytes))
	printPruned(out, p.PruneAfter(res))
	for _, f := range failures {
		fmt.Fprintf(out, "%s  not synced: %s\n", stamp(), daemon.OneLine(f))
	}
	return conflicts
}

// watchSocket is where a `sync --watch` of the pair (localArg, remoteArg)
// answers status and conflicts requests.
func watchSocket(c common, localArg, remoteArg string) (string, error) {
	id, err := engine.Identity(localArg, remoteArg)
	if err != nil {
		return "", err
	}
	return daemon.SocketPath(c.state, "sync --watch\x00"+id), nil
}

// listenWatch serves status, conflicts and resolve requests about the
// watched pair (as a mount's daemon does) on the pair's watch socket.
func listenWatch(c common, localArg, remoteArg string, w *watchedPair) (*daemon.Server, error) {
	path, err := watchSocket(c, localArg, remoteArg)
	if err != nil {
		return nil, err
	}
	srv, err := daemon.Listen(path)
	if err != nil {
		return nil, err
	}
	go srv.Serve(w)
	return srv, nil
}

// watchedPair answers a status or conflicts request about a pair that
// `sync --watch` holds: it rescans both sides between two rounds.
type watchedPair struct {
	p       *engine.Pair
	mu      *sync.Mutex
	changed chan struct{} // wakes the watch for a round
}

func (w *watchedPair) Rescan(ctx context.Context) (*engine.Plan, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.p.ScanAll(ctx) // status --json --all prints equal paths too
}

func (w *watchedPair) Commit(context.Context, func(*engine.Plan) error, engine.ApplyOptions) (*engine.Plan, *engine.Result, error) {
	return nil, nil, fmt.Errorf("myrrorfs sync --watch applies every change itself; nothing to commit")
}

func (w *watchedPair) Unmount() error {
	return fmt.Errorf("myrrorfs sync --watch is no mount; stop it with Ctrl-C")
}

// History reads the pair's history without waiting for the round in
// progress (see daemon.Historian).
func (w *watchedPair) History(n int) ([]engine.HistoryEntry, []string, error) {
	return w.p.History(n)
}

func (w *watchedPair) Mountpoint() string                     { return "" }
func (w *watchedPair) Siblings(string) (local, remote string) { return "", "" }

// askWatch sends req to the `sync --watch` holding the pair, when one
// does (held is the error of opening the pair), and prints the answer as
// the command on the pair would; ok is false when no such process answers.
func askWatch(out io.Writer, c common, localArg, remoteArg string, held error, req daemon.Request) (ok bool, err error) {
	return askWatchWith(out, c, localArg, remoteArg, held, req, printAnswer)
}

// askWatchWith is askWatch with the answer printed by print.
func askWatchWith(out io.Writer, c common, localArg, remoteArg string, held error, req daemon.Request, print func(io.Writer, *daemon.Response) error) (ok bool, err error) {
	if !errors.Is(held, journal.ErrLocked) || !strings.Contains(held.Error(), "sync --watch") {
		return false, nil
	}
	path, err := watchSocket(c, localArg, remoteArg)
	if err != nil {
		return false, nil
	}
	resp, err := daemon.Call(context.Background(), path, req, nil)
	if err != nil {
		return false, nil
	}
	return true, print(out, resp)
}

func stamp() string { return time.Now().Format("15:04:05") }

// signalChan wakes whoever waits on ch, without waiting.
func signalChan(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
