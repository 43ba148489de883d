package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// modeOf returns the permission and special bits of path, as stat shows
// them, in octal.
func modeOf(t *testing.T, path string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return "<" + err.Error() + ">"
	}
	return fmt.Sprintf("%04o", st.Mode&0o7777)
}

// TestCreationModes: entries created through the view get the mode the
// caller asked for with the caller's umask applied, and nothing more
// (the daemon's own umask does not apply); setuid, setgid and sticky bits
// are kept; and the view's stat shows what LOCAL holds, a mode 0000
// included.
func TestCreationModes(t *testing.T) {
	f := setup(t, scenario{base: gBase})
	// a separate process with its own umask: the daemon serving the mount
	// runs in this one
	mustSh(t, f.mnt, `umask 0
perl -MFcntl -e '
sub mk { sysopen(my $f, $_[0], O_CREAT|O_WRONLY|O_EXCL, $_[1]) or die "$_[0]: $!" }
mk("f0620", 0620); mk("f4755", 04755); mk("f2755", 02755); mk("f0000", 0); mk("f0666", 0666);
mkdir("d0777", 0777) or die; mkdir("d1777", 01777) or die;
umask 022; mk("u0666", 0666); mkdir("u0777", 0777) or die;'
mkfifo q0666 && mknod n0666 p
: > c && chmod 0 c`)
	want := map[string]string{
		"f0620": "0620", "f4755": "4755", "f2755": "2755", "f0000": "0000", "f0666": "0666",
		"d0777": "0777", "d1777": "1777", "u0666": "0644", "u0777": "0755", "q0666": "0666", "n0666": "0666", "c": "0000",
	}
	for _, p := range sortedKeys(want) {
		if got := modeOf(t, filepath.Join(f.local, p)); got != want[p] {
			t.Errorf("local %s: mode %s, want %s", p, got, want[p])
		}
		if got := modeOf(t, filepath.Join(f.mnt, p)); got != want[p] {
			t.Errorf("view %s: mode %s, want %s", p, got, want[p])
		}
	}
	// ls in a separate process sees the same (no cached attributes differ)
	out := mustSh(t, f.mnt, "stat -c '%a %n' f0000 c d1777")
	if got := strings.Fields(out); strings.Join(got, " ") != "0 f0000 0 c 1777 d1777" {
		t.Errorf("stat in the view: %q", out)
	}
	if _, err := os.Stat(filepath.Join(f.remote, "f0620")); err == nil {
		t.Errorf("the mount wrote to the remote")
	}
}

// asNobody runs a shell script in dir as user and group 65534, as another
// user of the machine would.
func asNobody(t *testing.T, dir, script string) (string, error) {
	t.Helper()
	return sh(t, "/", `exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'cd "$1" && eval "$2"' sh `+shellQuote(dir)+" "+shellQuote(script))
}

// TestAllowOther: by default only the user who mounted reaches the mount;
// with allow_other every user does, entries they create are theirs, and
// the kernel checks their permissions against the modes shown.
func TestAllowOther(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allowOther=%v", allow), func(t *testing.T) {
			f := setup(t, scenario{base: gBase, allowOther: allow})
			// let other users reach the mountpoint through the test's
			// private directories
			for d := filepath.Dir(f.mnt); d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
				os.Chmod(d, 0o755)
			}
			out, err := asNobody(t, f.mnt, "cat keep")
			if !allow {
				if err == nil {
					t.Fatalf("another user read the mount without allow_other: %q", out)
				}
				return
			}
			if err != nil || out != "k" {
				t.Fatalf("another user reads keep: %q, %v", out, err)
			}
			if out, err := asNobody(t, f.mnt, "printf x >> keep"); err == nil {
				t.Errorf("another user wrote to a file of mode 0644 owned by root: %q", out)
			}
			mustSh(t, f.mnt, "mkdir pub && chmod 1777 pub")
			if out, err := asNobody(t, f.mnt, "umask 022 && printf n > pub/mine && mkdir pub/dir"); err != nil {
				t.Fatalf("another user creates in a 1777 directory: %v\n%s", err, out)
			}
			for _, p := range []string{"pub/mine", "pub/dir"} {
				for _, root := range []string{f.local, f.mnt} {
					var st syscall.Stat_t
					if err := syscall.Lstat(filepath.Join(root, p), &st); err != nil {
						t.Fatal(err)
					}
					if st.Uid != 65534 || st.Gid != 65534 {
						t.Errorf("%s/%s: owner %d:%d, want 65534:65534", root, p, st.Uid, st.Gid)
					}
				}
			}
			check(t, "local", f.local, map[string]string{"pub/mine": "n", "keep": "k"})
			if got := modeOf(t, filepath.Join(f.mnt, "pub/mine")); got != "0644" {
				t.Errorf("pub/mine: mode %s, want 0644", got)
			}
		})
	}
}

// TestReadOnlySiblings: p.remote and the entries inside d.remote refuse
// writes, and say so before any write: no write bits in their mode,
// access(W_OK) fails, GIO reports them as not writable. p.local, d.local
// and remote-backed entries that copy-up on write stay writable.
func TestReadOnlySiblings(t *testing.T) {
	f := setup(t, scenario{
		base:     map[string]string{"p": "base", "d/x": "base", "d/s/y": "base", "e/z": "base", "r": "base", "keep": "k"},
		local:    map[string]string{"p": "L", "e/z": "L"},
		remote:   map[string]string{"p": "R", "d/x": "R", "r": "R"},
		localRm:  []string{"d"},
		remoteRm: []string{"e"},
	})
	if got := lsMount(t, f.mnt); got != "d.remote/ e.local/ keep p.local p.merged p.remote r" {
		t.Fatalf("view = %q", got)
	}
	readOnly := []string{"p.remote", "d.remote", "d.remote/x", "d.remote/s", "d.remote/s/y"}
	writable := []string{"p.local", "p.merged", "e.local", "e.local/z", "r", "keep"}
	for _, p := range readOnly {
		if m := modeOf(t, filepath.Join(f.mnt, p)); strings.ContainsAny(m[len(m)-3:], "2367") {
			t.Errorf("%s: mode %s has write bits", p, m)
		}
		if err := syscall.Access(filepath.Join(f.mnt, p), 2); err == nil {
			t.Errorf("%s: access(W_OK) succeeds", p)
		}
		if err := syscall.Access(filepath.Join(f.mnt, p), 4); err != nil {
			t.Errorf("%s: access(R_OK): %v", p, err)
		}
	}
	for _, p := range writable {
		if m := modeOf(t, filepath.Join(f.mnt, p)); !strings.ContainsAny(m[len(m)-3:len(m)-2], "2367") {
			t.Errorf("%s: mode %s lacks the owner's write bit", p, m)
		}
		if err := syscall.Access(filepath.Join(f.mnt, p), 2); err != nil {
			t.Errorf("%s: access(W_OK): %v", p, err)
		}
	}
	out := mustSh(t, f.mnt, `for p in p.remote d.remote/x d.remote p.local r; do printf '%s %s\n' "$p" "$(gio info -a access::can-write "$p" | sed -n 's/.*access::can-write: //p')"; done`)
	want := "p.remote FALSE\nd.remote/x FALSE\nd.remote FALSE\np.local TRUE\nr TRUE\n"
	if out != want {
		t.Errorf("gio info access::can-write:\n%s\nwant\n%s", out, want)
	}
	// the shell's test -w asks the kernel too
	mustSh(t, f.mnt, `! test -w p.remote && ! test -w d.remote/x && test -w p.local && test -w r`)
}
