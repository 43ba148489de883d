// Package testenv tells tests what the test machine offers: an SSH server to
// talk to and a usable FUSE. scripts/test.sh sets up the SSH server (an sshd
// on loopback with a throwaway key) and exports the variables read here.
//
// A test that needs something missing is skipped, except when the
// environment variable CI is "true": there it fails, so a test that could not
// run never passes unnoticed.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// Environment variables exported by scripts/test.sh.
const (
	// EnvSSH holds the ssh command (with its options) that reaches the test host.
	EnvSSH = "MYRRORFS_TEST_SSH"
	// EnvHost holds the host name to pass to that command.
	EnvHost = "MYRRORFS_TEST_HOST"
	// EnvSSHDPid holds the pid of the listening sshd; each connection is
	// served by a child of it.
	EnvSSHDPid = "MYRRORFS_TEST_SSHD_PID"
	// EnvSSHDir holds the directory with the test keys and configs.
	EnvSSHDir = "MYRRORFS_TEST_SSH_DIR"
)

const runScript = "run scripts/test.sh, which starts a loopback sshd and sets " + EnvSSH + " and " + EnvHost

// InCI reports whether the tests run in CI (env CI=true), where a test that
// cannot run must fail instead of being skipped.
func InCI() bool { return os.Getenv("CI") == "true" }

// unavailable skips t, or fails it in CI, with the reason given.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatal(msg + " (CI=true: a test that cannot run fails)")
		return
	}
	t.Skip(msg)
}

// SSH returns the ssh command and the host name that reach the test SSH
// server. When scripts/test.sh did not set them, it skips t (fails it in CI).
func SSH(t testing.TB) (sshCmd, host string) {
	t.Helper()
	sshCmd, host = os.Getenv(EnvSSH), os.Getenv(EnvHost)
	if sshCmd == "" || host == "" {
		unavailable(t, "no test SSH server: %s", runScript)
	}
	return sshCmd, host
}

// SSHDPid returns the pid of the test sshd listener, for tests that cut a
// connection by killing the child serving it. It skips t (fails it in CI)
// when unknown.
func SSHDPid(t testing.TB) int {
	t.Helper()
	SSH(t)
	pid, err := strconv.Atoi(os.Getenv(EnvSSHDPid))
	if err != nil || pid <= 0 {
		unavailable(t, "no test sshd pid in %s: %s", EnvSSHDPid, runScript)
	}
	return pid
}

// SSHDir returns the directory holding the test SSH keys and configs
// (host_key.pub, user_key, known_hosts, ssh_config). It skips t (fails it in
// CI) when unknown.
func SSHDir(t testing.TB) string {
	t.Helper()
	SSH(t)
	dir := os.Getenv(EnvSSHDir)
	if dir == "" {
		unavailable(t, "no test SSH directory in %s: %s", EnvSSHDir, runScript)
	}
	return dir
}

// SSHRemoteDir returns a fresh empty directory on the test SSH host, removed
// when t ends, as an absolute path valid on that host. The test server is a
// loopback sshd on this very machine, so a t.TempDir() is such a directory:
// tests may also read and write it directly to check what the remote holds.
// It skips t (fails it in CI) when there is no test server.
func SSHRemoteDir(t testing.TB) string {
	t.Helper()
	SSH(t)
	return t.TempDir()
}

// FUSE checks that this process can mount FUSE file systems: /dev/fuse
// exists and opens read-write, and either we are root (mount directly) or
// fusermount3 is on PATH. Otherwise it skips t (fails it in CI).
func FUSE(t testing.TB) {
	t.Helper()
	if err := fuseUsable(); err != nil {
		unavailable(t, "FUSE unavailable: %v", err)
	}
}

// fuseUsable returns why FUSE cannot be used, or nil.
func fuseUsable() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open /dev/fuse: %w", err)
	}
	f.Close()
	if os.Geteuid() == 0 {
		return nil
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return fmt.Errorf("not root and fusermount3 not found: %w", err)
	}
	return nil
}

// Tool returns the path of program name, skipping t when it is missing
// (failing it in CI, where scripts/test.sh installs it).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, "%s not installed: %v", name, err)
	}
	return p
}
