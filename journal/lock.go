package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrLocked is returned, wrapped with the holder's description, when another
// process (or another DB in this process) holds the pair.
var ErrLocked = errors.New("pair is in use")

// Names of the files kept next to the badger files in a pair's directory.
const (
	lockFile   = "lock"   // flock'ed while open; never removed
	holderFile = "holder" // who holds the lock, removed at Close
	pairFile   = "pair"   // the pair's identity, human-readable
)

// pairLock is an exclusive flock on a pair directory's lock file. The lock
// file itself is never removed: removing a lock file while others may have it
// open lets two processes lock two different inodes.
type pairLock struct {
	f *os.File
}

// lockPair takes the exclusive lock of dir without waiting. When another
// holder has it, the error wraps ErrLocked and names that holder.
//
// A journal moved aside (MoveAside) while this waited for its lock takes
// its lock file along: the lock is then taken again, on dir's new one.
func lockPair(dir string) (*pairLock, error) {
	for {
		l, moved, err := tryLock(dir)
		if !moved {
			return l, err
		}
	}
}

// tryLock is one attempt of lockPair; moved says that the lock file taken
// was no longer dir's when locked (nothing is held then).
func tryLock(dir string) (_ *pairLock, moved bool, _ error) {
	name := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open lock file: %w", err)
	}
	err = flock(f)
	if err == nil {
		held, ferr := f.Stat()
		now, serr := os.Stat(name)
		if ferr == nil && serr == nil && os.SameFile(held, now) {
			return &pairLock{f: f}, false, nil
		}
		f.Close()
		if ferr != nil {
			return nil, false, fmt.Errorf("lock file: %w", ferr)
		}
		if serr != nil && !errors.Is(serr, os.ErrNotExist) {
			return nil, false, fmt.Errorf("lock file: %w", serr)
		}
		if errors.Is(serr, os.ErrNotExist) {
			// dir itself was moved away: recreate it and lock there
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, false, fmt.Errorf("create %s: %w", dir, err)
			}
		}
		return nil, true, nil
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, false, fmt.Errorf("%w by %s", ErrLocked, readHolder(dir))
	}
	return nil, false, fmt.Errorf("lock %s: %w", dir, err)
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			return err
		}
	}
}

// unlock releases the lock by closing the lock file.
func (l *pairLock) unlock() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("release lock: %w", err)
	}
	return nil
}

// readHolder returns the description the holder of dir left, or a generic
// one when there is none (the holder is starting or crashed while writing it).
func readHolder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, holderFile))
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		return s
	}
	return "another process"
}

// writeFileAtomic replaces name with data through a temporary file and a
// rename, so that readers see either the old or the new content.
func writeFileAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// pairText is the human-readable form of an identity stored in the pair
// file: its NUL-separated parts on lines of their own.
func pairText(identity string) []byte {
	return []byte(strings.ReplaceAll(identity, "\x00", "\n") + "\n")
}

// checkPairFile writes the pair file of dir, or checks that an existing one
// names the same identity (a different one would mean a hash collision).
func checkPairFile(dir, identity string) error {
	name := filepath.Join(dir, pairFile)
	want := pairText(identity)
	got, err := os.ReadFile(name)
	switch {
	case err == nil && bytes.Equal(got, want):
		return nil
	case err == nil:
		return fmt.Errorf("%s belongs to another pair, or its pair file is damaged: it holds %q, not %q",
			dir, truncate(got, 512), want)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read pair file: %w", err)
	}
	return writeFileAtomic(name, want)
}

// truncate is b cut to at most n bytes.
func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
