package replica

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/tree"
)

// Temporaries are named
//
//	.myrrorfs-tmp-MMMMMMMMMMMM-RRRRRRRRRRRRRRRR
//
// tree.TempPrefix, a marker of 12 lowercase hex digits naming the pair
// that made it (PairMarker), a dash and 16 random lowercase hex digits. A
// run removes a stale temporary only when its name has exactly this form
// and its own pair's marker: a user's file under a reserved name, or a
// temporary another pair sharing the tree is writing, is never touched.
//
// The unmarked form .myrrorfs-tmp-RRRRRRRRRRRRRRRR is what replicas that
// cannot yet mark their temporaries make (see TempName).

// MarkerLen is the length of a pair marker.
const MarkerLen = 12

const randLen = 16

// PairMarker returns the marker of the pair whose identity is given (the
// canonical local root and the remote spec, as the journal keys them).
func PairMarker(identity string) string {
	sum := blake3.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:MarkerLen/2])
}

// TempNameFor returns a fresh name for a temporary of the pair with marker
// m; an empty m gives the unmarked form. It is the one generator of
// temporary names in myrrorfs.
func TempNameFor(m string) string {
	var b [randLen / 2]byte
	rand.Read(b[:])
	if m == "" {
		return tree.TempPrefix + hex.EncodeToString(b[:])
	}
	return tree.TempPrefix + m + "-" + hex.EncodeToString(b[:])
}

// TempName returns a fresh unmarked name for a temporary.
//
// Deprecated: use TempNameFor with the pair's marker. A stale temporary
// with an unmarked name is removed only on a side whose replica does not
// mark its temporaries (see TempMarking).
func TempName() string { return TempNameFor("") }

// ParseTempName reports whether name is a temporary's name in either form,
// and its marker ("" for the unmarked form).
func ParseTempName(name string) (marker string, ok bool) {
	rest, found := strings.CutPrefix(name, tree.TempPrefix)
	if !found {
		return "", false
	}
	if len(rest) == randLen {
		return "", isLowerHex(rest)
	}
	if len(rest) != MarkerLen+1+randLen || rest[MarkerLen] != '-' {
		return "", false
	}
	m, r := rest[:MarkerLen], rest[MarkerLen+1:]
	return m, isLowerHex(m) && isLowerHex(r)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// TempMarking is implemented by replicas that name the temporaries they
// create (CreateTemp, CopyTemp) with a pair's marker.
type TempMarking interface {
	// SetTempMarker sets the marker of the temporaries created from now
	// on. It is safe to call while other methods run.
	SetTempMarker(marker string)
}
