package agent

import (
	"time"

	"github.com/myrrorfs/myrrorfs/replica/sftp"
)

// endpoint is the far end of the framed stream: an ssh process
// (*sftp.Process), or (in tests) an agent in this process.
type endpoint interface {
	// Close closes the stream to the agent and waits until the endpoint is gone.
	Close() error
	// Kill ends the endpoint at once and waits until it is gone.
	Kill()
	// Exited reports whether the endpoint is gone.
	Exited() bool
	// WaitExit waits up to d for the endpoint to be gone; it reports whether it is.
	WaitExit(d time.Duration) bool
	// ExitCode is the exit status of a gone process (-1 if unknown).
	ExitCode() int
	// LastWords is the last line it wrote on stderr ("" if none).
	LastWords() string
}

var _ endpoint = (*sftp.Process)(nil)
