package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A user's own file under a reserved name is never removed: it is reported
// as a warning, and left alone on every run.
func TestReservedNamesKept(t *testing.T) {
	p := newPair(t, false)
	user := map[string]string{
		".myrrorfs-tmp-mine":                 "mine",
		"d/.myrrorfs-tmp-0123456789abcdef":   "looks like an old temporary",
		".myrrorfs-notes":                    "notes",
		"d/.myrrorfs-tmp-0123456789ab-00112": "almost the format",
	}
	write(t, p.local, map[string]string{"a": "1", "d/b": "2"})
	write(t, p.local, user)
	for run := range 2 {
		r := myrrorfs(t, p.args("sync", "-y")...)
		if r.code != 0 {
			t.Fatalf("run %d: %+v", run, r)
		}
		for name, content := range user {
			if got := read(t, filepath.Join(p.local, name)); got != content {
				t.Fatalf("run %d: %s = %q, want %q", run, name, got, content)
			}
			if !strings.Contains(r.stderr, "warning: local "+name+":") {
				t.Errorf("run %d: no warning for %s in %q", run, name, r.stderr)
			}
			if _, err := os.Lstat(filepath.Join(p.remoteDir, name)); err == nil {
				t.Errorf("run %d: %s synced", run, name)
			}
		}
	}
}

// Hostile names cannot break the output: text quotes a name with control
// characters or invalid UTF-8, and JSON keeps every name distinct and
// reversible (path_bytes).
func TestHostileNamesOutput(t *testing.T) {
	p := newPair(t, false)
	names := []string{"new\nline", "esc\x1b[31mred", "bad\xff", "bad\xfe", "plain"}
	files := map[string]string{".myrrorfs-\x1b[2J": "reserved"}
	for _, n := range names {
		files[n] = n
	}
	write(t, p.remoteDir, files)
	r := myrrorfs(t, p.args("status")...)
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.ContainsAny(out, "\x1b\xff\xfe") {
			t.Errorf("raw control or invalid bytes in %q", out)
		}
	}
	for _, want := range []string{`  create  "new\nline"` + "\n", `  create  "esc\x1b[31mred"` + "\n", `  create  "bad\xff"` + "\n", "  create  plain\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, `warning: remote ".myrrorfs-\x1b[2J": `) {
		t.Errorf("warning not quoted: %q", r.stderr)
	}
	r = myrrorfs(t, p.args("status", "--json")...)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var d struct {
			Path      string `json:"path"`
			PathBytes []byte `json:"path_bytes"`
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		name := d.Path
		if d.PathBytes != nil {
			name = string(d.PathBytes)
		} else if d.Path != "plain" {
			t.Errorf("no path_bytes in %s", line)
		}
		seen[name] = true
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("%q not in the JSON output:\n%s", n, r.stdout)
		}
	}
}
