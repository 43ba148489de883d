package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrrorfs/myrrorfs/replica"
	"github.com/myrrorfs/myrrorfs/replica/local"
	rsftp "github.com/myrrorfs/myrrorfs/replica/sftp"
	"github.com/myrrorfs/myrrorfs/tree"
)

// manyFiles is the size of the fixture's big directory: more records than
// one listing batch holds.
const manyFiles = 3000

// makeFixture fills dir with one of everything a scan meets: nested
// directories, symlinks (to a file, to a directory, dangling), a fifo,
// special permission bits, times before 1970 and after 2106, internal
// names, paths to ignore and a directory bigger than a listing batch.
func makeFixture(t *testing.T, dir string) {
	t.Helper()
	files := map[string]os.FileMode{
		"a": 0o644, "d/f": 0o600, "d/e/g": 0o644, "exec": 0o755, "suid": 0o4755,
		"old": 0o644, "late": 0o644, "x.log": 0o644, "d/y.log": 0o644,
		".myrrorfs-tmp-0123456789abcdef": 0o600, "d/.myrrorfs-tmp-fedcba9876543210": 0o600,
		".myrrorfs-backup/a": 0o644, ".Trash-0/t": 0o644,
		"node_modules/m/i.js": 0o644,
	}
	for i := range manyFiles {
		files[fmt.Sprintf("many/%04d", i)] = 0o644
	}
	for p, mode := range files {
		full := filepath.Join(dir, p)
		mustDo(t, os.MkdirAll(filepath.Dir(full), 0o755))
		mustDo(t, os.WriteFile(full, []byte("content of "+p), 0o644))
		mustDo(t, os.Chmod(full, mode))
	}
	mustDo(t, os.Mkdir(filepath.Join(dir, "empty"), 0o700))
	mustDo(t, os.Chtimes(filepath.Join(dir, "old"), time.Time{}, time.Date(1960, 1, 2, 3, 4, 5, 6, time.UTC)))
	mustDo(t, os.Chtimes(filepath.Join(dir, "late"), time.Time{}, time.Date(2200, 1, 2, 3, 4, 5, 6, time.UTC)))
	for link, target := range map[string]string{"l": "a", "dl": "d", "d/dangling": "../nowhere"} {
		mustDo(t, os.Symlink(target, filepath.Join(dir, link)))
	}
	mustDo(t, syscall.Mkfifo(filepath.Join(dir, "d/fifo"), 0o644))
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ignoreLogs leaves out *.log files and node_modules directories.
func ignoreLogs(p string, isDir bool) bool {
	if isDir {
		return tree.Base(p) == "node_modules"
	}
	return strings.HasSuffix(p, ".log")
}

// walkOnly hides the agent's TreeLister, so that Scan walks it over SFTP
// (hashing through the agent still).
type walkOnly struct {
	replica.Replica
	replica.Hasher
}

// scanOrFail scans r.
func scanOrFail(t *testing.T, r replica.Replica, opt replica.ScanOptions) *replica.ScanResult {
	t.Helper()
	res, err := replica.Scan(context.Background(), r, opt)
	if err != nil {
		t.Fatalf("Scan %s: %v", r, err)
	}
	return res
}

// problemsOf lists res's problems as "path" or "path (warning)".
func problemsOf(res *replica.ScanResult) []string {
	var out []string
	for _, p := range res.Problems {
		out = append(out, p.Path+map[bool]string{true: " (warning)"}[p.Warning])
	}
	return out
}

// TestListTreeSameAsWalk scans a fixture through the agent's listing and
// by walking it over SFTP, hashing everything or nothing, and expects the
// same result in one agent request (plus the hashes).
func TestListTreeSameAsWalk(t *testing.T) {
	r, dir := dialTest(t)
	makeFixture(t, dir)
	for _, lazy := range []bool{false, true} {
		t.Run(fmt.Sprint("lazy=", lazy), func(t *testing.T) {
			opt := replica.ScanOptions{Ignore: ignoreLogs, LazyHash: lazy}
			walked := scanOrFail(t, walkOnly{r, r}, opt)
			before := r.AgentRequests()
			listed := scanOrFail(t, r, opt)
			if got, want := r.AgentRequests()-before, 1+int64(listed.Hashed); got != want {
				t.Errorf("listed scan made %d agent requests, want %d (one listing, %d hashes)", got, want, listed.Hashed)
			}
			if !slices.Equal(listed.Entries, walked.Entries) {
				t.Errorf("entries differ:\nlisted %v\nwalked %v", listed.Entries, walked.Entries)
			}
			if !slices.Equal(listed.Temps, walked.Temps) || !slices.Equal(problemsOf(listed), problemsOf(walked)) {
				t.Errorf("listed temps %q, problems %q; walked %q, %q",
					listed.Temps, problemsOf(listed), walked.Temps, problemsOf(walked))
			}
			if listed.Hashed != walked.Hashed {
				t.Errorf("listed scan hashed %d files, walk %d", listed.Hashed, walked.Hashed)
			}
			if len(listed.Entries) < manyFiles {
				t.Errorf("%d entries, want more than %d", len(listed.Entries), manyFiles)
			}
		})
	}
}

// TestListTreeSameAsLocal scans the fixture through the agent and as a
// local directory: the same entries, whole fingerprints included.
func TestListTreeSameAsLocal(t *testing.T) {
	r, dir := dialTest(t)
	makeFixture(t, dir)
	loc, err := local.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	opt := replica.ScanOptions{Ignore: ignoreLogs}
	remote, near := scanOrFail(t, r, opt), scanOrFail(t, loc, opt)
	if got, want := comparable(remote), comparable(near); !slices.Equal(got, want) {
		t.Errorf("entries through the agent differ from local ones:\nagent %v\nlocal %v", got, want)
	}
	if !slices.Equal(remote.Temps, near.Temps) || !slices.Equal(problemsOf(remote), problemsOf(near)) {
		t.Errorf("agent temps %q, problems %q; local %q, %q", remote.Temps, problemsOf(remote), near.Temps, problemsOf(near))
	}
	want := []string{".myrrorfs-tmp-0123456789abcdef", "d/.myrrorfs-tmp-fedcba9876543210"}
	if !slices.Equal(remote.Temps, want) || !slices.Equal(problemsOf(remote), []string{"d/fifo (warning)"}) {
		t.Errorf("temps %q, problems %q; want %q and the fifo", remote.Temps, problemsOf(remote), want)
	}
}

// comparable is what a local and a remote scan both know about each
// entry: everything, fingerprints included (the agent sends them whole).
func comparable(res *replica.ScanResult) []tree.Scanned {
	return res.Entries
}

// TestListTreeStopped stops listings early (fn fails, ctx ends) and then
// uses the connection again: the rest of each listing is thrown away
// without breaking it.
func TestListTreeStopped(t *testing.T) {
	r, dir := dialTest(t)
	makeFixture(t, dir)
	errStop := errors.New("stop")
	if err := r.ListTree(context.Background(), func(replica.Listed) error { return errStop }); err != errStop {
		t.Errorf("ListTree with fn failing = %v, want fn's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := r.ListTree(ctx, func(replica.Listed) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ListTree with ctx cancelled = %v, want context.Canceled", err)
	}
	if h, _, err := r.Hash("a"); err != nil || h != blake3Of([]byte("content of a")) {
		t.Errorf("Hash after stopped listings = %s, %v", h, err)
	}
	n := 0
	if err := r.ListTree(context.Background(), func(replica.Listed) error { n++; return nil }); err != nil || n < manyFiles {
		t.Errorf("full listing after stopped ones: %d entries, %v", n, err)
	}
}

// TestListTreeMissingRoot lists a root removed after Dial.
func TestListTreeMissingRoot(t *testing.T) {
	r, dir := dialTest(t)
	mustDo(t, os.Remove(dir))
	err := r.ListTree(context.Background(), func(replica.Listed) error { return nil })
	if !errors.Is(err, replica.ErrNotExist) {
		t.Errorf("ListTree of a removed root = %v, want ErrNotExist", err)
	}
}

// listConn connects to a fake agent that answers the first request with
// answer, and returns the client's Replica around the connection (no SFTP).
func listConn(t *testing.T, answer []byte) *Replica {
	t.Helper()
	a := startPipeAgent(t, func(r io.Reader, w io.Writer) { fakeAgent(r, w, answer) })
	c := newConn("testhost", a, a.toAgent)
	br := bufio.NewReader(a.fromAgent)
	mustDo(t, readGreeting(br, "testhost"))
	go c.readLoop(br)
	if _, err := c.waitHello(); err != nil {
		t.Fatal(err)
	}
	return &Replica{c: c}
}

// agentFrame is the frame carrying resp.
func agentFrame(resp response) []byte {
	p := resp.marshal()
	return frame(chanAgent, uint32(len(p)), p)
}

// TestListTreeHostile makes a fake agent answer a listing badly: ListTree
// fails at once and so does every later call.
func TestListTreeHostile(t *testing.T) {
	var good listEncoder
	good.add("", &listRecord{Name: "f", Kind: tree.File, Mode: 0o100644})
	bad := map[string][]byte{
		"truncated batch": agentFrame(response{ID: 1, Batch: good.take()[:9]}),
		"unknown kind":    agentFrame(response{ID: 1, Batch: encodeOne(listRecord{Name: "f", Kind: 9})}),
		"empty group":     agentFrame(response{ID: 1, Batch: []byte{0, 0, 0, 0, 0, 0, 0, 0}}),
		"batch, no end":   agentFrame(response{ID: 1, Batch: encodeOne(listRecord{Name: "f", Kind: tree.File})}),
	}
	for name, answer := range bad {
		t.Run(name, func(t *testing.T) {
			r := listConn(t, answer)
			done := make(chan error, 1)
			go func() { done <- r.ListTree(context.Background(), func(replica.Listed) error { return nil }) }()
			select {
			case err := <-done:
				if err == nil || strings.Contains(err.Error(), "\n") {
					t.Errorf("ListTree = %v, want a one-line error", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ListTree hangs")
			}
			if _, err := r.c.call(request{Op: opHash, Path: "f"}); !errors.Is(err, rsftp.ErrConnectionLost) {
				t.Errorf("later call = %v, want ErrConnectionLost", err)
			}
		})
	}
}

// encodeOne is a batch of rec alone, in the root.
func encodeOne(rec listRecord) []byte {
	var l listEncoder
	l.add("", &rec)
	return l.take()
}

// TestBatchForCallRefused: a batch answering a request that lists nothing
// breaks the connection.
func TestBatchForCallRefused(t *testing.T) {
	r := listConn(t, agentFrame(response{ID: 1, Batch: encodeOne(listRecord{Name: "f"})}))
	if _, err := r.c.call(request{Op: opHash, Path: "f"}); !errors.Is(err, rsftp.ErrConnectionLost) || !strings.Contains(err.Error(), "lists nothing") {
		t.Errorf("call answered by a batch = %v, want ErrConnectionLost saying why", err)
	}
}

// TestListTreeUnsupported: an agent without the request makes ListTree
// fail with ErrUnsupported, so that Scan walks instead.
func TestListTreeUnsupported(t *testing.T) {
	r := listConn(t, agentFrame(response{ID: 1, Err: &remoteError{Class: errUnsupported, Msg: "unknown agent operation 4"}}))
	err := r.ListTree(context.Background(), func(replica.Listed) error { t.Error("fn called"); return nil })
	if !errors.Is(err, replica.ErrUnsupported) {
		t.Errorf("ListTree = %v, want ErrUnsupported", err)
	}
}

// TestListEncoderSplitsGroups adds one directory's records over several
// batches and reads them back in order.
func TestListEncoderSplitsGroups(t *testing.T) {
	var l listEncoder
	var batches [][]byte
	var want []string
	for i := range 5000 {
		dir := fmt.Sprint("d", i/1500)
		want = append(want, dir+"/"+fmt.Sprint(i))
		l.add(dir, &listRecord{Name: fmt.Sprint(i), Kind: tree.Symlink, Target: "t", Err: map[bool]*remoteError{true: {Msg: "x"}}[i%7 == 0]})
		if l.size() >= batchTarget {
			batches = append(batches, l.take())
		}
	}
	batches = append(batches, l.take())
	var got []string
	for _, b := range batches {
		mustDo(t, decodeListing(b, func(dir string, rec *listRecord) error {
			got = append(got, dir+"/"+rec.Name)
			return nil
		}))
	}
	if len(batches) < 3 || !slices.Equal(got, want) {
		t.Errorf("%d batches gave %d records (want %d, in order)", len(batches), len(got), len(want))
	}
}

func FuzzDecodeListing(f *testing.F) {
	var l listEncoder
	l.add("", &listRecord{Name: "a", Kind: tree.File, Mode: 0o100644, Size: 3, MtimeNs: -5})
	l.add("d", &listRecord{Name: "l", Kind: tree.Symlink, Target: "../a"})
	l.add("d", &listRecord{Name: "x", Kind: tree.Dir, Err: &remoteError{Class: errNotExist, Msg: "gone"}})
	f.Add(l.take())
	f.Add([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		type rec struct {
			dir    string
			r      listRecord
			hasErr bool
			err    remoteError
		}
		collect := func(b []byte) ([]rec, error) {
			var out []rec
			err := decodeListing(b, func(dir string, r *listRecord) error {
				x := rec{dir: dir, r: *r, hasErr: r.Err != nil}
				if x.hasErr {
					x.err, x.r.Err = *r.Err, nil
				}
				out = append(out, x)
				return nil
			})
			return out, err
		}
		recs, err := collect(b)
		if err != nil {
			if !errors.Is(err, errBadMessage) {
				t.Fatalf("error %v does not wrap errBadMessage", err)
			}
			return
		}
		var l listEncoder
		for _, x := range recs {
			r := x.r
			if x.hasErr {
				r.Err = &x.err
			}
			l.add(x.dir, &r)
		}
		again, err := collect(l.take())
		if err != nil || !slices.Equal(again, recs) {
			t.Fatalf("re-encoded listing reads back as %v (%v), not %v", again, err, recs)
		}
	})
}
