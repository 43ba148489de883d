package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newSync() *cobra.Command {
	var c common
	var yes, dryRun, force, watch bool
	var maxDelete int
	var planFile string
	cmd := &cobra.Command{
		Use:   "sync [flags] LOCAL REMOTE",
		Short: "Bring LOCAL and REMOTE in step, without a mount",
		Long: `Scan both sides, reconcile them with the last sync, print the plan, ask
(unless --yes), then copy every one-sided change to the other side. Conflicts
are left untouched and reported.

With --plan FILE (saved earlier by status --json > FILE, with the same
--mode and --prefer), apply the plan only if every path is still as FILE
recorded it; otherwise list the paths that changed and do nothing.

REMOTE is [user@]host:path (a relative path is relative to the remote home) or
a local directory. Both directories must exist.

Exit status: 0 both sides are identical; 3 conflicts remain (untouched);
1 error (a message names the path and the cause).`,
		Args: pairArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if maxDelete < 0 || maxDelete > 100 {
				return fmt.Errorf("--max-delete %d: not a percentage (0 to 100)", maxDelete)
			}
			if force {
				maxDelete = -1
			}
			saved, err := loadPlan(&c, planFile, watch)
			if err != nil {
				return err
			}
			yes = yes || saved != nil // the plan was reviewed
			if watch {
				if dryRun {
					return fmt.Errorf("--watch and --dry-run: choose one")
				}
				if !yes {
					return fmt.Errorf("--watch acts on every change without asking: pass --yes (-y) too")
				}
				return runWatch(ctx, c, args[0], args[1], maxDelete, cmd.OutOrStdout())
			}
			return runSync(ctx, c, args[0], args[1], yes, dryRun, maxDelete, saved, cmd.OutOrStdout())
		},
	}
	c.register(cmd)
	c.registerPolicy(cmd)
	c.registerBackups(cmd)
	f := cmd.Flags()
	f.BoolVarP(&yes, "yes", "y", false, "do not ask before acting (needed when not on a terminal)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&watch, "watch", false, "keep running: sync again whenever either side changes, leaving conflicts untouched, until Ctrl-C (needs --yes)")
	f.BoolVar(&force, "force", false, "sync even when a side was emptied or the run would delete more than --max-delete")
	f.StringVar(&planFile, "plan", "", "apply only the plan saved in `FILE` by status --json: stop, listing what changed, unless every path is as it was then (asks nothing; with --dry-run: check only)")
	f.IntVar(&maxDelete, "max-delete", engine.DefaultMaxDelete, "stop (without --force) when the run would delete more than this `PERCENT` of a side's synced files")
	return cmd
}

// warnLine prints a one-line warning.
func warnLine(msg string) {
	fmt.Fprintf(os.Stderr, "myrrorfs: warning: %s\n", daemon.OneLine(msg))
}

// openPair opens the pair for the command holder ("myrrorfs sync", …).
// When a mount holds the pair, the error says how to reach it instead.
func openPair(ctx context.Context, c common, local, remote, holder string) (*engine.Pair, error) {
	p, err := engine.Open(ctx, local, remote, engine.Options{
		StateDir:         c.state,
		SSHCommand:       c.ssh,
		Ignore:           c.ignore,
		Holder:           fmt.Sprintf("%s (pid %d)", holder, os.Getpid()),
		RemoteMyrrorfs:   c.remoteMyrrorfs,
		UnsafeSFTPWrites: c.unsafeSFTP,
		AllRows:          c.allRows,
		Policy:           c.policy,
		Checksum:         c.checksum,
		NoMerge:          c.noMerge,
		MergeLimit:       c.mergeMax,
		Backups:          c.backups,
		ScanProgress:     scanProgress(),
		Warn:             warnLine,
	})
	if err != nil {
		return nil, damagedHint(heldByMount(err, c, holder), c, local, remote)
	}
	return p, nil
}

// scanPair opens a pair and scans it, printing the scan's warnings; the
// caller closes the pair.
func scanPair(ctx context.Context, c common, local, remote, holder string) (*engine.Pair, *engine.Plan, error) {
	p, err := openPair(ctx, c, local, remote, holder)
	if err != nil {
		return nil, nil, err
	}
	plan, err := p.Scan(ctx)
	endScanProgress()
	if err != nil {
		p.Close()
		return nil, nil, damagedHint(err, c, local, remote)
	}
	printWarnings(plan.Problems)
	return p, plan, nil
}

// runSync syncs a pair; maxDelete < 0 (--force) skips the deletion checks;
// a saved plan (sync --plan) must be the plan scanned.
func runSync(ctx context.Context, c common, local, remote string, yes, dryRun bool, maxDelete int, saved *engine.SavedPlan, out io.Writer) error {
	p, plan, err := scanPair(ctx, c, local, remote, "myrrorfs sync")
	if err != nil {
		return err
	}
	defer p.Close()
	if err := checkPlan(saved, plan, out); err != nil {
		return err
	}
	if maxDelete >= 0 {
		if err := plan.CheckDeletes(maxDelete); err != nil {
			return err
		}
	}
	plan.WriteText(out)
	sum := plan.Summarize()
	if dryRun {
		return failure(plan.Problems)
	}
	if err := askApply(sum, yes); err != nil {
		return err
	}
	bar := newBar(sum.Bytes)
	res, err := p.Apply(ctx, plan, engine.ApplyOptions{Progress: bar.add})
	bar.finish()
	if err != nil {
		return damagedHint(err, c, local, remote)
	}
	printPruned(out, p.PruneAfter(res))
	_, failures := daemon.SplitProblems(res.Problems)
	return finish(outcome{applied: res.Applied, bytes: res.Bytes, failures: failures, conflicts: len(res.Conflicts)}, out)
}

// askApply asks before applying the changes of a plan, unless yes or
// there is nothing to change. It fails when not on a terminal without yes,
// and with "nothing done" when the answer is no.
func askApply(sum engine.Summary, yes bool) error {
	n := sum.ToRemote + sum.ToLocal
	if n == 0 || yes {
		return nil
	}
	ok, err := confirm(fmt.Sprintf("Apply %d changes?", n))
	if err != nil {
		return err
	}
	if !ok {
		return &exitError{code: 1, msg: "nothing done"}
	}
	return nil
}

// outcome is what a sync or a commit did.
type outcome struct {
	applied   int
	bytes     int64
	failures  []string // one line per path that could not be brought in step
	conflicts int      // conflicts left untouched
}

// finish reports the outcome and maps it to the exit status: nil (0) when
// both sides are identical, an exitError of code 3 when conflicts remain,
// an error (1) when a path failed.
func finish(o outcome, out io.Writer) error {
	fmt.Fprintf(out, "synced %d paths, copied %s\n", o.applied, engine.HumanBytes(o.bytes))
	if err := failLines(o.failures); err != nil {
		return err
	}
	if o.conflicts > 0 {
		return &exitError{code: 3, msg: fmt.Sprintf("%d conflicts remain, left untouched (see myrrorfs conflicts)", o.conflicts)}
	}
	return nil
}

// printWarnings prints the problems that are only warnings.
func printWarnings(probs []engine.Problem) {
	warnings, _ := daemon.SplitProblems(probs)
	warn(warnings)
}

// warn prints warnings, one line each.
func warn(warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(os.Stderr, "myrrorfs: warning: %s (left alone)\n", daemon.OneLine(w))
	}
}

// failure prints every failed path but the last and returns the last as
// the command's error; nil when nothing failed.
func failure(probs []engine.Problem) error {
	_, failures := daemon.SplitProblems(probs)
	return failLines(failures)
}

// failLines prints every failure but the last and returns the last as the
// command's error; nil when there is none.
func failLines(failures []string) error {
	if len(failures) == 0 {
		return nil
	}
	for _, f := range failures[:len(failures)-1] {
		fmt.Fprintln(os.Stderr, "myrrorfs: "+daemon.OneLine(f))
	}
	return fmt.Errorf("%s", failures[len(failures)-1])
}

// confirm asks a yes/no question on the terminal.
func confirm(q string) (bool, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return false, fmt.Errorf("standard input is not a terminal: pass --yes (-y) to act without asking")
	}
	fmt.Fprintf(os.Stderr, "%s [y/N] ", q)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// scanProgress returns a reporter of scan progress on a terminal (nil
// elsewhere): one line, rewritten in place, on standard error.
func scanProgress() func(engine.Side, int, int64) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	var mu sync.Mutex
	var entries [2]int
	var hashed [2]int64
	return func(s engine.Side, n int, b int64) {
		mu.Lock()
		defer mu.Unlock()
		entries[s], hashed[s] = n, b
		fmt.Fprintf(os.Stderr, "\rscanning: %d local, %d remote entries; %s hashed\x1b[K",
			entries[0], entries[1], engine.HumanBytes(hashed[0]+hashed[1]))
	}
}

// endScanProgress ends the scan progress line, if one was shown.
func endScanProgress() {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		fmt.Fprint(os.Stderr, "\r\x1b[K")
	}
}

// bar is a progress bar on a terminal, and nothing elsewhere.
type bar struct{ pb *progressbar.ProgressBar }

func newBar(total int64) *bar {
	if total == 0 || !term.IsTerminal(int(os.Stderr.Fd())) {
		return &bar{}
	}
	return &bar{pb: progressbar.DefaultBytes(total, "syncing")}
}

func (b *bar) add(n int64) {
	if b.pb != nil {
		b.pb.Add64(n)
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		b.pb.Finish()
		fmt.Fprintln(os.Stderr)
	}
}
