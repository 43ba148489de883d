#!/usr/bin/env bash
# Runs pjdfstest on a myrrorfs mount (default options, which for root share
# the mount with other users, and --allow-other=false) and on a plain
# directory, and prints the failures per test directory.
#
# Usage: scripts/pjdfstest.sh [TESTDIR...]      (default: the list below)
#
# Needs root. pjdfstest is built from a checkout given by PJDFSTEST_SRC, or
# cloned from https://github.com/pjd/pjdfstest (needs the network), with
# autoconf, automake and gcc (installed with apt-get when missing).
# PJDFSTEST_OUT (default: a fresh temporary directory) receives one prove
# log per run and test directory. Nothing is written to the repository.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dirs=("$@")
if ((${#dirs[@]} == 0)); then
	dirs=(chmod open mkdir mkfifo mknod truncate ftruncate unlink rename rmdir link symlink utimensat)
fi

log() { printf 'pjdfstest.sh: %s\n' "$*" >&2; }

# shellcheck source=scripts/lib/apt.sh
source "$repo_root/scripts/lib/apt.sh"

[[ $(id -u) == 0 ]] || { log "needs root"; exit 1; }
missing=()
command -v autoreconf >/dev/null 2>&1 || missing+=(autoconf automake)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v prove >/dev/null 2>&1 || missing+=(perl)
command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
install_packages "${missing[@]}"

work="$(mktemp -d -t myrrorfs-pjdfstest.XXXXXX)"
out="${PJDFSTEST_OUT:-$work/logs}"
mkdir -p "$out"
mnt=
cleanup() {
	if [[ -n "$mnt" ]] && mountpoint -q "$mnt"; then
		"$work/myrrorfs" unmount --state "$work/state" "$mnt" || umount -l "$mnt" || true
	fi
	rm -rf "$work/src" "$work/pair"* "$work/state" "$work/plain"
}
trap cleanup EXIT

if [[ -n "${PJDFSTEST_SRC:-}" ]]; then
	cp -a "$PJDFSTEST_SRC" "$work/src"
else
	git clone -q https://github.com/pjd/pjdfstest "$work/src"
fi
(cd "$work/src" && autoreconf -ifs && ./configure && make pjdfstest) >"$work/build.log" 2>&1 ||
	{ log "build failed, see $work/build.log"; exit 1; }
(cd "$repo_root" && go build -o "$work/myrrorfs" ./cmd/myrrorfs)
tests="$work/src/tests"

# run NAME DIR: runs every test directory in DIR (the file system under
# test) and prints "NAME DIR failed/total" lines and the failed tests.
run() {
	local name=$1 fsdir=$2 d total failed
	for d in "${dirs[@]}"; do
		(cd "$fsdir" && prove -rv "$tests/$d") >"$out/$name-$d.log" 2>&1 || true
		total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$out/$name-$d.log")
		failed=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$out/$name-$d.log" | awk '{s += $1} END {print s + 0}')
		printf '%-12s %-10s %s/%s failed\n' "$name" "$d" "${failed:-0}" "${total:-?}"
		sed -n 's/^.*\/tests\/\(.*\.t\) *(Wstat: [0-9]* Tests: \([0-9]*\) Failed: \([0-9]*\)).*/    \1 \3\/\2/p' "$out/$name-$d.log"
	done
}

mkdir -p "$work/plain" && chmod 755 "$work"
run plain "$work/plain"

for mode in default private; do
	rm -rf "$work/pair" "$work/state"
	mkdir -p "$work/pair/l" "$work/pair/r" "$work/pair/m"
	flags=()
	[[ $mode == private ]] && flags+=(--allow-other=false)
	mnt="$work/pair/m"
	"$work/myrrorfs" mount --state "$work/state" "${flags[@]}" "$work/pair/l" "$work/pair/r" "$mnt"
	chmod 755 "$work/pair"
	run "$mode" "$mnt"
	"$work/myrrorfs" unmount --state "$work/state" "$mnt"
	mnt=
done
log "logs in $out"
