#!/usr/bin/env bash
# Builds myrrorfs and makes a demo pair with changes on both sides and a
# conflict, then shows what `status` reports and says what to try next.
#
# Usage: scripts/demo.sh [DIR]    (default: a fresh directory under /tmp)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="${1:-$(mktemp -d /tmp/myrrorfs-demo.XXXXXX)}"
bin="$demo/bin/myrrorfs"

mkdir -p "$demo/bin"
echo "building myrrorfs into $bin"
(cd "$repo_root" && go build -o "$bin" ./cmd/myrrorfs)

local_dir="$demo/local" remote_dir="$demo/remote" state="$demo/state"
rm -rf "$local_dir" "$remote_dir" "$state"
mkdir -p "$local_dir/notes" "$remote_dir"

# A first sync makes both sides equal.
printf 'shopping: milk, eggs\n' >"$local_dir/notes/todo.txt"
printf 'hello\n' >"$local_dir/readme.txt"
printf 'draft 1\n' >"$local_dir/report.txt"
"$bin" sync --yes --state "$state" "$local_dir" "$remote_dir" >/dev/null

# Then each side changes on its own...
printf 'hello from the local side\n' >"$local_dir/readme.txt"
printf 'photo\n' >"$remote_dir/holiday.jpg"
# ...and both change the same file: a conflict.
printf 'draft 2, written locally\n' >"$local_dir/report.txt"
printf 'draft 2, written remotely\n' >"$remote_dir/report.txt"

run() {
	printf '\n$ myrrorfs %s\n' "$*"
	"$bin" "$@" || true
}
cd "$demo"
run status --state "$state" local remote

cat <<MSG

The demo pair is in $demo:
  local/   the local side        remote/   the other side (any [user@]host:path works too)

Try:
  cd $demo
  $bin sync --state state local remote            # asks, then copies readme.txt and holiday.jpg; exit 3: report.txt conflicts
  $bin conflicts --state state local remote       # lists report.txt (modify/modify)
  cp remote/report.txt local/report.txt           # resolve by hand: keep the remote version
  $bin sync -y --state state local remote         # now both sides are identical: exit 0
  ls remote/.myrrorfs-backup/*/                   # replaced versions are kept here

Remove the demo with: rm -rf $demo
MSG
