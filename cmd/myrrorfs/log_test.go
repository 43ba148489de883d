package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// logEntry is what the tests read of a `log --json` line.
type logEntry struct {
	Seq                        uint64
	Time                       time.Time
	Command, Mode, Prefer      string
	ToRemote                   int `json:"to_remote"`
	ToLocal                    int `json:"to_local"`
	Renamed, Conflicts, Failed int
	Bytes                      int64
	RemoteChanges              []logPath `json:"remote_changes"`
	LocalChanges               []logPath `json:"local_changes"`
	Settled, Unresolved        []logPath
	Failures                   []string
}

type logPath struct {
	Op, Path, From, Kind, Keep string
	PathBytes                  []byte `json:"path_bytes"`
	Dir                        bool
}

// logArgs are the arguments of log on the pair (which takes --state
// alone of its flags), extra before LOCAL REMOTE.
func (p pair) logArgs(extra ...string) []string {
	a := append([]string{"log", "--state", p.state}, extra...)
	return append(a, p.local, p.remote)
}

// logJSON runs log --json with args and decodes its lines.
func logJSON(t *testing.T, args ...string) []logEntry {
	t.Helper()
	r := myrrorfs(t, append([]string{"log", "--json"}, args...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("log --json: %+v", r)
	}
	var out []logEntry
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if line == "" {
			continue
		}
		var e logEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log --json line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// stamp matches the time that begins a block of log's text.
var logStamp = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  `)

// logBlocks splits log's text into its blocks, the time of each header
// left out.
func logBlocks(t *testing.T, text string) []string {
	t.Helper()
	var blocks []string
	for _, b := range strings.Split(strings.TrimSuffix(text, "\n"), "\n\n") {
		if b == "" {
			continue
		}
		if !logStamp.MatchString(b) {
			t.Fatalf("log block without a time: %q", b)
		}
		blocks = append(blocks, logStamp.ReplaceAllString(b, ""))
	}
	return blocks
}

func TestLog(t *testing.T) {
	for _, ssh := range []bool{false, true} {
		t.Run(fmt.Sprintf("ssh=%v", ssh), func(t *testing.T) {
			p := newPair(t, ssh)
			if r := myrrorfs(t, p.logArgs()...); r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no run recorded") {
				t.Fatalf("log of a pair never synced: %+v", r)
			}
			write(t, p.local, map[string]string{"a.txt": "aaa", "bad\nname": "b", "dir/b.txt": "bb", "clash": "local"})
			write(t, p.remoteDir, map[string]string{"r.txt": "r", "clash": "remote!"})
			if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 3 {
				t.Fatalf("first sync: %+v", r)
			}
			// a rename, an edit on the remote, the conflict settled
			os.Rename(filepath.Join(p.local, "a.txt"), filepath.Join(p.local, "a2.txt"))
			write(t, p.remoteDir, map[string]string{"r.txt": "r, edited"})
			if r := myrrorfs(t, p.args("sync", "-y", "--prefer", "remote")...); r.code != 0 {
				t.Fatalf("sync --prefer remote: %+v", r)
			}
			// a run with nothing to do leaves no entry
			if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
				t.Fatalf("sync in step: %+v", r)
			}
			// a push removes what only the remote holds
			write(t, p.remoteDir, map[string]string{"extra": "x"})
			if r := myrrorfs(t, p.args("sync", "-y", "--mode", "push")...); r.code != 0 {
				t.Fatalf("push: %+v", r)
			}

			r := myrrorfs(t, p.logArgs()...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("log: %+v", r)
			}
			want := []string{
				"sync  push  1 to remote, 0 to local, 0 conflicts, copied 0 B\n" +
					"  > delete extra",
				"sync  two-way --prefer remote  1 to remote, 2 to local, 0 conflicts, copied 16 B\n" +
					"  > rename a.txt -> a2.txt\n" +
					"  < update clash\n" +
					"  < update r.txt\n" +
					"  settled create/create clash  (remote version kept)",
				"sync  two-way  4 to remote, 1 to local, 1 conflicts, copied 7 B\n" +
					"  > create a.txt\n" +
					"  > create \"bad\\nname\"\n" +
					"  > create dir/\n" +
					"  > create dir/b.txt\n" +
					"  < create r.txt\n" +
					"  conflict create/create clash",
			}
			got := logBlocks(t, r.stdout)
			if strings.Join(got, "\n\n") != strings.Join(want, "\n\n") {
				t.Fatalf("log printed:\n%s\nwant (times aside):\n%s", r.stdout, strings.Join(want, "\n\n"))
			}
			if r := myrrorfs(t, p.logArgs("-n", "1")...); r.code != 0 || len(logBlocks(t, r.stdout)) != 1 || !strings.Contains(r.stdout, "push") {
				t.Fatalf("log -n 1: %+v", r)
			}

			es := logJSON(t, p.logArgs("-n", "2")[1:]...)
			if len(es) != 2 {
				t.Fatalf("log --json -n 2: %d entries", len(es))
			}
			if e := es[0]; e.Command != "sync" || e.Mode != "push" || e.ToRemote != 1 || len(e.RemoteChanges) != 1 ||
				fmt.Sprint(e.RemoteChanges[0]) != fmt.Sprint(logPath{Op: "delete", Path: "extra"}) || time.Since(e.Time) > time.Minute {
				t.Fatalf("push entry: %+v", e)
			}
			e := es[1]
			if e.Prefer != "remote" || e.Renamed != 1 || e.ToLocal != 2 || e.Bytes != int64(len("remote!")+len("r, edited")) ||
				len(e.Settled) != 1 || e.Settled[0].Path != "clash" || e.Settled[0].Kind != "create/create" || e.Settled[0].Keep != "remote" ||
				e.RemoteChanges[0].Op != "rename" || e.RemoteChanges[0].From != "a.txt" || e.RemoteChanges[0].Path != "a2.txt" {
				t.Fatalf("--prefer entry: %+v", e)
			}
			all := logJSON(t, p.logArgs()[1:]...)
			if len(all) != 3 || all[0].Seq <= all[1].Seq || all[1].Seq <= all[2].Seq {
				t.Fatalf("log --json: %+v", all)
			}
			first := all[2]
			if first.Conflicts != 1 || len(first.Unresolved) != 1 || first.Unresolved[0].Kind != "create/create" ||
				string(first.RemoteChanges[1].PathBytes) != "bad\nname" || !first.RemoteChanges[2].Dir {
				t.Fatalf("first entry: %+v", first)
			}
		})
	}
}

// A path that could not be synced is in the run's entry.
func TestLogFailures(t *testing.T) {
	local, remote, state, cred := unreadablePair(t)
	if r := runAs(t, cred, "sync", "-y", "--state", state, local, remote); r.code != 1 {
		t.Fatalf("sync: %+v", r)
	}
	r := runAs(t, cred, "log", "--state", state, local, remote)
	blocks := logBlocks(t, r.stdout)
	if r.code != 0 || len(blocks) != 1 ||
		!regexp.MustCompile(`^sync  two-way  1 to remote, 0 to local, 0 conflicts, 1 failed, copied 1 B\n  > create ok\n  failed: local secret: .*permission denied`).MatchString(blocks[0]) {
		t.Fatalf("log: %+v", r)
	}
}

// A commit from a mount is in the log, asked through the mount's daemon
// by its mountpoint, from inside the mount, and by LOCAL REMOTE while the
// pair is mounted; after the unmount, LOCAL REMOTE reads the same.
func TestLogThroughMount(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "1"})
	mnt, _ := mountView(t, p)
	write(t, mnt, map[string]string{"new.txt": "made in the view"})
	write(t, p.remoteDir, map[string]string{"a": "edited on the remote"})
	if r := myrrorfs(t, "commit", "-y", mnt); r.code != 0 {
		t.Fatalf("commit: %+v", r)
	}
	want := "commit  two-way  1 to remote, 1 to local, 0 conflicts, copied 36 B\n" +
		"  > create new.txt\n" +
		"  < update a\n\n" +
		"sync  two-way  1 to remote, 0 to local, 0 conflicts, copied 1 B\n" +
		"  > create a"
	check := func(what string, r result) {
		t.Helper()
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%s: %+v", what, r)
		}
		if got := strings.Join(logBlocks(t, r.stdout), "\n\n"); got != want {
			t.Fatalf("%s printed:\n%s\nwant (times aside):\n%s", what, r.stdout, want)
		}
	}
	check("log MOUNTPOINT", myrrorfs(t, "log", mnt))
	check("log inside the mount", runIn(t, mnt, "log"))
	check("log LOCAL REMOTE of the mounted pair", myrrorfs(t, p.logArgs()...))
	if es := logJSON(t, mnt); len(es) != 2 || es[0].Command != "commit" || es[0].LocalChanges[0].Op != "update" {
		t.Fatalf("log --json MOUNTPOINT: %+v", es)
	}
	if r := myrrorfs(t, "unmount", "--state", p.state, mnt); r.code != 0 {
		t.Fatalf("unmount: %+v", r)
	}
	check("log LOCAL REMOTE after the unmount", myrrorfs(t, p.logArgs()...))
}

// Runs of sync --watch are in the log, asked through the watching process.
func TestLogThroughWatch(t *testing.T) {
	p := agentPair(t, false, map[string]string{"a": "1"})
	output := startWatch(t, p)
	within(t, 10*time.Second, "watch started", func() error {
		if !strings.Contains(output(), "watching") {
			return fmt.Errorf("output %q", output())
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	write(t, p.local, map[string]string{"w.txt": "watched"})
	within(t, 5*time.Second, "the new file on the remote", holds(filepath.Join(p.remoteDir, "w.txt"), "watched"))
	within(t, 5*time.Second, "the watch's run in the log", func() error {
		r := myrrorfs(t, p.logArgs("-n", "1")...)
		if r.code != 0 || r.stderr != "" {
			return fmt.Errorf("%+v", r)
		}
		if got := strings.Join(logBlocks(t, r.stdout), ""); got != "watch  two-way  1 to remote, 0 to local, 0 conflicts, copied 7 B\n  > create w.txt" {
			return fmt.Errorf("log printed %q", r.stdout)
		}
		return nil
	})
	// a conflict resolved through the watch is listed with the run that
	// carries it out
	write(t, p.local, map[string]string{"a": "local\n"})
	write(t, p.remoteDir, map[string]string{"a": "remote\n"})
	within(t, 5*time.Second, "the conflict", func() error {
		if !strings.Contains(output(), "conflict, left untouched: a") {
			return fmt.Errorf("output %q", output())
		}
		return nil
	})
	if r := myrrorfs(t, p.resolveArgs("--keep", "remote", filepath.Join(p.local, "a"))...); r.code != 0 {
		t.Fatalf("resolve: %+v", r)
	}
	within(t, 5*time.Second, "the resolution in the log", func() error {
		r := myrrorfs(t, p.logArgs("-n", "1")...)
		if got := strings.Join(logBlocks(t, r.stdout), ""); got != "watch  two-way  0 to remote, 1 to local, 0 conflicts, copied 7 B\n  < update a\n  resolved a  (remote version kept)" {
			return fmt.Errorf("log printed %q", r.stdout)
		}
		return nil
	})
}

// Merges and resolutions are in the log: a merge in the entry of the sync
// that made it, a resolution made without a mount in an entry of its own,
// one made in a mount in the entry of the commit that carries it out.
func TestLogMergesAndResolutions(t *testing.T) {
	p := mergePair(t, false, strings.Replace(mergeBase, "two", "TWO (local)", 1), strings.Replace(mergeBase, "eight", "EIGHT (remote)", 1))
	write(t, p.local, map[string]string{"s1": "local\n"})
	write(t, p.remoteDir, map[string]string{"s1": "remote\n"})
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 3 {
		t.Fatalf("sync: %+v", r)
	}
	if r := myrrorfs(t, p.resolveArgs("--keep", "remote", filepath.Join(p.local, "s1"))...); r.code != 0 {
		t.Fatalf("resolve: %+v", r)
	}
	mustRun(t, p.args("sync", "-y")...)
	want := []string{
		"sync  two-way  0 to remote, 1 to local, 0 conflicts, copied 7 B\n" +
			"  < update s1",
		"resolve  1 resolved\n" +
			"  resolved s1  (remote version kept)",
		fmt.Sprintf("sync  two-way  1 to remote, 0 to local, 1 conflicts, copied %d B\n", len(mergeBase)+len(" (local)")+len(" (remote)")) +
			"  > update notes.txt\n" +
			"  merged notes.txt\n" +
			"  conflict modify/modify s1",
	}
	r := myrrorfs(t, p.logArgs("-n", "3")...)
	if got := strings.Join(logBlocks(t, r.stdout), "\n\n"); r.code != 0 || got != strings.Join(want, "\n\n") {
		t.Fatalf("log printed:\n%s\nwant (times aside):\n%s", r.stdout, strings.Join(want, "\n\n"))
	}

	// in a mount
	write(t, p.local, map[string]string{"s2": "local\n"})
	write(t, p.remoteDir, map[string]string{"s2": "remote\n"})
	mnt, _ := mountView(t, p)
	if r := myrrorfs(t, "resolve", "--keep", "local", filepath.Join(mnt, "s2.remote")); r.code != 0 {
		t.Fatalf("resolve in the mount: %+v", r)
	}
	if r := myrrorfs(t, "commit", "-y", mnt); r.code != 0 {
		t.Fatalf("commit: %+v", r)
	}
	r = myrrorfs(t, "log", "-n", "1", mnt)
	if got := strings.Join(logBlocks(t, r.stdout), ""); r.code != 0 || got != "commit  two-way  1 to remote, 0 to local, 0 conflicts, copied 6 B\n  > update s2\n  resolved s2  (local version kept)" {
		t.Fatalf("log of the mount: %+v", r)
	}
}
