package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWorkingDirectoryKept: a process working inside directories only the
// remote holds, whose first write makes them in LOCAL, keeps its working
// directory through the rescans and the commit that follow (the kernel
// must not be told to drop those names: getcwd would fail, and git with
// it).
func TestWorkingDirectoryKept(t *testing.T) {
	for _, dir := range []string{"d", "d/e"} {
		t.Run(dir, func(t *testing.T) { testWorkingDirectoryKept(t, dir) })
	}
}

func testWorkingDirectoryKept(t *testing.T, dir string) {
	f := setup(t, scenario{base: map[string]string{"keep": "k"}, remote: map[string]string{"d/e/f": "a\n", "d/g": "b"}})
	sync := t.TempDir()
	ready, goOn := filepath.Join(sync, "ready"), filepath.Join(sync, "go")
	// pwd again and again right after the first write (while the view
	// tells the kernel what changed), then after rescans and a commit
	cmd := exec.Command("sh", "-c", `cd "$1/$4" && touch new && for i in $(seq 1 100); do /bin/pwd >/dev/null || exit 1; done &&
		/bin/pwd && echo x >> "$1/d/e/f" && : > "$2" &&
		while [ ! -e "$3" ]; do sleep 0.05; done && /bin/pwd && touch later`, "sh", f.mnt, ready, goOn, dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() }) // a failed test leaves no shell waiting; the goroutine above reaps it

	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the shell ended early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell never wrote inside the remote-only directory")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 2; i++ {
		if _, err := f.d.Rescan(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	f.commitWant(t, 0)
	time.Sleep(500 * time.Millisecond) // the notifier tells the kernel after each new view
	os.WriteFile(goOn, nil, 0o644)
	if err := <-done; err != nil {
		t.Fatalf("in the directory after rescans and a commit: %v\n%s", err, out.String())
	}
	if got, want := out.String(), strings.Repeat(filepath.Join(f.mnt, dir)+"\n", 2); got != want {
		t.Fatalf("pwd printed %q, want %q", got, want)
	}
	// listings show the number stat shows
	for p := dir; p != "."; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(f.mnt, p), &st); err != nil {
			t.Fatal(err)
		}
		if got := direntInos(t, filepath.Join(f.mnt, filepath.Dir(p)))[filepath.Base(p)]; got != st.Ino {
			t.Errorf("%s is listed with inode %d, stat says %d", p, got, st.Ino)
		}
	}
	f.commitWant(t, 0)
	check(t, "remote", f.remote, map[string]string{"keep": "k", "d/e/f": "a\nx\n", dir + "/new": "", dir + "/later": "", "d/g": "b"})
}
