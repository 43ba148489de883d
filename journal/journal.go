// Package journal keeps, for one pair, what the last sync agreed on (the base
// of every path) and what each side looked like then (a hash cache keyed by
// stat fingerprint), plus small metadata such as a commit in progress. It is a
// badger database owned by one process at a time.
package journal

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Key spaces: every badger key starts with one of these bytes.
const (
	prefixRecord  byte = 'r' // 'r' + tree.SortKey(path) -> EncodeRecord
	prefixHistory byte = 'h' // 'h' + seq + part -> a chunk of a HistoryEntry (see history.go)
)

// DB is the open journal of one pair. Its methods are safe for concurrent use.
type DB struct {
	dir  string
	lock *pairLock

	// The badger database, open while in use; with SetIdleClose it is
	// closed after a while without use (the pair stays locked) and opened
	// again at the next use.
	mu        sync.Mutex
	bdb       *badger.DB // nil while closed for idleness
	users     int        // calls and batches using bdb now
	idleAfter time.Duration
	idle      *time.Timer
	closed    bool

	closeOnce sync.Once
	closeErr  error

	histMu sync.Mutex // one AppendHistory at a time

	pending atomic.Int64          // bytes batches took since the last checkSpace
	full    atomic.Pointer[error] // checkSpace's failure: later writes fail too
}

// PairDir returns the directory under stateDir that holds the journal of the
// pair named by identity: stateDir/pairs/<first 16 hex chars of blake3(identity)>.
func PairDir(stateDir, identity string) string {
	sum := blake3.Sum256([]byte(identity))
	return filepath.Join(stateDir, "pairs", hex.EncodeToString(sum[:8]))
}

// Open opens, creating it if needed, the journal of the pair named by identity
// (e.g. "/abs/local\x00host:path") under stateDir, in PairDir(stateDir,
// identity). That directory also holds a "pair" file with the identity in
// human-readable form and, while the DB is open, a "holder" file with holder,
// a description of the opening process such as "mount at /mnt/x (pid 123)".
// When another DB (in this or another process) holds the pair, Open returns
// an error wrapping ErrLocked whose message reads
// "pair is in use by <that holder>".
func Open(stateDir, identity, holder string) (*DB, error) {
	if stateDir == "" || identity == "" {
		return nil, errors.New("journal: open: empty state directory or pair identity")
	}
	dir := PairDir(stateDir, identity)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", dir, err)
	}
	lock, err := lockPair(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	db, err := openLocked(dir, identity, holder, lock)
	if err != nil {
		lock.unlock()
		if errors.Is(err, ErrDamaged) || errors.Is(err, ErrNoSpace) {
			return nil, err // names dir already
		}
		return nil, fmt.Errorf("journal: open %s: %w", dir, err)
	}
	return db, nil
}

// openLocked does the work of Open once the pair's lock is held.
func openLocked(dir, identity, holder string, lock *pairLock) (*DB, error) {
	if err := checkSpace(dir); err != nil {
		return nil, err
	}
	if err := checkPairFile(dir, identity); err != nil {
		return nil, err
	}
	holderPath := filepath.Join(dir, holderFile)
	if err := writeFileAtomic(holderPath, []byte(holder+"\n")); err != nil {
		return nil, err
	}
	if err := removeEmptyMemtables(dir); err != nil {
		os.Remove(holderPath)
		return nil, err
	}
	if err := checkTables(dir); err != nil {
		os.Remove(holderPath)
		return nil, err
	}
	bdb, err := openBadger(dir)
	if err != nil {
		os.Remove(holderPath)
		return nil, err
	}
	return &DB{dir: dir, bdb: bdb, lock: lock}, nil
}

// openBadger opens the badger database in dir.
func openBadger(dir string) (*badger.DB, error) {
	// badger logs what it then returns: keep it quiet meanwhile
	log := &errorLogger{}
	log.quiet.Store(true)
	var bdb *badger.DB
	err := guard(dir, func() (err error) {
		bdb, err = badger.Open(badgerOptions(dir, log))
		return err
	})
	log.quiet.Store(false)
	if err != nil {
		return nil, badgerErr(dir, fmt.Errorf("badger: %w", err))
	}
	return bdb, nil
}

// SetIdleClose makes the DB close its database once it has not been used
// for d, and open it again at the next use; the pair stays locked
// meanwhile. A mount, which holds its pair for days, so runs none of
// badger's background work (its compactors wake every 50 ms) while
// nothing changes. 0 keeps the database open (the default).
func (db *DB) SetIdleClose(d time.Duration) {
	db.mu.Lock()
	db.idleAfter = d
	db.mu.Unlock()
	db.use()
	db.done()
}

// use returns the open database, opening it again if it was closed for
// idleness; the caller calls done once it no longer uses it.
func (db *DB) use() (*badger.DB, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil, fmt.Errorf("journal %s: closed", db.dir)
	}
	if db.bdb == nil {
		bdb, err := openBadger(db.dir)
		if err != nil {
			return nil, err
		}
		db.bdb = bdb
	}
	db.users++
	if db.idle != nil {
		db.idle.Stop()
	}
	return db.bdb, nil
}

// done ends a use; the last one starts the idle timer.
func (db *DB) done() {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.users--
	if db.users > 0 || db.idleAfter <= 0 || db.closed {
		return
	}
	if db.idle == nil {
		db.idle = time.AfterFunc(db.idleAfter, db.closeIdle)
	} else {
		db.idle.Reset(db.idleAfter)
	}
}

// closeIdle closes the database if nothing uses it.
func (db *DB) closeIdle() {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.users > 0 || db.bdb == nil || db.closed {
		return
	}
	db.bdb.Close() // all written is synced already: a failure loses nothing
	db.bdb = nil
}

// removeEmptyMemtables deletes memtable and value logs that a process
// killed while creating them left empty: badger refuses to open a database
// holding one ("Create a new file"), and an empty log holds no data.
func removeEmptyMemtables(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("journal %s: %w", dir, err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".mem") && !strings.HasSuffix(e.Name(), ".vlog") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("journal: remove empty memtable log: %w", err)
			}
		}
	}
	return nil
}

// Dir returns the pair's directory (see PairDir).
func (db *DB) Dir() string { return db.dir }

// Close closes the database, removes the holder file and releases the pair.
// Batches must be flushed or cancelled before. Later calls return the first
// call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	var errs []error
	db.mu.Lock()
	db.closed = true
	if db.idle != nil {
		db.idle.Stop()
	}
	bdb := db.bdb
	db.bdb = nil
	db.mu.Unlock()
	if bdb != nil {
		if err := bdb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close badger: %w", err))
		}
	}
	err := os.Remove(filepath.Join(db.dir, holderFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove holder file: %w", err))
	}
	if err := db.lock.unlock(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("journal: close %s: %w", db.dir, err)
	}
	return nil
}

// Sync makes everything written so far durable.
func (db *DB) Sync() error {
	bdb, err := db.use()
	if err != nil {
		return err
	}
	defer db.done()
	if err := bdb.Sync(); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	return nil
}

// recordKey returns the badger key of path's record, after checking that
// path is a valid relative path ("" is the root).
func recordKey(path string) ([]byte, error) {
	if err := tree.ValidPath(path); err != nil {
		return nil, fmt.Errorf("journal: path %q: %w", path, err)
	}
	k := make([]byte, 1+len(path))
	k[0] = prefixRecord
	copy(k[1:], tree.SortKey(path))
	return k, nil
}

// Load calls fn for every record, in tree.Compare order of paths, from one
// consistent snapshot of the journal: fn may write through a Batch, and
// those writes are not seen by this Load. It stops at, and returns, the first
// error fn returns. A record that cannot be decoded stops Load with an error
// naming its path.
func (db *DB) Load(fn func(path string, rec Record) error) error {
	return db.LoadKeys(func(key []byte, rec Record) error {
		return fn(tree.PathFromKey(key), rec)
	})
}

// LoadKeys is Load with each path given as its sort key (see tree.SortKey
// and tree.CompareKey), which is valid during the call only: a caller that
// needs few of the paths is spared an allocation per record.
func (db *DB) LoadKeys(fn func(key []byte, rec Record) error) error {
	return db.scan(func(key, val []byte) (bool, error) {
		rec, err := DecodeRecord(val)
		if err != nil {
			return false, damaged(db.dir, fmt.Sprintf("record %q: %v", tree.PathFromKey(key), err))
		}
		return true, fn(key, rec)
	})
}

// scan iterates over the record key space in key order, calling visit with
// each path's sort key and its raw value (both valid during the call only)
// until visit returns false or an error.
func (db *DB) scan(visit func(key, val []byte) (bool, error)) error {
	bdb, err := db.use()
	if err != nil {
		return err
	}
	defer db.done()
	return guard(db.dir, func() error {
		return bdb.View(func(txn *badger.Txn) error { return scanTxn(txn, visit) })
	})
}

// scanTxn is scan within transaction txn.
func scanTxn(txn *badger.Txn, visit func(key, val []byte) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	// Records live in the LSM tree (see valueThreshold): badger's value
	// prefetching would only start one goroutine per record to copy them.
	opts.PrefetchValues = false
	opts.Prefix = []byte{prefixRecord}
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key := item.Key()[1:]
		var more bool
		err := item.Value(func(val []byte) error {
			var err error
			more, err = visit(key, val)
			return err
		})
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Get returns the record of path and whether there is one.
func (db *DB) Get(path string) (Record, bool, error) {
	key, err := recordKey(path)
	if err != nil {
		return Record{}, false, err
	}
	bdb, err := db.use()
	if err != nil {
		return Record{}, false, err
	}
	defer db.done()
	var rec Record
	err = guard(db.dir, func() error {
		return bdb.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			if err != nil {
				return err
			}
			return item.Value(func(val []byte) error {
				if rec, err = DecodeRecord(val); err != nil {
					return damaged(db.dir, fmt.Sprintf("record %q: %v", path, err))
				}
				return nil
			})
		})
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("journal: get %q: %w", path, err)
	}
	return rec, true, nil
}
