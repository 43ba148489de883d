package journal

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/tree"
	"lukechampine.com/blake3"
)

func hashOf(s string) tree.Hash { return tree.Hash(blake3.Sum256([]byte(s))) }

func TestBases(t *testing.T) {
	b := &Bases{dir: filepath.Join(t.TempDir(), "bases"), limit: 10}
	if _, ok := b.Get(hashOf("x"), 100); ok {
		t.Fatal("an empty store returns content")
	}
	if err := b.Put(hashOf("other"), []byte("x")); err == nil {
		t.Fatal("content stored under another hash")
	}
	for _, s := range []string{"aaaa", "bbbb", "cccc"} {
		if err := b.Put(hashOf(s), []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := b.Get(hashOf("aaaa"), 100); !ok || string(got) != "aaaa" {
		t.Fatalf("Get = %q, %v", got, ok)
	}
	if _, ok := b.Get(hashOf("aaaa"), 3); ok {
		t.Fatal("content larger than max returned")
	}
	// damaged content is not returned, and removed
	os.WriteFile(b.path(hashOf("cccc")), []byte("evil"), 0o600)
	if _, ok := b.Get(hashOf("cccc"), 100); ok || b.Has(hashOf("cccc")) {
		t.Fatal("damaged content returned or kept")
	}
	// a symlink in the store is not followed
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("dddd"), 0o600)
	os.Symlink(secret, b.path(hashOf("dddd")))
	if _, ok := b.Get(hashOf("dddd"), 100); ok {
		t.Fatal("a symlink in the store was followed")
	}
	// prune: unreferenced goes, then the least recently used over the limit
	old := time.Now().Add(-time.Hour)
	os.Chtimes(b.path(hashOf("aaaa")), old, old)
	b.Put(hashOf("eeee"), []byte("eeee"))
	b.Put(hashOf("ffff"), []byte("ffff"))
	os.WriteFile(filepath.Join(b.dir, "junk"), []byte("j"), 0o600)
	referenced := map[tree.Hash]bool{hashOf("aaaa"): true, hashOf("bbbb"): true, hashOf("eeee"): true}
	if err := b.Prune(func(h tree.Hash) bool { return referenced[h] }); err != nil {
		t.Fatal(err)
	}
	names, _ := os.ReadDir(b.dir)
	var got []string
	for _, n := range names {
		if n.Name() != prunedStamp {
			got = append(got, n.Name())
		}
	}
	// aaaa (oldest) is pruned for the limit of 10 bytes; ffff, dddd, junk are unreferenced
	want := []string{hashOf("bbbb").String(), hashOf("eeee").String()}
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Fatalf("after prune: %v, want %v", got, want)
	}
}

func TestBasesPruneDue(t *testing.T) {
	b := &Bases{dir: filepath.Join(t.TempDir(), "bases"), limit: 1 << 20}
	if b.PruneDue(time.Hour) {
		t.Fatal("an empty store is due")
	}
	b.Put(hashOf("x"), []byte("x"))
	if !b.PruneDue(time.Hour) {
		t.Fatal("a store never pruned is not due")
	}
	b.Prune(func(tree.Hash) bool { return true })
	if b.PruneDue(time.Hour) || !b.Has(hashOf("x")) {
		t.Fatal("due right after a prune, or pruned what is held")
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(filepath.Join(b.dir, prunedStamp), old, old)
	if !b.PruneDue(time.Hour) {
		t.Fatal("not due an interval after the last prune")
	}
}
