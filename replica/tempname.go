package replica

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/myrrorfs/myrrorfs/tree"
)

// TempName returns a fresh name for a temporary: tree.TempPrefix and 16
// random hex digits.
func TempName() string {
	var b [8]byte
	rand.Read(b[:])
	return tree.TempPrefix + hex.EncodeToString(b[:])
}
