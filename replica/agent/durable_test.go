package agent

import (
	"io"
	"sync"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/local"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

// The agent fsyncs every temporary written or copied and every directory
// changed. The agent runs in this process (over pipes) so that its fsyncs
// can be seen; the one sshd runs is another process.
func TestDurability(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	local.ObserveFsync(func(p string) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	})
	defer local.ObserveFsync(nil)
	synced := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
	replicatest.RunDurability(t, func(t *testing.T) (replica.Replica, string) {
		dir := t.TempDir()
		a := startPipeAgent(t, func(r io.Reader, w io.Writer) { Serve(r, w, dir) })
		r, err := openPipe(a)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return r, dir
	}, synced)
}
