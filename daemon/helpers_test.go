package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/tree"
)

// absent stands for "no such entry" in expected contents.
const absent = "<absent>"

// scenario is the state of a pair before mounting: base is synced to both
// sides, then each side is edited on its own.
type scenario struct {
	base                  map[string]string // path -> content ("dir/" makes a directory)
	local, remote         map[string]string // writes after the sync
	localRm, remoteRm     []string          // removals after the sync
	localPrep, remotePrep func(t *testing.T, root string)
	sshRemote             bool          // reach the remote through the test sshd
	sshCommand            string        // ssh command for sshRemote ("": the test one)
	rescan                time.Duration // 0: no periodic rescan during the test
	allowOther            bool          // mount with -o allow_other,default_permissions
	noMerge               bool          // no three-way merges of text conflicts (no p.merged)
}

// setup syncs the scenario's base to a fresh pair, applies the side edits,
// and mounts the view. The remote directory is always readable on disk
// (f.remote), also for ssh pairs: the test sshd runs on this machine.
func setup(t *testing.T, sc scenario) *fixture {
	t.Helper()
	testenv.FUSE(t)
	dir := t.TempDir()
	f := &fixture{local: filepath.Join(dir, "l"), remote: filepath.Join(dir, "r"), state: filepath.Join(dir, "s"), mnt: filepath.Join(dir, "m")}
	eopt := engine.Options{StateDir: f.state, NoMerge: sc.noMerge}
	remoteSpec := f.remote
	if sc.sshRemote {
		sshCmd, host := testenv.SSH(t)
		f.remote = testenv.SSHRemoteDir(t)
		remoteSpec = host + ":" + f.remote
		eopt.SSHCommand = sshCmd
		eopt.UnsafeSFTPWrites = true // the test sshd has no agent
		if sc.sshCommand != "" {
			eopt.SSHCommand = sc.sshCommand
		}
	}
	for _, d := range []string{f.local, f.remote, f.mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	put(t, f.local, sc.base)
	if len(sc.base) > 0 {
		p, err := engine.Open(context.Background(), f.local, remoteSpec, eopt)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := p.Scan(context.Background())
		if err == nil {
			_, err = p.Apply(context.Background(), plan, engine.ApplyOptions{})
		}
		p.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	put(t, f.local, sc.local)
	put(t, f.remote, sc.remote)
	for _, r := range sc.localRm {
		os.RemoveAll(filepath.Join(f.local, r))
	}
	for _, r := range sc.remoteRm {
		os.RemoveAll(filepath.Join(f.remote, r))
	}
	if sc.localPrep != nil {
		sc.localPrep(t, f.local)
	}
	if sc.remotePrep != nil {
		sc.remotePrep(t, f.remote)
	}
	rescan := sc.rescan
	if rescan == 0 {
		rescan = time.Hour
	}
	opt := Options{Local: f.local, Remote: remoteSpec, Mountpoint: f.mnt, Engine: eopt, Rescan: rescan, AllowOther: sc.allowOther}
	f.d = start(t, opt)
	return f
}

// start starts a daemon and stops it when the test ends (unless stopped
// before).
func start(t *testing.T, opt Options) *Daemon {
	t.Helper()
	d, err := Start(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, d) })
	return d
}

var stopped sync.Map // *Daemon -> true once stopped

// stop unmounts a daemon and releases its pair; stopping it again does
// nothing.
func stop(t *testing.T, d *Daemon) {
	t.Helper()
	if _, again := stopped.LoadOrStore(d, true); again {
		return
	}
	if err := d.Unmount(); err != nil {
		t.Errorf("unmount: %v", err)
	}
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("the daemon did not stop after unmount")
	}
	if err := d.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// remount stops f's daemon and starts a new one on the same pair.
func (f *fixture) remount(t *testing.T) {
	t.Helper()
	opt := f.d.opt
	opt.Engine.Holder = ""
	stop(t, f.d)
	f.d = start(t, opt)
}

// sh runs a shell script in dir, as a separate process (as a user's tools
// would touch the mount), and returns its combined output. The script
// changes to dir itself: a forked child of this process must not touch the
// mount before it has executed the shell, or it may block the process that
// serves the mount.
func sh(t *testing.T, dir, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `cd "$1" && shift && eval "$0"`, script, dir)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("sh -c %q in %s: timed out (the mount hangs?)", script, dir)
	}
	return string(out), err
}

// mustSh runs a shell script in dir and fails t when it fails.
func mustSh(t *testing.T, dir, script string) string {
	t.Helper()
	out, err := sh(t, dir, script)
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", script, err, out)
	}
	return out
}

// content returns what path p holds under root: a file's content, "dir/"
// for a directory, "-> target" for a symlink, or absent.
func content(root, p string) string {
	full := filepath.Join(root, p)
	fi, err := os.Lstat(full)
	if err != nil {
		return absent
	}
	switch {
	case fi.IsDir():
		return "dir/"
	case fi.Mode()&os.ModeSymlink != 0:
		s, _ := os.Readlink(full)
		return "-> " + s
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// check compares contents under root with want.
func check(t *testing.T, what, root string, want map[string]string) {
	t.Helper()
	for _, p := range sortedKeys(want) {
		if got := content(root, p); got != want[p] {
			t.Errorf("%s: %s = %q, want %q", what, p, got, want[p])
		}
	}
}

// backups returns what the backup area of a side holds at p, one entry per
// backup run that kept it.
func backups(root, p string) []string {
	runs, _ := os.ReadDir(filepath.Join(root, tree.BackupDir))
	var out []string
	for _, r := range runs {
		if c := content(filepath.Join(root, tree.BackupDir, r.Name()), p); c != absent {
			out = append(out, c)
		}
	}
	return out
}

// checkBackup fails t unless the backup area of root holds want at p.
func checkBackup(t *testing.T, what, root, p, want string) {
	t.Helper()
	got := backups(root, p)
	for _, g := range got {
		if g == want {
			return
		}
	}
	t.Errorf("%s backup area: %s holds %q, want a version %q", what, p, got, want)
}

// snapshot hashes every entry under root (names, kinds, modes, contents),
// leaving out the backup area when skipInternal is set.
func snapshot(t *testing.T, root string, skipInternal bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if skipInternal && tree.Internal(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out[rel] = fmt.Sprintf("dir %o", fi.Mode().Perm())
		case fi.Mode()&os.ModeSymlink != 0:
			s, _ := os.Readlink(p)
			out[rel] = "link " + s
		default:
			h := sha256.New()
			fh, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, fh)
			fh.Close()
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("file %o %d %s", fi.Mode().Perm(), fi.Size(), hex.EncodeToString(h.Sum(nil)))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// sameTree fails t when two snapshots differ, naming the first differences.
func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for _, p := range sortedKeys(want) {
		if got[p] != want[p] {
			diffs = append(diffs, fmt.Sprintf("%s: %q, want %q", p, got[p], want[p]))
		}
	}
	for _, p := range sortedKeys(got) {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %q", p, got[p]))
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("... %d more", len(diffs)-10))
		}
		t.Errorf("%s differs:\n%s", what, strings.Join(diffs, "\n"))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// eventually polls cond until it returns "" or the time is up, and fails t
// with cond's last complaint.
func eventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// commitWant commits and fails t unless both sides end in step (or with
// exactly the conflicts expected).
func (f *fixture) commitWant(t *testing.T, conflicts int) *engine.Result {
	t.Helper()
	_, res, err := f.d.Commit(context.Background(), nil, engine.ApplyOptions{})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if len(res.Conflicts) != conflicts || res.Failed() != 0 {
		var cs []string
		for _, c := range res.Conflicts {
			cs = append(cs, c.Path+" ("+c.Kind.String()+")")
		}
		t.Fatalf("commit: %d conflicts %v, problems %+v; want %d conflicts and no problem", len(res.Conflicts), cs, res.Problems, conflicts)
	}
	return res
}

// lsMount lists a directory of the mount with ls(1): names sorted, a
// directory with a trailing slash, .Trash-* folders left out.
func lsMount(t *testing.T, dir string) string {
	t.Helper()
	out := mustSh(t, dir, "LC_ALL=C ls -A1p")
	var names []string
	for _, n := range strings.Fields(out) {
		if !strings.HasPrefix(n, ".Trash") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// viewContent reads path p of the mount with a separate process, as
// content does on disk.
func viewContent(t *testing.T, mnt, p string) string {
	t.Helper()
	out, err := sh(t, mnt, "p="+shellQuote(p)+`; if [ -L "$p" ]; then printf -- '-> %s' "$(readlink "$p")"; elif [ -d "$p" ]; then printf dir/; elif [ -e "$p" ]; then cat "$p"; else printf '`+absent+`'; fi`)
	if err != nil {
		return "<" + strings.TrimSpace(out) + ">"
	}
	return out
}

// checkView compares contents of the mount with want.
// viewMismatch describes the first path of want the view shows otherwise,
// or returns "" when it shows them all.
func viewMismatch(t *testing.T, mnt string, want map[string]string) string {
	t.Helper()
	for _, p := range sortedKeys(want) {
		if got := viewContent(t, mnt, p); got != want[p] {
			return fmt.Sprintf("%s = %q, want %q", p, got, want[p])
		}
	}
	return ""
}

func checkView(t *testing.T, what, mnt string, want map[string]string) {
	t.Helper()
	for _, p := range sortedKeys(want) {
		if got := viewContent(t, mnt, p); got != want[p] {
			t.Errorf("%s: %s = %q, want %q", what, p, got, want[p])
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
