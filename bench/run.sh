#!/bin/bash
# The benchmark suite (make bench): starts its own sshd and Prometheus on
# loopback, runs every variant side by side in interleaved rounds, prints the
# table of medians and ratios and records it in bench/RESULTS.md.
# Extra arguments go to the runner, e.g. bench/run.sh -rounds 3 -results /tmp/r.md
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
go build -o bin/bench-runner ./bench/runner
exec bin/bench-runner -results bench/RESULTS.md "$@"
