package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

// TestGesturesSSH runs the gesture table over the test sshd.
func TestGesturesSSH(t *testing.T) {
	testenv.SSH(t)
	for _, c := range gestureCases {
		t.Run(c.name, func(t *testing.T) { runGesture(t, c, true, false) })
	}
}

func TestToolsSSH(t *testing.T) {
	testenv.SSH(t)
	toolsRoundTrip(t, true, 10, 30, 1)
}

// children returns the pids of the processes whose parent is ppid and
// whose command name is comm ("" for any).
func children(t *testing.T, ppid int, comm string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		name := s[strings.IndexByte(s, '(')+1 : i]
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		if pp, _ := strconv.Atoi(fields[1]); pp == ppid && (comm == "" || name == comm) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// socketInodes returns the inode numbers of the sockets process pid holds.
func socketInodes(pid int) map[string]bool {
	out := map[string]bool{}
	fds, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			out[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	return out
}

// tcpPorts maps socket inodes to "localport remoteport" (hex) from
// /proc/net/tcp.
func tcpPorts(t *testing.T) map[string][2]string {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		local, remote := f[1], f[2]
		out[f[9]] = [2]string{local[strings.IndexByte(local, ':')+1:], remote[strings.IndexByte(remote, ':')+1:]}
	}
	return out
}

// sshdServing returns the sshd processes (children of the listener, and
// their children) serving the TCP connection of ssh client process client.
func sshdServing(t *testing.T, sshdPid, client int) []int {
	ports := tcpPorts(t)
	var clientPort string
	for ino := range socketInodes(client) {
		if p, ok := ports[ino]; ok {
			clientPort = p[0]
		}
	}
	if clientPort == "" {
		return nil
	}
	var out []int
	for _, pid := range children(t, sshdPid, "") {
		for ino := range socketInodes(pid) {
			if p, ok := ports[ino]; ok && p[1] == clientPort {
				out = append(out, pid)
			}
		}
	}
	return out
}

// TestSSHConnectionLoss cuts the ssh connection under a mount: local-backed
// files stay usable, a commit while the host is unreachable fails with a
// clear error, and once it is reachable again the next commit reconnects
// and succeeds.
func TestSSHConnectionLoss(t *testing.T) {
	for _, cut := range []string{"kill the ssh client", "kill the sshd connection"} {
		t.Run(cut, func(t *testing.T) {
			sshCmd, _ := testenv.SSH(t)
			sshdPid := testenv.SSHDPid(t)
			// a gate in front of ssh: while the file "down" exists, new
			// connections fail as an unreachable host would
			dir := t.TempDir()
			gate := filepath.Join(dir, "down")
			wrapper := filepath.Join(dir, "ssh-gate")
			script := "#!/bin/sh\nif [ -e " + shellQuote(gate) + " ]; then echo 'ssh: connect to host: Connection refused' >&2; exit 255; fi\nexec " + sshCmd + ` "$@"` + "\n"
			if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			f := setup(t, scenario{base: map[string]string{"a": "base", "r": "base", "d/x": "base"},
				remote: map[string]string{"r": "R"}, sshRemote: true, sshCommand: wrapper})
			checkView(t, "view", f.mnt, map[string]string{"a": "base", "r": "R", "d/x": "base"})

			os.WriteFile(gate, nil, 0o644)
			var victims []int
			if cut == "kill the ssh client" {
				victims = children(t, os.Getpid(), "ssh")
			} else {
				// only the sshd process serving this mount's connection:
				// other tests may be using the same server
				for _, client := range children(t, os.Getpid(), "ssh") {
					victims = append(victims, sshdServing(t, sshdPid, client)...)
				}
			}
			if len(victims) == 0 {
				t.Fatalf("%s: no process found", cut)
			}
			for _, pid := range victims {
				syscall.Kill(pid, syscall.SIGKILL)
			}

			// the mount keeps working on local-backed files
			mustSh(t, f.mnt, "cat a d/x >/dev/null && printf x >> a && printf n > new && mkdir e && printf y > e/y")
			checkView(t, "view while disconnected", f.mnt, map[string]string{"a": "basex", "new": "n", "e/y": "y", "d/x": "base"})
			if _, err := f.d.Rescan(context.Background()); err == nil {
				t.Errorf("rescan while disconnected: no error")
			}
			checkView(t, "view after a failed rescan", f.mnt, map[string]string{"a": "basex", "new": "n", "r": "R"})

			_, _, err := f.d.Commit(context.Background(), nil, engine.ApplyOptions{})
			if err == nil {
				t.Fatal("commit while disconnected: no error")
			}
			t.Logf("commit while disconnected: %v", err)
			if msg := err.Error(); !strings.Contains(msg, "Connection refused") && !strings.Contains(msg, "connection") {
				t.Errorf("commit error does not say the connection failed: %v", err)
			}
			check(t, "remote after the failed commit", f.remote, map[string]string{"a": "base", "new": absent})

			os.Remove(gate)
			f.commitWant(t, 0)
			check(t, "remote after reconnecting", f.remote, map[string]string{"a": "basex", "new": "n", "e/y": "y", "r": "R"})
			check(t, "local after reconnecting", f.local, map[string]string{"a": "basex", "r": "R"})
		})
	}
}

// TestSSHReconnectWithinCommit: after a cut, with the host reachable, a
// commit reconnects by itself and succeeds.
func TestSSHReconnectWithinCommit(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"a": "base"}, sshRemote: true})
	victims := children(t, os.Getpid(), "ssh")
	if len(victims) == 0 {
		t.Fatal("no ssh client found")
	}
	for _, pid := range victims {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	mustSh(t, f.mnt, "printf x >> a")
	f.commitWant(t, 0)
	check(t, "remote", f.remote, map[string]string{"a": "basex"})
}
