#!/bin/sh
# The demo's canary step: install a threader build on the canary host only,
# which here means setting the canary simulator's latency. Build 43 has a slow
# query in its hot path: its requests take 50% longer. Any other build (41,
# the one running; 44, its fix) is as fast as the baseline.
#
# Usage: demo/canary.sh CANARY_THREADERSIM_URL BUILD
set -eu
url=$1
build=$2
case $build in
43) factor=1.5 ;;
*) factor=1 ;;
esac
curl -fsS -X POST "$url/latency?factor=$factor" >/dev/null
echo "canary: build $build installed on the canary host"
