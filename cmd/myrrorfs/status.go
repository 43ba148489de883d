package main

import (
	"context"
	"fmt"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/spf13/cobra"
)

func newStatus() *cobra.Command {
	var c common
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "status [flags] LOCAL REMOTE",
		Short: "Print what sync would do",
		Long: `Scan both sides and print what sync would do, grouped: to remote, to local,
and conflicts by kind. Nothing is changed (but hashes are cached in the journal).

With --json, print one JSON object per line:
  {"path":..., "action":"equal|to-remote|to-local|conflict", "op":..., "kind":...,
   "local":{...}|null, "remote":{...}|null}
Equal paths are printed only with --all.`,
		Args: pairArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := context.Background()
			p, err := openPair(ctx, c, args[0], args[1], "myrrorfs status")
			if err != nil {
				return err
			}
			defer p.Close()
			plan, err := p.Scan(ctx)
			if err != nil {
				return err
			}
			printWarnings(plan.Problems)
			if asJSON {
				err = plan.WriteJSON(cmd.OutOrStdout(), func(d reconcile.Decision) bool {
					return all || d.Action != reconcile.Equal
				})
			} else {
				plan.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			return failure(plan.Problems)
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per path and line")
	cmd.Flags().BoolVar(&all, "all", false, "with --json, print equal paths too")
	return cmd
}

func newConflicts() *cobra.Command {
	var c common
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "conflicts [flags] LOCAL REMOTE",
		Short: "List the paths changed on both sides",
		Long: `Scan both sides and list the conflicts, one per line as "KIND PATH"
(or one JSON object per line with --json, in the format of status --json).`,
		Args: pairArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := context.Background()
			p, err := openPair(ctx, c, args[0], args[1], "myrrorfs conflicts")
			if err != nil {
				return err
			}
			defer p.Close()
			plan, err := p.Scan(ctx)
			if err != nil {
				return err
			}
			printWarnings(plan.Problems)
			isConflict := func(d reconcile.Decision) bool { return d.Action == reconcile.Conflict }
			if asJSON {
				if err := plan.WriteJSON(cmd.OutOrStdout(), isConflict); err != nil {
					return err
				}
			} else {
				for _, d := range plan.Conflicts() {
					fmt.Fprintf(cmd.OutOrStdout(), "%-14s %s\n", d.Kind, d.Path)
				}
			}
			return failure(plan.Problems)
		},
	}
	c.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	return cmd
}
