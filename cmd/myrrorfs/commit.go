package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/spf13/cobra"
)

func newCommit() *cobra.Command {
	var c common
	var yes, dryRun, force bool
	cmd := &cobra.Command{
		Use:   "commit [flags] [MOUNTPOINT]",
		Short: "Make both sides equal to a mount's view",
		Long: `Ask the daemon of MOUNTPOINT (default: the mount holding the current
directory) to rescan both sides, print the plan, ask (unless --yes), then
apply it: both sides become equal to the view. Conflicts not resolved in the
view are left untouched and reported.

The daemon rescans again when it applies: what is committed is the state of
both sides at that moment, including changes made after the plan was shown.

Pass the --state the mount was made with.

Exit status: 0 both sides are identical; 3 conflicts remain (untouched);
1 error (a message names the path and the cause).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fmt.Errorf("commit takes at most one argument, MOUNTPOINT; got %d (see myrrorfs commit --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCommit(c, args, yes, dryRun, force, cmd.OutOrStdout())
		},
	}
	c.register(cmd)
	f := cmd.Flags()
	f.BoolVarP(&yes, "yes", "y", false, "do not ask before acting (needed when not on a terminal)")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&force, "force", false, "commit even when a side is empty that was not before (it would delete everything on the other side)")
	return cmd
}

// runCommit shows the mount's plan, asks, and has the daemon apply it,
// reporting the outcome like sync.
func runCommit(c common, args []string, yes, dryRun, force bool, out io.Writer) error {
	t, err := mountTarget(c, args)
	if err != nil {
		return err
	}
	plan, err := t.call(daemon.Request{Op: daemon.OpPlan, Force: force}, nil)
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
	res, err := t.call(daemon.Request{Op: daemon.OpCommit, Force: force}, func(p daemon.Progress) {
		if p.Total > 0 && b.pb == nil {
			b = newBar(p.Total)
		}
		b.add(p.Bytes)
	})
	b.finish()
	if err != nil {
		return err
	}
	if res.Error != "" {
		return errors.New(res.Error)
	}
	return finish(outcome{applied: res.Applied, bytes: res.Bytes, failures: res.Failures, conflicts: len(res.Conflicts)}, out)
}
