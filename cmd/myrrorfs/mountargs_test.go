package main

import (
	"slices"
	"testing"
	"time"
)

// The background daemon is started with every flag the user gave mount.
func TestDaemonCommandPassesFlags(t *testing.T) {
	m := mountFlags{common: common{state: t.TempDir(), ssh: "ssh -p 2222", ignore: []string{"*.o"}, remoteMyrrorfs: "none"},
		debug: true, allowOther: true, rescan: 5 * time.Second}
	m.backups.KeepFor, m.backups.MaxSize = 7*day, 500
	cmd, _, err := daemonCommand(m, []string{"l", "h:r", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Stdout.(interface{ Close() error }).Close()
	for _, want := range [][]string{{"-f"}, {"--state", m.state}, {"-e", "ssh -p 2222"}, {"--rescan", "5s"},
		{"--debug"}, {"--allow-other=true"}, {"--ignore", "*.o"}, {"--remote-myrrorfs", "none"},
		{"--backup-keep-days", "7"}, {"--backup-max-size", "500"}} {
		i := slices.Index(cmd.Args, want[0])
		if i < 0 || (len(want) == 2 && (i+1 >= len(cmd.Args) || cmd.Args[i+1] != want[1])) {
			t.Errorf("daemon arguments %q lack %q", cmd.Args, want)
		}
	}
}
