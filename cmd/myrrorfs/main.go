// Command myrrorfs keeps a local directory and a remote one in step.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/spf13/cobra"
)

// exitError carries an exit code other than 1 (and may carry no message).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// gcPercent is the garbage collector's target (GOGC) unless the
// environment sets one: a collection when the heap has grown by half of
// what was live after the last one, instead of Go's default of as much
// again. A scan's live heap is mostly what it must hold (a remote agent's
// listing, which comes in no useful order; a first sync's rows), and the
// garbage around it (listings and paths made and dropped per entry) then
// costs half as much memory. Measured on 100,000 files: peak RSS of a
// no-change sync 48 -> 39 MB, of a first sync 248-270 -> 209-215 MB, CPU
// time within noise; 1,000,000 files over ssh: status 161-169 -> 135-141 MB.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the exit code.
func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	stop := startProfiles()
	err := root.Execute()
	stop()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, errorLine(ee.msg))
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, errorLine(err.Error()))
	return 1
}

// errorLine is msg as the one line printed for an error: on one line, with
// one "myrrorfs: " prefix however many the message already has.
func errorLine(msg string) string {
	msg = daemon.OneLine(msg)
	for strings.HasPrefix(msg, "myrrorfs: ") {
		msg = strings.TrimPrefix(msg, "myrrorfs: ")
	}
	return "myrrorfs: " + msg
}

// version is this program's version: the module version it was built
// as, and the revision of its source when the build recorded one.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "myrrorfs (unknown version)"
	}
	return versionOf(info)
}

// versionOf is the version line of a build with the information info.
func versionOf(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	line := "myrrorfs " + v
	if rev != "" {
		line += " (revision " + rev + modified + ")"
	}
	return line
}

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of myrrorfs",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return fmt.Errorf("version takes no arguments; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), version())
			return nil
		},
	}
}

// common holds the flags every pair-opening command takes.
type common struct {
	state          string
	ssh            string
	ignore         []string
	remoteMyrrorfs string           // see engine.Options.RemoteMyrrorfs
	unsafeSFTP     bool             // see engine.Options.UnsafeSFTPWrites
	allRows        bool             // see engine.Options.AllRows (no flag: status --json --all)
	policy         reconcile.Policy // see engine.Options.Policy (registerPolicy)
	checksum       bool             // see engine.Options.Checksum (registerPolicy)
	noMerge        bool             // see engine.Options.NoMerge (registerMode)
	mergeMax       int64            // see engine.Options.MergeLimit (registerMode)

	backups engine.BackupLimits // see engine.Options.Backups (registerBackups)
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
		Version:       version(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newVersion())
	root.AddCommand(newSync(), newStatus(), newConflicts(), newMount(), newCommit(), newUnmount(), newRepair())
	root.AddCommand(newResolve())
	root.AddCommand(newLog())
	root.AddCommand(newRestore())
	root.AddCommand(newDiff())
	root.AddCommand(newAgent())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if !c.HasParent() {
			return fmt.Errorf("%w (see myrrorfs --help)", err)
		}
		return fmt.Errorf("%s: %w (see %s --help)", c.Name(), err, c.CommandPath())
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
