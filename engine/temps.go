package engine

import (
	"github.com/myrrorfs/myrrorfs/replica"
)

// TempMarker is the marker in the names of this pair's temporaries (see
// replica.TempNameFor), derived from the pair's identity: two pairs sharing
// a tree never take each other's temporaries for their own.
func (p *Pair) TempMarker() string {
	return replica.PairMarker(p.LocalSpec.Path + "\x00" + p.RemoteSpec.String())
}

// markTemps has each replica that can name its temporaries after the pair.
func (p *Pair) markTemps() {
	for _, r := range []replica.Replica{p.Local, p.Remote} {
		if m, ok := r.(replica.TempMarking); ok {
			m.SetTempMarker(p.TempMarker())
		}
	}
}

// tempMarkers are the markers of the temporaries a scan of r takes for this
// pair's own stale ones: the pair's marker, and the unmarked form on a
// replica that cannot mark its temporaries (so that the stale ones it
// leaves are still removed).
func (p *Pair) tempMarkers(r replica.Replica) []string {
	if _, ok := r.(replica.TempMarking); ok {
		return []string{p.TempMarker()}
	}
	return []string{p.TempMarker(), ""}
}
