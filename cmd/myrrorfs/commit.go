package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/spf13/cobra"
)

func newCommit() *cobra.Command {
	var c common
	var yes, dryRun, force bool
	var maxDelete int
	cmd := &cobra.Command{
		Use:   "commit [flags] [MOUNTPOINT]",
		Short: "Make both sides equal to a mount's view",
		Long: `Ask the daemon of MOUNTPOINT (default: the mount holding the current
directory) to rescan both sides, print the plan, ask (unless --yes), then
apply it: both sides become equal to the view. Conflicts not resolved in the
view are left untouched and reported.

What runs is what was shown: the daemon rescans when it applies, and if
the plan differs from the one shown (a side changed meanwhile), nothing is
applied and the new plan is shown and asked for again.

The mount's daemon is found from MOUNTPOINT alone, whatever --state it was
made with; --state, when given, names the state directory to look in.

Exit status: 0 both sides are identical; 3 conflicts remain (untouched);
1 error (a message names the path and the cause).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fmt.Errorf("commit takes at most one argument, MOUNTPOINT; got %d (see myrrorfs commit --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxDelete < 0 || maxDelete > 100 {
				return fmt.Errorf("--max-delete %d: not a percentage (0 to 100)", maxDelete)
			}
			req := daemon.Request{Force: force, MaxDelete: maxDelete}
			return runCommit(c, args, yes, dryRun, req, cmd.OutOrStdout())
		},
	}
	c.register(cmd)
	f := cmd.Flags()
	f.BoolVarP(&yes, "yes", "y", false, "do not ask before acting (needed when not on a terminal)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&force, "force", false, "commit even when a side was emptied or the commit would delete more than --max-delete")
	f.IntVar(&maxDelete, "max-delete", engine.DefaultMaxDelete, "stop (without --force) when the commit would delete more than this `PERCENT` of a side's synced files")
	return cmd
}

// maxAsks bounds how often commit shows a plan again because a side kept
// changing between showing it and applying it.
const maxAsks = 3

// runCommit shows the mount's plan, asks, and has the daemon apply exactly
// that plan, reporting the outcome like sync. req carries the safety
// options.
func runCommit(c common, args []string, yes, dryRun bool, req daemon.Request, out io.Writer) error {
	t, err := mountTarget(c, args)
	if err != nil {
		return err
	}
	for ask := 1; ; ask++ {
		req.Op = daemon.OpPlan
		plan, err := t.call(req, nil)
		if err != nil {
			return err
		}
		if plan.Error != "" {
			return errors.New(plan.Error)
		}
		warn(plan.Warnings)
		fmt.Fprint(out, plan.Text)
		if dryRun || plan.Summary == nil {
			return failLines(plan.Failures)
		}
		if err := askApply(*plan.Summary, yes); err != nil {
			return err
		}
		b := &bar{}
		req.Op, req.Digest = daemon.OpCommit, plan.Digest
		res, err := t.call(req, func(p daemon.Progress) {
			if p.Total > 0 && b.pb == nil {
				b = newBar(p.Total)
			}
			b.add(p.Bytes)
		})
		b.finish()
		if err != nil {
			return err
		}
		if res.Changed && ask < maxAsks {
			fmt.Fprintf(out, "%s; the plan now:\n", res.Error)
			continue
		}
		if res.Error != "" {
			return errors.New(res.Error)
		}
		return finish(outcome{applied: res.Applied, bytes: res.Bytes, failures: res.Failures, conflicts: len(res.Conflicts)}, out)
	}
}
