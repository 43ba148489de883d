package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

// TestChecksumScenarios: with Options.Checksum a scan hashes every file on
// both sides (their count and bytes are the plan's Hashed and
// HashedBytes), decides what the default decides where fingerprints tell
// the truth (a local pair), and its compact plan carries out what its plan
// with every row does.
func TestChecksumScenarios(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 20
	}
	for seed := int64(1); seed <= int64(n); seed++ {
		checkChecksum(t, seed, true)
	}
}

// The same over ssh (plain SFTP: every remote file is downloaded), but
// for the default's decisions, which may miss a same-size edit made in the
// second of the last sync (remote fingerprints keep whole seconds).
func TestChecksumScenariosOverSSH(t *testing.T) {
	sshCommand, sshHost = testenv.SSH(t)
	defer func() { sshCommand, sshHost = "", "" }()
	for seed := int64(1); seed <= 8; seed++ {
		checkChecksum(t, seed, false)
	}
}

func checkChecksum(t *testing.T, seed int64, sameAsDefault bool) {
	t.Helper()
	sc := newScenario(t, seed)
	c := scanWith(t, sc, Options{Checksum: true})
	f := scanWith(t, sc, Options{Checksum: true, AllRows: true})
	if !c.Checksum || !f.Checksum {
		t.Fatalf("seed %d: plans do not say Checksum", seed)
	}
	for s, root := range []string{sc.local, sc.remote} {
		files, size := 0, int64(0)
		for _, desc := range readTree(t, root) {
			if strings.HasPrefix(desc, "f:") {
				files++
				size += int64(len(strings.Split(desc, ":")[1]))
			}
		}
		if c.Hashed[s] != files || c.HashedBytes[s] != size || f.Hashed[s] != files {
			t.Fatalf("seed %d: %s side holds %d files (%d bytes); hashed %d (%d bytes), with every row %d",
				seed, Side(s), files, size, c.Hashed[s], c.HashedBytes[s], f.Hashed[s])
		}
	}
	if c.Digest() != f.Digest() || c.Summarize() != f.Summarize() {
		t.Fatalf("seed %d: compact and full plans differ: %+v vs %+v", seed, c.Summarize(), f.Summarize())
	}
	if sameAsDefault {
		d := scanWith(t, sc, Options{})
		if got, want := topDecisions(c), topDecisions(d); got != want {
			t.Fatalf("seed %d: with --checksum\n%s\nby default\n%s", seed, got, want)
		}
	}
}

// topDecisions prints a plan's top decisions, one per line.
func topDecisions(pl *Plan) string {
	var b strings.Builder
	for _, d := range pl.Top() {
		fmt.Fprintf(&b, "%s %s %s\n", d.Path, d.Action, d.Kind)
	}
	return b.String()
}
