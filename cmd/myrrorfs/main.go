// Command myrrorfs keeps a local directory and a remote one in step.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/spf13/cobra"
)

// exitError carries an exit code other than 1 (and may carry no message).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit code.
func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "myrrorfs: "+ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "myrrorfs: "+daemon.OneLine(err.Error()))
	return 1
}

// common holds the flags every pair-opening command takes.
type common struct {
	state          string
	ssh            string
	ignore         []string
	remoteMyrrorfs string // see engine.Options.RemoteMyrrorfs
	unsafeSFTP     bool   // see engine.Options.UnsafeSFTPWrites
}

func (c *common) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.state, "state", "", "directory of the journals (default $XDG_STATE_HOME/myrrorfs)")
	f.StringVarP(&c.ssh, "ssh", "e", "ssh", "command used to reach the remote, like rsync -e (e.g. \"ssh -p 2222\")")
	f.StringArrayVar(&c.ignore, "ignore", nil, "gitignore-style `PATTERN` of paths to leave out (repeatable; adds to .myrrorignore)")
	f.StringVar(&c.remoteMyrrorfs, "remote-myrrorfs", "", "`PATH` of myrrorfs on the remote, run there to hash and copy in place (default: the remote PATH's, else an upload of this binary when the remote's system matches; \"none\": plain SFTP)")
	f.BoolVar(&c.unsafeSFTP, "unsafe-sftp-writes", false, "let plain SFTP (no agent on the remote) write to REMOTE; racy: a remote directory swapped for a symlink during the run can redirect writes outside REMOTE (without it, plain SFTP is read-only)")
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "myrrorfs",
		Short: "Keep a local directory and a remote one in step",
		Long: `myrrorfs keeps a local directory and a remote one (over ssh, or a second
local directory) in step. A path changed on one side since the last sync is
copied to the other; a path changed on both sides is a conflict and is left
alone until resolved.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newSync(), newStatus(), newConflicts(), newMount(), newCommit(), newUnmount(), newRepair())
	root.AddCommand(newAgent())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w (see myrrorfs %s --help)", c.Name(), err, c.Name())
	})
	return root
}

// pairArgs checks that a command got exactly LOCAL and REMOTE.
func pairArgs(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("%s needs two arguments, LOCAL and REMOTE; got %d (see myrrorfs %s --help)", cmd.Name(), len(args), cmd.Name())
	}
	return nil
}
