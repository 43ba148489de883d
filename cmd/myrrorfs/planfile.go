package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/myrrorfs/myrrorfs/engine"
)

// maxStaleLines is how many changed paths a refused plan lists.
const maxStaleLines = 20

// loadPlan reads the plan file of sync --plan (none when name is empty)
// before the pair is opened, so that a damaged file or one saved with
// other --mode/--prefer flags costs no scan. A file listing equal paths
// (status --json --all) makes the scan keep every row.
func loadPlan(c *common, name string, watch bool) (*engine.SavedPlan, error) {
	if name == "" {
		return nil, nil
	}
	if watch {
		return nil, fmt.Errorf("--plan and --watch: a saved plan is applied once, by one run; choose one")
	}
	sp, err := engine.ReadPlanFile(name)
	if err != nil {
		return nil, err
	}
	if err := sp.CheckPolicy(c.policy); err != nil {
		return nil, err
	}
	c.allRows = c.allRows || sp.NeedsAllRows()
	return sp, nil
}

// checkPlan compares the saved plan (if any) with the plan just scanned.
// When they differ it lists the changed paths on standard error and
// fails (exit 1) before anything is done.
func checkPlan(sp *engine.SavedPlan, plan *engine.Plan, out io.Writer) error {
	if sp == nil {
		return nil
	}
	err := sp.Check(plan)
	var stale *engine.StalePlanError
	if errors.As(err, &stale) {
		fmt.Fprintln(os.Stderr, errorLine(stale.Error()+":"))
		for _, l := range stale.Lines(maxStaleLines) {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
		return &exitError{code: 1}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "plan %s: every path as it was saved (%d listed)\n", engine.QuotePath(sp.Name()), sp.Len())
	return nil
}
