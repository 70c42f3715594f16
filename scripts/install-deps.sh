#!/bin/sh
# Installs what building and testing threader.guard needs on Debian/Ubuntu.
# Idempotent: it installs only what is missing. Usage: scripts/install-deps.sh [demo|test]
set -eu
purpose=${1:-test}

need_pkgs=""
want() { # want COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/bin/$1" ] || [ -x "/usr/sbin/$1" ] || need_pkgs="$need_pkgs $2"
}
want ansible-playbook ansible-core
want prometheus prometheus
want promtool prometheus
want make make
want git git
want curl curl
if [ "$purpose" = test ]; then
	want ansible-lint ansible-lint
	want yamllint yamllint
	want shellcheck shellcheck
	# the virtual environments of the ansible-core matrix (make venvs)
	/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need_pkgs="$need_pkgs python3-venv"
	want victoria-metrics victoria-metrics
	want prometheus-node-exporter prometheus-node-exporter
	want prometheus-pushgateway prometheus-pushgateway
	want sshd openssh-server
	want qemu-aarch64 qemu-user
	want etcd etcd-server
	# cgo, for the race detector of make test: a C compiler and libc headers
	want gcc gcc
	[ -e /usr/include/stdio.h ] || need_pkgs="$need_pkgs libc6-dev"
fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	need_pkgs="$need_pkgs golang-go"
fi

if [ -n "$need_pkgs" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "installing:$need_pkgs"
	$SUDO apt-get update
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $need_pkgs
fi

# VictoriaLogs has no Debian package: the tests and the demo run the
# victoria-logs this builds from its Go module (about 15 s) into build/bin.
# Idempotent: a binary built from the wanted module version is kept.
victorialogs_version=v1.52.1
victorialogs_bin=$(cd "$(dirname "$0")/.." && pwd)/build/bin/victoria-logs
export PATH="$PATH:/usr/local/go/bin"
if ! go version -m "$victorialogs_bin" 2>/dev/null |
	grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/VictoriaMetrics/VictoriaLogs[[:space:]]+${victorialogs_version}[[:space:]]"; then
	echo "building victoria-logs $victorialogs_version into $(dirname "$victorialogs_bin")"
	mkdir -p "$(dirname "$victorialogs_bin")"
	GOBIN=$(dirname "$victorialogs_bin") CGO_ENABLED=0 go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$victorialogs_version"
fi
