package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A daemon's socket lies under the state directory the mount was made
// with. So that commands given only a mountpoint find it whatever that
// directory is, the daemon also leaves a record in a per-user runtime
// directory: a symbolic link named after the mountpoint (as its socket is)
// whose target is the socket. Only the user can write there, and a client
// talks only to a daemon running as itself (see Call), so no other user
// can redirect the commands.

// RuntimeDir returns the per-user directory of the records:
// $XDG_RUNTIME_DIR/myrrorfs when XDG_RUNTIME_DIR is set, else
// /run/user/UID/myrrorfs when /run/user/UID is a directory of the user,
// else myrrorfs-UID in the temporary directory (e.g. /tmp). It neither
// creates nor checks it (see checkRuntimeDir).
func RuntimeDir() (string, error) {
	uid := os.Geteuid()
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		if !filepath.IsAbs(x) {
			return "", fmt.Errorf("XDG_RUNTIME_DIR %q is not an absolute path", x)
		}
		return filepath.Join(x, "myrrorfs"), nil
	}
	run := filepath.Join("/run/user", strconv.Itoa(uid))
	if fi, err := os.Lstat(run); err == nil && fi.IsDir() && ownedBy(fi, uid) {
		return filepath.Join(run, "myrrorfs"), nil
	}
	return filepath.Join(os.TempDir(), "myrrorfs-"+strconv.Itoa(uid)), nil
}

// checkRuntimeDir checks that dir is a directory (not a symbolic link)
// that the user owns and that nobody else may write to or list.
func checkRuntimeDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	uid := os.Geteuid()
	switch {
	case !fi.IsDir():
		return fmt.Errorf("runtime directory %s is not a directory: not used", dir)
	case !ownedBy(fi, uid):
		return fmt.Errorf("runtime directory %s is owned by uid %d, not by you (uid %d): not used", dir, fi.Sys().(*syscall.Stat_t).Uid, uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("runtime directory %s is writable by others (mode %04o): not used", dir, fi.Mode().Perm())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("runtime directory %s is open to others (mode %04o): not used", dir, fi.Mode().Perm())
	}
	return nil
}

// ownedBy reports whether fi belongs to uid.
func ownedBy(fi os.FileInfo, uid int) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == uid
}

// recordName is the name of the record of mountpoint (canonical, see
// CanonicalMountpoint): the name of its socket.
func recordName(mountpoint string) string {
	return filepath.Base(SocketPath("/", mountpoint))
}

// Recorded returns the socket that the runtime directory records for the
// daemon of mountpoint (canonical), or "" when there is no record. An
// error says why the runtime directory cannot be trusted.
func Recorded(mountpoint string) (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	if err := checkRuntimeDir(dir); errors.Is(err, os.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	socket, err := os.Readlink(filepath.Join(dir, recordName(mountpoint)))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil || !filepath.IsAbs(socket) {
		return "", fmt.Errorf("record %s: not a link to a socket", filepath.Join(dir, recordName(mountpoint)))
	}
	return socket, nil
}

// Forget removes the record of mountpoint if it names socket, and socket
// itself if it is a socket of the user's that nothing answers on: what a
// daemon that died leaves.
func Forget(mountpoint, socket string) {
	if dir, err := RuntimeDir(); err == nil && checkRuntimeDir(dir) == nil {
		rec := filepath.Join(dir, recordName(mountpoint))
		if target, err := os.Readlink(rec); err == nil && target == socket {
			os.Remove(rec)
		}
	}
	if fi, err := os.Lstat(socket); err == nil && fi.Mode()&os.ModeSocket != 0 && ownedBy(fi, os.Geteuid()) && !answers(socket) {
		os.Remove(socket)
	}
}

// answers reports whether something accepts connections on socket.
func answers(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// record makes the runtime directory's record of mountpoint name socket,
// creating the directory (mode 0700) if need be, and removes the records
// that nothing answers on any more (their daemons died).
func record(mountpoint, socket string) (string, error) {
	dir, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	if err := checkRuntimeDir(dir); err != nil {
		return "", err
	}
	sweep(dir)
	rec := filepath.Join(dir, recordName(mountpoint))
	tmp := fmt.Sprintf("%s.%d.tmp", rec, os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(socket, tmp); err != nil {
		return "", fmt.Errorf("record the socket: %w", err)
	}
	if err := os.Rename(tmp, rec); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("record the socket: %w", err)
	}
	return rec, nil
}

// sweep removes the records of dir whose socket nothing answers on, and
// temporaries of records left by a crash.
func sweep(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") {
			if fi, err := os.Lstat(p); err == nil && time.Since(fi.ModTime()) > time.Minute {
				os.Remove(p)
			}
			continue
		}
		if target, err := os.Readlink(p); err == nil && !answers(target) {
			os.Remove(p)
		}
	}
}
