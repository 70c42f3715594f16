#!/bin/bash
# Runs a molecule scenario's test sequence with plain ansible-playbook, for
# machines without molecule (Debian does not package it and PyPI may be out of
# reach). It reads the scenario's molecule.yml as molecule would: the
# inventory (platforms, host_vars, group_vars), provisioner.env (with ${VAR}
# and ${VAR:-default} expanded) and scenario.test_sequence, then runs
#
#   syntax       ansible-playbook --syntax-check converge.yml
#   prepare, converge, side_effect, verify, cleanup
#                the playbook of that name, when the scenario has one
#   idempotence  converge.yml again; fails unless every host reports changed=0
#
# and skips create, destroy, dependency and lint (the delegated driver on
# localhost has nothing to create). MOLECULE_* variables are set as molecule
# sets them; MOLECULE_EPHEMERAL_DIRECTORY is a fresh temporary directory.
#
# Usage: tests/molecule/run.sh roles/ROLE/molecule/SCENARIO
# The collection must be installed where ansible-playbook finds it
# (ANSIBLE_COLLECTIONS_PATH).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/molecule.yml" ]; then
	echo "usage: $0 SCENARIO_DIR (a directory with molecule.yml)" >&2
	exit 2
fi
scenario_dir=$(cd "$1" && pwd)
scenario=$(basename "$scenario_dir")
ephemeral=$(mktemp -d "${TMPDIR:-/tmp}/molecule-$scenario.XXXXXX")
trap 'rm -rf "$ephemeral"' EXIT

export MOLECULE_SCENARIO_NAME="$scenario"
export MOLECULE_SCENARIO_DIRECTORY="$scenario_dir"
export MOLECULE_PROJECT_DIRECTORY="$PWD"
export MOLECULE_EPHEMERAL_DIRECTORY="$ephemeral"
export MOLECULE_INVENTORY_FILE="$ephemeral/inventory.yml"
export ANSIBLE_RETRY_FILES_ENABLED=0

# molecule.yml → inventory.yml, env (NUL-separated NAME=value) and sequence.
/usr/bin/python3 - "$scenario_dir/molecule.yml" "$ephemeral" <<'PY'
import json, os, re, sys
import yaml

def expand(text):
    # ${VAR}, ${VAR:-default} and $VAR, as molecule interpolates molecule.yml.
    def sub(m):
        name, default = m.group(1) or m.group(3), m.group(2)
        value = os.environ.get(name, "")
        return value if value or default is None else default
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", sub, text)

path, out = sys.argv[1], sys.argv[2]
with open(path) as f:
    conf = yaml.safe_load(expand(f.read())) or {}
prov = conf.get("provisioner") or {}
inv = prov.get("inventory") or {}
host_vars = inv.get("host_vars") or {}
hosts = {}
for p in conf.get("platforms") or []:
    hosts[p["name"]] = host_vars.get(p["name"]) or {}
inventory = {"all": {"hosts": hosts, "vars": (inv.get("group_vars") or {}).get("all") or {}}}
with open(os.path.join(out, "inventory.yml"), "w") as f:
    json.dump(inventory, f)
with open(os.path.join(out, "env"), "w") as f:
    for k, v in (prov.get("env") or {}).items():
        f.write(f"{k}={v}\0")
default_sequence = ["dependency", "cleanup", "destroy", "syntax", "create", "prepare", "converge",
                    "idempotence", "side_effect", "verify", "cleanup", "destroy"]
sequence = (conf.get("scenario") or {}).get("test_sequence") or default_sequence
with open(os.path.join(out, "sequence"), "w") as f:
    f.write("\n".join(sequence) + "\n")
PY

while IFS= read -r -d '' assignment; do
	export "${assignment?}"
done <"$ephemeral/env"

playbook() { # playbook NAME [ansible-playbook args...]
	local name=$1
	shift
	ansible-playbook -i "$MOLECULE_INVENTORY_FILE" "$@" "$scenario_dir/$name.yml"
}

failed=0
while read -r action; do
	case $action in
	syntax)
		echo "--> $scenario: syntax"
		playbook converge --syntax-check
		;;
	prepare | converge | side_effect | verify | cleanup)
		if [ ! -f "$scenario_dir/$action.yml" ]; then
			echo "--> $scenario: $action: skipped, no $action.yml"
			continue
		fi
		echo "--> $scenario: $action"
		playbook "$action"
		;;
	idempotence)
		echo "--> $scenario: idempotence (converge again; nothing may change)"
		log="$ephemeral/idempotence.log"
		playbook converge | tee "$log"
		# Every host line of the recap must say changed=0.
		if grep -E '^[^ ].* : ok=[0-9]+ +changed=[0-9]+' "$log" | grep -vqE ' changed=0 '; then
			echo "--> $scenario: idempotence FAILED: the second converge changed something:" >&2
			grep -E '^changed: |^TASK ' "$log" | grep -B1 '^changed: ' >&2 || true
			failed=1
			break
		fi
		echo "--> $scenario: idempotence ok"
		;;
	create | destroy | dependency | lint)
		echo "--> $scenario: $action: skipped (delegated driver on localhost; nothing to $action)"
		;;
	*)
		echo "--> $scenario: unknown action $action in test_sequence" >&2
		failed=1
		break
		;;
	esac
done <"$ephemeral/sequence"

if [ "$failed" -ne 0 ]; then
	exit 1
fi
echo "--> $scenario: all done"
