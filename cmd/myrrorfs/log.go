package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/spf13/cobra"
)

func newLog() *cobra.Command {
	var c common
	var asJSON bool
	var n int
	cmd := &cobra.Command{
		Use:   "log [flags] [MOUNTPOINT | LOCAL REMOTE]",
		Short: "Print the history of a pair's syncs and commits",
		Long: `Print what the pair's runs did, newest first, from its journal: one block
per sync, commit or sync --watch run that changed something, left conflicts
or failed. The first line gives the time, the command, the mode and the
counts; then one line per path: "> OP PATH" changed on the remote, "< OP PATH"
changed on the local side, "settled KIND PATH" a conflict --prefer settled,
"resolved PATH", "merged PATH", "conflict KIND PATH" a conflict left untouched,
"failed: ..." a path that could not be brought in step.

With --json, print one JSON object per run and line.

The journal keeps the last 1000 runs, and up to 1000 paths of each list of a
run (the rest are counted). LOCAL REMOTE only reads the journal: the remote is
not reached. With a MOUNTPOINT, or no argument inside a mount, or LOCAL REMOTE
of a mounted pair (or of one a sync --watch holds), ask the process holding it.`,
		Args: pairOrMountArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return fmt.Errorf("-n %d: not a number of runs", n)
			}
			out := cmd.OutOrStdout()
			req := daemon.Request{Op: daemon.OpLog, JSON: asJSON, N: n}
			if len(args) < 2 {
				return askMountWith(out, c, args, req, printLog)
			}
			entries, warns, err := engine.ReadHistory(args[0], args[1], engine.Options{
				StateDir: c.state, Holder: fmt.Sprintf("myrrorfs log (pid %d)", os.Getpid())}, n)
			if errors.Is(err, journal.ErrLocked) {
				if m := mountHolder.FindStringSubmatch(err.Error()); m != nil {
					return askMountWith(out, c, []string{m[1]}, req, printLog)
				}
				if ok, werr := askWatchWith(out, c, args[0], args[1], err, req, printLog); ok {
					return werr
				}
			}
			if errors.Is(err, journal.ErrNoJournal) {
				fmt.Fprintf(os.Stderr, "myrrorfs: no run recorded: %s\n", daemon.OneLine(err.Error()))
				return nil
			}
			if err != nil {
				return damagedHint(err, c, args[0], args[1])
			}
			for _, w := range warns {
				warnLine(w)
			}
			return engine.WriteHistory(out, entries, asJSON)
		},
	}
	cmd.Flags().StringVar(&c.state, "state", "", "directory of the journals (default $XDG_STATE_HOME/myrrorfs)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per run and line")
	cmd.Flags().IntVarP(&n, "number", "n", 0, "print the `N` newest runs only (default: all kept)")
	return cmd
}

// printLog prints a log response.
func printLog(out io.Writer, resp *daemon.Response) error {
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	for _, w := range resp.Warnings {
		warnLine(w)
	}
	_, err := io.WriteString(out, resp.Text)
	return err
}
