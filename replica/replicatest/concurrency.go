package replicatest

import (
	"fmt"
	"io"
	"sync"
	"testing"
)

var concurrencyTests = []subtest{
	{"CreateTempAndRename", testConcurrentWrites},
}

func testConcurrentWrites(t *testing.T, e *env) {
	const workers, rounds = 8, 10
	e.mkdir("c", 0o755)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for round := range rounds {
				if err := writeRound(e, w, round); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	names := e.names("c")
	if len(names) != workers {
		t.Errorf("c holds %d entries; want %d (no temporaries left): %v", len(names), workers, names)
	}
	for w := range workers {
		p := fmt.Sprintf("c/f%d", w)
		if got, want := e.read(p), fmt.Sprintf("worker %d round %d", w, rounds-1); got != want {
			t.Errorf("%s = %q; want %q", p, got, want)
		}
	}
}

// writeRound writes worker w's file for one round through a temporary.
func writeRound(e *env, w, round int) error {
	tmp, f, err := e.r.CreateTemp("c", 0o644)
	if err != nil {
		return fmt.Errorf("worker %d: CreateTemp: %w", w, err)
	}
	if _, err := io.WriteString(f, fmt.Sprintf("worker %d round %d", w, round)); err != nil {
		return fmt.Errorf("worker %d: write: %w", w, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("worker %d: close: %w", w, err)
	}
	if _, err := e.r.Lstat(tmp); err != nil {
		return fmt.Errorf("worker %d: Lstat %s: %w", w, tmp, err)
	}
	if err := e.r.Rename(tmp, fmt.Sprintf("c/f%d", w)); err != nil {
		return fmt.Errorf("worker %d: Rename: %w", w, err)
	}
	return nil
}
