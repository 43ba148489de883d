package journal

import (
	"fmt"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// encodedSizeHint is the capacity that holds the encoding of a typical file
// record without growing.
const encodedSizeHint = 128

// Batch collects record writes and applies them through badger's WriteBatch,
// which commits in as many transactions as needed: a Batch of any size never
// fails with badger.ErrTxnTooBig. Writes become visible as they are committed,
// in the order they were made; Flush waits for all of them. A Batch is safe
// for concurrent use and must end with Flush or Cancel.
type Batch struct {
	wb   *badger.WriteBatch // nil when the database could not be opened
	err  error              // why not
	db   *DB
	once sync.Once // ends the Batch's use of the database
}

// NewBatch starts a Batch.
func (db *DB) NewBatch() *Batch {
	bdb, err := db.use()
	if err != nil {
		return &Batch{err: err, db: db}
	}
	return &Batch{wb: bdb.NewWriteBatch(), db: db}
}

// end ends the Batch's use of the database.
func (b *Batch) end() {
	b.once.Do(func() {
		if b.wb != nil {
			b.db.done()
		}
	})
}

// room checks the free space every checkEvery bytes that the batches of
// the DB took (n more now); see checkSpace. Once short of space, every
// later write of the DB fails.
func (b *Batch) room(n int) error {
	if b.err != nil {
		return b.err
	}
	db := b.db
	if err := db.full.Load(); err != nil {
		return *err
	}
	if db.pending.Add(int64(n)) < checkEvery {
		return nil
	}
	db.pending.Store(0)
	err := checkSpace(db.dir)
	if err != nil {
		db.full.Store(&err)
	}
	return err
}

// Put sets the record of path.
func (b *Batch) Put(path string, rec Record) error {
	key, err := recordKey(path)
	if err != nil {
		return err
	}
	val := EncodeRecord(make([]byte, 0, encodedSizeHint), rec)
	if err := b.room(len(key) + len(val)); err != nil {
		return err
	}
	if err := b.wb.Set(key, val); err != nil {
		return fmt.Errorf("journal: put %q: %w", path, err)
	}
	return nil
}

// Delete removes the record of path; removing a missing record is not an error.
func (b *Batch) Delete(path string) error {
	key, err := recordKey(path)
	if err != nil {
		return err
	}
	if err := b.room(len(key) + 16); err != nil {
		return err
	}
	if err := b.wb.Delete(key); err != nil {
		return fmt.Errorf("journal: delete %q: %w", path, err)
	}
	return nil
}

// Flush commits what remains and waits until every write of the Batch is
// written. It returns the first error any commit met. The Batch cannot be
// used afterwards.
func (b *Batch) Flush() error {
	if b.err != nil {
		return b.err
	}
	defer b.end()
	if err := b.wb.Flush(); err != nil {
		return fmt.Errorf("journal: flush batch: %w", err)
	}
	return nil
}

// Cancel drops the writes not yet committed; those already committed stay.
// The Batch cannot be used afterwards. Cancel after Flush does nothing, so
// it can be deferred right after NewBatch.
func (b *Batch) Cancel() {
	if b.wb != nil {
		b.wb.Cancel()
	}
	b.end()
}
