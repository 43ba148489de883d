package agent

import (
	"reflect"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
)

// A watch batch round-trips, and a batch naming a path that is not a valid
// relative path (a hostile agent) is never passed on as a path: it asks
// for a full rescan instead.
func TestWatchBatches(t *testing.T) {
	ok := replica.Changes{Paths: []string{"", "a", "a/b c"}, Note: "why"}
	if got := decodeChanges(encodeChanges(ok)); !reflect.DeepEqual(got, ok) {
		t.Errorf("round trip: %+v; want %+v", got, ok)
	}
	for _, bad := range []string{"../etc", "/abs", "a/../b", "a\x00b", "a//b"} {
		got := decodeChanges(encodeChanges(replica.Changes{Paths: []string{"fine", bad}}))
		if !got.Overflow || !reflect.DeepEqual(got.Paths, []string{"fine"}) {
			t.Errorf("batch with %q: %+v; want only fine, and Overflow", bad, got)
		}
	}
	if got := decodeChanges([]byte{0, 0, 0}); !got.Overflow {
		t.Errorf("truncated batch: %+v; want Overflow", got)
	}
}
