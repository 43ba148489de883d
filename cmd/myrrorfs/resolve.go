package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/fusefs"
	"github.com/myrrorfs/myrrorfs/internal/shell"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// resolveFlags are the flags of `myrrorfs resolve`.
type resolveFlags struct {
	common
	keep   string
	remote string
}

func newResolve() *cobra.Command {
	var f resolveFlags
	cmd := &cobra.Command{
		Use:   "resolve [flags] [--keep local|remote|both|merged] PATH...",
		Short: "Resolve conflicts without a mount, as the view's gestures do",
		Long: `Resolve conflicts without a mount. Each PATH names a conflict by where it
lies in LOCAL (absolute, or relative to the current directory), or in a
mount's view (where NAME.local, NAME.remote and NAME.merged name it too). The pair is
found from the path: every pair opened with the state directory is recorded
there, and the one whose LOCAL holds PATH is used (--remote picks one when
several pairs share that LOCAL).

  --keep local    the local version wins (as rm NAME.remote in the view)
  --keep remote   the remote version wins (as rm NAME.local)
  --keep both     the local version stays at PATH, the remote one is put next
                  to it as NAME.remote (a free name if taken)
  --keep merged   the three-way merge of two edited text files, conflict
                  markers and all, or NAME.merged as edited in a mount
                  (as mv NAME.merged NAME)

A resolution moves the path's base and acts on LOCAL only; the next sync
(or commit, on a mount) carries it out, and a version it replaces goes to
the backup area of its side. A directory conflict resolves as a whole. On a
mounted pair the mount's daemon resolves, and the view collapses at once.

Without --keep, on a terminal, resolve shows the conflicts one by one (those
named, or all of those under the current directory): each version's type,
size and time and, for small text files, a short diff, and asks what to keep
(m, the merge, where there is one).
Each answer is recorded at once.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runResolve(cmd.OutOrStdout(), f, args)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.keep, "keep", "", "the version to keep: local, remote, both or merged (without it, ask about each conflict on a terminal)")
	fl.StringVar(&f.remote, "remote", "", "the `REMOTE` of the pair, when several pairs share the LOCAL that holds PATH")
	return cmd
}

// spot is where a PATH argument lies: in a mount's view, or in the LOCAL
// of a recorded pair.
type spot struct {
	arg  string
	root string // the mountpoint, or the LOCAL root
	path string // under root: a path in the view, or in LOCAL
	mnt  string // set when in a mount's view
	pair engine.Recorded
}

// key groups the spots that one pair (or mount) resolves.
func (s spot) key() string {
	if s.mnt != "" {
		return "mount\x00" + s.mnt
	}
	return "pair\x00" + s.pair.Local + "\x00" + s.pair.Remote.String()
}

// resolver is where the spots of a group are resolved, once opened.
type resolver struct {
	r      daemon.Resolver
	close  func()
	inView bool   // the spots' paths are view paths
	mnt    string // the mount that resolves, if one does
	carry  string // says what carries the resolutions out
}

// runResolve is `myrrorfs resolve`.
func runResolve(out io.Writer, f resolveFlags, args []string) error {
	var keep fusefs.Keep
	if f.keep != "" {
		k, err := fusefs.ParseKeep(f.keep)
		if err != nil {
			return fmt.Errorf("--keep %w", err)
		}
		keep = k
		if len(args) == 0 {
			return errors.New("resolve --keep needs the PATHs of the conflicts to resolve (see myrrorfs resolve --help)")
		}
	} else if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
		return errors.New("resolve without --keep asks on a terminal, and this is none: pass --keep local|remote|both|merged PATH...")
	}
	all := false
	if len(args) == 0 {
		args, all = []string{"."}, true // every conflict under the current directory
	}
	// no signal handling: Ctrl-C at a question ends the command, and every
	// resolution made before it is recorded already
	ctx := context.Background()
	failed := 0
	// fail reports a path (as printed) that could not be resolved; s is
	// where it lies, when known
	fail := func(shown string, s *spot, err error) {
		failed++
		fmt.Fprintln(os.Stderr, errorLine(shown+": "+resolveError(s, err)))
	}
	groups, order, err := locateAll(f, args, fail)
	if err != nil {
		return err
	}
	var ask *asker
	if keep == 0 {
		ask = &asker{in: bufio.NewReader(os.Stdin), out: out}
	}
	for _, k := range order {
		spots := groups[k]
		r, err := openResolver(ctx, f, spots[0])
		if err != nil {
			for _, s := range spots {
				fail(engine.QuotePath(s.arg), nil, err)
			}
			continue
		}
		n := 0
		if ask == nil {
			for _, s := range spots {
				res, err := r.r.Resolve(ctx, s.path, r.inView, keep)
				if err != nil {
					fail(engine.QuotePath(s.arg), &s, err)
					continue
				}
				fmt.Fprintln(out, resolvedLine(s, res))
				n++
			}
		} else {
			n = ask.walk(ctx, r, spots, all, fail)
		}
		r.close()
		if n > 0 {
			fmt.Fprintf(out, "%s\n", r.carry)
		}
		if ask != nil && ask.quit {
			break
		}
	}
	if failed > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// resolveError is the text of a failed resolution of a path that lies in
// s (nil when unknown): why a path is no conflict names the conflict it
// lies in, if it does.
func resolveError(s *spot, err error) string {
	var nc *fusefs.NotConflictError
	if errors.As(err, &nc) && nc.Conflict != "" && s != nil {
		return fmt.Sprintf("%s: name %s", daemon.OneLine(nc.Why), show(*s, nc.Conflict))
	}
	return daemon.OneLine(err.Error())
}

// locateAll finds where each argument lies, grouped by pair (or mount) in
// the order they first appear. Arguments that lie nowhere fail.
func locateAll(f resolveFlags, args []string, fail func(string, *spot, error)) (map[string][]spot, []string, error) {
	mounts, err := daemon.Mounts()
	if err != nil {
		return nil, nil, err
	}
	state, err := stateDir(f.common)
	if err != nil {
		return nil, nil, err
	}
	pairs, err := engine.RecordedPairs(engine.Options{StateDir: state})
	if err != nil {
		return nil, nil, err
	}
	groups := map[string][]spot{}
	var order []string
	for _, a := range args {
		s, err := locate(f, state, mounts, pairs, a)
		if err != nil {
			fail(engine.QuotePath(a), nil, err)
			continue
		}
		k := s.key()
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	return groups, order, nil
}

// locate finds where arg lies: in a myrrorfs mount, or else in the LOCAL
// of one of pairs (the one with the longest LOCAL that holds it).
func locate(f resolveFlags, state string, mounts []daemon.MountInfo, pairs []engine.Recorded, arg string) (spot, error) {
	abs, err := engine.CanonicalPath(arg)
	if err != nil {
		return spot{}, err
	}
	if m, ok := daemon.Holding(mounts, abs); ok {
		return spot{arg: arg, root: m.Mountpoint, path: under(m.Mountpoint, abs), mnt: m.Mountpoint}, nil
	}
	held := engine.PairsHolding(pairs, abs)
	if f.remote != "" {
		var keep []engine.Recorded
		for _, r := range held {
			want, err := engine.Identity(r.Local, f.remote)
			have, _ := engine.Identity(r.Args())
			if err == nil && want == have {
				keep = append(keep, r)
			}
		}
		held = keep
	}
	switch {
	case len(held) == 1:
		return spot{arg: arg, root: held[0].Local, path: under(held[0].Local, abs), pair: held[0]}, nil
	case len(held) > 1:
		var rs []string
		for _, r := range held {
			rs = append(rs, engine.QuotePath(r.Remote.String()))
		}
		return spot{}, fmt.Errorf("%d pairs have LOCAL %s (REMOTE %s): pick one with --remote REMOTE", len(held), engine.QuotePath(held[0].Local), strings.Join(rs, ", "))
	case f.remote != "":
		return spot{}, fmt.Errorf("no pair with REMOTE %s has a LOCAL that holds this path (pairs are recorded in %s when first synced; see --state)", engine.QuotePath(f.remote), engine.QuotePath(state))
	}
	return spot{}, fmt.Errorf("not in a myrrorfs mount, nor in the LOCAL of a pair recorded in %s (a pair is recorded there when first synced; see --state)", engine.QuotePath(state))
}

// under returns abs (inside or at root) as a path under root.
func under(root, abs string) string {
	if abs == root {
		return ""
	}
	return strings.TrimPrefix(strings.TrimPrefix(abs, root), "/")
}

// openResolver opens where the spots like s are resolved: the daemon of the
// mount they lie in, or their pair, or the mount (or sync --watch) that
// holds their pair.
func openResolver(ctx context.Context, f resolveFlags, s spot) (*resolver, error) {
	state := ""
	if f.state != "" {
		abs, err := stateDir(f.common)
		if err != nil {
			return nil, err
		}
		state = " --state " + shell.Quote(abs)
	}
	if s.mnt != "" {
		return mountResolver(f, s.mnt, true, state)
	}
	local, remote := s.pair.Args()
	// scan progress for the first scan only, not for the rescans of LOCAL
	// after each resolution
	var scanning atomic.Bool
	scanning.Store(true)
	var progress func(engine.Side, int, int64)
	if show := scanProgress(); show != nil {
		progress = func(s engine.Side, n int, b int64) {
			if scanning.Load() {
				show(s, n, b)
			}
		}
	}
	p, err := engine.Open(ctx, local, remote, engine.Options{
		StateDir:         f.state,
		SSHCommand:       f.ssh,
		Ignore:           f.ignore,
		Holder:           fmt.Sprintf("myrrorfs resolve (pid %d)", os.Getpid()),
		RemoteMyrrorfs:   f.remoteMyrrorfs,
		UnsafeSFTPWrites: f.unsafeSFTP,
		Resident:         true, // a rescan after each resolution: of LOCAL only
		ScanProgress:     progress,
		Warn:             warnLine,
	})
	if h, ok := heldBy(err, f.common, local, remote); ok {
		if h.watch != nil {
			return &resolver{r: remoteResolver{*h.watch}, close: func() {}, carry: "the running sync --watch carries this out"}, nil
		}
		return mountResolver(f, h.mount, false, state)
	}
	if err != nil {
		return nil, damagedHint(err, f.common, local, remote)
	}
	off, err := daemon.NewOffline(ctx, p)
	scanning.Store(false)
	endScanProgress()
	if err != nil {
		p.Close()
		return nil, damagedHint(err, f.common, local, remote)
	}
	printWarnings(off.Plan().Problems)
	ssh := ""
	if s.pair.Remote.IsRemote() && f.ssh != "ssh" {
		ssh = " -e " + shell.Quote(f.ssh)
	}
	return &resolver{r: off, close: func() { p.Close() }, carry: fmt.Sprintf("to carry this out: myrrorfs sync%s%s %s %s", state, ssh, shell.Quote(local), shell.Quote(remote))}, nil
}

// mountResolver resolves through the daemon of mountpoint mnt.
func mountResolver(f resolveFlags, mnt string, inView bool, state string) (*resolver, error) {
	t, err := targetAt(f.common, mnt)
	if err != nil {
		return nil, err
	}
	return &resolver{r: remoteResolver{t}, close: func() {}, inView: inView, mnt: mnt, carry: "to carry this out: myrrorfs commit" + state + " " + shell.Quote(mnt)}, nil
}

// remoteResolver asks a mount's daemon (or a sync --watch) to resolve.
type remoteResolver struct{ t target }

func (r remoteResolver) call(req daemon.Request) (*daemon.Response, error) {
	resp, err := r.t.call(req, nil)
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		if resp.NotConflict {
			return nil, &fusefs.NotConflictError{Path: string(req.Path), Why: resp.Error, Conflict: string(resp.Under)}
		}
		return nil, errors.New(resp.Error)
	}
	return resp, nil
}

func (r remoteResolver) Resolve(ctx context.Context, path string, inView bool, keep fusefs.Keep) (daemon.Resolved, error) {
	resp, err := r.call(daemon.Request{Op: daemon.OpResolve, Path: []byte(path), View: inView, Keep: keep.String()})
	if err != nil {
		return daemon.Resolved{}, err
	}
	if resp.Resolved == nil {
		return daemon.Resolved{}, fmt.Errorf("%s: the daemon did not say what it resolved", r.t.arg)
	}
	return *resp.Resolved, nil
}

func (r remoteResolver) Describe(ctx context.Context, path string, inView, all bool) ([]daemon.Described, error) {
	resp, err := r.call(daemon.Request{Op: daemon.OpDescribe, Path: []byte(path), View: inView, All: all})
	if err != nil {
		return nil, err
	}
	return resp.Described, nil
}

// show is how a path of the pair (or view) of s is printed: relative to
// the current directory when it lies under it, else absolute; quoted when
// it must be.
func show(s spot, p string) string {
	abs := filepath.Join(s.root, p)
	if cwd, err := os.Getwd(); err == nil {
		if real, err := filepath.EvalSymlinks(cwd); err == nil {
			cwd = real
		}
		if rel, err := filepath.Rel(cwd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			abs = rel
		}
	}
	return engine.QuotePath(abs)
}

// resolvedLine says what a resolution did.
func resolvedLine(s spot, r daemon.Resolved) string {
	p := show(s, string(r.Path))
	switch {
	case r.Keep == "both":
		return fmt.Sprintf("%s: both kept, the remote version as %s (%s)", p, show(s, string(r.Copy)), r.Kind)
	case r.Keep == "merged" && r.Edited:
		return fmt.Sprintf("%s: merge kept, as edited (%s)", p, r.Kind)
	case r.Keep == "merged":
		return fmt.Sprintf("%s: merge kept (%s)", p, r.Kind)
	default:
		return fmt.Sprintf("%s: %s version kept (%s)", p, r.Keep, r.Kind)
	}
}

// asker walks through conflicts on a terminal.
type asker struct {
	in   *bufio.Reader
	out  io.Writer
	quit bool
}

// walk shows the conflicts the spots name (with all, every conflict under
// them) one by one, asks what to keep and resolves each at once. It
// returns how many it resolved.
func (a *asker) walk(ctx context.Context, r *resolver, spots []spot, all bool, fail func(string, *spot, error)) int {
	type item struct {
		s spot
		d daemon.Described
	}
	var items []item
	seen := map[string]bool{}
	for _, s := range spots {
		ds, err := r.r.Describe(ctx, s.path, r.inView, all)
		if err != nil {
			fail(engine.QuotePath(s.arg), &s, err)
			continue
		}
		for _, d := range ds {
			if !seen[string(d.Path)] {
				seen[string(d.Path)] = true
				items = append(items, item{s, d})
			}
		}
	}
	if len(items) == 0 && all {
		fmt.Fprintf(a.out, "no conflicts in %s\n", show(spots[0], spots[0].path))
	}
	n := 0
	for i, it := range items {
		printDescribed(a.out, i+1, len(items), it.d, func(p string) string { return show(it.s, p) },
			func(p string) string { return show(spot{root: r.mnt}, p) })
		keep, ok := a.ask(it.d.Merge != nil)
		if !ok {
			a.quit = true
			break
		}
		if keep == 0 {
			continue
		}
		p := string(it.d.Path)
		res, err := r.r.Resolve(ctx, p, false, keep)
		if err != nil {
			fail(show(it.s, p), &it.s, err)
			continue
		}
		fmt.Fprintln(a.out, resolvedLine(it.s, res))
		n++
	}
	return n
}

// ask asks what to keep (the merge too, when merged): 0 for skip, ok
// false for quit (or the end of the input).
func (a *asker) ask(merged bool) (fusefs.Keep, bool) {
	for {
		if merged {
			fmt.Fprint(a.out, "keep [l]ocal / [r]emote / [b]oth / [m]erged / [s]kip / [q]uit? ")
		} else {
			fmt.Fprint(a.out, "keep [l]ocal / [r]emote / [b]oth / [s]kip / [q]uit? ")
		}
		line, err := a.in.ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "l", "local":
			return fusefs.KeepLocal, true
		case "r", "remote":
			return fusefs.KeepRemote, true
		case "b", "both":
			return fusefs.KeepBoth, true
		case "m", "merged":
			if merged {
				return fusefs.KeepMerged, true
			}
		case "s", "skip":
			return 0, true
		case "q", "quit":
			return 0, false
		}
		if err != nil {
			fmt.Fprintln(a.out)
			return 0, false
		}
		if merged {
			fmt.Fprintln(a.out, "answer l, r, b, m, s or q")
		} else {
			fmt.Fprintln(a.out, "answer l, r, b, s or q")
		}
	}
}

// printDescribed prints conflict i of n before the question; show prints
// a path of the pair, inView one of the view.
func printDescribed(w io.Writer, i, n int, d daemon.Described, show, inView func(string) string) {
	fmt.Fprintf(w, "\n[%d/%d] %s  %s\n", i, n, d.Kind, show(string(d.Path)))
	if len(d.LocalName)+len(d.RemoteName)+len(d.MergedName) > 0 {
		var names []string
		for _, nm := range [][]byte{d.LocalName, d.RemoteName, d.MergedName} {
			if len(nm) > 0 {
				names = append(names, inView(string(nm)))
			}
		}
		fmt.Fprintf(w, "  in the view: %s\n", strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "  local:  %s\n", versionText(d.Local))
	fmt.Fprintf(w, "  remote: %s\n", versionText(d.Remote))
	if d.Merge != nil {
		fmt.Fprintf(w, "  merged: %s\n", mergeText(d))
	}
	if d.Diff != "" {
		for _, l := range strings.Split(strings.TrimSuffix(d.Diff, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

// mergeText describes the merge of a conflict's versions.
func mergeText(d daemon.Described) string {
	s := "clean"
	switch n := d.Merge.Conflicts; {
	case n == 1:
		s = "1 conflicting hunk, between conflict markers"
	case n > 1:
		s = fmt.Sprintf("%d conflicting hunks, between conflict markers", n)
	}
	if len(d.MergedName) > 0 {
		s += " (as edited in the view, if it was)"
	}
	return s
}

// versionText describes one side's version: type, size and time.
func versionText(v *daemon.Version) string {
	if v == nil {
		return "deleted"
	}
	switch v.Type {
	case "file":
		s := fmt.Sprintf("file, %s, %s", engine.HumanBytes(v.Size), time.Unix(0, v.MtimeNs).Local().Format("2006-01-02 15:04:05"))
		if v.Perm&0o100 != 0 {
			s += ", executable"
		}
		return s
	case "dir":
		s := "directory"
		if v.Entries > 0 {
			s += fmt.Sprintf(", %d entries inside (%d changed since the last sync)", v.Entries, v.Changed)
		}
		return s
	case "symlink":
		return "symlink to " + engine.QuotePath(string(v.Target))
	}
	return v.Type
}

// Resolve resolves a conflict of the pair a `sync --watch` holds, between
// two of its rounds, and has it run a round, which carries it out.
func (w *watchedPair) Resolve(ctx context.Context, path string, inView bool, keep fusefs.Keep) (daemon.Resolved, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	off, err := daemon.NewOffline(ctx, w.p)
	if err != nil {
		return daemon.Resolved{}, err
	}
	res, err := off.Resolve(ctx, path, false, keep)
	if err == nil {
		signalChan(w.changed)
	}
	return res, err
}

// Describe describes conflicts of the pair a `sync --watch` holds.
func (w *watchedPair) Describe(ctx context.Context, path string, inView, all bool) ([]daemon.Described, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	off, err := daemon.NewOffline(ctx, w.p)
	if err != nil {
		return nil, err
	}
	return off.Describe(ctx, path, false, all)
}
