package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"lukechampine.com/blake3"

	"github.com/myrrorfs/myrrorfs/internal/testenv"
	"github.com/myrrorfs/myrrorfs/journal"
	"github.com/myrrorfs/myrrorfs/tree"
)

// sameSizeEdit rewrites file p with content of its own size and gives it
// back its modification time: an edit a check of size and mtime alone
// cannot see.
func sameSizeEdit(t *testing.T, p, content string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(content)) {
		t.Fatalf("%s holds %d bytes, the edit %d", p, fi.Size(), len(content))
	}
	if err := os.WriteFile(p, []byte(content), fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(p); !after.ModTime().Equal(fi.ModTime()) || after.Size() != fi.Size() {
		t.Fatalf("%s: size or mtime not kept", p)
	}
}

// lastLine returns the last line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

const (
	fastCheck    = "check: size, mtime, ctime, inode and mode of each file;"
	sftpCheck    = "check: size, mtime, ctime, inode and mode of local files, size, mtime and mode of remote files;"
	contentCheck = "check: content of every file (--checksum):"
)

// editRecord rewrites the journal's record of path (no process holds the
// pair meanwhile).
func editRecord(t *testing.T, p pair, path string, edit func(*journal.Record)) {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(journalDir(t, p)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := append([]byte{'r'}, tree.SortKey(path)...)
	err = db.Update(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if err != nil {
			return err
		}
		val, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		rec, err := journal.DecodeRecord(val)
		if err != nil {
			return err
		}
		edit(&rec)
		return txn.Set(key, journal.EncodeRecord(nil, rec))
	})
	if err != nil {
		t.Fatalf("journal record of %s: %v", path, err)
	}
}

// readRecord returns the journal's record of path.
func readRecord(t *testing.T, p pair, path string) journal.Record {
	t.Helper()
	var rec journal.Record
	editRecord(t, p, path, func(r *journal.Record) { rec = *r })
	return rec
}

// localFingerprint is the fingerprint a local scan takes of p.
func localFingerprint(t *testing.T, p string) tree.Fingerprint {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return tree.Fingerprint{Size: st.Size, MtimeNs: st.Mtim.Nano(), CtimeNs: st.Ctim.Nano(), Ino: st.Ino, Mode: st.Mode}
}

// On a local pair the default check sees a same-size edit whose mtime was
// put back (ctime and inode change), and status names the level it ran.
// --checksum hashes every file on both sides, and finds an edit whose
// fingerprint the journal holds already, which is what a filesystem that
// keeps size and times across an edit (or a damaged state directory)
// shows: the default trusts the recorded hash and says in sync, --checksum
// brings the edit over and leaves the true hashes in the journal.
func TestChecksumLocalPair(t *testing.T) {
	files := map[string]string{"a": "alpha", "b": "bravo", "d/c": "charlie"}
	p := syncedPair(t, false, files)

	st := myrrorfs(t, p.args("status")...)
	if st.code != 0 || !strings.Contains(st.stdout, "in sync (4 paths)") || !strings.HasPrefix(lastLine(st.stdout), fastCheck) {
		t.Fatalf("status of a synced pair: %+v", st)
	}
	st = myrrorfs(t, p.args("status", "--checksum")...)
	if want := contentCheck + " 3 local files (17 B) and 3 remote files (17 B) hashed"; st.code != 0 ||
		!strings.Contains(st.stdout, "in sync (4 paths)") || lastLine(st.stdout) != want {
		t.Fatalf("status --checksum: %+v\nwant last line %q", st, want)
	}

	// the default sees a same-size edit with its mtime put back
	sameSizeEdit(t, filepath.Join(p.local, "a"), "ALPHA")
	if st := myrrorfs(t, p.args("status")...); !strings.Contains(st.stdout, "update  a\n") {
		t.Fatalf("status after a same-size edit: %+v", st)
	}
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 || read(t, filepath.Join(p.remoteDir, "a")) != "ALPHA" {
		t.Fatalf("sync after a same-size edit: %+v", r)
	}

	// an edit the fingerprints cannot see: the journal records the
	// fingerprint the remote file has after it, with the old hash
	rb := filepath.Join(p.remoteDir, "b")
	sameSizeEdit(t, rb, "BRAVO")
	old := readRecord(t, p, "b")
	editRecord(t, p, "b", func(r *journal.Record) { r.Remote.FP = localFingerprint(t, rb) })

	r := myrrorfs(t, p.args("sync", "-y")...)
	if r.code != 0 || !strings.Contains(r.stdout, "in sync (4 paths)") || read(t, filepath.Join(p.local, "b")) != "bravo" {
		t.Fatalf("default sync of an edit the fingerprints do not show: %+v (local b %q)", r, read(t, filepath.Join(p.local, "b")))
	}
	r = myrrorfs(t, p.args("sync", "-y", "--checksum")...)
	if r.code != 0 || !strings.Contains(r.stdout, "to local (1):\n  update  b\n") || !strings.Contains(r.stdout, contentCheck) ||
		read(t, filepath.Join(p.local, "b")) != "BRAVO" {
		t.Fatalf("sync --checksum: %+v (local b %q)", r, read(t, filepath.Join(p.local, "b")))
	}
	rec, want := readRecord(t, p, "b"), tree.Hash(blake3.Sum256([]byte("BRAVO")))
	if rec.Base.Hash != want || rec.Local.Hash != want || rec.Remote.Hash != want || old.Base.Hash == want {
		t.Fatalf("journal after sync --checksum: %+v, want hash %v", rec, want)
	}
	if st := myrrorfs(t, p.args("status")...); st.code != 0 || !strings.Contains(st.stdout, "in sync (4 paths)") {
		t.Fatalf("status after sync --checksum: %+v", st)
	}
}

// Over ssh with an agent the default sees a same-size remote edit whose
// mtime was put back, and --checksum hashes every remote file in place.
func TestChecksumWithAgent(t *testing.T) {
	p := agentPair(t, true, map[string]string{"a": "alpha", "d/c": "charlie"})
	sameSizeEdit(t, filepath.Join(p.remoteDir, "a"), "ALPHA")
	st := myrrorfs(t, p.args("status")...)
	if st.code != 0 || !strings.Contains(st.stdout, "to local (1):\n  update  a\n") || !strings.HasPrefix(lastLine(st.stdout), fastCheck) {
		t.Fatalf("status after a same-size remote edit: %+v", st)
	}
	st = myrrorfs(t, p.args("status", "--checksum")...)
	if want := contentCheck + " 2 local files (12 B) and 2 remote files (12 B) hashed"; st.code != 0 ||
		!strings.Contains(st.stdout, "update  a\n") || lastLine(st.stdout) != want || strings.Contains(st.stderr, "downloaded") {
		t.Fatalf("status --checksum with an agent: %+v\nwant last line %q", st, want)
	}
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 || read(t, filepath.Join(p.local, "a")) != "ALPHA" {
		t.Fatalf("sync of a same-size remote edit: %+v", r)
	}
}

// Over plain SFTP a remote file's fingerprint is its size, mtime and mode:
// a same-size edit whose mtime was put back is missed by the default, and
// --checksum (which downloads every remote file, and warns so) finds it.
// Plain SFTP's remote is read-only here: the edit travels to local.
func TestChecksumPlainSFTP(t *testing.T) {
	sshCmd, host := testenv.SSH(t)
	p := pair{local: t.TempDir(), state: t.TempDir(), remoteDir: testenv.SSHRemoteDir(t)}
	p.remote = host + ":" + p.remoteDir
	p.flags = []string{"--state", p.state, "-e", sshCmd, "--remote-myrrorfs", "none"}
	files := map[string]string{"a": "alpha", "d/c": "charlie"}
	write(t, p.local, files)
	write(t, p.remoteDir, files)
	if r := myrrorfs(t, p.args("sync", "-y")...); r.code != 0 || !strings.Contains(r.stdout, "in sync") {
		t.Fatalf("first sync of equal sides: %+v", r)
	}
	sameSizeEdit(t, filepath.Join(p.remoteDir, "a"), "ALPHA")

	st := myrrorfs(t, p.args("status")...)
	if st.code != 0 || !strings.Contains(st.stdout, "in sync (3 paths)") || !strings.HasPrefix(lastLine(st.stdout), sftpCheck) {
		t.Fatalf("status after a same-size remote edit: %+v", st)
	}
	r := myrrorfs(t, p.args("sync", "-y")...)
	if r.code != 0 || !strings.Contains(r.stdout, "in sync (3 paths)") || read(t, filepath.Join(p.local, "a")) != "alpha" {
		t.Fatalf("default sync: %+v (local a %q)", r, read(t, filepath.Join(p.local, "a")))
	}
	r = myrrorfs(t, p.args("sync", "-y", "--checksum")...)
	if want := contentCheck + " 2 local files (12 B) and 2 remote files (12 B, downloaded) hashed"; r.code != 0 ||
		!strings.Contains(r.stdout, "to local (1):\n  update  a\n") || !strings.Contains(r.stdout, want+"\n") ||
		!strings.Contains(r.stderr, "warning: --checksum without a myrrorfs agent on the remote: every remote file is downloaded") ||
		read(t, filepath.Join(p.local, "a")) != "ALPHA" {
		t.Fatalf("sync --checksum: %+v (local a %q)\nwant %q", r, read(t, filepath.Join(p.local, "a")), want)
	}
	if st := myrrorfs(t, p.args("status")...); st.code != 0 || !strings.Contains(st.stdout, "in sync (3 paths)") {
		t.Fatalf("status after sync --checksum: %+v", st)
	}
}
