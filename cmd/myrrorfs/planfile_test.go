package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// planTree describes every entry under root, the backup area and
// temporaries included, one line each: path, type, permissions, and a
// file's content or a symlink's target.
func planTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%q %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			line += " " + read(t, p)
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// inStep is the part of a tree that sync keeps in step (planTree without
// the backup area).
func inStep(t *testing.T, root string) string {
	var keep []string
	for _, l := range strings.Split(planTree(t, root), "\n") {
		if !strings.HasPrefix(l, `".myrrorfs`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// savePlan runs status --json on p (with extra flags) into a file and
// returns its name.
func savePlan(t *testing.T, p pair, extra ...string) string {
	t.Helper()
	st := myrrorfs(t, p.args("status", append([]string{"--json"}, extra...)...)...)
	if st.code != 0 {
		t.Fatalf("status --json: %+v", st)
	}
	name := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(name, []byte(st.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// changedPair is a pair (with flags for every command) synced once, then
// changed on both sides: a plan of it updates, creates, deletes and chmods
// in both directions.
func changedPair(t *testing.T, ssh bool, flags ...string) pair {
	p := newPair(t, ssh)
	p.flags = append(p.flags, flags...)
	write(t, p.local, map[string]string{"a.txt": "a", "eq": "equal", "gone": "g", "x": "x", "dir/b": "b", "name\nwith newline": "n"})
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 {
		t.Fatalf("first sync: %+v", r)
	}
	write(t, p.local, map[string]string{"a.txt": "a, edited locally", "new/file": "new"})
	write(t, p.remoteDir, map[string]string{"dir/b": "b, edited remotely", "dir/c": "c"})
	os.Remove(filepath.Join(p.remoteDir, "gone"))
	os.Chmod(filepath.Join(p.local, "x"), 0o755)
	os.Symlink("a.txt", filepath.Join(p.local, "link"))
	return p
}

// An unchanged plan is applied as sync would apply it (with --dry-run,
// only checked), asking nothing; conflicts it lists stay untouched.
func TestPlanFileApplies(t *testing.T) {
	for _, remote := range []string{"local", "ssh", "ssh without agent"} {
		t.Run(remote, func(t *testing.T) {
			var flags []string
			if remote == "ssh without agent" { // remote hashes unknown: size and mtime stand for them
				flags = []string{"--remote-myrrorfs", "none"}
			}
			p := changedPair(t, remote != "local", flags...)
			plan := savePlan(t, p)
			before := planTree(t, p.local) + planTree(t, p.remoteDir)
			r := myrrorfs(t, p.args("sync", "--plan", plan, "--dry-run")...)
			if r.code != 0 || !strings.Contains(r.stdout, "plan "+plan+": every path as it was saved (8 listed)") {
				t.Fatalf("dry run: %+v", r)
			}
			if after := planTree(t, p.local) + planTree(t, p.remoteDir); after != before {
				t.Fatalf("the dry run wrote:\n%s\nthen\n%s", before, after)
			}
			r = myrrorfs(t, p.args("sync", "--plan", plan)...) // no -y: the plan was reviewed
			if r.code != 0 || !strings.Contains(r.stdout, "synced 8 paths") {
				t.Fatalf("sync --plan: %+v", r)
			}
			if l, rem := inStep(t, p.local), inStep(t, p.remoteDir); l != rem {
				t.Fatalf("sides differ after sync --plan:\n%s\n---\n%s", l, rem)
			}
			if got := read(t, filepath.Join(p.remoteDir, "a.txt")); got != "a, edited locally" {
				t.Fatalf("remote a.txt = %q", got)
			}

			// a plan listing a conflict: the conflict stays, the rest is applied
			write(t, p.local, map[string]string{"a.txt": "local version", "eq": "equal, edited"})
			write(t, p.remoteDir, map[string]string{"a.txt": "remote version"})
			plan = savePlan(t, p)
			r = myrrorfs(t, p.args("sync", "--plan", plan)...)
			if r.code != 3 || read(t, filepath.Join(p.remoteDir, "a.txt")) != "remote version" || read(t, filepath.Join(p.remoteDir, "eq")) != "equal, edited" {
				t.Fatalf("sync --plan with a conflict: %+v", r)
			}
		})
	}
}

// A plan that is no longer the pair's plan is refused, listing the paths
// that changed, and nothing is written.
func TestPlanFileStale(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, p pair)
		want   string // the line naming the path that changed
	}{
		{"edited after saving", func(t *testing.T, p pair) {
			write(t, p.local, map[string]string{"a.txt": "edited again"})
		}, "  a.txt: local: size 17 -> 12, content, mtime "},
		{"hostile name edited after saving", func(t *testing.T, p pair) {
			write(t, p.remoteDir, map[string]string{"name\nwith newline": "edited"})
		}, `  "name\nwith newline": not in the plan, now to-local update`},
		{"new file after saving", func(t *testing.T, p pair) {
			write(t, p.remoteDir, map[string]string{"dir/d": "d"})
		}, "  dir/d: not in the plan, now to-local create"},
		{"deleted after saving", func(t *testing.T, p pair) {
			os.Remove(filepath.Join(p.local, "new/file"))
		}, "  new/file: nothing to do now (the plan said to-remote create)"},
		{"equal path edited after saving", func(t *testing.T, p pair) {
			write(t, p.remoteDir, map[string]string{"eq": "changed"})
		}, "  eq: not in the plan, now to-local update"},
		{"equal path deleted after saving", func(t *testing.T, p pair) {
			os.Remove(filepath.Join(p.local, "eq"))
		}, "  eq: not in the plan, now to-remote delete"},
	}
	for _, ssh := range []bool{false, true} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("ssh=%v/%s", ssh, c.name), func(t *testing.T) {
				p := changedPair(t, ssh)
				plan := savePlan(t, p)
				c.change(t, p)
				before := planTree(t, p.local) + planTree(t, p.remoteDir)
				for _, dry := range []bool{true, false} {
					args := []string{"--plan", plan}
					if dry {
						args = append(args, "--dry-run")
					}
					r := myrrorfs(t, p.args("sync", args...)...)
					lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
					if r.code != 1 || len(lines) != 2 || lines[0] != "myrrorfs: plan "+plan+" is out of date: 1 path changed since it was saved (nothing done):" ||
						!strings.HasPrefix(lines[1], c.want) {
						t.Fatalf("dry-run=%v: exit %d, stderr:\n%s\nwant a line beginning %q", dry, r.code, r.stderr, c.want)
					}
					if strings.Contains(r.stdout, "synced") {
						t.Fatalf("dry-run=%v: stdout %q", dry, r.stdout)
					}
				}
				if after := planTree(t, p.local) + planTree(t, p.remoteDir); after != before {
					t.Fatalf("a stale plan wrote:\n%s\nthen\n%s", before, after)
				}
			})
		}
	}
}

// A plan saved with other --mode/--prefer flags is refused as such; a
// plan saved with --all (equal paths listed) is checked on those too.
func TestPlanFileFlags(t *testing.T) {
	p := changedPair(t, false)
	push := savePlan(t, p, "--mode", "push")
	oneLine(t, myrrorfs(t, p.args("sync", "--plan", push)...),
		"plan "+push+" was decided with --mode push, this sync with --mode two-way: the actions differ")
	oneLine(t, myrrorfs(t, p.args("sync", "--plan", push, "--prefer", "newer")...),
		"decided with --mode push, this sync with --mode two-way --prefer newer")
	if r := myrrorfs(t, p.args("sync", "--plan", push, "--mode", "push")...); r.code != 0 || read(t, filepath.Join(p.remoteDir, "dir/b")) != "b" {
		t.Fatalf("sync --plan --mode push: %+v", r)
	}

	all := savePlan(t, p, "--all")
	os.Chmod(filepath.Join(p.remoteDir, "eq"), 0o600) // not a change sync acts on
	r := myrrorfs(t, p.args("sync", "--plan", all)...)
	if r.code != 1 || !strings.HasSuffix(r.stderr, "\n  eq: remote: mode 0644 -> 0600\n") {
		t.Fatalf("sync --plan (saved with --all): %+v", r)
	}
	os.Chmod(filepath.Join(p.remoteDir, "eq"), 0o644)
	if r := myrrorfs(t, p.args("sync", "--plan", all)...); r.code != 0 {
		t.Fatalf("sync --plan (saved with --all), unchanged: %+v", r)
	}
}

// A damaged plan file is one line naming FILE:LINE and the cause, and
// nothing is scanned or written; --plan with --watch is refused.
func TestPlanFileDamaged(t *testing.T) {
	p := changedPair(t, false)
	good := myrrorfs(t, p.args("status", "--json")...).stdout
	first, _, _ := strings.Cut(good, "\n")
	dir := t.TempDir()
	cases := []struct{ name, content, want string }{
		{"truncated", good[:len(good)-20], ":8: not a JSON object: unexpected end of JSON input"},
		{"duplicate", first + "\n" + good, `:2: a.txt is listed twice (first on line 1)`},
		{"outside", strings.Replace(good, `"path":"a.txt"`, `"path":"../a.txt"`, 1), ":1: invalid path ../a.txt"},
		{"huge line", strings.Repeat(" ", 2<<20), ":1: line longer than 1048576 bytes"},
		{"binary", "\x00\x1b[2J\xff", `:1: not a JSON object: invalid character '\x00' looking for beginning of value`},
	}
	before := planTree(t, p.local) + planTree(t, p.remoteDir)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := filepath.Join(dir, c.name+".json")
			os.WriteFile(name, []byte(c.content), 0o644)
			oneLine(t, myrrorfs(t, p.args("sync", "--plan", name)...), name+c.want)
		})
	}
	missing := filepath.Join(dir, "missing.json")
	oneLine(t, myrrorfs(t, p.args("sync", "--plan", missing)...), "--plan: open "+missing+": no such file or directory")
	oneLine(t, myrrorfs(t, p.args("sync", "-y", "--watch", "--plan", missing)...), "--plan and --watch")
	if after := planTree(t, p.local) + planTree(t, p.remoteDir); after != before {
		t.Fatalf("a damaged plan wrote:\n%s\nthen\n%s", before, after)
	}
}
