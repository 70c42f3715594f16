#!/bin/sh
# Runs every Go native fuzz target of the repository for a time budget each.
# Targets are discovered, not listed (`go test -list '^Fuzz' ./...`), so a
# target added to any package runs without touching this script.
# Usage: scripts/fuzz.sh [fuzztime]   (default $FUZZTIME, else 30s)
# A crash stops the run; Go writes the failing input to the package's
# testdata/fuzz/<target>/, where `go test` replays it from then on: commit it
# with the fix.
set -eu
fuzztime=${1:-${FUZZTIME:-30s}}
cd "$(dirname "$0")/.."
# -list prints a package's matching names, then its "ok <package>" line.
listing=$(go test -list '^Fuzz' ./...)
targets=$(printf '%s\n' "$listing" | awk '/^Fuzz/ { names[n++] = $1; next }
	/^ok / { for (i = 0; i < n; i++) print $2 " " names[i]; n = 0 }')
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi
count=0
while read -r pkg target; do
	echo "== $target in $pkg, $fuzztime"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" </dev/null
	count=$((count + 1))
done <<EOT
$targets
EOT
echo "fuzz: $count targets, $fuzztime each, no failure"
