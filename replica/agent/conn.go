package agent

import (
	"bufio"
	"context"
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
	streams map[uint32]*stream // list requests not answered yet
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
		streams: make(map[uint32]*stream),
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
		if resp.ID != helloID || resp.Batch != nil {
			return fmt.Errorf("%w: response %d before the hello", errBadMessage, resp.ID)
		}
		*helloSeen = true
		c.hello <- resp
		return nil
	}
	return c.deliver(resp)
}

// deliver hands resp to the call or stream waiting for it.
func (c *conn) deliver(resp response) error {
	c.mu.Lock()
	st, isStream := c.streams[resp.ID]
	if isStream && resp.Batch == nil {
		delete(c.streams, resp.ID)
	}
	waiter, ok := c.pending[resp.ID]
	if !isStream && resp.Batch == nil {
		delete(c.pending, resp.ID)
	}
	c.mu.Unlock()
	switch {
	case isStream:
		st.deliver(resp)
	case ok && resp.Batch == nil:
		waiter <- resp
	case ok:
		return fmt.Errorf("%w: listing batch for request %d, which lists nothing", errBadMessage, resp.ID)
	default:
		return fmt.Errorf("%w: response to unknown request %d", errBadMessage, resp.ID)
	}
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
	if err := c.send(q, func(id uint32) { c.pending[id] = waiter }); err != nil {
		return response{}, err
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

// send gives q a fresh id, calls register with it (holding c.mu) to
// record who waits for the answer, and sends q.
func (c *conn) send(q request, register func(id uint32)) error {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.lost()
	}
	c.nextID++
	if c.nextID == helloID {
		c.nextID++
	}
	q.ID = c.nextID
	register(q.ID)
	c.mu.Unlock()
	c.requests.Add(1)
	if err := c.fw.write(chanAgent, q.marshal()); err != nil {
		c.fail(fmt.Errorf("send request: %w", err))
		return c.lost()
	}
	return nil
}

// stream sends q, a request answered by batches before its response, and
// returns what receives them. The caller reads it with next until the end,
// or drops it.
func (c *conn) stream(q request) (*stream, error) {
	st := &stream{c: c, wake: make(chan struct{}, 1)}
	if err := c.send(q, func(id uint32) { c.streams[id] = st }); err != nil {
		return nil, err
	}
	return st, nil
}

// stream gathers the batches and the response of one request as they come,
// so that the stream reader never waits for the caller.
type stream struct {
	c    *conn
	wake chan struct{} // signalled when something came

	mu      sync.Mutex
	batches [][]byte
	end     *response // the response, once it came
	dropped bool      // the caller stopped reading: batches are thrown away
}

// deliver takes a batch or the response in.
func (st *stream) deliver(resp response) {
	st.mu.Lock()
	switch {
	case resp.Batch == nil:
		st.end = &resp
	case !st.dropped:
		st.batches = append(st.batches, resp.Batch)
	}
	st.mu.Unlock()
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// next waits for the next batch, or for the response once every batch was
// taken (batch nil, end set). It fails when ctx ends or the connection
// stops.
func (st *stream) next(ctx context.Context) (batch []byte, end *response, err error) {
	for stopped := false; ; {
		if batch, end, ok := st.take(); ok {
			return batch, end, nil
		}
		if stopped {
			return nil, nil, st.c.lost()
		}
		select {
		case <-st.wake:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-st.c.done:
			stopped = true // take what came before the end
		}
	}
}

// take returns the first batch, else the response, if either came.
func (st *stream) take() (batch []byte, end *response, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.batches) > 0 {
		batch = st.batches[0]
		st.batches[0] = nil
		st.batches = st.batches[1:]
		return batch, nil, true
	}
	return nil, st.end, st.end != nil
}

// drop stops gathering batches: the rest of the stream is thrown away as it
// comes.
func (st *stream) drop() {
	st.mu.Lock()
	st.dropped = true
	st.batches = nil
	st.mu.Unlock()
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
