package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/myrrorfs/myrrorfs/replica/sftp"
)

// conn is the client's side of the framed stream: it sends requests,
// matches responses to them by id, and passes SFTP bytes both ways. It
// implements sftp.Transport.
type conn struct {
	host    string
	ep      endpoint
	wr      io.WriteCloser // the agent's stdin
	fw      *frameWriter
	sftpIn  *io.PipeWriter // SFTP bytes from the agent, for the SFTP client
	sftpOut *io.PipeReader // what the SFTP client reads
	hello   chan response  // the agent's first message

	mu      sync.Mutex
	pending map[uint32]chan response
	nextID  uint32
	err     error         // why the stream stopped; set before done is closed
	done    chan struct{} // closed when the stream stopped

	requests  atomic.Int64
	closeOnce sync.Once
}

var _ sftp.Transport = (*conn)(nil)

func newConn(host string, ep endpoint, wr io.WriteCloser) *conn {
	pr, pw := io.Pipe()
	return &conn{
		host: host, ep: ep, wr: wr, fw: &frameWriter{w: wr},
		sftpIn: pw, sftpOut: pr,
		hello:   make(chan response, 1),
		pending: make(map[uint32]chan response),
		done:    make(chan struct{}),
	}
}

// readLoop reads frames until the stream ends or breaks, then fails every
// call in flight and every later one.
func (c *conn) readLoop(br *bufio.Reader) {
	var buf []byte
	helloSeen := false
	for {
		ch, payload, nb, err := readFrame(br, buf)
		buf = nb
		if err == nil {
			err = c.dispatch(ch, payload, &helloSeen)
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// dispatch handles one frame from the agent.
func (c *conn) dispatch(ch byte, payload []byte, helloSeen *bool) error {
	if ch == chanSFTP {
		if _, err := c.sftpIn.Write(payload); err != nil {
			return fmt.Errorf("SFTP client stopped: %w", err)
		}
		return nil
	}
	resp, err := unmarshalResponse(payload)
	if err != nil {
		return err
	}
	if !*helloSeen {
		if resp.ID != helloID {
			return fmt.Errorf("%w: response %d before the hello", errBadMessage, resp.ID)
		}
		*helloSeen = true
		c.hello <- resp
		return nil
	}
	c.mu.Lock()
	waiter, ok := c.pending[resp.ID]
	delete(c.pending, resp.ID)
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: response to unknown request %d", errBadMessage, resp.ID)
	}
	waiter <- resp
	return nil
}

// fail records why the stream stopped (once) and wakes everyone waiting.
func (c *conn) fail(err error) {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
	c.mu.Unlock()
	c.sftpIn.CloseWithError(err)
}

// stopped reports whether the stream stopped.
func (c *conn) stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil // set when done is closed
}

// waitHello waits for the agent's hello and returns the absolute root it serves.
func (c *conn) waitHello() (string, error) {
	select {
	case h := <-c.hello:
		if h.Err != nil {
			return "", fmt.Errorf("remote root on %s: %w", c.host, h.Err)
		}
		return h.Path, nil
	case <-c.done:
		return "", fmt.Errorf("connect to %s: %w", c.host, c.failure(nil))
	}
}

// call sends q with a fresh id and waits for its response. Many calls may
// be in flight at once.
func (c *conn) call(q request) (response, error) {
	waiter := make(chan response, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return response{}, c.lost()
	}
	c.nextID++
	if c.nextID == helloID {
		c.nextID++
	}
	q.ID = c.nextID
	c.pending[q.ID] = waiter
	c.mu.Unlock()
	c.requests.Add(1)
	if err := c.fw.write(chanAgent, q.marshal()); err != nil {
		c.fail(fmt.Errorf("send request: %w", err))
		return response{}, c.lost()
	}
	select {
	case resp := <-waiter:
		if resp.Err != nil {
			return response{}, fmt.Errorf("agent on %s: %w", c.host, resp.Err)
		}
		return resp, nil
	case <-c.done:
		return response{}, c.lost()
	}
}

// lost is the error of a call made over a stopped stream.
func (c *conn) lost() error {
	c.ep.WaitExit(300 * time.Millisecond)
	if cause := c.Cause(); cause != "" {
		return fmt.Errorf("%w to %s: %s", sftp.ErrConnectionLost, c.host, cause)
	}
	return fmt.Errorf("%w to %s", sftp.ErrConnectionLost, c.host)
}

// failure is the cause of a stopped stream for messages: what the stream
// reader saw when it was a protocol error, else err when given, else the
// stream's end.
func (c *conn) failure(err error) error {
	c.mu.Lock()
	serr := c.err
	c.mu.Unlock()
	switch {
	case errors.Is(serr, errBadFrame), errors.Is(serr, errBadMessage):
		return serr
	case err != nil:
		return err
	case serr != nil:
		return serr
	}
	return io.ErrUnexpectedEOF
}

// Exited reports whether the stream or the process behind it is gone.
func (c *conn) Exited() bool { return c.stopped() || c.ep.Exited() }

// WaitExit waits up to d for the process behind the stream to be gone.
func (c *conn) WaitExit(d time.Duration) bool { return c.ep.WaitExit(d) }

// Cause says in one line why the stream stopped: a protocol error, else
// ssh's last words, else the stream's own error.
func (c *conn) Cause() string {
	c.mu.Lock()
	serr := c.err
	c.mu.Unlock()
	if serr != nil && (errors.Is(serr, errBadFrame) || errors.Is(serr, errBadMessage)) {
		return serr.Error()
	}
	if words := c.ep.LastWords(); words != "" {
		return words
	}
	if serr != nil {
		return serr.Error()
	}
	return ""
}

// Close ends the session: it closes the agent's stdin and waits for the
// process to be gone (killing it after a grace period).
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.ep.Close()
		c.fail(errors.New("connection closed"))
	})
	return nil
}
