package daemon

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/myrrorfs/myrrorfs/engine"
	"github.com/myrrorfs/myrrorfs/internal/testenv"
)

// whileCommitting runs fn while commits of the view run one after another,
// as when a user commits while programs work in the mount; each commit
// must succeed.
func whileCommitting(t *testing.T, f *fixture, fn func()) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var commits int
	var failed error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, _, err := f.d.Commit(context.Background(), nil, engine.ApplyOptions{}); err != nil {
				failed = err
				return
			}
			commits++
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	if failed != nil {
		t.Fatalf("a commit during use: %v", failed)
	}
	t.Logf("%d commits during use", commits)
}

// gitEnv keeps git's output free of the user's and the system's settings.
const gitEnv = `export HOME="$PWD" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t; `

// TestGitInMount: a repository made and worked on in the view (commits,
// a branch, a rename, a merge, gc), while the view is committed again and
// again, is whole in the view and, after a last commit, on the remote.
func TestGitInMount(t *testing.T) {
	testenv.Tool(t, "git")
	f := setup(t, scenario{base: map[string]string{"keep": "k"}})
	whileCommitting(t, f, func() {
		mustSh(t, f.mnt, gitEnv+`git init -q -b main repo && cd repo &&
			for i in $(seq 1 30); do echo "line $i" > f$i.txt; done &&
			git add . && git commit -qm one &&
			for i in $(seq 1 15); do echo more >> f$i.txt && git commit -qam c$i || exit 1; done &&
			git checkout -qb br && git mv f1.txt g1.txt && git commit -qm mv &&
			git checkout -q main && echo x >> f2.txt && git commit -qam x &&
			git merge -q br -m merge && git gc -q && git fsck --strict --no-progress`)
	})
	if out := mustSh(t, f.mnt, gitEnv+`cd repo && git status --porcelain && git log --oneline | wc -l`); strings.TrimSpace(out) != "19" {
		t.Fatalf("in the view: %s", out)
	}
	f.commitWant(t, 0)
	out := mustSh(t, f.remote, gitEnv+`cd repo && git fsck --strict --no-progress && git status --porcelain && git log --oneline | wc -l && cat g1.txt`)
	if strings.TrimSpace(out) != "19\nline 1\nmore" {
		t.Fatalf("on the remote: %s", out)
	}
}

// TestSqliteInMount: two processes writing one SQLite database in WAL
// mode (shared memory, locks, fsync) in the view, while the view is
// committed again and again; the database is whole in the view and, once
// checkpointed and committed, on the remote.
func TestSqliteInMount(t *testing.T) {
	testenv.Tool(t, "sqlite3")
	f := setup(t, scenario{base: map[string]string{"keep": "k"}})
	mustSh(t, f.mnt, `sqlite3 t.db "pragma journal_mode=wal; create table t(a integer primary key, b text);" >/dev/null`)
	whileCommitting(t, f, func() {
		mustSh(t, f.mnt, `w() { for i in $(seq 1 60); do sqlite3 -cmd ".timeout 20000" t.db "insert into t(b) values('$1$i');" || return 1; done; }
			w a & a=$!; w b & b=$!; wait $a && wait $b`)
	})
	if out := mustSh(t, f.mnt, `sqlite3 t.db "pragma integrity_check; select count(*) from t; pragma journal_mode=delete;"`); out != "ok\n120\ndelete\n" {
		t.Fatalf("in the view: %q", out)
	}
	f.commitWant(t, 0)
	if out := mustSh(t, f.remote, `sqlite3 t.db "pragma integrity_check; select count(*) from t;"`); out != "ok\n120\n" {
		t.Fatalf("on the remote: %q", out)
	}
}

// TestSqliteOnRemoteOnlyDatabase: SQLite writes to databases only the
// remote holds. Its first write copies the file into LOCAL; SQLite then
// checks that the path still leads to the file it opened (same inode), or
// it refuses to write ("attempt to write a readonly database").
func TestSqliteOnRemoteOnlyDatabase(t *testing.T) {
	testenv.Tool(t, "sqlite3")
	f := setup(t, scenario{base: map[string]string{"keep": "k"}, remotePrep: func(t *testing.T, root string) {
		mustSh(t, root, `for n in 1 2 3; do mkdir -p d$n && sqlite3 d$n/t.db "create table t(x); insert into t values(1);" || exit 1; done`)
	}})
	for _, n := range []string{"1", "2", "3"} {
		if out := mustSh(t, f.mnt, `sqlite3 d`+n+`/t.db "insert into t values(2); select count(*) from t;"`); out != "2\n" {
			t.Fatalf("d%s/t.db in the view: %q", n, out)
		}
	}
	f.commitWant(t, 0)
	for _, n := range []string{"1", "2", "3"} {
		if out := mustSh(t, f.remote, `sqlite3 d`+n+`/t.db "pragma integrity_check; select count(*) from t;"`); out != "ok\n2\n" {
			t.Fatalf("d%s/t.db on the remote: %q", n, out)
		}
	}
}
