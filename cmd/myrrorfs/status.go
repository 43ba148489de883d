package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/myrrorfs/myrrorfs/daemon"

	"github.com/spf13/cobra"
)

func newStatus() *cobra.Command {
	var c common
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "status [flags] [MOUNTPOINT | LOCAL REMOTE]",
		Short: "Print what sync (or commit) would do",
		Long: `Scan both sides and print what sync would do, grouped: to remote, to local,
and conflicts by kind. Nothing is changed (but hashes are cached in the journal).

With a MOUNTPOINT, or no argument inside a mount, ask that mount's daemon
(which rescans both sides): this is what commit would do now.

With --json, print one JSON object per line:
  {"path":..., "action":"equal|to-remote|to-local|conflict", "op":..., "kind":...,
   "local":{...}|null, "remote":{...}|null}
Equal paths, and paths inside a conflicting directory (with "under":DIR),
are printed only with --all.`,
		Args: pairOrMountArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				if err := mountDecides(cmd); err != nil {
					return err
				}
				return askMount(cmd.OutOrStdout(), c, args, daemon.Request{Op: daemon.OpStatus, JSON: asJSON, All: all})
			}
			c.allRows = asJSON && all // equal paths are printed too
			p, plan, err := scanPair(context.Background(), c, args[0], args[1], "myrrorfs status")
			if err != nil {
				if ok, werr := askWatch(cmd.OutOrStdout(), c, args[0], args[1], err, daemon.Request{Op: daemon.OpStatus, JSON: asJSON, All: all}); ok {
					return werr
				}
				return err
			}
			defer p.Close()
			if err := daemon.WriteStatus(cmd.OutOrStdout(), plan, asJSON, all); err != nil {
				return err
			}
			return failure(plan.Problems)
		},
	}
	c.register(cmd)
	c.registerPolicy(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per path and line")
	cmd.Flags().BoolVar(&all, "all", false, "with --json, print equal paths too")
	return cmd
}

func newConflicts() *cobra.Command {
	var c common
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "conflicts [flags] [MOUNTPOINT | LOCAL REMOTE]",
		Short: "List the paths changed on both sides",
		Long: `Scan both sides and list the conflicts, one per line as "KIND PATH"
(or one JSON object per line with --json, in the format of status --json).

With a MOUNTPOINT, or no argument inside a mount, ask that mount's daemon.`,
		Args: pairOrMountArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return askMount(cmd.OutOrStdout(), c, args, daemon.Request{Op: daemon.OpConflicts, JSON: asJSON})
			}
			p, plan, err := scanPair(context.Background(), c, args[0], args[1], "myrrorfs conflicts")
			if err != nil {
				if ok, werr := askWatch(cmd.OutOrStdout(), c, args[0], args[1], err, daemon.Request{Op: daemon.OpConflicts, JSON: asJSON}); ok {
					return werr
				}
				return err
			}
			defer p.Close()
			if err := daemon.WriteConflicts(cmd.OutOrStdout(), plan, asJSON, nil); err != nil {
				return err
			}
			return failure(plan.Problems)
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	return cmd
}

// pairOrMountArgs accepts LOCAL REMOTE, a MOUNTPOINT, or nothing (the
// mount holding the current directory).
func pairOrMountArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 2 {
		return fmt.Errorf("%s takes MOUNTPOINT, or LOCAL and REMOTE; got %d arguments (see myrrorfs %s --help)", cmd.Name(), len(args), cmd.Name())
	}
	return nil
}

// askMount sends a status or conflicts request to the mount named by args
// and prints the answer as the command on a pair would.
func askMount(out io.Writer, c common, args []string, req daemon.Request) error {
	return askMountWith(out, c, args, req, printAnswer)
}

// askMountWith sends req to the mount named by args and prints its answer
// with print.
func askMountWith(out io.Writer, c common, args []string, req daemon.Request, print func(io.Writer, *daemon.Response) error) error {
	t, err := mountTarget(c, args)
	if err != nil {
		return err
	}
	resp, err := t.call(req, nil)
	if err != nil {
		return err
	}
	return print(out, resp)
}

// printAnswer prints a status or conflicts answer: its warnings, its text,
// and its failures as the error.
func printAnswer(out io.Writer, resp *daemon.Response) error {
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	warn(resp.Warnings)
	fmt.Fprint(out, resp.Text)
	return failLines(resp.Failures)
}
