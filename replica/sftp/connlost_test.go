package sftp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

// lostWithin checks that a call on r fails within d with an error naming
// the host and wrapping ErrConnectionLost.
func lostWithin(t *testing.T, r *Replica, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		start := time.Now()
		_, err := r.Lstat("")
		if took := time.Since(start); took > d {
			t.Fatalf("Lstat took %v after the connection was cut", took)
		}
		if err != nil {
			t.Logf("error after the cut: %v", err)
			if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), r.host) {
				t.Errorf("error %q should wrap ErrConnectionLost and name %s", err, r.host)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still succeed %v after the connection was cut", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKilledClientFailsCalls(t *testing.T) {
	r, _ := dialTest(t)
	if _, err := r.Lstat(""); err != nil {
		t.Fatal(err)
	}
	if err := r.proc.(*Process).cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	lostWithin(t, r, 5*time.Second)
	closeQuickly(t, r)
}

func TestKilledServerFailsCalls(t *testing.T) {
	r, _ := dialTest(t)
	if _, err := r.Lstat(""); err != nil {
		t.Fatal(err)
	}
	pids := serverPids(t, testenv.SSHDPid(t), r.proc.(*Process).cmd.Process.Pid)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill sshd child %d: %v", pid, err)
		}
	}
	lostWithin(t, r, 5*time.Second)
	closeQuickly(t, r)
}

func TestCallsInFlightFailWhenCut(t *testing.T) {
	r, dir := dialTest(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := r.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1<<10)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	r.proc.(*Process).cmd.Process.Kill()
	done := make(chan error, 1)
	go func() {
		_, err := rc.(*readFile).WriteTo(discard{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("reading over a killed connection succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read in flight hangs after the connection was cut")
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// closeQuickly checks that Close returns at once on a dead connection.
func closeQuickly(t *testing.T, r *Replica) {
	t.Helper()
	start := time.Now()
	r.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v on a dead connection", d)
	}
}

// serverPids returns the processes under sshd that serve the connection of
// the ssh client clientPid: those holding the server end of its TCP socket.
func serverPids(t *testing.T, sshdPid, clientPid int) []int {
	t.Helper()
	clientSocks := socketInodes(clientPid)
	conns := tcpConns(t)
	var serverInode string
	for _, c := range conns {
		if !clientSocks[c.inode] {
			continue
		}
		for _, s := range conns {
			if s.local == c.remote && s.remote == c.local {
				serverInode = s.inode
			}
		}
	}
	if serverInode == "" {
		t.Fatalf("no server socket found for ssh client %d", clientPid)
	}
	var pids []int
	for _, pid := range descendants(sshdPid) {
		if socketInodes(pid)[serverInode] {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no child of sshd %d holds socket %s", sshdPid, serverInode)
	}
	return pids
}

// socketInodes returns the inodes of the sockets process pid has open.
func socketInodes(pid int) map[string]bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	out := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			out[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	return out
}

// tcpConn is one line of /proc/net/tcp.
type tcpConn struct{ local, remote, inode string }

func tcpConns(t *testing.T) []tcpConn {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	var out []tcpConn
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 10 {
			out = append(out, tcpConn{local: f[1], remote: f[2], inode: f[9]})
		}
	}
	return out
}

// descendants returns every process below pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		n, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + p.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces: fields start after the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 {
			parent[n], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	for n := range parent {
		for a := parent[n]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, n)
				break
			}
		}
	}
	return out
}
