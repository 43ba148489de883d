package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/tree"
)

// journalDir returns the directory of the pair's journal.
func journalDir(t *testing.T, p pair) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(p.state, "pairs", "*"))
	if len(dirs) != 1 {
		t.Fatalf("journals under %s: %v", p.state, dirs)
	}
	return dirs[0]
}

// onlyFile returns the one file of dir matching pattern.
func onlyFile(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) != 1 {
		ents, _ := os.ReadDir(dir)
		t.Fatalf("%s in %s: %v (dir holds %v)", pattern, dir, m, ents)
	}
	return m[0]
}

// A damaged journal gives one line naming its directory and the way out,
// never a panic; `myrrorfs repair` moves it aside (kept), and the next sync
// is a first sync: identical paths are equal, different ones conflicts.
func TestDamagedJournal(t *testing.T) {
	damages := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"sst truncated", func(t *testing.T, dir string) {
			f := onlyFile(t, dir, "*.sst")
			fi, _ := os.Stat(f)
			os.Truncate(f, fi.Size()/2)
		}},
		{"sst cut to a few bytes", func(t *testing.T, dir string) { os.Truncate(onlyFile(t, dir, "*.sst"), 100) }},
		{"sst emptied", func(t *testing.T, dir string) { os.Truncate(onlyFile(t, dir, "*.sst"), 0) }},
		{"sst with garbage inside", func(t *testing.T, dir string) {
			f, err := os.OpenFile(onlyFile(t, dir, "*.sst"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte(strings.Repeat("garbage!", 64)), 200)
			f.Close()
		}},
		{"garbage MANIFEST", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("this is no manifest at all"), 0o600)
		}},
		{"bad record value", func(t *testing.T, dir string) {
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(txn *badger.Txn) error {
				return txn.Set(append([]byte{'r'}, tree.SortKey("same")...), []byte{0xff, 0xfe, 1, 2, 3})
			})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			p := syncedPair(t, false, map[string]string{"same": "s", "diff": "one", "dir/f": "f"})
			dir := journalDir(t, p)
			d.damage(t, dir)
			write(t, p.local, map[string]string{"diff": "local two"})
			write(t, p.remoteDir, map[string]string{"diff": "remote two"})
			for _, cmd := range [][]string{p.args("status"), p.args("sync", "-y")} {
				r := myrrorfs(t, cmd...)
				oneLineError(t, r, dir, "damaged", "myrrorfs repair")
				if strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic") {
					t.Fatalf("%s: %s", cmd[0], r.stderr)
				}
			}

			r := myrrorfs(t, p.args("repair")...)
			if r.code != 0 || !strings.Contains(r.stdout, "first sync") {
				t.Fatalf("repair: %+v", r)
			}
			aside, _ := filepath.Glob(dir + ".*")
			if len(aside) != 1 {
				t.Fatalf("journal kept aside: %v", aside)
			}
			if _, err := os.Stat(filepath.Join(aside[0], "MANIFEST")); err != nil {
				t.Fatalf("the damaged journal was not kept: %v", err)
			}
			s := myrrorfs(t, p.args("sync", "-y")...)
			if s.code != 3 || !strings.Contains(s.stderr, "1 conflicts remain") {
				t.Fatalf("first sync after repair: %+v", s)
			}
			for side, want := range map[string]string{p.local: "local two", p.remoteDir: "remote two"} {
				if read(t, filepath.Join(side, "diff")) != want || read(t, filepath.Join(side, "same")) != "s" || read(t, filepath.Join(side, "dir/f")) != "f" {
					t.Fatalf("%s after the first sync: diff=%q", side, read(t, filepath.Join(side, "diff")))
				}
			}
		})
	}
}

// repair refuses while another process, such as a mount, holds the pair.
func TestRepairRefusesHeldPair(t *testing.T) {
	p := syncedPair(t, false, map[string]string{"a": "1"})
	held, err := engine.Open(context.Background(), p.local, p.remote, engine.Options{StateDir: p.state, Holder: "mount at /mnt/x (pid 42)"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	oneLineError(t, myrrorfs(t, p.args("repair")...), "in use", "mount at /mnt/x (pid 42)")
	if _, err := os.Stat(journalDir(t, p)); err != nil {
		t.Fatal(err)
	}
}

// repair of a pair that has no journal says so.
func TestRepairWithoutJournal(t *testing.T) {
	p := newPair(t, false)
	oneLineError(t, myrrorfs(t, p.args("repair")...), "no journal")
}
