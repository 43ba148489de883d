package sftp

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/replica"
)

func TestSSHArgv(t *testing.T) {
	argv, err := SSHArgv(`ssh -i "my key"`, "user@h", []string{"-T"}, "echo hi")
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != "ssh" || argv[1] != "-i" || argv[2] != "my key" || !slices.Contains(argv, "-oBatchMode=yes") {
		t.Errorf("argv %q: want the split command first and batch mode", argv)
	}
	if tail := argv[len(argv)-3:]; !slices.Equal(tail, []string{"-T", "user@h", "echo hi"}) {
		t.Errorf("argv ends with %q, want the options, the host, then the remote command", tail)
	}
	if argv, _ := SSHArgv(" ", "h", nil); argv[0] != "ssh" {
		t.Errorf("blank command gives %q, want ssh", argv)
	}
	for _, bad := range []struct{ cmd, host string }{{"ssh", "-oProxyCommand=x"}, {"ssh", ""}, {`ssh "`, "h"}} {
		if _, err := SSHArgv(bad.cmd, bad.host, nil); err == nil {
			t.Errorf("SSHArgv(%q, %q) succeeded", bad.cmd, bad.host)
		}
	}
}

func TestFromClientRefusesRelativeRoot(t *testing.T) {
	_, err := FromClient(nil, nil, "h", "rel/dir")
	if err == nil || !strings.Contains(err.Error(), "h:rel/dir") {
		t.Errorf("FromClient with a relative root = %v, want an error naming h:rel/dir", err)
	}
}

// FromClient over a Dial's client and process serves another root of the
// same host, checked like Dial's; a parent swapped for a symlink is seen at
// once (nothing is cached).
func TestFromClient(t *testing.T) {
	r, dir := dialTest(t)
	sub := filepath.Join(dir, "sub")
	os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644)
	os.Mkdir(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "f"), []byte("hello"), 0o644)
	if _, err := FromClient(r.client, r.proc, "h", filepath.Join(dir, "nope")); !errors.Is(err, replica.ErrNotExist) {
		t.Errorf("FromClient of a missing root = %v, want ErrNotExist", err)
	}
	if _, err := FromClient(r.client, r.proc, "h", filepath.Join(dir, "file")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("FromClient of a file = %v, want not a directory", err)
	}
	r2, err := FromClient(r.client, r.proc, "h", dir+"/")
	if err != nil {
		t.Fatal(err)
	}
	if r2.String() != "h:"+dir || r2.Root() != dir {
		t.Errorf("String %q, Root %q; want h:%s and %s", r2.String(), r2.Root(), dir, dir)
	}
	if info, err := r2.Lstat("sub/f"); err != nil || info.Size != 5 {
		t.Fatalf("Lstat sub/f = %+v, %v", info, err)
	}
	os.Rename(sub, sub+".old") // behind the replica's back
	os.Symlink(sub+".old", sub)
	if _, err := r2.Lstat("sub/f"); !errors.Is(err, replica.ErrUnsafePath) {
		t.Errorf("Lstat through a parent swapped for a symlink = %v, want ErrUnsafePath", err)
	}
}
