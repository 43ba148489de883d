package journal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/snappy"
)

// history reads the whole history, newest first, and the warnings.
func history(t *testing.T, db *DB) ([]HistoryEntry, []string) {
	t.Helper()
	var out []HistoryEntry
	var warns []string
	err := db.History(func(e HistoryEntry) bool {
		out = append(out, e)
		return true
	}, func(w string) { warns = append(warns, w) })
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return out, warns
}

func seqs(es []HistoryEntry) []uint64 {
	var s []uint64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

func TestHistoryAppendAndPrune(t *testing.T) {
	db := openTest(t, t.TempDir())
	when := time.Date(2026, 11, 29, 14, 3, 12, 0, time.UTC)
	for i := 1; i <= 7; i++ {
		e := &HistoryEntry{Time: when.Add(time.Duration(i) * time.Minute), Command: "sync", Mode: "two-way", ToRemote: i,
			RemoteChanges: []HistoryPath{{Op: "update", Path: fmt.Sprintf("f%d", i)}}}
		if err := db.AppendHistory(e, 5); err != nil {
			t.Fatalf("AppendHistory %d: %v", i, err)
		}
		if e.Seq != uint64(i) {
			t.Fatalf("entry %d got seq %d", i, e.Seq)
		}
	}
	got, warns := history(t, db)
	if len(warns) > 0 {
		t.Fatalf("warnings: %q", warns)
	}
	// the 5 newest, newest first
	if !slices.Equal(seqs(got), []uint64{7, 6, 5, 4, 3}) {
		t.Fatalf("seqs after pruning to 5: %v", seqs(got))
	}
	if e := got[0]; e.ToRemote != 7 || e.RemoteChanges[0].Path != "f7" || !e.Time.Equal(when.Add(7*time.Minute)) || e.Command != "sync" {
		t.Fatalf("newest entry: %+v", e)
	}
	// fn returning false stops
	n := 0
	db.History(func(HistoryEntry) bool { n++; return n < 2 }, nil)
	if n != 2 {
		t.Fatalf("History went on after false: %d calls", n)
	}
	// the pruned entries' keys are gone, not only hidden
	keys := rawHistoryKeys(t, db)
	if len(keys) != 5 {
		t.Fatalf("%d history keys stored, want 5", len(keys))
	}
	// sequence numbers go on after a reopen
	dir := t.TempDir()
	db2, err := Open(dir, testIdentity, "test")
	if err != nil {
		t.Fatal(err)
	}
	db2.AppendHistory(&HistoryEntry{Command: "sync"}, 0)
	db2.Close()
	db2, err = Open(dir, testIdentity, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	e := &HistoryEntry{Command: "commit"}
	if err := db2.AppendHistory(e, 0); err != nil || e.Seq != 2 {
		t.Fatalf("append after reopen: seq %d, %v", e.Seq, err)
	}
}

// rawHistoryKeys lists the keys of the history space.
func rawHistoryKeys(t *testing.T, db *DB) [][]byte {
	t.Helper()
	bdb, err := db.use()
	if err != nil {
		t.Fatal(err)
	}
	defer db.done()
	var keys [][]byte
	bdb.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixHistory}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	return keys
}

// setRaw stores key -> val as they are.
func setRaw(t *testing.T, db *DB, key, val []byte) {
	t.Helper()
	bdb, err := db.use()
	if err != nil {
		t.Fatal(err)
	}
	defer db.done()
	if err := bdb.Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryLargeEntryAndExactNames(t *testing.T) {
	db := openTest(t, t.TempDir())
	e := &HistoryEntry{Command: "sync", Mode: "push"}
	for i := 0; i < HistoryMaxPaths; i++ {
		// incompressible enough to take several chunks
		e.RemoteChanges = append(e.RemoteChanges, HistoryPath{Op: "create", Path: fmt.Sprintf("dir/%x/%d", i*2654435761, i)})
	}
	bad := "bad\xff\nname"
	e.LocalChanges = []HistoryPath{{Op: "rename", Path: bad, PathBytes: []byte(bad), From: "old\x1b", FromBytes: []byte("old\x1b")}}
	if err := db.AppendHistory(e, 0); err != nil {
		t.Fatal(err)
	}
	if n := len(rawHistoryKeys(t, db)); n < 2 {
		t.Fatalf("a large entry took %d keys; want it cut in parts", n)
	}
	got, warns := history(t, db)
	if len(got) != 1 || len(warns) > 0 {
		t.Fatalf("history: %d entries, warnings %q", len(got), warns)
	}
	if len(got[0].RemoteChanges) != HistoryMaxPaths || got[0].RemoteChanges[999].Path != e.RemoteChanges[999].Path {
		t.Fatalf("large entry came back with %d paths", len(got[0].RemoteChanges))
	}
	if l := got[0].LocalChanges[0]; l.Path != bad || l.From != "old\x1b" {
		t.Fatalf("names came back as %q, %q", l.Path, l.From)
	}
}

func TestHistoryDamagedEntriesSkipped(t *testing.T) {
	db := openTest(t, t.TempDir())
	for i := 1; i <= 3; i++ {
		if err := db.AppendHistory(&HistoryEntry{Command: "sync", ToLocal: i}, 0); err != nil {
			t.Fatal(err)
		}
	}
	// entry 2 overwritten with garbage
	setRaw(t, db, historyKey(2, 0), []byte("\x01garbage that is no entry"))
	// entry 4: its part 0 is lost
	big := &HistoryEntry{Command: "sync"}
	for i := 0; i < 800; i++ {
		big.RemoteChanges = append(big.RemoteChanges, HistoryPath{Op: "create", Path: fmt.Sprintf("%x", uint64(i)*0x9e3779b97f4a7c15)})
	}
	blob, _ := encodeHistory(big)
	if len(blob) <= historyChunk {
		t.Fatalf("test entry fits in one chunk (%d bytes)", len(blob))
	}
	setRaw(t, db, historyKey(4, 1), blob[historyChunk:min(len(blob), 2*historyChunk)])
	// entry 5: another version, and a key of the wrong length
	setRaw(t, db, historyKey(5, 0), []byte{9, 0, 0, 0, 0})
	setRaw(t, db, []byte{prefixHistory, 1, 2}, []byte("x"))
	// entry 6: not JSON, with a good checksum
	body := snappy.Encode(nil, []byte(`{"seq": not json`))
	b := []byte{historyVersion, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], crc32.Checksum(body, crcTable))
	setRaw(t, db, historyKey(6, 0), append(b, body...))
	// entry 7: empty
	setRaw(t, db, historyKey(7, 0), nil)

	got, warns := history(t, db)
	if !slices.Equal(seqs(got), []uint64{3, 1}) || got[0].ToLocal != 3 || got[1].ToLocal != 1 {
		t.Fatalf("readable entries: %+v", got)
	}
	want := []string{"entry 7 is damaged (too short)", "entry 6 is damaged (invalid character", "entry 5 is damaged (unknown version 9)",
		"entry 4 is damaged (part 0 missing)", "entry 2 is damaged (checksum mismatch)", "wrong length"}
	all := strings.Join(warns, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
	if len(warns) != len(want) {
		t.Errorf("%d warnings, want %d:\n%s", len(warns), len(want), all)
	}
	// a new entry goes after the damaged ones, and pruning removes them
	// (the key of the wrong length too)
	e := &HistoryEntry{Command: "commit"}
	if err := db.AppendHistory(e, 1); err != nil || e.Seq != 8 {
		t.Fatalf("append after damage: seq %d, %v", e.Seq, err)
	}
	got, warns = history(t, db)
	if !slices.Equal(seqs(got), []uint64{8}) || len(warns) != 0 {
		t.Fatalf("after pruning to 1: %v, warnings %q", seqs(got), warns)
	}
}
