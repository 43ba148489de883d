package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

// bin is the myrrorfs binary built for these tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "myrrorfs-cli")
	if err != nil {
		panic(err)
	}
	os.Chmod(dir, 0o755) // tests run the binary as another user too
	bin = filepath.Join(dir, "myrrorfs")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// myrrorfs runs the binary with args (and no terminal).
func myrrorfs(t *testing.T, args ...string) result {
	t.Helper()
	return runAs(t, nil, args...)
}

func runAs(t *testing.T, cred *syscall.Credential, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// pair makes a local dir, a remote dir and a state dir; with ssh the remote
// is reached through the test sshd.
type pair struct {
	local, remoteDir, remote, state string
	flags                           []string
}

func newPair(t *testing.T, ssh bool) pair {
	p := pair{local: t.TempDir(), state: t.TempDir()}
	p.flags = []string{"--state", p.state}
	if ssh {
		sshCmd, host := testenv.SSH(t)
		p.remoteDir = testenv.SSHRemoteDir(t)
		p.remote = host + ":" + p.remoteDir
		p.flags = append(p.flags, "-e", sshCmd, "--unsafe-sftp-writes")
	} else {
		p.remoteDir = t.TempDir()
		p.remote = p.remoteDir
	}
	return p
}

func (p pair) args(cmd string, extra ...string) []string {
	a := append([]string{cmd}, p.flags...)
	a = append(a, extra...)
	return append(a, p.local, p.remote)
}

func TestSyncAndStatus(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			p := newPair(t, ssh)
			write(t, p.local, map[string]string{"a.txt": "local a", "dir/b.txt": "b", "both": "same"})
			write(t, p.remoteDir, map[string]string{"r.txt": "remote r", "both": "same", "clash": "remote"})
			write(t, p.local, map[string]string{"clash": "local"})

			st := myrrorfs(t, p.args("status", "--json")...)
			if st.code != 0 {
				t.Fatalf("status: %+v", st)
			}
			got := map[string]string{}
			sc := bufio.NewScanner(strings.NewReader(st.stdout))
			for sc.Scan() {
				var d struct{ Path, Action, Kind string }
				if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
					t.Fatalf("status --json line %q: %v", sc.Text(), err)
				}
				got[d.Path] = d.Action + " " + d.Kind
			}
			want := map[string]string{"a.txt": "to-remote ", "dir": "to-remote ", "dir/b.txt": "to-remote ",
				"r.txt": "to-local ", "clash": "conflict create/create"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("status --json = %v, want %v", got, want)
			}

			s := myrrorfs(t, p.args("sync", "-y")...)
			if s.code != 3 || !strings.Contains(s.stderr, "1 conflicts remain") {
				t.Fatalf("sync with a conflict: %+v", s)
			}
			if read(t, filepath.Join(p.remoteDir, "dir/b.txt")) != "b" || read(t, filepath.Join(p.local, "r.txt")) != "remote r" ||
				read(t, filepath.Join(p.remoteDir, "clash")) != "remote" || read(t, filepath.Join(p.local, "clash")) != "local" {
				t.Fatalf("after sync: remote b=%q local r=%q", read(t, filepath.Join(p.remoteDir, "dir/b.txt")), read(t, filepath.Join(p.local, "r.txt")))
			}
			c := myrrorfs(t, p.args("conflicts")...)
			if c.code != 0 || !strings.Contains(c.stdout, "create/create") || !strings.Contains(c.stdout, "clash") {
				t.Fatalf("conflicts: %+v", c)
			}

			// resolve by making both equal; then the pair is in sync
			write(t, p.local, map[string]string{"clash": "remote"})
			if s := myrrorfs(t, p.args("sync", "-y")...); s.code != 0 {
				t.Fatalf("sync after resolution: %+v", s)
			}
			if s := myrrorfs(t, p.args("status")...); s.code != 0 || !strings.Contains(s.stdout, "in sync") {
				t.Fatalf("status after sync: %+v", s)
			}
			// one-sided edit on the remote travels back
			write(t, p.remoteDir, map[string]string{"dir/b.txt": "b2"})
			if s := myrrorfs(t, p.args("sync", "--yes")...); s.code != 0 || read(t, filepath.Join(p.local, "dir/b.txt")) != "b2" {
				t.Fatalf("sync to local: %+v", s)
			}
			// with --all, equal paths are printed too
			all := myrrorfs(t, p.args("status", "--json", "--all")...)
			var paths []string
			for _, line := range strings.Split(strings.TrimSpace(all.stdout), "\n") {
				var d struct{ Path, Action string }
				if err := json.Unmarshal([]byte(line), &d); err != nil || d.Action != "equal" {
					t.Fatalf("status --json --all line %q: %v", line, err)
				}
				paths = append(paths, d.Path)
			}
			if got := strings.Join(paths, " "); all.code != 0 || got != "a.txt both clash dir dir/b.txt r.txt" {
				t.Fatalf("status --json --all printed %q (%+v)", got, all)
			}
		})
	}
}

func TestSyncNeedsYesWithoutTerminal(t *testing.T) {
	p := newPair(t, false)
	write(t, p.local, map[string]string{"a": "1"})
	r := myrrorfs(t, p.args("sync")...)
	if r.code != 1 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("%+v", r)
	}
	if _, err := os.Stat(filepath.Join(p.remoteDir, "a")); err == nil {
		t.Fatal("synced without --yes")
	}
	d := myrrorfs(t, p.args("sync", "--dry-run")...)
	if d.code != 0 || !strings.Contains(d.stdout, "create  a") {
		t.Fatalf("dry run: %+v", d)
	}
	if _, err := os.Stat(filepath.Join(p.remoteDir, "a")); err == nil {
		t.Fatal("dry run synced")
	}
}

func TestSyncHelpDocumentsFlags(t *testing.T) {
	r := myrrorfs(t, "sync", "--help")
	for _, f := range []string{"--yes", "-y", "--dry-run", "--force", "--state", "--ssh", "-e", "--ignore", "Exit status"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("sync --help lacks %s:\n%s", f, r.stdout)
		}
	}
}

// oneLineError checks a failure: exit 1 and a single line naming what failed.
func oneLineError(t *testing.T, r result, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 1 || len(lines) != 1 {
		t.Fatalf("want exit 1 and one line, got %d:\n%s", r.code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("error %q does not mention %q", r.stderr, w)
		}
	}
}

func TestBadArguments(t *testing.T) {
	p := newPair(t, false)
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"no args", []string{"sync"}, []string{"LOCAL and REMOTE"}},
		{"one arg", []string{"sync", p.local}, []string{"LOCAL and REMOTE"}},
		{"missing local", []string{"sync", "--state", p.state, missing, p.remote}, []string{missing, "no such directory"}},
		{"missing remote", []string{"sync", "--state", p.state, p.local, missing}, []string{missing, "no such directory"}},
		{"local is a file", []string{"status", "--state", p.state, "/etc/hostname", p.remote}, []string{"/etc/hostname", "not a directory"}},
		{"unknown flag", []string{"sync", "--bogus", p.local, p.remote}, []string{"--bogus"}},
		{"remote local", []string{"sync", "host:x", p.remote}, []string{"LOCAL must be a local directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oneLineError(t, myrrorfs(t, c.args...), c.want...)
		})
	}
}

func TestBadRemote(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	dir := testenv.SSHDir(t)
	local, state := t.TempDir(), t.TempDir()
	cases := []struct {
		name, ssh, remote string
		want              []string
	}{
		{"unreachable host", sshCmd + " -oPort=1", host + ":" + t.TempDir(), []string{host, "refused"}},
		{"unknown host key", sshCmd + " -oUserKnownHostsFile=" + filepath.Join(dir, "empty_known_hosts") + " -oStrictHostKeyChecking=yes", host + ":" + t.TempDir(), []string{host, "Host key verification failed"}},
		{"missing remote dir", sshCmd, host + ":" + filepath.Join(t.TempDir(), "nope"), []string{"nope"}},
		{"unknown host name", sshCmd, "no-such-host.invalid:x", []string{"no-such-host.invalid"}},
	}
	os.WriteFile(filepath.Join(dir, "empty_known_hosts"), nil, 0o600)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oneLineError(t, myrrorfs(t, "sync", "-y", "--state", state, "-e", c.ssh, local, c.remote), c.want...)
		})
	}
}

// unreadablePair makes a pair whose LOCAL holds "ok" and the unreadable
// "secret", with its state directory; as root, everything belongs to
// nobody and cred runs commands as nobody (root reads everything).
func unreadablePair(t *testing.T) (local, remote, state string, cred *syscall.Credential) {
	t.Helper()
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	local, remote, state = filepath.Join(base, "l"), filepath.Join(base, "r"), filepath.Join(base, "s")
	for _, d := range []string{local, remote, state} {
		os.Mkdir(d, 0o755)
	}
	write(t, local, map[string]string{"secret": "x", "ok": "y"})
	os.Chmod(filepath.Join(local, "secret"), 0)
	if os.Geteuid() == 0 {
		const nobody = 65534
		for _, p := range []string{local, remote, state, filepath.Join(local, "secret"), filepath.Join(local, "ok")} {
			os.Chown(p, nobody, nobody)
		}
		cred = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	return local, remote, state, cred
}

// An unreadable file is named in a one-line error, exit 1, and left alone;
// the rest still syncs. Root reads everything, so the run is made as nobody.
func TestUnreadableFile(t *testing.T) {
	local, remote, state, cred := unreadablePair(t)
	r := runAs(t, cred, "sync", "-y", "--state", state, local, remote)
	oneLineError(t, r, "secret", "permission denied")
	if read(t, filepath.Join(remote, "ok")) != "y" {
		t.Fatal("readable file not synced")
	}
	if _, err := os.Lstat(filepath.Join(remote, "secret")); err == nil {
		t.Fatal("unreadable file appeared on the remote")
	}
}

// A second process on the same pair gets an error naming the holder.
func TestPairLocked(t *testing.T) {
	p := newPair(t, false)
	held, err := engine.Open(context.Background(), p.local, p.remote, engine.Options{StateDir: p.state, Holder: "mount at /mnt/x (pid 42)"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	oneLineError(t, myrrorfs(t, p.args("status")...), "in use", "mount at /mnt/x (pid 42)")
}
