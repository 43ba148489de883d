package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/fb"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/proto"
)

// ErrDamaged is wrapped by the errors of a journal whose files cannot be
// read back: truncated or overwritten tables, a damaged manifest, records
// that do not decode. The journal only records what both sides last agreed
// on: moved aside (MoveAside), the next sync is a first sync.
var ErrDamaged = errors.New("damaged")

// damagedError reports a damaged journal in one line naming its directory.
type damagedError struct {
	dir   string
	cause string
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("journal %s is damaged (%s)", e.dir, e.cause)
}

func (e *damagedError) Unwrap() error { return ErrDamaged }

// damaged returns the error of the journal in dir damaged by cause.
func damaged(dir string, cause any) error {
	return &damagedError{dir: dir, cause: strings.Join(strings.Fields(fmt.Sprint(cause)), " ")}
}

// guard runs fn at the journal's boundary with badger: a panic inside it
// (badger panics on some damaged files) and a fault on memory mapped from
// a file (SIGBUS when a file was truncated under its mapping or its
// filesystem is full) become an error of the journal in dir instead of
// ending the process. Badger's own goroutines are not covered: Open checks
// the files and the free space before handing them to badger.
func guard(dir string, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = damaged(dir, r)
		}
	}()
	return fn()
}

// badgerErr classifies an error badger returned for the journal in dir: a
// system call's failure (no space, permission) is kept as it is, anything
// else means the files could not be made sense of.
func badgerErr(dir string, err error) error {
	var errno syscall.Errno
	if err == nil || errors.As(err, &errno) || errors.Is(err, ErrDamaged) {
		return err
	}
	return damaged(dir, err)
}

// checkTables reads every table (.sst) the MANIFEST of the journal in dir
// lists and checks its structure and the checksums of its index and of
// every block, which badger would otherwise trust (a truncated table makes
// badger panic in a goroutine of its own; garbage inside one is silently
// skipped). A table the MANIFEST does not list is one badger was writing
// when its process ended (tables are listed once written): badger removes
// it at open. Without a readable MANIFEST there is nothing to check here:
// badger creates one or refuses the journal.
func checkTables(dir string) error {
	ids, err := listedTables(dir)
	if err != nil {
		return err
	}
	var c tableChecker
	for _, id := range ids {
		name := table.NewFilename(id, dir)
		if err := c.check(name); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // badger reports a listed table that is missing
			}
			var errno syscall.Errno
			if errors.As(err, &errno) {
				return fmt.Errorf("read %s: %w", name, err)
			}
			return damaged(dir, fmt.Sprintf("%s: %v", filepath.Base(name), err))
		}
	}
	return nil
}

// listedTables returns the ids of the tables the MANIFEST in dir lists,
// none if it has no MANIFEST or one badger would refuse.
func listedTables(dir string) ([]uint64, error) {
	name := filepath.Join(dir, badger.ManifestFilename)
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	var mf badger.Manifest
	err = guard(dir, func() (err error) {
		mf, _, err = badger.ReplayManifestFile(f, 0, badgerOptions(dir, &errorLogger{}))
		return err
	})
	if err != nil {
		return nil, nil
	}
	ids := make([]uint64, 0, len(mf.Tables))
	for id := range mf.Tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// tableChecker checks tables (see checkTables) with buffers it reuses:
// each table is read whole, in one call.
type tableChecker struct {
	file, block []byte
}

// check checks one table file; see checkTables. The layout, from the
// end: checksum length (4 bytes, big endian), the index's checksum, index
// length (4 bytes), the index (a flatbuffer), and before it the blocks the
// index lists, each ending with its checksum and that checksum's length.
func (c *tableChecker) check(name string) (err error) {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if int64(cap(c.file)) < fi.Size() {
		c.file = make([]byte, fi.Size())
	}
	data := c.file[:fi.Size()]
	if _, err := io.ReadFull(f, data); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return errors.New("file shorter than its size")
		}
		return err
	}
	defer func() { // the flatbuffer accessors panic on nonsense
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable index: %v", r)
		}
	}()
	pos := int64(len(data))
	read := func(n int64, what string) ([]byte, error) {
		if n < 0 || n > pos {
			return nil, fmt.Errorf("%s of %d bytes does not fit in the %d left", what, n, pos)
		}
		pos -= n
		return data[pos : pos+n], nil
	}
	b, err := read(4, "checksum length")
	if err != nil {
		return err
	}
	b, err = read(int64(y.BytesToU32(b)), "index checksum")
	if err != nil {
		return err
	}
	var sum pb.Checksum
	if err := proto.Unmarshal(b, &sum); err != nil {
		return fmt.Errorf("index checksum: %v", err)
	}
	if b, err = read(4, "index length"); err != nil {
		return err
	}
	index, err := read(int64(y.BytesToU32(b)), "index")
	if err != nil {
		return err
	}
	if err := y.VerifyChecksum(index, &sum); err != nil {
		return fmt.Errorf("index: %v", err)
	}
	ti := fb.GetRootAsTableIndex(index, 0)
	var bo fb.BlockOffset
	for i := 0; i < ti.OffsetsLength(); i++ {
		if !ti.Offsets(&bo, i) {
			return fmt.Errorf("block %d: no offset", i)
		}
		off, n := int64(bo.Offset()), int64(bo.Len())
		if off < 0 || n < 0 || off+n > pos {
			return fmt.Errorf("block %d: %d bytes at %d lie outside the blocks", i, n, off)
		}
		if err := c.checkBlock(data[off : off+n]); err != nil {
			return fmt.Errorf("block %d at %d: %v", i, off, err)
		}
	}
	return nil
}

// checkBlock checks the checksum of one block (snappy-compressed, as
// badgerOptions has it), decoding it into c's buffer.
func (c *tableChecker) checkBlock(blk []byte) error {
	n, err := snappy.DecodedLen(blk)
	if err != nil {
		return err
	}
	if cap(c.block) < n {
		c.block = make([]byte, n)
	}
	data, err := snappy.Decode(c.block[:n], blk)
	if err != nil {
		return err
	}
	if len(data) < 4 {
		return errors.New("too short")
	}
	end := len(data) - 4
	k := int(y.BytesToU32(data[end:]))
	if k > end {
		return fmt.Errorf("checksum of %d bytes does not fit", k)
	}
	var sum pb.Checksum
	if err := proto.Unmarshal(data[end-k:end], &sum); err != nil {
		return fmt.Errorf("checksum: %v", err)
	}
	return y.VerifyChecksum(data[:end-k], &sum)
}
