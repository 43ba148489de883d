package sftp

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/replicatest"
)

// sftpServers are where OpenSSH's sftp-server lives on common systems.
var sftpServers = []string{"/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server", "/usr/lib/ssh/sftp-server"}

// serverLog is the log OpenSSH's sftp-server writes on stderr with -e.
type serverLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *serverLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// fsyncs returns the paths of the server's `fsync "PATH"` lines.
func (l *serverLog) fsyncs() []string {
	l.mu.Lock()
	text := l.buf.String()
	l.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if q, ok := strings.CutPrefix(line, "fsync "); ok {
			if p, err := strconv.Unquote(q); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// dialLogged opens a replica of a fresh directory through the test sshd,
// served by OpenSSH's sftp-server run as a command with its log (level
// VERBOSE, which names every fsync it makes) on stderr.
func dialLogged(t *testing.T, log *serverLog) (*Replica, string) {
	sshCmd, host := testenv.SSH(t)
	server := ""
	for _, s := range sftpServers {
		if _, err := os.Stat(s); err == nil {
			server = s
			break
		}
	}
	if server == "" {
		t.Skip("OpenSSH's sftp-server not found")
	}
	dir := testenv.SSHRemoteDir(t)
	argv, err := SSHArgv(sshCmd, host, []string{"-T"}, server+" -e -l VERBOSE")
	if err != nil {
		t.Fatal(err)
	}
	proc, err := StartSSH(argv, log)
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewClient(proc.Stdout(), proc.Stdin())
	if err != nil {
		proc.Close()
		t.Fatalf("SFTP over %s: %v", server, err)
	}
	r, err := FromClient(client, proc, host, dir)
	if err != nil {
		client.Close()
		proc.Close()
		t.Fatal(err)
	}
	r.AllowUnsafeWrites()
	return r, dir
}

// The server receives fsync@openssh.com for every temporary written and
// every directory changed, as its own log shows.
func TestDurability(t *testing.T) {
	log := &serverLog{}
	replicatest.RunDurability(t, func(t *testing.T) (replica.Replica, string) {
		return dialLogged(t, log)
	}, log.fsyncs)
}
