package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/myrrorfs/myrrorfs/internal/shell"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/myrrorfs/myrrorfs/daemon"
	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/fusefs"
	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// readyEnv names the environment variable that tells a daemon started by
// `myrrorfs mount` which inherited file descriptor to report readiness on:
// "ok" once the mount is live, or the error's text.
const readyEnv = "MYRRORFS_READY_FD"

// mountFlags are the flags of `myrrorfs mount`.
type mountFlags struct {
	common
	foreground bool
	debug      bool
	allowOther bool
	rescan     time.Duration
	names      fusefs.NameStyle // --conflict-names
}

// nameStyleValue is the value of --conflict-names.
type nameStyleValue struct{ s *fusefs.NameStyle }

func (v nameStyleValue) String() string { return v.s.String() }
func (v nameStyleValue) Type() string   { return "suffix|ext" }
func (v nameStyleValue) Set(s string) error {
	st, err := fusefs.ParseNameStyle(s)
	if err != nil {
		return err
	}
	*v.s = st
	return nil
}

func newMount() *cobra.Command {
	var m mountFlags
	cmd := &cobra.Command{
		Use:   "mount [flags] LOCAL REMOTE MOUNTPOINT",
		Short: "Mount the merged view of LOCAL and REMOTE at MOUNTPOINT",
		Long: `Mount the merged view of LOCAL and REMOTE at MOUNTPOINT: every path shows
the version that should win, a conflict shows as NAME.local and NAME.remote
(and NAME.merged, the merge of two edited text files with conflict markers;
with --conflict-names ext, report.local.docx and so on). Nothing reaches
the remote before myrrorfs commit.

mount returns once the view is live and leaves a daemon in the background
(like sshfs); it logs to <state>/mounts/<id>.log and answers status,
conflicts, commit and unmount on the socket <state>/mounts/<id>.sock,
which it records in the user's runtime directory ($XDG_RUNTIME_DIR/myrrorfs)
so that those commands find it from MOUNTPOINT alone.
With -f it stays in the foreground and logs to standard error. The daemon
unmounts on SIGTERM or SIGINT, and exits when the view is unmounted.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 3 {
				return fmt.Errorf("mount needs three arguments, LOCAL, REMOTE and MOUNTPOINT; got %d (see myrrorfs mount --help)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if m.foreground {
				return runDaemon(m, args, readyPipe())
			}
			return daemonize(m, args)
		},
	}
	m.register(cmd)
	m.registerMode(cmd)
	m.registerBackups(cmd)
	f := cmd.Flags()
	f.BoolVarP(&m.foreground, "foreground", "f", false, "stay in the foreground and log to standard error")
	f.BoolVar(&m.debug, "debug", false, "log every FUSE request")
	// root's mount is shared as any root-owned filesystem is, the modes
	// deciding who reaches what; another user's is private, as sshfs's
	f.BoolVar(&m.allowOther, "allow-other", os.Geteuid() == 0, "let other users use the mount, with the kernel checking the modes and owners shown (-o allow_other,default_permissions); on by default when run as root, --allow-other=false keeps the mount to its user")
	f.Var(nameStyleValue{&m.names}, "conflict-names", "how a conflict's versions are named in the view: suffix (report.docx.local, report.docx.remote, report.docx.merged) or ext, keeping the extension last so that the right program opens them (report.local.docx, report.remote.docx, report.merged.docx)")
	f.DurationVar(&m.rescan, "rescan", time.Hour, "interval of the full rescans of both sides, a safety net: changes are watched as they happen (a side that cannot be watched is rescanned every 30s)")
	return cmd
}

func newUnmount() *cobra.Command {
	var c common
	cmd := &cobra.Command{
		Use:   "unmount [flags] MOUNTPOINT",
		Short: "Unmount a view; uncommitted changes stay in LOCAL",
		Long: `Ask the mount's daemon to unmount MOUNTPOINT and exit. When no daemon
answers (it was killed, and the mountpoint says "transport endpoint is not
connected"), unmount it directly. Uncommitted changes stay in LOCAL and
resolutions in the journal: mount again, or sync, to carry on.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("unmount needs one argument, MOUNTPOINT; got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnmount(context.Background(), c, args[0])
		},
	}
	c.register(cmd)
	return cmd
}

// stateDir returns the absolute state directory of the flags.
func stateDir(c common) (string, error) {
	if c.state == "" {
		return engine.DefaultStateDir(), nil
	}
	abs, err := filepath.Abs(c.state)
	if err != nil {
		return "", fmt.Errorf("--state %s: %w", c.state, err)
	}
	return abs, nil
}

// daemonize starts this program again as the mount's daemon, in its own
// session, and waits until it reports that the mount is live (nil) or why
// it failed (that text as the error).
func daemonize(m mountFlags, args []string) error {
	child, logPath, err := daemonCommand(m, args)
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("mount: pipe: %w", err)
	}
	defer r.Close()
	child.ExtraFiles = []*os.File{w}
	child.Env = append(os.Environ(), readyEnv+"=3")
	err = child.Start()
	w.Close()
	child.Stdout.(*os.File).Close()
	if err != nil {
		return fmt.Errorf("mount: start the daemon: %w", err)
	}
	stop := forwardSignals(child.Process)
	defer stop()
	msg, _ := io.ReadAll(r)
	if s := strings.TrimSpace(string(msg)); s == "ok" {
		return nil
	} else if s != "" {
		child.Wait()
		return errors.New(s)
	}
	werr := child.Wait()
	return fmt.Errorf("mount %s: the daemon ended before the mount was live (%v); see %s", args[2], werr, logPath)
}

// daemonCommand prepares the daemon's command: the same mount in the
// foreground with absolute paths (it runs in /), its output going to the
// mount's log file. It returns the log file's path.
func daemonCommand(m mountFlags, args []string) (*exec.Cmd, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", fmt.Errorf("mount: find this program: %w", err)
	}
	state, err := stateDir(m.common)
	if err != nil {
		return nil, "", err
	}
	mnt, err := daemon.CanonicalMountpoint(args[2])
	if err != nil {
		return nil, "", err
	}
	logPath := daemon.LogPath(state, mnt)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, "", fmt.Errorf("mount: log directory: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("mount: log file: %w", err)
	}
	a := []string{"mount", "-f", "--state", state, "-e", m.ssh, "--rescan", m.rescan.String(), "--mode", m.policy.Mode.String(), "--merge", mergeValue{&m.noMerge}.String(), "--merge-max-size", strconv.FormatInt(m.mergeMax, 10), "--conflict-names", m.names.String(),
		"--backup-keep-days", daysValue{&m.backups.KeepFor}.String(), "--backup-max-size", strconv.FormatInt(m.backups.MaxSize, 10)}
	if m.debug {
		a = append(a, "--debug")
	}
	a = append(a, "--allow-other="+strconv.FormatBool(m.allowOther))
	if m.remoteMyrrorfs != "" {
		a = append(a, "--remote-myrrorfs", m.remoteMyrrorfs)
	}
	if m.unsafeSFTP {
		a = append(a, "--unsafe-sftp-writes")
	}
	for _, ig := range m.ignore {
		a = append(a, "--ignore", ig)
	}
	a = append(a, "--", absArg(args[0]), absRemote(args[1]), mnt)
	cmd := exec.Command(exe, a...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logf, logf // stdin: /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd, logPath, nil
}

// absArg makes a path absolute, leaving it alone when that fails.
func absArg(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// absRemote makes a local REMOTE absolute; a host:path stays as given.
func absRemote(p string) string {
	if s, err := engine.ParseSpec(p); err == nil && !s.IsRemote() {
		return absArg(p)
	}
	return p
}

// forwardSignals sends SIGTERM to p when this process gets SIGINT or
// SIGTERM, so an interrupted mount does not leave a daemon behind.
func forwardSignals(p *os.Process) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			p.Signal(syscall.SIGTERM)
		case <-done:
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// readyPipe returns the readiness pipe named by readyEnv, or nil.
func readyPipe() *os.File {
	fd, err := strconv.Atoi(os.Getenv(readyEnv))
	if err != nil || fd < 3 {
		return nil
	}
	os.Unsetenv(readyEnv)
	return os.NewFile(uintptr(fd), "ready")
}

// report tells the waiting parent, if any, that the mount is live (err
// nil) or why it failed, then closes the pipe.
func report(ready *os.File, err error) {
	if ready == nil {
		return
	}
	msg := "ok"
	if err != nil {
		msg = daemon.OneLine(err.Error())
	}
	fmt.Fprintln(ready, msg)
	ready.Close()
}

// logf writes a timestamped line to the daemon's log (standard error).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s myrrorfs[%d]: %s\n", time.Now().Format(time.RFC3339), os.Getpid(), fmt.Sprintf(format, args...))
}

// runDaemon mounts the view, serves the socket and waits until the view is
// unmounted (by a request, a signal or umount), then releases everything.
// It reports readiness on ready when not nil.
func runDaemon(m mountFlags, args []string, ready *os.File) error {
	srv, d, err := startDaemon(m, args)
	report(ready, err)
	if err != nil {
		return err
	}
	logf("mounted %s and %s at %s (socket %s)", args[0], args[1], d.Mountpoint(), srv.Path())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	gone := make(chan struct{})
	go func() { d.Wait(); close(gone) }()
	select {
	case <-gone:
		logf("%s was unmounted", d.Mountpoint())
	case sig := <-sigs:
		logf("%v: unmounting %s", sig, d.Mountpoint())
		if err := d.Unmount(); err != nil {
			logf("unmount %s: %v", d.Mountpoint(), err)
		}
		<-gone
	}
	srv.Shutdown()
	if err := d.Close(); err != nil {
		logf("close the pair: %v", err)
	}
	srv.Close() // last: `myrrorfs unmount` waits for the socket to vanish
	logf("stopped")
	return nil
}

// startDaemon listens on the mount's socket and starts the mount; a signal
// meanwhile cancels the start.
func startDaemon(m mountFlags, args []string) (*daemon.Server, *daemon.Daemon, error) {
	state, err := stateDir(m.common)
	if err != nil {
		return nil, nil, err
	}
	mnt, err := daemon.CanonicalMountpoint(args[2])
	if err != nil {
		return nil, nil, err
	}
	srv, err := daemon.Listen(daemon.SocketPath(state, mnt))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", args[2], err)
	}
	if err := srv.Record(mnt); err != nil {
		logf("commands on %s will need --state %s: %v", mnt, state, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	d, err := daemon.Start(ctx, daemon.Options{
		Local: args[0], Remote: args[1], Mountpoint: mnt,
		Engine: engine.Options{StateDir: state, SSHCommand: m.ssh, Ignore: m.ignore, RemoteMyrrorfs: m.remoteMyrrorfs, UnsafeSFTPWrites: m.unsafeSFTP, Policy: m.policy, NoMerge: m.noMerge, MergeLimit: m.mergeMax, Backups: m.backups, Stderr: os.Stderr, Warn: warnLine},
		Rescan: m.rescan, Debug: m.debug, AllowOther: m.allowOther, ConflictNames: m.names, Log: os.Stderr,
	})
	if err != nil {
		srv.Close()
		return nil, nil, damagedHint(err, m.common, args[0], args[1])
	}
	go srv.Serve(d)
	return srv, d, nil
}

// runUnmount unmounts mountpoint through its daemon, or directly when no
// daemon answers, and returns once it is no longer a mount.
func runUnmount(ctx context.Context, c common, arg string) error {
	mnt, err := daemon.CanonicalMountpoint(arg)
	if err != nil {
		return err
	}
	if err := isMyrrorfsMount(arg, mnt); err != nil {
		return err
	}
	socket, _, err := daemonSocket(c, mnt)
	if err != nil {
		return err
	}
	resp, err := daemon.Call(ctx, socket, daemon.Request{Op: daemon.OpUnmount}, nil)
	switch {
	case errors.Is(err, daemon.ErrNoDaemon):
		return detach(arg, mnt, socket)
	case err != nil:
		return err
	case resp.Error != "":
		return errors.New(resp.Error)
	}
	if err := waitUnmounted(mnt, 10*time.Second); err != nil {
		return fmt.Errorf("unmount %s: %w", arg, err)
	}
	waitRemoved(socket, 5*time.Second) // the daemon closes the pair first
	return nil
}

// detach unmounts mnt (given as arg) lazily, as a killed daemon left it,
// and removes the daemon's dead socket and its record.
func detach(arg, mnt, socket string) error {
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", arg, err)
	}
	daemon.Forget(mnt, socket)
	if err := waitUnmounted(mnt, 10*time.Second); err != nil {
		return fmt.Errorf("unmount %s: %w", arg, err)
	}
	return nil
}

// isMyrrorfsMount checks that mnt (given as arg) is a myrrorfs mount.
func isMyrrorfsMount(arg, mnt string) error {
	mounts, err := daemon.Mounts()
	if err != nil {
		return err
	}
	m, ok := daemon.Lookup(mounts, mnt)
	if !ok {
		return fmt.Errorf("%s: not mounted", arg)
	}
	if m.FSType != daemon.FSType {
		return fmt.Errorf("%s: not a myrrorfs mount (its type is %s)", arg, m.FSType)
	}
	return nil
}

// waitUnmounted waits until mnt no longer appears among the mounts.
func waitUnmounted(mnt string, limit time.Duration) error {
	for end := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		mounts, err := daemon.Mounts()
		if err != nil {
			return err
		}
		if _, ok := daemon.Lookup(mounts, mnt); !ok {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("still mounted after %v", limit)
		}
	}
}

// waitRemoved waits, at most limit, until path does not exist.
func waitRemoved(path string, limit time.Duration) {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}

// target is the mount a status, conflicts or commit addresses.
type target struct {
	arg, mnt, socket string
	note             string // why the runtime directory's record was not used
}

// daemonSocket returns the socket of the daemon of mnt (canonical): under
// --state when it is given, else the one the user's runtime directory
// records for mnt (the daemon leaves it there, whatever its state
// directory), else the one under the default state directory. note says
// why the runtime directory could not be trusted, if it could not.
func daemonSocket(c common, mnt string) (socket, note string, err error) {
	if c.state != "" {
		state, err := stateDir(c)
		if err != nil {
			return "", "", err
		}
		return daemon.SocketPath(state, mnt), "", nil
	}
	rec, err := daemon.Recorded(mnt)
	switch {
	case err != nil:
		note = daemon.OneLine(err.Error())
	case rec != "":
		return rec, "", nil
	}
	return daemon.SocketPath(engine.DefaultStateDir(), mnt), note, nil
}

// mountTarget finds the mount named by args (a MOUNTPOINT), or with no
// args the myrrorfs mount that holds the current directory.
func mountTarget(c common, args []string) (target, error) {
	var t target
	var err error
	if len(args) == 1 {
		t.arg = args[0]
		if t.mnt, err = daemon.CanonicalMountpoint(args[0]); err != nil {
			return target{}, err
		}
		if err := isMyrrorfsMount(args[0], t.mnt); err != nil {
			return target{}, fmt.Errorf("%w (give LOCAL and REMOTE for a pair that is not mounted)", err)
		}
	} else {
		if t.mnt, err = holdingMount(); err != nil {
			return target{}, err
		}
		t.arg = t.mnt
	}
	at, err := targetAt(c, t.mnt)
	at.arg = t.arg
	return at, err
}

// targetAt is the daemon of the myrrorfs mount at mnt (canonical).
func targetAt(c common, mnt string) (target, error) {
	sock, note, err := daemonSocket(c, mnt)
	if err != nil {
		return target{}, err
	}
	return target{arg: mnt, mnt: mnt, socket: sock, note: note}, nil
}

// holdingMount returns the myrrorfs mount that holds the current directory.
func holdingMount() (string, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("current directory: %w", err)
	}
	mounts, err := daemon.Mounts()
	if err != nil {
		return "", err
	}
	m, ok := daemon.Holding(mounts, cwd)
	if !ok {
		return "", fmt.Errorf("%s is not inside a myrrorfs mount: give a MOUNTPOINT (or LOCAL and REMOTE)", cwd)
	}
	return m.Mountpoint, nil
}

// call sends req to the daemon of t. Interrupting the command hangs up,
// which cancels the request (a commit stops safely).
func (t target) call(req daemon.Request, progress func(daemon.Progress)) (*daemon.Response, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	resp, err := daemon.Call(ctx, t.socket, req, progress)
	if errors.Is(err, daemon.ErrNoDaemon) {
		note := ""
		if t.note != "" {
			note = t.note + "; "
		}
		return nil, fmt.Errorf("%s: no myrrorfs daemon answers on %s (%sif it was mounted with --state, pass the same; if its daemon died, run myrrorfs unmount %s)", t.arg, t.socket, note, t.arg)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.arg, err)
	}
	return resp, nil
}

// mountHolder finds the mountpoint in a "pair is in use by mount at …" error.
var mountHolder = regexp.MustCompile(`in use by mount at (.+) \(pid \d+\)`)

// holder is the process holding a pair that a command can go through: a
// mount (its mountpoint) or a sync --watch (its socket).
type holder struct {
	mount string  // the mountpoint, for a mount
	watch *target // the socket, for a sync --watch
}

// heldBy returns the process holding the pair of LOCAL and REMOTE when err,
// the error of opening that pair, says it is in use by a mount or by a
// sync --watch that can be reached; ok is false otherwise.
func heldBy(err error, c common, local, remote string) (h holder, ok bool) {
	if !errors.Is(err, journal.ErrLocked) {
		return h, false
	}
	if m := mountHolder.FindStringSubmatch(err.Error()); m != nil {
		return holder{mount: m[1]}, true
	}
	if strings.Contains(err.Error(), "sync --watch") {
		if sock, serr := watchSocket(c, local, remote); serr == nil {
			return holder{watch: &target{arg: "sync --watch of " + local, socket: sock}}, true
		}
	}
	return h, false
}

// heldByMount adds to a "pair is in use" error held by a mount how to go
// through that mount instead: commit for sync, the mountpoint for others.
func heldByMount(err error, c common, holder string) error {
	if !errors.Is(err, journal.ErrLocked) {
		return err
	}
	m := mountHolder.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	cmd := strings.TrimPrefix(holder, "myrrorfs ")
	if cmd == "sync" {
		cmd = "commit"
	}
	state := ""
	if c.state != "" {
		state = " --state " + shell.Quote(c.state)
	}
	return fmt.Errorf("%w; go through the mount: myrrorfs %s%s %s", err, cmd, state, shell.Quote(m[1]))
}
