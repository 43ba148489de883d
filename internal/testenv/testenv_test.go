package testenv

import (
	"os"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of acting.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = true
	r.msg = toString(args)
}

func (r *recorder) Fatal(args ...any) {
	r.failed = true
	r.msg = toString(args)
}

func toString(args []any) string {
	var b strings.Builder
	for _, a := range args {
		if s, ok := a.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

func TestSSHMissingSkipsOutsideCI(t *testing.T) {
	t.Setenv(EnvSSH, "")
	t.Setenv(EnvHost, "")
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	SSH(r)
	if !r.skipped || r.failed {
		t.Fatalf("skipped=%v failed=%v, want a skip", r.skipped, r.failed)
	}
	if !strings.Contains(r.msg, "scripts/test.sh") {
		t.Errorf("skip message %q does not say to run scripts/test.sh", r.msg)
	}
}

func TestSSHMissingFailsInCI(t *testing.T) {
	t.Setenv(EnvSSH, "")
	t.Setenv(EnvHost, "")
	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	SSH(r)
	if !r.failed || r.skipped {
		t.Fatalf("skipped=%v failed=%v, want a failure", r.skipped, r.failed)
	}
}

func TestSSHPresent(t *testing.T) {
	t.Setenv(EnvSSH, "ssh -F cfg")
	t.Setenv(EnvHost, "h")
	r := &recorder{TB: t}
	cmd, host := SSH(r)
	if r.skipped || r.failed || cmd != "ssh -F cfg" || host != "h" {
		t.Fatalf("SSH = %q, %q (skipped=%v failed=%v)", cmd, host, r.skipped, r.failed)
	}
}

func TestSSHRemoteDirIsFreshAndEmpty(t *testing.T) {
	t.Setenv(EnvSSH, "ssh")
	t.Setenv(EnvHost, "h")
	a, b := SSHRemoteDir(t), SSHRemoteDir(t)
	if a == b {
		t.Fatalf("two calls returned the same directory %q", a)
	}
	ents, err := os.ReadDir(a)
	if err != nil || len(ents) != 0 {
		t.Fatalf("ReadDir(%q) = %v, %v; want an empty directory", a, ents, err)
	}
}

func TestFUSEMatchesDevice(t *testing.T) {
	t.Setenv("CI", "")
	r := &recorder{TB: t}
	FUSE(r)
	err := fuseUsable()
	if (err != nil) != r.skipped {
		t.Fatalf("fuseUsable() = %v but skipped = %v", err, r.skipped)
	}
}
