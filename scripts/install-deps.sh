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
	want pytest-3 python3-pytest
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
