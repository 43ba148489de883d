#!/usr/bin/env bash
# Benchmarks myrrorfs against unison, rsync, scp and sshfs on this machine,
# all in one run, over a throwaway OpenSSH server on 127.0.0.1 (the "remote"
# is this machine). Every figure is the median of --runs timed runs, and is
# given as a ratio against the peers.
#
# Usage: scripts/bench.sh [OPTIONS]
#   --runs N           timed runs per measurement (default 5)
#   --files N          files of the tree re-synced (1), changed (8) and watched (11 to 13),
#                      100 per directory (default 100000)
#   --rename-files N   1 MiB files in the renamed directory (default 200)
#   --small-files N    4 KiB files for the first transfer over ssh, 100 per directory (default 5000)
#   --lat-files N      4 KiB files for the first transfer over the slow link (default 2000)
#   --mixed-files N    files of the mixed tree, about 30 KiB each on average (default 10000)
#   --status-files N   files on each side of the pair given to status (default 1000000)
#   --large-mib N      size of the large file in MiB (default 512)
#   --read-mib N       size of the file read through the mount in MiB (default 1024)
#   --tree-files N     files of the tree walked through the mount, 100 per directory (default 20000)
#   --latency MS       delay added to each direction of the slow link (default 20)
#   --timeout S        a first transfer still running after S seconds is stopped,
#                      and its tool not run again in that measurement (default 600)
#   --settle-seconds S a mount of 11 to 13 is left alone for S seconds, then until
#                      it is quiet, before it is measured (default 10)
#   --idle-seconds S   how long the idle mount of 11 is measured (default 60)
#   --churn-seconds S  how long the small changes of 13 go on (default 120)
#   --only LIST        comma-separated subset of the measurements 1 to 13 (default all)
#   --out DIR          directory for the results (default a fresh one under $TMPDIR or /tmp)
#   --keep             keep the data directory (default: removed on exit)
#
# Measurements:
#   1  no-change re-sync, local-to-local and over ssh: myrrorfs, unison, rsync (time, peak RSS)
#   2  rename of a directory of 1 MiB files, then sync over ssh: myrrorfs, unison, rsync
#   3  first transfer of many 4 KiB files over ssh: myrrorfs, rsync, unison
#   4  one large file over ssh: myrrorfs, scp, rsync
#   5  reads of a local-backed file and find+stat through `myrrorfs mount` vs direct vs sshfs
#   6  first transfer of many 4 KiB files over ssh on a link with --latency ms added
#      each way: myrrorfs, rsync, unison
#   7  first transfer of a mixed tree (mostly small files, some medium, a few large)
#      over ssh: myrrorfs, rsync, unison
#   8  100 files changed on each side of the --files tree, then sync over ssh:
#      myrrorfs, unison, rsync -au once in each direction
#   9  `myrrorfs status` of an unchanged local pair of --status-files files
#      (time, peak RSS, bytes per file), with `rsync -an` for reference
#  10  first read of a remote-only file through `myrrorfs mount` vs sshfs, over ssh
#      and over the slow link
#  11  idle CPU of a mounted pair of --files files (default --rescan), local pair
#      and over ssh: the daemon's and the agent's CPU time over --idle-seconds
#      (one window, not --runs)
#  12  change latency, local pair and over ssh: a file created, edited, deleted on
#      either side until the mount shows it; and under `myrrorfs sync --watch`,
#      until the other side has it
#  13  RSS of a mount of that pair over --churn-seconds of one small change a
#      second on each side (start, end, peak; one window, not --runs)
#
# The slow link is ssh through a relay (internal/cmd/delayrelay, as its
# ProxyCommand) that holds every chunk for --latency ms in each direction:
# the kernel may have no netem. The summary ends with an overview: each
# workload's myrrorfs / best peer ratio (of wall times, or of peak RSS;
# lower is better) next to the target of issue 10, or of issue 13 for the
# watching mount and `sync --watch` (11 to 13).
#
# Needs root on Debian: missing tools are installed with apt-get. Writes
# results.tsv (one line per measurement, every run), summary.md (the tables
# printed at the end) and logs/ (each command's output) under the results
# directory. Not part of scripts/test.sh or CI.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
test_host=myrrorfs-bench
lat_py="$repo_root/scripts/lib/latency.py"

log() { printf 'bench.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# shellcheck source=scripts/lib/sshd.sh
source "$repo_root/scripts/lib/sshd.sh"
# shellcheck source=scripts/lib/apt.sh
source "$repo_root/scripts/lib/apt.sh"

runs=5
n_files=100000
rename_files=200
small_files=5000
lat_files=2000
mixed_files=10000
status_files=1000000
large_mib=512
read_mib=1024
tree_files=20000
latency=20
timeout_s=600
settle_s=10
idle_s=60
churn_s=120
only=1,2,3,4,5,6,7,8,9,10,11,12,13
out=
keep=0

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

parse_args() {
	while (($# > 0)); do
		case $1 in
		--runs) runs=$2 ;;
		--files) n_files=$2 ;;
		--rename-files) rename_files=$2 ;;
		--small-files) small_files=$2 ;;
		--lat-files) lat_files=$2 ;;
		--mixed-files) mixed_files=$2 ;;
		--status-files) status_files=$2 ;;
		--latency) latency=$2 ;;
		--timeout) timeout_s=$2 ;;
		--large-mib) large_mib=$2 ;;
		--read-mib) read_mib=$2 ;;
		--tree-files) tree_files=$2 ;;
		--settle-seconds) settle_s=$2 ;;
		--idle-seconds) idle_s=$2 ;;
		--churn-seconds) churn_s=$2 ;;
		--only) only=$2 ;;
		--out) out=$2 ;;
		--keep)
			keep=1
			shift
			continue
			;;
		-h | --help)
			usage
			exit 0
			;;
		*) die "unknown argument $1 (see --help)" ;;
		esac
		(($# >= 2)) || die "$1 needs a value"
		shift 2
	done
	local v
	for v in "$runs" "$n_files" "$rename_files" "$small_files" "$lat_files" "$mixed_files" \
		"$status_files" "$large_mib" "$read_mib" "$tree_files" "$latency" "$timeout_s" \
		"$settle_s" "$idle_s" "$churn_s"; do
		if ! [[ $v =~ ^[0-9]+$ ]] || ((v == 0)); then
			die "sizes, counts and times are positive integers, not $v"
		fi
	done
	if wanted 8 && ((n_files < 200)); then
		die "measurement 8 changes 100 files on each side: --files must be at least 200"
	fi
}

wanted() { [[ ",$only," == *",$1,"* ]]; }

# install_missing installs the packages providing any missing tool.
install_missing() {
	local missing=()
	[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
	command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
	command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
	command -v rsync >/dev/null 2>&1 || missing+=(rsync)
	command -v unison >/dev/null 2>&1 || missing+=(unison)
	command -v sshfs >/dev/null 2>&1 || missing+=(sshfs)
	command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
	[[ -x /usr/bin/time ]] || missing+=(time)
	command -v python3 >/dev/null 2>&1 || missing+=(python3)
	install_packages "${missing[@]}"
}

# ---------------------------------------------------------------- helpers

# timed LABEL CMD...: runs CMD once, its output in $logs/LABEL.log. Sets
# wall (seconds, from the clock) and rss (KiB: the peak RSS of CMD's
# process tree as /usr/bin/time -v reports it, i.e. its largest process).
# Fails, showing the log, when CMD fails. When limit is set (seconds), CMD
# is stopped after that long: then timed_out is 1 and wall is the limit.
timed() {
	local label=$1
	shift
	local lf="$logs/$label.log" t0 t1 rc=0 pre=()
	[[ -n ${limit:-} ]] && pre=(timeout -k 10 "$limit")
	timed_out=0
	printf '$' >"$lf"
	printf ' %q' "$@" >>"$lf"
	printf '\n' >>"$lf"
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$lf.time" "${pre[@]}" "$@" >>"$lf" 2>&1 || rc=$?
	if ((rc == 124 && ${#pre[@]} > 0)); then
		timed_out=1
		wall=$limit
		rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$lf.time")
		return 0
	fi
	if ((rc != 0)); then
		log "$label failed:"
		tail -n 20 "$lf" >&2
		return 1
	fi
	t1=$(date +%s%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$lf.time")
}

# median VALUES...: the median.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		if (NR % 2) print a[(NR + 1) / 2]; else printf "%.10g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# record SECTION CASE TOOL METRIC VALUES...: appends a line to results.tsv
# and prints the median.
record() {
	local section=$1 case=$2 tool=$3 metric=$4
	shift 4
	local m
	m=$(median "$@")
	local IFS=,
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$case" "$tool" "$metric" "$m" "$*" >>"$results"
	echo "$m"
}

# calc EXPR [FORMAT]: evaluates an awk expression (default format %.3g).
calc() { awk "BEGIN { printf \"${2:-%.3g}\", $1 }"; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }

# say LINE: adds a line to the summary, printed at the end.
say() { printf '%s\n' "$*" >>"$summary"; }

# overview ORDER WORKLOAD MYRRORFS RSYNC UNISON SSHFS RATIO TARGET: adds a
# row to the overview at the end of the summary, where rows are sorted by
# ORDER (that of the issue's table).
overview() { printf '%s\t| %s | %s | %s | %s | %s | %s | %s |\n' "$@" >>"$overview"; }

# best_peer MINE NAME VALUE [NAME VALUE]...: "R× NAME", where R is MINE
# over the smallest VALUE (a VALUE "-" or empty is left out).
best_peer() {
	local mine=$1 bn='' bv=''
	shift
	while (($# >= 2)); do
		if [[ -n $2 && $2 != - ]] && { [[ -z $bv ]] || awk -v a="$2" -v b="$bv" 'BEGIN { exit !(a < b) }'; }; then
			bn=$1 bv=$2
		fi
		shift 2
	done
	if [[ -z $bv || -z $mine || $mine == - ]]; then
		echo -
	else
		echo "$(calc "$mine / $bv")× $bn"
	fi
}

# ssh_bytes: bytes ssh moved (sent + received) according to the client log,
# then the log is emptied for the next run.
ssh_bytes() {
	awk '/Transferred: sent/ { gsub(",", ""); s += $3 + $5 } END { print s + 0 }' "$sshlog"
	: >"$sshlog"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
}

# make_small_tree DIR N BYTES: N files of BYTES random bytes, 100 per directory.
make_small_tree() {
	local root=$1 n=$2 bytes=$3 d per=100 ndirs
	ndirs=$(((n + per - 1) / per))
	mkdir -p "$root"
	for ((d = 0; d < ndirs; d++)); do
		local k=$((n - d * per))
		((k > per)) && k=$per
		mkdir -p "$root/d$d"
		head -c $((k * bytes)) /dev/urandom | split -b "$bytes" -a 3 -d - "$root/d$d/f"
	done
}

# make_text_tree DIR N: N files of a few dozen bytes, 100 per directory
# (DIR/dD/fF.txt holds "bench file D/F").
make_text_tree() {
	python3 "$repo_root/scripts/lib/mktree.py" text "$2" "$1" >/dev/null
}

# -------------------------------------------------------------- setup

setup() {
	install_missing
	[[ -n $out ]] || out="$(mktemp -d "${TMPDIR:-/tmp}/myrrorfs-bench.XXXXXX")"
	mkdir -p "$out/logs"
	logs="$out/logs"
	results="$out/results.tsv"
	summary="$out/summary.md"
	: >"$summary"
	printf 'section\tcase\ttool\tmetric\tmedian\truns\n' >"$results"

	data="$(mktemp -d "${TMPDIR:-/tmp}/myrrorfs-bench-data.XXXXXX")"
	overview="$data/overview.tsv"
	: >"$overview"
	dir="$data/ssh"
	mkdir -m 700 "$dir"
	bin="$data/bin/myrrorfs"
	relay="$data/bin/delayrelay"
	log "building myrrorfs and delayrelay"
	(cd "$repo_root" && go build -o "$bin" ./cmd/myrrorfs && go build -o "$relay" ./internal/cmd/delayrelay)

	make_keys
	start_sshd
	write_client_config "$port"
	check_ssh
	cfg="$dir/ssh_config"
	lat_host="$test_host-slow"
	write_slow_host
	sshlog="$data/ssh-client.log"
	: >"$sshlog"
	# Every ssh connection of the tools goes through this command; its
	# VERBOSE log carries the bytes each connection moved.
	ssh_args="-F $cfg -o LogLevel=VERBOSE -E $sshlog"
	SSH="ssh $ssh_args"
	remote_time="$data/remote-time.txt"
	cat >"$data/bin/unison-server" <<EOF
#!/bin/sh
UNISON=$data/unison-server exec /usr/bin/time -v -o $remote_time unison "\$@"
EOF
	# The same for the myrrorfs agent that sync runs on the remote.
	cat >"$data/bin/myrrorfs-remote" <<EOF
#!/bin/sh
exec /usr/bin/time -v -o $remote_time $bin "\$@"
EOF
	chmod +x "$data/bin/unison-server" "$data/bin/myrrorfs-remote"
	# The "remote" is this machine: the client and server sides of unison,
	# and its local and ssh runs, each keep their archives apart.
	mkdir -p "$data/unison-local" "$data/unison-ssh" "$data/unison-server"
	export UNISON="$data/unison-ssh"

	describe_machine
}

# write_slow_host adds $lat_host to the client config: the same server
# through delayrelay, which adds $latency ms to each direction. The alias
# makes ssh check the key pinned for the server's own address.
write_slow_host() {
	cat >>"$cfg" <<EOF

Host $lat_host
	HostName 127.0.0.1
	Port $port
	HostKeyAlias [127.0.0.1]:$port
	ProxyCommand $relay -delay ${latency}ms %h %p
	User root
	IdentityFile $dir/user_key
	IdentitiesOnly yes
	UserKnownHostsFile $dir/known_hosts
	StrictHostKeyChecking yes
	GlobalKnownHostsFile /dev/null
	LogLevel ERROR
EOF
	if ! ssh -F "$cfg" -oBatchMode=yes "$lat_host" true; then
		die "cannot log in through the slow link ($lat_host in $cfg)"
	fi
}

# login_time HOST: median seconds of 3 logins running true.
login_time() {
	local t=() i t0 t1
	for i in 1 2 3; do
		t0=$(date +%s%N)
		ssh -F "$cfg" -oBatchMode=yes "$1" true
		t1=$(date +%s%N)
		t+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
	done
	median "${t[@]}"
}

describe_machine() {
	local mem disk
	mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	disk=$(df -h --output=source,fstype,size "$data" | tail -n 1 | awk '{ print $1 " (" $2 ", " $3 ")" }')
	say "# myrrorfs benchmarks"
	say ""
	say "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	say "- machine: $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $mem memory, kernel $(uname -r), disk $disk"
	say "- $(go version | cut -d' ' -f3), $(unison -version 2>&1 | head -n 1), rsync $(rsync --version | awk 'NR == 1 { print $3 }'), $(ssh -V 2>&1), sshfs $(sshfs --version 2>&1 | awk '/SSHFS version/ { print $3 }'), hyperfine $(hyperfine --version | cut -d' ' -f2)"
	say "- runs per measurement: $runs (medians; ratios are of medians)"
	if wanted 6 || wanted 10; then
		say "- slow link: ssh through \`delayrelay -delay ${latency}ms\` as its ProxyCommand, adding $latency ms each way; \`ssh HOST true\` takes $(login_time "$test_host") s directly, $(login_time "$lat_host") s over it (median of 3)"
	fi
}

cleanup() {
	local rc=$?
	set +e
	if [[ -n ${mnt:-} ]] && mountpoint -q "$mnt"; then
		"$bin" unmount --state "$mstate" "$mnt" >/dev/null 2>&1 || umount -l "$mnt"
	fi
	if [[ -n ${sshfs_mnt:-} ]] && mountpoint -q "$sshfs_mnt"; then
		fusermount3 -u "$sshfs_mnt" 2>/dev/null || umount -l "$sshfs_mnt"
	fi
	[[ -n ${sleep_pid:-} ]] && kill "$sleep_pid" 2>/dev/null
	[[ -n ${watch_pid:-} ]] && stop_watch
	stop_sshd
	if [[ -n ${data:-} && -d $data ]]; then
		if ((keep)); then
			log "data kept in $data"
		else
			rm -rf "$data"
		fi
	fi
	[[ -n ${out:-} ]] && log "results in $out"
	exit "$rc"
}

# ---------------------------------------------------- 1. no-change re-sync

bench_nochange() {
	local s1="$data/s1" a b st="$data/s1/state"
	a="$s1/a" b="$s1/b"
	log "1: making $n_files files"
	mkdir -p "$a"
	make_text_tree "$a" "$n_files"
	cp -a "$a" "$b"
	local -A cmds
	cmds[local.myrrorfs]="$bin sync -y --state $st $a $b"
	cmds[local.unison]="unison $a $b -batch"
	cmds[local.rsync]="rsync -a $a/ $b/"
	cmds[ssh.myrrorfs]="$bin sync -y --state $st -e '$SSH' --remote-myrrorfs $data/bin/myrrorfs-remote $a $test_host:$b"
	cmds[ssh.unison]="unison $a ssh://$test_host/$b -batch -sshcmd ssh -sshargs '$ssh_args' -servercmd $data/bin/unison-server"
	cmds[ssh.rsync]="rsync -a -e '$SSH' --rsync-path='/usr/bin/time -v -o $remote_time rsync' $a/ $test_host:$b/"

	say ""
	say "## 1. No-change re-sync of $n_files files ($((n_files / 100)) dirs x 100)"
	say ""
	say "Median of $runs runs after an untimed first sync. RSS: peak of the local process tree; remote: the process each tool runs on the remote (myrrorfs agent, unison server, rsync server), through a wrapper running it under /usr/bin/time."
	say ""
	say "| case | tool | wall s | myrrorfs/tool wall | peak RSS MB | bytes/file | myrrorfs/tool RSS | remote RSS MB | first sync s |"
	say "|---|---|---|---|---|---|---|---|---|"
	local mode tool r key
	for mode in local ssh; do
		local -A first=() walls=() rsss=() rrss=()
		export UNISON="$data/unison-$mode"
		for tool in myrrorfs unison rsync; do
			key=$mode.$tool
			log "1: $key first sync"
			eval "timed s1-$key-first ${cmds[$key]}"
			first[$tool]=$wall
		done
		for ((r = 1; r <= runs; r++)); do
			for tool in myrrorfs unison rsync; do
				key=$mode.$tool
				rm -f "$remote_time"
				eval "timed s1-$key-$r ${cmds[$key]}"
				log "1: $key run $r: ${wall}s, ${rss} KiB"
				walls[$tool]+=" $wall"
				rsss[$tool]+=" $rss"
				if [[ -f $remote_time ]]; then
					rrss[$tool]+=" $(awk -F': ' '/Maximum resident set size/ { print $2 }' "$remote_time")"
				fi
			done
		done
		local -A mw=() mr=() mrr=()
		for tool in myrrorfs unison rsync; do
			# shellcheck disable=SC2086
			mw[$tool]=$(record 1 "$mode" "$tool" wall_s ${walls[$tool]})
			# shellcheck disable=SC2086
			mr[$tool]=$(record 1 "$mode" "$tool" rss_kib ${rsss[$tool]})
			mrr[$tool]=-
			if [[ -n ${rrss[$tool]:-} ]]; then
				# shellcheck disable=SC2086
				mrr[$tool]=$(fmt "$(record 1 "$mode" "$tool" remote_rss_kib ${rrss[$tool]})" '%.4g' | awk '{ printf "%.1f", $1 / 1024 }')
			fi
			record 1 "$mode" "$tool" first_wall_s "${first[$tool]}" >/dev/null
		done
		for tool in myrrorfs unison rsync; do
			say "| $mode | $tool | ${mw[$tool]} | $(calc "${mw[myrrorfs]} / ${mw[$tool]}") | $(calc "${mr[$tool]} / 1024" %.1f) | $(calc "${mr[$tool]} * 1024 / $n_files" %.0f) | $(calc "${mr[myrrorfs]} / ${mr[$tool]}") | ${mrr[$tool]} | ${first[$tool]} |"
		done
		if [[ $mode == ssh ]]; then
			overview 3 "no-change re-sync, $n_files files, ssh" "${mw[myrrorfs]} s" "${mw[rsync]} s" "${mw[unison]} s" - \
				"$(best_peer "${mw[myrrorfs]}" rsync "${mw[rsync]}" unison "${mw[unison]}")" "≤ 0.5× unison"
			overview 5 "peak RSS of that re-sync (local process)" "$(calc "${mr[myrrorfs]} / 1024" %.1f) MiB" \
				"$(calc "${mr[rsync]} / 1024" %.1f) MiB" "$(calc "${mr[unison]} / 1024" %.1f) MiB" - \
				"$(calc "${mr[myrrorfs]} / ${mr[unison]}")× unison" "≤ 1× unison"
		fi
	done
	say ""
	say "Commands:"
	say ""
	for key in local.myrrorfs local.unison local.rsync ssh.myrrorfs ssh.unison ssh.rsync; do
		note_cmd "${cmds[$key]}"
	done
	rm -rf "$s1"
	export UNISON="$data/unison-ssh"
}

# note_cmd CMD: adds a command line to the summary, with the data directory
# written $D and the ssh options <ssh-opts>.
note_cmd() {
	say "    $(printf '%s' "$1" | sed "s|$ssh_args|<ssh-opts>|g; s|$data|\$D|g")"
}

# ------------------------------------------- 2. rename of a directory, ssh

bench_rename() {
	local s2="$data/s2" tool r
	log "2: making $rename_files x 1 MiB files"
	mkdir -p "$s2/tmpl/dir0"
	head -c $((rename_files * 1048576)) /dev/urandom | split -b 1048576 -a 4 -d - "$s2/tmpl/dir0/f"
	for tool in myrrorfs unison rsync; do
		mkdir -p "$s2/$tool"
		cp -a "$s2/tmpl" "$s2/$tool/local"
		cp -a "$s2/tmpl" "$s2/$tool/remote"
	done
	rm -rf "$s2/tmpl"
	local -A cmds
	cmds[myrrorfs]="$bin sync -y --state $s2/state -e '$SSH' --remote-myrrorfs $bin $s2/myrrorfs/local $test_host:$s2/myrrorfs/remote"
	cmds[unison]="unison $s2/unison/local ssh://$test_host/$s2/unison/remote -batch -sshcmd ssh -sshargs '$ssh_args' -servercmd $data/bin/unison-server"
	cmds[rsync]="rsync -a --delete --stats -e '$SSH' $s2/rsync/local/ $test_host:$s2/rsync/remote/"
	for tool in myrrorfs unison rsync; do
		log "2: $tool first sync"
		eval "timed s2-$tool-first ${cmds[$tool]}"
	done
	: >"$sshlog"
	local -A walls=() wire=() own=()
	for ((r = 1; r <= runs; r++)); do
		for tool in myrrorfs unison rsync; do
			mv "$s2/$tool/local/dir$((r - 1))" "$s2/$tool/local/dir$r"
			: >"$sshlog"
			eval "timed s2-$tool-$r ${cmds[$tool]}"
			local bytes
			bytes=$(ssh_bytes)
			walls[$tool]+=" $wall"
			wire[$tool]+=" $bytes"
			case $tool in
			myrrorfs) own[$tool]+=" $(grep -o 'copied .*' "$logs/s2-$tool-$r.log" | tr ' ' _)" ;;
			rsync) own[$tool]+=" $(awk -F': ' '/^Total bytes sent/ { gsub(",", "", $2); print $2 }' "$logs/s2-$tool-$r.log")" ;;
			esac
			if [[ ! -d $s2/$tool/remote/dir$r || -e $s2/$tool/remote/dir$((r - 1)) ]]; then
				log "warning: $tool did not carry the rename to the remote"
			fi
			log "2: $tool run $r: ${wall}s, $bytes bytes over ssh"
		done
	done
	local total=$((rename_files * 1048576))
	say ""
	say "## 2. Rename of a directory of $rename_files x 1 MiB files, then sync over ssh"
	say ""
	say "Median of $runs runs (the directory is renamed again before each run). Bytes over ssh: sent + received by the ssh client (its log's Transferred line)."
	say ""
	say "| tool | wall s | myrrorfs/tool wall | MB over ssh | % of the data | tool's own count |"
	say "|---|---|---|---|---|---|"
	local -A mw=() mb=()
	for tool in myrrorfs unison rsync; do
		# shellcheck disable=SC2086
		mw[$tool]=$(record 2 rename "$tool" wall_s ${walls[$tool]})
		# shellcheck disable=SC2086
		mb[$tool]=$(record 2 rename "$tool" ssh_bytes ${wire[$tool]})
	done
	for tool in myrrorfs unison rsync; do
		local ownv=-
		# shellcheck disable=SC2086
		case $tool in
		myrrorfs) ownv="$(echo ${own[$tool]} | awk '{ print $1 }' | tr _ ' ') (sync output, run 1)" ;;
		rsync) ownv="$(calc "$(median ${own[$tool]}) / 1e6" %.1f) MB sent (--stats)" ;;
		esac
		say "| $tool | ${mw[$tool]} | $(calc "${mw[myrrorfs]} / ${mw[$tool]}") | $(calc "${mb[$tool]} / 1e6" %.2f) | $(calc "${mb[$tool]} * 100 / $total" %.2f) | $ownv |"
	done
	overview 8 "directory rename, $rename_files × 1 MiB, ssh" "${mw[myrrorfs]} s, $(calc "${mb[myrrorfs]} / 1e6" %.2f) MB" \
		"${mw[rsync]} s, $(calc "${mb[rsync]} / 1e6" %.2f) MB" "${mw[unison]} s, $(calc "${mb[unison]} / 1e6" %.2f) MB" - \
		"$(best_peer "${mw[myrrorfs]}" rsync "${mw[rsync]}" unison "${mw[unison]}")" "keep the lead (< 1)"
	say ""
	say "rsync has no rename detection (\`--fuzzy\` only looks for a basis in the same directory), so it sends the whole directory again."
	say ""
	say "Commands:"
	say ""
	for tool in myrrorfs unison rsync; do
		note_cmd "${cmds[$tool]}"
	done
	rm -rf "$s2"
}

# ------------------------------------------------- first transfers (3, 6, 7)

# first_syncs SECTION CASE HOST SRC N: times the first transfer of SRC (N
# files) into an empty directory on HOST with myrrorfs, rsync and unison,
# --runs times each (myrrorfs with a fresh journal each time, and its agent
# installed on the remote, as the peers are). A run longer than --timeout
# stops that tool for the rest of the measurement. Sets fs_cmd (each tool's
# command, run N written N), fs_med (median wall, or "-" if it never
# finished) and fs_out (1 for a tool that was stopped).
declare -A fs_cmd=() fs_med=() fs_out=()
first_syncs() {
	local sec=$1 case=$2 host=$3 src=$4 n=$5 base tool r dst got limit=$timeout_s
	base=$(dirname "$src")
	local -A walls=()
	fs_cmd=() fs_med=() fs_out=()
	for ((r = 1; r <= runs; r++)); do
		for tool in myrrorfs rsync unison; do
			((${fs_out[$tool]:-0})) && continue
			dst="$base/dst-$tool-$r"
			mkdir -p "$dst"
			case $tool in
			myrrorfs) fs_cmd[$tool]="$bin sync -y --state $base/state-$r -e '$SSH' --remote-myrrorfs $bin $src $host:$dst" ;;
			rsync) fs_cmd[$tool]="rsync -a -e '$SSH' $src/ $host:$dst/" ;;
			unison) fs_cmd[$tool]="unison $src ssh://$host/$dst -batch -sshcmd ssh -sshargs '$ssh_args' -servercmd $data/bin/unison-server" ;;
			esac
			eval "timed s$sec-$tool-$r ${fs_cmd[$tool]}"
			if ((timed_out)); then
				log "$sec: $tool run $r: stopped after ${limit}s; not run again"
				fs_out[$tool]=1
			else
				got=$(find "$dst" -type f ! -path '*/.myrrorfs*' | wc -l)
				((got == n)) || log "warning: $tool left $got of $n files"
				log "$sec: $tool run $r: ${wall}s"
				walls[$tool]+=" $wall"
			fi
			fs_cmd[$tool]=${fs_cmd[$tool]//-$r/-N}
			rm -rf "$dst" "$base/state-$r"
		done
	done
	for tool in myrrorfs rsync unison; do
		fs_med[$tool]=-
		# shellcheck disable=SC2086
		[[ -n ${walls[$tool]:-} ]] && fs_med[$tool]=$(record "$sec" "$case" "$tool" wall_s ${walls[$tool]})
		((${fs_out[$tool]:-0})) && record "$sec" "$case" "$tool" stopped_after_s "$limit" >/dev/null
	done
	return 0
}

# first_sync_report ORDER N BYTES WORKLOAD TARGET: the table of
# first_syncs, the commands, and the overview row.
first_sync_report() {
	local order=$1 n=$2 bytes=$3 workload=$4 target=$5 tool my=${fs_med[myrrorfs]}
	local -A shown=()
	say "| tool | wall s | files/s | MB/s | myrrorfs/tool wall |"
	say "|---|---|---|---|---|"
	for tool in myrrorfs rsync unison; do
		local m=${fs_med[$tool]}
		if [[ $m == - ]]; then
			shown[$tool]="> $timeout_s s (stopped)"
			say "| $tool | > $timeout_s (stopped in run 1) | - | - | - |"
		else
			shown[$tool]="$m s"
			local ratio=-
			[[ $my != - ]] && ratio=$(calc "$my / $m")
			[[ $my == - && $tool != myrrorfs ]] && ratio="> $(calc "$timeout_s / $m")"
			say "| $tool | $m | $(calc "$n / $m" %.0f) | $(calc "$bytes / 1e6 / $m" %.1f) | $ratio |"
		fi
	done
	say ""
	say "Commands (N = run):"
	say ""
	for tool in myrrorfs rsync unison; do
		note_cmd "${fs_cmd[$tool]}"
	done
	local best
	if [[ $my == - ]]; then
		best="> $(best_peer "$timeout_s" rsync "${fs_med[rsync]}" unison "${fs_med[unison]}")"
	else
		best=$(best_peer "$my" rsync "${fs_med[rsync]}" unison "${fs_med[unison]}")
	fi
	overview "$order" "$workload" "${shown[myrrorfs]}" "${shown[rsync]}" "${shown[unison]}" - "$best" "$target"
}

# --------------------------------------- 3. many small files, first transfer

bench_small() {
	local s3="$data/s3"
	log "3: making $small_files x 4 KiB files"
	make_small_tree "$s3/src" "$small_files" 4096
	first_syncs 3 small "$test_host" "$s3/src" "$small_files"
	say ""
	say "## 3. First transfer of $small_files x 4 KiB files over ssh"
	say ""
	say "Median of $runs runs, each into an empty remote directory (myrrorfs with a fresh journal)."
	say ""
	first_sync_report 10 "$small_files" $((small_files * 4096)) "first sync, $small_files × 4 KiB files, ssh" -
	rm -rf "$s3"
}

# -------------------------------------------------- 4. large file over ssh

bench_large() {
	local s4="$data/s4" src tool r dst
	src="$s4/src"
	log "4: making a $large_mib MiB file"
	mkdir -p "$src"
	head -c $((large_mib * 1048576)) /dev/urandom >"$src/big"
	local -A walls=() cmd=()
	for ((r = 1; r <= runs; r++)); do
		for tool in myrrorfs scp rsync; do
			dst="$s4/dst-$tool-$r"
			mkdir -p "$dst"
			case $tool in
			myrrorfs) cmd[$tool]="$bin sync -y --state $s4/state-$r -e '$SSH' --remote-myrrorfs $bin $src $test_host:$dst" ;;
			scp) cmd[$tool]="scp -q -F $cfg $src/big $test_host:$dst/big" ;;
			rsync) cmd[$tool]="rsync -a -e '$SSH' $src/big $test_host:$dst/" ;;
			esac
			eval "timed s4-$tool-$r ${cmd[$tool]}"
			cmp -s "$src/big" "$dst/big" || log "warning: $tool copy differs"
			log "4: $tool run $r: ${wall}s"
			walls[$tool]+=" $wall"
			rm -rf "$dst"
		done
	done
	local mb
	mb=$(calc "$large_mib * 1048576 / 1e6" %.1f)
	say ""
	say "## 4. One $large_mib MiB file over ssh ($mb MB)"
	say ""
	say "Median of $runs runs, each into an empty remote directory."
	say ""
	say "| tool | wall s | MB/s | myrrorfs/tool wall |"
	say "|---|---|---|---|"
	local -A mw=()
	for tool in myrrorfs scp rsync; do
		# shellcheck disable=SC2086
		mw[$tool]=$(record 4 large "$tool" wall_s ${walls[$tool]})
	done
	for tool in myrrorfs scp rsync; do
		say "| $tool | ${mw[$tool]} | $(calc "$mb / ${mw[$tool]}" %.0f) | $(calc "${mw[myrrorfs]} / ${mw[$tool]}") |"
	done
	overview 11 "one $large_mib MiB file, ssh" "${mw[myrrorfs]} s" "${mw[rsync]} s (scp ${mw[scp]} s)" - - \
		"$(best_peer "${mw[myrrorfs]}" rsync "${mw[rsync]}" scp "${mw[scp]}")" -
	say ""
	say "Commands (N = run):"
	say ""
	for tool in myrrorfs scp rsync; do
		note_cmd "${cmd[$tool]//-$runs/-N}"
	done
	rm -rf "$s4"
}

# ------------------------------------------------ 5. reads through the mount

bench_mount() {
	local s5="$data/s5" via r path cold=1
	mkdir -p "$s5/local" "$s5/remote" "$s5/mnt" "$s5/sshfs"
	log "5: making a $read_mib MiB file and a tree of $tree_files files"
	head -c $((read_mib * 1048576)) /dev/urandom >"$s5/local/big"
	make_text_tree "$s5/local/tree" "$tree_files"
	mstate="$s5/state"
	timed s5-sync "$bin" sync -y --state "$mstate" "$s5/local" "$s5/remote"
	mnt="$s5/mnt"
	timed s5-mount "$bin" mount --rescan 10m --state "$mstate" "$s5/local" "$s5/remote" "$mnt"
	sshfs_mnt="$s5/sshfs"
	timed s5-sshfs sshfs -F "$cfg" "$test_host:$s5/local" "$sshfs_mnt"
	drop_caches || {
		cold=0
		log "5: cannot drop caches: warm reads only"
	}
	local -A dirs=([direct]="$s5/local" [mount]="$mnt" [sshfs]="$sshfs_mnt")
	local -A coldw=() warmw=()
	cmp -s "$s5/local/big" "$mnt/big" || log "warning: the file read through the mount differs"
	for ((r = 1; r <= runs; r++)); do
		for via in direct mount sshfs; do
			path="${dirs[$via]}/big"
			if ((cold)); then
				drop_caches
				timed "s5-read-$via-cold-$r" dd if="$path" of=/dev/null bs=1M
				coldw[$via]+=" $wall"
			else
				cat "$path" >/dev/null
			fi
			timed "s5-read-$via-warm-$r" dd if="$path" of=/dev/null bs=1M
			warmw[$via]+=" $wall"
			log "5: read $via run $r: ${coldw[$via]:-} /${wall}s"
		done
	done
	local mb
	mb=$(calc "$read_mib * 1048576 / 1e6" %.1f)
	say ""
	say "## 5. Through the mount: reading a $read_mib MiB local-backed file, walking a $tree_files-file tree"
	say ""
	say "\`myrrorfs mount\` of a local pair (the remote is a second local directory, \`--rescan 10m\` so no rescan falls in a measurement) vs the same directory read directly vs \`sshfs\` of it through the loopback sshd. Cold: after \`echo 3 > /proc/sys/vm/drop_caches\`; warm: read again right after. Median of $runs runs."
	say ""
	say "| via | cold MB/s | warm MB/s | cold: via/direct | warm: via/direct |"
	say "|---|---|---|---|---|"
	local -A mc=() mw=()
	for via in direct mount sshfs; do
		mc[$via]=-
		# shellcheck disable=SC2086
		((cold)) && mc[$via]=$(record 5 read-cold "$via" wall_s ${coldw[$via]})
		# shellcheck disable=SC2086
		mw[$via]=$(record 5 read-warm "$via" wall_s ${warmw[$via]})
	done
	for via in direct mount sshfs; do
		local cr=- crr=-
		if ((cold)); then
			cr=$(calc "$mb / ${mc[$via]}" %.0f)
			crr=$(calc "${mc[direct]} / ${mc[$via]}")
		fi
		say "| $via | $cr | $(calc "$mb / ${mw[$via]}" %.0f) | $crr | $(calc "${mw[direct]} / ${mw[$via]}") |"
	done

	log "5: find + stat"
	local finds=()
	for via in direct mount sshfs; do
		finds+=(-n "$via" "find ${dirs[$via]}/tree -printf '%s %T@ %m %p\n'")
	done
	hyperfine -N --style basic --warmup 2 --runs $((runs < 5 ? 10 : runs * 2)) --export-csv "$out/find-warm.csv" "${finds[@]}" >"$logs/s5-find-warm.log" 2>&1 ||
		hyperfine --style basic --warmup 2 --runs $((runs < 5 ? 10 : runs * 2)) --export-csv "$out/find-warm.csv" "${finds[@]}" >"$logs/s5-find-warm.log" 2>&1
	if ((cold)); then
		hyperfine --style basic --prepare 'sync; echo 3 > /proc/sys/vm/drop_caches' --runs "$runs" \
			--export-csv "$out/find-cold.csv" "${finds[@]}" >"$logs/s5-find-cold.log" 2>&1
	fi
	say ""
	say "find + stat of $tree_files files in $((tree_files / 100)) directories (hyperfine; warm: after 2 warm-up walks; cold: after dropping caches each run)."
	say ""
	say "| via | cold ms | warm ms | cold: via/direct | warm: via/direct |"
	say "|---|---|---|---|---|"
	local -A fc=() fw=()
	for via in direct mount sshfs; do
		fw[$via]=$(awk -F, -v n="$via" '$1 == n { print $4 }' "$out/find-warm.csv")
		record 5 find-warm "$via" wall_s "${fw[$via]}" >/dev/null
		fc[$via]=-
		if ((cold)); then
			fc[$via]=$(awk -F, -v n="$via" '$1 == n { print $4 }' "$out/find-cold.csv")
			record 5 find-cold "$via" wall_s "${fc[$via]}" >/dev/null
		fi
	done
	for via in direct mount sshfs; do
		local crr=-
		((cold)) && crr=$(calc "${fc[$via]} / ${fc[direct]}")
		local fcm=-
		((cold)) && fcm=$(calc "${fc[$via]} * 1000" %.1f)
		say "| $via | $fcm | $(calc "${fw[$via]} * 1000" %.1f) | $crr | $(calc "${fw[$via]} / ${fw[direct]}") |"
	done
	local rcold rcoldv fcold fcoldv
	if ((cold)); then
		rcold="$(calc "${mc[mount]} / ${mc[direct]}")× direct cold, "
		rcoldv="${mc[mount]} s cold, "
		fcold="$(calc "${fc[mount]} / ${fc[direct]}")× direct cold, "
		fcoldv="$(calc "${fc[mount]} * 1000" %.1f) ms cold, "
	else
		rcold='' rcoldv='' fcold='' fcoldv=''
	fi
	local sshfs_read="${mw[sshfs]} s warm"
	((cold)) && sshfs_read="${mc[sshfs]} s cold, $sshfs_read"
	overview 9.1 "read of a local-backed $read_mib MiB file through the mount" "${rcoldv}${mw[mount]} s warm" - - \
		"$sshfs_read" "${rcold}$(calc "${mw[mount]} / ${mw[direct]}")× direct warm" "keep near direct"
	local sshfs_find
	sshfs_find="$(calc "${fw[sshfs]} * 1000" %.1f) ms warm"
	((cold)) && sshfs_find="$(calc "${fc[sshfs]} * 1000" %.1f) ms cold, $sshfs_find"
	overview 9.2 "find + stat of $tree_files files through the mount" "${fcoldv}$(calc "${fw[mount]} * 1000" %.1f) ms warm" - - \
		"$sshfs_find" "${fcold}$(calc "${fw[mount]} / ${fw[direct]}")× direct warm" "keep near direct"
	local dpid
	dpid=$(daemon_pid)
	if [[ -n $dpid ]]; then
		say ""
		say "myrrorfs mount daemon after these reads: peak RSS $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$dpid/status")."
	fi
	say ""
	say "Commands:"
	say ""
	note_cmd "$bin mount --rescan 10m --state $mstate $s5/local $s5/remote $mnt"
	note_cmd "sshfs -F $cfg $test_host:$s5/local $sshfs_mnt"
	note_cmd "dd if=\$DIR/big of=/dev/null bs=1M"
	note_cmd "find \$DIR/tree -printf '%s %T@ %m %p\\n'"
	"$bin" unmount --state "$mstate" "$mnt" >/dev/null
	fusermount3 -u "$sshfs_mnt"
}

# ----------------------------- 6. many small files over a slow link, first

bench_latency() {
	local s6="$data/s6"
	log "6: making $lat_files x 4 KiB files"
	make_small_tree "$s6/src" "$lat_files" 4096
	first_syncs 6 latency "$lat_host" "$s6/src" "$lat_files"
	say ""
	say "## 6. First transfer of $lat_files x 4 KiB files over ssh with $latency ms added each way"
	say ""
	say "Median of $runs runs, each into an empty remote directory (myrrorfs with a fresh journal), through the slow link (host $lat_host: delayrelay as ssh's ProxyCommand). A tool still running after $timeout_s s is stopped and not run again."
	say ""
	first_sync_report 1 "$lat_files" $((lat_files * 4096)) "first sync, $lat_files × 4 KiB files, +$latency ms each way" "≤ 1.0× rsync"
	rm -rf "$s6"
}

# ------------------------------------------ 7. mixed tree, first transfer

bench_mixed() {
	local s7="$data/s7" bytes mib
	log "7: making a mixed tree of $mixed_files files"
	bytes=$(python3 "$repo_root/scripts/lib/mktree.py" mixed "$mixed_files" "$s7/src")
	mib=$(calc "$bytes / 1048576" %.0f)
	first_syncs 7 mixed "$test_host" "$s7/src" "$mixed_files"
	say ""
	say "## 7. First transfer of a mixed tree of $mixed_files files ($mib MiB) over ssh"
	say ""
	say "In every 1,000 files: 979 small (1 to 16 KiB), 20 medium (512 KiB) and 1 large (12 MiB), of random bytes, 100 per directory (\`scripts/lib/mktree.py mixed\`). Median of $runs runs, each into an empty remote directory (myrrorfs with a fresh journal)."
	say ""
	first_sync_report 2 "$mixed_files" "$bytes" "first sync, $mixed_files mixed files ($mib MiB), ssh" "≤ 1.0× rsync, ≤ 0.5× unison"
	rm -rf "$s7"
}

# ----------------------------------- 8. changes on both sides, then sync

# changed_paths RUN PARITY: the 100 files (relative paths) of the --files
# tree changed in run RUN on side a (PARITY 0) or b (1): spread over the
# tree, not the same on both sides, and others in each run.
changed_paths() {
	local r=$1 parity=$2 k i stride=$((n_files / 200))
	for ((k = 0; k < 100; k++)); do
		i=$((((2 * k + parity) * stride + r) % n_files))
		printf 'd%d/f%d.txt\n' $((i / 100)) $((i % 100))
	done
}

bench_changes() {
	local s8="$data/s8" tool r p side
	log "8: making $n_files files"
	make_text_tree "$s8/tmpl" "$n_files"
	for tool in myrrorfs unison rsync; do
		mkdir -p "$s8/$tool"
		cp -a "$s8/tmpl" "$s8/$tool/a"
		cp -a "$s8/tmpl" "$s8/$tool/b"
	done
	rm -rf "$s8/tmpl"
	local -A cmds
	cmds[myrrorfs]="$bin sync -y --state $s8/state -e '$SSH' --remote-myrrorfs $bin $s8/myrrorfs/a $test_host:$s8/myrrorfs/b"
	cmds[unison]="unison $s8/unison/a ssh://$test_host/$s8/unison/b -batch -sshcmd ssh -sshargs '$ssh_args' -servercmd $data/bin/unison-server"
	cmds[rsync]="rsync -au -e '$SSH' $s8/rsync/a/ $test_host:$s8/rsync/b/ && rsync -au -e '$SSH' $test_host:$s8/rsync/b/ $s8/rsync/a/"
	for tool in myrrorfs unison; do
		log "8: $tool first sync"
		timed "s8-$tool-first" bash -c "${cmds[$tool]}"
	done
	local -A walls=()
	for ((r = 1; r <= runs; r++)); do
		for tool in myrrorfs unison rsync; do
			for side in 0 1; do
				local root=$s8/$tool/a
				((side)) && root=$s8/$tool/b
				while read -r p; do
					printf 'changed on side %d in run %d\n' "$side" "$r" >"$root/$p"
				done < <(changed_paths "$r" "$side")
			done
			timed "s8-$tool-$r" bash -c "${cmds[$tool]}"
			local bad=0
			while read -r p; do
				cmp -s "$s8/$tool/a/$p" "$s8/$tool/b/$p" || bad=$((bad + 1))
			done < <(changed_paths "$r" 0 && changed_paths "$r" 1)
			((bad == 0)) || log "warning: $tool left $bad of the 200 changed files different on the two sides"
			log "8: $tool run $r: ${wall}s"
			walls[$tool]+=" $wall"
		done
	done
	say ""
	say "## 8. 100 + 100 changed files in a tree of $n_files files, then sync over ssh"
	say ""
	say "The tree of measurement 1, one copy of the pair per tool, synced once (untimed). Before each run, 100 files spread over the tree are rewritten on each side (others on each side, and others in each run); rsync runs twice, \`-au\` from local to remote, then back. Median of $runs runs."
	say ""
	say "| tool | wall s | myrrorfs/tool wall |"
	say "|---|---|---|"
	local -A mw=()
	for tool in myrrorfs unison rsync; do
		# shellcheck disable=SC2086
		mw[$tool]=$(record 8 changes "$tool" wall_s ${walls[$tool]})
	done
	for tool in myrrorfs unison rsync; do
		say "| $tool | ${mw[$tool]} | $(calc "${mw[myrrorfs]} / ${mw[$tool]}") |"
	done
	overview 4 "100 + 100 changed files in the $n_files-file tree, ssh" "${mw[myrrorfs]} s" "${mw[rsync]} s (-au twice)" "${mw[unison]} s" - \
		"$(best_peer "${mw[myrrorfs]}" rsync "${mw[rsync]}" unison "${mw[unison]}")" "≤ 0.5× unison"
	say ""
	say "Commands:"
	say ""
	for tool in myrrorfs unison rsync; do
		note_cmd "${cmds[$tool]}"
	done
	rm -rf "$s8"
}

# ---------------------------------------- 9. status of a very large pair

bench_status() {
	local s9="$data/s9" a b st tool r t0
	a="$s9/a" b="$s9/b" st="$s9/state"
	log "9: making $status_files empty files on each side"
	t0=$(date +%s)
	python3 "$repo_root/scripts/lib/mktree.py" empty "$status_files" "$a" "$b" >/dev/null
	log "9: made in $(($(date +%s) - t0))s; first sync"
	timed s9-first "$bin" sync -y --state "$st" "$a" "$b"
	local first_wall=$wall first_rss=$rss
	local -A cmds=([myrrorfs]="$bin status --state $st $a $b" [rsync]="rsync -an $a/ $b/")
	local -A walls=() rsss=()
	for ((r = 1; r <= runs; r++)); do
		for tool in myrrorfs rsync; do
			eval "timed s9-$tool-$r ${cmds[$tool]}"
			log "9: $tool run $r: ${wall}s, ${rss} KiB"
			walls[$tool]+=" $wall"
			rsss[$tool]+=" $rss"
		done
	done
	local -A mw=() mr=()
	for tool in myrrorfs rsync; do
		# shellcheck disable=SC2086
		mw[$tool]=$(record 9 status "$tool" wall_s ${walls[$tool]})
		# shellcheck disable=SC2086
		mr[$tool]=$(record 9 status "$tool" rss_kib ${rsss[$tool]})
	done
	record 9 status myrrorfs first_sync_wall_s "$first_wall" >/dev/null
	record 9 status myrrorfs first_sync_rss_kib "$first_rss" >/dev/null
	say ""
	say "## 9. Status of an unchanged local pair of $status_files files"
	say ""
	say "Each side: $status_files empty files, 100 per directory, all with the same mtime; myrrorfs synced the pair once beforehand (untimed: $first_wall s, peak RSS $(calc "$first_rss / 1024" %.1f) MB, $(calc "$first_rss * 1024 / $status_files" %.0f) bytes/file). \`myrrorfs status\` scans both sides and compares them with the journal; \`rsync -an\` (a dry run: both file lists, compared) is the nearest peer. unison has no read-only run. Median of $runs runs."
	say ""
	say "| tool | wall s | peak RSS MB | bytes/file | myrrorfs/tool wall | myrrorfs/tool RSS |"
	say "|---|---|---|---|---|---|"
	for tool in myrrorfs rsync; do
		say "| $tool | ${mw[$tool]} | $(calc "${mr[$tool]} / 1024" %.1f) | $(calc "${mr[$tool]} * 1024 / $status_files" %.0f) | $(calc "${mw[myrrorfs]} / ${mw[$tool]}") | $(calc "${mr[myrrorfs]} / ${mr[$tool]}") |"
	done
	overview 6 "\`status\` of an unchanged local pair of $status_files files" \
		"${mw[myrrorfs]} s, $(calc "${mr[myrrorfs]} / 1024" %.1f) MiB = $(calc "${mr[myrrorfs]} * 1024 / $status_files" %.0f) B/file" \
		"-an: ${mw[rsync]} s, $(calc "${mr[rsync]} * 1024 / $status_files" %.0f) B/file" - - \
		"$(calc "${mr[myrrorfs]} * 1024 / $status_files" %.0f) B/file; $(calc "${mw[myrrorfs]} / ${mw[rsync]}")× rsync -an time" "≤ 150 B/file"
	say ""
	say "Commands:"
	say ""
	note_cmd "$bin sync -y --state $st $a $b"
	for tool in myrrorfs rsync; do
		note_cmd "${cmds[$tool]}"
	done
	rm -rf "$s9"
}

# -------------------------------- 10. remote-only reads through the mount

bench_remote_read() {
	local s10="$data/s10" link host r cold=1 mb
	mkdir -p "$s10/local" "$s10/remote" "$s10/mnt" "$s10/sshfs"
	log "10: making a $read_mib MiB file on the remote side only"
	head -c $((read_mib * 1048576)) /dev/urandom >"$s10/remote/big"
	mnt="$s10/mnt"
	sshfs_mnt="$s10/sshfs"
	drop_caches || {
		cold=0
		log "10: cannot drop caches: the server may read its file from the page cache"
	}
	local -A walls=() mounts=()
	for link in ssh slow; do
		host=$test_host
		[[ $link == slow ]] && host=$lat_host
		for ((r = 1; r <= runs; r++)); do
			mstate="$s10/state-$link-$r"
			timed "s10-$link-myrrorfs-mount-$r" "$bin" mount -e "$SSH" --remote-myrrorfs "$bin" --rescan 10m --state "$mstate" "$s10/local" "$host:$s10/remote" "$mnt"
			mounts[$link.myrrorfs]+=" $wall"
			((cold)) && drop_caches
			timed "s10-$link-myrrorfs-$r" dd if="$mnt/big" of=/dev/null bs=1M
			walls[$link.myrrorfs]+=" $wall"
			log "10: $link myrrorfs run $r: ${wall}s"
			if ((r == 1)) && ! cmp -s "$s10/remote/big" "$mnt/big"; then
				log "warning: the file read through the mount differs"
			fi
			"$bin" unmount --state "$mstate" "$mnt" >/dev/null
			rm -rf "$mstate"
			[[ -e $s10/local/big ]] && log "warning: the mount left a copy of the file in LOCAL"

			timed "s10-$link-sshfs-mount-$r" sshfs -F "$cfg" "$host:$s10/remote" "$sshfs_mnt"
			mounts[$link.sshfs]+=" $wall"
			((cold)) && drop_caches
			timed "s10-$link-sshfs-$r" dd if="$sshfs_mnt/big" of=/dev/null bs=1M
			walls[$link.sshfs]+=" $wall"
			log "10: $link sshfs run $r: ${wall}s"
			fusermount3 -u "$sshfs_mnt"
		done
	done
	mb=$(calc "$read_mib * 1048576 / 1e6" %.1f)
	say ""
	say "## 10. First read of a $read_mib MiB remote-only file through the mount, over ssh and over the slow link"
	say ""
	say "\`myrrorfs mount\` of an empty LOCAL and a REMOTE over ssh holding the file (the agent installed on the remote, a fresh journal each run) vs \`sshfs\` of REMOTE; each run mounts, $( ((cold)) && echo 'drops the page cache, ' )reads the file once with dd, and unmounts. Slow link: $latency ms added each way. Median of $runs runs."
	say ""
	say "| link | tool | mount s | first read s | MB/s | myrrorfs/sshfs read |"
	say "|---|---|---|---|---|---|"
	local -A mw=() mm=()
	local key tool
	for link in ssh slow; do
		for tool in myrrorfs sshfs; do
			key=$link.$tool
			# shellcheck disable=SC2086
			mw[$key]=$(record 10 "read-$link" "$tool" wall_s ${walls[$key]})
			# shellcheck disable=SC2086
			mm[$key]=$(record 10 "read-$link" "$tool" mount_s ${mounts[$key]})
		done
		for tool in myrrorfs sshfs; do
			key=$link.$tool
			say "| $link | $tool | ${mm[$key]} | ${mw[$key]} | $(calc "$mb / ${mw[$key]}" %.0f) | $(calc "${mw[$link.myrrorfs]} / ${mw[$key]}") |"
		done
		local what="ssh"
		[[ $link == slow ]] && what="+$latency ms each way"
		overview "7.$([[ $link == ssh ]] && echo 1 || echo 2)" "first read of a remote-only $read_mib MiB file through the mount, $what" \
			"${mw[$link.myrrorfs]} s" - - "${mw[$link.sshfs]} s" "$(calc "${mw[$link.myrrorfs]} / ${mw[$link.sshfs]}")× sshfs" "≤ 1.0× sshfs"
	done
	say ""
	say "Commands (HOST: $test_host, or $lat_host for the slow link; N = run):"
	say ""
	note_cmd "$bin mount -e '$SSH' --remote-myrrorfs $bin --rescan 10m --state $s10/state-N $s10/local HOST:$s10/remote $mnt"
	note_cmd "sshfs -F $cfg HOST:$s10/remote $sshfs_mnt"
	note_cmd "dd if=\$MOUNT/big of=/dev/null bs=1M"
	rm -rf "$s10"
}

# ------------------- 11 to 13: a watching mount and sync --watch, issue 13

# The pair of measurements 11 to 13 is the --files tree on both sides of
# $data/w (a is LOCAL, b is REMOTE), made on first use and synced once
# (untimed) as a local pair and once over ssh, both journals in
# $data/w/state. The mounts use the default --rescan (hourly): they follow
# changes by watching both sides. Over ssh the agent is given as in the
# other measurements (--remote-myrrorfs).

lat_timeout=30 # seconds a change may take to show before a run gives up

# watch_pair MODE: makes the pair if needed and syncs it once as MODE
# (local or ssh). Sets wd, wa, wb, wst, wremote (the REMOTE argument) and
# wflags (the flags that reach it).
watch_pair() {
	local mode=$1
	wd="$data/w"
	wa="$wd/a"
	wb="$wd/b"
	wst="$wd/state"
	if [[ ! -d $wb ]]; then
		log "making $n_files files on both sides of the watched pair"
		make_text_tree "$wa" "$n_files"
		cp -a "$wa" "$wb"
		mkdir -p "$wd/mnt"
	fi
	wremote=$wb
	wflags=()
	if [[ $mode == ssh ]]; then
		wremote="$test_host:$wb"
		wflags=(-e "$SSH" --remote-myrrorfs "$bin")
	fi
	if [[ ! -e $wd/synced-$mode ]]; then
		log "first sync of the watched pair ($mode)"
		timed "w-$mode-first-sync" "$bin" sync -y --state "$wst" "${wflags[@]}" "$wa" "$wremote"
		touch "$wd/synced-$mode"
	fi
}

# agent_pids ROOT prints the pids of the myrrorfs agents serving ROOT
# (`myrrorfs agent --root ROOT`, started by sshd for a mount or a sync).
agent_pids() {
	local p cmd
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == "$bin" ]] || continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		[[ " $cmd" == *" agent --root $1 "* ]] && echo "${p#/proc/}"
	done
	return 0
}

# cpu_ticks PIDS...: the CPU time (user + system, in clock ticks) the
# processes used so far; a process that is gone counts 0.
cpu_ticks() {
	local p v sum=0
	for p; do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# status_kib FIELD PIDS...: the sum of a /proc/PID/status field in KiB
# (VmRSS, VmHWM) over the processes.
status_kib() {
	local f=$1 p v sum=0
	shift
	for p; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# io_bytes FIELD PIDS...: the sum of a /proc/PID/io counter (wchar: bytes
# written, here to the ssh connection) over the processes.
io_bytes() {
	local f=$1 p v sum=0
	shift
	for p; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/io" 2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# settle PIDS...: waits --settle-seconds, then until the processes use at
# most 2 clock ticks in 2 s (for at most 120 s more). Prints the seconds
# waited.
settle() {
	local a b i waited=$settle_s
	sleep "$settle_s"
	for ((i = 0; i < 60; i++)); do
		a=$(cpu_ticks "$@")
		sleep 2
		b=$(cpu_ticks "$@")
		waited=$((waited + 2))
		((b - a <= 2)) && break
	done
	echo "$waited"
}

# watch_mount MODE LABEL: mounts the pair at $wd/mnt and lets it settle.
# Sets dpid (the daemon), apids (over ssh: the agents serving it) and
# settled (seconds waited).
watch_mount() {
	local mode=$1 label=$2
	mnt="$wd/mnt"
	mstate=$wst
	timed "$label-mount" "$bin" mount "${wflags[@]}" --state "$wst" "$wa" "$wremote" "$mnt"
	dpid=$(daemon_pid)
	[[ -n $dpid ]] || die "$label: no daemon serving $mnt"
	apids=()
	if [[ $mode == ssh ]]; then
		mapfile -t apids < <(agent_pids "$wb")
		((${#apids[@]} > 0)) || log "warning: $label: no agent serving $wb found"
	fi
	settled=$(settle "$dpid" "${apids[@]}")
	log "$label: mounted (daemon $dpid, agents ${apids[*]:-none}); quiet after ${settled}s"
}

# watch_unmount LABEL: unmounts, keeps the daemon's log as
# $logs/LABEL-daemon.log and warns when it says a side was not watched.
watch_unmount() {
	local label=$1 f
	"$bin" unmount --state "$mstate" "$mnt" >/dev/null
	for f in "$wst"/mounts/*.log; do
		[[ -e $f ]] && cat "$f" >>"$logs/$label-daemon.log" && rm -f "$f"
	done
	if grep -q 'rescanned every\|cannot watch\|cannot be watched' "$logs/$label-daemon.log" 2>/dev/null; then
		log "warning: $label: a side was not watched (see $logs/$label-daemon.log)"
	fi
	local left
	left=$(agent_pids "$wb")
	[[ -z $left ]] || log "warning: $label: agents still running after the unmount: $left"
	return 0
}

# start_watch LABEL: starts `myrrorfs sync --watch -y` on the pair (its
# output in $logs/LABEL.log) and waits until it carries a first change.
start_watch() {
	local label=$1 i
	"$bin" sync --watch -y --state "$wst" "${wflags[@]}" "$wa" "$wremote" >"$logs/$label.log" 2>&1 &
	watch_pid=$!
	for ((i = 0; i < 1200; i++)); do
		grep -q '^watching ' "$logs/$label.log" && break
		kill -0 "$watch_pid" 2>/dev/null || die "$label: sync --watch ended: $(tail -n 5 "$logs/$label.log")"
		sleep 0.1
	done
	python3 "$lat_py" write "$wa/d0/bench-probe.txt" "$wb/d0/bench-probe.txt" probe 120 >/dev/null ||
		die "$label: sync --watch did not carry a first change in 120 s"
	python3 "$lat_py" delete "$wa/d0/bench-probe.txt" "$wb/d0/bench-probe.txt" 120 >/dev/null ||
		die "$label: sync --watch did not carry a first deletion in 120 s"
}

# stop_watch stops the sync --watch started by start_watch (SIGTERM, as
# Ctrl-C would; SIGKILL after 30 s).
stop_watch() {
	local i
	kill -TERM "$watch_pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		kill -0 "$watch_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$watch_pid" 2>/dev/null; then
		log "warning: sync --watch did not stop on SIGTERM; killing it"
		kill -KILL "$watch_pid" 2>/dev/null
	fi
	wait "$watch_pid" 2>/dev/null
	watch_pid=
	return 0
}

# ----------------------------------------------------- 11. idle CPU

bench_watch_idle() {
	local mode hz secs
	hz=$(getconf CLK_TCK)
	local -A dpct=() dsec=() apct=() asec=() tpct=() drss=() quiet=() idle_out=() mount_out=() listed=()
	for mode in local ssh; do
		watch_pair "$mode"
		watch_mount "$mode" "s11-$mode"
		quiet[$mode]=$settled
		local d0 d1 a0 a1 w0 w1 t0 t1
		w0=$(io_bytes wchar "${apids[@]}")
		d0=$(cpu_ticks "$dpid")
		a0=$(cpu_ticks "${apids[@]}")
		t0=$(date +%s%N)
		log "11: $mode: idle for ${idle_s}s"
		# In the background, so that a signal stops the bench at once.
		sleep "$idle_s" &
		sleep_pid=$!
		wait "$sleep_pid"
		sleep_pid=
		d1=$(cpu_ticks "$dpid")
		a1=$(cpu_ticks "${apids[@]}")
		t1=$(date +%s%N)
		w1=$(io_bytes wchar "${apids[@]}")
		[[ -e /proc/$dpid ]] || die "11: $mode: the daemon ended during the idle period"
		secs=$(calc "($t1 - $t0) / 1e9" %.3f)
		dsec[$mode]=$(calc "($d1 - $d0) / $hz" %.2f)
		dpct[$mode]=$(calc "($d1 - $d0) / $hz / $secs * 100" %.3f)
		drss[$mode]=$(calc "$(status_kib VmRSS "$dpid") / 1024" %.1f)
		record 11 "$mode" myrrorfs daemon_cpu_s "${dsec[$mode]}" >/dev/null
		record 11 "$mode" myrrorfs daemon_cpu_pct "${dpct[$mode]}" >/dev/null
		asec[$mode]=- apct[$mode]=- idle_out[$mode]=- mount_out[$mode]=- listed[$mode]=-
		tpct[$mode]=${dpct[$mode]}
		if [[ $mode == ssh ]] && ((${#apids[@]} > 0)); then
			asec[$mode]=$(calc "($a1 - $a0) / $hz" %.2f)
			apct[$mode]=$(calc "($a1 - $a0) / $hz / $secs * 100" %.3f)
			tpct[$mode]=$(calc "($d1 - $d0 + $a1 - $a0) / $hz / $secs * 100" %.3f)
			idle_out[$mode]=$((w1 - w0))
			mount_out[$mode]=$w0
			# A listing of the tree is at least a name per file.
			listed[$mode]=no
			((w1 - w0 >= n_files * 4)) && listed[$mode]="yes (probably)"
			record 11 "$mode" myrrorfs agent_cpu_s "${asec[$mode]}" >/dev/null
			record 11 "$mode" myrrorfs agent_cpu_pct "${apct[$mode]}" >/dev/null
			record 11 "$mode" myrrorfs agent_bytes_out "${idle_out[$mode]}" >/dev/null
		fi
		record 11 "$mode" myrrorfs total_cpu_pct "${tpct[$mode]}" >/dev/null
		log "11: $mode: daemon ${dsec[$mode]} s (${dpct[$mode]} %), agent ${asec[$mode]} s over ${secs}s"
		watch_unmount "s11-$mode"
	done
	say ""
	say "## 11. Idle CPU of a mounted pair of $n_files files ($((n_files / 100)) dirs x 100)"
	say ""
	say "The pair synced once beforehand, then \`myrrorfs mount\` with the default \`--rescan\` (hourly; changes are watched), left alone for $settle_s s and then until the processes used at most 2 clock ticks in 2 s, then measured over $idle_s s of nothing changing: the CPU time (utime + stime in /proc/PID/stat) of the mount's daemon and, over ssh, of the agent serving it on the remote (\`myrrorfs agent\`, found by its command line). One window per case. The agent's bytes out are what it wrote (/proc/PID/io wchar: its replies over the ssh connection) during the window; from its start to the end of the settling, which includes one listing of the tree, it wrote the figure in brackets. Remote listed: whether the idle bytes are at least 4 per file (a listing is at least a name per file)."
	say ""
	say "| case | quiet after s | daemon CPU s | daemon % of a core | agent CPU s | agent % of a core | total % of a core | target | daemon RSS MB | agent bytes out (start to quiet) | remote listed |"
	say "|---|---|---|---|---|---|---|---|---|---|---|"
	for mode in local ssh; do
		local ab=-
		[[ ${idle_out[$mode]} != - ]] && ab="${idle_out[$mode]} (${mount_out[$mode]})"
		say "| $mode | ${quiet[$mode]} | ${dsec[$mode]} | ${dpct[$mode]} | ${asec[$mode]} | ${apct[$mode]} | ${tpct[$mode]} | < 0.5 | ${drss[$mode]} | $ab | ${listed[$mode]} |"
	done
	overview 12.1 "idle CPU of a mounted $n_files-file local pair, over $idle_s s" "${tpct[local]} % of a core" - - - - "< 0.5 %"
	overview 12.2 "idle CPU of a mounted $n_files-file pair over ssh, over $idle_s s" \
		"${tpct[ssh]} % of a core (daemon ${dpct[ssh]} %, agent ${apct[ssh]} %); remote listed: ${listed[ssh]}" - - - - "< 0.5 %, no remote listing"
	say ""
	say "Commands:"
	say ""
	note_cmd "$bin mount --state $wst $wa $wb $wd/mnt"
	note_cmd "$bin mount -e '$SSH' --remote-myrrorfs $bin --state $wst $wa $test_host:$wb $wd/mnt"
}

# ------------------------------------------------- 12. change latency

# change_steps KEY SRCDIR DSTDIR NAME RUN: creates, edits, then deletes
# SRCDIR/NAME, timing each until DSTDIR/NAME shows it (latency.py), and
# adds the seconds to lat[KEY.create] etc. (a run that gives up after
# $lat_timeout s counts that long, and in lat_out).
declare -A lat=() lat_out=()
change_steps() {
	local key=$1 src=$2/$4 dst=$3/$4 r=$5 step v rc
	for step in create edit delete; do
		rc=0
		case $step in
		create) v=$(python3 "$lat_py" write "$src" "$dst" "created in run $r"$'\n' "$lat_timeout") || rc=$? ;;
		edit) v=$(python3 "$lat_py" write "$src" "$dst" "edited in run $r, a little longer"$'\n' "$lat_timeout") || rc=$? ;;
		delete) v=$(python3 "$lat_py" delete "$src" "$dst" "$lat_timeout") || rc=$? ;;
		esac
		if ((rc == 3)); then
			log "warning: 12: $key $step run $r: not shown after ${lat_timeout}s"
			lat_out[$key.$step]=$((${lat_out[$key.$step]:-0} + 1))
		elif ((rc != 0)); then
			die "12: $key $step run $r failed"
		fi
		lat[$key.$step]+=" $v"
	done
	log "12: $key run $r: create/edit/delete ${lat[$key.create]##* }/${lat[$key.edit]##* }/${lat[$key.delete]##* } s"
}

bench_watch_latency() {
	local mode r key step
	lat=() lat_out=()
	local -A med=()
	for mode in local ssh; do
		watch_pair "$mode"
		watch_mount "$mode" "s12-$mode"
		for ((r = 1; r <= runs; r++)); do
			change_steps "$mode.mount.remote" "$wb/d0" "$mnt/d0" "bench-remote-$r.txt" "$r"
			change_steps "$mode.mount.local" "$wa/d0" "$mnt/d0" "bench-local-$r.txt" "$r"
		done
		watch_unmount "s12-$mode"
		rm -f "$wa"/d0/bench-* "$wb"/d0/bench-*
		log "12: $mode: sync --watch"
		start_watch "s12-$mode-watch"
		for ((r = 1; r <= runs; r++)); do
			change_steps "$mode.watch.local" "$wa/d0" "$wb/d0" "bench-local-$r.txt" "$r"
			change_steps "$mode.watch.remote" "$wb/d0" "$wa/d0" "bench-remote-$r.txt" "$r"
		done
		stop_watch
		rm -f "$wa"/d0/bench-* "$wb"/d0/bench-*
	done
	for key in $(printf '%s\n' "${!lat[@]}" | sort); do
		# shellcheck disable=SC2086
		med[$key]=$(record 12 "${key%.*.*.*}" myrrorfs "${key#*.}_s" ${lat[$key]})
	done
	say ""
	say "## 12. Change latency, a pair of $n_files files, local pair and over ssh"
	say ""
	say "A file is created, edited, then deleted directly in one side's directory (the remote is this machine); each step is timed from just before the change until the other end shows it (read every 10 ms: the same content, or gone; \`scripts/lib/latency.py\`). Through the mount (default \`--rescan\`, hourly): until the view shows it. Under \`myrrorfs sync --watch -y\` (started beforehand, after it carried a first change): until the other side has it. Median of $runs runs, each with a new file; a step not shown after $lat_timeout s counts $lat_timeout s and is counted in the last column."
	say ""
	say "| case | change | create s | edit s | delete s | target | runs not shown in $lat_timeout s |"
	say "|---|---|---|---|---|---|---|"
	local -A what=([mount.remote]="remote → view (mount)" [mount.local]="local → view (mount)"
		[watch.local]="local → remote (sync --watch)" [watch.remote]="remote → local (sync --watch)")
	local kind
	for mode in local ssh; do
		for kind in mount.remote mount.local watch.local watch.remote; do
			key=$mode.$kind
			local outs=0
			for step in create edit delete; do
				outs=$((outs + ${lat_out[$key.$step]:-0}))
			done
			say "| $mode | ${what[$kind]} | ${med[$key.create]} | ${med[$key.edit]} | ${med[$key.delete]} | ≤ 2 | $outs |"
		done
	done
	local order=13
	for kind in mount.remote mount.local watch.local watch.remote; do
		order=$(calc "$order + 0.1" %.1f)
		overview "$order" "change latency, ${what[$kind]}, $n_files-file pair (create/edit/delete)" \
			"local pair ${med[local.$kind.create]}/${med[local.$kind.edit]}/${med[local.$kind.delete]} s; ssh ${med[ssh.$kind.create]}/${med[ssh.$kind.edit]}/${med[ssh.$kind.delete]} s" \
			- - - - "≤ 2 s"
	done
	say ""
	say "Commands (the mounts as in 11):"
	say ""
	note_cmd "$bin sync --watch -y --state $wst $wa $wb"
	note_cmd "$bin sync --watch -y --state $wst -e '$SSH' --remote-myrrorfs $bin $wa $test_host:$wb"
	note_cmd "python3 scripts/lib/latency.py write|delete SRC DST [TEXT] $lat_timeout"
}

# ------------------------------------- 13. memory under small changes

bench_watch_memory() {
	local mode i k side f t0 now rem hz warm=$((churn_s < 10 ? churn_s : 10))
	hz=$(getconf CLK_TCK)
	local -A r0=() rw=() r1=() peak=() ar0=() ar1=() cpu=()
	for mode in local ssh; do
		watch_pair "$mode"
		watch_mount "$mode" "s13-$mode"
		r0[$mode]=$(status_kib VmRSS "$dpid")
		peak[$mode]=${r0[$mode]}
		ar0[$mode]=-
		((${#apids[@]} > 0)) && ar0[$mode]=$(status_kib VmRSS "${apids[@]}")
		local c0 c1 v
		c0=$(cpu_ticks "$dpid")
		t0=$(date +%s%N)
		log "13: $mode: ${churn_s}s of a change a second on each side"
		for ((i = 0; i < churn_s; i++)); do
			k=$((i / 3))
			for side in local remote; do
				f=$wa/d0/churn-$side-$k.txt
				[[ $side == remote ]] && f=$wb/d0/churn-$side-$k.txt
				case $((i % 3)) in
				0) printf 'churn %d\n' "$k" >"$f" ;;
				1) printf 'churn %d, edited\n' "$k" >"$f" ;;
				2) rm -f "$f" ;;
				esac
			done
			now=$(date +%s%N)
			rem=$((t0 + (i + 1) * 1000000000 - now))
			((rem > 0)) && sleep "$(calc "$rem / 1e9" %.3f)"
			[[ -e /proc/$dpid ]] || die "13: $mode: the daemon ended during the changes"
			v=$(status_kib VmRSS "$dpid")
			((v > peak[$mode])) && peak[$mode]=$v
			((i + 1 == warm)) && rw[$mode]=$v
		done
		c1=$(cpu_ticks "$dpid")
		r1[$mode]=$(status_kib VmRSS "$dpid")
		ar1[$mode]=-
		((${#apids[@]} > 0)) && ar1[$mode]=$(status_kib VmRSS "${apids[@]}")
		cpu[$mode]=$(calc "($c1 - $c0) / $hz / $churn_s * 100" %.2f)
		record 13 "$mode" myrrorfs daemon_rss_start_kib "${r0[$mode]}" >/dev/null
		record 13 "$mode" myrrorfs daemon_rss_warm_kib "${rw[$mode]}" >/dev/null
		record 13 "$mode" myrrorfs daemon_rss_end_kib "${r1[$mode]}" >/dev/null
		record 13 "$mode" myrrorfs daemon_rss_peak_kib "${peak[$mode]}" >/dev/null
		record 13 "$mode" myrrorfs daemon_cpu_pct "${cpu[$mode]}" >/dev/null
		log "13: $mode: RSS ${r0[$mode]} -> ${r1[$mode]} KiB (peak ${peak[$mode]}), CPU ${cpu[$mode]} %"
		watch_unmount "s13-$mode"
		rm -f "$wa"/d0/churn-* "$wb"/d0/churn-*
	done
	say ""
	say "## 13. Memory of a mount of $n_files files under small changes, local pair and over ssh"
	say ""
	say "The mount of 11, quiet, then $churn_s s of one change a second on each side, written directly into LOCAL and REMOTE (a new small file, then that file edited, then deleted, then the next). The daemon's RSS (VmRSS in /proc/PID/status) when the changes begin, after the first $warm s of them (the first refreshes of the view have then run: what comes after is growth over time), when they end, and the largest of the samples taken each second; over ssh also the agent's RSS. CPU: the daemon's, averaged over the changes. One window per case."
	say ""
	say "| case | daemon RSS start MB | after $warm s MB | end MB | peak MB | end - start MB | end - after $warm s MB | target | agent RSS start → end MB | daemon CPU % of a core |"
	say "|---|---|---|---|---|---|---|---|---|---|"
	local -A shown=()
	for mode in local ssh; do
		local am=-
		[[ ${ar0[$mode]} != - ]] && am="$(calc "${ar0[$mode]} / 1024" %.1f) → $(calc "${ar1[$mode]} / 1024" %.1f)"
		say "| $mode | $(calc "${r0[$mode]} / 1024" %.1f) | $(calc "${rw[$mode]} / 1024" %.1f) | $(calc "${r1[$mode]} / 1024" %.1f) | $(calc "${peak[$mode]} / 1024" %.1f) | $(calc "(${r1[$mode]} - ${r0[$mode]}) / 1024" %+.1f) | $(calc "(${r1[$mode]} - ${rw[$mode]}) / 1024" %+.1f) | no growth | $am | ${cpu[$mode]} |"
		shown[$mode]="$(calc "${r0[$mode]} / 1024" %.1f) → $(calc "${rw[$mode]} / 1024" %.1f) after $warm s → $(calc "${r1[$mode]} / 1024" %.1f) MB (peak $(calc "${peak[$mode]} / 1024" %.1f))"
	done
	overview 14 "daemon RSS of a $n_files-file mount over $churn_s s of a change a second on each side" \
		"local pair ${shown[local]}; ssh ${shown[ssh]}" - - - - "no growth"
}

# say_overview ends the summary with the overview rows, in the order of
# issue 10's table.
say_overview() {
	[[ -s $overview ]] || return 0
	say ""
	say "## Overview"
	say ""
	say "The medians of the sections above, one row per workload. The ratio is myrrorfs over the best peer (of wall times, or of peak RSS where the row is about memory; lower is better); the targets are those of issue 10, and of issue 13 for the watching mount and \`sync --watch\` (rows without peers)."
	say ""
	say "| workload | myrrorfs | rsync | unison | sshfs | myrrorfs / best peer | target |"
	say "|---|---|---|---|---|---|---|"
	sort -t $'\t' -k1,1g "$overview" | cut -f2- >>"$summary"
}

# daemon_pid prints the pid of the myrrorfs daemon serving $mnt.
daemon_pid() {
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "mount.* $mnt\( \|$\)"; then
			if [[ $(readlink "$p/exe" 2>/dev/null) == "$bin" ]]; then
				echo "${p#/proc/}"
				return
			fi
		fi
	done
}

main() {
	parse_args "$@"
	sshd_pid=
	watch_pid=
	sleep_pid=
	dir=
	data=
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	setup
	wanted 1 && bench_nochange
	wanted 2 && bench_rename
	wanted 3 && bench_small
	wanted 4 && bench_large
	wanted 5 && bench_mount
	wanted 6 && bench_latency
	wanted 7 && bench_mixed
	wanted 8 && bench_changes
	wanted 9 && bench_status
	wanted 10 && bench_remote_read
	wanted 11 && bench_watch_idle
	wanted 12 && bench_watch_latency
	wanted 13 && bench_watch_memory
	say_overview
	log "done"
	cat "$summary"
}

main "$@"
