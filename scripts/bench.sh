#!/usr/bin/env bash
# Benchmarks myrrorfs against unison, rsync, scp and sshfs on this machine,
# all in one run, over a throwaway OpenSSH server on 127.0.0.1 (the "remote"
# is this machine). Every figure is the median of --runs timed runs, and is
# given as a ratio against the peers.
#
# Usage: scripts/bench.sh [OPTIONS]
#   --runs N          timed runs per measurement (default 5)
#   --files N         files for the no-change re-sync, 100 per directory (default 100000)
#   --rename-files N  1 MiB files in the renamed directory (default 200)
#   --small-files N   4 KiB files for the first transfer, 100 per directory (default 5000)
#   --large-mib N     size of the large file in MiB (default 512)
#   --read-mib N      size of the file read through the mount in MiB (default 1024)
#   --tree-files N    files of the tree walked through the mount, 100 per directory (default 20000)
#   --only LIST       comma-separated subset of the measurements 1,2,3,4,5 (default all)
#   --out DIR         directory for the results (default a fresh one under $TMPDIR or /tmp)
#   --keep            keep the data directory (default: removed on exit)
#
# Measurements:
#   1  no-change re-sync, local-to-local and over ssh: myrrorfs, unison, rsync
#   2  rename of a directory of 1 MiB files, then sync over ssh: myrrorfs, unison, rsync
#   3  first transfer of many 4 KiB files over ssh: myrrorfs, rsync, unison
#   4  one large file over ssh: myrrorfs, scp, rsync
#   5  reads and find+stat through `myrrorfs mount` vs direct vs sshfs
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
large_mib=512
read_mib=1024
tree_files=20000
only=1,2,3,4,5
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
# Fails, showing the log, when CMD fails.
timed() {
	local label=$1
	shift
	local lf="$logs/$label.log" t0 t1
	printf '$' >"$lf"
	printf ' %q' "$@" >>"$lf"
	printf '\n' >>"$lf"
	t0=$(date +%s%N)
	if ! /usr/bin/time -v -o "$lf.time" "$@" >>"$lf" 2>&1; then
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
	dir="$data/ssh"
	mkdir -m 700 "$dir"
	bin="$data/bin/myrrorfs"
	log "building myrrorfs"
	(cd "$repo_root" && go build -o "$bin" ./cmd/myrrorfs)

	make_keys
	start_sshd
	write_client_config "$port"
	check_ssh
	cfg="$dir/ssh_config"
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
	say "| case | tool | wall s | tool/myrrorfs wall | peak RSS MB | bytes/file | tool/myrrorfs RSS | remote RSS MB | first sync s |"
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
			say "| $mode | $tool | ${mw[$tool]} | $(calc "${mw[$tool]} / ${mw[myrrorfs]}") | $(calc "${mr[$tool]} / 1024" %.1f) | $(calc "${mr[$tool]} * 1024 / $n_files" %.0f) | $(calc "${mr[$tool]} / ${mr[myrrorfs]}") | ${mrr[$tool]} | ${first[$tool]} |"
		done
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
	cmds[myrrorfs]="$bin sync -y --state $s2/state -e '$SSH' $s2/myrrorfs/local $test_host:$s2/myrrorfs/remote"
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
	say "| tool | wall s | tool/myrrorfs wall | MB over ssh | % of the data | tool's own count |"
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
		say "| $tool | ${mw[$tool]} | $(calc "${mw[$tool]} / ${mw[myrrorfs]}") | $(calc "${mb[$tool]} / 1e6" %.2f) | $(calc "${mb[$tool]} * 100 / $total" %.2f) | $ownv |"
	done
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

# --------------------------------------- 3. many small files, first transfer

bench_small() {
	local s3="$data/s3" src tool r dst
	src="$s3/src"
	log "3: making $small_files x 4 KiB files"
	make_small_tree "$src" "$small_files" 4096
	local -A walls=() cmd=()
	for ((r = 1; r <= runs; r++)); do
		for tool in myrrorfs rsync unison; do
			dst="$s3/dst-$tool-$r"
			mkdir -p "$dst"
			case $tool in
			myrrorfs) cmd[$tool]="$bin sync -y --state $s3/state-$r -e '$SSH' $src $test_host:$dst" ;;
			rsync) cmd[$tool]="rsync -a -e '$SSH' $src/ $test_host:$dst/" ;;
			unison) cmd[$tool]="unison $src ssh://$test_host/$dst -batch -sshcmd ssh -sshargs '$ssh_args' -servercmd $data/bin/unison-server" ;;
			esac
			eval "timed s3-$tool-$r ${cmd[$tool]}"
			local got
			got=$(find "$dst" -type f ! -path '*/.myrrorfs*' | wc -l)
			((got == small_files)) || log "warning: $tool left $got of $small_files files"
			log "3: $tool run $r: ${wall}s"
			walls[$tool]+=" $wall"
			rm -rf "$dst"
		done
	done
	say ""
	say "## 3. First transfer of $small_files x 4 KiB files over ssh"
	say ""
	say "Median of $runs runs, each into an empty remote directory (myrrorfs with a fresh journal)."
	say ""
	say "| tool | wall s | files/s | myrrorfs/tool files/s |"
	say "|---|---|---|---|"
	local -A mw=()
	for tool in myrrorfs rsync unison; do
		# shellcheck disable=SC2086
		mw[$tool]=$(record 3 small "$tool" wall_s ${walls[$tool]})
	done
	for tool in myrrorfs rsync unison; do
		say "| $tool | ${mw[$tool]} | $(calc "$small_files / ${mw[$tool]}" %.0f) | $(calc "${mw[$tool]} / ${mw[myrrorfs]}") |"
	done
	say ""
	say "Commands (N = run):"
	say ""
	for tool in myrrorfs rsync unison; do
		note_cmd "${cmd[$tool]//-$runs/-N}"
	done
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
			myrrorfs) cmd[$tool]="$bin sync -y --state $s4/state-$r -e '$SSH' $src $test_host:$dst" ;;
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
	say "| tool | wall s | MB/s | myrrorfs/tool MB/s |"
	say "|---|---|---|---|"
	local -A mw=()
	for tool in myrrorfs scp rsync; do
		# shellcheck disable=SC2086
		mw[$tool]=$(record 4 large "$tool" wall_s ${walls[$tool]})
	done
	for tool in myrrorfs scp rsync; do
		say "| $tool | ${mw[$tool]} | $(calc "$mb / ${mw[$tool]}" %.0f) | $(calc "${mw[$tool]} / ${mw[myrrorfs]}") |"
	done
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
	log "done"
	cat "$summary"
}

main "$@"
