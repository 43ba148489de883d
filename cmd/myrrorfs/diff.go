package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/tree"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// diffFlags are the flags of `myrrorfs diff`.
type diffFlags struct {
	resolveFlags // how PATHs are located: as for resolve (its --keep unused)
	color        string
	// byMount: why a mount (or sync --watch) cannot answer: --mode,
	// --prefer, --checksum or --merge(-max-size) were given
	byMount error
}

func newDiff() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff [flags] [PATH...] | diff [flags] LOCAL REMOTE PATH...",
		Short: "Show how the two versions of a conflict, or of a change to carry over, differ",
		Long: `Show, as a unified diff, how the two versions of each PATH differ, and of
everything under it that is not in step: a conflict (from the remote version
to the local one: lines only the local version has are added, "+"), or a change
one side made, which the next sync (or commit) carries over (from the version
it replaces to the one that replaces it). Labels say which side is which:
"--- remote/PATH" and "+++ local/PATH". Each path begins with one line saying
what it is ("conflict (modify/modify) PATH", "to remote (update) PATH").

Binary files, files larger than 8 MiB, and versions that are not both files
(a directory, a symlink and its target, a deleted version) are described in
one line instead. Without PATH: everything under the current directory.

Each PATH is located as for resolve: in a mount's view (where NAME.local and
NAME.remote name their conflict), or in the LOCAL of a pair recorded in the
state directory (--remote picks one when several share it). A mount's daemon
answers for its pair, from the remote versions its view fetched. With LOCAL
and REMOTE first (a pair recorded in the state directory, or an ssh REMOTE),
each PATH is a path of that pair, relative to LOCAL.

--mode, --prefer, --checksum, --merge and --merge-max-size decide as for
status (without a mount): with --mode push, every difference shows as a change to the remote.

--color auto (the default) colours the output on a terminal; on a terminal,
control characters in file contents are escaped. The exit status is 0
whether or not versions differ, 1 when a PATH could not be compared.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.byMount = mountDecides(cmd)
			return runDiff(cmd.OutOrStdout(), f, args)
		},
	}
	f.register(cmd)
	f.registerPolicy(cmd)
	fl := cmd.Flags()
	fl.MarkHidden("unsafe-sftp-writes") // accepted, as by every command that opens a pair; diff writes nothing
	fl.StringVar(&f.remote, "remote", "", "the `REMOTE` of the pair, when several pairs share the LOCAL that holds PATH")
	fl.StringVar(&f.color, "color", "auto", "colour the output: auto (on a terminal), always or never")
	return cmd
}

// runDiff is `myrrorfs diff`.
func runDiff(out io.Writer, f diffFlags, args []string) error {
	pr, err := newDiffPrinter(out, f.color)
	if err != nil {
		return err
	}
	defer pr.w.Flush()
	failed := 0
	fail := func(shown string, err error) {
		failed++
		pr.w.Flush() // in order with the differences printed before
		fmt.Fprintln(os.Stderr, errorLine(shown+": "+daemon.OneLine(err.Error())))
	}
	ctx := context.Background()
	if local, remote, ok := pairForm(f, args); ok {
		var spots []spot
		for _, a := range args[2:] {
			p, err := pairPathArg(a)
			if err != nil {
				fail(engine.QuotePath(a), err)
				continue
			}
			spots = append(spots, spot{arg: a, path: p})
		}
		if len(spots) > 0 {
			diffPair(ctx, f, local, remote, spots, pr, fail)
		}
	} else {
		if len(args) == 0 {
			args = []string{"."}
		}
		groups, order, err := locateAll(f.resolveFlags, args, func(shown string, _ *spot, err error) { fail(shown, err) })
		if err != nil {
			return err
		}
		for _, k := range order {
			spots := groups[k]
			if m := spots[0].mnt; m != "" {
				diffMount(f, m, true, spots, pr, fail)
				continue
			}
			local, remote := spots[0].pair.Args()
			diffPair(ctx, f, local, remote, spots, pr, fail)
		}
	}
	if failed > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// pairForm tells whether args begin with LOCAL and REMOTE (followed by
// PATHs): when there are at least three and the first two name a pair
// recorded in the state directory, or a local directory and an ssh REMOTE.
func pairForm(f diffFlags, args []string) (local, remote string, ok bool) {
	if len(args) < 3 {
		return "", "", false
	}
	id, err := engine.Identity(args[0], args[1])
	if err != nil {
		return "", "", false
	}
	if rs, err := engine.ParseSpec(args[1]); err == nil && rs.IsRemote() {
		return args[0], args[1], true
	}
	state, err := stateDir(f.common)
	if err != nil {
		return "", "", false
	}
	pairs, err := engine.RecordedPairs(engine.Options{StateDir: state})
	if err != nil {
		return "", "", false
	}
	for _, r := range pairs {
		if have, err := engine.Identity(r.Args()); err == nil && have == id {
			return args[0], args[1], true
		}
	}
	return "", "", false
}

// pairPathArg reads a PATH of the LOCAL REMOTE form: a path relative to
// LOCAL.
func pairPathArg(a string) (string, error) {
	if filepath.IsAbs(a) {
		return "", errors.New("after LOCAL and REMOTE, a PATH is relative to LOCAL")
	}
	p := filepath.ToSlash(filepath.Clean(a))
	if p == "." {
		return "", nil
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errors.New("not inside LOCAL")
	}
	if err := tree.ValidPath(p); err != nil {
		return "", err
	}
	return p, nil
}

// diffPair shows the differences at spots of the pair (local, remote),
// through the mount or sync --watch that holds it if one does.
func diffPair(ctx context.Context, f diffFlags, local, remote string, spots []spot, pr *diffPrinter, fail func(string, error)) {
	p, err := engine.Open(ctx, local, remote, engine.Options{
		StateDir:       f.state,
		SSHCommand:     f.ssh,
		Ignore:         f.ignore,
		Holder:         fmt.Sprintf("myrrorfs diff (pid %d)", os.Getpid()),
		RemoteMyrrorfs: f.remoteMyrrorfs,
		AllRows:        true, // equal paths too: a PATH no side has is an error
		Policy:         f.policy,
		Checksum:       f.checksum,
		NoMerge:        f.noMerge,
		MergeLimit:     f.mergeMax,
		ScanProgress:   scanProgress(),
		Warn:           warnLine,
	})
	if h, ok := heldBy(err, f.common, local, remote); ok {
		if h.watch != nil {
			diffAsk(f, *h.watch, false, spots, pr, fail)
		} else {
			diffMount(f, h.mount, false, spots, pr, fail)
		}
		return
	}
	if err != nil {
		err = damagedHint(err, f.common, local, remote)
		for _, s := range spots {
			fail(engine.QuotePath(s.arg), err)
		}
		return
	}
	defer p.Close()
	plan, err := p.Scan(ctx)
	endScanProgress()
	if err != nil {
		for _, s := range spots {
			fail(engine.QuotePath(s.arg), damagedHint(err, f.common, local, remote))
		}
		return
	}
	printWarnings(plan.Problems)
	paths := make([]string, len(spots))
	for i, s := range spots {
		paths[i] = s.path
	}
	for i, a := range daemon.DiffPaths(plan, paths, daemon.DirectReader(p)) {
		pr.print(a, spots[i], fail)
	}
}

// diffMount asks the daemon of mountpoint mnt for the differences at spots
// (paths in its view with inView, else in its pair).
func diffMount(f diffFlags, mnt string, inView bool, spots []spot, pr *diffPrinter, fail func(string, error)) {
	t, err := targetAt(f.common, mnt)
	if err != nil {
		for _, s := range spots {
			fail(engine.QuotePath(s.arg), err)
		}
		return
	}
	diffAsk(f, t, inView, spots, pr, fail)
}

// diffAsk sends one diff request for all the spots to t, and prints the
// answer.
func diffAsk(f diffFlags, t target, inView bool, spots []spot, pr *diffPrinter, fail func(string, error)) {
	if f.byMount != nil {
		for _, s := range spots {
			fail(engine.QuotePath(s.arg), f.byMount)
		}
		return
	}
	req := daemon.Request{Op: daemon.OpDiff, View: inView}
	for _, s := range spots {
		req.Paths = append(req.Paths, []byte(s.path))
	}
	resp, err := t.call(req, nil)
	if err == nil && resp.Error != "" {
		err = errors.New(resp.Error)
	}
	if err != nil {
		for _, s := range spots {
			fail(engine.QuotePath(s.arg), err)
		}
		return
	}
	if len(resp.Diffs) != len(spots) {
		for _, s := range spots {
			fail(engine.QuotePath(s.arg), fmt.Errorf("%s: the daemon answered for %d paths, not %d", t.arg, len(resp.Diffs), len(spots)))
		}
		return
	}
	for i, s := range spots {
		pr.print(resp.Diffs[i], s, fail)
	}
}

// diffPrinter prints differences, coloured or not, and on a terminal with
// the control characters of file contents escaped.
type diffPrinter struct {
	w      *bufio.Writer
	color  bool
	escape bool
}

func newDiffPrinter(w io.Writer, mode string) (*diffPrinter, error) {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	pr := &diffPrinter{w: bufio.NewWriter(w), escape: tty}
	switch mode {
	case "always":
		pr.color = true
	case "never":
	case "auto":
		pr.color = tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	default:
		return nil, fmt.Errorf("--color %q: want auto, always or never", mode)
	}
	return pr, nil
}

// Colours, as git diff's defaults.
const (
	colorMeta  = "\x1b[1m"  // bold: what a path is, ---/+++ lines
	colorFrag  = "\x1b[36m" // cyan: @@ lines
	colorOld   = "\x1b[31m" // red: removed lines
	colorNew   = "\x1b[32m" // green: added lines
	colorReset = "\x1b[m"
)

// print prints the differences found for spot s; what could not be
// compared is reported through fail.
func (pr *diffPrinter) print(a daemon.DiffAnswer, s spot, fail func(string, error)) {
	if a.Error != "" {
		fail(engine.QuotePath(s.arg), errors.New(a.Error))
	}
	for _, d := range a.Diffs {
		pr.line(colorMeta, d.What)
		for _, m := range d.Meta {
			pr.line(colorMeta, m)
		}
		if d.Error != "" {
			fail(engine.QuotePath(string(d.Path)), errors.New(d.Error))
			continue
		}
		for i, l := range bytes.SplitAfter(d.Unified, []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			text := strings.TrimSuffix(string(l), "\n")
			if i < 2 { // the --- and +++ lines, their names quoted
				pr.line(colorMeta, text)
				continue
			}
			c := ""
			switch text[0] {
			case '@':
				c = colorFrag
			case '-':
				c = colorOld
			case '+':
				c = colorNew
			}
			if pr.escape {
				text = text[:1] + engine.EscapeLine(text[1:])
			}
			pr.line(c, text)
		}
	}
}

// line prints one line in colour c ("" for none).
func (pr *diffPrinter) line(c, text string) {
	if !pr.color || c == "" {
		fmt.Fprintln(pr.w, text)
		return
	}
	fmt.Fprintln(pr.w, c+text+colorReset)
}

// Diff shows the differences of the pair a `sync --watch` holds, between
// two of its rounds.
func (w *watchedPair) Diff(ctx context.Context, paths []string, inView bool) ([]daemon.DiffAnswer, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	plan, err := w.p.ScanAll(ctx)
	if err != nil {
		return nil, err
	}
	return daemon.DiffPaths(plan, paths, daemon.DirectReader(w.p)), nil
}
