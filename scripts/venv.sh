#!/bin/sh
# Makes the virtual environment DIR from the pinned requirements file REQ
# with pip from PyPI, unless DIR already holds exactly those requirements
# (a copy of REQ is kept in DIR once pip succeeded; comparing contents, not
# times, keeps a checkout or rebase from rebuilding it for nothing).
# Usage: scripts/venv.sh DIR REQ   (PYTHON: the interpreter, /usr/bin/python3)
set -eu
dir=$1 req=$2
python=${PYTHON:-/usr/bin/python3}
if cmp -s "$req" "$dir/requirements.txt" && "$dir/bin/python" -c '' 2>/dev/null; then
	exit 0
fi
echo "venv: $dir from $req"
rm -rf "$dir"
"$python" -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir -r "$req"
cp "$req" "$dir/requirements.txt"
