package sftp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// stderrKeep is how much of ssh's stderr is kept for error messages.
const stderrKeep = 16 << 10

// readerGrace is how long the pipe from ssh stays open after ssh exits, so
// that replies already sent can still be read.
const readerGrace = time.Second

// Process is a running ssh client whose stdin and stdout carry a session
// (the sftp subsystem, or a remote command's own protocol). It implements
// Transport.
type Process struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end of ssh's stdin
	stdout *os.File // our end of ssh's stdout
	stderr *tailBuffer
	done   chan struct{} // closed when ssh has exited
	err    error         // ssh's exit status; read only after done
}

var _ Transport = (*Process)(nil)

// StartSSH starts argv (see SSHArgv) with fresh pipes for stdin and stdout;
// its stderr is kept (the last 16 KiB) and copied to tee when tee is not nil.
func StartSSH(argv []string, tee io.Writer) (*Process, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	WidenPipe(outR)
	WidenPipe(inW)
	p := &Process{stdin: inW, stdout: outR, stderr: &tailBuffer{max: stderrKeep, tee: tee}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	p.cmd.WaitDelay = 2 * time.Second // a child of ssh holding stderr must not block Wait
	err = p.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	go p.wait()
	return p, nil
}

// pipeSize is the buffer WidenPipe asks for: 1 MiB, the most an
// unprivileged process may set by default (fs.pipe-max-size).
const pipeSize = 1 << 20

// WidenPipe gives the pipe f is an end of a buffer of pipeSize, when the
// system allows it (it is no error if not). With the default 64 KiB a
// download wakes ssh and its reader once every 64 KiB, which costs them
// more CPU than the copies themselves.
func WidenPipe(f *os.File) {
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	sc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
}

// wait reaps ssh and, after a grace period, closes the pipe from it so that
// no read hangs when a child of ssh still holds its stdout.
func (p *Process) wait() {
	p.err = p.cmd.Wait()
	close(p.done)
	time.AfterFunc(readerGrace, func() { p.stdout.Close() })
}

// Stdin is the pipe to ssh's stdin; closing it ends the session.
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Stdout is the pipe from ssh's stdout.
func (p *Process) Stdout() io.Reader { return p.stdout }

// Exited reports whether ssh has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitExit waits up to d for ssh to exit and reports whether it did.
func (p *Process) WaitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// Close closes ssh's stdin, which makes it end the session and exit; if it
// is still running after a few seconds, it is killed. It returns once ssh
// is reaped, always with nil.
func (p *Process) Close() error {
	p.stdin.Close()
	if !p.WaitExit(exitGrace) {
		p.Kill()
	}
	return nil
}

// Kill kills ssh and waits until it is reaped.
func (p *Process) Kill() {
	p.stdin.Close()
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.done
}

// ExitCode is ssh's exit status once it has exited (-1 before, or when it
// was killed by a signal). ssh itself fails with 255; any other status is
// the remote command's.
func (p *Process) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err == nil {
		return 0
	}
	return -1
}

// LastWords is the last line ssh printed on stderr or, failing that, its
// failed exit status ("" if neither).
func (p *Process) LastWords() string {
	if line := p.stderr.lastLine(); line != "" {
		return line
	}
	if p.Exited() && p.err != nil {
		return "ssh: " + p.err.Error()
	}
	return ""
}

// Cause describes why ssh stopped serving, in one line: LastWords, else
// "ssh exited" once it has ("" while it runs and said nothing).
func (p *Process) Cause() string {
	if words := p.LastWords(); words != "" {
		return words
	}
	if p.Exited() {
		return "ssh exited"
	}
	return ""
}

// Stderr returns what ssh printed on stderr (its last 16 KiB).
func (p *Process) Stderr() string { return p.stderr.all() }

// tailBuffer keeps the last max bytes written to it and copies every write
// to tee (when not nil). It is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
	tee io.Writer
}

// Write keeps b and copies it to tee; it never fails, so that ssh is never
// blocked or killed by a broken tee.
func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	tee := t.tee
	t.mu.Unlock()
	if tee != nil {
		tee.Write(b)
	}
	return len(b), nil
}

// lastLine returns the last non-blank line written, trimmed.
func (t *tailBuffer) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(t.buf, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		if line := strings.TrimSpace(string(lines[i])); line != "" {
			return line
		}
	}
	return ""
}

// all returns everything kept.
func (t *tailBuffer) all() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
