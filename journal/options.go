package journal

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// valueThreshold keeps every record (symlink targets of up to PATH_MAX
// bytes included) inside the LSM tree, so Load never reads the value log.
// It must stay below 15% of the memtable size.
const valueThreshold = 8 << 10

// badgerOptions are small-footprint settings: writing a million records
// peaks at a few hundred MB instead of most of a GB with the defaults.
// The journal is mostly read whole, in order (a scan's merge), and written
// in batches: caches of blocks and indexes help neither, and the memtable's
// arena, allocated at open, counts as live heap (and so lets the garbage
// collector wait for as much again) even when nothing is written. 4 MB
// memtables write a million records as fast as 8 MB ones (2 MB ones take
// a third longer).
func badgerOptions(dir string, log *errorLogger) badger.Options {
	return badger.DefaultOptions(dir).
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithValueLogFileSize(16 << 20).
		WithValueThreshold(valueThreshold).
		WithBlockCacheSize(1 << 20). // compression needs one
		WithIndexCacheSize(2 << 20).
		WithNumCompactors(2).
		WithMetricsEnabled(false).
		WithDetectConflicts(false).
		WithSyncWrites(false).
		WithCompression(options.Snappy). // checkBlock decodes it
		WithLogger(log)
}

// errorLogger passes badger's errors to stderr, one line each, unless
// quiet, and drops everything else.
type errorLogger struct {
	quiet atomic.Bool
}

func (l *errorLogger) Errorf(format string, args ...any) {
	if !l.quiet.Load() {
		msg := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
		fmt.Fprintf(os.Stderr, "myrrorfs: journal: badger: %s\n", msg)
	}
}
func (*errorLogger) Warningf(string, ...any) {}
func (*errorLogger) Infof(string, ...any)    {}
func (*errorLogger) Debugf(string, ...any)   {}
