// Package retrycommand is the threader.guard.retry_command Ansible module and
// the retry_command CLI (a drop-in for retry_backoff.sh): thin front ends over
// internal/runner and internal/backoff. modules/retry_command builds it as a
// program of its own; the multi-call binary links it with the other modules.
package retrycommand

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/runner"
	"github.com/threader/guard/internal/seconds"
)

// spec adds metrics_textfile and pushgateway_url (observe.WithOptions); name
// is the `name` label of the metrics and name= of the log lines; rollback
// marks the command as a rollback, whose outcome is published too.
var spec = ansiblemod.Spec{
	Options: observe.WithOptions(map[string]ansiblemod.Option{
		"argv":               {Type: ansiblemod.List, Elements: ansiblemod.Str},
		"cmd":                {Type: ansiblemod.Str},
		"shell":              {Type: ansiblemod.Bool, Default: false},
		"attempts":           {Type: ansiblemod.Int, Default: 3},
		"base_seconds":       {Type: ansiblemod.Float, Default: 5.0},
		"factor":             {Type: ansiblemod.Float, Default: 2.0},
		"max_delay_seconds":  {Type: ansiblemod.Float},
		"jitter":             {Type: ansiblemod.Str, Default: "none", Choices: []any{"none", "full", "equal"}},
		"timeout_seconds":    {Type: ansiblemod.Float},
		"kill_grace_seconds": {Type: ansiblemod.Float, Default: 5.0},
		"deadline_seconds":   {Type: ansiblemod.Float},
		"retry_on_rc":        {Type: ansiblemod.List, Elements: ansiblemod.Int},
		"retry_on_output":    {Type: ansiblemod.Str},
		"chdir":              {Type: ansiblemod.Path},
		"env":                {Type: ansiblemod.Dict, NoLogValues: true}, // tokens are passed this way
		"stdin":              {Type: ansiblemod.Str},
		"creates":            {Type: ansiblemod.Path},
		"removes":            {Type: ansiblemod.Path},
		"name":               {Type: ansiblemod.Str},
		"rollback":           {Type: ansiblemod.Bool, Default: false},
		"retry_policies": {Type: ansiblemod.List, Elements: ansiblemod.Dict, Options: map[string]ansiblemod.Option{
			"name":              {Type: ansiblemod.Str, Required: true},
			"match_output":      {Type: ansiblemod.Str},
			"match_rc":          {Type: ansiblemod.List, Elements: ansiblemod.Int},
			"action":            {Type: ansiblemod.Str, Default: "retry", Choices: []any{"retry", "stop"}},
			"attempts":          {Type: ansiblemod.Int},
			"base_seconds":      {Type: ansiblemod.Float},
			"factor":            {Type: ansiblemod.Float},
			"max_delay_seconds": {Type: ansiblemod.Float},
			"jitter":            {Type: ansiblemod.Str, Choices: []any{"none", "full", "equal"}},
		}},
		"honor_retry_after": {Type: ansiblemod.Bool, Default: false},
	}),
	MutuallyExclusive: [][]string{{"argv", "cmd"}},
	RequiredOneOf:     [][]string{{"argv", "cmd"}},
	RequiredIf:        []ansiblemod.RequiredIf{{Key: "shell", Value: true, Requirements: []string{"cmd"}}},
	SupportsCheckMode: true,
}

// Module is retry_command as the dispatcher runs it.
var Module = ansiblemod.Program{Name: moduleName, LegacyNames: []string{"retry_backoff.sh"}, Spec: spec, Handler: runModule, CLI: runCLI}

// moduleOutputLimit is how much of the end of stdout and of stderr the module
// returns; Ansible keeps whole results in memory and in logs.
const moduleOutputLimit = runner.DefaultOutputLimit

func runModule(m *ansiblemod.Module) (ansiblemod.Result, error) {
	job, err := moduleJob(m)
	if err != nil {
		return nil, err
	}
	obs, err := observe.Begin(m) // checks name, metrics_textfile, pushgateway_url
	if err != nil {
		return nil, err
	}
	defer obs.FinishModule(m) // publishes unless in check mode; a failure is a warning
	if skip, why := creationGuard(m); skip {
		return ansiblemod.Result{"changed": false, "rc": 0, "stdout": "skipped, since " + why, "stderr": "",
			"msg": "Did not run command since " + why, "cmd": job.Command.Argv, "attempts": 0, "history": []any{}}, nil
	}
	if m.CheckMode {
		res := ansiblemod.Result{"rc": 0, "msg": "Command would have run if not in check mode",
			"cmd": job.Command.Argv, "attempts": 0, "history": []any{}}
		// As ansible.builtin.command: with creates/removes the check is
		// meaningful, so "changed" predicts the run; otherwise it is skipped.
		if m.IsSet("creates") || m.IsSet("removes") {
			res["changed"] = true
		} else {
			res["changed"], res["skipped"] = false, true
		}
		return res, nil
	}

	// Ansible's task timeout or a killed ansible-playbook stops the module
	// with a signal: pass it on to the command's process group.
	ctx, stop := interrupt.Context(context.Background())
	defer stop()
	runner.BecomeSubreaper() // without it, orphans nobody saw stay out of reach (runner/tree.go)
	logAttempts(&job, obs.Log)
	rep, err := job.Run(ctx)
	if err != nil {
		return nil, err
	}
	observeRun(obs, job, rep, m.Bool("rollback"))
	for _, a := range rep.History {
		if note := leftoversNote(a); note != "" {
			m.Warn("%s", note)
		}
	}
	res := moduleResult(job, rep)
	if !rep.Succeeded() {
		return res, fmt.Errorf("%s", rep.Message())
	}
	return res, nil
}

// moduleJob turns the options into a runner.Retry, checking the ranges the
// spec cannot express.
func moduleJob(m *ansiblemod.Module) (runner.Retry, error) {
	argv, err := commandArgv(m)
	if err != nil {
		return runner.Retry{}, err
	}
	attempts := m.Int("attempts")
	if attempts < 1 {
		return runner.Retry{}, fmt.Errorf("value of attempts must be 1 or greater, got: %d", attempts)
	}
	num := numbers{m: m}
	job := runner.Retry{
		Command: runner.Command{
			Argv:        argv,
			Dir:         m.Str("chdir"),
			Stdin:       m.Str("stdin"),
			Timeout:     num.seconds("timeout_seconds"),
			KillGrace:   num.seconds("kill_grace_seconds"),
			OutputLimit: moduleOutputLimit,
		},
		Attempts: attempts,
		Schedule: backoff.Schedule{
			Base:     num.seconds("base_seconds"),
			Factor:   num.factor(),
			MaxDelay: num.seconds("max_delay_seconds"),
			Jitter:   backoff.Jitter(m.Str("jitter")),
		},
		Deadline:  num.seconds("deadline_seconds"),
		RetryOnRC: m.Ints("retry_on_rc"),
	}
	if num.err != nil {
		return runner.Retry{}, num.err
	}
	if m.IsSet("max_delay_seconds") && m.Float("max_delay_seconds") == 0 {
		job.Schedule.Base = 0 // a cap of 0 means: retry at once
	}
	if m.IsSet("retry_on_output") {
		re, err := regexp.Compile(m.Str("retry_on_output"))
		if err != nil {
			return runner.Retry{}, fmt.Errorf("value of retry_on_output is not a valid regular expression (Go RE2 syntax): %v", err)
		}
		job.RetryOnOutput = re
	}
	job.HonorRetryAfter = m.Bool("honor_retry_after")
	if job.Policies, err = buildPolicies(moduleSpecs(m.List("retry_policies")), job); err != nil {
		return runner.Retry{}, policyError("retry_policies", err)
	}
	if env := m.Dict("env"); len(env) > 0 {
		job.Command.Env = map[string]string{}
		for k, v := range env {
			s, err := ansiblemod.Convert(ansiblemod.Str, v)
			if err != nil {
				return runner.Retry{}, fmt.Errorf("value of env[%s]: %v", k, err)
			}
			if strings.IndexByte(s.(string), 0) >= 0 {
				return runner.Retry{}, fmt.Errorf("value of env[%s] must not contain a NUL byte", k)
			}
			job.Command.Env[k] = s.(string)
		}
	}
	return job, job.Validate()
}

// commandArgv returns the argv to run: argv as given, cmd split like a shell
// would (without one), or /bin/sh -c cmd with shell=true.
func commandArgv(m *ansiblemod.Module) ([]string, error) {
	argv, err := splitArgv(m)
	if err != nil {
		return nil, err
	}
	option := "cmd"
	if m.IsSet("argv") {
		option = "argv"
	}
	for i, word := range argv {
		if strings.IndexByte(word, 0) >= 0 { // exec would fail with a bare "invalid argument"
			return nil, fmt.Errorf("value of %s must not contain a NUL byte (word %d)", option, i+1)
		}
	}
	return argv, nil
}

func splitArgv(m *ansiblemod.Module) ([]string, error) {
	if m.IsSet("argv") {
		if m.Bool("shell") {
			return nil, fmt.Errorf("shell=true runs cmd with /bin/sh -c; use cmd instead of argv")
		}
		argv := m.Strings("argv")
		if len(argv) == 0 || argv[0] == "" {
			return nil, fmt.Errorf("value of argv must not be empty")
		}
		return argv, nil
	}
	line := m.Str("cmd")
	if m.Bool("shell") {
		if line == "" {
			return nil, fmt.Errorf("value of cmd must not be empty")
		}
		return []string{"/bin/sh", "-c", line}, nil
	}
	argv, err := runner.SplitCommand(line)
	if err != nil {
		return nil, fmt.Errorf("cannot split cmd into arguments: %v", err)
	}
	return argv, nil
}

// numbers reads float options as durations, keeping the first range error.
type numbers struct {
	m   *ansiblemod.Module
	err error
}

// seconds converts a float option of seconds (internal/seconds' rules);
// an unset option gives 0. What 0 means is the option's own (no limit, no
// wait, SIGKILL at once).
func (n *numbers) seconds(name string) time.Duration {
	if !n.m.IsSet(name) || n.err != nil {
		return 0
	}
	d, err := seconds.Duration(name, n.m.Float(name))
	if err != nil {
		n.err = fmt.Errorf("value of %w", err)
	}
	return d
}

func (n *numbers) factor() float64 {
	f := n.m.Float("factor")
	if n.err == nil && (!(f >= 1) || math.IsInf(f, 0)) {
		n.err = fmt.Errorf("value of factor must be a finite number, 1 or greater, got: %v", f)
	}
	return f
}

// creationGuard applies creates/removes as ansible.builtin.command does:
// relative paths are taken from chdir, creates may be a glob.
func creationGuard(m *ansiblemod.Module) (skip bool, why string) {
	resolve := func(p string) string {
		if !filepath.IsAbs(p) && m.Str("chdir") != "" {
			return filepath.Join(m.Str("chdir"), p)
		}
		return p
	}
	if m.IsSet("creates") {
		p := resolve(m.Str("creates"))
		if matches, _ := filepath.Glob(p); len(matches) > 0 {
			return true, fmt.Sprintf("%s exists", p)
		}
	}
	if m.IsSet("removes") {
		p := resolve(m.Str("removes"))
		if matches, _ := filepath.Glob(p); len(matches) == 0 {
			return true, fmt.Sprintf("%s does not exist", p)
		}
	}
	return false, ""
}

// moduleResult is the module's return value, as documented in
// plugins/modules/retry_command.yml. Trailing newlines of stdout and stderr
// are dropped, as ansible.builtin.command does.
func moduleResult(job runner.Retry, rep runner.Report) ansiblemod.Result {
	history := make([]map[string]any, 0, len(rep.History))
	for _, a := range rep.History {
		var sig any
		if a.Signal != "" {
			sig = a.Signal
		}
		var policy, hint any
		if a.Policy != "" {
			policy = a.Policy
		}
		if a.HasHint {
			hint = roundSeconds(a.Hint)
		}
		history = append(history, map[string]any{
			"attempt":          a.Number,
			"rc":               a.RC,
			"duration_seconds": roundSeconds(a.Duration),
			"delay_seconds":    roundSeconds(a.Delay),
			"timed_out":        a.TimedOut,
			"signal":           sig,
			"policy":           policy,
			"hint_seconds":     hint,
		})
	}
	res := ansiblemod.Result{
		"changed":       len(rep.History) > 0,
		"rc":            rep.Last.RC,
		"stdout":        strings.TrimRight(rep.Last.Stdout, "\r\n"),
		"stderr":        strings.TrimRight(rep.Last.Stderr, "\r\n"),
		"truncated":     rep.Last.StdoutTruncated || rep.Last.StderrTruncated,
		"attempts":      len(rep.History),
		"history":       history,
		"total_seconds": roundSeconds(rep.Total),
		"cmd":           job.Command.Argv,
		"stop_reason":   string(rep.Stop),
	}
	if rep.Succeeded() {
		res["msg"] = rep.Message()
	}
	return res
}

// roundSeconds gives seconds with millisecond precision, as a float.
func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond).Milliseconds()) / 1000
}
