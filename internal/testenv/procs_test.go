package testenv

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestDescendantsFindsAGrandchild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 30 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var sleep Proc
	// a process in the middle of its exec already has its new name but
	// not yet its arguments: wait for both
	for i := 0; i < 200 && len(sleep.Args) == 0; i++ {
		for _, p := range Descendants(Procs(), os.Getpid()) {
			if p.Comm == "sleep" && p.PPid == cmd.Process.Pid {
				sleep = p
			}
		}
		if len(sleep.Args) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if sleep.Pid == 0 {
		t.Fatal("the sleep below the shell was not found")
	}
	if len(sleep.Args) != 2 || sleep.Args[1] != "30" {
		t.Fatalf("args of sleep = %q", sleep.Args)
	}
	if got := ChildToward(Procs(), os.Getpid(), sleep.Pid); got != cmd.Process.Pid {
		t.Fatalf("ChildToward = %d, want the shell %d", got, cmd.Process.Pid)
	}
	if got := ChildToward(Procs(), sleep.Pid, os.Getpid()); got != 0 {
		t.Fatalf("ChildToward from a descendant = %d, want 0", got)
	}
}
