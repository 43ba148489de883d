package engine

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica/agent"
)

// buildMyrrorfs builds the myrrorfs command into a temporary directory and
// returns its path.
func buildMyrrorfs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "myrrorfs")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/myrrorfs")
	cmd.Dir = ".." // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build myrrorfs: %v\n%s", err, out)
	}
	return bin
}

// writeRandomFiles writes n files of size random bytes each, with the same
// content under every dir, and returns the content of the first, big0.
func writeRandomFiles(t *testing.T, n, size int, dirs ...string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte, 1)
	b := make([]byte, size)
	for i := range n {
		name := fmt.Sprintf("big%d", i)
		rand.Read(b)
		for _, d := range dirs {
			if err := os.WriteFile(filepath.Join(d, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if i == 0 {
			files[name] = bytes.Clone(b)
		}
	}
	return files
}

// With the agent, a scan of a large remote tree reads no file data over
// SFTP (the agent hashes in place), and a local new file whose content the
// remote already holds is copied there by the agent, not transferred.
func TestAgentStatusReadsNoData(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	bin := buildMyrrorfs(t)
	dir := t.TempDir()
	l, r, state := filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "s")
	os.Mkdir(l, 0o755)
	os.Mkdir(r, 0o755)
	const n, size = 16, 64 << 20 // 1 GiB in all
	files := writeRandomFiles(t, n, size, l, r)

	p, err := Open(t.Context(), l, host+":"+r, Options{StateDir: state, Holder: "test", SSHCommand: sshCmd, RemoteMyrrorfs: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ar, ok := p.Remote.(*agent.Replica)
	if !ok {
		t.Fatalf("remote replica is a %T, want an *agent.Replica", p.Remote)
	}
	plan, err := p.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if read := ar.BytesRead(); read != 0 || plan.RemoteHashing != HashInPlace {
		t.Fatalf("scan of %d MiB read %d bytes over SFTP, hashing %q; want 0 bytes, %q", n*size>>20, read, plan.RemoteHashing, HashInPlace)
	}
	if s := plan.Summarize(); s.Equal < n || s.ToRemote+s.ToLocal+s.Conflicts != 0 {
		t.Fatalf("identical sides planned as %+v", s)
	}
	if res, err := p.Apply(t.Context(), plan, ApplyOptions{}); err != nil || !res.InSync() {
		t.Fatalf("first apply: %v %+v", err, res)
	}

	want := files["big0"]
	if err := os.WriteFile(filepath.Join(l, "copy"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err = p.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(t.Context(), plan, ApplyOptions{})
	if err != nil || !res.InSync() {
		t.Fatalf("apply: %v %+v", err, res)
	}
	if res.Copied != 1 || res.Bytes != 0 || ar.BytesWritten() != 0 {
		t.Errorf("copied %d files, sent %d bytes (%d over SFTP); want 1 server-side copy, 0 bytes", res.Copied, res.Bytes, ar.BytesWritten())
	}
	if got, err := os.ReadFile(filepath.Join(r, "copy")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("remote copy: %d bytes, %v; want the %d bytes of big0", len(got), err, len(want))
	}
	if read := ar.BytesRead(); read != 0 {
		t.Errorf("%d bytes read over SFTP in all, want 0", read)
	}
}
