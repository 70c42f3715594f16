package retrycommand

import (
	"strings"
	"testing"

	"github.com/threader/guard/internal/runner"
)

// FuzzPolicyFlag: any --policy value is refused or parsed into a spec whose
// name is the text before the first colon and whose action is retry or
// stop; building it never panics, and a refusal names the flag.
func FuzzPolicyFlag(f *testing.F) {
	for _, s := range []string{"rate:HTTP 429:retry:8:30:2", "auth:40[13]:stop", "x:a:b:c:retry", "x::retry", ":re:stop",
		"a:(:retry", "a:x:retry:-1", "a:x:retry:1:nan", "a:x:STOP", "no-colon", "a:x:retry:1:1e400:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := policyFlag(v)
		if err != nil {
			return
		}
		if name, _, _ := strings.Cut(v, ":"); s.Name != name {
			t.Fatalf("policyFlag(%q).Name = %q", v, s.Name)
		}
		if a := strings.ToLower(s.Action); a != "retry" && a != "stop" {
			t.Fatalf("policyFlag(%q).Action = %q", v, s.Action)
		}
		_, err = buildPolicies([]policySpec{s}, runner.Retry{Attempts: 3})
		if err != nil && !strings.HasPrefix(policyError("--policy", err).Error(), "--policy #1: ") {
			t.Fatalf("policyFlag(%q): error %v does not name the flag", v, err)
		}
	})
}
