#!/usr/bin/env bash
# Runs the myrrorfs test suite against a throwaway OpenSSH server on loopback.
#
# Usage:
#   scripts/test.sh                      vet, all tests, and a -race run of the pure packages
#   scripts/test.sh ARGS...              only `go test -count=1 ARGS...` (e.g. -run Foo ./replica/...)
#
# Package patterns are relative to the repository root, whatever the current
# directory. Needs root on Debian: missing tools (sshd, ssh, fusermount3,
# rsync, gio) are installed with apt-get. The sshd listens on 127.0.0.1 only,
# accepts a fresh key only, and is stopped (and its files removed) on exit.
#
# Tests find the server through these variables:
#   MYRRORFS_TEST_SSH       ssh command with a client config for the test host
#   MYRRORFS_TEST_HOST      host name to give that command
#   MYRRORFS_TEST_SSHD_PID  pid of the listening sshd (its children serve connections)
#   MYRRORFS_TEST_SSH_DIR   directory holding the keys and configs
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
test_host=myrrorfs-test

log() { printf 'test.sh: %s\n' "$*" >&2; }

# install_missing installs the packages providing any missing tool.
install_missing() {
	local missing=()
	[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
	command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
	command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
	command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
	command -v rsync >/dev/null 2>&1 || missing+=(rsync)
	command -v gio >/dev/null 2>&1 || missing+=(libglib2.0-bin)
	if ((${#missing[@]} == 0)); then
		return
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y openssh-server openssh-client fuse3 rsync libglib2.0-bin
}

# port_in_use reports whether something accepts connections on 127.0.0.1:$1.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port prints a port on 127.0.0.1 that nothing listens on.
pick_port() {
	local port
	for _ in $(seq 1 100); do
		port=$((20000 + RANDOM % 40000))
		if ! port_in_use "$port"; then
			echo "$port"
			return
		fi
	done
	log "no free port found"
	return 1
}

# make_keys creates the host key, the user key and authorized_keys in $dir.
make_keys() {
	ssh-keygen -q -t ed25519 -N '' -C myrrorfs-test-host -f "$dir/host_key"
	ssh-keygen -q -t ed25519 -N '' -C myrrorfs-test-user -f "$dir/user_key"
	cp "$dir/user_key.pub" "$dir/authorized_keys"
	chmod 600 "$dir/authorized_keys"
}

# write_sshd_config writes the server configuration for port $1.
write_sshd_config() {
	cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
PidFile $dir/sshd.pid
EOF
}

# write_client_config writes the ssh client configuration and the pinned
# known_hosts for port $1.
write_client_config() {
	local key
	key="$(cut -d' ' -f1,2 "$dir/host_key.pub")"
	echo "[127.0.0.1]:$1 $key" >"$dir/known_hosts"
	cat >"$dir/ssh_config" <<EOF
Host $test_host
	HostName 127.0.0.1
	Port $1
	User root
	IdentityFile $dir/user_key
	IdentitiesOnly yes
	UserKnownHostsFile $dir/known_hosts
	StrictHostKeyChecking yes
	GlobalKnownHostsFile /dev/null
	LogLevel ERROR
EOF
}

# wait_for_sshd waits until sshd (pid $1) answers on port $2.
wait_for_sshd() {
	for _ in $(seq 1 100); do
		if ! kill -0 "$1" 2>/dev/null; then
			return 1
		fi
		if port_in_use "$2"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# start_sshd starts sshd on a free port, retrying if another process takes
# the port first. It sets sshd_pid and port.
start_sshd() {
	mkdir -p /run/sshd
	for _ in 1 2 3 4 5; do
		port="$(pick_port)"
		write_sshd_config "$port"
		log "starting sshd on 127.0.0.1:$port (config $dir/sshd_config, log $dir/sshd.log)"
		/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
		sshd_pid=$!
		if wait_for_sshd "$sshd_pid" "$port"; then
			return 0
		fi
		kill "$sshd_pid" 2>/dev/null || true
		wait "$sshd_pid" 2>/dev/null || true
		sshd_pid=
		log "sshd did not start:"
		cat "$dir/sshd.log" >&2 || true
	done
	return 1
}

cleanup() {
	local rc=$?
	if [[ -n "${sshd_pid:-}" ]]; then
		kill "$sshd_pid" 2>/dev/null || true
		wait "$sshd_pid" 2>/dev/null || true
	fi
	if [[ -n "${dir:-}" ]]; then
		rm -rf "$dir"
	fi
	exit "$rc"
}

# check_ssh makes one connection through the client config, so that a broken
# setup fails here with ssh's own message rather than in every test.
check_ssh() {
	if ! ssh -F "$dir/ssh_config" -oBatchMode=yes "$test_host" true; then
		log "cannot log in to the test sshd; its log:"
		cat "$dir/sshd.log" >&2 || true
		return 1
	fi
}

# run_tests runs the default set, or `go test -count=1 "$@"` when given args.
run_tests() {
	cd "$repo_root"
	if (($# > 0)); then
		go test -count=1 "$@"
		return
	fi
	go vet ./...
	go test -count=1 -timeout 20m ./...
	local pure=()
	[[ -d tree ]] && pure+=(./tree/...)
	[[ -d reconcile ]] && pure+=(./reconcile/...)
	if ((${#pure[@]} > 0)); then
		go test -count=1 -race -timeout 20m "${pure[@]}"
	fi
}

main() {
	install_missing
	sshd_pid=
	dir=
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	dir="$(mktemp -d -t myrrorfs-test.XXXXXX)"
	make_keys
	start_sshd
	write_client_config "$port"
	check_ssh

	export MYRRORFS_TEST_SSH="ssh -F $dir/ssh_config"
	export MYRRORFS_TEST_HOST="$test_host"
	export MYRRORFS_TEST_SSHD_PID="$sshd_pid"
	export MYRRORFS_TEST_SSH_DIR="$dir"
	run_tests "$@"
}

main "$@"
