package main

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// buildSetting returns the value of key in the build information of the
// test binary (as `go version -m` prints it), or "".
func buildSetting(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case key == "mod" && len(f) >= 3 && f[0] == "mod":
			return f[2]
		case len(f) >= 2 && f[0] == "build" && strings.HasPrefix(f[1], key+"="):
			return strings.TrimPrefix(f[1], key+"=")
		}
	}
	return ""
}

func TestVersion(t *testing.T) {
	mod := buildSetting(t, "mod")
	rev := buildSetting(t, "vcs.revision")
	var first string
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := myrrorfs(t, args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: %+v", args, r)
		}
		out := strings.TrimSuffix(r.stdout, "\n")
		if strings.Contains(out, "\n") || !strings.HasPrefix(out, "myrrorfs ") {
			t.Fatalf("%v: want one line beginning with myrrorfs, got %q", args, r.stdout)
		}
		if mod != "" && !strings.Contains(out, mod) {
			t.Fatalf("%v: %q lacks the module version %q", args, out, mod)
		}
		if rev != "" && !strings.Contains(out, rev) {
			t.Fatalf("%v: %q lacks the revision %q", args, out, rev)
		}
		if first == "" {
			first = out
		} else if out != first {
			t.Fatalf("--version says %q, version says %q", first, out)
		}
	}
	if r := myrrorfs(t, "version", "extra"); r.code != 1 {
		t.Fatalf("version with an argument: %+v", r)
	}
}

// Every error is one line with one "myrrorfs:" prefix.
func TestErrorPrefix(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"-Z"}, "unknown shorthand flag"},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"mount", "-x", "a", "b", "c"}, "unknown shorthand flag"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"statsu"}, `unknown command "statsu"`},
		{[]string{"sync", "a"}, "two arguments"},
		{[]string{"unmount"}, "one argument"},
		{[]string{"status", "a", "b", "c"}, "got 3 arguments"},
		{[]string{"status", "--state"}, "flag needs an argument"},
		{[]string{"version", "extra"}, "version"},
	}
	for _, c := range cases {
		r := myrrorfs(t, c.args...)
		oneLineError(t, r, c.want)
		if n := strings.Count(r.stderr, "myrrorfs:"); n != 1 || !strings.HasPrefix(r.stderr, "myrrorfs: ") {
			t.Errorf("%v: want one myrrorfs: prefix, got %q", c.args, r.stderr)
		}
		if strings.Contains(r.stderr, "myrrorfs myrrorfs") {
			t.Errorf("%v: the program is named twice: %q", c.args, r.stderr)
		}
	}
}

func TestVersionOf(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}
	if got := versionOf(info); got != "myrrorfs v1.2.3" {
		t.Fatalf("no revision: %q", got)
	}
	info.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.modified", Value: "true"}}
	if got := versionOf(info); got != "myrrorfs v1.2.3 (revision 0123abc, modified)" {
		t.Fatalf("with a revision: %q", got)
	}
	info.Main.Version = ""
	info.Settings = info.Settings[:1]
	if got := versionOf(info); got != "myrrorfs (devel) (revision 0123abc)" {
		t.Fatalf("no module version: %q", got)
	}
}
