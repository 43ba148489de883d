package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/shell"
	"github.com/myrrorfs/myrrorfs/tree"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// restoreFlags are the flags of `myrrorfs restore`.
type restoreFlags struct {
	common
	pick   int
	remote string
}

func newRestore() *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore [flags] [--pick N] PATH",
		Short: "List the versions of a path kept in the backup areas, and put one back",
		Long: `List the versions of PATH that the backup areas of both sides hold (every
version a sync, a commit or a gesture in a view replaced or deleted), newest
first, numbered, with the side, the time it was set aside and its size.

With --pick N (or an answer on a terminal), version N is put back at PATH in
LOCAL: copied into a temporary and renamed into place. What LOCAL holds at
PATH goes to LOCAL's backup area first: nothing is lost. The next sync (or
commit, on a mount) carries the restored version to the remote as a local
change; if the remote changed meanwhile, that is a conflict.

PATH lies in LOCAL (absolute, or relative to the current directory) or in a
mount's view. The pair is found from it: every pair opened with the state
directory is recorded there, and the one whose LOCAL holds PATH is used
(--remote picks one when several pairs share that LOCAL). On a mounted pair
the mount's daemon restores, and the view shows the restored version at once.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("restore needs one argument, PATH; got %d (see myrrorfs restore --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.OutOrStdout(), f, args[0])
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&f.pick, "pick", 0, "put version `N` of the list back (without it, ask on a terminal)")
	fl.StringVar(&f.remote, "remote", "", "the `REMOTE` of the pair, when several pairs share the LOCAL that holds PATH")
	return cmd
}

// backupSource lists and restores versions: an opened pair, or the
// daemon of a mount (or a sync --watch) holding it.
type backupSource interface {
	Backups(path string) ([]engine.Backup, error)
	Restore(b engine.Backup) (engine.Restored, error)
}

// runRestore is `myrrorfs restore`.
func runRestore(out io.Writer, f restoreFlags, arg string) error {
	if f.pick < 0 {
		return fmt.Errorf("--pick %d: versions are numbered from 1", f.pick)
	}
	src, path, carry, closeSrc, err := openBackups(f, arg)
	if err != nil {
		return err
	}
	defer closeSrc()
	bs, err := src.Backups(path)
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		return fmt.Errorf("%s: no version in the backup areas", engine.QuotePath(arg))
	}
	fmt.Fprintf(out, "versions of %s, newest first:\n", engine.QuotePath(arg))
	for i, b := range bs {
		fmt.Fprintln(out, versionLine(i+1, b))
	}
	n := f.pick
	if n == 0 {
		if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
			fmt.Fprintf(out, "to put one back: myrrorfs restore --pick N %s\n", shell.Quote(arg))
			return nil
		}
		if n, err = askVersion(out, len(bs)); err != nil || n == 0 {
			return err
		}
	}
	if n > len(bs) {
		return fmt.Errorf("--pick %d: there are %d versions", n, len(bs))
	}
	b := bs[n-1]
	res, err := src.Restore(b)
	if err != nil {
		return err
	}
	if res.Same {
		fmt.Fprintf(out, "%s already holds version %d in LOCAL; nothing done\n", engine.QuotePath(arg), n)
		return nil
	}
	fmt.Fprintf(out, "restored %s: version %d, from the %s backup area\n", engine.QuotePath(arg), n, b.Side)
	if res.Kept != "" {
		fmt.Fprintf(out, "what LOCAL held there is kept as %s\n", engine.QuotePath(res.Kept))
	}
	fmt.Fprintln(out, carry)
	return nil
}

// versionLine is one numbered line of the list of versions.
func versionLine(n int, b engine.Backup) string {
	what := engine.HumanBytes(b.Size)
	switch b.Kind {
	case tree.Dir:
		what = fmt.Sprintf("directory, %d files, %s", b.Files, engine.HumanBytes(b.Size))
	case tree.Symlink:
		what = "symlink to " + engine.QuotePath(b.Target)
	}
	why := map[engine.Origin]string{
		engine.FromRun:     "replaced or deleted by a sync or commit",
		engine.FromView:    "set aside by a gesture in the view",
		engine.FromRestore: "replaced by a restore",
	}[b.Origin]
	return fmt.Sprintf("%3d  %-6s  %s  %-9s  (%s)", n, b.Side, b.Time.Local().Format(time.DateTime), what, why)
}

// askVersion asks which of n versions to put back; 0 is none.
func askVersion(out io.Writer, n int) (int, error) {
	in := bufio.NewReader(os.Stdin)
	for {
		fmt.Fprintf(out, "put back which version (1-%d, Enter: none)? ", n)
		line, err := in.ReadString('\n')
		line = strings.TrimSpace(line)
		if line == "" {
			return 0, nil
		}
		if k, perr := strconv.Atoi(line); perr == nil && k >= 1 && k <= n {
			return k, nil
		}
		if err != nil {
			return 0, nil
		}
	}
}

// openBackups finds where arg lies and opens what lists its versions: the
// daemon of the mount it lies in, or else its pair (through the mount or
// sync --watch holding it, if one does). It returns the path in the pair,
// a line saying what carries a restore to the remote, and how to close.
func openBackups(f restoreFlags, arg string) (src backupSource, path, carry string, closeSrc func(), err error) {
	nop := func() {}
	st, err := stateDir(f.common)
	if err != nil {
		return nil, "", "", nil, err
	}
	state := ""
	if f.state != "" {
		state = " --state " + shell.Quote(st)
	}
	mounts, err := daemon.Mounts()
	if err != nil {
		return nil, "", "", nil, err
	}
	pairs, err := engine.RecordedPairs(engine.Options{StateDir: st})
	if err != nil {
		return nil, "", "", nil, err
	}
	at, err := locate(resolveFlags{common: f.common, remote: f.remote}, st, mounts, pairs, arg)
	if err != nil {
		return nil, "", "", nil, fmt.Errorf("%s: %w", engine.QuotePath(arg), err)
	}
	if at.mnt != "" {
		src, carry, err := mountBackups(f.common, at.mnt, state)
		return src, at.path, carry, nop, err
	}
	pair := at.pair
	path = at.path
	if path == "" {
		return nil, "", "", nil, fmt.Errorf("%s is the root of LOCAL: name a path under it", engine.QuotePath(arg))
	}
	local, remote := pair.Args()
	p, err := engine.Open(context.Background(), local, remote, engine.Options{
		StateDir:         f.state,
		SSHCommand:       f.ssh,
		Ignore:           f.ignore,
		Holder:           fmt.Sprintf("myrrorfs restore (pid %d)", os.Getpid()),
		RemoteMyrrorfs:   f.remoteMyrrorfs,
		UnsafeSFTPWrites: f.unsafeSFTP,
		Warn:             warnLine,
	})
	if h, ok := heldBy(err, f.common, local, remote); ok {
		if h.watch != nil {
			return socketBackups{*h.watch}, path, "the running sync --watch carries it to the remote", nop, nil
		}
		src, carry, err := mountBackups(f.common, h.mount, state)
		return src, path, carry, nop, err
	}
	if err != nil {
		return nil, "", "", nil, damagedHint(err, f.common, local, remote)
	}
	ssh := ""
	if pair.Remote.IsRemote() && f.ssh != "ssh" {
		ssh = " -e " + shell.Quote(f.ssh)
	}
	carry = fmt.Sprintf("to carry it to the remote: myrrorfs sync%s%s %s %s", state, ssh, shell.Quote(local), shell.Quote(remote))
	return p, path, carry, func() { p.Close() }, nil
}

// mountBackups lists and restores through the daemon of mountpoint mnt.
func mountBackups(c common, mnt, state string) (backupSource, string, error) {
	t, err := targetAt(c, mnt)
	if err != nil {
		return nil, "", err
	}
	return socketBackups{t}, "to carry it to the remote: myrrorfs commit" + state + " " + shell.Quote(mnt), nil
}

// socketBackups lists and restores through a daemon's socket.
type socketBackups struct{ t target }

func (s socketBackups) call(req daemon.Request) (*daemon.Response, error) {
	resp, err := s.t.call(req, nil)
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return resp, nil
}

func (s socketBackups) Backups(path string) ([]engine.Backup, error) {
	resp, err := s.call(daemon.Request{Op: daemon.OpBackups, Path: []byte(path)})
	if err != nil {
		return nil, err
	}
	var out []engine.Backup
	for _, v := range resp.Versions {
		b, err := v.Backup()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.t.arg, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func (s socketBackups) Restore(b engine.Backup) (engine.Restored, error) {
	v := daemon.VersionOf(b)
	resp, err := s.call(daemon.Request{Op: daemon.OpRestore, Version: &v})
	if err != nil {
		return engine.Restored{}, err
	}
	if resp.Restored == nil {
		return engine.Restored{}, fmt.Errorf("%s: the daemon did not say what it restored", s.t.arg)
	}
	return engine.Restored{Kept: string(resp.Restored.Kept), Same: resp.Restored.Same}, nil
}

// A sync --watch lists and restores between two of its runs.
func (w *watchedPair) Backups(path string) ([]engine.Backup, error) {
	return w.p.Backups(path)
}

func (w *watchedPair) Restore(b engine.Backup) (engine.Restored, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res, err := w.p.Restore(b)
	if err == nil {
		signalChan(w.changed) // a run carries it now, as after a resolution
	}
	return res, err
}
