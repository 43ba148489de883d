# Shared by scripts/test.sh and scripts/bench.sh: a throwaway OpenSSH server
# on 127.0.0.1 with fresh keys and a pinned host key.
#
# Source this file, then set:
#   dir        a fresh private directory for keys, configs, pid and log
#   test_host  the host name the client config gives the server
# and define log(). Then: make_keys; start_sshd; write_client_config "$port";
# check_ssh. start_sshd sets sshd_pid and port; the client config is
# $dir/ssh_config. stop_sshd stops the server.

# port_in_use reports whether something accepts connections on 127.0.0.1:$1.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port prints a port on 127.0.0.1 that nothing listens on, below the
# range the kernel takes the local ports of outgoing connections from (a
# connection holding the port would make sshd's bind fail).
pick_port() {
	local port low=32768 high
	read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	local from=10000 span=$((low - 10000))
	if ((span < 1000)); then
		from=20000 span=40000
	fi
	for _ in $(seq 1 100); do
		port=$((from + RANDOM % span))
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
	# sshd refuses to start without its privilege separation user, which a
	# package install creates but a damaged system may lack.
	if ! getent passwd sshd >/dev/null; then
		log "creating the sshd privilege separation user"
		useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
	fi
	for _ in 1 2 3 4 5; do
		port="$(pick_port)"
		write_sshd_config "$port"
		log "starting sshd on 127.0.0.1:$port (config $dir/sshd_config, log $dir/sshd.log)"
		/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
		sshd_pid=$!
		# answering on the port is not enough: something else may have
		# (sshd then fails to bind and exits)
		if wait_for_sshd "$sshd_pid" "$port" && sleep 0.3 && kill -0 "$sshd_pid" 2>/dev/null; then
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

# check_ssh makes one connection through the client config, so that a broken
# setup fails here with ssh's own message rather than in every test.
check_ssh() {
	if ! ssh -F "$dir/ssh_config" -oBatchMode=yes "$test_host" true; then
		log "cannot log in to the test sshd; its log:"
		cat "$dir/sshd.log" >&2 || true
		return 1
	fi
}

# stop_sshd stops the sshd started by start_sshd, if any.
stop_sshd() {
	if [[ -n "${sshd_pid:-}" ]]; then
		kill "$sshd_pid" 2>/dev/null || true
		wait "$sshd_pid" 2>/dev/null || true
	fi
}
