package daemon

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// peerHelperEnv makes the test binary act as another user's process in
// TestPeerOfAnotherUser: "listen SOCKET" answers every request like a
// daemon, "call SOCKET" sends an info request and prints the raw answer.
const peerHelperEnv = "MYRRORFS_TEST_PEER"

func TestPeerHelper(t *testing.T) {
	mode, sock, ok := strings.Cut(os.Getenv(peerHelperEnv), " ")
	if !ok {
		t.Skip("helper of TestPeerOfAnotherUser")
	}
	switch mode {
	case "listen":
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("ready\n")
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadBytes('\n')
			c.Write([]byte(`{"v":1,"code":0,"text":"a lie\n"}` + "\n"))
			c.Close()
		}
	case "call": // raw, without the client's own check
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(`{"v":1,"op":"info"}` + "\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		os.Stdout.WriteString(line)
	}
}

// A daemon of another user is not answered, and does not answer.
func TestPeerOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a process as another user")
	}
	dir := shortTemp(t)
	os.Chmod(dir, 0o777)
	// a copy of the test binary that the other user may run
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "daemon.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	helper := func(args string) *exec.Cmd {
		cmd := exec.Command(bin, "-test.run=^TestPeerHelper$")
		cmd.Env = append(os.Environ(), peerHelperEnv+"="+args)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return cmd
	}

	// the client refuses a daemon of another user
	other := filepath.Join(dir, "other.sock")
	lis := helper("listen " + other)
	out, err := lis.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := lis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Process.Kill(); lis.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Skipf("helper as another user: %q %v", line, err)
	}
	_, err = Call(context.Background(), other, Request{Op: OpStatus}, nil)
	if err == nil || !strings.Contains(err.Error(), "runs as uid 65534") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("answer of another user's daemon: %v", err)
	}

	// the daemon refuses a client of another user
	mine := filepath.Join(dir, "mine.sock")
	s, err := Listen(mine)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Chmod(filepath.Dir(mine), 0o777)
	os.Chmod(mine, 0o777)
	go s.Serve(&fakeMount{plan: samplePlan()})
	got, err := helper("call " + mine).Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	if s := string(got); !strings.Contains(s, "the client runs as uid 65534, not as uid 0: refused") || strings.Contains(s, "mountpoint") {
		t.Fatalf("another user's request: %q", s)
	}
}

func TestRecordAndForget(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", shortTemp(t))
	rt, err := RuntimeDir()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Recorded("/mnt/x"); got != "" || err != nil {
		t.Fatalf("no record yet: %q %v", got, err)
	}
	sock := filepath.Join(shortTemp(t), "s.sock")
	s, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(&fakeMount{plan: samplePlan()})
	if err := s.Record("/mnt/x"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(rt); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("runtime directory: %v %v", fi.Mode(), err)
	}
	if got, err := Recorded("/mnt/x"); got != sock || err != nil {
		t.Fatalf("record: %q %v", got, err)
	}
	if got, _ := Recorded("/mnt/y"); got != "" {
		t.Fatalf("record of another mountpoint: %q", got)
	}
	// a record nothing answers on goes when another daemon records
	dead := filepath.Join(rt, recordName("/mnt/dead"))
	os.Symlink(filepath.Join(rt, "nothing.sock"), dead)
	s2, err := Listen(filepath.Join(filepath.Dir(sock), "s2.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Record("/mnt/z"); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if _, err := os.Lstat(dead); !os.IsNotExist(err) {
		t.Fatalf("stale record kept: %v", err)
	}
	if got, _ := Recorded("/mnt/z"); got != "" {
		t.Fatalf("Close kept its record: %q", got)
	}
	// Forget leaves a live daemon's socket alone
	Forget("/mnt/x", sock)
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("Forget removed a live socket: %v", err)
	}
	s.Shutdown()
	Forget("/mnt/x", sock)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("Forget kept a dead socket: %v", err)
	}
	if got, _ := Recorded("/mnt/x"); got != "" {
		t.Fatalf("Forget kept the record: %q", got)
	}
	s.Close()

	// a runtime directory open to others is not trusted, nor written to
	os.Chmod(rt, 0o755)
	if _, err := Recorded("/mnt/x"); err == nil || !strings.Contains(err.Error(), "open to others") {
		t.Fatalf("runtime directory 0755: %v", err)
	}
	if err := s2.Record("/mnt/x"); err == nil {
		t.Fatal("recorded in a directory open to others")
	}
	// nor is a symbolic link in its place
	os.Remove(filepath.Join(rt, recordName("/mnt/x")))
	os.RemoveAll(rt)
	os.Symlink(shortTemp(t), rt)
	if _, err := Recorded("/mnt/x"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("runtime directory as a link: %v", err)
	}
}
