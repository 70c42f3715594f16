//go:build linux

package ansiblemod

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func init() {
	// Reports what the module and a command it runs see of TG_ENV_A.
	scenarios["env"] = func(m *Module) (Result, error) {
		child, err := exec.Command("sh", "-c", `printf %s "$TG_ENV_A"`).Output()
		return Result{"module": os.Getenv("TG_ENV_A"), "child": string(child), "user": m.RemoteUser}, err
	}
}

// The task environment arrives beside the arguments (issue 10, item 10: no
// longer as NAME=value in the remote shell's argv), is set before the module
// runs, and is neither an option nor part of the result.
func TestRunSetsTheTaskEnvironment(t *testing.T) {
	args := `{"name": "x", "` + EnvironmentKey + `": {"TG_ENV_A": "env-value-51c9", "USER": "deployer"}}`
	p := runScenario(t, "env", "AnsiballZ_scenario", argsFile(t, args))
	res := oneObject(t, p)
	if res["module"] != "env-value-51c9" || res["child"] != "env-value-51c9" || res["user"] != "deployer" || p.code != 0 {
		t.Errorf("exit %d, result %v", p.code, res)
	}
	if strings.Contains(p.stdout, EnvironmentKey) {
		t.Errorf("the environment key shows in the result: %s", p.stdout)
	}
}

func TestRunRejectsABadTaskEnvironment(t *testing.T) {
	for _, c := range []struct{ env, msg string }{
		{`"A=1"`, "the task's environment must be a mapping of names to strings, got a string"},
		{`["A"]`, "the task's environment must be a mapping of names to strings, got a list"},
		{`{"A=B": "1"}`, `the task's environment has an invalid variable name "A=B" (empty, or holding = or NUL)`},
		{`{"": "1"}`, `the task's environment has an invalid variable name "" (empty, or holding = or NUL)`},
		{`{"TG_ENV_A": 5}`, "the task's environment variable TG_ENV_A must be a string, got a number"},
		{`{"TG_ENV_A": "a\u0000b"}`, "the task's environment variable TG_ENV_A holds a NUL byte"},
	} {
		p := runScenario(t, "env", "AnsiballZ_scenario", argsFile(t, `{"`+EnvironmentKey+`": `+c.env+`}`))
		res := oneObject(t, p)
		if res["msg"] != c.msg || res["failed"] != true || p.code != 1 {
			t.Errorf("environment %s: exit %d, result %v, want msg %q", c.env, p.code, res, c.msg)
		}
	}
}

// On the plugins' path (stdin) the key is not taken for an unknown option.
func TestRunStdinSetsTheTaskEnvironment(t *testing.T) {
	args, _ := json.Marshal(map[string]any{"token": "t", EnvironmentKey: map[string]any{"TG_ENV_A": "v"}})
	p := runScenarioWithStdin(t, string(args), "stdin", "threader-guard")
	if res := oneObject(t, p); res["changed"] != true || p.code != 0 {
		t.Errorf("exit %d, result %v", p.code, res)
	}
}
