package agent

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Channels of the framed stream.
const (
	chanSFTP  byte = 0 // SFTP packets, as a byte stream cut into frames
	chanAgent byte = 1 // agent messages, one per frame
)

// frameHeader is the size of a frame header: channel and big-endian length.
const frameHeader = 5

// maxFrame is the largest payload a frame may carry.
const maxFrame = 256 << 10

// errBadFrame is wrapped by every error about a malformed frame.
var errBadFrame = errors.New("malformed frame")

// readFrame reads one frame from r into buf (grown as needed) and returns
// its channel and payload, which aliases buf. A frame of an unknown channel
// or longer than maxFrame is an error wrapping errBadFrame; a stream that
// ends inside a frame gives io.ErrUnexpectedEOF, and one that ends between
// frames io.EOF.
func readFrame(r *bufio.Reader, buf []byte) (ch byte, payload, newBuf []byte, err error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, buf, err
	}
	ch, n := h[0], binary.BigEndian.Uint32(h[1:])
	if ch != chanSFTP && ch != chanAgent {
		return 0, nil, buf, fmt.Errorf("%w: unknown channel %d", errBadFrame, ch)
	}
	if n > maxFrame {
		return 0, nil, buf, fmt.Errorf("%w: %d bytes, more than %d", errBadFrame, n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err := io.ReadFull(r, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, buf, err
	}
	return ch, payload, buf, nil
}

// frameWriter writes whole frames to one stream; it is safe for concurrent
// use, and frames never interleave.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	hdr [frameHeader]byte
}

// write sends payload (at most maxFrame bytes) as one frame on channel ch.
func (fw *frameWriter) write(ch byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("%w: %d bytes to send, more than %d", errBadFrame, len(payload), maxFrame)
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.hdr[0] = ch
	binary.BigEndian.PutUint32(fw.hdr[1:], uint32(len(payload)))
	if _, err := fw.w.Write(fw.hdr[:]); err != nil {
		return err
	}
	_, err := fw.w.Write(payload)
	return err
}

// streamWriter is an io.Writer that sends what is written to it on one
// channel, cut into frames of at most maxFrame bytes.
type streamWriter struct {
	fw *frameWriter
	ch byte
}

// Write sends b in as many frames as needed.
func (s streamWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), maxFrame)]
		if err := s.fw.write(s.ch, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		b = b[len(chunk):]
	}
	return n, nil
}
