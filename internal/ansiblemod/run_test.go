//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package ansiblemod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Run tests re-execute the test binary with scenarioEnv set: TestMain
// then runs the scenario as a module process (Run points fd 1 at stderr for
// good, which the test process itself must not suffer).
const scenarioEnv = "ANSIBLEMOD_TEST_SCENARIO"

var scenarios = map[string]Handler{
	"noisy": func(m *Module) (Result, error) {
		fmt.Println("junk from fmt.Println")
		os.Stdout.Write([]byte("junk from os.Stdout.Write\n"))
		syscall.Write(1, []byte("junk written to fd 1\n"))
		child := exec.Command("sh", "-c", "echo junk from a child on stdout; echo child stderr >&2")
		child.Stdout, child.Stderr = os.NewFile(1, "fd 1"), os.Stderr // the child inherits fd 1 itself
		if err := child.Run(); err != nil {
			return nil, err
		}
		child = exec.Command("sh", "-c", "echo junk from a child given os.Stdout")
		child.Stdout = os.Stdout
		if err := child.Run(); err != nil {
			return nil, err
		}
		m.Warn("careful with %s", m.Str("token"))
		return Result{"changed": true, "token": m.Str("token"), "check": m.CheckMode}, nil
	},
	"fail": func(m *Module) (Result, error) {
		fmt.Println("junk before failing")
		return Result{"changed": true, "rc": 2}, errors.New("step 2 failed for " + m.Str("token"))
	},
	"result-failed": func(*Module) (Result, error) {
		return Result{"failed": true, "msg": "the handler says so"}, nil
	},
	"panic": func(m *Module) (Result, error) {
		fmt.Println("junk before panicking")
		panic("kaboom " + m.Str("token"))
	},
	"nan": func(*Module) (Result, error) {
		return Result{"ratio": math.NaN(), "burn": []any{math.Inf(1)}}, nil
	},
}

func TestMain(m *testing.M) {
	switch name := os.Getenv(scenarioEnv); name {
	case "":
		panicLog = io.Discard // in-process panics are expected; their stacks are noise
		os.Exit(m.Run())
	case "stdin":
		os.Exit(RunStdin(Program{Name: "scenario", Spec: secretSpec, Handler: scenarios["noisy"]}, os.Stdin))
	case "multi":
		cli := func(label string) func([]string) int {
			return func(args []string) int { fmt.Printf("%s cli %q\n", label, args); return 3 }
		}
		MultiMain(
			Program{Name: "qos_guard", Spec: secretSpec, Handler: scenarios["noisy"], CLI: cli("qos_guard")},
			Program{Name: "retry_command", Spec: secretSpec, Handler: scenarios["fail"], CLI: cli("retry_command")},
		)
	default:
		handler, ok := scenarios[name]
		if !ok {
			fmt.Fprintln(os.Stderr, "unknown scenario", name)
			os.Exit(99)
		}
		Main(Program{Name: "scenario", Spec: secretSpec, Handler: handler,
			CLI: func(args []string) int { fmt.Printf("cli %q\n", args); return 7 }})
	}
}

type process struct {
	stdout, stderr string
	code           int
}

// runScenario starts the test binary as argv0 with args, running scenario.
func runScenario(t *testing.T, scenario, argv0 string, args ...string) process {
	t.Helper()
	return runScenarioWithStdin(t, "", scenario, argv0, args...)
}

func runScenarioWithStdin(t *testing.T, stdin, scenario, argv0 string, args ...string) process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = argv0
	cmd.Env = append(os.Environ(), scenarioEnv+"="+scenario)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running scenario %s: %v", scenario, err)
	}
	return process{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

func argsFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "args")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// oneObject asserts stdout is exactly one JSON object (and a newline) and
// returns it.
func oneObject(t *testing.T, p process) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(p.stdout))
	var res map[string]any
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\nstdout: %q\nstderr: %s", err, p.stdout, p.stderr)
	}
	if rest := p.stdout[dec.InputOffset():]; rest != "\n" {
		t.Fatalf("stdout holds more than one JSON object; after it: %q", rest)
	}
	return res
}

func TestRunKeepsStdoutToOneObject(t *testing.T) {
	p := runScenario(t, "noisy", "/tmp/ansible-tmp-1/AnsiballZ_scenario", argsFile(t, `{"token": "`+secret+`", "_ansible_check_mode": true}`))
	res := oneObject(t, p)
	want := map[string]any{
		"changed": true, "failed": false, "token": placeholder, "check": true,
		"warnings":   []any{"careful with " + stars},
		"invocation": map[string]any{"module_args": map[string]any{"token": placeholder, "pin": nil, "flag": nil, "name": nil, "minutes": 15.0}},
	}
	if diff := cmp.Diff(want, res); diff != "" || p.code != 0 {
		t.Errorf("exit %d, result (-want +got):\n%s", p.code, diff)
	}
	for _, junk := range []string{"junk from fmt.Println", "junk from os.Stdout.Write", "junk written to fd 1",
		"junk from a child on stdout", "child stderr", "junk from a child given os.Stdout"} {
		if !strings.Contains(p.stderr, junk) {
			t.Errorf("stderr lacks %q; stderr: %s", junk, p.stderr)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	for _, c := range []struct {
		scenario, args string
		code           int
		want           map[string]any // fields checked
	}{
		{"fail", `{"token": "` + secret + `"}`, 1,
			map[string]any{"failed": true, "changed": true, "rc": 2.0, "msg": "step 2 failed for " + stars}},
		{"result-failed", `{}`, 1, map[string]any{"failed": true, "msg": "the handler says so"}},
		{"fail", `{"minutes": "soon"}`, 1, map[string]any{"failed": true, "changed": false,
			"msg": "argument 'minutes' is of type <class 'str'> and we were unable to convert to int: <class 'str'> cannot be converted to an int"}},
		{"noisy", `{}`, 0, map[string]any{"failed": false, "changed": true}},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			p := runScenario(t, c.scenario, "AnsiballZ_scenario", argsFile(t, c.args))
			res := oneObject(t, p)
			if p.code != c.code {
				t.Errorf("exit code %d, want %d", p.code, c.code)
			}
			for k, v := range c.want {
				if !cmp.Equal(res[k], v) {
					t.Errorf("%s = %#v, want %#v", k, res[k], v)
				}
			}
		})
	}
}

func TestRunPanic(t *testing.T) {
	p := runScenario(t, "panic", "AnsiballZ_scenario", argsFile(t, `{"token": "`+secret+`", "_ansible_module_name": "threader.guard.scenario"}`))
	res := oneObject(t, p)
	wantMsg := "internal error in module threader.guard.scenario: kaboom " + stars + " (this is a bug; please report it)"
	if res["failed"] != true || res["msg"] != wantMsg || p.code != 1 {
		t.Errorf("exit %d, result %v", p.code, res)
	}
	if strings.Contains(p.stdout, "goroutine") || strings.Contains(p.stdout, ".go:") {
		t.Errorf("a stack trace reached stdout: %s", p.stdout)
	}
	if !strings.Contains(p.stderr, "goroutine") || !strings.Contains(p.stderr, "kaboom "+stars) {
		t.Errorf("stderr should hold the masked panic and its stack; stderr: %s", p.stderr)
	}
	if strings.Contains(p.stdout+p.stderr, secret) {
		t.Error("the secret leaked")
	}
}

func TestRunNonFiniteFloats(t *testing.T) {
	p := runScenario(t, "nan", "AnsiballZ_scenario", argsFile(t, `{}`))
	res := oneObject(t, p)
	if res["ratio"] != "NaN" || !cmp.Equal(res["burn"], []any{"Infinity"}) || p.code != 0 {
		t.Errorf("exit %d, result %v", p.code, res)
	}
}

func TestRunArgsProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "No argument file provided"},
		{[]string{missing}, "cannot read the module arguments: open " + missing + ": no such file or directory"},
	} {
		p := runScenario(t, "noisy", "AnsiballZ_scenario", c.args...)
		res := oneObject(t, p)
		if diff := cmp.Diff(map[string]any{"changed": false, "failed": true, "msg": c.msg}, res); diff != "" || p.code != 1 {
			t.Errorf("args %q: exit %d, result (-want +got):\n%s", c.args, p.code, diff)
		}
	}
}

func TestMainChoosesModuleOrCLI(t *testing.T) {
	args := argsFile(t, `{"name": "x"}`)
	// Run by Ansible: the AnsiballZ_ copy, given its args file.
	for _, argv0 := range []string{"AnsiballZ_scenario", "/tmp/ansible-tmp-1/AnsiballZ_scenario"} {
		p := runScenario(t, "noisy", argv0, args)
		if res := oneObject(t, p); res["changed"] != true || p.code != 0 {
			t.Errorf("%s: exit %d, result %v", argv0, p.code, res)
		}
	}
	// Run by a person: the CLI, even given a JSON file, and even where the
	// working directory holds JSON files named like its words (issue 10,
	// item 2: `qos_guard status` beside a file "status" was a module run).
	t.Chdir(filepath.Dir(args))
	for _, word := range []string{"status", "lock"} {
		if err := os.WriteFile(word, []byte(`{}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, cli := range [][]string{{"--help"}, {"status"}, {"lock"}, {args}, {args, "extra"}, {}} {
		p := runScenario(t, "noisy", "scenario", cli...)
		want := fmt.Sprintf("cli %q\n", cli)
		if len(cli) == 0 {
			want = "cli []\n"
		}
		if p.stdout != want || p.code != 7 {
			t.Errorf("%q: exit %d, stdout %q, want %q", cli, p.code, p.stdout, want)
		}
	}
}

func TestMultiMain(t *testing.T) {
	args := argsFile(t, `{"token": "`+secret+`"}`)
	p := runScenario(t, "multi", "/tmp/x/AnsiballZ_qos_guard", args)
	if res := oneObject(t, p); res["token"] != placeholder || p.code != 0 {
		t.Errorf("AnsiballZ_qos_guard: exit %d, result %v", p.code, res)
	}
	// An args file named as an argument is the CLI's: only Ansible's
	// AnsiballZ_ copy and the stdin flag run a module.
	args = argsFile(t, `{}`)
	p = runScenario(t, "multi", "threader-guard", "retry_command", args)
	if p.stdout != fmt.Sprintf("retry_command cli [%q]\n", args) || p.code != 3 {
		t.Errorf("threader-guard retry_command ARGS: exit %d, stdout %q", p.code, p.stdout)
	}
	t.Chdir(filepath.Dir(args))
	if err := os.WriteFile("status", []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	p = runScenario(t, "multi", "qos_guard", "status")
	if p.stdout != "qos_guard cli [\"status\"]\n" || p.code != 3 {
		t.Errorf("qos_guard status beside a JSON file ./status: exit %d, stdout %q", p.code, p.stdout)
	}
	p = runScenario(t, "multi", "qos_guard", "status", "--json")
	if p.stdout != "qos_guard cli [\"status\" \"--json\"]\n" || p.code != 3 {
		t.Errorf("qos_guard status: exit %d, stdout %q", p.code, p.stdout)
	}
	p = runScenario(t, "multi", "threader-guard", "qos_guard", "status")
	if p.stdout != "qos_guard cli [\"status\"]\n" || p.code != 3 {
		t.Errorf("threader-guard qos_guard status: exit %d, stdout %q", p.code, p.stdout)
	}
	p = runScenario(t, "multi", "threader-guard", "nope")
	if p.code != 2 || !strings.Contains(p.stderr, "programs: qos_guard, retry_command") {
		t.Errorf("unknown program: exit %d, stderr %q", p.code, p.stderr)
	}
}

func TestRunStdin(t *testing.T) {
	p := runScenarioWithStdin(t, `{"token": "`+secret+`", "_ansible_module_name": "threader.guard.qos_guard"}`, "stdin", "threader-guard")
	res := oneObject(t, p)
	if res["changed"] != true || res["token"] != placeholder || p.code != 0 {
		t.Errorf("exit %d, result %v", p.code, res)
	}
	if !strings.Contains(p.stderr, "junk from a child on stdout") {
		t.Errorf("stdout is not guarded under RunStdin; stderr: %s", p.stderr)
	}
	for _, bad := range []string{"", "state=locked", "null", "[1]", `{"a": 1`} {
		p := runScenarioWithStdin(t, bad, "stdin", "threader-guard")
		want := map[string]any{"changed": false, "failed": true, "msg": "the module arguments on stdin are not a JSON object"}
		if diff := cmp.Diff(want, oneObject(t, p)); diff != "" || p.code != 1 {
			t.Errorf("stdin %q: exit %d, result (-want +got):\n%s", bad, p.code, diff)
		}
	}
}

func TestIsStdinInvocation(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"threader-guard", "qos_guard", StdinArgsFlag}, true},
		{[]string{"threader-guard", "qos_guard"}, false},
		{[]string{"threader-guard", "qos_guard", StdinArgsFlag, "x"}, false},
		{[]string{"threader-guard", StdinArgsFlag, "qos_guard"}, false},
		{nil, false},
	} {
		if got := IsStdinInvocation(c.args); got != c.want {
			t.Errorf("IsStdinInvocation(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
