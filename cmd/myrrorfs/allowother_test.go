package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMountSharedWhenRoot: root's mount lets other users in, the modes
// shown deciding what they reach, as any root-owned filesystem does;
// --allow-other=false keeps it to root.
func TestMountSharedWhenRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount as root and act as another user")
	}
	for _, c := range []struct {
		flags  []string
		shared bool
	}{{nil, true}, {[]string{"--allow-other=false"}, false}} {
		t.Run(strings.Join(append([]string{"flags"}, c.flags...), " "), func(t *testing.T) {
			p := newPair(t, false)
			write(t, p.local, map[string]string{"pub": "p", "priv": "s"})
			os.Chmod(filepath.Join(p.local, "priv"), 0o600)
			if r := myrrorfs(t, append([]string{"sync", "-y"}, append(p.flags, p.local, p.remote)...)...); r.code != 0 {
				t.Fatalf("sync: %+v", r)
			}
			mnt, _ := mountView(t, p, c.flags...)
			// the test's private directories let other users reach mnt
			for d := filepath.Dir(mnt); d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
				os.Chmod(d, 0o755)
			}
			os.Chmod(mnt, 0o755)
			cat := func(name string) (string, error) {
				cmd := exec.Command("cat", filepath.Join(mnt, name))
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := cat("pub")
			if !c.shared {
				if err == nil {
					t.Fatalf("another user read a mount made with --allow-other=false: %q", out)
				}
				return
			}
			if err != nil || out != "p" {
				t.Fatalf("another user reads pub: %q, %v", out, err)
			}
			if out, err := cat("priv"); err == nil || !strings.Contains(out, "Permission denied") {
				t.Errorf("another user reads a file of mode 0600 owned by root: %q, %v", out, err)
			}
		})
	}
}
