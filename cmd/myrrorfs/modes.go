package main

import (
	"fmt"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/spf13/cobra"
)

// modeValue is the value of --mode.
type modeValue struct{ m *reconcile.Mode }

func (v modeValue) String() string { return v.m.String() }
func (v modeValue) Type() string   { return "MODE" }
func (v modeValue) Set(s string) error {
	m, err := reconcile.ParseMode(s)
	if err == nil {
		*v.m = m
	}
	return err
}

// preferValue is the value of --prefer.
type preferValue struct{ p *reconcile.Prefer }

func (v preferValue) String() string {
	if *v.p == reconcile.PreferNone {
		return ""
	}
	return v.p.String()
}
func (v preferValue) Type() string { return "SIDE" }
func (v preferValue) Set(s string) error {
	p, err := reconcile.ParsePrefer(s)
	if err == nil && p == reconcile.PreferNone {
		err = errNoneIsDefault
	}
	if err == nil {
		*v.p = p
	}
	return err
}

type constError string

func (e constError) Error() string { return string(e) }

const errNoneIsDefault = constError("leave --prefer out to leave conflicts alone")

// mergeValue is the value of --merge.
type mergeValue struct{ off *bool }

func (v mergeValue) String() string {
	if *v.off {
		return "off"
	}
	return "on"
}
func (v mergeValue) Type() string { return "on|off" }
func (v mergeValue) Set(s string) error {
	switch s {
	case "on":
		*v.off = false
	case "off":
		*v.off = true
	default:
		return fmt.Errorf("%q: on or off", s)
	}
	return nil
}

// registerMode adds --mode and --merge to a command that opens a pair.
func (c *common) registerMode(cmd *cobra.Command) {
	cmd.Flags().Var(mergeValue{&c.noMerge}, "merge", "on: merge text files both sides edited when the version last synced is known (a clean merge settles the conflict); off: leave every conflict to the user")
	c.mergeMax = engine.DefaultMergeLimit
	cmd.Flags().Var(sizeValue{&c.mergeMax}, "merge-max-size", "the largest text file merged, and whose synced content is kept for merging (K, M, G suffixes)")
	cmd.Flags().Var(modeValue{&c.policy.Mode}, "mode", "two-way (changes go both ways, conflicts stay), push (REMOTE becomes a replica of LOCAL) or pull (LOCAL becomes a replica of REMOTE); what a mirror replaces goes to its backup area")
}

// registerPolicy adds --mode, --prefer and --checksum.
func (c *common) registerPolicy(cmd *cobra.Command) {
	c.registerMode(cmd)
	f := cmd.Flags()
	f.Var(preferValue{&c.policy.Prefer}, "prefer", "settle two-way conflicts: local, remote or newer (the file modified last; an existing version over a deletion) wins, the other version goes to its side's backup area")
	f.BoolVar(&c.checksum, "checksum", false, "hash every file on both sides instead of trusting size, time and inode (slow: reads everything)")
}

// mountDecides refuses --mode, --prefer and --checksum for a command
// answered by a mount: the mount decides with the mode it was made with.
func mountDecides(cmd *cobra.Command) error {
	for _, name := range []string{"mode", "prefer", "checksum", "merge", "merge-max-size"} {
		if cmd.Flags().Changed(name) {
			return fmt.Errorf("--%s applies to LOCAL REMOTE: a mount decides with the mode it was mounted with (see myrrorfs mount --mode)", name)
		}
	}
	return nil
}
