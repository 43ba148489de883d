// Package engine owns a pair: it scans both sides, reconciles them with the
// journal's base, and applies the decisions with the commit protocol of the
// design (temporaries renamed into place, targets re-checked, backups kept,
// journal updated per completed path).
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/agent"
	"github.com/myrrorfs/myrrorfs/replica/local"
	"github.com/myrrorfs/myrrorfs/replica/sftp"
	"github.com/myrrorfs/myrrorfs/tree"
)

// Options configure how a pair is opened.
type Options struct {
	StateDir   string    // journal location; "" means DefaultStateDir()
	SSHCommand string    // ssh command for remote sides, like rsync -e; "" means "ssh"
	Ignore     []string  // extra gitignore-style patterns
	Holder     string    // describes this process in "pair in use" errors
	Stderr     io.Writer // receives ssh's diagnostics; nil discards them
	Workers    int       // concurrent scan and transfer operations; 0 means 16
	// ScanProgress, if set, is called from time to time during scans with
	// a side, the entries it took in and the bytes it hashed so far (from
	// any goroutine; calls never overlap).
	ScanProgress func(side Side, entries int, hashedBytes int64)
	// Resident says the pair stays open and is rescanned (a mount): the
	// latest scans are kept, to skip hashing on the next one and to let
	// Refresh rescan the local side alone.
	Resident bool
	// AllRows keeps a row for every path in plans, equal ones included
	// (a resident pair always does): else a plan leaves out the paths that
	// Apply has nothing to do with (see Plan.Settled).
	AllRows bool
	// CacheLimit bounds the local cache of remote versions a mount shows
	// (bytes); 0 means DefaultCacheLimit.
	CacheLimit int64
	// RemoteMyrrorfs is the path of myrrorfs on the remote; empty: look on
	// the remote PATH, or upload this binary when the remote's OS and
	// architecture match; "none": never use an agent.
	RemoteMyrrorfs string
	// UnsafeSFTPWrites lets a remote reached over plain SFTP (no agent) be
	// written to. Without it such a remote is read-only: path-based SFTP
	// cannot keep a write beneath the remote root (see replica/sftp).
	UnsafeSFTPWrites bool
	// Policy is the run's mode and, in two-way mode, its preference for
	// conflicts (see reconcile.DecideWith); the zero value syncs two ways
	// and leaves conflicts alone. The journal does not depend on it.
	Policy reconcile.Policy
	// Checksum hashes every file on both sides instead of trusting stat
	// fingerprints that match the journal's.
	Checksum bool
	// NoMerge turns three-way merges of text conflicts off (see
	// textmerge.go), and with them the keeping of base contents.
	NoMerge bool
	// MergeLimit is the size of the largest file merged; 0 means
	// DefaultMergeLimit.
	MergeLimit int64
	// Warn, if set, receives one-line warnings about how the remote is
	// reached (e.g. an agent of another protocol replaced by an upload).
	Warn func(msg string)
	// Backups bound the backup areas, enforced by PruneAfter; the zero
	// value keeps everything.
	Backups BackupLimits
}

// Pair is an opened pair: both replicas and the journal.
type Pair struct {
	Local, Remote         replica.Replica
	LocalSpec, RemoteSpec Spec
	db                    *journal.DB
	ig                    *Ignorer
	workers               int
	opt                   Options
	here                  map[string]string // remoteHere's answers, by candidate

	// mu guards last, gen and the Remote field against the calls a mount
	// makes without holding the pair (ScanRemote, Fetch, HashBases).
	mu   sync.Mutex
	last [2]*replica.ScanResult // the latest scan of each side
	gen  uint64                 // counts Apply runs

	notes historyNotes // resolutions and merges for the next history entry
	// backupsSeen: per side, what PruneBackups listed of each stamp
	// directory of the backup area (see listKept).
	backupsSeen [2]map[string][]kept

	dlMu      sync.Mutex           // guards downloads
	downloads map[string]*download // remote versions being fetched, by fetchKey
	progress  scanProgress

	checksumWarned sync.Once // see warnChecksumDownload

	mergeMu sync.Mutex
	merges  map[[3]tree.Hash]tried // recent merges, by base, local and remote hash
}

// scanProgress passes the progress of a side's scan (its listing) and of
// its hashing (in the merge) to Options.ScanProgress together.
type scanProgress struct {
	mu      sync.Mutex
	entries [2]int
	hashed  [2]int64
}

// resetProgress starts a side's progress from nothing, for a new scan.
func (p *Pair) resetProgress(s Side) {
	sp := &p.progress
	sp.mu.Lock()
	sp.entries[s], sp.hashed[s] = 0, 0
	sp.mu.Unlock()
}

// reportProgress records a side's entries (if n >= 0) and hashed bytes (if b >=
// 0) so far and reports both.
func (p *Pair) reportProgress(s Side, n int, b int64) {
	f := p.opt.ScanProgress
	if f == nil {
		return
	}
	sp := &p.progress
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if n >= 0 {
		sp.entries[s] = n
	}
	if b >= 0 {
		sp.hashed[s] = b
	}
	f(s, sp.entries[s], sp.hashed[s])
}

// DefaultStateDir is $XDG_STATE_HOME/myrrorfs, or ~/.local/state/myrrorfs.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "myrrorfs")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/"
	}
	return filepath.Join(home, ".local", "state", "myrrorfs")
}

// Open opens the pair (localArg, remoteArg): the local directory, the remote
// side (over ssh or a second local directory) and the pair's journal, which
// this process then holds until Close.
func Open(ctx context.Context, localArg, remoteArg string, opt Options) (_ *Pair, err error) {
	if err := opt.Policy.Check(); err != nil {
		return nil, err
	}
	ls, rs, err := resolvePair(localArg, remoteArg)
	if err != nil {
		return nil, err
	}
	p := &Pair{LocalSpec: ls, RemoteSpec: rs, workers: opt.Workers, opt: opt}
	if p.workers <= 0 {
		p.workers = 16
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	state := stateDir(opt)
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", state, unwrapPathErr(err))
	}
	if p.db, err = journal.Open(state, identity(ls, rs), opt.Holder); err != nil {
		return nil, fmt.Errorf("journal of %s and %s: %w", ls, rs, err)
	}
	if opt.Resident {
		// a mount is idle most of the time: no badger work meanwhile
		p.db.SetIdleClose(journalIdle)
	}
	lr, err := local.New(ls.Path)
	if err != nil {
		return nil, err
	}
	p.Local = lr
	if p.Remote, err = openRemote(ctx, rs, opt); err != nil {
		return nil, err
	}
	if here := p.remoteHere(ls.Path); here != "" {
		if err := overlap(ls.Path, "LOCAL", here, "REMOTE", nestedWhy); err != nil {
			return nil, fmt.Errorf("%s (%s on this machine): %w", remoteArg, here, err)
		}
	}
	ignoreFile, err := readSmall(p.Local, IgnoreFile)
	if err != nil {
		return nil, err
	}
	p.ig = NewIgnorer(ignoreFile, opt.Ignore)
	p.markTemps()
	return p, nil
}

// resolvePair reads the arguments naming a pair: LOCAL made absolute and
// symlink-free, and so is a local REMOTE, which must not share a tree with
// LOCAL.
func resolvePair(localArg, remoteArg string) (ls, rs Spec, err error) {
	if ls, err = ParseSpec(localArg); err != nil {
		return Spec{}, Spec{}, err
	}
	if ls.IsRemote() {
		return Spec{}, Spec{}, fmt.Errorf("%s: LOCAL must be a local directory", localArg)
	}
	if rs, err = ParseSpec(remoteArg); err != nil {
		return Spec{}, Spec{}, err
	}
	if ls.Path, err = canonicalDir(ls.Path); err != nil {
		return Spec{}, Spec{}, err
	}
	if !rs.IsRemote() {
		if rs.Path, err = canonicalDir(rs.Path); err != nil {
			return Spec{}, Spec{}, err
		}
		if err := overlap(ls.Path, "LOCAL", rs.Path, "REMOTE", nestedWhy); err != nil {
			return Spec{}, Spec{}, fmt.Errorf("%s: %w", remoteArg, err)
		}
	}
	return ls, rs, nil
}

// identity names a pair's journal.
func identity(ls, rs Spec) string { return ls.Path + "\x00" + rs.String() }

// stateDir is the state directory opt names.
func stateDir(opt Options) string {
	if opt.StateDir == "" {
		return DefaultStateDir()
	}
	if abs, err := filepath.Abs(opt.StateDir); err == nil {
		return abs
	}
	return opt.StateDir
}

// MoveJournalAside moves the journal of the pair (localArg, remoteArg) out
// of the way, keeping it, and returns where it now is: the next run is then
// a first sync, where identical paths are equal and different ones
// conflicts. It does not reach the remote. It fails while a process (a
// mount, a sync) holds the pair. Only opt.StateDir is used.
func MoveJournalAside(localArg, remoteArg string, opt Options) (string, error) {
	ls, rs, err := resolvePair(localArg, remoteArg)
	if err != nil {
		return "", err
	}
	aside, err := journal.MoveAside(stateDir(opt), identity(ls, rs), time.Now())
	if err != nil {
		return "", fmt.Errorf("journal of %s and %s: %w", ls, rs, err)
	}
	return aside, nil
}

// openRemote opens the remote side: a local directory, or a remote one
// served by a myrrorfs agent when one can be had (see
// Options.RemoteMyrrorfs), else over plain SFTP.
func openRemote(ctx context.Context, rs Spec, opt Options) (replica.Replica, error) {
	if !rs.IsRemote() {
		r, err := local.New(rs.Path)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	if cmd := opt.RemoteMyrrorfs; cmd != "none" {
		r, err := dialAgent(ctx, rs, opt)
		switch {
		case err != nil && cmd != "":
			// the user named it: never fall back, say why it cannot serve
			return nil, fmt.Errorf("--remote-myrrorfs %s: %w", cmd, err)
		case !errors.Is(err, agent.ErrNoAgent):
			return r, err
		}
	}
	r, err := sftp.Dial(ctx, sftp.Options{SSHCommand: opt.SSHCommand, Host: rs.Host, Path: rs.Path, Stderr: opt.Stderr,
		UnsafeWrites: opt.UnsafeSFTPWrites})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// dialAgent opens the remote side through an agent: opt.RemoteMyrrorfs, or
// the one agent.EnsureRemote finds or uploads; an agent of another protocol
// that was found (not named by the user) is replaced by an upload of this
// binary, once, with a warning (opt.Warn). An error wrapping
// agent.ErrNoAgent means plain SFTP could be used; any other is final.
func dialAgent(ctx context.Context, rs Spec, opt Options) (replica.Replica, error) {
	cmd := opt.RemoteMyrrorfs
	var stale *agent.VersionError // an agent found and passed over
	staleCmd := ""
	if cmd == "" {
		// most often this binary was uploaded by an earlier run: one
		// connection, no probe
		if cached, err := agent.CachedCommand(); err == nil {
			ao := agent.Options{SSHCommand: opt.SSHCommand, Host: rs.Host, Path: rs.Path, RemoteCommand: cached, Stderr: io.Discard}
			r, err := agent.Dial(ctx, ao)
			switch {
			case err == nil:
				return r, nil
			case errors.As(err, &stale):
				staleCmd = cached
			case !errors.Is(err, agent.ErrNoAgent):
				return nil, err
			}
		}
		var err error
		if cmd, err = agent.EnsureRemote(ctx, opt.SSHCommand, rs.Host); err != nil {
			return nil, err
		}
	}
	ao := agent.Options{SSHCommand: opt.SSHCommand, Host: rs.Host, Path: rs.Path, RemoteCommand: cmd, Stderr: opt.Stderr}
	r, err := agent.Dial(ctx, ao)
	var ve *agent.VersionError
	if errors.As(err, &ve) && opt.RemoteMyrrorfs == "" {
		stale, staleCmd = ve, cmd
		if ao.RemoteCommand, err = agent.Upload(ctx, opt.SSHCommand, rs.Host); err != nil {
			return nil, err
		}
		r, err = agent.Dial(ctx, ao)
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w: %w", agent.ErrNoAgent, err)
		}
	}
	if err != nil {
		return nil, err // never a nil *agent.Replica in the interface
	}
	if stale != nil && opt.Warn != nil {
		opt.Warn(fmt.Sprintf("%s (%s); using %s as the agent instead", stale, staleCmd, ao.RemoteCommand))
	}
	return r, nil
}

// readSmall reads a small file of r, returning nil when it does not exist.
func readSmall(r replica.Replica, p string) ([]byte, error) {
	f, err := r.Open(p)
	if errors.Is(err, replica.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// Reconnect replaces the remote replica by a fresh one (after the
// connection was lost). On failure the old replica stays in place.
func (p *Pair) Reconnect(ctx context.Context) error {
	r, err := p.DialRemote(ctx)
	if err != nil {
		return err
	}
	p.SetRemote(r)
	return nil
}

// DialRemote opens a new connection to the remote side, for SetRemote. It
// may run while another goroutine uses the pair.
func (p *Pair) DialRemote(ctx context.Context) (replica.Replica, error) {
	return openRemote(ctx, p.RemoteSpec, p.opt)
}

// SetRemote makes r the remote replica and closes the one it replaces.
func (p *Pair) SetRemote(r replica.Replica) {
	p.mu.Lock()
	old := p.Remote
	p.Remote = r
	p.mu.Unlock()
	p.markTemps()
	if old != nil {
		old.Close()
	}
}

// Close closes both replicas and the journal, recording first the
// resolutions and merges noted since the last history entry (see
// NoteResolution).
func (p *Pair) Close() error {
	if p.db != nil {
		p.flushNotes()
	}
	var errs []error
	if p.Local != nil {
		errs = append(errs, p.Local.Close())
	}
	if p.Remote != nil {
		errs = append(errs, p.Remote.Close())
	}
	if p.db != nil {
		errs = append(errs, p.db.Close())
	}
	return errors.Join(errs...)
}

// nestedWhy ends the refusal of a pair whose sides hold one another.
const nestedWhy = ": each sync would copy the tree into itself once more"

// remoteHere returns, when REMOTE is a directory of this machine that holds,
// lies inside or is one of the directories near (absolute, symlink-free),
// its path here; else "". A local REMOTE is its own path. For a remote over
// ssh this cannot be known in general: its path (relative ones taken from
// this user's home) is looked up here, and only when it would overlap one
// of near, a fresh temporary made at the remote root through the
// connection must show up at that path (it is removed at once). When the
// remote root cannot be written, the answer is "".
func (p *Pair) remoteHere(near ...string) string {
	if !p.RemoteSpec.IsRemote() {
		return p.RemoteSpec.Path
	}
	cand := p.RemoteSpec.Path
	if !filepath.IsAbs(cand) {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cand = filepath.Join(home, cand)
	}
	real, err := filepath.EvalSymlinks(cand)
	if err != nil {
		return ""
	}
	nearby := false
	for _, n := range near {
		nearby = nearby || overlap(n, "", real, "", "") != nil
	}
	if !nearby {
		return ""
	}
	if here, ok := p.here[real]; ok {
		return here
	}
	here := ""
	if name, f, err := p.Remote.CreateTemp("", 0o600); err == nil {
		if f.Close() == nil {
			if _, err := os.Lstat(filepath.Join(real, name)); err == nil {
				here = real
			}
		}
		p.Remote.Remove(name)
	}
	if p.here == nil {
		p.here = map[string]string{}
	}
	p.here[real] = here
	return here
}

// CheckMountpoint refuses mnt (absolute) as the mountpoint of the pair's
// view when it is, lies inside or holds LOCAL or REMOTE (symlinks
// resolved): inside REMOTE the view would show itself, inside LOCAL it
// would be synced, and over either it would hide that side.
func (p *Pair) CheckMountpoint(mnt string) error {
	real := mnt
	if r, err := filepath.EvalSymlinks(mnt); err == nil {
		real = r
	}
	sides := []struct{ name, dir string }{{"LOCAL", p.LocalSpec.Path}, {"REMOTE", p.remoteHere(real)}}
	for _, s := range sides {
		switch {
		case s.dir == "":
		case real == s.dir:
			return fmt.Errorf("%s: the mountpoint must not be %s itself", mnt, s.name)
		case within(real, s.dir):
			return fmt.Errorf("%s: the mountpoint must not be inside %s (%s)", mnt, s.name, s.dir)
		case within(s.dir, real):
			return fmt.Errorf("%s: %s (%s) is inside the mountpoint, which would hide it", mnt, s.name, s.dir)
		}
	}
	return nil
}
