#!/usr/bin/env bash
# Runs the fault-injection test (TestFaults in cmd/myrrorfs) through
# scripts/test.sh, so that the test sshd is up: SIGKILL of sync, commit and
# the mount daemon, the ssh connection cut, full target and state disks,
# remote directories swapped for symlinks; after each fault, no version
# lost, no torn file, nothing written outside the pair, and convergence.
#
# Usage:
#   scripts/faults.sh [--long]     the long form (default; at least 200 faults)
#   scripts/faults.sh --short      the short form, as run by the test suite
#
# Environment: MYRRORFS_FAULTS_KINDS=a,b (only these kinds),
# MYRRORFS_FAULTS_SEED=S (first seed of each kind), MYRRORFS_FAULTS_N=N (at
# most N scenarios per kind), MYRRORFS_FAULTS_STATE_MIDRUN=1 (also fill the
# state disk during a run), MYRRORFS_FAULTS_SWAP_ROOT=1 (also swap REMOTE
# itself for a symlink). It prints a summary line beginning "faults:".
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
form=long
case "${1:-}" in
--long | "") ;;
--short) form=short ;;
*)
	echo "usage: scripts/faults.sh [--long|--short]" >&2
	exit 2
	;;
esac
export MYRRORFS_FAULTS="$form"
exec "$repo_root/scripts/test.sh" -run '^TestFaults$' -v -timeout 90m ./cmd/myrrorfs/
