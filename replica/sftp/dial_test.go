package sftp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica"
)

// dialTest connects to a fresh remote directory on the test server and
// returns the replica and that directory as seen on this machine.
func dialTest(t testing.TB) (*Replica, string) {
	t.Helper()
	sshCmd, host := testenv.SSH(t)
	dir := testenv.SSHRemoteDir(t)
	r := dialOpts(t, Options{SSHCommand: sshCmd, Host: host, Path: dir, UnsafeWrites: true})
	return r, dir
}

// dialOpts dials with o and a timeout, failing t on error.
func dialOpts(t testing.TB, o Options) *Replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// dialErr dials with o and returns the error, failing t if Dial succeeds.
func dialErr(t *testing.T, o Options) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Dial(ctx, o)
	if err == nil {
		r.Close()
		t.Fatalf("Dial(%+v) succeeded, want an error", o)
	}
	t.Logf("Dial error: %v", err)
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	return err
}

func TestDialAndRoundTrip(t *testing.T) {
	r, dir := dialTest(t)
	if r.Root() != dir {
		t.Errorf("Root() = %q, want %q", r.Root(), dir)
	}
	_, host := testenv.SSH(t)
	if want := host + ":" + dir; r.String() != want {
		t.Errorf("String() = %q, want %q", r.String(), want)
	}
	p, w, err := r.CreateTemp("", 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, p))
	if err != nil || string(onDisk) != "hello" {
		t.Fatalf("file on disk = %q, %v; want hello", onDisk, err)
	}
	st, err := os.Lstat(filepath.Join(dir, p))
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("perm on disk = %v, %v; want 0640", st.Mode().Perm(), err)
	}
	if r.BytesWritten() != 5 || r.BytesRead() != 0 {
		t.Errorf("BytesWritten, BytesRead = %d, %d; want 5, 0", r.BytesWritten(), r.BytesRead())
	}
	rc, err := r.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "hello" || r.BytesRead() != 5 {
		t.Fatalf("read back %q, %v (BytesRead %d); want hello, 5", got, err, r.BytesRead())
	}
}

func TestDialRelativePathIsUnderHome(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	home, err := os.UserHomeDir() // the test server is this machine, as this user
	if err != nil {
		t.Skip("no home directory")
	}
	dir, err := os.MkdirTemp(home, "myrrorfs-reltest-")
	if err != nil {
		t.Skipf("cannot create a directory in home: %v", err)
	}
	defer os.RemoveAll(dir)
	r := dialOpts(t, Options{SSHCommand: sshCmd, Host: host, Path: filepath.Base(dir)})
	if r.Root() != dir {
		t.Errorf("Root() = %q, want %q", r.Root(), dir)
	}
}

func TestDialUnknownHostKey(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	err := dialErr(t, Options{
		SSHCommand: sshCmd + " -oUserKnownHostsFile=/dev/null -oStrictHostKeyChecking=yes",
		Host:       host,
		Path:       t.TempDir(),
	})
	if !strings.Contains(err.Error(), "connect to "+host) || !strings.Contains(err.Error(), "Host key verification failed") {
		t.Errorf("error %q should name %s and say host key verification failed", err, host)
	}
}

// closedPort returns a loopback port that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestDialClosedPort(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	err := dialErr(t, Options{
		SSHCommand: sshCmd + " -p " + strconv.Itoa(closedPort(t)),
		Host:       host,
		Path:       t.TempDir(),
	})
	if !strings.Contains(err.Error(), "connect to "+host) || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("error %q should name %s and say the connection was refused", err, host)
	}
}

func TestDialUnknownHostName(t *testing.T) {
	sshCmd, _ := testenv.SSH(t)
	err := dialErr(t, Options{SSHCommand: sshCmd, Host: "no-such-host.invalid", Path: "/"})
	if !strings.Contains(err.Error(), "connect to no-such-host.invalid: ") ||
		!strings.Contains(err.Error(), "no-such-host.invalid") {
		t.Errorf("error %q should name the host and the cause", err)
	}
}

func TestDialMissingProgram(t *testing.T) {
	err := dialErr(t, Options{SSHCommand: "/nonexistent/ssh", Host: "h", Path: "/"})
	if !strings.Contains(err.Error(), "connect to h") || !strings.Contains(err.Error(), "/nonexistent/ssh") {
		t.Errorf("error %q should name the host and the program", err)
	}
}

func TestDialRefusesOptionAsHost(t *testing.T) {
	err := dialErr(t, Options{Host: "-oProxyCommand=x", Path: "/"})
	if !strings.Contains(err.Error(), "cannot begin with '-'") {
		t.Errorf("error %q should refuse the host", err)
	}
}

func TestDialMissingRoot(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	missing := filepath.Join(t.TempDir(), "missing")
	err := dialErr(t, Options{SSHCommand: sshCmd, Host: host, Path: missing})
	if !strings.Contains(err.Error(), host+":"+missing) {
		t.Errorf("error %q should name %s:%s", err, host, missing)
	}
	if !errors.Is(err, replica.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q should be ErrNotExist", err)
	}
}

func TestDialRootIsAFile(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := dialErr(t, Options{SSHCommand: sshCmd, Host: host, Path: file})
	if !strings.Contains(err.Error(), host+":"+file) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("error %q should name %s:%s and say it is not a directory", err, host, file)
	}
}

func TestDialTimeout(t *testing.T) {
	// A server that accepts and never speaks: ssh waits for its banner.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	sshCmd, host := testenv.SSH(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_, err = Dial(ctx, Options{SSHCommand: sshCmd + " -p " + port, Host: host, Path: "/"})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connect to "+host) {
		t.Errorf("Dial = %v, want a deadline error naming %s", err, host)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Dial took %v after a 500ms deadline", d)
	}
}

func TestStderrIsCopied(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	var buf bytes.Buffer
	o := Options{SSHCommand: sshCmd + " -oUserKnownHostsFile=/dev/null", Host: host, Path: "/", Stderr: &buf}
	// Dial returns after ssh is reaped, which is after its stderr is copied.
	dialErr(t, o)
	if !strings.Contains(buf.String(), "Host key verification failed") {
		t.Errorf("Stderr got %q, want ssh's messages", buf.String())
	}
}
