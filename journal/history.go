package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/snappy"
)

// The history of a pair: one entry per run that did something (see
// HistoryEntry), kept in the key space prefixHistory, oldest first:
//
//	'h' + seq (8 bytes, big endian) + part (2 bytes, big endian) -> chunk
//
// An entry is encoded as a version byte, the CRC-32 (Castagnoli, 4 bytes,
// big endian) of what follows, and its JSON, snappy-compressed; that blob
// is cut into chunks of at most historyChunk bytes, parts 0, 1, …, so that
// every value stays inside the LSM tree (below valueThreshold): entries
// pruned away are then reclaimed by compactions, where values in badger's
// value log would stay on disk for good.
const (
	historyVersion = 1
	historyChunk   = 7 << 10
	// historyMaxParts bounds what a reader takes in for one entry (a
	// damaged state directory could hold anything): 64 chunks, 448 KiB of
	// compressed JSON, well above what an entry with its lists capped
	// (HistoryMaxPaths) takes.
	historyMaxParts = 64
	historyKeyLen   = 1 + 8 + 2
)

// HistoryKeep is how many entries the history keeps: AppendHistory
// removes the oldest beyond it.
const HistoryKeep = 1000

// HistoryMaxPaths bounds each list of paths of an entry, and
// HistoryMaxPathBytes the bytes of the paths in it, whichever comes first:
// the paths beyond are only counted (HistoryEntry's *More fields). The
// engine fills entries within these bounds.
const (
	HistoryMaxPaths     = 1000
	HistoryMaxPathBytes = 64 << 10
)

// HistoryEntry is what the history keeps of one run: a sync, a commit
// from a mount, a run of sync --watch, or resolutions recorded on their
// own. It is stored as its JSON, and `myrrorfs log --json` prints it as
// it is.
type HistoryEntry struct {
	// Seq numbers the entries of a pair in the order they were recorded;
	// AppendHistory sets it.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"` // when the run ended
	// Command is what ran: "sync", "commit" (from a mount), "watch" (a
	// run of sync --watch) or "resolve" (resolutions noted outside a run).
	Command string `json:"command"`
	// Mode is the run's mode ("two-way", "push", "pull"), Prefer its
	// preference for conflicts ("local", "remote", "newer"; empty: none).
	Mode   string `json:"mode,omitempty"`
	Prefer string `json:"prefer,omitempty"`

	// Counts. ToRemote and ToLocal count the paths changed on each side
	// (a rename once); Renamed and Copied the files and directories
	// renamed, and the files copied, on their target instead of
	// transferred; Bytes the file bytes transferred; Conflicts the
	// conflicts left untouched; Failed the paths that could not be
	// brought in step.
	ToRemote  int   `json:"to_remote"`
	ToLocal   int   `json:"to_local"`
	Renamed   int   `json:"renamed"`
	Copied    int   `json:"copied"`
	Bytes     int64 `json:"bytes"`
	Conflicts int   `json:"conflicts"`
	Failed    int   `json:"failed"`

	// RemoteChanges and LocalChanges are the paths changed on the remote
	// (to remote) and on the local side (to local), with their Op; the
	// *More fields count those left out beyond HistoryMaxPaths.
	RemoteChanges []HistoryPath `json:"remote_changes,omitempty"`
	RemoteMore    int           `json:"remote_more,omitempty"`
	LocalChanges  []HistoryPath `json:"local_changes,omitempty"`
	LocalMore     int           `json:"local_more,omitempty"`
	// Settled are the conflicts a preference (--prefer) settled: Kind,
	// and Keep the side whose version won.
	Settled     []HistoryPath `json:"settled,omitempty"`
	SettledMore int           `json:"settled_more,omitempty"`
	// Unresolved are the conflicts left untouched (Kind).
	Unresolved     []HistoryPath `json:"unresolved,omitempty"`
	UnresolvedMore int           `json:"unresolved_more,omitempty"`
	// Resolutions are the conflicts resolved by a choice since the
	// previous entry (Keep: "local", "remote" or "both"); Merged the paths
	// whose two versions were merged into one.
	Resolutions     []HistoryPath `json:"resolutions,omitempty"`
	ResolutionsMore int           `json:"resolutions_more,omitempty"`
	Merged          []HistoryPath `json:"merged,omitempty"`
	MergedMore      int           `json:"merged_more,omitempty"`
	// Failures are the paths that could not be brought in step, one line
	// each (side, path and cause); FailuresMore counts those left out.
	Failures     []string `json:"failures,omitempty"`
	FailuresMore int      `json:"failures_more,omitempty"`
	// Error is why the run stopped before its end ("" when it did not).
	Error string `json:"error,omitempty"`
}

// HistoryPath is one path of a HistoryEntry's lists. Path is readable; a
// path that is not valid UTF-8 or holds control characters also has its
// exact bytes in PathBytes (base64 in JSON), as status --json has them,
// and so has From in FromBytes.
type HistoryPath struct {
	Op        string `json:"op,omitempty"` // changes: create, update, delete, replace, chmod, rename
	Path      string `json:"path"`
	PathBytes []byte `json:"path_bytes,omitempty"`
	From      string `json:"from,omitempty"` // rename: the old path
	FromBytes []byte `json:"from_bytes,omitempty"`
	Dir       bool   `json:"dir,omitempty"`  // the path is (or was) a directory
	Kind      string `json:"kind,omitempty"` // conflicts: modify/modify, create/create, …
	Keep      string `json:"keep,omitempty"` // settled conflicts, resolutions: local, remote or both
}

// exact restores the exact bytes of the paths of l, which JSON carries in
// the *Bytes fields.
func exact(l []HistoryPath) {
	for i := range l {
		if l[i].PathBytes != nil {
			l[i].Path = string(l[i].PathBytes)
		}
		if l[i].FromBytes != nil {
			l[i].From = string(l[i].FromBytes)
		}
	}
}

// historyKey is the key of part of entry seq.
func historyKey(seq uint64, part int) []byte {
	k := make([]byte, historyKeyLen)
	k[0] = prefixHistory
	binary.BigEndian.PutUint64(k[1:], seq)
	binary.BigEndian.PutUint16(k[9:], uint16(part))
	return k
}

// encodeHistory returns the stored form of e (see prefixHistory).
func encodeHistory(e *HistoryEntry) ([]byte, error) {
	js, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	body := snappy.Encode(nil, js)
	blob := make([]byte, 5, 5+len(body))
	blob[0] = historyVersion
	binary.BigEndian.PutUint32(blob[1:], crc32.Checksum(body, crcTable))
	return append(blob, body...), nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// decodeHistory reads an entry back from its stored form.
func decodeHistory(blob []byte) (HistoryEntry, error) {
	var e HistoryEntry
	if len(blob) < 5 {
		return e, errors.New("too short")
	}
	if blob[0] != historyVersion {
		return e, fmt.Errorf("unknown version %d", blob[0])
	}
	body := blob[5:]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(blob[1:]) {
		return e, errors.New("checksum mismatch")
	}
	if n, err := snappy.DecodedLen(body); err != nil || n > historyMaxParts*historyChunk*8 {
		return e, fmt.Errorf("bad compressed length (%v)", err)
	}
	js, err := snappy.Decode(nil, body)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(js, &e); err != nil {
		return e, err
	}
	for _, l := range [][]HistoryPath{e.RemoteChanges, e.LocalChanges, e.Settled, e.Unresolved, e.Resolutions, e.Merged} {
		exact(l)
	}
	return e, nil
}

// AppendHistory records e as the newest entry of the history, setting its
// Seq, and removes the oldest entries beyond keep (HistoryKeep when keep
// <= 0). It is durable once it returns.
func (db *DB) AppendHistory(e *HistoryEntry, keep int) error {
	if keep <= 0 {
		keep = HistoryKeep
	}
	if err := db.full.Load(); err != nil {
		return *err
	}
	if err := checkSpace(db.dir); err != nil {
		return err
	}
	bdb, err := db.use()
	if err != nil {
		return err
	}
	defer db.done()
	db.histMu.Lock()
	defer db.histMu.Unlock()
	err = guard(db.dir, func() error {
		seqs, err := historySeqs(bdb)
		if err != nil {
			return err
		}
		e.Seq = 1
		if len(seqs) > 0 {
			e.Seq = seqs[len(seqs)-1] + 1
		}
		blob, err := encodeHistory(e)
		if err != nil {
			return err
		}
		if len(blob) > historyMaxParts*historyChunk {
			return fmt.Errorf("entry of %d bytes is too large", len(blob))
		}
		err = bdb.Update(func(txn *badger.Txn) error {
			for part := 0; len(blob) > 0; part++ {
				n := min(len(blob), historyChunk)
				if err := txn.Set(historyKey(e.Seq, part), blob[:n]); err != nil {
					return err
				}
				blob = blob[n:]
			}
			return nil
		})
		if err != nil {
			return err
		}
		if drop := len(seqs) + 1 - keep; drop > 0 {
			if err := pruneHistory(bdb, seqs[drop-1]); err != nil {
				return err
			}
		}
		return bdb.Sync()
	})
	if err != nil {
		return fmt.Errorf("journal: record history: %w", err)
	}
	return nil
}

// historySeqs returns the sequence numbers of the entries stored, in
// order (one per entry, whatever its parts; keys of another length are
// left out).
func historySeqs(bdb *badger.DB) ([]uint64, error) {
	var seqs []uint64
	err := bdb.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{prefixHistory}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != historyKeyLen {
				continue
			}
			seq := binary.BigEndian.Uint64(k[1:])
			if len(seqs) == 0 || seqs[len(seqs)-1] != seq {
				seqs = append(seqs, seq)
			}
		}
		return nil
	})
	return seqs, err
}

// pruneHistory removes the keys of the history space up to entry last
// (included), and the keys of the wrong length.
func pruneHistory(bdb *badger.DB, last uint64) error {
	var keys [][]byte
	err := bdb.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{prefixHistory}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) == historyKeyLen && binary.BigEndian.Uint64(k[1:]) > last {
				continue
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return err
	}
	wb := bdb.NewWriteBatch()
	defer wb.Cancel()
	for _, k := range keys {
		if err := wb.Delete(k); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// History calls fn with the entries of the history, newest first, until
// fn returns false. An entry that cannot be read back (a damaged state
// directory) is skipped: warn, if not nil, receives one line about it.
func (db *DB) History(fn func(HistoryEntry) bool, warn func(string)) error {
	bdb, err := db.use()
	if err != nil {
		return err
	}
	defer db.done()
	skip := func(what string, cause any) {
		if warn != nil {
			warn(fmt.Sprintf("journal %s: history entry %s is damaged (%v); skipped", db.dir, what, cause))
		}
	}
	return guard(db.dir, func() error {
		return bdb.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Reverse = true
			opts.Prefix = []byte{prefixHistory}
			it := txn.NewIterator(opts)
			defer it.Close()
			var g historyGroup
			for it.Seek(historyKey(^uint64(0), 0xffff)); it.Valid(); it.Next() {
				item := it.Item()
				k := item.Key()
				if len(k) != historyKeyLen {
					skip(fmt.Sprintf("key %x", k), "a key of the wrong length")
					continue
				}
				seq := binary.BigEndian.Uint64(k[1:])
				if g.started && seq != g.seq {
					if !g.emit(fn, skip) {
						return nil
					}
				}
				if !g.started {
					g = historyGroup{started: true, seq: seq}
				}
				g.count++
				if g.count > historyMaxParts {
					continue // g.emit says so
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				g.parts = append(g.parts, historyPart{int(binary.BigEndian.Uint16(k[9:])), v})
			}
			if g.started {
				g.emit(fn, skip)
			}
			return nil
		})
	})
}

// historyGroup gathers the parts of one entry as History meets them (last
// part first).
type historyGroup struct {
	started bool
	seq     uint64
	count   int // parts met
	parts   []historyPart
}

type historyPart struct {
	n   int
	val []byte
}

// emit decodes the entry gathered and passes it to fn (or skips it, saying
// why), then clears g; it returns what fn returned (true for a skipped
// entry).
func (g *historyGroup) emit(fn func(HistoryEntry) bool, skip func(string, any)) bool {
	defer func() { *g = historyGroup{} }()
	what := fmt.Sprint(g.seq)
	if g.count > historyMaxParts {
		skip(what, fmt.Sprintf("%d parts", g.count))
		return true
	}
	var blob []byte
	for i := len(g.parts) - 1; i >= 0; i-- {
		if want := len(g.parts) - 1 - i; g.parts[i].n != want {
			skip(what, fmt.Sprintf("part %d missing", want))
			return true
		}
		blob = append(blob, g.parts[i].val...)
	}
	e, err := decodeHistory(blob)
	if err != nil {
		skip(what, err)
		return true
	}
	e.Seq = g.seq
	return fn(e)
}
