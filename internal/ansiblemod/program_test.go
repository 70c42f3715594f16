package ansiblemod

import (
	"slices"
	"testing"
)

// The multi-call program answers to the old scripts' names by argv[0], as
// cli_tools links them (issue 17): /usr/local/sbin/qos_guard.sh status runs
// the qos_guard CLI with "status", never an Ansible module run.
func TestMultiAnswersToLegacyNames(t *testing.T) {
	var ran string
	var got []string
	program := func(name string, legacy ...string) Program {
		return Program{Name: name, LegacyNames: legacy, CLI: func(args []string) int {
			ran, got = name, args
			return 7
		}}
	}
	programs := []Program{program("qos_guard", "qos_guard.sh"), program("retry_command", "retry_backoff.sh")}
	for _, tc := range []struct {
		argv     []string
		wantProg string
		wantArgs []string
		wantCode int
	}{
		{[]string{"/usr/local/sbin/qos_guard.sh", "status"}, "qos_guard", []string{"status"}, 7},
		{[]string{"retry_backoff.sh", "3", "5", "--", "true"}, "retry_command", []string{"3", "5", "--", "true"}, 7},
		{[]string{"/opt/bin/qos_guard", "lock", "15"}, "qos_guard", []string{"lock", "15"}, 7},
		// an argument named like an old script is not a program: usage error
		{[]string{"threader-guard", "qos_guard.sh.bak"}, "", nil, 2},
		{[]string{"/usr/local/sbin/QOS_GUARD.SH", "status"}, "", nil, 2},
	} {
		ran, got = "", nil
		code := multi(programs, tc.argv)
		if code != tc.wantCode || ran != tc.wantProg || !slices.Equal(got, tc.wantArgs) {
			t.Errorf("%q: ran %q with %q, exit %d; want %q with %q, exit %d", tc.argv, ran, got, code, tc.wantProg, tc.wantArgs, tc.wantCode)
		}
	}
}
