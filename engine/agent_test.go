package engine

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/agent"
	"github.com/myrrorfs/myrrorfs/tree"
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

// openAgentPair opens the pair of local and remote with bin as the remote
// agent, closed when t ends, and returns it with its agent replica.
func openAgentPair(t *testing.T, local, remote, state, sshCmd, bin string) (*Pair, *agent.Replica) {
	t.Helper()
	p, err := Open(t.Context(), local, remote, Options{StateDir: state, Holder: "test", SSHCommand: sshCmd, RemoteMyrrorfs: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ar, ok := p.Remote.(*agent.Replica)
	if !ok {
		t.Fatalf("remote replica is a %T, want an *agent.Replica", p.Remote)
	}
	return p, ar
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

	p, ar := openAgentPair(t, l, host+":"+r, state, sshCmd, bin)
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

// countingAgent is the agent replica, counting its installs and puts of
// new files.
type countingAgent struct {
	*agent.Replica
	installs, putNews atomic.Int32
}

func (c *countingAgent) Install(tmp, p string, want tree.Scanned, backup string) (replica.Info, error) {
	c.installs.Add(1)
	return c.Replica.Install(tmp, p, want, backup)
}

func (c *countingAgent) PutNew(p string, perm uint32, mtimeNs int64, data []byte) (replica.Info, error) {
	c.putNews.Add(1)
	return c.Replica.PutNew(p, perm, mtimeNs, data)
}

// Through the agent, a small file new to the remote is written and
// installed in one exchange (not a put and then an install), in new and
// existing directories; a file replacing another still goes through an
// install with its backup, and so does one whose path differs only in case
// from one a rename of the run empties; a file that appears at a new path
// after the scan is kept, the run reporting it, with no temporary left.
func TestNewFilesInOneExchange(t *testing.T) {
	sshCommand, sshHost = testenv.SSH(t)
	defer func() { sshCommand, sshHost = "", "" }()
	bin := buildMyrrorfs(t)
	dir := t.TempDir()
	l, r, state := filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "s")
	os.Mkdir(l, 0o755)
	os.Mkdir(r, 0o755)
	base := snapshot{"old": "f:old:-", "d": "d", "readme": "f:the readme:-"}
	writeTree(t, l, base)
	writeTree(t, r, base)
	syncPair(t, l, remoteArg(r), state)
	// readme renamed away and a new README: on a filesystem that ignores
	// case, README can only be installed once the rename is done
	os.Rename(filepath.Join(l, "readme"), filepath.Join(l, "d", "readme"))
	changes := snapshot{"old": "f:edited:-", "new": "d", "appears": "f:local:-", "README": "f:new readme:-"}
	for i := range 20 {
		changes[fmt.Sprintf("d/f%02d", i)] = fmt.Sprintf("f:content %d:-", i)
		changes[fmt.Sprintf("new/g%02d", i)] = fmt.Sprintf("f:content %d:x", i+100)
	}
	writeTree(t, l, changes)
	want := maps.Clone(changes)
	want["d"] = "d"
	want["d/readme"] = "f:the readme:-"

	p, ar := openAgentPair(t, l, remoteArg(r), state, sshCommand, bin)
	c := &countingAgent{Replica: ar}
	p.Remote = c
	plan, err := p.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(r, "appears"), []byte("written on the remote after the scan"), 0o644)
	res, err := p.Apply(t.Context(), plan, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 1 || res.Problems[0].Path != "appears" || !errors.Is(res.Problems[0].Err, ErrChanged) {
		t.Fatalf("problems = %v; want the one of appears", res.Problems)
	}
	if got := c.putNews.Load(); got != 41 {
		t.Errorf("%d puts of new files; want 41 (40 new files, and appears refused)", got)
	}
	if got := c.installs.Load(); got != 2 {
		t.Errorf("%d installs; want 2 (old, over the version it replaces, and README after the rename of readme)", got)
	}
	got := readTree(t, r)
	want["appears"] = "f:written on the remote after the scan:-"
	for p, w := range want {
		if got[p] != w {
			t.Errorf("remote %s = %q; want %q", p, got[p], w)
		}
	}
	if temps := findTemps(t, r); len(temps) != 0 {
		t.Errorf("temporaries left: %v", temps)
	}
	if backups := readTree(t, filepath.Join(r, tree.BackupDir)); !slices.Contains(slices.Collect(maps.Values(backups)), "f:old:-") {
		t.Errorf("the replaced version of old is not in the backup area: %v", backups)
	}
	p.Close()
	next := planOf(t, l, remoteArg(r), state)
	if top := next.Top(); len(next.Conflicts()) != 1 || next.Conflicts()[0].Path != "appears" {
		t.Fatalf("next run: %v; want one conflict, appears", top)
	}
}
