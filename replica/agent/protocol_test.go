package agent

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rsftp "github.com/myrrorfs/myrrorfs/replica/sftp"
	"github.com/myrrorfs/myrrorfs/tree"
)

// pipeAgent is an agent (or a fake one) running in this process, seen by
// the client as the endpoint at the far end of two pipes.
type pipeAgent struct {
	toAgent   *io.PipeWriter // the agent's stdin, our end
	fromAgent *io.PipeReader // the agent's stdout, our end
	done      chan struct{}
}

// startPipeAgent runs serve(stdin, stdout) in a goroutine.
func startPipeAgent(t testing.TB, serve func(r io.Reader, w io.Writer)) *pipeAgent {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	a := &pipeAgent{toAgent: inW, fromAgent: outR, done: make(chan struct{})}
	go func() {
		serve(inR, outW)
		outW.Close()
		close(a.done)
	}()
	t.Cleanup(func() { a.Close() })
	return a
}

func (a *pipeAgent) Close() error {
	a.toAgent.Close()
	a.fromAgent.Close()
	a.WaitExit(5 * time.Second)
	return nil
}

func (a *pipeAgent) Kill() { a.Close() }

func (a *pipeAgent) Exited() bool { return a.WaitExit(0) }

func (a *pipeAgent) WaitExit(d time.Duration) bool {
	select {
	case <-a.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (a *pipeAgent) ExitCode() int     { return -1 }
func (a *pipeAgent) LastWords() string { return "" }

// openPipe connects a client to a.
func openPipe(a *pipeAgent) (*Replica, error) {
	return open(a.fromAgent, a.toAgent, a, "testhost")
}

func TestInProcessAgent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startPipeAgent(t, func(r io.Reader, w io.Writer) { Serve(r, w, dir) })
	r, err := openPipe(a)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer r.Close()
	h, _, err := r.Hash("f")
	if err != nil || h != blake3Of([]byte("hello")) {
		t.Errorf("Hash = %s, %v; want blake3 of hello", h, err)
	}
	rc, err := r.Open("f")
	if err != nil {
		t.Fatalf("Open over the SFTP channel: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Errorf("read %q over the SFTP channel, want hello", b)
	}
}

func TestVersionMismatchRefused(t *testing.T) {
	dir := t.TempDir()
	a := startPipeAgent(t, func(r io.Reader, w io.Writer) { serve(r, w, dir, Protocol+1) })
	_, err := openPipe(a)
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Remote != Protocol+1 || ve.Local != Protocol {
		t.Fatalf("open = %v, want a VersionError %d vs %d", err, Protocol+1, Protocol)
	}
	want := fmt.Sprintf("remote myrrorfs at testhost speaks agent protocol %d, this one speaks %d", Protocol+1, Protocol)
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if errors.Is(err, ErrNoAgent) {
		t.Errorf("a version mismatch is not ErrNoAgent")
	}
}

func TestNotAnAgentRefused(t *testing.T) {
	a := startPipeAgent(t, func(r io.Reader, w io.Writer) { io.WriteString(w, "Welcome to my server!\n") })
	_, err := openPipe(a)
	if err == nil || !strings.Contains(err.Error(), "not a myrrorfs agent") || !strings.Contains(err.Error(), "testhost") {
		t.Errorf("open = %v, want a refusal naming the host", err)
	}
}

// frame is the encoding of one frame with a length that may lie.
func frame(ch byte, length uint32, payload []byte) []byte {
	b := []byte{ch, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], length)
	return append(b, payload...)
}

// helloFrame is a valid hello for root /r.
func helloFrame() []byte {
	h := response{ID: helloID, Path: "/r"}
	p := h.marshal()
	return frame(chanAgent, uint32(len(p)), p)
}

// TestHostileFrames makes a fake agent answer the first agent request with
// a bad frame: the call fails at once with a clean error instead of hanging.
func TestHostileFrames(t *testing.T) {
	bad := map[string][]byte{
		"unknown channel":    frame(7, 3, []byte("abc")),
		"oversized":          frame(chanAgent, maxFrame+1, nil),
		"truncated payload":  frame(chanAgent, 100, []byte("short")),
		"truncated header":   {chanAgent, 0, 0},
		"garbage message":    frame(chanAgent, 3, []byte{1, 2, 3}),
		"unknown request id": frame(chanAgent, 0, nil)[:0],
	}
	resp := (&response{ID: 999}).marshal()
	bad["unknown request id"] = frame(chanAgent, uint32(len(resp)), resp)
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			a := startPipeAgent(t, func(r io.Reader, w io.Writer) { fakeAgent(r, w, b) })
			c := newConn("testhost", a, a.toAgent)
			br := bufio.NewReader(a.fromAgent)
			if err := readGreeting(br, "testhost"); err != nil {
				t.Fatal(err)
			}
			go c.readLoop(br)
			if _, err := c.waitHello(); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { _, err := c.call(request{Op: opHash, Path: "f"}); errc <- err }()
			select {
			case err := <-errc:
				if !errors.Is(err, rsftp.ErrConnectionLost) || strings.Contains(err.Error(), "\n") {
					t.Errorf("call = %v, want a one-line ErrConnectionLost", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("call hangs after a bad frame")
			}
			if _, err := c.call(request{Op: opHash, Path: "f"}); !errors.Is(err, rsftp.ErrConnectionLost) {
				t.Errorf("later call = %v, want ErrConnectionLost", err)
			}
		})
	}
}

// fakeAgent greets, says hello, waits for one request and answers bad.
func fakeAgent(r io.Reader, w io.Writer, bad []byte) {
	fmt.Fprintf(w, "%s %d test\n", greetingWord, Protocol)
	w.Write(helloFrame())
	if _, _, _, err := readFrame(bufio.NewReader(r), nil); err != nil {
		return
	}
	w.Write(bad)
}

func FuzzReadFrame(f *testing.F) {
	f.Add(helloFrame())
	f.Add(frame(chanSFTP, 4, []byte("sftp")))
	f.Add(frame(9, 0, nil))
	f.Add(frame(chanAgent, 1<<31, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		var buf []byte
		for {
			ch, payload, nb, err := readFrame(br, buf)
			buf = nb
			if err != nil {
				return
			}
			if ch > chanAgent || len(payload) > maxFrame {
				t.Fatalf("accepted channel %d with %d bytes", ch, len(payload))
			}
		}
	})
}

func FuzzUnmarshalRequest(f *testing.F) {
	f.Add((&request{ID: 7, Op: opCopy, Path: "a/b", Dir: "c", Perm: 0o644}).marshal())
	f.Add([]byte{0, 0, 0, 1, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := unmarshalRequest(b)
		if err != nil {
			return
		}
		if got := q.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("decoded %+v re-encodes as %x, not %x", q, got, b)
		}
	})
}

func FuzzUnmarshalResponse(f *testing.F) {
	f.Add((&response{ID: 3, Hash: tree.Hash{1}, FP: tree.Fingerprint{Size: 5, Ino: 9}, Path: "x"}).marshal())
	f.Add((&response{ID: 4, Err: &remoteError{Class: errNotExist, Msg: "gone"}}).marshal())
	f.Add((&response{ID: 5, Batch: encodeOne(listRecord{Name: "f", Kind: tree.File})}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := unmarshalResponse(b)
		if err != nil {
			return
		}
		if got := r.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("decoded %+v re-encodes as %x, not %x", r, got, b)
		}
	})
}
