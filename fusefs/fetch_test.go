package fusefs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/fusefs"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// gatedBackend serves a view from an engine pair, like the daemon, but its
// Fetch waits for the gate to open first: a remote that hangs. Its lock is
// not held while Fetch waits.
type gatedBackend struct {
	mu       sync.Mutex
	p        *engine.Pair
	gate     chan struct{} // closed: fetches go ahead
	once     sync.Once
	fetching chan string // receives the path of each fetch as it starts
}

func (b *gatedBackend) Refresh() ([]reconcile.Decision, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	plan, err := b.p.Refresh(context.Background(), false)
	if err != nil {
		return nil, err
	}
	return plan.Decisions, nil
}

func (b *gatedBackend) Fetch(path string, e tree.Entry) (string, error) {
	select {
	case b.fetching <- path:
	default:
	}
	<-b.gate
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p.Fetch(path, e)
}

func (b *gatedBackend) SetBases(cs []fusefs.BaseChange) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p.SetBases(cs)
}

func (b *gatedBackend) BackupLocal(path string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p.BackupLocal(path)
}

// openGate lets fetches go ahead.
func (f *mounted) openGate() { f.b.once.Do(func() { close(f.b.gate) }) }

// rescan rescans both sides and returns the decisions.
func (b *gatedBackend) rescan(t *testing.T) []reconcile.Decision {
	b.mu.Lock()
	defer b.mu.Unlock()
	plan, err := b.p.Refresh(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Decisions
}

// absent stands for no such entry in expected contents.
const absent = "<absent>"

type mounted struct {
	local, remote, mnt string
	b                  *gatedBackend
	v                  *fusefs.View
}

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// mountGated syncs base to a fresh pair, writes each side's edits, and
// mounts the view with a gated backend.
func mountGated(t *testing.T, base, local, remote map[string]string) *mounted {
	t.Helper()
	testenv.FUSE(t)
	dir := t.TempDir()
	f := &mounted{local: filepath.Join(dir, "l"), remote: filepath.Join(dir, "r"), mnt: filepath.Join(dir, "m")}
	for _, d := range []string{f.local, f.remote, f.mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, f.local, base)
	ctx := context.Background()
	p, err := engine.Open(ctx, f.local, f.remote, engine.Options{StateDir: filepath.Join(dir, "s"), Resident: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	plan, err := p.Scan(ctx)
	if err == nil {
		_, err = p.Apply(ctx, plan, engine.ApplyOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	write(t, f.local, local)
	write(t, f.remote, remote)
	f.b = &gatedBackend{p: p, gate: make(chan struct{}), fetching: make(chan string, 16)}
	lt, ok := p.Local.(fusefs.Tree)
	if !ok {
		t.Fatal("the local replica cannot back a view")
	}
	if f.v, err = fusefs.New(f.local, f.b, lt, f.b.rescan(t)); err != nil {
		t.Fatal(err)
	}
	srv, err := f.v.Mount(f.mnt, fusefs.MountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		f.v.Close()
	})
	// cleanups run last first: a request blocked on the gate ends before
	// the unmount
	t.Cleanup(f.openGate)
	return f
}

// shWithin runs a shell script in dir as another process and fails t if it
// fails or takes longer than d. On a timeout it opens the gate first: a
// process blocked in the mount cannot be killed before the mount answers.
func (f *mounted) shWithin(t *testing.T, d time.Duration, dir, script string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", `cd "$1" && shift && eval "$0"`, script, dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%q: %v\n%s", script, err, out.String())
		}
	case <-time.After(d):
		f.openGate()
		cmd.Process.Kill()
		<-done
		t.Fatalf("%q did not finish within %v while a fetch hangs", script, d)
	}
}

// TestHangingFetchLeavesGesturesFree: while a remote version is being
// fetched (for a read, or a copy-up before a write) and the remote hangs,
// other gestures in the view (rm of a conflict sibling, a new file, mv of a
// local file) complete; once the remote answers, the blocked request
// completes with the remote version.
func TestHangingFetchLeavesGesturesFree(t *testing.T) {
	cases := []struct {
		name string
		op   func(mnt string) error
		want map[string]string // what the local tree holds afterwards
	}{
		{"read", func(mnt string) error {
			b, err := os.ReadFile(filepath.Join(mnt, "r"))
			if err == nil && string(b) != "R" {
				t.Errorf("read %q through the view, want R", b)
			}
			return err
		}, map[string]string{"r": "base"}},
		{"copy-up", func(mnt string) error {
			f, err := os.OpenFile(filepath.Join(mnt, "r"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteString("x"); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}, map[string]string{"r": "Rx"}},
		{"rename", func(mnt string) error {
			return os.Rename(filepath.Join(mnt, "s/r"), filepath.Join(mnt, "s/r2"))
		}, map[string]string{"s/r": absent, "s/r2": "R"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mountGated(t,
				map[string]string{"o/p": "base", "r": "base", "s/r": "base", "o/q": "q"},
				map[string]string{"o/p": "L"},
				map[string]string{"o/p": "R", "r": "R", "s/r": "R"})
			done := make(chan error, 1)
			go func() { done <- c.op(f.mnt) }()
			select {
			case <-f.b.fetching:
			case <-time.After(10 * time.Second):
				t.Fatal("no fetch started")
			}
			// in another directory than the rename's: the kernel holds
			// the directory of a rename (or a create) locked until the
			// daemon answers
			f.shWithin(t, 5*time.Second, f.mnt, "cd o && rm p.remote && touch new && mv q q2")
			select {
			case err := <-done:
				t.Fatalf("the request ended while its fetch hangs: %v", err)
			default:
			}
			f.openGate()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the request did not end once the fetch went ahead")
			}
			for p, want := range c.want {
				b, err := os.ReadFile(filepath.Join(f.local, p))
				if err != nil {
					b = []byte(absent)
				}
				if string(b) != want {
					t.Errorf("local %s = %q, want %q", p, b, want)
				}
			}
			if b, err := os.ReadFile(filepath.Join(f.mnt, "o/p")); err != nil || string(b) != "L" {
				t.Errorf("p in the view = %q (%v), want the kept local version", b, err)
			}
		})
	}
}

// TestFetchRecheckedUnderLock: the remote version a copy-up fetches
// changes while the fetch hangs, and a rescan shows the new one in the
// view meanwhile; the copy-up then installs the version the view shows
// now, not the one it started to fetch.
func TestFetchRecheckedUnderLock(t *testing.T) {
	f := mountGated(t, map[string]string{"r": "base"}, nil, map[string]string{"r": "R"})
	done := make(chan error, 1)
	go func() {
		fh, err := os.OpenFile(filepath.Join(f.mnt, "r"), os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, err = fh.WriteString("x")
			if cerr := fh.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	select {
	case <-f.b.fetching:
	case <-time.After(10 * time.Second):
		t.Fatal("no fetch started")
	}
	write(t, f.remote, map[string]string{"r": "R3"})
	updated := make(chan struct{})
	go func() { f.v.Update(f.b.rescan(t)); close(updated) }()
	select {
	case <-updated:
	case <-time.After(5 * time.Second):
		t.Fatal("the view could not be updated while a fetch hangs")
	}
	f.openGate()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the copy-up did not end once the fetch went ahead")
	}
	if b, _ := os.ReadFile(filepath.Join(f.local, "r")); string(b) != "R3x" {
		t.Errorf("local r = %q, want R3x (the version the view showed when the fetch ended, edited)", b)
	}
}
