#!/usr/bin/env bash
# Builds myrrorfs, makes a demo pair with one conflict of each kind and a few
# one-sided changes, mounts the merged view and says what to try.
#
# Usage: scripts/demo.sh [DIR]    (default: a fresh directory under /tmp)
# Needs FUSE (/dev/fuse, and root or fusermount3).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="${1:-$(mktemp -d /tmp/myrrorfs-demo.XXXXXX)}"
bin="$demo/bin/myrrorfs"
local_dir="$demo/local" remote_dir="$demo/remote" state="$demo/state" view="$demo/view"

if [[ ! -e /dev/fuse ]]; then
	echo "demo.sh: /dev/fuse is missing: the merged view needs FUSE" >&2
	exit 1
fi
if [[ $EUID -ne 0 ]] && ! command -v fusermount3 >/dev/null; then
	echo "demo.sh: run as root, or install fuse3 (fusermount3)" >&2
	exit 1
fi

mkdir -p "$demo/bin"
echo "building myrrorfs into $bin"
(cd "$repo_root" && go build -o "$bin" ./cmd/myrrorfs)
if mountpoint -q "$view" 2>/dev/null; then "$bin" unmount --state "$state" "$view" || umount -l "$view"; fi
rm -rf "$local_dir" "$remote_dir" "$state"
mkdir -p "$local_dir" "$remote_dir" "$view"

# The last sync: both sides hold this.
mkdir -p "$local_dir/photos" "$local_dir/drafts"
printf 'shopping: milk, eggs\n' >"$local_dir/todo.txt"
printf 'hello\n' >"$local_dir/readme.txt"
printf 'draft 1\n' >"$local_dir/report.txt"
printf 'old notes\n' >"$local_dir/notes.txt"
printf 'sunset\n' >"$local_dir/photos/sunset.jpg"
printf 'chapter 1\n' >"$local_dir/drafts/ch1.txt"
"$bin" sync --yes --state "$state" "$local_dir" "$remote_dir" >/dev/null

# One-sided changes.
printf 'hello from the local side\n' >"$local_dir/readme.txt"
printf 'photo taken remotely\n' >"$remote_dir/holiday.jpg"
# modify/modify: both edit report.txt.
printf 'draft 2, written locally\n' >"$local_dir/report.txt"
printf 'draft 2, written remotely\n' >"$remote_dir/report.txt"
# create/create: both create plan.txt.
printf 'local plan\n' >"$local_dir/plan.txt"
printf 'remote plan\n' >"$remote_dir/plan.txt"
# modify/delete: notes.txt edited locally, deleted remotely.
printf 'new notes\n' >"$local_dir/notes.txt"
rm "$remote_dir/notes.txt"
# delete/modify on a directory: photos/ deleted locally, a photo edited remotely.
rm -r "$local_dir/photos"
printf 'sunset, retouched\n' >"$remote_dir/photos/sunset.jpg"
# file/dir: build is a file locally and a directory remotely.
printf 'build log\n' >"$local_dir/build"
mkdir "$remote_dir/build" && printf 'binary\n' >"$remote_dir/build/app"

"$bin" mount --state "$state" "$local_dir" "$remote_dir" "$view"
cd "$demo"
printf '\n$ ls %s\n' "$view"
ls "$view"
printf '\n$ myrrorfs conflicts %s\n' "$view"
"$bin" conflicts --state "$state" "$view" || true

cat <<MSG

The merged view of local/ and remote/ is mounted at $view.
Each path shows the version that wins; a path changed on both sides shows as
NAME.local and NAME.remote. Open the view in any file manager, or try:

  cd $view
  cat report.txt.local report.txt.remote    # the two versions
  rm report.txt.remote                      # keep the local version
  mv plan.txt.remote plan-remote.txt        # keep both plans
  mv notes.txt.local notes.txt              # keep the edited notes
  gio trash build.local                     # keep the remote build/ directory
  rm -r photos.remote                       # keep the deletion of photos/
  ls                                        # the conflicts are gone
  $bin status --state $state $view     # what commit will do
  $bin commit --state $state $view     # asks, then makes both sides equal to the view
  cd $demo; $bin unmount --state $state $view

Nothing reaches remote/ before commit. Replaced versions are kept in
.myrrorfs-backup/ on each side. Remove the demo with:
  $bin unmount --state $state $view; rm -rf $demo
MSG
