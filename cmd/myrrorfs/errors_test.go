package main

import (
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

// oneLine fails t unless r failed with exit code 1 and one line on stderr
// holding every one of want.
func oneLine(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	msg := strings.TrimSuffix(r.stderr, "\n")
	t.Logf("stderr: %s", msg)
	if strings.Contains(msg, "\n") {
		t.Fatalf("error is not one line:\n%s", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Fatalf("error %q does not contain %q", msg, w)
		}
	}
}

// fakeAgent writes an executable script that says a greeting of protocol
// proto and then reads its input to the end, as an old myrrorfs would.
func fakeAgent(t *testing.T, dir, proto string) string {
	t.Helper()
	p := filepath.Join(dir, "myrrorfs")
	script := "#!/bin/sh\necho 'myrrorfs-agent " + proto + " v0.old'\nexec cat >/dev/null\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRemoteMyrrorfsThatCannotRun(t *testing.T) {
	p := newPair(t, true)
	write(t, p.local, map[string]string{"a": "a"})
	missing := "/nonexistent/myrrorfs"
	r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", missing)...)
	oneLine(t, r, "--remote-myrrorfs "+missing, "No such file")
	if got := read(t, filepath.Join(p.remoteDir, "a")); got == "a" {
		t.Fatal("the sync fell back to plain SFTP")
	}
}

func TestRemoteMyrrorfsOfAnotherProtocol(t *testing.T) {
	p := newPair(t, true)
	old := fakeAgent(t, t.TempDir(), "2")
	r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", old)...)
	oneLine(t, r, "--remote-myrrorfs "+old, "protocol 2")
}

// An agent of another protocol found by myrrorfs itself (here: in the
// remote cache where this binary would be uploaded) is replaced by an
// upload, and a warning says so.
func TestStaleAgentReplacedWithWarning(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	h := blake3.New(32, nil)
	io.Copy(h, f)
	f.Close()
	dir := ".cache/myrrorfs/" + hex.EncodeToString(h.Sum(nil))[:16]
	script := "#!/bin/sh\necho 'myrrorfs-agent 2 v0.old'\nexec cat >/dev/null\n"
	words := append(strings.Fields(sshCmd), host,
		"mkdir -p "+dir+" && cat > "+dir+"/myrrorfs && chmod 755 "+dir+"/myrrorfs")
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plant a stale agent: %v: %s", err, out)
	}
	p := newPair(t, true)
	write(t, p.local, map[string]string{"a": "a"})
	r := myrrorfs(t, p.args("sync", "-y")...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	t.Logf("stderr: %s", r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "warning") || !strings.Contains(lines[0], "protocol 2") ||
		!strings.Contains(lines[0], dir) {
		t.Fatalf("want one warning about the stale agent, got:\n%s", r.stderr)
	}
	if got := read(t, filepath.Join(p.remoteDir, "a")); got != "a" {
		t.Fatalf("remote a = %q", got)
	}
}

// A damaged pair file in the journal's directory is named and shown
// escaped, never printed raw.
func TestDamagedPairFile(t *testing.T) {
	p := newPair(t, false)
	write(t, p.local, map[string]string{"a": "a"})
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("sync: %d %s", r.code, r.stderr)
	}
	dir := journalDir(t, p)
	if err := os.WriteFile(filepath.Join(dir, "pair"), []byte("\x1b[31mred\nline\x00\xff"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := myrrorfs(t, p.args("sync", "-y")...)
	oneLine(t, r, dir, `\x1b[31mred`)
	if strings.ContainsAny(r.stderr, "\x1b\x00\xff") {
		t.Fatalf("raw bytes in %q", r.stderr)
	}
}

// A connection lost while connecting names the host and what ssh said
// about it, not just ssh's exit status.
func TestConnectionLostWhileConnecting(t *testing.T) {
	p := newPair(t, true)
	// the remote "agent" kills the sshd process serving its connection
	killer := filepath.Join(t.TempDir(), "myrrorfs")
	if err := os.WriteFile(killer, []byte("#!/bin/sh\nkill -9 $PPID\nsleep 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", killer)...)
	oneLine(t, r, "--remote-myrrorfs "+killer, "myrrorfs-test", "closed")
}

// A connection closed during the key exchange, which ssh reports without
// a word at LogLevel ERROR, still gets ssh's own explanation.
func TestConnectionClosedDuringKeyExchange(t *testing.T) {
	p := newPair(t, true)
	p.flags[len(p.flags)-2] += ` -oProxyCommand="sh -c 'echo SSH-2.0-OpenSSH_9.2; exec sleep 0.2'"`
	r := myrrorfs(t, p.args("sync", "-y")...)
	oneLine(t, r, "myrrorfs-test", "Connection closed")
}

// Over plain SFTP, whose server says only "Failure", a full remote disk
// is named as such (asked with statvfs@openssh.com), beside the path.
// With the agent, the cause is the agent's own errno.
func TestRemoteDiskFull(t *testing.T) {
	for _, agent := range []string{"none", bin} {
		p := newPair(t, true)
		p.remoteDir = testenv.Tmpfs(t, 256<<10)
		p.remote = p.remote[:strings.Index(p.remote, ":")+1] + p.remoteDir
		write(t, p.local, map[string]string{"big": strings.Repeat("x", 1<<20)})
		r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", agent)...)
		t.Logf("stderr: %s", r.stderr)
		if r.code != 1 || !strings.Contains(r.stderr, "big") || !strings.Contains(r.stderr, "no space left on device") {
			t.Fatalf("agent %s: exit %d, want 1 and a message naming big and the full disk:\n%s", agent, r.code, r.stderr)
		}
	}
}

// Likewise a read-only remote filesystem.
func TestPlainSFTPReadOnly(t *testing.T) {
	p := newPair(t, true)
	p.remoteDir = testenv.Tmpfs(t, 1<<20)
	p.remote = p.remote[:strings.Index(p.remote, ":")+1] + p.remoteDir
	if err := unix.Mount("", p.remoteDir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
	write(t, p.local, map[string]string{"f": "f"})
	r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", "none")...)
	t.Logf("stderr: %s", r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, p.remoteDir) || !strings.Contains(r.stderr, "read-only file system") {
		t.Fatalf("exit %d, want 1 and a message naming the read-only remote:\n%s", r.code, r.stderr)
	}
}

// Over ssh with the agent, a user's file under a temporary's unmarked name
// and another pair's temporary are never removed by a sync.
func TestRemoteReservedNamesKeptWithAgent(t *testing.T) {
	p := newPair(t, true)
	write(t, p.local, map[string]string{"a": "a"})
	others := []string{".myrrorfs-tmp-0123456789abcdef", ".myrrorfs-tmp-aaaaaaaaaaaa-0123456789abcdef"}
	for _, n := range others {
		write(t, p.remoteDir, map[string]string{n: "mine"})
	}
	for range 2 {
		if r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", bin)...); r.code != 0 {
			t.Fatalf("sync: %d %s", r.code, r.stderr)
		}
	}
	for _, n := range others {
		if got := read(t, filepath.Join(p.remoteDir, n)); got != "mine" {
			t.Fatalf("%s: %q", n, got)
		}
	}
	if got := read(t, filepath.Join(p.remoteDir, "a")); got != "a" {
		t.Fatalf("a: %q", got)
	}
}

// A path too long for the backup area over plain SFTP (whose server says
// "Bad message") is named, with the cause.
func TestBackupPathTooLong(t *testing.T) {
	p := newPair(t, true)
	rel := ""
	for range 15 {
		rel = filepath.Join(rel, strings.Repeat("d", 255))
	}
	// the remote path fits in PATH_MAX, its backup does not
	f := filepath.Join(rel, strings.Repeat("f", 245-len(p.remoteDir)))
	write(t, p.local, map[string]string{f: "x", "keep": "k"})
	if r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", "none")...); r.code != 0 {
		t.Fatalf("first sync: %d %s", r.code, r.stderr)
	}
	if err := os.Remove(filepath.Join(p.local, f)); err != nil {
		t.Fatal(err)
	}
	r := myrrorfs(t, p.args("sync", "-y", "--remote-myrrorfs", "none")...)
	oneLine(t, r, filepath.Join(p.remoteDir, f), ".myrrorfs-backup", "file name too long")
	if got := read(t, filepath.Join(p.remoteDir, f)); got != "x" {
		t.Fatalf("remote %s: %q", f, got)
	}
}

// When the client dies mid-sync, the agent it ran on the remote host ends
// with the connection.
func TestAgentEndsWithClient(t *testing.T) {
	p := newPair(t, true)
	files := map[string]string{}
	for i := range 40 {
		files[filepath.Join("d", strings.Repeat("x", i+1))] = strings.Repeat("y", 4<<20)
	}
	write(t, p.local, files)
	cmd := exec.Command(bin, p.args("sync", "-y", "--remote-myrrorfs", bin)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(testenv.AgentsServing(p.remoteDir)) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("no agent started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	deadline = time.Now().Add(10 * time.Second)
	for {
		pids := testenv.AgentsServing(p.remoteDir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent processes %v still run after the client was killed", pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
