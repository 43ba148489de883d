package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/replica/sftp"
)

// A file renamed on one side is renamed on the other, not transferred.
func TestRenamePropagates(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"d": "d", "d/a": "f:" + strings.Repeat("a", 5000) + ":-", "e": "d"})
	os.Rename(filepath.Join(l, "d/a"), filepath.Join(l, "e/b"))
	_, res := syncPair(t, l, r, state)
	if res.Renamed != 1 || res.Bytes != 0 || res.Failed() != 0 {
		t.Fatalf("result %+v", res)
	}
	if got := readTree(t, r); got["e/b"] == "" || got["d/a"] != "" {
		t.Fatalf("remote = %v", got)
	}
}

// Swaps and 3-cycles converge, with nothing lost and no transfer (copies on
// the target side).
func TestSwapAndCycle(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"a": "f:AAAA:-", "b": "f:BBBB:-", "x": "f:XXXX:-", "y": "f:YYYY:-", "z": "f:ZZZZ:-"})
	// swap a <-> b and rotate x -> y -> z -> x on the local side
	move := func(from, to string) { os.Rename(filepath.Join(l, from), filepath.Join(l, to)) }
	move("a", "tmp")
	move("b", "a")
	move("tmp", "b")
	move("z", "tmp")
	move("y", "z")
	move("x", "y")
	move("tmp", "x")
	_, res := syncPair(t, l, r, state)
	want := snapshot{"a": "f:BBBB:-", "b": "f:AAAA:-", "x": "f:ZZZZ:-", "y": "f:XXXX:-", "z": "f:YYYY:-"}
	if got := readTree(t, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("remote = %v", got)
	}
	if res.Bytes != 0 || res.Copied != 5 {
		t.Fatalf("swaps transferred data: %+v", res)
	}
}

// A rename on one side and an edit on the other end with the edit at the
// new path, not a conflict.
func TestRenamePlusEdit(t *testing.T) {
	for _, localRenames := range []bool{true, false} {
		t.Run(fmt.Sprint("localRenames=", localRenames), func(t *testing.T) {
			l, r, state := newPairDirs(t, snapshot{"a": "f:original:-"})
			renamer, editor := l, r
			if !localRenames {
				renamer, editor = r, l
			}
			os.Rename(filepath.Join(renamer, "a"), filepath.Join(renamer, "b"))
			os.WriteFile(filepath.Join(editor, "a"), []byte("edited"), 0o644)
			plan, res := syncPair(t, l, r, state)
			if len(plan.Conflicts()) != 0 || res.Failed() != 0 {
				t.Fatalf("conflicts %v, problems %v", plan.Conflicts(), res.Problems)
			}
			for _, root := range []string{l, r} {
				if got := readTree(t, root); fmt.Sprint(got) != fmt.Sprint(snapshot{"b": "f:edited:-"}) {
					t.Fatalf("%s = %v", root, got)
				}
			}
		})
	}
}

// Both sides renamed the same file differently: both names are kept (the
// second made by a copy, not a transfer).
func TestBothRenamedDifferently(t *testing.T) {
	l, r, state := newPairDirs(t, snapshot{"a": "f:content:-"})
	os.Rename(filepath.Join(l, "a"), filepath.Join(l, "b"))
	os.Rename(filepath.Join(r, "a"), filepath.Join(r, "c"))
	_, res := syncPair(t, l, r, state)
	want := fmt.Sprint(snapshot{"b": "f:content:-", "c": "f:content:-"})
	if fmt.Sprint(readTree(t, l)) != want || fmt.Sprint(readTree(t, r)) != want || res.Bytes != 0 {
		t.Fatalf("local %v remote %v result %+v", readTree(t, l), readTree(t, r), res)
	}
}

// A new file whose content the target already holds is copied there.
func TestCopyOnTarget(t *testing.T) {
	big := strings.Repeat("z", 100000)
	l, r, state := newPairDirs(t, snapshot{"a": "f:" + big + ":-"})
	writeTree(t, l, snapshot{"copy": "f:" + big + ":-"})
	_, res := syncPair(t, l, r, state)
	if res.Copied != 1 || res.Bytes != 0 || readTree(t, r)["copy"] != "f:"+big+":-" {
		t.Fatalf("result %+v", res)
	}
}

// A directory of 200 x 1 MiB files renamed on one side crosses the wire as
// renames: under 1% of its data is sent over SFTP.
func TestDirRenameOverSSH(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	sshCommand, sshHost = sshCmd, host
	defer func() { sshCommand, sshHost = "", "" }()
	dir := t.TempDir()
	l, r, state := filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "s")
	os.MkdirAll(filepath.Join(l, "photos"), 0o755)
	os.Mkdir(r, 0o755)
	const n, size = 200, 1 << 20
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		copy(buf, fmt.Sprintf("file %d", i))
		os.WriteFile(filepath.Join(l, "photos", fmt.Sprintf("p%03d.jpg", i)), buf, 0o644)
	}
	syncPair(t, l, remoteArg(r), state)
	os.Rename(filepath.Join(l, "photos"), filepath.Join(l, "album"))
	p := openTest(t, l, remoteArg(r), state)
	plan, err := p.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(t.Context(), plan, ApplyOptions{})
	if err != nil || res.Failed() != 0 {
		t.Fatalf("apply: %v %v", err, res.Problems)
	}
	sent := p.Remote.(*sftp.Replica).BytesWritten() + p.Remote.(*sftp.Replica).BytesRead()
	if limit := int64(n * size / 100); sent > limit || res.Renamed != 1 {
		t.Fatalf("%d bytes crossed the wire (limit %d), %d renames (want the directory's alone)", sent, limit, res.Renamed)
	}
	if _, err := os.Stat(filepath.Join(r, "album", "p199.jpg")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "photos")); err == nil {
		t.Fatal("old directory still on the remote")
	}
}

// Without a remote agent, a scan reads no remote file data: hashes are
// computed by download only where a decision needs them (both sides
// changed), and equal content there is no conflict.
func TestLazyRemoteHashing(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	sshCommand, sshHost = sshCmd, host
	defer func() { sshCommand, sshHost = "", "" }()
	dir := t.TempDir()
	l, r, state := filepath.Join(dir, "l"), filepath.Join(dir, "r"), filepath.Join(dir, "s")
	os.Mkdir(l, 0o755)
	os.Mkdir(r, 0o755)
	big := strings.Repeat("r", 100000)
	for i := 0; i < 50; i++ {
		os.WriteFile(filepath.Join(r, fmt.Sprintf("f%02d", i)), []byte(big), 0o644)
	}
	os.WriteFile(filepath.Join(l, "same"), []byte("identical"), 0o644)
	os.WriteFile(filepath.Join(r, "same"), []byte("identical"), 0o644)
	p := openTest(t, l, remoteArg(r), state)
	plan, err := p.Scan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	read := p.Remote.(*sftp.Replica).BytesRead()
	if read != int64(len("identical")) || plan.RemoteHashing != HashByDownload {
		t.Fatalf("scan read %d bytes of remote data (mode %q)", read, plan.RemoteHashing)
	}
	if len(plan.Conflicts()) != 0 || plan.Summarize().ToLocal != 50 {
		t.Fatalf("plan: %v", plan.Top())
	}
	res, err := p.Apply(t.Context(), plan, ApplyOptions{})
	if err != nil || !res.InSync() {
		t.Fatalf("apply: %v %+v", err, res)
	}
	p.Close()
	again := planOf(t, l, remoteArg(r), state)
	if len(again.Top()) != 0 {
		t.Fatalf("second run: %v", again.Top())
	}
}

// A renamed directory is renamed whole on the other side; one whose
// content also changed falls back to renames of its files.
func TestDirRename(t *testing.T) {
	base := snapshot{"d": "d", "d/a": "f:" + strings.Repeat("a", 3000) + ":-", "d/s": "d", "d/s/b": "f:bbbb:x", "d/l": "l:a"}
	l, r, state := newPairDirs(t, base)
	os.Rename(filepath.Join(l, "d"), filepath.Join(l, "e"))
	_, res := syncPair(t, l, r, state)
	want := fmt.Sprint(snapshot{"e": "d", "e/a": "f:" + strings.Repeat("a", 3000) + ":-", "e/s": "d", "e/s/b": "f:bbbb:x", "e/l": "l:a"})
	if got := fmt.Sprint(readTree(t, r)); got != want || res.Renamed != 1 || res.Bytes != 0 || res.Failed() != 0 {
		t.Fatalf("remote %s, result %+v", got, res)
	}
	if again := planOf(t, l, r, state); len(again.Top()) != 0 {
		t.Fatalf("second run: %v", again.Top())
	}
	// renamed and edited inside: per-file renames, the edit transferred
	os.Rename(filepath.Join(l, "e"), filepath.Join(l, "f"))
	os.WriteFile(filepath.Join(l, "f/s/b"), []byte("new"), 0o755)
	_, res = syncPair(t, l, r, state)
	if got := readTree(t, r); got["f/a"] == "" || got["f/s/b"] != "f:new:x" || got["e"] != "" || res.Renamed != 1 {
		t.Fatalf("remote %v, result %+v", got, res)
	}
}
