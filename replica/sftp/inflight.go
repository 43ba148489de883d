package sftp

import "github.com/myrrorfs/myrrorfs/replica"

var _ replica.Pipelined = (*Replica)(nil)

// inFlight is how many operations a caller keeps going at once over one
// SFTP connection: each waits a round trip for its answer, and pkg/sftp
// matches answers to requests, so many share the link's latency.
const inFlight = 64

// InFlight tells how many operations to keep going at once.
func (r *Replica) InFlight() int { return inFlight }
