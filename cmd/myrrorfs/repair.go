package main

import (
	"errors"
	"fmt"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/shell"
	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/spf13/cobra"
)

func newRepair() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "repair [flags] LOCAL REMOTE",
		Short: "Move the pair's journal aside: the next sync is a first sync",
		Long: `Move the journal of LOCAL and REMOTE aside, under the state directory, next
to where it was (its name gets ".aside-" and the time); nothing is deleted.
Use it when a command says the journal is damaged.

The journal only records what both sides last agreed on. Without it the next
sync (or mount) is a first sync: paths identical on both sides are equal,
paths that differ are conflicts, left untouched until resolved, and nothing
is deleted. Resolutions made in a view and not yet committed are lost.

repair does not reach the remote, and refuses while a mount or another
command holds the pair.`,
		Args: pairArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			aside, err := engine.MoveJournalAside(args[0], args[1], engine.Options{StateDir: state})
			if err != nil {
				if errors.Is(err, journal.ErrLocked) {
					return fmt.Errorf("%w; unmount it (or let it end) first", err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "moved the journal aside to %s (kept; remove it when no longer needed)\n", aside)
			fmt.Fprintln(cmd.OutOrStdout(), "the next sync is a first sync: identical paths are equal, different ones are conflicts")
			return nil
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "directory of the journals (default $XDG_STATE_HOME/myrrorfs)")
	return cmd
}

// damagedHint adds to the error of a damaged journal the way out.
func damagedHint(err error, c common, local, remote string) error {
	if err == nil || !errors.Is(err, journal.ErrDamaged) {
		return err
	}
	state := ""
	if c.state != "" {
		state = " --state " + shell.Quote(c.state)
	}
	return fmt.Errorf("%w; it only records what both sides last agreed on: myrrorfs repair%s %s %s moves it aside (kept), and the next sync is a first sync, where identical paths are equal and different ones conflicts",
		err, state, shell.Quote(local), shell.Quote(remote))
}
