package agent

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrrorfs/myrrorfs/replica/sftp"
)

// hangupGrace is how long the agent may go on after its input was closed
// (the connection ended) before it exits regardless.
const hangupGrace = 5 * time.Second

// stallEnv, when set in the agent's environment, makes it hang before its
// greeting as an agent stuck in the kernel would (for tests).
const stallEnv = "MYRRORFS_AGENT_TEST_STALL"

// ServeStdio is the agent process (`myrrorfs agent --root ROOT`): Serve on
// stdin and stdout, and an end of the process once the connection ends,
// even when a request is stuck (a hung filesystem): when stdin's writer
// is gone (ssh ended the session, or the client died) and Serve has not
// returned within a few seconds, the process exits with status 1.
func ServeStdio(root string) error {
	go func() {
		if waitHangup(int(os.Stdin.Fd())) {
			time.Sleep(hangupGrace)
			fmt.Fprintln(os.Stderr, "myrrorfs agent: the connection ended; exiting with requests unfinished")
			os.Exit(1)
		}
	}()
	if os.Getenv(stallEnv) != "" {
		select {}
	}
	// the pipes sshd made: a download through 64 KiB ones wakes sshd
	// and the agent every 64 KiB
	sftp.WidenPipe(os.Stdout)
	sftp.WidenPipe(os.Stdin)
	return Serve(os.Stdin, os.Stdout, root)
}

// waitHangup waits until the writer of fd is gone (POLLHUP, or POLLRDHUP
// for a socket) and reports whether it saw that; it never reads fd.
func waitHangup(fd int) bool {
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		_, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLRDHUP|unix.POLLERR) != 0 {
			return true
		}
		if fds[0].Revents&unix.POLLNVAL != 0 {
			return false
		}
	}
}
