// Package agent runs myrrorfs on the remote host as an agent, reached over
// one ssh connection that carries both SFTP (so every file operation is the
// one replica/sftp does) and agent requests (hashing and copying files in
// place, so that their content never crosses the network).
//
// After the agent's greeting line ("myrrorfs-agent <protocol> <version>\n")
// the stream in each direction is a sequence of frames: 1 byte of channel
// (0: SFTP bytes, 1: one agent message), 4 bytes of big-endian payload
// length (at most 256 KiB), then the payload.
package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/myrrorfs/myrrorfs/internal/shell"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/sftp"
	"github.com/myrrorfs/myrrorfs/tree"
)

// ErrNoAgent is wrapped by Dial's error when the remote host has no
// runnable myrrorfs agent (command not found, not executable, or a myrrorfs
// without the agent command): the caller may fall back to plain SFTP.
var ErrNoAgent = errors.New("no myrrorfs agent on the remote host")

// VersionError is Dial's error when the remote agent speaks another
// protocol than this one.
type VersionError struct {
	Host          string
	Remote, Local int
	RemoteVersion string // the remote myrrorfs's version, as it said
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("remote myrrorfs at %s speaks agent protocol %d, this one speaks %d", e.Host, e.Remote, e.Local)
}

// sshFailed is the exit status of ssh when it failed itself (could not
// connect, authenticate or verify the host key), as opposed to the remote
// command's own status.
const sshFailed = 255

// dialTimeout bounds Dial when its context has no deadline.
const dialTimeout = 30 * time.Second

// Options says how to reach the remote tree and its agent.
type Options struct {
	// SSHCommand is the ssh client command line, like rsync's -e: "ssh"
	// when empty. It is split into words with shell-like quoting.
	SSHCommand string
	// Host is [user@]host as the user gave it.
	Host string
	// Path is the remote root; a relative path is relative to the remote
	// home, "" is the home itself.
	Path string
	// RemoteCommand is the path or name of myrrorfs on the remote host
	// ("myrrorfs" when empty), e.g. what EnsureRemote returns.
	RemoteCommand string
	// Stderr receives a copy of ssh's (and the agent's) stderr. Nil: kept
	// for error messages only.
	Stderr io.Writer
}

// Replica is a remote tree served by an agent. Every operation that
// writes, renames or removes, and Lstat, ReadDir, Readlink, ListTree,
// Hash, CopyTemp and the fsyncs that make writes durable (see
// replica.Replica), is an agent request done in place by replica/local
// beneath the root, so that nothing can be redirected outside the tree
// and fingerprints are whole (nanosecond mtime and ctime, inode). So is
// Open: downloads read the file the agent opened beneath the root (see
// read.go). The SFTP channel remains, read-only, for the session's start;
// writes over it stay refused (the agent's SFTP server is read-only too).
// It is safe for concurrent use.
type Replica struct {
	*sftp.Replica
	c            *conn
	handles      atomic.Uint64 // the last temporary handle given
	bytesWritten atomic.Int64  // file content sent in write requests
	bytesRead    atomic.Int64  // file content received in read responses
}

var (
	_ replica.Replica    = (*Replica)(nil)
	_ replica.Hasher     = (*Replica)(nil)
	_ replica.Copier     = (*Replica)(nil)
	_ replica.TreeLister = (*Replica)(nil)
)

// Dial runs the agent on o.Host over ssh, checks its protocol and opens
// the remote root, which must be a directory. ctx bounds the connection
// only, not the life of the Replica (30 s when ctx has no deadline).
//
// Errors are one line naming the host: errors.Is(err, ErrNoAgent) when the
// remote command cannot be run; a *VersionError when the agent speaks
// another protocol; errors.Is(err, replica.ErrNotExist) for a missing root.
func Dial(ctx context.Context, o Options) (*Replica, error) {
	argv, err := agentArgv(o)
	if err != nil {
		return nil, err
	}
	proc, err := sftp.StartSSH(argv, o.Stderr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.Host, err)
	}
	start := time.Now()
	r, err := openBounded(ctx, proc, func() (*Replica, error) {
		return open(proc.Stdout(), proc.Stdin(), proc, o.Host)
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("connect to %s: the remote myrrorfs agent (%s) did not answer within %s; it was stopped",
			o.Host, agentCommand(o), time.Since(start).Round(time.Second))
	}
	if err != nil {
		return nil, noAgentOr(o.Host, proc, err)
	}
	return r, nil
}

// agentCommand is the remote command o runs as the agent.
func agentCommand(o Options) string {
	if o.RemoteCommand == "" {
		return "myrrorfs"
	}
	return o.RemoteCommand
}

// agentArgv builds the ssh command line that runs the agent on o.Host.
func agentArgv(o Options) ([]string, error) {
	remote := agentCommand(o)
	root := o.Path
	if root == "" {
		root = "."
	}
	line := shell.Quote(remote) + " agent --root " + shell.Quote(root)
	return sftp.SSHArgv(o.SSHCommand, o.Host, []string{"-T"}, line)
}

// openBounded runs open; when ctx (or dialTimeout) ends first, it kills
// ep, which makes open fail, and closes whatever open still returns. On
// error ep is stopped.
func openBounded(ctx context.Context, ep endpoint, open func() (*Replica, error)) (*Replica, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dialTimeout)
		defer cancel()
	}
	stopKill := context.AfterFunc(ctx, ep.Kill)
	r, err := open()
	if !stopKill() { // ctx ended: ep is (being) killed
		if r != nil {
			r.Close()
		}
		ep.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		ep.Close()
	}
	return r, err
}

// noAgentOr turns a failed Dial's err into its one-line form: ErrNoAgent
// when the remote shell could not run the command, ssh's last words when
// it said any, err otherwise.
func noAgentOr(host string, proc *sftp.Process, err error) error {
	var ve *VersionError
	if errors.As(err, &ve) || errors.Is(err, replica.ErrNotExist) {
		return err
	}
	proc.WaitExit(2 * time.Second)
	code, said := proc.ExitCode(), proc.Stderr()
	if code == sshFailed {
		return fmt.Errorf("connect to %s: %s", host, firstNonEmpty(proc.LastWords(), err.Error()))
	}
	if code == 127 || code == 126 || strings.Contains(said, "command not found") ||
		strings.Contains(said, `unknown command "agent"`) {
		return fmt.Errorf("connect to %s: %w (%s)", host, ErrNoAgent, proc.LastWords())
	}
	if words := proc.LastWords(); words != "" && !errors.Is(err, errBadFrame) && !errors.Is(err, errBadMessage) {
		return fmt.Errorf("connect to %s: %s (%w)", host, words, err)
	}
	return err
}

// open speaks the agent protocol over rd and wr (the agent's stdout and
// stdin): greeting, hello, SFTP session. ep is the process behind them.
func open(rd io.Reader, wr io.WriteCloser, ep endpoint, host string) (*Replica, error) {
	br := bufio.NewReaderSize(rd, 64<<10)
	if err := readGreeting(br, host); err != nil {
		return nil, err
	}
	c := newConn(host, ep, wr)
	go c.readLoop(br)
	root, err := c.waitHello()
	if err != nil {
		return nil, err
	}
	client, err := sftp.NewClient(c.sftpOut, sftpWriter{streamWriter{c.fw, chanSFTP}, c})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: SFTP over the agent: %w", host, c.failure(err))
	}
	files, err := sftp.FromClient(client, c, host, root)
	if err != nil {
		client.Close()
		return nil, err
	}
	r := &Replica{Replica: files, c: c}
	files.UseSyncer(r)
	return r, nil
}

// maxGreeting is the longest greeting line accepted.
const maxGreeting = 256

// readGreeting reads the agent's first line and checks its protocol.
func readGreeting(br *bufio.Reader, host string) error {
	line, err := readLine(br, maxGreeting)
	if err != nil {
		return fmt.Errorf("connect to %s: no greeting from the remote myrrorfs agent: %w", host, err)
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != greetingWord {
		return fmt.Errorf("connect to %s: the remote command is not a myrrorfs agent: it said %q", host, line)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return fmt.Errorf("connect to %s: bad agent greeting %q", host, line)
	}
	if n != Protocol {
		ve := &VersionError{Host: host, Remote: n, Local: Protocol}
		if len(f) > 2 {
			ve.RemoteVersion = f[2]
		}
		return ve
	}
	return nil
}

// readLine reads up to '\n' (not included), failing beyond max bytes.
func readLine(br *bufio.Reader, max int) (string, error) {
	var b []byte
	for len(b) <= max {
		c, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return string(b), nil
		}
		b = append(b, c)
	}
	return "", fmt.Errorf("line longer than %d bytes: %q", max, b)
}

// Hash returns the BLAKE3-256 hash of regular file p and its fingerprint,
// taken by the agent from the descriptor it read (see replica/local). No
// content crosses the network. A symlink anywhere in p is refused. The
// fingerprint is whole (nanosecond mtime and ctime, inode), as Lstat,
// ReadDir and ListTree give it.
func (r *Replica) Hash(p string) (tree.Hash, tree.Fingerprint, error) {
	resp, err := r.c.call(request{Op: opHash, Path: p})
	if err != nil {
		return tree.Hash{}, tree.Fingerprint{}, err
	}
	return resp.Hash, resp.FP, nil
}

// Lstat reports the entry at p, stat'ed by the agent beneath its root
// without following any symlink, with its whole fingerprint (nanosecond
// mtime and ctime, inode), which SFTP cannot carry.
func (r *Replica) Lstat(p string) (replica.Info, error) {
	if err := tree.ValidPath(p); err != nil {
		return replica.Info{}, fmt.Errorf("lstat %s:%s: %w", r.c.host, p, replica.ErrUnsafePath)
	}
	resp, err := r.c.call(request{Op: opStat, Path: p})
	if err != nil {
		return replica.Info{}, err
	}
	name := ""
	if p != "" {
		name = tree.Base(p)
	}
	return infoOf(name, resp.FP), nil
}

// infoOf is the Info of an entry named name with fingerprint fp.
func infoOf(name string, fp tree.Fingerprint) replica.Info {
	return replica.Info{Name: name, Kind: tree.KindOfMode(fp.Mode), Perm: fp.Mode & 0o7777,
		Size: fp.Size, MtimeNs: fp.MtimeNs, FP: fp}
}

// ReadDir lists directory p through the agent (beneath its root, no
// symlink followed), with whole fingerprints. Invalid and repeated names
// are dropped.
func (r *Replica) ReadDir(p string) ([]replica.Info, error) {
	if err := tree.ValidPath(p); err != nil {
		return nil, fmt.Errorf("readdir %s:%s: %w", r.c.host, p, replica.ErrUnsafePath)
	}
	st, err := r.c.stream(request{Op: opReadDir, Path: p})
	if err != nil {
		return nil, err
	}
	defer st.drop()
	var out []replica.Info
	seen := make(map[string]bool)
	for {
		batch, end, err := st.next(context.Background())
		switch {
		case err != nil:
			return nil, err
		case end != nil && end.Err != nil:
			return nil, fmt.Errorf("agent on %s: %w", r.c.host, end.Err)
		case end != nil:
			return out, nil
		}
		err = decodeListing(batch, func(dir string, rec *listRecord) error {
			if dir != p || rec.Err != nil || tree.ValidName(rec.Name) != nil || seen[rec.Name] {
				return nil
			}
			seen[rec.Name] = true
			out = append(out, infoOf(rec.Name, recordFP(rec)))
			return nil
		})
		if err != nil {
			r.c.fail(err)
			return nil, fmt.Errorf("agent on %s: %w", r.c.host, err)
		}
	}
}

// recordFP is the fingerprint of a listing record.
func recordFP(rec *listRecord) tree.Fingerprint {
	return tree.Fingerprint{Size: rec.Size, MtimeNs: rec.MtimeNs, CtimeNs: rec.CtimeNs, Ino: rec.Ino, Mode: rec.Mode}
}

// Sync has the agent fsync the file or directory at p (see sftp.Syncer):
// the agent's SFTP server has no fsync@openssh.com, and no SFTP server can
// fsync a directory by protocol.
func (r *Replica) Sync(p string) error {
	_, err := r.c.call(request{Op: opSync, Path: p})
	return err
}

// ListTree lists the whole remote tree in one request: the agent walks it
// in place and streams it back (see replica.TreeLister), symlink targets
// included. Infos carry whole fingerprints, as Lstat and ReadDir give
// them. An agent without the request gives an error
// wrapping replica.ErrUnsupported; a malformed listing stops the
// connection.
func (r *Replica) ListTree(ctx context.Context, fn func(replica.Listed) error) error {
	st, err := r.c.stream(request{Op: opList})
	if err != nil {
		return err
	}
	defer st.drop()
	for {
		batch, end, err := st.next(ctx)
		switch {
		case err != nil:
			return err
		case end != nil && end.Err != nil:
			return fmt.Errorf("agent on %s: %w", r.c.host, end.Err)
		case end != nil:
			return nil
		}
		var fnErr error
		err = decodeListing(batch, func(dir string, rec *listRecord) error {
			fnErr = fn(r.listed(dir, rec))
			return fnErr
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			r.c.fail(err)
			return fmt.Errorf("agent on %s: %w", r.c.host, err)
		}
		if err := ctx.Err(); err != nil {
			return err // cancelled while the batch was taken in
		}
	}
}

// listed is rec, a child of dir, as ReadDir reports it.
func (r *Replica) listed(dir string, rec *listRecord) replica.Listed {
	l := replica.Listed{Dir: dir, Target: rec.Target, Info: replica.Info{
		Name: rec.Name, Kind: rec.Kind, Perm: rec.Mode & 0o7777, Size: rec.Size, MtimeNs: rec.MtimeNs,
		FP: recordFP(rec),
	}}
	if rec.Err != nil {
		l.Err = fmt.Errorf("agent on %s: %w", r.c.host, rec.Err)
	}
	return l
}

// Rename moves oldp to newp atomically, as replica.Replica says; the agent
// does it with renameat beneath its root (the SFTP server's rename refuses
// to replace an empty directory).
func (r *Replica) Rename(oldp, newp string) error {
	_, err := r.c.call(request{Op: opRename, Path: oldp, Dir: newp})
	return err
}

// CopyTemp copies regular file src on the remote host into a new temporary
// with permission perm in directory dstDir, and returns its path. No
// content crosses the network; on error no temporary is left.
func (r *Replica) CopyTemp(src, dstDir string, perm uint32) (string, error) {
	resp, err := r.c.call(request{Op: opCopy, Path: src, Dir: dstDir, Perm: perm, Data: []byte(r.TempMarker())})
	if err != nil {
		return "", err
	}
	if err := tree.ValidPath(resp.Path); err != nil || tree.Parent(resp.Path) != dstDir {
		return "", fmt.Errorf("copy %s:%s: agent answered a bad temporary %q", r.c.host, src, resp.Path)
	}
	return resp.Path, nil
}

// AgentRequests returns how many agent requests were sent since Dial.
func (r *Replica) AgentRequests() int64 { return r.c.requests.Load() }

// sftpWriter is the SFTP client's side of channel 0; closing it (as the
// SFTP client's Close does) ends the whole connection, which ends the
// client's reads too.
type sftpWriter struct {
	io.Writer
	c *conn
}

func (w sftpWriter) Close() error { return w.c.Close() }
