#!/bin/bash
# The benchmark suite (make bench): starts its own sshd and Prometheus on
# loopback, runs every variant side by side in interleaved rounds, prints the
# table of medians and ratios and records it in bench/RESULTS.md, then
# bench/etcd.sh adds the lock file vs etcd section and bench/canary.sh the
# canary judge's.
# Extra arguments go to the runner, e.g. bench/run.sh -rounds 3 -results /tmp/r.md
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
go build -o bin/bench-runner ./bench/runner
results=bench/RESULTS.md
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	-results | --results) results=${args[i + 1]:-$results} ;;
	-results=* | --results=*) results=${args[i]#*=} ;;
	esac
done
bin/bench-runner -results bench/RESULTS.md "$@"
# The guard backends (lock file vs etcd), as section 5 of the same file.
bench/etcd.sh "$results"
# The canary judge's statistics, as section 6.
bench/canary.sh "$results"
