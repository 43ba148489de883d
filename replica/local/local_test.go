package local

import (
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

func TestConformance(t *testing.T) {
	replicatest.Run(t, func(t *testing.T) (replica.Replica, string) {
		dir := t.TempDir()
		r, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return r, dir
	})
}
