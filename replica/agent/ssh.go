package agent

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
)

// stderrKeep is how much of ssh's stderr is kept for error messages.
const stderrKeep = 16 << 10

// exitGrace is how long ssh may take to exit once its stdin is closed.
const exitGrace = 5 * time.Second

// endpoint is the far end of the framed stream: an ssh process, or (in
// tests) an agent in this process.
type endpoint interface {
	// stop closes the stream to the agent and waits until the endpoint is gone.
	stop()
	// exited reports whether the endpoint is gone.
	exited() bool
	// waitExit waits up to d for the endpoint to be gone; it reports whether it is.
	waitExit(d time.Duration) bool
	// exitCode is the exit status of a gone process (-1 if unknown).
	exitCode() int
	// lastWords is the last line it wrote on stderr ("" if none).
	lastWords() string
}

// sshProcess is a running ssh client whose stdin and stdout carry frames.
type sshProcess struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end of ssh's stdin
	stdout *os.File // our end of ssh's stdout
	stderr *tailBuffer
	done   chan struct{} // closed when ssh has exited
	err    error         // ssh's exit status; read only after done
}

// startSSH starts argv with fresh pipes for stdin and stdout; its stderr is
// kept (the last stderrKeep bytes) and copied to tee when tee is not nil.
func startSSH(argv []string, tee io.Writer) (*sshProcess, error) {
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
	p := &sshProcess{stdin: inW, stdout: outR, stderr: &tailBuffer{max: stderrKeep, tee: tee}, done: make(chan struct{})}
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

// wait reaps ssh and, a second later, closes the pipe from it so that no
// read hangs when a child of ssh still holds its stdout.
func (p *sshProcess) wait() {
	p.err = p.cmd.Wait()
	close(p.done)
	time.AfterFunc(time.Second, func() { p.stdout.Close() })
}

func (p *sshProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *sshProcess) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// stop closes ssh's stdin, which ends the session; ssh is killed if it is
// still running after exitGrace.
func (p *sshProcess) stop() {
	p.stdin.Close()
	if !p.waitExit(exitGrace) {
		p.kill()
	}
}

// kill kills ssh and waits until it is reaped.
func (p *sshProcess) kill() {
	p.stdin.Close()
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
	<-p.done
}

func (p *sshProcess) exitCode() int {
	if !p.exited() {
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

// lastWords is ssh's last line on stderr or, failing that, its exit status.
func (p *sshProcess) lastWords() string {
	if line := p.stderr.lastLine(); line != "" {
		return line
	}
	if p.exited() && p.err != nil {
		return "ssh: " + p.err.Error()
	}
	return ""
}

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

// shellQuote quotes s for a POSIX shell (the remote command line).
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
