package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/reconcile"
	"github.com/myrrorfs/myrrorfs/tree"
)

// planFileFixture is a plan with one decision of each sort a plan file
// holds: one-sided actions of every entry type, a conflict on a directory
// with a path under it, an equal path, and hostile names.
func planFileFixture() *Plan {
	file := func(content string, perm uint32, mtime int64) tree.Entry {
		var h tree.Hash
		copy(h[:], content)
		return tree.Entry{Kind: tree.File, Perm: perm, Size: int64(len(content)), MtimeNs: mtime, Hash: h}
	}
	dir := tree.Entry{Kind: tree.Dir, Perm: 0o755}
	d := func(path string, a reconcile.Action, base, l, r tree.Entry) reconcile.Decision {
		return reconcile.Decision{Item: reconcile.Item{Path: path, Base: base, Local: l, Remote: r}, Action: a}
	}
	var none tree.Entry
	ds := []reconcile.Decision{
		d("a.txt", reconcile.ToRemote, file("old", 0o644, 1e18), file("new!", 0o644, 2e18), file("old", 0o644, 1e18)),
		d("c", reconcile.Conflict, dir, none, dir),
		d("c/x", reconcile.Conflict, file("x", 0o644, 5), none, file("x2", 0o644, 6)),
		d("eq", reconcile.Equal, file("same", 0o755, 7), file("same", 0o755, 7), file("same", 0o755, 7)),
		d("link", reconcile.ToLocal, none, none, tree.Entry{Kind: tree.Symlink, Perm: 0o777, Target: "../t\x1b[31m"}),
		d("new/dir", reconcile.ToLocal, none, none, dir),
		d("bad\xff\nname", reconcile.ToRemote, none, file("b", 0o600, 9), none),
		d("gone", reconcile.ToLocal, file("g", 0o644, 3), file("g", 0o644, 3), none),
	}
	ds[1].Kind, ds[2].Kind, ds[2].Under = reconcile.DeleteModify, reconcile.DeleteModify, "c"
	pl := &Plan{Decisions: ds}
	return pl
}

// clonePlan copies a plan's decisions, so a test can change them.
func clonePlan(pl *Plan) *Plan {
	c := *pl
	c.Decisions = append([]reconcile.Decision(nil), pl.Decisions...)
	return &c
}

// savePlan is what `status --json` (with all: --all) prints for pl, read back.
func savePlan(t *testing.T, pl *Plan, all bool) *SavedPlan {
	t.Helper()
	var b bytes.Buffer
	if err := pl.WriteJSON(&b, all, func(d reconcile.Decision) bool { return all || d.Action != reconcile.Equal }); err != nil {
		t.Fatal(err)
	}
	sp, err := ReadPlan("plan.json", &b)
	if err != nil {
		t.Fatalf("ReadPlan: %v\n%s", err, b.String())
	}
	return sp
}

func TestPlanFileUnchanged(t *testing.T) {
	pl := planFileFixture()
	for _, all := range []bool{false, true} {
		sp := savePlan(t, pl, all)
		if want := map[bool]int{false: 6, true: 8}[all]; sp.Len() != want {
			t.Fatalf("all=%v: %d paths read, want %d", all, sp.Len(), want)
		}
		if sp.NeedsAllRows() != all {
			t.Fatalf("all=%v: NeedsAllRows = %v", all, sp.NeedsAllRows())
		}
		if err := sp.Check(pl); err != nil {
			t.Fatalf("all=%v: unchanged plan refused: %v", all, err)
		}
		// a compact plan leaves out settled equal paths: not a change
		c := clonePlan(pl)
		c.Decisions = append(c.Decisions[:3], c.Decisions[4:]...)
		if err := savePlan(t, pl, false).Check(c); err != nil {
			t.Fatalf("all=%v: plan without the equal row refused: %v", all, err)
		}
	}
}

// Each change to a saved plan is reported on its path, with what changed.
func TestPlanFileChanged(t *testing.T) {
	at := func(pl *Plan, path string) *reconcile.Decision {
		for i := range pl.Decisions {
			if pl.Decisions[i].Path == path {
				return &pl.Decisions[i]
			}
		}
		panic(path)
	}
	cases := []struct {
		name   string
		all    bool // the plan was saved with --all
		change func(pl *Plan)
		path   string
		what   string
	}{
		{"content edited", false, func(pl *Plan) { d := at(pl, "a.txt"); d.Local.Size++; d.Local.Hash[0]++ }, "a.txt", "local: size 4 -> 5, content"},
		{"content, same size", false, func(pl *Plan) { at(pl, "a.txt").Local.Hash[0]++ }, "a.txt", "local: content"},
		{"touched", false, func(pl *Plan) { at(pl, "a.txt").Local.MtimeNs++ }, "a.txt", "local: mtime 2033-05-18T03:33:20Z -> 2033-05-18T03:33:20.000000001Z"},
		{"chmod", false, func(pl *Plan) { at(pl, "a.txt").Remote.Perm = 0o755 }, "a.txt", "remote: mode 0644 -> 0755"},
		{"dir chmod", false, func(pl *Plan) { at(pl, "new/dir").Remote.Perm = 0o700 }, "new/dir", "remote: mode 0755 -> 0700"},
		{"symlink retargeted", false, func(pl *Plan) { at(pl, "link").Remote.Target = "u" }, "link", `remote: target "../t\x1b[31m" -> u`},
		{"target deleted", false, func(pl *Plan) { at(pl, "a.txt").Remote = tree.Entry{} }, "a.txt", "now to-remote create (the plan said to-remote update); remote: deleted (was a file)"},
		{"type changed", false, func(pl *Plan) { at(pl, "new/dir").Remote = tree.Entry{Kind: tree.File} }, "new/dir", "remote: was a dir, now a file"},
		{"recreated", false, func(pl *Plan) {
			d := at(pl, "gone")
			d.Action, d.Remote = reconcile.Conflict, tree.Entry{Kind: tree.Symlink, Target: "x"}
			d.Kind = reconcile.ModifyModify
		}, "gone", "now conflict modify/modify (the plan said to-local delete); remote: created (a symlink)"},
		{"hostile name edited", false, func(pl *Plan) { at(pl, "bad\xff\nname").Local.Perm = 0o644 }, "bad\xff\nname", "local: mode 0600 -> 0644"},
		{"conflict changed", false, func(pl *Plan) { at(pl, "c").Remote.Perm = 0o700 }, "c", "remote: mode 0755 -> 0700"},
		{"nothing to do now", false, func(pl *Plan) { pl.Decisions = pl.Decisions[1:] }, "a.txt", "nothing to do now (the plan said to-remote update)"},
		{"unreadable now", false, func(pl *Plan) {
			pl.Decisions = pl.Decisions[1:]
			pl.Problems = []Problem{{Side: LocalSide, Path: "a.txt", Err: errors.New("permission denied")}}
		}, "a.txt", "cannot be read now (the plan said to-remote update)"},
		{"new path", false, func(pl *Plan) {
			pl.Decisions = append(pl.Decisions, reconcile.Decision{Item: reconcile.Item{Path: "zz", Local: tree.Entry{Kind: tree.Dir}}, Action: reconcile.ToRemote})
		}, "zz", "not in the plan, now to-remote create"},
		{"equal path edited", false, func(pl *Plan) {
			d := at(pl, "eq")
			d.Action = reconcile.ToLocal
			d.Remote.Hash[1]++
		}, "eq", "not in the plan, now to-local update"},
		{"equal path edited, saved with --all", true, func(pl *Plan) {
			d := at(pl, "eq")
			d.Action = reconcile.ToLocal
			d.Remote.Hash[1]++
		}, "eq", "now to-local update (the plan said equal); remote: content"},
		{"under changed", true, func(pl *Plan) { at(pl, "c/x").Remote.Size++ }, "c/x", "remote: size 2 -> 3"},
		{"no longer under", true, func(pl *Plan) {
			d := at(pl, "c/x")
			d.Action, d.Kind, d.Under = reconcile.ToRemote, 0, ""
		}, "c/x", "now to-remote delete (the plan said conflict delete/modify under c)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl := planFileFixture()
			sp := savePlan(t, pl, c.all)
			now := clonePlan(pl)
			c.change(now)
			err := sp.Check(now)
			var stale *StalePlanError
			if !errors.As(err, &stale) {
				t.Fatalf("Check = %v, want a stale plan", err)
			}
			want := PlanChange{c.path, c.what}.String()
			if got := stale.Lines(10); len(got) != 1 || got[0] != want {
				t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
			}
			if !strings.Contains(err.Error(), "1 path changed") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error = %q", err)
			}
		})
	}
}

// A file whose hash one side left unknown (a remote hashed by download)
// is compared on its size and mtime.
func TestPlanFileUnknownHash(t *testing.T) {
	pl := planFileFixture()
	pl.Decisions[0].Remote.Hash = tree.Hash{}
	sp := savePlan(t, pl, false)
	now := clonePlan(planFileFixture())
	if err := sp.Check(now); err != nil {
		t.Fatalf("hash known now, unknown then: %v", err)
	}
	now.Decisions[0].Remote.MtimeNs++
	if err := sp.Check(now); err == nil {
		t.Fatal("a touched file with an unknown hash passed")
	}
}

// A plan saved with another mode or preference is refused as such, and a
// file of two plans is damaged.
func TestPlanFilePolicy(t *testing.T) {
	pl := planFileFixture()
	pl.Policy = reconcile.Policy{Mode: reconcile.Push}
	sp := savePlan(t, pl, false)
	if sp.Policy() != pl.Policy {
		t.Fatalf("policy read = %v", sp.Policy())
	}
	if err := sp.Check(pl); err != nil {
		t.Fatal(err)
	}
	now := clonePlan(pl)
	now.Policy = reconcile.Policy{Prefer: reconcile.PreferNewer}
	err := sp.Check(now)
	if err == nil || !strings.Contains(err.Error(), "decided with --mode push, this sync with --mode two-way --prefer newer") {
		t.Fatalf("Check = %v", err)
	}
	var b bytes.Buffer
	pl.WriteJSON(&b, false, func(d reconcile.Decision) bool { return d.Path == "a.txt" })
	pl.Policy = reconcile.Policy{}
	pl.WriteJSON(&b, false, func(d reconcile.Decision) bool { return d.Path == "link" })
	_, err = ReadPlan("p", &b)
	if err == nil || err.Error() != "p:2: decided with --mode two-way, line 1 with --mode push: lines of two plans" {
		t.Fatalf("ReadPlan = %v", err)
	}
	// an empty plan passes any policy (it has none); what to do is compared
	empty, err := ReadPlan("p", strings.NewReader("\n"))
	if err != nil || empty.CheckPolicy(now.Policy) != nil {
		t.Fatal(err)
	}
}

func TestPlanFileLinesCapped(t *testing.T) {
	e := &StalePlanError{Name: "p"}
	for i := range 5 {
		e.Changes = append(e.Changes, PlanChange{fmt.Sprint(i), "x"})
	}
	if got := strings.Join(e.Lines(3), "|"); got != "0: x|1: x|2: x|and 2 more" {
		t.Fatal(got)
	}
	if got := len(e.Lines(5)); got != 5 {
		t.Fatal(got)
	}
}

// A damaged file is one error naming its line and the cause.
func TestPlanFileDamaged(t *testing.T) {
	const ok = `{"path":"a","action":"to-remote","op":"create","local":{"type":"dir","mode":"0755"},"remote":null}`
	const hash = `"hash":"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"`
	file := func(fields string) string {
		return `{"path":"f","action":"to-local","op":"create","local":null,"remote":{"type":"file"` + fields + `}}`
	}
	cases := []struct{ in, want string }{
		{"{\"path\":", `p:1: not a JSON object: unexpected end of JSON input (at byte 8)`},
		{ok + "\nnot json", `p:2: not a JSON object: invalid character 'o' in literal null (expecting 'u') (at byte 2)`},
		{ok + "\n\n" + ok, `p:3: a is listed twice (first on line 1)`},
		{`[1]`, `p:1: a JSON array where an object belongs`},
		{`null`, `p:1: no "path"`},
		{`{"path":1}`, `p:1: path: a JSON number where a string belongs`},
		{`{"path":"../x","action":"equal","local":null,"remote":null}`, `p:1: invalid path ../x (not relative, an empty, . or .. component, or a NUL)`},
		{`{"path":"/abs","action":"equal","local":null,"remote":null}`, `p:1: invalid path /abs (not relative, an empty, . or .. component, or a NUL)`},
		{`{"path":"a","path_bytes":"YQBi","action":"equal","local":null,"remote":null}`, `p:1: invalid path "a\x00b" (not relative, an empty, . or .. component, or a NUL)`},
		{`{"path":"a","path_bytes":"!!","action":"equal","local":null,"remote":null}`, `p:1: not a plan line: illegal base64 data at input byte 0`},
		{`{"path":"","action":"equal","local":null,"remote":null}`, `p:1: empty path (the root is never in a plan)`},
		{`{"path":"d/.myrrorfs-backup/x","action":"equal","local":null,"remote":null}`, `p:1: path d/.myrrorfs-backup/x is one myrrorfs never syncs`},
		{`{"path":"a","action":"copy","local":null,"remote":null}`, `p:1: action "copy" (equal, to-remote, to-local, merged or conflict)`},
		{`{"path":"a","action":"to-remote","local":null,"remote":null}`, `p:1: action to-remote with op "" (create, update, delete, replace or chmod)`},
		{`{"path":"a","action":"equal","op":"create","local":null,"remote":null}`, `p:1: action equal with an op ("create")`},
		{`{"path":"a","action":"conflict","kind":"x/y","local":null,"remote":null}`, `p:1: conflict kind "x/y" (modify/modify, create/create, modify/delete, delete/modify or file/dir)`},
		{`{"path":"a","action":"to-local","op":"delete","kind":"file/dir","local":null,"remote":null}`, `p:1: action to-local with a conflict kind ("file/dir")`},
		{`{"path":"a/b","action":"equal","under":"a","local":null,"remote":null}`, `p:1: action equal under a conflicting directory`},
		{`{"path":"a/b","action":"conflict","kind":"file/dir","under":"c","local":null,"remote":null}`, `p:1: under c: not a directory above a/b`},
		{`{"path":"a","action":"equal","remote":null}`, `p:1: local: missing (null when the side holds nothing)`},
		{`{"path":"a","action":"equal","local":null,"remote":{"type":"fifo"}}`, `p:1: remote: type "fifo" (file, dir or symlink)`},
		{`{"path":"a","action":"equal","local":null,"remote":[]}`, `p:1: remote: a JSON array where an object belongs`},
		{file(`,"mode":"0644","mtime":"2026-01-01T00:00:00Z"`), `p:1: remote: a file without "hash"`},
		{file(`,"mode":"0644",` + hash), `p:1: remote: a file without "mtime"`},
		{file(`,"mode":"0644","mtime":"yesterday",` + hash), `p:1: remote: mtime "yesterday": not an RFC 3339 time`},
		{file(`,"mode":"0644","mtime":"9999-01-01T00:00:00Z",` + hash), `p:1: remote: mtime "9999-01-01T00:00:00Z": not an RFC 3339 time`},
		{file(`,"mode":"rwx","mtime":"2026-01-01T00:00:00Z",` + hash), `p:1: remote: mode "rwx": not octal permission bits`},
		{file(`,"mode":"17777","mtime":"2026-01-01T00:00:00Z",` + hash), `p:1: remote: mode "17777": not octal permission bits`},
		{file(`,"mode":"0644","mtime":"2026-01-01T00:00:00Z","hash":"af13"`), `p:1: remote: hash "af13": not 64 hex digits`},
		{file(`,"size":-1`), `p:1: remote: size -1`},
		{file(`,"size":"12"`), `p:1: remote: size: a JSON string where a number belongs`},
		{`{"path":"a","action":"equal","local":null,"remote":{"type":"symlink"}}`, `p:1: remote: a symlink without a target`},
		{`{"path":"a","action":"equal","local":{"type":"dir"},"remote":null}`, `p:1: local: a dir without "mode"`},
		{`{"path":"a","action":"equal","sync_mode":"mirror","local":null,"remote":null}`, `p:1: sync_mode: unknown mode "mirror" (two-way, push or pull)`},
		{`{"path":"a","action":"equal","sync_mode":"push","prefer":"local","local":null,"remote":null}`, `p:1: --prefer local: only in two-way mode (--mode push has no conflicts)`},
		{`{"path":"a","action":"equal","local":null,"remote":null}` + "\x00\x1b[2J", `p:1: not a JSON object: invalid character '\x00' after top-level value (at byte 57)`},
		{ok + "\n" + strings.Repeat("x", MaxPlanLine+1), fmt.Sprintf("p:2: line longer than %d bytes: not a plan saved by status --json", MaxPlanLine)},
	}
	for _, c := range cases {
		_, err := ReadPlan("p", strings.NewReader(c.in))
		if err == nil || err.Error() != c.want {
			in := c.in
			if len(in) > 100 {
				in = in[:100] + "…"
			}
			t.Errorf("%s:\n got %v\nwant %s", in, err, c.want)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n\x00\x1b") {
			t.Errorf("%q: error holds a control character: %q", c.in, err)
		}
	}
}

// Nothing a plan file holds makes ReadPlan panic or print more than one
// line, and a plan that lists paths never matches an empty pair.
func FuzzReadPlan(f *testing.F) {
	var b bytes.Buffer
	planFileFixture().WriteJSON(&b, true, func(reconcile.Decision) bool { return true })
	f.Add(b.String())
	f.Add(`{"path":"a","action":"conflict","kind":"file/dir","under":"a","local":null,"remote":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		sp, err := ReadPlan("p", strings.NewReader(in))
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		if err := sp.Check(&Plan{Policy: sp.Policy()}); sp.Len() > 0 && err == nil {
			t.Fatal("a plan of paths matches an empty pair")
		}
	})
}
