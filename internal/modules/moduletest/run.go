// Package moduletest holds what the tests of the module adapters
// (internal/modules/...) and of internal/metrics/observe share: running a
// module as Ansible does, checking its sidecar documentation against its
// spec, a fake Pushgateway, a socket standing in for /dev/log, and reading
// the metrics textfile. Only _test.go files import it.
package moduletest

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/testenv"
)

// argsEnv tells a test binary started by Self to run its module on the
// args file it names (see Main) instead of running its tests.
const argsEnv = "THREADER_GUARD_MODULETEST_ARGS"

// Module is a module that tests run as Ansible runs a binary module: a
// child process given the path of a JSON file of its arguments, printing
// one JSON result. A child process because ansiblemod.Run takes over fd 1
// for good.
type Module struct {
	// FQCN, when set, is the _ansible_module_name of runs whose args do not
	// name one, as when a task calls threader.guard.qos_guard.
	FQCN string
	// build names modules/<build>, built on the first Run; otherwise self
	// is this test binary, which gets the args file in $argsEnv (its
	// command line belongs to the testing package).
	build string
}

// Self is this test binary running prog, called by its FQCN
// threader.guard.<prog.Name>. The package's TestMain must call Main.
func Self(prog ansiblemod.Program) Module {
	return Module{FQCN: "threader.guard." + prog.Name}
}

// Built is the real module binary modules/<name>, built once per test
// process (testenv.BuildCLI) when first run, and run as Ansible runs it:
// named AnsiballZ_<name>, given its args file. Runs name no module unless FQCN
// is set or their args name one.
func Built(name string) Module {
	return Module{build: name}
}

// Main is a TestMain for packages that run their module with Self: in the
// child process it runs prog on the args file and exits with its code;
// otherwise it runs the tests.
func Main(m *testing.M, prog ansiblemod.Program) {
	if path := os.Getenv(argsEnv); path != "" {
		os.Exit(ansiblemod.Run(prog.Name, prog.Spec, prog.Handler, []string{"AnsiballZ_" + prog.Name, path}))
	}
	os.Exit(m.Run())
}

// Result is what one module run returned.
type Result struct {
	JSON   map[string]any // the result object
	Code   int            // the exit code: 1 when the task failed
	Stdout string         // the result as printed, to look for secrets in
}

// Run runs the module with args and env (NAME=value entries added to the
// test's environment). A run that prints no JSON object fails the test,
// showing what it printed on stdout and stderr.
func (mod Module) Run(t testing.TB, args map[string]any, env ...string) Result {
	t.Helper()
	if _, named := args["_ansible_module_name"]; mod.FQCN != "" && !named {
		args = maps.Clone(args) // the caller's map stays as it was
		args["_ansible_module_name"] = mod.FQCN
	}
	data, err := json.Marshal(args)
	if err != nil {
		t.Fatalf("module args: %v", err)
	}
	argsFile := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(argsFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if mod.build != "" {
		cmd = exec.Command(testenv.BuildCLI(t, mod.build), argsFile)
		cmd.Args[0] = "AnsiballZ_" + mod.build // as Ansible names its copy: the module, not the CLI
		cmd.Env = append(os.Environ(), env...)
	} else {
		cmd = exec.Command(os.Args[0])
		cmd.Env = append(append(os.Environ(), env...), argsEnv+"="+argsFile)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	res := Result{Code: code, Stdout: string(out)}
	if err := json.Unmarshal(out, &res.JSON); err != nil || res.JSON == nil {
		t.Fatalf("module printed no JSON object (%v): exit %d\nstdout: %s\nstderr: %s", err, code, out, stderr.String())
	}
	return res
}
