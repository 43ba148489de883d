package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/reconcile"
)

// ProtocolVersion is the version of the socket protocol spoken here. Every
// request and response carries it as "v"; a request of another version is
// refused with an error response.
const ProtocolVersion = 1

// Operations a request may name.
const (
	OpStatus    = "status"    // rescan both sides; the plan as text or JSON lines
	OpConflicts = "conflicts" // rescan both sides; the conflicts as text or JSON lines
	OpPlan      = "plan"      // rescan both sides; the plan text and its counts
	OpCommit    = "commit"    // rescan both sides and apply the plan
	OpUnmount   = "unmount"   // unmount the view; the daemon then exits
	OpInfo      = "info"      // the daemon's pid and mountpoint
	OpResolve   = "resolve"   // resolve a conflict as the view's gestures do
	OpDescribe  = "describe"  // rescan both sides; describe conflicts for resolve
	OpBackups   = "backups"   // the versions of Path in both sides' backup areas
	OpRestore   = "restore"   // put Version back into LOCAL
)

// Request is one line a client sends: a JSON object ending in a newline.
type Request struct {
	V     int    `json:"v"`
	Op    string `json:"op"`
	JSON  bool   `json:"json,omitempty"`  // status, conflicts: JSON lines instead of text
	All   bool   `json:"all,omitempty"`   // status with JSON: equal paths too
	Force bool   `json:"force,omitempty"` // plan, commit: skip the deletion safety checks
	// MaxDelete: plan, commit: the share (percent) of a side's synced
	// files a commit may delete; 0 means engine.DefaultMaxDelete.
	MaxDelete int `json:"max_delete,omitempty"`
	// Digest: commit: the digest of the plan the user approved (from a
	// plan response); the commit is refused if the plan differs now.
	Digest string `json:"digest,omitempty"`
	// Path: resolve, describe: the conflict, as bytes (a name need not
	// be UTF-8): a path in LOCAL, or with View a path in the view (see
	// Resolver). Keep: resolve: local, remote or both. All: describe:
	// every conflict at Path or under it.
	Path []byte `json:"path,omitempty"`
	View bool   `json:"view,omitempty"`
	Keep string `json:"keep,omitempty"`
	// N: log: how many entries, newest first; 0 means all.
	N int `json:"n,omitempty"`
	// Path is also, for backups, a path of the pair. Version: restore:
	// the version to put back.
	Version *BackupVersion `json:"version,omitempty"`
	// Paths: diff: the paths to compare (see OpDiff).
	Paths [][]byte `json:"paths,omitempty"`
}

// Progress is a commit's progress, streamed before the final response:
// first a frame with Total (the bytes the plan copies), then frames with
// the Bytes copied since the previous frame.
type Progress struct {
	Total int64 `json:"total,omitempty"`
	Bytes int64 `json:"bytes,omitempty"`
}

// Response is one line the daemon sends. A commit may be preceded by
// frames whose Progress is set; the final response has Progress nil.
type Response struct {
	V        int       `json:"v"`
	Progress *Progress `json:"progress,omitempty"`
	// Error is the request's failure as one line; Code is then 1.
	Error string `json:"error,omitempty"`
	// Code is the exit status a command reports for this response: 0 done
	// (for commit: both sides identical), 3 conflicts remain (commit only),
	// 1 an error or a path that could not be brought in step.
	Code int `json:"code"`
	// Text is the plan (status, plan), the conflicts (conflicts) or JSON
	// lines (status, conflicts with JSON).
	Text     string          `json:"text,omitempty"`
	Warnings []string        `json:"warnings,omitempty"` // paths left alone that do not fail the run
	Failures []string        `json:"failures,omitempty"` // paths that could not be scanned or brought in step
	Summary  *engine.Summary `json:"summary,omitempty"`  // plan, commit: the plan in numbers
	Digest   string          `json:"digest,omitempty"`   // plan: the plan's digest, for the commit request
	// Changed: commit: nothing was applied because the plan is no longer
	// the one approved (a side changed after it was shown).
	Changed bool `json:"changed,omitempty"`
	// Commit's outcome.
	Applied   int      `json:"applied,omitempty"`
	Bytes     int64    `json:"bytes,omitempty"`
	Conflicts []string `json:"conflicts,omitempty"` // "KIND PATH" of conflicts left untouched
	// Resolve's outcome, and the conflicts described.
	Resolved  *Resolved   `json:"resolved,omitempty"`
	Described []Described `json:"described,omitempty"`
	// NotConflict: resolve, describe: Path names no conflict (Error says
	// why), inside the conflict on directory Under (bytes) when set.
	NotConflict bool   `json:"not_conflict,omitempty"`
	Under       []byte `json:"under,omitempty"`
	// Backups' versions, newest first, and what a restore did.
	Versions []BackupVersion `json:"versions,omitempty"`
	Restored *Restored       `json:"restored,omitempty"`
	// Diffs: diff: the answer for each path (see OpDiff).
	Diffs []DiffAnswer `json:"diffs,omitempty"`
	// Info.
	Pid        int    `json:"pid,omitempty"`
	Mountpoint string `json:"mountpoint,omitempty"`
}

// Mount is what the server needs from a running mount; *Daemon is one.
type Mount interface {
	Rescan(ctx context.Context) (*engine.Plan, error)
	Commit(ctx context.Context, check func(*engine.Plan) error, opt engine.ApplyOptions) (*engine.Plan, *engine.Result, error)
	Unmount() error
	Mountpoint() string
	// Siblings returns the names under which the view shows a conflict's
	// two versions ("" for a side that has none).
	Siblings(path string) (local, remote string)
}

// SplitProblems returns the texts of the problems that are warnings and of
// those that are failures, each on one line.
func SplitProblems(probs []engine.Problem) (warnings, failures []string) {
	for _, p := range probs {
		s := OneLine(p.Error())
		if p.Warning {
			warnings = append(warnings, s)
		} else {
			failures = append(failures, s)
		}
	}
	return warnings, failures
}

// OneLine joins the lines of s and squeezes its blanks (a message on one line).
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errorResponse is the response to a failed request.
func errorResponse(err error) Response {
	return Response{V: ProtocolVersion, Code: 1, Error: OneLine(err.Error())}
}

// planResponse fills the parts every plan-based response shares: the
// problems, and code 1 when one of them is a failure.
func planResponse(plan *engine.Plan) Response {
	r := Response{V: ProtocolVersion}
	r.Warnings, r.Failures = SplitProblems(plan.Problems)
	if len(r.Failures) > 0 {
		r.Code = 1
	}
	return r
}

// WriteStatus prints a plan as `myrrorfs status` does: grouped text,
// ending with the check level (Plan.CheckLine), or JSON lines (equal paths
// and paths inside a conflict only with all).
func WriteStatus(w io.Writer, plan *engine.Plan, asJSON, all bool) error {
	if !asJSON {
		plan.WriteText(w)
		if !plan.Checksum { // WriteText says it otherwise
			_, err := fmt.Fprintln(w, plan.CheckLine())
			return err
		}
		return nil
	}
	return plan.WriteJSON(w, all, func(d reconcile.Decision) bool { return all || d.Action != reconcile.Equal })
}

// WriteConflicts prints a plan's conflicts as `myrrorfs conflicts` does:
// "KIND PATH" lines, followed on a mount by the names the view shows the
// versions (and the merge) under (siblings may be nil), or JSON lines.
func WriteConflicts(w io.Writer, plan *engine.Plan, asJSON bool, siblings func(string) []string) error {
	if asJSON {
		return plan.WriteJSON(w, false, func(d reconcile.Decision) bool { return d.Action == reconcile.Conflict })
	}
	for _, d := range plan.Conflicts() {
		line := fmt.Sprintf("%-14s %s", d.Kind, engine.QuotePath(d.Path))
		if siblings != nil {
			var names []string
			for _, n := range siblings(d.Path) {
				if n != "" {
					names = append(names, engine.QuotePath(n))
				}
			}
			if len(names) > 0 {
				line += "  (in the view: " + strings.Join(names, ", ") + ")"
			}
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// HandleStatus rescans both sides and returns what WriteStatus prints.
func HandleStatus(ctx context.Context, m Mount, req Request) Response {
	return textResponse(ctx, m, func(w io.Writer, plan *engine.Plan) error {
		return WriteStatus(w, plan, req.JSON, req.All)
	})
}

// HandleConflicts rescans both sides and returns what WriteConflicts prints.
func HandleConflicts(ctx context.Context, m Mount, req Request) Response {
	return textResponse(ctx, m, func(w io.Writer, plan *engine.Plan) error {
		return WriteConflicts(w, plan, req.JSON, conflictNames(m))
	})
}

// textResponse rescans both sides and answers with the plan's counts and
// the text write prints.
func textResponse(ctx context.Context, m Mount, write func(io.Writer, *engine.Plan) error) Response {
	plan, err := m.Rescan(ctx)
	if err != nil {
		return errorResponse(err)
	}
	r := planResponse(plan)
	var b strings.Builder
	if err := write(&b, plan); err != nil {
		return errorResponse(err)
	}
	r.Text = b.String()
	return r
}

// HandlePlan rescans both sides and returns the plan text and counts, for
// commit's confirmation. Unless req.Force, a plan that would mirror an
// emptied side is refused.
func HandlePlan(ctx context.Context, m Mount, req Request) Response {
	plan, err := m.Rescan(ctx)
	if err != nil {
		return errorResponse(err)
	}
	if err := req.checkDeletes(plan); err != nil {
		return errorResponse(err)
	}
	r := planResponse(plan)
	var b strings.Builder
	plan.WriteText(&b)
	r.Text = b.String()
	sum := plan.Summarize()
	r.Summary = &sum
	r.Digest = plan.Digest()
	return r
}

// checkDeletes runs the plan's deletion safety checks, unless req.Force.
func (req Request) checkDeletes(plan *engine.Plan) error {
	if req.Force {
		return nil
	}
	max := req.MaxDelete
	if max == 0 {
		max = engine.DefaultMaxDelete
	}
	return plan.CheckDeletes(max)
}

// errChanged refuses a commit whose plan is not the one approved.
var errChanged = errors.New("the plan changed since it was shown (a side changed meanwhile); nothing was applied")

// HandleCommit rescans both sides and applies the plan, sending progress
// frames through send. With req.Digest, the plan must be the one approved
// (the digest of an earlier plan response): otherwise nothing is applied
// and the response says Changed.
// The response's Code follows sync: 0 both sides identical, 3 conflicts
// remain, 1 a path failed (Failures names them) or the commit failed.
func HandleCommit(ctx context.Context, m Mount, req Request, send func(Response) error) Response {
	pr := newProgressSender(send)
	check := func(plan *engine.Plan) error {
		if err := req.checkDeletes(plan); err != nil {
			return err
		}
		if req.Digest != "" && plan.Digest() != req.Digest {
			return errChanged
		}
		pr.total(plan.Summarize().Bytes)
		return nil
	}
	plan, res, err := m.Commit(ctx, check, engine.ApplyOptions{Progress: pr.add})
	pr.flush()
	if err != nil && res == nil {
		r := errorResponse(err)
		r.Changed = errors.Is(err, errChanged)
		return r
	}
	r := Response{V: ProtocolVersion, Applied: res.Applied, Bytes: res.Bytes}
	sum := plan.Summarize()
	r.Summary = &sum
	r.Warnings, r.Failures = SplitProblems(res.Problems)
	for _, d := range res.Conflicts {
		r.Conflicts = append(r.Conflicts, fmt.Sprintf("%s %s", d.Kind, d.Path))
	}
	switch {
	case err != nil:
		r.Code, r.Error = 1, OneLine(err.Error())
	case len(r.Failures) > 0:
		r.Code = 1
	case len(r.Conflicts) > 0:
		r.Code = 3
	}
	return r
}

// HandleUnmount unmounts the view; the daemon then shuts down.
func HandleUnmount(m Mount) Response {
	if err := m.Unmount(); err != nil {
		return errorResponse(fmt.Errorf("unmount %s: %w", m.Mountpoint(), err))
	}
	return Response{V: ProtocolVersion}
}

// Handle serves one request. send delivers the progress frames of a commit
// before Handle returns the final response.
func Handle(ctx context.Context, m Mount, req Request, send func(Response) error) Response {
	if req.V != ProtocolVersion {
		return errorResponse(fmt.Errorf("protocol version %d not supported by this daemon (it speaks %d): use the myrrorfs that mounted %s", req.V, ProtocolVersion, m.Mountpoint()))
	}
	switch req.Op {
	case OpStatus:
		return HandleStatus(ctx, m, req)
	case OpConflicts:
		return HandleConflicts(ctx, m, req)
	case OpPlan:
		return HandlePlan(ctx, m, req)
	case OpCommit:
		return HandleCommit(ctx, m, req, send)
	case OpUnmount:
		return HandleUnmount(m)
	case OpInfo:
		return Response{V: ProtocolVersion, Pid: os.Getpid(), Mountpoint: m.Mountpoint()}
	case OpResolve, OpDescribe:
		return HandleResolve(ctx, m, req)
	case OpLog:
		return HandleLog(m, req)
	case OpBackups, OpRestore:
		return HandleBackups(m, req)
	case OpDiff:
		return HandleDiff(ctx, m, req)
	}
	return errorResponse(fmt.Errorf("unknown request %q", req.Op))
}

// progressSender turns Apply's progress calls (from several goroutines)
// into at most ten frames a second.
type progressSender struct {
	send    func(Response) error
	mu      sync.Mutex
	pending int64
	last    time.Time
}

func newProgressSender(send func(Response) error) *progressSender {
	return &progressSender{send: send}
}

func (p *progressSender) total(n int64) {
	if p.send != nil {
		p.send(Response{V: ProtocolVersion, Progress: &Progress{Total: n}})
	}
}

func (p *progressSender) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending += n
	if time.Since(p.last) >= 100*time.Millisecond {
		p.flushLocked()
	}
}

func (p *progressSender) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flushLocked()
}

func (p *progressSender) flushLocked() {
	if p.pending == 0 || p.send == nil {
		return
	}
	// A client gone away does not stop the commit here: its connection
	// closing cancels the request's context instead.
	p.send(Response{V: ProtocolVersion, Progress: &Progress{Bytes: p.pending}})
	p.pending, p.last = 0, time.Now()
}

// Server answers requests on a unix socket, one request per connection.
type Server struct {
	ln     net.Listener
	path   string
	m      Mount
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // connections being served

	mu     sync.Mutex // guards closed, record, and wg.Add against Close
	closed bool
	record string // the runtime directory's record of the socket (see Record)
}

// Listen listens on the unix socket at path; Serve then answers. It
// creates the socket's directory (mode 0700) and removes a socket file left
// by a daemon that died; it fails when a live daemon answers there.
// Clients connecting before Serve wait in the backlog.
func Listen(path string) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The socket file goes only at Close: a client waiting for it to vanish
	// knows that the daemon is done.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	s := &Server{ln: ln, path: path}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// removeStaleSocket removes the socket file at path unless a daemon
// answers on it.
func removeStaleSocket(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: a myrrorfs daemon already listens there (is the mountpoint already mounted?)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Record leaves in the user's runtime directory the record by which
// commands given only mountpoint (canonical) find this socket, whatever
// the state directory (see RuntimeDir); Close removes it. It also removes
// the records that nothing answers on any more.
func (s *Server) Record(mountpoint string) error {
	rec, err := record(mountpoint, s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.record = rec
	s.mu.Unlock()
	return nil
}

// Serve answers requests to m until Close, each connection in its own
// goroutine. Call it once.
func (s *Server) Serve(m Mount) {
	s.m = m
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// serveConn reads one request from c and writes the response. The
// request's context is cancelled when the client hangs up (e.g. an
// interrupted commit) or the server closes.
func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, br) // returns when the client closes its end
		cancel()
	}()
	var mu sync.Mutex
	enc := json.NewEncoder(c)
	send := func(r Response) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(r)
	}
	var req Request
	var resp Response
	if err := samePeer(c, "client"); err != nil {
		resp = errorResponse(err)
	} else if err := json.Unmarshal(line, &req); err != nil {
		resp = errorResponse(fmt.Errorf("bad request: %w", err))
	} else {
		resp = Handle(ctx, s.m, req, send)
	}
	send(resp)
}

// Shutdown stops listening, cancels the requests in progress and waits for
// them. The socket file stays (nothing answers on it) until Close.
func (s *Server) Shutdown() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		s.ln.Close()
		s.cancel()
	}
	s.wg.Wait()
}

// Close shuts the server down and removes its record and the socket file.
func (s *Server) Close() error {
	s.Shutdown()
	s.mu.Lock()
	rec := s.record
	s.record = ""
	s.mu.Unlock()
	if rec != "" {
		if target, err := os.Readlink(rec); err == nil && target == s.path {
			os.Remove(rec)
		}
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove socket: %w", err)
	}
	return nil
}
