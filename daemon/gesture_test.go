package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gestureCase is one row of the design's gesture table: a pair in some
// state, a gesture made in the mount with ordinary tools, what the view
// shows at once, and what both sides hold after commit.
type gestureCase struct {
	name       string
	sc         scenario
	before     string            // ls of the mount root before the gesture
	beforeView map[string]string // contents of the mount before the gesture
	gesture    string            // shell script run in the mount root
	after      string            // ls of the mount root right after the gesture
	view       map[string]string // contents of the mount right after the gesture
	// contents of the local tree right after the gesture (before commit)
	localBefore map[string]string
	conflicts   int               // conflicts left after commit
	both        map[string]string // contents of both sides after commit
	local       map[string]string // contents of the local side only after commit
	remote      map[string]string // contents of the remote side only after commit
	modes       map[string]os.FileMode
	// versions expected in each side's backup area after commit
	backupLocal, backupRemote map[string]string
	// noRemount leaves the case out of TestGesturesSurviveRemount, for the
	// reason given
	noRemount string
}

// base of most cases: p is the path acted on, keep is never touched.
var gBase = map[string]string{"p": "base", "keep": "k"}

// mm is a modify/modify conflict on p, without a merge (with one, p
// would show p.merged too: see merged_test.go).
var mm = scenario{base: gBase, local: map[string]string{"p": "L"}, remote: map[string]string{"p": "R"}, noMerge: true}

var gestureCases = []gestureCase{
	// local-backed entries
	{name: "edit local-backed", sc: scenario{base: gBase},
		before: "keep p", gesture: "printf x >> p",
		after: "keep p", view: map[string]string{"p": "basex"},
		both: map[string]string{"p": "basex", "keep": "k"}, backupRemote: map[string]string{"p": "base"}},
	{name: "truncate and write local-backed", sc: scenario{base: gBase},
		gesture: "printf new > p",
		after:   "keep p", view: map[string]string{"p": "new"},
		both: map[string]string{"p": "new"}, backupRemote: map[string]string{"p": "base"}},
	{name: "create file", sc: scenario{base: gBase},
		gesture: "printf new > n",
		after:   "keep n p", view: map[string]string{"n": "new"},
		both: map[string]string{"n": "new", "p": "base"}},
	{name: "mkdir", sc: scenario{base: gBase},
		gesture: "mkdir -p d/e && printf f > d/e/f && mkdir empty",
		after:   "d/ empty/ keep p", view: map[string]string{"d/e/f": "f", "empty": "dir/"},
		both: map[string]string{"d/e/f": "f", "empty": "dir/"}},
	{name: "chmod", sc: scenario{base: gBase},
		gesture: "chmod 755 p",
		after:   "keep p", view: map[string]string{"p": "base"},
		both: map[string]string{"p": "base"}, modes: map[string]os.FileMode{"p": 0o755}},
	{name: "symlink", sc: scenario{base: gBase},
		gesture: "ln -s keep s",
		after:   "keep p s", view: map[string]string{"s": "-> keep"},
		both: map[string]string{"s": "-> keep"}},
	{name: "delete local-backed", sc: scenario{base: gBase},
		gesture: "rm p",
		after:   "keep", view: map[string]string{"p": absent},
		both: map[string]string{"p": absent, "keep": "k"}, backupRemote: map[string]string{"p": "base"}},
	{name: "rename local-backed", sc: scenario{base: gBase},
		gesture: "mv p q",
		after:   "keep q", view: map[string]string{"q": "base"},
		both: map[string]string{"p": absent, "q": "base"}},

	// remote-backed entries (changed on the remote only)
	{name: "append to remote-backed (copy-up)", sc: scenario{base: gBase, remote: map[string]string{"p": "R"}},
		before: "keep p", beforeView: map[string]string{"p": "R"},
		gesture: "printf x >> p",
		after:   "keep p", view: map[string]string{"p": "Rx"},
		both: map[string]string{"p": "Rx"}, backupRemote: map[string]string{"p": "R"}},
	{name: "overwrite remote-backed (copy-up)", sc: scenario{base: gBase, remote: map[string]string{"p": "R"}},
		gesture: "printf new > p",
		after:   "keep p", view: map[string]string{"p": "new"},
		both: map[string]string{"p": "new"}, backupRemote: map[string]string{"p": "R"}},
	{name: "append to remote-only file in remote-only dir", sc: scenario{base: gBase, remote: map[string]string{"nd/sub/f": "N", "nd/g": "G"}},
		before: "keep nd/ p", beforeView: map[string]string{"nd/sub/f": "N", "nd/g": "G"},
		gesture: "printf x >> nd/sub/f",
		after:   "keep nd/ p", view: map[string]string{"nd/sub/f": "Nx", "nd/g": "G"},
		both: map[string]string{"nd/sub/f": "Nx", "nd/g": "G"}},
	{name: "create in remote-only dir", sc: scenario{base: gBase, remote: map[string]string{"nd/g": "G"}},
		gesture: "printf c > nd/c",
		after:   "keep nd/ p", view: map[string]string{"nd/c": "c", "nd/g": "G"},
		both: map[string]string{"nd/c": "c", "nd/g": "G"}},
	{name: "chmod remote-backed (copy-up)", sc: scenario{base: gBase, remote: map[string]string{"p": "R"}},
		gesture: "chmod 700 p",
		after:   "keep p", view: map[string]string{"p": "R"},
		both: map[string]string{"p": "R"}, modes: map[string]os.FileMode{"p": 0o700}},
	{name: "delete remote-backed", sc: scenario{base: gBase, remote: map[string]string{"p": "R"}},
		gesture: "rm p",
		after:   "keep", view: map[string]string{"p": absent},
		both: map[string]string{"p": absent, "keep": "k"}, backupRemote: map[string]string{"p": "R"}},
	{name: "delete remote-only file", sc: scenario{base: gBase, remote: map[string]string{"n": "N"}},
		before: "keep n p", gesture: "rm n",
		after: "keep p", view: map[string]string{"n": absent},
		both: map[string]string{"n": absent, "p": "base"}, backupRemote: map[string]string{"n": "N"}},
	{name: "rm -r remote-only dir", sc: scenario{base: gBase, remote: map[string]string{"nd/a": "A", "nd/b/c": "C"}},
		before: "keep nd/ p", gesture: "rm -r nd",
		after: "keep p", view: map[string]string{"nd": absent},
		both: map[string]string{"nd": absent, "p": "base"}, backupRemote: map[string]string{"nd/b/c": "C"}},
	{name: "rename remote-backed", sc: scenario{base: gBase, remote: map[string]string{"p": "R"}},
		gesture: "mv p q",
		after:   "keep q", view: map[string]string{"p": absent, "q": "R"},
		both: map[string]string{"p": absent, "q": "R"}},

	// conflict siblings
	{name: "rm p.remote", sc: mm,
		before: "keep p.local p.remote", beforeView: map[string]string{"p.local": "L", "p.remote": "R"},
		gesture: "rm p.remote",
		after:   "keep p", view: map[string]string{"p": "L", "p.local": absent, "p.remote": absent},
		both: map[string]string{"p": "L"}, backupRemote: map[string]string{"p": "R"}},
	{name: "rm p.local", sc: mm,
		gesture: "rm p.local",
		after:   "keep p", view: map[string]string{"p": "R", "p.local": absent, "p.remote": absent},
		both: map[string]string{"p": "R"}, backupLocal: map[string]string{"p": "L"}},
	{name: "mv p.local q", sc: mm,
		gesture: "mv p.local q",
		after:   "keep p q", view: map[string]string{"p": "R", "q": "L"},
		both: map[string]string{"p": "R", "q": "L"}},
	{name: "mv p.local into another directory", sc: mm,
		gesture: "mkdir sub && mv p.local sub/q",
		after:   "keep p sub/", view: map[string]string{"p": "R", "sub/q": "L"},
		both: map[string]string{"p": "R", "sub/q": "L"}},
	{name: "mv p.remote into another directory", sc: mm,
		gesture: "mkdir sub && mv p.remote sub/q",
		after:   "keep p sub/", view: map[string]string{"p": "L", "sub/q": "R"},
		both: map[string]string{"p": "L", "sub/q": "R"}},
	{name: "mv p.remote q", sc: mm,
		gesture: "mv p.remote q",
		after:   "keep p q", view: map[string]string{"p": "L", "q": "R"},
		both: map[string]string{"p": "L", "q": "R"}, backupRemote: map[string]string{"p": "R"}},
	{name: "mv p.local p", sc: mm,
		gesture: "mv p.local p",
		after:   "keep p", view: map[string]string{"p": "L", "p.local": absent, "p.remote": absent},
		both: map[string]string{"p": "L"}, backupRemote: map[string]string{"p": "R"}},
	{name: "mv p.remote p", sc: mm,
		gesture: "mv p.remote p",
		after:   "keep p", view: map[string]string{"p": "R", "p.local": absent, "p.remote": absent},
		both: map[string]string{"p": "R"}, backupLocal: map[string]string{"p": "L"}},
	{name: "mv p.remote into a new dir", sc: mm,
		gesture: "mkdir d && mv p.remote d/q",
		after:   "d/ keep p", view: map[string]string{"p": "L", "d/q": "R"},
		both: map[string]string{"p": "L", "d/q": "R"}, backupRemote: map[string]string{"p": "R"}},
	{name: "editor save onto p.local keeps the conflict", sc: mm,
		gesture: "printf E > .p.local.swp && mv .p.local.swp p.local",
		after:   "keep p.local p.remote", view: map[string]string{"p.local": "E", "p.remote": "R"},
		conflicts: 1, local: map[string]string{"p": "E"}, remote: map[string]string{"p": "R"}},
	{name: "Emacs save onto p.local (backup by rename, new file) keeps the conflict", sc: mm,
		gesture: `ln -s user@host.1:1 .#p.local && printf A > '#p.local#' && mv p.local p.local~ && printf E > p.local && rm .#p.local`,
		after:   "#p.local# keep p.local p.local~ p.remote", view: map[string]string{"p.local": "E", "p.remote": "R", "p.local~": "L", "p": absent},
		localBefore: map[string]string{"p": "E", "p.local~": "L", "p.local": absent},
		conflicts:   1, local: map[string]string{"p": "E", "p.local~": "L", "#p.local#": "A"},
		remote: map[string]string{"p": "R", "p.local~": absent, "p.local": absent, "#p.local#": absent}},
	{name: "backup by rename, temporary renamed onto p.local keeps the conflict", sc: mm,
		gesture: "mv p.local p.local~ && printf E > .p.local.swp && mv .p.local.swp p.local",
		after:   "keep p.local p.local~ p.remote", view: map[string]string{"p.local": "E", "p.remote": "R", "p.local~": "L"},
		conflicts: 1, local: map[string]string{"p": "E", "p.local~": "L"}, remote: map[string]string{"p": "R", "p.local~": absent}},
	{name: "gio trash p.remote", sc: mm,
		gesture: "gio trash p.remote",
		after:   "keep p", view: map[string]string{"p": "L", ".Trash-0/files/p.remote": "R"},
		both: map[string]string{"p": "L"}, remote: map[string]string{".Trash-0": absent},
		backupRemote: map[string]string{"p": "R"}},
	{name: "gio trash p.local", sc: mm,
		gesture: "gio trash p.local",
		after:   "keep p", view: map[string]string{"p": "R"},
		both: map[string]string{"p": "R"}, remote: map[string]string{".Trash-0": absent},
		backupLocal: map[string]string{"p": "L"}},
	{name: "gio trash p.local, then restore it from the trash", sc: mm,
		gesture: "gio trash p.local && [ \"$(ls)\" = 'keep\np' ] && mv .Trash-0/files/p.local p.local",
		after:   "keep p.local p.remote", view: map[string]string{"p.local": "L", "p.remote": "R", "p": absent, ".Trash-0/files/p.local": absent},
		localBefore: map[string]string{"p": "L", "p.local": absent},
		conflicts:   1, local: map[string]string{"p": "L", "p.local": absent}, remote: map[string]string{"p": "R", "p.local": absent}},
	{name: "gio trash p.remote, then restore it from the trash", sc: mm,
		gesture: "gio trash p.remote && [ \"$(ls)\" = 'keep\np' ] && mv .Trash-0/files/p.remote p.remote",
		after:   "keep p.local p.remote", view: map[string]string{"p.local": "L", "p.remote": "R", "p": absent, ".Trash-0/files/p.remote": absent},
		localBefore: map[string]string{"p": "L", "p.remote": absent},
		conflicts:   1, local: map[string]string{"p": "L", "p.remote": absent}, remote: map[string]string{"p": "R", "p.remote": absent}},
	{name: "write to p.remote refused, mv p.remote x works", sc: mm,
		gesture: `out=$(sh -c 'printf x >> p.remote' 2>&1) && { echo "append to p.remote succeeded"; exit 1; }
case "$out" in *"Read-only file system"*) ;; *) echo "append to p.remote: $out"; exit 1;; esac
out=$(sh -c ': > p.remote' 2>&1) && { echo "truncate of p.remote succeeded"; exit 1; }
case "$out" in *"Read-only file system"*) ;; *) echo "truncate of p.remote: $out"; exit 1;; esac
mv p.remote x`,
		after: "keep p x", view: map[string]string{"p": "L", "x": "R"},
		both: map[string]string{"p": "L", "x": "R"}, backupRemote: map[string]string{"p": "R"}},

	// modify/delete: the survivor shows alone
	{name: "modify/delete: lone p.local to p", sc: scenario{base: gBase, local: map[string]string{"p": "L"}, remoteRm: []string{"p"}},
		before: "keep p.local", beforeView: map[string]string{"p.local": "L", "p": absent, "p.remote": absent},
		gesture: "mv p.local p",
		after:   "keep p", view: map[string]string{"p": "L", "p.local": absent, "p.remote": absent},
		both: map[string]string{"p": "L"}},
	{name: "modify/delete: rm lone p.local", sc: scenario{base: gBase, local: map[string]string{"p": "L"}, remoteRm: []string{"p"}},
		gesture: "rm p.local",
		after:   "keep", view: map[string]string{"p": absent},
		both: map[string]string{"p": absent}, backupLocal: map[string]string{"p": "L"}},
	{name: "delete/modify: lone p.remote to p", sc: scenario{base: gBase, localRm: []string{"p"}, remote: map[string]string{"p": "R"}},
		before: "keep p.remote", beforeView: map[string]string{"p.remote": "R"},
		gesture: "mv p.remote p",
		after:   "keep p", view: map[string]string{"p": "R", "p.local": absent, "p.remote": absent},
		both: map[string]string{"p": "R"}},
	{name: "delete/modify: rm lone p.remote", sc: scenario{base: gBase, localRm: []string{"p"}, remote: map[string]string{"p": "R"}},
		gesture: "rm p.remote",
		after:   "keep", view: map[string]string{"p": absent},
		both: map[string]string{"p": absent}, backupRemote: map[string]string{"p": "R"}},

	// delete/modify on a directory: d.remote/ with its subtree
	{name: "delete/modify dir: mv d.remote d", sc: scenario{base: map[string]string{"d/x": "base", "d/y": "base", "d/s/z": "base", "keep": "k"},
		localRm: []string{"d"}, remote: map[string]string{"d/x": "R"}},
		before: "d.remote/ keep", beforeView: map[string]string{"d.remote/x": "R", "d.remote/y": "base", "d.remote/s/z": "base"},
		gesture: "mv d.remote d",
		after:   "d/ keep", view: map[string]string{"d/x": "R", "d/y": "base", "d/s/z": "base"},
		both: map[string]string{"d/x": "R", "d/y": "base", "d/s/z": "base"}},
	{name: "delete/modify dir: rm -r d.remote", sc: scenario{base: map[string]string{"d/x": "base", "d/y": "base", "d/s/z": "base", "keep": "k"},
		localRm: []string{"d"}, remote: map[string]string{"d/x": "R"}},
		gesture: "rm -r d.remote",
		after:   "keep", view: map[string]string{"d": absent},
		both: map[string]string{"d": absent}, backupRemote: map[string]string{"d/x": "R", "d/y": "base"}},
	{name: "delete/modify dir: mv d.remote e", sc: scenario{base: map[string]string{"d/x": "base", "d/y": "base", "keep": "k"},
		localRm: []string{"d"}, remote: map[string]string{"d/x": "R"}},
		gesture: "mv d.remote e",
		after:   "e/ keep", view: map[string]string{"e/x": "R", "e/y": "base"},
		both: map[string]string{"d": absent, "e/x": "R", "e/y": "base"}},

	{name: "modify/delete dir: mv d.local d", sc: scenario{base: map[string]string{"d/x": "base", "d/y": "base", "keep": "k"},
		local: map[string]string{"d/x": "L"}, remoteRm: []string{"d"}},
		before: "d.local/ keep", beforeView: map[string]string{"d.local/x": "L", "d.local/y": "base"},
		gesture: "mv d.local d",
		after:   "d/ keep", view: map[string]string{"d/x": "L", "d/y": "base", "d.local": absent},
		both: map[string]string{"d/x": "L", "d/y": "base"}},
	{name: "modify/delete dir: rm -r d.local", sc: scenario{base: map[string]string{"d/x": "base", "d/y": "base", "keep": "k"},
		local: map[string]string{"d/x": "L"}, remoteRm: []string{"d"}},
		gesture: "rm -r d.local",
		after:   "keep", view: map[string]string{"d": absent, "d.local": absent},
		// nothing is unlinked before commit, which keeps every version
		localBefore: map[string]string{"d/x": "L", "d/y": "base"},
		both:        map[string]string{"d": absent}, backupLocal: map[string]string{"d/x": "L", "d/y": "base"}},
	{name: "modify/delete dir: rm inside d.local, then mv d.local d", sc: scenario{base: map[string]string{"d/x": "base", "d/y": "base", "keep": "k"},
		local: map[string]string{"d/x": "L"}, remoteRm: []string{"d"}},
		gesture: `rm d.local/y && [ "$(ls d.local)" = x ] && mv d.local d`,
		after:   "d/ keep", view: map[string]string{"d/x": "L", "d/y": absent},
		localBefore: map[string]string{"d/x": "L", "d/y": absent},
		both:        map[string]string{"d/x": "L", "d/y": absent}, backupLocal: map[string]string{"d/y": "base"}},
	{name: "modify/delete dir: a file made again inside d.local keeps the one removed", sc: scenario{base: map[string]string{"d/x": "base", "keep": "k"},
		local: map[string]string{"d/x": "L"}, remoteRm: []string{"d"}},
		gesture: "rm d.local/x && printf N > d.local/x",
		after:   "d.local/ keep", view: map[string]string{"d.local/x": "N"},
		localBefore: map[string]string{"d/x": "N"},
		conflicts:   1, local: map[string]string{"d/x": "N"}, remote: map[string]string{"d": absent},
		backupLocal: map[string]string{"d/x": "L"},
		noRemount:   "nothing to check after a remount that the other cases do not"},

	// file/dir
	{name: "file/dir: rm -r p.remote keeps the file", sc: scenario{base: map[string]string{"keep": "k"}, local: map[string]string{"p": "L"}, remote: map[string]string{"p/x": "X"}},
		before: "keep p.local p.remote/", beforeView: map[string]string{"p.local": "L", "p.remote/x": "X"},
		gesture: "rm -r p.remote",
		after:   "keep p", view: map[string]string{"p": "L"},
		both: map[string]string{"p": "L"}, backupRemote: map[string]string{"p/x": "X"}},
	{name: "file/dir: mv p.remote p keeps the dir", sc: scenario{base: map[string]string{"keep": "k"}, local: map[string]string{"p": "L"}, remote: map[string]string{"p/x": "X"}},
		gesture: "mv p.remote p",
		after:   "keep p/", view: map[string]string{"p/x": "X"},
		both: map[string]string{"p/x": "X"}, backupLocal: map[string]string{"p": "L"}},
	{name: "file/dir: mv p.local f keeps both", sc: scenario{base: map[string]string{"keep": "k"}, local: map[string]string{"p": "L"}, remote: map[string]string{"p/x": "X"}},
		gesture: "mv p.local f",
		after:   "f keep p/", view: map[string]string{"p/x": "X", "f": "L"},
		both: map[string]string{"p/x": "X", "f": "L"}},

	// create/create
	{name: "create/create: rm n.local", sc: scenario{base: gBase, local: map[string]string{"n": "L1"}, remote: map[string]string{"n": "R1"}},
		before: "keep n.local n.remote p", beforeView: map[string]string{"n.local": "L1", "n.remote": "R1"},
		gesture: "rm n.local",
		after:   "keep n p", view: map[string]string{"n": "R1"},
		both: map[string]string{"n": "R1"}, backupLocal: map[string]string{"n": "L1"}},
	{name: "create/create in a new dir: rm nd/n.remote", sc: scenario{base: gBase, local: map[string]string{"nd/n": "L1"}, remote: map[string]string{"nd/n": "R1"}},
		before: "keep nd/ p", beforeView: map[string]string{"nd/n.local": "L1", "nd/n.remote": "R1"},
		gesture: "rm nd/n.remote",
		after:   "keep nd/ p", view: map[string]string{"nd/n": "L1", "nd/n.local": absent},
		both: map[string]string{"nd/n": "L1"}, backupRemote: map[string]string{"nd/n": "R1"}},

	// sibling names never shadow real entries
	{name: "real p.local and p.remote: disambiguated siblings",
		sc: scenario{base: map[string]string{"p": "base", "p.local": "real l", "p.remote": "real r", "keep": "k"},
			local: map[string]string{"p": "L"}, remote: map[string]string{"p": "R"}},
		before:     "keep p.local p.local-2 p.remote p.remote-2",
		beforeView: map[string]string{"p.local": "real l", "p.remote": "real r", "p.local-2": "L", "p.remote-2": "R"},
		gesture:    "rm p.remote-2",
		after:      "keep p p.local p.remote", view: map[string]string{"p": "L", "p.local": "real l", "p.remote": "real r"},
		both: map[string]string{"p": "L", "p.local": "real l", "p.remote": "real r"}, backupRemote: map[string]string{"p": "R"}},
	{name: "real p.local: rm p.local removes the real file only",
		sc: scenario{base: map[string]string{"p": "base", "p.local": "real l", "keep": "k"},
			local: map[string]string{"p": "L"}, remote: map[string]string{"p": "R"}},
		before:  "keep p.local p.local-2 p.remote",
		gesture: "rm p.local",
		after:   "keep p.local-2 p.remote", view: map[string]string{"p.local-2": "L", "p.remote": "R"},
		conflicts: 1, both: map[string]string{"p.local": absent}, local: map[string]string{"p": "L"}, remote: map[string]string{"p": "R"},
		backupRemote: map[string]string{"p.local": "real l"},
		noRemount:    "with the real p.local gone, a new daemon names the sibling p.local again"},
}

// runGesture runs one case: check the view before, make the gesture,
// check the view collapsed at once and the remote untouched, optionally
// remount, commit, and check both sides and their backup areas.
func runGesture(t *testing.T, c gestureCase, sshRemote, remount bool) {
	sc := c.sc
	sc.sshRemote = sshRemote
	// the table of conflicts without a merge (p.merged has its own, in
	// merged_test.go): the text files of these cases would be merged
	sc.noMerge = true
	f := setup(t, sc)
	if c.before != "" {
		if got := lsMount(t, f.mnt); got != c.before {
			t.Fatalf("view before the gesture = %q, want %q", got, c.before)
		}
	}
	checkView(t, "view before the gesture", f.mnt, c.beforeView)
	remoteBefore := snapshot(t, f.remote, false)

	if out, err := sh(t, f.mnt, c.gesture); err != nil {
		t.Fatalf("gesture %q: %v\n%s", c.gesture, err, out)
	}
	if got := lsMount(t, f.mnt); got != c.after {
		t.Errorf("view right after the gesture = %q, want %q", got, c.after)
	}
	// a name that vanished as a side effect of the gesture (not one it
	// named) may linger in the kernel's entry cache until the view's
	// invalidation, sent from its own goroutine, arrives: milliseconds
	eventually(t, 2*time.Second, func() string { return viewMismatch(t, f.mnt, c.view) })
	checkView(t, "view right after the gesture", f.mnt, c.view)
	check(t, "local right after the gesture", f.local, c.localBefore)
	sameTree(t, "remote before commit (the mount must not write to it)", snapshot(t, f.remote, false), remoteBefore)

	if remount {
		f.remount(t)
		if got := lsMount(t, f.mnt); got != c.after {
			t.Errorf("view after remount = %q, want %q", got, c.after)
		}
		checkView(t, "view after remount", f.mnt, c.view)
		sameTree(t, "remote after remount", snapshot(t, f.remote, false), remoteBefore)
	}
	if t.Failed() {
		t.FailNow()
	}

	f.commitWant(t, c.conflicts)
	check(t, "local after commit", f.local, c.both)
	check(t, "remote after commit", f.remote, c.both)
	check(t, "local after commit", f.local, c.local)
	check(t, "remote after commit", f.remote, c.remote)
	for p, want := range c.modes {
		for _, root := range []string{f.local, f.remote} {
			fi, err := os.Stat(filepath.Join(root, p))
			if err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: mode of %s = %v (%v), want %v", root, p, fi.Mode().Perm(), err, want)
			}
		}
	}
	for p, want := range c.backupLocal {
		checkBackup(t, "local", f.local, p, want)
	}
	for p, want := range c.backupRemote {
		checkBackup(t, "remote", f.remote, p, want)
	}
	if c.conflicts == 0 {
		sameTree(t, "remote vs local after commit", snapshot(t, f.remote, true), snapshot(t, f.local, true))
		// the view still shows the same after commit
		if got := lsMount(t, f.mnt); got != c.after {
			t.Errorf("view after commit = %q, want %q", got, c.after)
		}
		checkView(t, "view after commit", f.mnt, c.both)
	}
}

func TestGestures(t *testing.T) {
	for _, c := range gestureCases {
		t.Run(c.name, func(t *testing.T) { runGesture(t, c, false, false) })
	}
}

// TestGesturesSurviveRemount: a resolution is base plus local state, so it
// holds across unmount and a new daemon on the same pair, before commit.
func TestGesturesSurviveRemount(t *testing.T) {
	for _, c := range gestureCases {
		if c.noRemount != "" {
			t.Logf("%s: not remounted: %s", c.name, c.noRemount)
			continue
		}
		t.Run(c.name, func(t *testing.T) { runGesture(t, c, false, true) })
	}
}

// TestConflictSiblings checks each conflict kind shows as siblings with
// the right contents and kinds, in a subdirectory too.
func TestConflictSiblings(t *testing.T) {
	f := setup(t, scenario{
		base: map[string]string{"mm": "base", "md": "base", "dm": "base", "dd/x": "base", "dd/y": "base",
			"sub/mm": "base", "same": "base", "keep": "k"},
		local: map[string]string{"mm": "L", "md": "L", "cc": "Lc", "fd": "Lf", "sub/mm": "Lsub", "same": "S"},
		remote: map[string]string{"mm": "R", "dm": "R", "dd/x": "R", "cc": "Rc", "fd/x": "X", "fd/y/z": "Z",
			"sub/mm": "Rsub", "same": "S"},
		localRm:  []string{"dm", "dd"},
		remoteRm: []string{"md"},
	})
	// the text files edited on both sides are merged too (overlapping
	// edits: the merge shows as a third sibling)
	want := "cc.local cc.remote dd.remote/ dm.remote fd.local fd.remote/ keep md.local mm.local mm.merged mm.remote same sub/"
	if got := lsMount(t, f.mnt); got != want {
		t.Errorf("view = %q\nwant   %q", got, want)
	}
	if got := lsMount(t, filepath.Join(f.mnt, "sub")); got != "mm.local mm.merged mm.remote" {
		t.Errorf("view of sub = %q", got)
	}
	if got := lsMount(t, filepath.Join(f.mnt, "fd.remote")); got != "x y/" {
		t.Errorf("view of fd.remote = %q", got)
	}
	if got := lsMount(t, filepath.Join(f.mnt, "dd.remote")); got != "x y" {
		t.Errorf("view of dd.remote = %q", got)
	}
	checkView(t, "view", f.mnt, map[string]string{
		"mm.local": "L", "mm.remote": "R", "cc.local": "Lc", "cc.remote": "Rc",
		"md.local": "L", "md.remote": absent, "md": absent,
		"dm.remote": "R", "dm.local": absent, "dm": absent,
		"dd.remote/x": "R", "dd.remote/y": "base", "dd": absent, "dd.local": absent,
		"fd.local": "Lf", "fd.remote/x": "X", "fd.remote/y/z": "Z", "fd": absent,
		"sub/mm.local": "Lsub", "sub/mm.remote": "Rsub", "same": "S", "keep": "k",
		"mm.merged": "<<<<<<< local\nL\n=======\nR\n>>>>>>> remote\n", "cc.merged": absent, "md.merged": absent,
	})
	// the same modes, sizes and kinds as the versions they show
	mustSh(t, f.mnt, `test -f mm.local && test -f mm.remote && test -d fd.remote && test -f fd.local && test -d dd.remote && [ "$(stat -c %s cc.remote)" = 2 ]`)
	// commit leaves every conflict alone
	f.commitWant(t, 7)
	check(t, "local", f.local, map[string]string{"mm": "L", "md": "L", "dm": absent, "dd": absent, "cc": "Lc", "fd": "Lf", "sub/mm": "Lsub"})
	check(t, "remote", f.remote, map[string]string{"mm": "R", "md": absent, "dm": "R", "dd/x": "R", "cc": "Rc", "fd/x": "X", "sub/mm": "Rsub"})
	if got := lsMount(t, f.mnt); got != want {
		t.Errorf("view after commit = %q\nwant   %q", got, want)
	}
}

// TestMountWritesReachRemoteOnlyAtCommit makes edits and new files in the
// mount: nothing reaches the remote before commit, everything after.
func TestMountWritesReachRemoteOnlyAtCommit(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"a": "base a", "d/b": "base b", "d/e/c": "base c"}})
	before := snapshot(t, f.remote, false)
	mustSh(t, f.mnt, `printf 'more' >> a && printf new > d/n && mkdir -p x/y && printf deep > x/y/z &&
		printf rewritten > d/e/c && rm d/b && mv d/e d/e2 && chmod 600 a && ln -s ../a x/l`)
	want := map[string]string{"a": "base amore", "d/n": "new", "x/y/z": "deep", "d/e2/c": "rewritten", "d/b": absent, "d/e": absent, "x/l": "-> ../a"}
	checkView(t, "view", f.mnt, want)
	check(t, "local before commit", f.local, want)
	time.Sleep(100 * time.Millisecond)
	sameTree(t, "remote before commit", snapshot(t, f.remote, false), before)
	f.commitWant(t, 0)
	check(t, "remote after commit", f.remote, want)
	sameTree(t, "remote vs local after commit", snapshot(t, f.remote, true), snapshot(t, f.local, true))
	// a second commit has nothing to do
	if res := f.commitWant(t, 0); res.Applied != 0 {
		t.Errorf("second commit applied %d paths", res.Applied)
	}
}

// TestOutsideChanges changes both trees behind the mount's back: local
// changes show at once (within the kernel's cache time), remote ones after
// a rescan.
func TestOutsideChanges(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"l": "base", "r": "base", "r2": "base", "d/x": "base"}})
	// read everything once, so the kernel caches names, attributes and pages
	checkView(t, "view", f.mnt, map[string]string{"l": "base", "r": "base", "r2": "base", "d/x": "base"})

	// local side: same size and a new size, a new file, a removal
	put(t, f.local, map[string]string{"l": "BASE", "d/x": "longer local", "ln": "new local"})
	os.Remove(filepath.Join(f.local, "r2"))
	eventually(t, 3*time.Second, func() string {
		for p, want := range map[string]string{"l": "BASE", "d/x": "longer local", "ln": "new local", "r2": absent} {
			if got := viewContent(t, f.mnt, p); got != want {
				return "local change not in the view: " + p + " = " + got
			}
		}
		return ""
	})

	// remote side: shows after the rescan
	put(t, f.remote, map[string]string{"r": "RRRR", "rn": "new remote", "d/rd/y": "remote deep"})
	if _, err := f.d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() string {
		for p, want := range map[string]string{"r": "RRRR", "rn": "new remote", "d/rd/y": "remote deep"} {
			if got := viewContent(t, f.mnt, p); got != want {
				return "remote change not in the view after rescan: " + p + " = " + got
			}
		}
		return ""
	})
	// and again, on a remote-backed file already read through the cache
	put(t, f.remote, map[string]string{"r": "r2r2", "rn": "changed remote again"})
	if _, err := f.d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() string {
		for p, want := range map[string]string{"r": "r2r2", "rn": "changed remote again"} {
			if got := viewContent(t, f.mnt, p); got != want {
				return "second remote change not in the view after rescan: " + p + " = " + got
			}
		}
		return ""
	})
	// a remote deletion hides the file
	os.Remove(filepath.Join(f.remote, "rn"))
	if _, err := f.d.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() string {
		if got := lsMount(t, f.mnt); strings.Contains(" "+got+" ", " rn ") {
			return "remote deletion still shows: " + got
		}
		return ""
	})
}

// TestPeriodicRescan relies on the daemon's own rescan timer.
func TestPeriodicRescan(t *testing.T) {
	f := setup(t, scenario{base: map[string]string{"r": "base"}, rescan: 500 * time.Millisecond})
	checkView(t, "view", f.mnt, map[string]string{"r": "base"})
	put(t, f.remote, map[string]string{"r": "BASE", "n": "new"})
	eventually(t, 5*time.Second, func() string {
		for p, want := range map[string]string{"r": "BASE", "n": "new"} {
			if got := viewContent(t, f.mnt, p); got != want {
				return "remote change not in the view: " + p + " = " + got
			}
		}
		return ""
	})
	// a conflict made behind the mount appears as siblings
	put(t, f.local, map[string]string{"r": "local"})
	put(t, f.remote, map[string]string{"r": "remote"})
	eventually(t, 5*time.Second, func() string {
		if got := lsMount(t, f.mnt); got != "n r.local r.merged r.remote" { // a text file: its merge shows too
			return "view = " + got
		}
		return ""
	})
}
