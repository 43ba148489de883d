# Shared by scripts/test.sh and scripts/bench.sh: installing Debian packages.
# The sourcing script defines log.

# install_packages installs the given Debian packages (duplicates ignored),
# refreshing the package lists first when one of them has no candidate yet.
install_packages() {
	(($# == 0)) && return 0
	local pkgs p
	mapfile -t pkgs < <(printf '%s\n' "$@" | sort -u)
	log "installing ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	for p in "${pkgs[@]}"; do
		if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
			apt-get update
			break
		fi
	done
	apt-get install -y "${pkgs[@]}"
}
