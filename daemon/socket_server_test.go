package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// fakeMount is a Mount for the pure tests of the request handlers.
type fakeMount struct {
	plan      *engine.Plan
	res       *engine.Result
	err       error
	unmounted bool
	progress  []int64 // what Commit reports to ApplyOptions.Progress
	checkErr  error   // what the check passed to Commit returned
}

func (f *fakeMount) Rescan(context.Context) (*engine.Plan, error) { return f.plan, f.err }

func (f *fakeMount) Commit(ctx context.Context, check func(*engine.Plan) error, opt engine.ApplyOptions) (*engine.Plan, *engine.Result, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	if f.checkErr = check(f.plan); f.checkErr != nil {
		return f.plan, nil, f.checkErr
	}
	for _, n := range f.progress {
		opt.Progress(n)
	}
	return f.plan, f.res, nil
}

func (f *fakeMount) Unmount() error     { f.unmounted = true; return nil }
func (f *fakeMount) Mountpoint() string { return "/mnt/x" }

func (f *fakeMount) Siblings(path string) (string, string) { return path + ".local", path + ".remote" }

func file(content string) tree.Entry {
	return tree.Entry{Kind: tree.File, Perm: 0o644, Size: int64(len(content)), Hash: tree.Hash{content[0]}}
}

// samplePlan has one path to the remote, one conflict, one warning and
// one failure.
func samplePlan() *engine.Plan {
	return &engine.Plan{
		Decisions: []reconcile.Decision{
			{Item: reconcile.Item{Path: "a", Local: file("local a")}, Action: reconcile.ToRemote},
			{Item: reconcile.Item{Path: "c", Local: file("lc"), Remote: file("rc")}, Action: reconcile.Conflict, Kind: reconcile.ModifyModify},
			{Item: reconcile.Item{Path: "e", Local: file("e"), Remote: file("e")}, Action: reconcile.Equal},
		},
		Problems: []engine.Problem{
			{Side: engine.LocalSide, Path: "fifo", Err: errors.New("special file"), Warning: true},
			{Side: engine.RemoteSide, Path: "secret", Err: errors.New("permission denied")},
		},
		BaseCount: 1, Counts: [2]int{3, 2},
	}
}

func TestHandleStatusText(t *testing.T) {
	r := Handle(context.Background(), &fakeMount{plan: samplePlan()}, Request{V: ProtocolVersion, Op: OpStatus}, nil)
	if r.Error != "" || r.Code != 1 {
		t.Fatalf("a failed path must give code 1 and no error: %+v", r)
	}
	for _, want := range []string{"to remote (1):", "create  a", "conflicts modify/modify (1):", "  c"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("status text lacks %q:\n%s", want, r.Text)
		}
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "fifo") || len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "remote secret: permission denied") {
		t.Fatalf("warnings %q failures %q", r.Warnings, r.Failures)
	}
}

func TestHandleStatusJSON(t *testing.T) {
	m := &fakeMount{plan: samplePlan()}
	for _, all := range []bool{false, true} {
		r := Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpStatus, JSON: true, All: all}, nil)
		var paths []string
		for _, line := range strings.Split(strings.TrimSpace(r.Text), "\n") {
			var d engine.DecisionJSON
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			paths = append(paths, d.Path+":"+d.Action)
		}
		want := "a:to-remote c:conflict"
		if all {
			want += " e:equal"
		}
		if got := strings.Join(paths, " "); got != want {
			t.Fatalf("all=%v: %s, want %s", all, got, want)
		}
	}
}

func TestHandleConflicts(t *testing.T) {
	m := &fakeMount{plan: samplePlan()}
	r := Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpConflicts}, nil)
	if got := strings.Fields(r.Text); strings.Join(got, " ") != "modify/modify c (in the view: c.local, c.remote)" {
		t.Fatalf("conflicts text %q", r.Text)
	}
	r = Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpConflicts, JSON: true}, nil)
	if !strings.Contains(r.Text, `"kind":"modify/modify"`) || strings.Contains(r.Text, `"path":"a"`) {
		t.Fatalf("conflicts json %q", r.Text)
	}
}

func TestHandlePlanCountsAndSafety(t *testing.T) {
	r := Handle(context.Background(), &fakeMount{plan: samplePlan()}, Request{V: ProtocolVersion, Op: OpPlan}, nil)
	if r.Summary == nil || r.Summary.ToRemote != 1 || r.Summary.Conflicts != 1 || r.Summary.Bytes != int64(len("local a")) {
		t.Fatalf("summary %+v", r.Summary)
	}
	emptied := samplePlan()
	emptied.Counts[1] = 0
	r = Handle(context.Background(), &fakeMount{plan: emptied}, Request{V: ProtocolVersion, Op: OpPlan}, nil)
	if r.Code != 1 || !strings.Contains(r.Error, "remote side is empty") {
		t.Fatalf("emptied side not refused: %+v", r)
	}
	r = Handle(context.Background(), &fakeMount{plan: emptied}, Request{V: ProtocolVersion, Op: OpPlan, Force: true}, nil)
	if r.Error != "" || r.Summary == nil {
		t.Fatalf("force: %+v", r)
	}
}

func TestHandleCommitCodes(t *testing.T) {
	conflict := samplePlan().Decisions[1]
	cases := []struct {
		name string
		res  engine.Result
		code int
	}{
		{"in sync", engine.Result{Applied: 2, Bytes: 10}, 0},
		{"conflicts", engine.Result{Applied: 1, Conflicts: []reconcile.Decision{conflict}}, 3},
		{"failure wins", engine.Result{Conflicts: []reconcile.Decision{conflict}, Problems: []engine.Problem{{Path: "x", Err: errors.New("boom")}}}, 1},
		{"warning only", engine.Result{Problems: []engine.Problem{{Path: "x", Err: errors.New("fifo"), Warning: true}}}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &fakeMount{plan: samplePlan(), res: &c.res, progress: []int64{3, 4}}
			var frames []Progress
			r := Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpCommit}, func(r Response) error {
				frames = append(frames, *r.Progress)
				return nil
			})
			if r.Code != c.code || r.Applied != c.res.Applied || r.Progress != nil {
				t.Fatalf("code %d (want %d): %+v", r.Code, c.code, r)
			}
			if len(r.Conflicts) != len(c.res.Conflicts) || (len(r.Conflicts) > 0 && r.Conflicts[0] != "modify/modify c") {
				t.Fatalf("conflicts %q", r.Conflicts)
			}
			var total, bytes int64
			for _, f := range frames {
				total += f.Total
				bytes += f.Bytes
			}
			if len(frames) == 0 || frames[0].Total != int64(len("local a")) || total != frames[0].Total || bytes != 7 {
				t.Fatalf("progress frames %+v", frames)
			}
		})
	}
}

func TestHandleCommitRefusesEmptiedSide(t *testing.T) {
	emptied := samplePlan()
	emptied.Counts[0] = 0
	m := &fakeMount{plan: emptied, res: &engine.Result{}}
	r := Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpCommit}, func(Response) error { return nil })
	if r.Code != 1 || !strings.Contains(r.Error, "local side is empty") || m.checkErr == nil {
		t.Fatalf("%+v", r)
	}
}

func TestHandleErrors(t *testing.T) {
	m := &fakeMount{err: errors.New("connect to host: refused\nssh said so")}
	r := Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpStatus}, nil)
	if r.Code != 1 || r.Error != "connect to host: refused ssh said so" {
		t.Fatalf("rescan error: %+v", r)
	}
	r = Handle(context.Background(), m, Request{V: 2, Op: OpStatus}, nil)
	if r.Code != 1 || !strings.Contains(r.Error, "protocol version 2") {
		t.Fatalf("version: %+v", r)
	}
	r = Handle(context.Background(), m, Request{V: ProtocolVersion, Op: "explode"}, nil)
	if !strings.Contains(r.Error, `unknown request "explode"`) {
		t.Fatalf("unknown op: %+v", r)
	}
	if r := Handle(context.Background(), m, Request{V: ProtocolVersion, Op: OpUnmount}, nil); r.Error != "" || !m.unmounted {
		t.Fatalf("unmount: %+v", r)
	}
}

// shortTemp returns a directory whose socket paths fit in sun_path.
func shortTemp(t *testing.T) string {
	dir, err := os.MkdirTemp("", "mfs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestCallDeadSocket(t *testing.T) {
	dir := shortTemp(t)
	sock := filepath.Join(dir, "s.sock")
	if _, err := Call(context.Background(), sock, Request{Op: OpStatus}, nil); !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), sock) {
		t.Fatalf("missing socket: %v", err)
	}
	// a socket file nobody listens on, as a killed daemon leaves it
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Call(context.Background(), sock, Request{Op: OpStatus}, nil); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("dead socket: %v", err)
	}
	// Listen replaces it
	s, err := Listen(sock)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	go s.Serve(&fakeMount{plan: samplePlan()})
	resp, err := Call(context.Background(), sock, Request{Op: OpInfo}, nil)
	if err != nil || resp.Pid != os.Getpid() || resp.Mountpoint != "/mnt/x" {
		t.Fatalf("info: %+v %v", resp, err)
	}
	// a second server on a live socket is refused
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Fatalf("second Listen: %v", err)
	}
	s.Shutdown()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("Shutdown removed the socket: %v", err)
	}
	if _, err := Call(context.Background(), sock, Request{Op: OpInfo}, nil); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("after Shutdown: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left the socket: %v", err)
	}
}

func TestListenMakesPrivateDirectory(t *testing.T) {
	sock := filepath.Join(shortTemp(t), "mounts", "x.sock")
	s, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := os.Stat(filepath.Dir(sock))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory: %v %v", st.Mode(), err)
	}
}

// blockingMount holds a commit until its context ends.
type blockingMount struct {
	fakeMount
	started chan struct{}
	ended   chan error
}

func (b *blockingMount) Commit(ctx context.Context, check func(*engine.Plan) error, opt engine.ApplyOptions) (*engine.Plan, *engine.Result, error) {
	close(b.started)
	<-ctx.Done()
	b.ended <- ctx.Err()
	return nil, nil, ctx.Err()
}

// A client that hangs up cancels its request in the daemon.
func TestHangUpCancelsCommit(t *testing.T) {
	sock := filepath.Join(shortTemp(t), "s.sock")
	s, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &blockingMount{started: make(chan struct{}), ended: make(chan error, 1)}
	go s.Serve(m)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-m.started; cancel() }()
	if _, err := Call(ctx, sock, Request{Op: OpCommit}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Call: %v", err)
	}
	select {
	case err := <-m.ended:
		if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the commit went on after the client hung up")
	}
}

func TestParseMountinfo(t *testing.T) {
	const info = `22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw
36 22 0:40 / /home/u/my\040mount rw,nosuid,nodev shared:5 - fuse.myrrorfs host:dir\040x rw,user_id=0
37 36 0:41 / /home/u/my\040mount/inner rw - fuse.myrrorfs /srv/r rw
38 22 0:42 / /home/u/my\040mountain rw - fuse.myrrorfs h:y rw
39 22 0:43 / /proc rw - proc proc rw
`
	ms, err := ParseMountinfo(strings.NewReader(info))
	if err != nil || len(ms) != 5 {
		t.Fatalf("%v %v", ms, err)
	}
	if ms[1].Mountpoint != "/home/u/my mount" || ms[1].FSType != FSType || ms[1].Source != "host:dir x" {
		t.Fatalf("unescaped %+v", ms[1])
	}
	cases := map[string]string{
		"/home/u/my mount":           "/home/u/my mount",
		"/home/u/my mount/a/b":       "/home/u/my mount",
		"/home/u/my mount/inner/x":   "/home/u/my mount/inner",
		"/home/u/my mountain/z":      "/home/u/my mountain",
		"/home/u/my mount-other/dir": "",
		"/proc/self":                 "",
	}
	for dir, want := range cases {
		m, ok := Holding(ms, dir)
		if ok != (want != "") || m.Mountpoint != want {
			t.Errorf("Holding(%q) = %q %v, want %q", dir, m.Mountpoint, ok, want)
		}
	}
	if _, err := ParseMountinfo(strings.NewReader("1 2 3\n")); err == nil {
		t.Fatal("malformed line accepted")
	}
	if got := unescapeOctal(`a\134b\011c\`); got != "a\\b\tc\\" {
		t.Fatalf("unescape %q", got)
	}
}

func TestCanonicalMountpointOfStaleLooksNoFurther(t *testing.T) {
	dir := shortTemp(t)
	link := filepath.Join(dir, "link")
	os.Mkdir(filepath.Join(dir, "real"), 0o755)
	os.Symlink("real", link)
	// the last component is never resolved (it may be a dead mount)
	got, err := CanonicalMountpoint(filepath.Join(link, "missing-mnt"))
	real, _ := filepath.EvalSymlinks(filepath.Join(dir, "real"))
	if err != nil || got != filepath.Join(real, "missing-mnt") {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := CanonicalMountpoint(filepath.Join(dir, "nope", "m")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("missing parent: %v", err)
	}
}

// The server in front of a real mount: status, commit, unmount.
func TestServerOnRealMount(t *testing.T) {
	testenv.FUSE(t)
	dir := t.TempDir()
	local, remote, state, mnt := filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "s"), filepath.Join(dir, "m")
	for _, d := range []string{local, remote, mnt} {
		os.Mkdir(d, 0o755)
	}
	os.WriteFile(filepath.Join(local, "a"), []byte("hello"), 0o644)
	d, err := Start(context.Background(), Options{Local: local, Remote: remote, Mountpoint: mnt,
		Engine: engine.Options{StateDir: state}, Rescan: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Unmount(); d.Wait(); d.Close() })
	sock := SocketPath(state, d.Mountpoint())
	s, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go s.Serve(d)

	if err := os.WriteFile(filepath.Join(mnt, "b"), []byte("made in the view"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Call(context.Background(), sock, Request{Op: OpStatus}, nil)
	if err != nil || st.Code != 0 || !strings.Contains(st.Text, "create  a") || !strings.Contains(st.Text, "create  b") {
		t.Fatalf("status: %+v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(remote, "b")); err == nil {
		t.Fatal("the mount wrote to the remote before commit")
	}
	var got int64
	res, err := Call(context.Background(), sock, Request{Op: OpCommit}, func(p Progress) { got += p.Bytes })
	if err != nil || res.Code != 0 || res.Applied != 2 || got != int64(len("hello")+len("made in the view")) {
		t.Fatalf("commit: %+v %v (progress %d)", res, err, got)
	}
	if b, _ := os.ReadFile(filepath.Join(remote, "b")); string(b) != "made in the view" {
		t.Fatalf("remote b = %q", b)
	}
	if r, err := Call(context.Background(), sock, Request{Op: OpUnmount}, nil); err != nil || r.Error != "" {
		t.Fatalf("unmount: %+v %v", r, err)
	}
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the view is still mounted after an unmount request")
	}
}
