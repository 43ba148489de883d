package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
	rsftp "github.com/myrrorfs/myrrorfs/replica/sftp"
)

// agentBin is a myrrorfs binary built for the tests, run by sshd as the agent.
var agentBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "myrrorfs-agent-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agentBin = filepath.Join(dir, "myrrorfs")
	if err := buildAgent(agentBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAgent builds myrrorfs into bin or, when the whole command does not
// build (another package is being changed), the agent alone.
func buildAgent(bin string) error {
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/myrrorfs").CombinedOutput()
	if err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "myrrorfs does not build (%v), testing the agent alone:\n%s", err, out)
	out, err = exec.Command("go", "build", "-o", bin, "./internal/agentmain").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build the agent: %v\n%s", err, out)
	}
	return nil
}

// dialTest dials the agent on the test sshd with a fresh remote root, which
// is also a local directory (the server is this machine).
func dialTest(t testing.TB) (*Replica, string) {
	t.Helper()
	sshCmd, host := testenv.SSH(t)
	dir := testenv.SSHRemoteDir(t)
	r, err := dialOpts(Options{SSHCommand: sshCmd, Host: host, Path: dir, RemoteCommand: agentBin})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir
}

func dialOpts(o Options) (*Replica, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Dial(ctx, o)
}

func TestConformance(t *testing.T) {
	replicatest.Run(t, func(t *testing.T) (replica.Replica, string) {
		return dialTest(t)
	})
}

// blake3Of is the expected hash of b.
func blake3Of(b []byte) [32]byte { return blake3.Sum256(b) }

func TestHashInPlaceReadsNoData(t *testing.T) {
	r, dir := dialTest(t)
	data := bytes.Repeat([]byte("myrrorfs agent "), 400_000) // 6 MB
	if err := os.WriteFile(filepath.Join(dir, "big"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	h, fp, err := r.Hash("big")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if h != blake3Of(data) {
		t.Errorf("Hash = %s, want %x", h, blake3Of(data))
	}
	info, err := r.Lstat("big")
	if err != nil || fp != info.FP || fp.Size != int64(len(data)) || fp.Mode&0o777 != 0o644 {
		t.Errorf("fingerprint = %+v, want Lstat's %+v (err %v), size %d, mode 0644", fp, info.FP, err, len(data))
	}
	if n := r.BytesRead(); n != 0 {
		t.Errorf("Hash read %d bytes of file data over SFTP, want 0", n)
	}
	// Scan takes the agent's Hasher too.
	res, err := replica.Scan(context.Background(), r, replica.ScanOptions{})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(res.Entries) != 1 || res.Entries[0].Entry.Hash != blake3Of(data) || r.BytesRead() != 0 {
		t.Errorf("Scan: %d entries, %d bytes read; want the one file hashed in place", len(res.Entries), r.BytesRead())
	}
}

func TestHashErrors(t *testing.T) {
	r, dir := dialTest(t)
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{"missing", replica.ErrNotExist},
		{"link/f", replica.ErrUnsafePath},
		{"link", replica.ErrUnsafePath},
		{"../etc/passwd", replica.ErrUnsafePath},
		{"/etc/passwd", replica.ErrUnsafePath},
	} {
		_, _, err := r.Hash(tc.path)
		if !errors.Is(err, tc.want) {
			t.Errorf("Hash(%q) = %v, want %v", tc.path, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Hash(%q): error on several lines: %q", tc.path, err)
		}
	}
	if _, _, err := r.Hash("missing"); err == nil || !strings.Contains(err.Error(), "agent on ") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("error %v should name the host and the path", err)
	}
}

func TestCopyTempServerSide(t *testing.T) {
	r, dir := dialTest(t)
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5}, 1<<20)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	tmp, err := r.CopyTemp("src", "d", 0o751)
	if err != nil {
		t.Fatalf("CopyTemp: %v", err)
	}
	if !strings.HasPrefix(tmp, "d/.myrrorfs-tmp-") {
		t.Errorf("CopyTemp made %q, want a temporary in d", tmp)
	}
	got, err := os.ReadFile(filepath.Join(dir, tmp))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy holds %d bytes (err %v), want the %d of src", len(got), err, len(data))
	}
	if fi, _ := os.Stat(filepath.Join(dir, tmp)); fi.Mode().Perm() != 0o751 {
		t.Errorf("copy has mode %v, want 0751", fi.Mode().Perm())
	}
	if r.BytesRead() != 0 || r.BytesWritten() != 0 {
		t.Errorf("CopyTemp moved %d+%d bytes over SFTP, want 0", r.BytesRead(), r.BytesWritten())
	}
	if _, err := r.CopyTemp("missing", "d", 0o644); !errors.Is(err, replica.ErrNotExist) {
		t.Errorf("CopyTemp of a missing file = %v, want ErrNotExist", err)
	}
	if _, err := r.CopyTemp("src", "../d", 0o644); !errors.Is(err, replica.ErrUnsafePath) {
		t.Errorf("CopyTemp into ../d = %v, want ErrUnsafePath", err)
	}
}

// TestPipelinedHashes hashes 1000 small files one after the other and then
// with many requests in flight, and reports both times.
func TestPipelinedHashes(t *testing.T) {
	r, dir := dialTest(t)
	const n = 1000
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), fmt.Appendf(nil, "file %d", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(i int) {
		h, _, err := r.Hash(fmt.Sprint(i))
		if err != nil {
			t.Errorf("Hash(%d): %v", i, err)
		} else if h != blake3Of(fmt.Appendf(nil, "file %d", i)) {
			t.Errorf("Hash(%d) = %s: wrong", i, h)
		}
	}
	start := time.Now()
	for i := range n {
		check(i)
	}
	seq := time.Since(start)
	start = time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				check(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	par := time.Since(start)
	t.Logf("%d hashes: sequential %v (%.0f/s), 32 in flight %v (%.0f/s), %.1fx",
		n, seq, n/seq.Seconds(), par, n/par.Seconds(), seq.Seconds()/par.Seconds())
	if got := r.AgentRequests(); got != 2*n {
		t.Errorf("%d agent requests, want %d", got, 2*n)
	}
}

func TestNoAgent(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	dir := testenv.SSHRemoteDir(t)
	for _, cmd := range []string{"/nonexistent/myrrorfs", "myrrorfs-does-not-exist"} {
		_, err := dialOpts(Options{SSHCommand: sshCmd, Host: host, Path: dir, RemoteCommand: cmd})
		if !errors.Is(err, ErrNoAgent) {
			t.Errorf("Dial with remote command %s = %v, want ErrNoAgent", cmd, err)
		} else if !strings.Contains(err.Error(), host) {
			t.Errorf("error %q should name host %s", err, host)
		}
	}
}

func TestMissingRoot(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	dir := filepath.Join(testenv.SSHRemoteDir(t), "nope")
	_, err := dialOpts(Options{SSHCommand: sshCmd, Host: host, Path: dir, RemoteCommand: agentBin})
	if !errors.Is(err, replica.ErrNotExist) || errors.Is(err, ErrNoAgent) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Dial of a missing root = %v, want ErrNotExist naming %s", err, dir)
	}
}

func TestBrokenConnection(t *testing.T) {
	r, dir := dialTest(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.c.ep.(*rsftp.Process).Kill()
	_, _, err := r.Hash("f")
	if !errors.Is(err, rsftp.ErrConnectionLost) {
		t.Errorf("Hash after the connection broke = %v, want ErrConnectionLost", err)
	}
	if _, err := r.Lstat("f"); !errors.Is(err, rsftp.ErrConnectionLost) {
		t.Errorf("Lstat after the connection broke = %v, want ErrConnectionLost", err)
	}
}

func TestEnsureRemoteUploads(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	cache := testenv.SSHRemoteDir(t)
	o := uploadOptions{sshCommand: sshCmd, host: host, binary: agentBin, cacheDir: cache, ignorePath: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	p, err := ensureRemote(ctx, o)
	if err != nil {
		t.Fatalf("ensureRemote: %v", err)
	}
	first := time.Since(start)
	want, _ := os.ReadFile(agentBin)
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, want) || !strings.HasPrefix(p, cache+"/") {
		t.Fatalf("uploaded %s (%d bytes, err %v), want a copy of the binary under %s", p, len(got), err, cache)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("uploaded mode %v, want 0755", fi.Mode().Perm())
	}
	start = time.Now()
	p2, err := ensureRemote(ctx, o)
	if err != nil || p2 != p {
		t.Fatalf("second ensureRemote = %s, %v; want %s", p2, err, p)
	}
	if fi2, _ := os.Stat(p); !os.SameFile(fi, fi2) {
		t.Errorf("second ensureRemote uploaded again")
	}
	t.Logf("upload of %d bytes: %v; already there: %v", len(want), first, time.Since(start))
	dir := testenv.SSHRemoteDir(t)
	r, err := dialOpts(Options{SSHCommand: sshCmd, Host: host, Path: dir, RemoteCommand: p})
	if err != nil {
		t.Fatalf("Dial the uploaded agent: %v", err)
	}
	r.Close()
}

func TestSameSystem(t *testing.T) {
	if !sameSystem("Linux x86_64") && !sameSystem("Linux aarch64") {
		t.Skip("not linux/amd64 or linux/arm64")
	}
	for _, u := range []string{"Plan9 x86_64", "Linux", "", "Linux sparc64"} {
		if sameSystem(u) {
			t.Errorf("sameSystem(%q) = true", u)
		}
	}
}

// An unreachable host is a one-line connection error, not a missing agent:
// the caller must not try again over plain SFTP.
func TestEnsureRemoteUnreachable(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	_, err := ensureRemote(t.Context(), uploadOptions{sshCommand: sshCmd + " -oPort=1", host: host, binary: agentBin})
	if err == nil || errors.Is(err, ErrNoAgent) || !strings.HasPrefix(err.Error(), "connect to "+host+": ") ||
		!strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "\n") {
		t.Errorf("EnsureRemote of a closed port = %v, want a one-line connect error naming %s", err, host)
	}
}

// A test binary is no myrrorfs: it is never uploaded, and nothing is probed.
func TestEnsureRemoteNeverUploadsTestBinary(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	cache := testenv.SSHRemoteDir(t)
	_, err := ensureRemote(t.Context(), uploadOptions{sshCommand: sshCmd + " -oPort=1", host: host, cacheDir: cache, ignorePath: true})
	if !errors.Is(err, ErrNoAgent) {
		t.Errorf("ensureRemote of a test binary (to a closed port) = %v, want ErrNoAgent without connecting", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the remote cache holds %d entries, want none", len(entries))
	}
}

// A hung agent gives a clear error after the dial's deadline, and the
// agent process ends with the connection (it does not outlive it on the
// remote host).
func TestHungAgent(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	dir := testenv.SSHRemoteDir(t)
	hung := filepath.Join(t.TempDir(), "hung-myrrorfs")
	script := "#!/bin/sh\n" + stallEnv + "=1 exec " + agentBin + " \"$@\"\n"
	if err := os.WriteFile(hung, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Dial(ctx, Options{SSHCommand: sshCmd, Host: host, Path: dir, RemoteCommand: hung})
	if err == nil || !strings.Contains(err.Error(), hung) || !strings.Contains(err.Error(), "did not answer within 2s") {
		t.Fatalf("Dial: %v; want a timeout naming %s", err, hung)
	}
	t.Log(err)
	deadline := time.Now().Add(hangupGrace + 5*time.Second)
	for {
		pids := testenv.AgentsServing(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent processes %v still run after the connection ended", pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Temporaries made through the agent (created or copied in place) carry
// the pair's marker.
func TestTempsCarryMarker(t *testing.T) {
	r, dir := dialTest(t)
	const m = "0123456789ab"
	r.SetTempMarker(m)
	name, w, err := r.CreateTemp("", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, ok := replica.ParseTempName(name); !ok || got != m {
		t.Fatalf("CreateTemp made %q, want a temporary marked %s", name, m)
	}
	if err := os.WriteFile(filepath.Join(dir, "src"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := r.CopyTemp("src", "", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := replica.ParseTempName(cp); !ok || got != m {
		t.Fatalf("CopyTemp made %q, want a temporary marked %s", cp, m)
	}
}

// Downloads through read requests return every byte, whatever the size
// against the read chunk.
func TestOpenReadsWholeFiles(t *testing.T) {
	r, dir := dialTest(t)
	for _, size := range []int{0, 1, readChunk - 1, readChunk, readChunk + 1, 3*readChunk + 7, readAhead*readChunk + 5, 5 << 20} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i*7 + i/251)
		}
		name := fmt.Sprintf("f%d", size)
		if err := os.WriteFile(filepath.Join(dir, name), want, 0o644); err != nil {
			t.Fatal(err)
		}
		rc, err := r.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("size %d: read %d bytes, equal %v, err %v", size, len(got), bytes.Equal(got, want), err)
		}
	}
	if _, err := r.Open("missing"); !errors.Is(err, replica.ErrNotExist) {
		t.Fatalf("Open(missing) = %v, want ErrNotExist", err)
	}
}
