#!/bin/bash
# Runs the integration tests that exercise every path of the action plugin,
# the three modules through ansible-playbook, the roles and the playbooks on
# each ansible-core of the support matrix besides the system's (make test runs
# the whole suite on that one), all lines at once, each in the virtual
# environment build/ansible-LINE that `make venvs` made. The slow SLO polling
# and CLI tests do not depend on ansible-core and run once, in the main suite.
# Usage: scripts/test-matrix.sh TARBALL LINE...
# Each line's output goes to build/test-ansible-LINE.log, printed on failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
tarball=$(realpath "$1")
shift

# The subset (a go test -run pattern): every action plugin test (ssh and
# local, become, delegate_to, check mode and diff, no_log, async, the cache's
# defences), each module's playbook tests, the bad-input battery (one play),
# the roles through molecule and the playbooks.
tests='^(TestActionPlugin.*|TestCollectionTarballShipsEveryModuleForBothArchitectures|TestBadInputBattery'
tests+='|TestQosGuard(ModuleLifecycle|CheckModeAndDiff|ExclusiveAndIfRevisionInPlaybook|EtcdModuleInPlaybook|FreezeWindowsInPlaybook)'
tests+='|TestRetryCommand(ModuleInPlaybook|CheckMode|FailingPlaybookFails|PoliciesInPlaybook)'
tests+='|TestSLOCheck(ModuleInPlaybook|ModuleFailsClosedWhenPrometheusIsDown|Doc)|TestCanaryJudge(ModuleInPlaybook|Doc)'
tests+='|TestMolecule.*|TestPlaybooks|TestPromoWithGuards(SharesTheEtcdGuard|CanaryAnalysis)|TestObservabilityEndToEnd)$'
# Left out on these versions, with the reason:
# - TestPlaybooks/healthy... and other tests whose temporary directory (named
#   after the test) has a comma: ansible-core 2.19 cannot parse an ini
#   inventory at such a path ("Origin.path must be <class 'str'>"), an
#   ansible-core bug that users meet only with a comma in the path;
# - TestPlaybooks/ansible-doc...: 2.19's ansible-doc prints role entry points
#   in bold and wraps lines elsewhere than 2.14, whose text the test matches;
# - the guard_watch molecule scenario: it creates and removes a system user
#   (tg-watch-molecule), which the main suite's run of it shares; run it on
#   one version with THREADER_ANSIBLE_BIN=... go test -run 'TestMolecule'.
skip='/^(healthy|ansible-doc|guard_watch)'

pids=() lines=()
for line; do
	bin=build/ansible-$line/bin
	[ -x "$bin/ansible-playbook" ] || { echo "test-matrix: $bin/ansible-playbook is missing: run make venvs" >&2; exit 2; }
	THREADER_ANSIBLE_BIN=$PWD/$bin THREADER_GUARD_TARBALL=$tarball \
		go test -count=1 -timeout 60m -run "$tests" -skip "$skip" ./tests/ >"build/test-ansible-$line.log" 2>&1 &
	pids+=($!) lines+=("$line")
done
status=0
for i in "${!pids[@]}"; do
	if wait "${pids[$i]}"; then
		echo "ansible-core ${lines[$i]}: $(tail -n 1 "build/test-ansible-${lines[$i]}.log")"
	else
		status=1
		echo "ansible-core ${lines[$i]}: FAILED (build/test-ansible-${lines[$i]}.log):"
		cat "build/test-ansible-${lines[$i]}.log"
	fi
done
exit $status
