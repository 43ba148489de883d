package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
)

// Issue 7 case 6: commit applies the plan the user approved. A change
// made after the plan was shown makes the commit apply nothing and say so;
// the new plan's digest then commits.
func TestCommitAppliesApprovedPlan(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"a": "A", "b": "B"}, local: map[string]string{"a": "A2"}})
	ctx := context.Background()
	plan := HandlePlan(ctx, f.d, Request{Op: OpPlan})
	if plan.Error != "" || plan.Digest == "" {
		t.Fatalf("plan: %+v", plan)
	}
	// a change after the plan was shown
	if err := os.WriteFile(filepath.Join(f.local, "b"), []byte("B2"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := HandleCommit(ctx, f.d, Request{Op: OpCommit, Digest: plan.Digest}, func(Response) error { return nil })
	if !res.Changed || res.Code != 1 {
		t.Fatalf("commit of a stale plan: %+v", res)
	}
	check(t, "remote after the refused commit", f.remote, map[string]string{"a": "A", "b": "B"})
	plan = HandlePlan(ctx, f.d, Request{Op: OpPlan})
	res = HandleCommit(ctx, f.d, Request{Op: OpCommit, Digest: plan.Digest}, func(Response) error { return nil })
	if res.Changed || res.Code != 0 {
		t.Fatalf("commit of the approved plan: %+v", res)
	}
	check(t, "remote", f.remote, map[string]string{"a": "A2", "b": "B2"})
}

// Issue 7 case 3: a resolution made in the view while a commit runs is
// never undone by the commit.
func TestGestureDuringCommitKept(t *testing.T) {
	f := setup(t, mm)
	done := make(chan error, 1)
	during := func(*engine.Plan) error {
		// the user keeps the local version while the commit is under way
		go func() {
			_, err := sh(t, f.mnt, "rm p.remote")
			done <- err
		}()
		time.Sleep(300 * time.Millisecond)
		return nil
	}
	if _, _, err := f.d.Commit(context.Background(), during, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("rm p.remote: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the gesture did not complete")
	}
	if got := lsMount(t, f.mnt); got != "keep p" {
		t.Fatalf("view after the commit: %q, want the kept version alone", got)
	}
	f.commitWant(t, 0)
	check(t, "remote", f.remote, map[string]string{"p": "L"})
	check(t, "local", f.local, map[string]string{"p": "L"})
}
