// Package sftp is the replica of a directory on a remote host, reached by
// running the user's own ssh client with the sftp subsystem, so that
// ~/.ssh/config, agents, ProxyJump and known_hosts all apply. Host keys are
// never trusted blindly: ssh runs in batch mode, where an unknown host key
// or a needed password is an error instead of a question.
package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	pkgsftp "github.com/pkg/sftp"
)

// maxPacket is the SFTP packet size. Packets of 256 KiB or more make
// OpenSSH truncate downloads silently (pkg/sftp issue 658): stay below.
const maxPacket = 252 * 1024

// exitGrace is how long ssh may take to exit once its stdin is closed.
const exitGrace = 5 * time.Second

// Options says how to reach the remote tree.
type Options struct {
	// SSHCommand is the ssh client command line, like rsync's -e: "ssh" when
	// empty. It is split into words with shell-like quoting (single and
	// double quotes, backslash), without any expansion.
	SSHCommand string
	// Host is [user@]host as the user gave it (a name from ~/.ssh/config works).
	Host string
	// Path is the remote root. A relative path is relative to the remote
	// home directory; "" is the home directory itself.
	Path string
	// Stderr receives a copy of ssh's stderr, which is also kept for error
	// messages. Nil: kept only.
	Stderr io.Writer
	// UnsafeWrites lets the replica write, rename and remove, although
	// plain SFTP cannot keep those beneath the root (see Replica). False:
	// the replica is read-only.
	UnsafeWrites bool
}

// Dial starts ssh to o.Host, opens an SFTP session over it and checks that
// the remote root exists and is a directory. ctx bounds the connection and
// these checks only, not the life of the returned Replica.
//
// A failure is one line naming the host and the cause ssh reported, e.g.
// "connect to myhost: Host key verification failed.". A missing or
// non-directory root is an error naming host:path (errors.Is
// replica.ErrNotExist when missing).
func Dial(ctx context.Context, o Options) (*Replica, error) {
	argv, err := SSHArgv(o.SSHCommand, o.Host, []string{"-s"}, "sftp")
	if err != nil {
		return nil, err
	}
	proc, err := StartSSH(argv, o.Stderr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.Host, err)
	}
	type result struct {
		r   *Replica
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := connect(proc, o)
		ch <- result{r, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			proc.Close()
		}
		return res.r, res.err
	case <-ctx.Done():
		proc.Kill()
		go func() { // the connection may still complete: close it
			if res := <-ch; res.r != nil {
				res.r.Close()
			}
		}()
		return nil, dialError(o.Host, proc, ctx.Err())
	}
}

// SSHArgv is the command line that runs remote on host: the words of
// sshCommand (like rsync's -e; "ssh" when blank, split by SplitCommand),
// options that keep ssh from forwarding anything or asking anything (an
// unknown host key or a needed password is an error), opts, host, remote.
func SSHArgv(sshCommand, host string, opts []string, remote ...string) ([]string, error) {
	if host == "" {
		return nil, errors.New("connect: no host given")
	}
	if strings.HasPrefix(host, "-") {
		return nil, fmt.Errorf("connect to %s: a host name cannot begin with '-'", host)
	}
	if strings.TrimSpace(sshCommand) == "" {
		sshCommand = "ssh"
	}
	words, err := SplitCommand(sshCommand)
	if err != nil {
		return nil, fmt.Errorf("ssh command %q: %w", sshCommand, err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("ssh command %q: no program given", sshCommand)
	}
	// LogLevel INFO: ssh says why a connection closed (at ERROR it may
	// exit 255 without a word); what it says is kept for error messages,
	// not shown. ServerAliveInterval: a dead connection ends ssh (and so
	// every call) within a minute. Options in sshCommand come first and
	// so win over these.
	argv := append(words, "-x", "-a", "-oClearAllForwardings=yes", "-oBatchMode=yes",
		"-oLogLevel=INFO", "-oServerAliveInterval=15")
	argv = append(append(argv, opts...), host)
	return append(argv, remote...), nil
}

// NewClient starts an SFTP client over rd and wr with the settings every
// myrrorfs session uses: packets below OpenSSH's limit, many requests in
// flight per file.
func NewClient(rd io.Reader, wr io.WriteCloser) (*pkgsftp.Client, error) {
	return pkgsftp.NewClientPipe(rd, wr,
		pkgsftp.MaxPacketUnchecked(maxPacket),
		pkgsftp.UseConcurrentWrites(true),
		pkgsftp.UseConcurrentReads(true),
		pkgsftp.MaxConcurrentRequestsPerFile(64),
		pkgsftp.UseFstat(true),
	)
}

// connect speaks the SFTP handshake over proc and opens the remote root.
func connect(proc *Process, o Options) (*Replica, error) {
	client, err := NewClient(proc.stdout, proc.stdin)
	if err != nil {
		proc.WaitExit(exitGrace)
		return nil, dialError(o.Host, proc, err)
	}
	r, err := openRoot(client, proc, o)
	if err != nil {
		client.Close()
		return nil, err
	}
	r.spec = o.Host + ":" + o.Path
	if o.UnsafeWrites {
		r.AllowUnsafeWrites()
	}
	return r, nil
}

// openRoot makes the replica of o.Path, made absolute against the remote
// home when relative.
func openRoot(client *pkgsftp.Client, proc *Process, o Options) (*Replica, error) {
	root := o.Path
	if !path.IsAbs(root) {
		home, err := client.Getwd()
		if err != nil {
			return nil, fmt.Errorf("remote home on %s: %w", o.Host, mapErr(proc, o.Host, err))
		}
		root = path.Join(home, root)
	}
	return FromClient(client, proc, o.Host, root)
}

// dialError is the one-line error for a connection to host that failed
// with err: ssh's own last words when it said anything, err otherwise.
func dialError(host string, proc *Process, err error) error {
	cause := proc.stderr.lastLine()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		if cause != "" {
			return fmt.Errorf("connect to %s: %w (ssh: %s)", host, err, cause)
		}
		return fmt.Errorf("connect to %s: %w", host, err)
	}
	switch {
	case cause != "":
		return fmt.Errorf("connect to %s: %s", host, cause)
	case proc.Exited() && proc.err != nil:
		return fmt.Errorf("connect to %s: ssh: %w", host, proc.err)
	}
	return fmt.Errorf("connect to %s: %w", host, err)
}
