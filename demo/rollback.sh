#!/bin/sh
# The demo's rollback command: reinstall the previous build of threader, which
# here means telling the simulator to recover. Its first attempt fails (the
# package mirror is busy) so that the retries with backoff show.
#
# Usage: demo/rollback.sh THREADERSIM_URL ATTEMPTS_FILE
set -eu
url=$1
attempts_file=$2
n=$(cat "$attempts_file" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$attempts_file"
if [ "$n" -lt 2 ]; then
	echo "rollback attempt $n: package mirror busy, try again later (simulated)" >&2
	exit 1
fi
curl -fsS -X POST "$url/recover" >/dev/null
echo "rollback attempt $n: build 41 reinstalled"
