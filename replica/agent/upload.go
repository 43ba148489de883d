package agent

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"strings"
	"sync"
	"testing"

	pkgsftp "github.com/pkg/sftp"
	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/sftp"
)

// uploadOptions tune EnsureRemote; tests change where the binary goes.
type uploadOptions struct {
	sshCommand, host string
	binary           string // the local binary to upload; "" is os.Executable()
	cacheDir         string // remote directory of versioned binaries; "" is ~/.cache/myrrorfs
	ignorePath       bool   // upload even when myrrorfs is on the remote PATH
}

// EnsureRemote returns the command that runs myrrorfs on host: "myrrorfs"
// when it is on the remote PATH; otherwise, when the remote system and
// architecture (uname -s -m) are this binary's, it uploads this binary
// over SFTP to ~/.cache/myrrorfs/<content hash>/myrrorfs (unless it is
// already there) and returns that absolute path.
//
// When ssh cannot reach host the error is the one-line "connect to HOST:
// ..." that Dial would give; any other failure (a remote of another system,
// a failed upload) wraps ErrNoAgent, so that the caller can fall back to
// plain SFTP. A test binary is no myrrorfs: there, EnsureRemote connects
// nowhere and returns ErrNoAgent at once (tests name their agent).

func EnsureRemote(ctx context.Context, sshCommand, host string) (string, error) {
	return ensureRemote(ctx, uploadOptions{sshCommand: sshCommand, host: host})
}

// Upload is EnsureRemote without looking at the remote PATH (for a remote
// myrrorfs that speaks another protocol: see VersionError).
func Upload(ctx context.Context, sshCommand, host string) (string, error) {
	return ensureRemote(ctx, uploadOptions{sshCommand: sshCommand, host: host, ignorePath: true})
}

func ensureRemote(ctx context.Context, o uploadOptions) (string, error) {
	if o.binary == "" && testing.Testing() {
		return "", fmt.Errorf("upload myrrorfs to %s: %w: this program is a test binary, not myrrorfs", o.host, ErrNoAgent)
	}
	probe, err := probeRemote(ctx, o)
	if err != nil {
		return "", err
	}
	if probe.path != "" && !o.ignorePath {
		return "myrrorfs", nil
	}
	if !sameSystem(probe.uname) {
		return "", fmt.Errorf("upload myrrorfs to %s: %w: the remote is %q, this binary is %s/%s",
			o.host, ErrNoAgent, probe.uname, runtime.GOOS, runtime.GOARCH)
	}
	p, err := upload(ctx, o)
	if err != nil && !errors.Is(err, ErrNoAgent) {
		return "", fmt.Errorf("%w: %w", ErrNoAgent, err)
	}
	return p, err
}

// remoteProbe is what the remote shell said about itself.
type remoteProbe struct {
	path  string // where myrrorfs is on the remote PATH ("" if not)
	uname string // uname -s -m
}

// probeScript prints the remote PATH's myrrorfs and uname, one per line.
const probeScript = `printf 'path=%s\n' "$(command -v myrrorfs)"; printf 'uname=%s\n' "$(uname -s -m)"`

// probeRemote runs probeScript on the remote host. When ssh itself fails
// (unreachable host, unknown host key) the error is the one-line
// "connect to HOST: ..." Dial would give; any other failure wraps ErrNoAgent.
func probeRemote(ctx context.Context, o uploadOptions) (remoteProbe, error) {
	argv, err := sftp.SSHArgv(o.sshCommand, o.host, []string{"-T"}, probeScript)
	if err != nil {
		return remoteProbe{}, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		cause := firstNonEmpty(lastLine(stderr.String()), err.Error())
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == sshFailed {
			return remoteProbe{}, fmt.Errorf("connect to %s: %s", o.host, cause)
		}
		return remoteProbe{}, fmt.Errorf("probe %s: %w: %s", o.host, ErrNoAgent, cause)
	}
	return parseProbe(string(out)), nil
}

// parseProbe reads probeScript's output.
func parseProbe(out string) remoteProbe {
	var p remoteProbe
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "path="); ok {
			p.path = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "uname="); ok {
			p.uname = strings.TrimSpace(v)
		}
	}
	return p
}

// unameNames are the uname -s and -m values of each GOOS and GOARCH.
var (
	unameOS   = map[string][]string{"linux": {"Linux"}, "darwin": {"Darwin"}, "freebsd": {"FreeBSD"}, "openbsd": {"OpenBSD"}, "netbsd": {"NetBSD"}}
	unameArch = map[string][]string{"amd64": {"x86_64", "amd64"}, "arm64": {"aarch64", "arm64"}, "386": {"i386", "i686"},
		"arm": {"armv6l", "armv7l"}, "riscv64": {"riscv64"}, "ppc64le": {"ppc64le"}, "s390x": {"s390x"}}
)

// sameSystem reports whether uname (as "uname -s -m" prints it) is the
// system and architecture this binary runs on.
func sameSystem(uname string) bool {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return false
	}
	for _, os := range unameOS[runtime.GOOS] {
		for _, arch := range unameArch[runtime.GOARCH] {
			if f[0] == os && f[1] == arch {
				return true
			}
		}
	}
	return false
}

// upload copies the binary to the remote cache unless it is there already,
// and returns its absolute remote path.
func upload(ctx context.Context, o uploadOptions) (string, error) {
	bin := o.binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("upload myrrorfs to %s: find this binary: %w", o.host, err)
		}
		bin = exe
	}
	f, err := os.Open(bin)
	if err != nil {
		return "", fmt.Errorf("upload myrrorfs to %s: %w", o.host, err)
	}
	defer f.Close()
	sum, size, err := binaryHash(bin, f)
	if err != nil {
		return "", fmt.Errorf("upload myrrorfs to %s: read %s: %w", o.host, bin, err)
	}
	client, stop, err := dialSFTP(ctx, o)
	if err != nil {
		return "", err
	}
	defer stop()
	dir, err := cacheDir(client, o.cacheDir)
	if err != nil {
		return "", fmt.Errorf("upload myrrorfs to %s: %w", o.host, err)
	}
	dst := path.Join(dir, sum[:16], "myrrorfs")
	if fi, err := client.Lstat(dst); err == nil && fi.Mode().IsRegular() && fi.Size() == size && fi.Mode()&0o111 != 0 {
		return dst, nil
	}
	if err := putFile(client, f, dst, size); err != nil {
		return "", fmt.Errorf("upload myrrorfs to %s:%s: %w", o.host, dst, err)
	}
	return dst, nil
}

// hashFile returns the hex BLAKE3-256 of f's content and its size, and
// rewinds f.
func hashFile(f *os.File) (string, int64, error) {
	h := blake3.New(32, nil)
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// cacheDir is the absolute remote directory of versioned binaries.
func cacheDir(client *pkgsftp.Client, dir string) (string, error) {
	if path.IsAbs(dir) {
		return dir, nil
	}
	home, err := client.Getwd()
	if err != nil {
		return "", fmt.Errorf("remote home: %w", err)
	}
	if dir == "" {
		dir = remoteCacheDir
	}
	return path.Join(home, dir), nil
}

// putFile writes src (size bytes) to a temporary next to dst, makes it
// executable and renames it onto dst.
func putFile(client *pkgsftp.Client, src io.Reader, dst string, size int64) error {
	if err := client.MkdirAll(path.Dir(dst)); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	tmp := path.Join(path.Dir(dst), replica.TempName())
	err := writeRemote(client, src, tmp, size)
	if err == nil {
		err = client.PosixRename(tmp, dst)
	}
	if err != nil {
		client.Remove(tmp)
	}
	return err
}

// writeRemote creates tmp with src's size bytes, mode 0755.
func writeRemote(client *pkgsftp.Client, src io.Reader, tmp string, size int64) error {
	w, err := client.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	n, err := w.ReadFrom(src)
	if err == nil && n != size {
		err = fmt.Errorf("wrote %d bytes of %d", n, size)
	}
	if err == nil {
		err = w.Chmod(0o755)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// dialSFTP opens a plain SFTP session to o.host; stop ends it.
func dialSFTP(ctx context.Context, o uploadOptions) (*pkgsftp.Client, func(), error) {
	argv, err := sftp.SSHArgv(o.sshCommand, o.host, []string{"-s"}, "sftp")
	if err != nil {
		return nil, nil, err
	}
	proc, err := sftp.StartSSH(argv, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("upload myrrorfs to %s: %w", o.host, err)
	}
	stopOnCancel := context.AfterFunc(ctx, proc.Kill)
	client, err := sftp.NewClient(proc.Stdout(), proc.Stdin())
	if err != nil {
		stopOnCancel()
		proc.Close()
		return nil, nil, fmt.Errorf("upload myrrorfs to %s: %s", o.host, firstNonEmpty(proc.LastWords(), err.Error()))
	}
	return client, func() { stopOnCancel(); client.Close(); proc.Close() }, nil
}

// lastLine is the last non-blank line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// remoteCacheDir is where uploads go, relative to the remote home.
const remoteCacheDir = ".cache/myrrorfs"

// selfHash hashes this very binary once per process: a dial may look for
// its cached upload, probe the remote and upload, each needing the hash.
var selfHash = sync.OnceValues(func() (selfSum, error) {
	exe, err := os.Executable()
	if err != nil {
		return selfSum{}, fmt.Errorf("find this binary: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return selfSum{}, err
	}
	defer f.Close()
	sum, size, err := hashFile(f)
	if err != nil {
		return selfSum{}, fmt.Errorf("read %s: %w", exe, err)
	}
	return selfSum{exe, sum, size}, nil
})

// selfSum is this binary's path, content hash and size.
type selfSum struct {
	path, sum string
	size      int64
}

// binaryHash returns the hash and size of binary bin, open as f; for this
// very binary it reuses selfHash.
func binaryHash(bin string, f *os.File) (string, int64, error) {
	if s, err := selfHash(); err == nil && s.path == bin {
		return s.sum, s.size, nil
	}
	return hashFile(f)
}

// CachedCommand returns the remote command that runs this very binary from
// the remote cache where an upload puts it (relative to the remote home),
// without contacting the remote: trying it first costs one connection when
// an earlier run uploaded it. A test binary has none (ErrNoAgent).
func CachedCommand() (string, error) {
	if testing.Testing() {
		return "", fmt.Errorf("%w: this program is a test binary, not myrrorfs", ErrNoAgent)
	}
	s, err := selfHash()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoAgent, err)
	}
	return path.Join(remoteCacheDir, s.sum[:16], "myrrorfs"), nil
}
