#!/usr/bin/env bash
# Benchmarks myrrorfs against unison, rsync, scp and sshfs on this machine,
# all in one run, over a throwaway OpenSSH server on 127.0.0.1 (the "remote"
# is this machine). Every figure is the median of --runs timed runs, and is
# given as a ratio against the peers.
#
# Usage: scripts/bench.sh [OPTIONS]
#   --runs N           timed runs per measurement (default 5)
#   --files N          files of the tree re-synced (1) and changed (8), 100 per directory (default 100000)
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
#   --only LIST        comma-separated subset of the measurements 1 to 10 (default all)
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
#
# The slow link is ssh through a relay (internal/cmd/delayrelay, as its
# ProxyCommand) that holds every chunk for --latency ms in each direction:
# the kernel may have no netem. The summary ends with an overview: each
# workload's myrrorfs / best peer ratio (of wall times, or of peak RSS;
# lower is better) next to the target of issue 10.
#
# Needs root on Debian: missing tools are installed with apt-get. Writes
# results.tsv (one line per measurement, every run), summary.md (the tables
# printed at the end) and logs/ (each command's output) under the results
# directory. Not part of scripts/test.sh or CI.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
test_host=myrrorfs-bench

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
only=1,2,3,4,5,6,7,8,9,10
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
		"$status_files" "$large_mib" "$read_mib" "$tree_files" "$latency" "$timeout_s"; do
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

# say_overview ends the summary with the overview rows, in the order of
# issue 10's table.
say_overview() {
	[[ -s $overview ]] || return 0
	say ""
	say "## Overview"
	say ""
	say "The medians of the sections above, one row per workload. The ratio is myrrorfs over the best peer (of wall times, or of peak RSS where the row is about memory; lower is better); the targets are those of issue 10."
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
	say_overview
	log "done"
	cat "$summary"
}

main "$@"
