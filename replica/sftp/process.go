package sftp

import (
	"bytes"
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

// readerGrace is how long the pipe from ssh stays open after ssh exits, so
// that replies already sent can still be read.
const readerGrace = time.Second

// sshProcess is a running ssh client whose stdin and stdout carry SFTP.
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

// wait reaps ssh and, after a grace period, closes the pipe from it so that
// no read hangs when a child of ssh still holds its stdout.
func (p *sshProcess) wait() {
	p.err = p.cmd.Wait()
	close(p.done)
	time.AfterFunc(readerGrace, func() { p.stdout.Close() })
}

// exited reports whether ssh has exited.
func (p *sshProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to d for ssh to exit and reports whether it did.
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

// stop closes ssh's stdin, which makes it end the session and exit; if it
// is still running after grace, it is killed. It returns once ssh is reaped.
func (p *sshProcess) stop(grace time.Duration) {
	p.stdin.Close()
	if !p.waitExit(grace) {
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

// cause describes why ssh stopped serving, in one line: the last line ssh
// printed on stderr or, failing that, its exit status ("" if neither).
func (p *sshProcess) cause() string {
	if line := p.stderr.lastLine(); line != "" {
		return line
	}
	if p.exited() && p.err != nil {
		return "ssh: " + p.err.Error()
	}
	if p.exited() {
		return "ssh exited"
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
