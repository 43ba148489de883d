package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/spf13/cobra"
)

// registerBackups adds --backup-keep-days and --backup-max-size, the
// limits a run enforces on the backup areas once it is done (see
// engine.BackupLimits).
func (c *common) registerBackups(cmd *cobra.Command) {
	c.backups = engine.BackupLimits{KeepFor: engine.DefaultBackupKeepDays * day, MaxSize: engine.DefaultBackupMaxSize}
	f := cmd.Flags()
	f.Var(daysValue{&c.backups.KeepFor}, "backup-keep-days", "after each run, remove backups older than `DAYS` (0: no age limit)")
	f.Var(sizeValue{&c.backups.MaxSize}, "backup-max-size", "after each run, while a side's backups take more than `SIZE` (e.g. 500M, 2G; 0: no limit), remove the oldest whose content a tree still holds")
}

const day = 24 * time.Hour

// daysValue is a whole number of days.
type daysValue struct{ d *time.Duration }

func (v daysValue) String() string { return strconv.FormatInt(int64(*v.d/day), 10) }
func (v daysValue) Type() string   { return "DAYS" }
func (v daysValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return fmt.Errorf("%q: not a number of days", s)
	}
	*v.d = time.Duration(n) * day
	return nil
}

// sizeValue is a size in bytes, with an optional binary unit.
type sizeValue struct{ n *int64 }

func (v sizeValue) String() string {
	if *v.n > 0 && *v.n%(1<<30) == 0 {
		return fmt.Sprintf("%dG", *v.n>>30)
	}
	return strconv.FormatInt(*v.n, 10)
}
func (v sizeValue) Type() string { return "SIZE" }
func (v sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err == nil {
		*v.n = n
	}
	return err
}

// parseSize reads a byte count: a whole number, then optionally K, M, G or
// T (powers of 1024), optionally followed by iB or B.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	shift := 0
	if t != "" {
		if i := strings.IndexByte("KMGT", t[len(t)-1]); i >= 0 {
			shift, t = 10*(i+1), t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q: not a size (a number of bytes, or with K, M, G or T)", s)
	}
	return n << shift, nil
}

// printPruned reports what a prune after a run did, if anything, and its
// problems as warnings.
func printPruned(out io.Writer, pr engine.Pruned) {
	if line := pr.String(); line != "" {
		fmt.Fprintln(out, line)
	}
	printWarnings(pr.Problems)
}
