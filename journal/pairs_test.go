package journal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Identities reads back the identities of the pairs opened under a state
// directory, exactly (a newline in a path too), and skips what does not
// name its own directory: a planted or damaged pair file, a symlink, a
// journal moved aside.
func TestIdentities(t *testing.T) {
	state := t.TempDir()
	ids := []string{"/home/me/proj\x00host:proj", "/tmp/new\nline\x00/tmp/other\nline"}
	for _, id := range ids {
		db, err := Open(state, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	// a pair file that names another pair than its directory's
	planted := filepath.Join(state, "pairs", "0123456789abcdef")
	os.MkdirAll(planted, 0o700)
	os.WriteFile(filepath.Join(planted, pairFile), []byte("/etc\nhost:x\n"), 0o600)
	// a pair file that is a symlink, to a file that would name its directory
	sym := PairDir(state, "/sym\x00host:y")
	os.MkdirAll(sym, 0o700)
	elsewhere := filepath.Join(t.TempDir(), "pair")
	os.WriteFile(elsewhere, pairText("/sym\x00host:y"), 0o600)
	os.Symlink(elsewhere, filepath.Join(sym, pairFile))
	// a journal moved aside keeps its pair file
	if _, err := MoveAside(state, ids[0], time.Now()); err != nil {
		t.Fatal(err)
	}
	db, err := Open(state, ids[0], "test")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	got, err := Identities(state)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("Identities = %q, want %q", got, ids)
	}
	if got, err := Identities(filepath.Join(state, "missing")); err != nil || got != nil {
		t.Fatalf("Identities of a missing state directory = %q, %v", got, err)
	}
}
