package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/myrrorfs/myrrorfs/tree"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoDaemon means that no daemon answers on a mount's socket: the mount
// was never made with this state directory, or its daemon died.
var ErrNoDaemon = errors.New("no myrrorfs daemon answers")

// FSType is the file system type of a myrrorfs mount in /proc/self/mountinfo.
const FSType = "fuse.myrrorfs"

// Call sends req (its version set to ProtocolVersion) to the daemon
// listening on socket and returns its final response. progress, if not
// nil, receives the progress frames of a commit. Cancelling ctx hangs up,
// which cancels the request in the daemon. An error wrapping ErrNoDaemon
// means nothing listens on socket.
func Call(ctx context.Context, socket string, req Request, progress func(Progress)) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w on %s", ErrNoDaemon, socket)
		}
		return nil, fmt.Errorf("connect to %s: %w", socket, err)
	}
	defer c.Close()
	if err := samePeer(c, "daemon on "+socket); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	req.V = ProtocolVersion
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("send %s request to %s: %w", req.Op, socket, err)
	}
	return readResponse(ctx, c, socket, progress)
}

// samePeer checks that the process at the other end of the unix
// connection c (a "client" or a "daemon on S") runs as this process's
// user: no other user can answer a command, or send one to a daemon.
func samePeer(c net.Conn, who string) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("%s: not a unix socket", who)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return fmt.Errorf("%s: %w", who, err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		cerr = err
	}
	if cerr != nil {
		return fmt.Errorf("%s: its credentials: %w", who, cerr)
	}
	if uid := os.Geteuid(); int(cred.Uid) != uid {
		return fmt.Errorf("the %s runs as uid %d, not as uid %d: refused", who, cred.Uid, uid)
	}
	return nil
}

// readResponse reads frames from r until the final response.
func readResponse(ctx context.Context, r io.Reader, socket string, progress func(Progress)) (*Response, error) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the daemon on %s hung up without answering (see its log)", socket)
			}
			if errors.Is(err, syscall.ECONNRESET) {
				// the daemon died with our connection still in its
				// listening queue: nothing answers there any more
				return nil, fmt.Errorf("%w on %s (it died while we connected)", ErrNoDaemon, socket)
			}
			return nil, fmt.Errorf("read from %s: %w", socket, err)
		}
		var resp Response
		if err := json.Unmarshal(line, &resp); err != nil {
			return nil, fmt.Errorf("bad response from %s: %w", socket, err)
		}
		if resp.V != ProtocolVersion {
			return nil, fmt.Errorf("the daemon on %s speaks protocol version %d, not %d: unmount and mount again with this myrrorfs", socket, resp.V, ProtocolVersion)
		}
		if resp.Progress == nil {
			return &resp, nil
		}
		if progress != nil {
			progress(*resp.Progress)
		}
	}
}

// LogPath is the log file of the daemon serving mountpoint when it runs in
// the background: next to its socket, with the extension .log.
func LogPath(stateDir, mountpoint string) string {
	return strings.TrimSuffix(SocketPath(stateDir, mountpoint), ".sock") + ".log"
}

// CanonicalMountpoint returns the absolute path of p with the symlinks of
// its parent resolved. It never looks at p itself, so it works on a stale
// mount whose daemon died. SocketPath needs this form.
func CanonicalMountpoint(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	if abs == "/" {
		return abs, nil
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, unwrapPath(err))
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}

// unwrapPath drops the path of a *PathError, for messages that name it already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// MountInfo is one line of /proc/self/mountinfo.
type MountInfo struct {
	Mountpoint string // unescaped
	FSType     string
	Source     string // for myrrorfs, the remote spec
}

// ParseMountinfo parses the format of /proc/self/mountinfo, unescaping the
// octal escapes (\040 for a blank, …) of mountpoints and sources.
func ParseMountinfo(r io.Reader) ([]MountInfo, error) {
	var out []MountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			return nil, fmt.Errorf("mountinfo: malformed line %q", sc.Text())
		}
		out = append(out, MountInfo{Mountpoint: unescapeOctal(f[4]), FSType: f[sep+1], Source: unescapeOctal(f[sep+2])})
	}
	return out, sc.Err()
}

// unescapeOctal replaces the \NNN escapes of mountinfo by their bytes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Mounts returns the mounts of this process's mount namespace.
func Mounts() ([]MountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMountinfo(f)
}

// Lookup returns the last mount at exactly mountpoint (the one on top).
func Lookup(mounts []MountInfo, mountpoint string) (MountInfo, bool) {
	var found MountInfo
	ok := false
	for _, m := range mounts {
		if m.Mountpoint == mountpoint {
			found, ok = m, true
		}
	}
	return found, ok
}

// Holding returns the myrrorfs mount that holds dir: the one with the
// longest mountpoint that is dir or a parent of it.
func Holding(mounts []MountInfo, dir string) (MountInfo, bool) {
	var best MountInfo
	ok := false
	for _, m := range mounts {
		if m.FSType != FSType || !within(dir, m.Mountpoint) {
			continue
		}
		if !ok || len(m.Mountpoint) >= len(best.Mountpoint) {
			best, ok = m, true
		}
	}
	return best, ok
}

// within reports whether p is dir or under it.
func within(p, dir string) bool {
	return dir == "/" || p == dir || tree.IsUnder(p, dir)
}
