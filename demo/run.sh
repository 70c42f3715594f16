#!/bin/bash
# make demo: the threader.guard story on one machine, in about a minute.
#
# A simulated "threader" service (demo/threadersim) serves request counters,
# request latencies and a health metric from two hosts, the baseline and a
# canary host (two simulators, labelled group="baseline" and group="canary");
# a local Prometheus (the Debian package) scrapes them every second with the
# collection's recording rules, their windows shortened to seconds. Against
# localhost, with the built collection:
#
#   1. a deploy of a broken build fails its SLO gate, and the rollback
#      playbook rolls back (retrying) and locks the guard-window;
#   2. a promotion attempt is refused by the guard (it cannot acquire it);
#   3. the release playbook polls the SLOs and releases the guard once the
#      service is stable;
#   4. the promotion again, now with its canary step (canary_analysis_enabled):
#      build 43 goes to the canary host first, where its requests take 50%
#      longer; canary_judge compares the canary's latency and error ratio
#      with the baseline's over the last 8s at 1s steps, fails it (latency is
#      critical: score 0), and the promotion stops before the full rollout,
#      leaving the guard-window locked with the judge's verdict as its reason;
#   5. the canary host goes back to build 41 and the release playbook
#      releases the guard once the SLOs are stable;
#   6. the fix, build 44: its canary passes the judge (score 100), and the
#      promotion goes through and locks the guard for the stability window.
#
# The canary analysis's settings are in demo/canary_analysis.yml, the canary
# step is demo/canary.sh (it sets the canary simulator's latency).
#
# The baseline simulator ships its log lines to a local VictoriaLogs (built by
# scripts/install-deps.sh into build/bin), and the SLO gate's error-log check
# runs there: a broken build also fails on its error logs. (Loki is not
# available here: LOKI_URL is empty, VICTORIALOGS_URL is set.)
# Everything runs in a temporary directory; the script stops what it started
# and removes the directory when it ends, however it ends.
#
# Needs: the collection tarball (make collection; or THREADER_GUARD_TARBALL),
# ansible-playbook, ansible-galaxy, prometheus, promtool, curl, python3, go,
# build/bin/victoria-logs. `make demo` installs them (scripts/install-deps.sh
# demo) and builds first.
#
# Settings (environment): DEMO_RATE_WINDOW (5s) replaces the 1m ranges of the
# recording rules, DEMO_STABILITY_WINDOW (8s) is the SLO window,
# DEMO_QUIET=1 hides ansible-playbook's own output.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$PATH:/usr/local/go/bin"

rate_window=${DEMO_RATE_WINDOW:-5s}
stability_window=${DEMO_STABILITY_WINDOW:-8s}

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() {
	printf '\ndemo: %s\n' "$*" >&2
	exit 1
}

need() { # need COMMAND DEBIAN_PACKAGE
	command -v "$1" >/dev/null 2>&1 || die "$1 is missing: apt-get install -y $2 (make demo installs it)"
}
need ansible-playbook ansible-core
need ansible-galaxy ansible-core
need prometheus prometheus
need promtool prometheus
need curl curl
need python3 python3
need go golang-go
victorialogs_bin="$repo/build/bin/victoria-logs"
[ -x "$victorialogs_bin" ] || die "$victorialogs_bin is missing: run scripts/install-deps.sh demo (make demo does)"

tarball=${THREADER_GUARD_TARBALL:-}
if [ -z "$tarball" ]; then
	shopt -s nullglob
	tarballs=("$repo"/dist/threader-guard-*.tar.gz)
	shopt -u nullglob
	[ "${#tarballs[@]}" -eq 1 ] || die "want exactly one dist/threader-guard-*.tar.gz, found ${#tarballs[@]}: run make collection first (make demo does)"
	tarball=${tarballs[0]}
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/threader-guard-demo.XXXXXX")
pids=()
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
	if [ "$status" -eq 0 ]; then
		say "Done. Stopped Prometheus, VictoriaLogs and the simulators and removed $work; nothing is left running."
	else
		printf '\ndemo: failed (exit %s); stopped what it started and removed %s\n' "$status" "$work" >&2
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_url() { # wait_for_url URL PID NAME LOG
	for _ in $(seq 1 100); do
		kill -0 "$2" 2>/dev/null || die "$3 exited before it was ready: $(tail -n 20 "$4")"
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	die "$3 not ready at $1 after 20s: $(tail -n 20 "$4")"
}

# playbook NAME ARGS...: runs ansible-playbook, indenting its output (or
# hiding it with DEMO_QUIET=1); returns its exit code.
playbook() {
	local log="$work/ansible.log"
	local rc=0
	ansible-playbook "$@" >"$log" 2>&1 || rc=$?
	if [ "${DEMO_QUIET:-0}" != 1 ]; then
		sed -e '/^$/d' -e 's/^/    | /' "$log"
	fi
	return "$rc"
}

# guard_status prints the guard-window's state with the installed CLI tool.
guard_status() {
	"$work/sbin/qos_guard" --path "$QOS_GUARD_PATH" status || true
}

say "Setting up in $work"
started=$(date +%s)

note "installing the collection from $(basename "$tarball") into $work/collections (not ~/.ansible)"
ansible-galaxy collection install --force -p "$work/collections" "$tarball" >"$work/galaxy.log" 2>&1 ||
	die "ansible-galaxy collection install failed: $(cat "$work/galaxy.log")"

note "building the simulated threader service (demo/threadersim)"
go build -o "$work/threadersim" ./demo/threadersim

vl_port=$(free_port)
vl_url="http://127.0.0.1:$vl_port"
note "starting VictoriaLogs ($victorialogs_bin) on $vl_url for the service's log lines"
"$victorialogs_bin" -storageDataPath="$work/victorialogs-data" -httpListenAddr="127.0.0.1:$vl_port" \
	-loggerLevel=ERROR >"$work/victorialogs.log" 2>&1 &
pids+=("$!")
wait_for_url "$vl_url/health" "${pids[-1]}" victoria-logs "$work/victorialogs.log"

# start_threadersim NAME ARGS...: starts a simulator with ARGS, waits until
# it serves and sets threadersim_addr to its address.
start_threadersim() {
	local name=$1
	shift
	"$work/threadersim" -listen 127.0.0.1:0 -addr-file "$work/$name.addr" "$@" >"$work/$name.log" 2>&1 &
	pids+=("$!")
	for _ in $(seq 1 100); do
		[ -s "$work/$name.addr" ] && break
		sleep 0.1
	done
	[ -s "$work/$name.addr" ] || die "threadersim ($name) did not start: $(cat "$work/$name.log")"
	threadersim_addr=$(cat "$work/$name.addr")
	wait_for_url "http://$threadersim_addr/state" "${pids[-1]}" "threadersim ($name)" "$work/$name.log"
}

note "starting it on two hosts, the baseline and the canary host: 50 requests a second each, all answered 200"
note "in about 100ms (+-5% noise) while healthy; the baseline's log lines go to VictoriaLogs every second"
start_threadersim threadersim -seed 1 -loki-push-url "$vl_url/insert/loki/api/v1/push"
threader_addr=$threadersim_addr
threader_url="http://$threader_addr"
start_threadersim canary -seed 2
canary_addr=$threadersim_addr
canary_url="http://$canary_addr"

note "starting Prometheus, scraping both every second; recording rules from files/prometheus/recording.rules.yml with $rate_window ranges"
sed -e "s/\[1m\]/[$rate_window]/g" -e "s/interval: 1m/interval: 1s/" \
	files/prometheus/recording.rules.yml >"$work/recording.rules.yml"
promtool check rules "$work/recording.rules.yml" >"$work/promtool.log" 2>&1 ||
	die "promtool check rules failed: $(cat "$work/promtool.log")"
sed -e "s|@THREADER@|$threader_addr|" -e "s|@RULES@|$work/recording.rules.yml|" \
-e "s|@CANARY@|$canary_addr|" \
	demo/prometheus/prometheus.yml.in >"$work/prometheus.yml"
prom_port=$(free_port)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
	--web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=("$!")
prom_url="http://127.0.0.1:$prom_port"
wait_for_url "$prom_url/-/ready" "${pids[-1]}" prometheus "$work/prometheus.log"

# The playbooks take their settings from the old design's environment
# variables (the roles fall back to them), plus a few -e for the polling.
export ANSIBLE_COLLECTIONS_PATH="$work/collections"
export ANSIBLE_LOCAL_TEMP="$work/ansible-local"
export ANSIBLE_REMOTE_TEMP="$work/ansible-remote"
export ANSIBLE_CONFIG="$work/ansible.cfg"
export ANSIBLE_RETRY_FILES_ENABLED=0
export ANSIBLE_LOCALHOST_WARNING=0
export ANSIBLE_DISPLAY_SKIPPED_HOSTS=0
export ANSIBLE_CALLBACK_RESULT_FORMAT=yaml
export ANSIBLE_NOCOLOR=1
export PROMETHEUS_URL="$prom_url"
export LOKI_URL=""
export VICTORIALOGS_URL="$vl_url"
export THREADER_JOB=threader
export STABILITY_WINDOW="$stability_window"
export QOS_GUARD_PATH="$work/threader.qos.guard"
export QOS_GUARD_WINDOW=5
export MAX_RETRY_ATTEMPTS=3
export BASE_RETRY_DELAY=2
printf '[threader]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' >"$work/inventory.ini"
inventory=(-i "$work/inventory.ini")

note "installing the CLI tools (threader.guard.cli_tools) into $work/sbin, as on a CI runner"
mkdir -p "$work/sbin"
DEMO_QUIET=1 playbook "${inventory[@]}" threader.guard.install_cli_tools -e cli_tools_dest_dir="$work/sbin" ||
	die "installing the CLI tools failed: $(cat "$work/ansible.log")"

say "The SLO gate's error-log check runs on VictoriaLogs (VICTORIALOGS_URL; LOKI_URL is empty)."
note "The gate checks the 5xx ratio, the health ratio and the ERROR log lines per minute over the last $STABILITY_WINDOW (STABILITY_WINDOW)."

say "Step 0: threader runs build 41 and is healthy. Waiting until Prometheus has a window of healthy data..."
# Until the first scrapes are recorded every evaluation is "no data": poll
# through those (--consecutive-error-limit -1), bounded by the timeout.
"$work/sbin/slo_check" --prometheus-url "$prom_url" --loki-url "" --victorialogs-url "$vl_url" --job threader --window "$stability_window" \
	--interval-seconds 1 --consecutive 2 --timeout-seconds 60 --consecutive-error-limit -1 >"$work/baseline.log" 2>&1 ||
	die "the service never looked healthy: $(cat "$work/baseline.log")"
note "slo_check: healthy."

say "Step 1: deploying build 42. The new build is broken: it answers 30% of requests with 500."
if playbook "${inventory[@]}" demo/playbooks/deploy.yml -e threadersim_url="$threader_url"; then
	die "the deploy of the broken build passed its SLO gate; the demo expected it to fail"
fi
say "The deploy failed its SLO gate (see the message above: each check's value and threshold)."
say "So the pipeline runs the rollback playbook: threader.guard.auto_rollback_on_failure."
note "rollback_command is demo/rollback.sh; its first attempt fails (package mirror busy), retry_command tries again after ${BASE_RETRY_DELAY}s."
rm -f "$work/rollback.attempts"
playbook "${inventory[@]}" threader.guard.auto_rollback_on_failure \
	-e "{\"rollback_command\": [\"$repo/demo/rollback.sh\", \"$threader_url\", \"$work/rollback.attempts\"]}" \
	-e '{"guard_window_reason": "rollback of build 42"}' ||
	die "the rollback playbook failed"
note "rollback_status: SUCCESS after $(cat "$work/rollback.attempts") attempts. The guard-window is now locked for $QOS_GUARD_WINDOW minutes:"
note "qos_guard status: $(guard_status)"

say "Step 2: someone tries to promote build 43 now, with threader.guard.promo_with_guards (run id build-43-try-1)."
note "Its first task acquires the guard-window exclusively, as the owner <controller>:threader.guard.promo_with_guards:<run id>."
if playbook "${inventory[@]}" threader.guard.promo_with_guards -e threader_guard_run_id=build-43-try-1 \
	-e '{"promote_command": ["/bin/echo", "build 43 promoted"]}'; then
	die "the promotion went through while the guard-window was locked"
fi
say "The promotion was refused by the guard before anything ran: the service has not proved stable since the rollback."
note "qos_guard status: $(guard_status)"

say "Step 3: the release playbook (threader.guard.qos_guard_release) polls the SLOs every 2s until 3 evaluations in a row pass."
note "Right after the rollback the window still holds the errors of build 42, so the first evaluations fail; that takes a few seconds."
release_started=$(date +%s)
playbook "${inventory[@]}" threader.guard.qos_guard_release \
	-e slo_interval_seconds=2 -e slo_consecutive=3 -e slo_timeout_seconds=90 ||
	die "the release playbook did not release the guard"
say "The SLOs were stable, so the guard-window was released after $(($(date +%s) - release_started))s of polling."
note "qos_guard status: $(guard_status)"

# promote_with_canary RUN_ID BUILD: promo_with_guards with its canary step,
# the canary analysis of demo/canary_analysis.yml; returns its exit code.
promote_with_canary() {
	playbook "${inventory[@]}" threader.guard.promo_with_guards -e threader_guard_run_id="$1" \
		-e canary_analysis_enabled=true -e @"$repo/demo/canary_analysis.yml" \
		-e "{\"canary_promote_command\": [\"$repo/demo/canary.sh\", \"$canary_url\", \"$2\"]}" \
		-e "{\"promote_command\": [\"/bin/echo\", \"build $2 promoted\"]}"
}

say "Step 4: the promotion of build 43 again, now with its canary step (canary_analysis_enabled=true, run id build-43-try-2)."
note "Build 43 goes to the canary host first (demo/canary.sh). After 12s of traffic, canary_judge compares the canary's"
note "latency and error ratio with the baseline's over the last 8s at 1s steps (demo/canary_analysis.yml); latency is critical."
note "Build 43 has a slow query in its hot path: on the canary its requests take 50% longer."
if promote_with_canary build-43-try-2 43; then
	die "the promotion went through with a canary 50% slower than the baseline"
fi
say "The canary judge stopped the promotion: the canary's latency is high, a critical metric, so the score is 0."
note "The full promotion never ran. As after any failed step, the guard-window stays locked, its reason the judge's verdict:"
note "qos_guard status: $(guard_status)"

say "Step 5: the canary host goes back to build 41, and the release playbook releases the guard once the SLOs are stable."
note "$("$repo/demo/canary.sh" "$canary_url" 41)"
playbook "${inventory[@]}" threader.guard.qos_guard_release \
	-e slo_interval_seconds=1 -e slo_consecutive=3 -e slo_timeout_seconds=90 ||
	die "the release playbook did not release the guard"
note "qos_guard status: $(guard_status)"

say "Step 6: build 44 fixes the slow query. Its promotion, with the canary step (run id build-44-try-1)."
promote_with_canary build-44-try-1 44 ||
	die "the promotion of build 44 failed"
say "The canary passed the judge (as fast as the baseline, no errors), so the promotion went through: it acquired the guard, passed the SLO gate, judged the canary, ran promote_command while holding the guard, and locked the guard-window for the stability window, until the promotion proves stable:"
note "qos_guard status: $(guard_status)"

say "The whole story took $(($(date +%s) - started))s."
