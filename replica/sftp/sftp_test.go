package sftp

import (
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

// TestConformance runs the replica conformance suite over the test sshd,
// with the remote root in a local temporary directory (the server is this
// machine), so that the suite can also build fixtures on disk.
func TestConformance(t *testing.T) {
	replicatest.Run(t, func(t *testing.T) (replica.Replica, string) {
		r, dir := dialTest(t)
		return r, dir
	})
}
