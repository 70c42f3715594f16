package retrycommand

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/interrupt"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/runner"
	"github.com/threader/guard/internal/seconds"
)

const usage = `usage: retry_command [flags] [max_attempts [base_seconds]] -- command [args...]

Runs a command until it succeeds, waiting base_seconds * factor^(n-1) after
failed attempt n (drop-in for retry_backoff.sh). The command runs directly,
without a shell; use: -- sh -c '...' for shell syntax.
  max_attempts   total attempts (default $MAX_RETRY_ATTEMPTS or 3)
  base_seconds   delay after the first failure (default $BASE_RETRY_DELAY or 5)
Times are seconds (0.5) or Go durations (1m30s).
Exit codes: 0 success, 1 the command failed (after the last attempt, or a
failure that is not retried), 2 usage error, 128+N interrupted by signal N.
With --metrics-textfile or --pushgateway-url the run is published as
metrics; every attempt is logged to the system log (see docs/metrics.md).
--rollback marks the command as a rollback: its outcome is also published
as the rollback metrics the ThreaderGuardRollbackFailed alert watches.

flags:
`

// Exit codes of the old retry_backoff.sh, plus usage errors and signals.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Defaults of retry_backoff.sh.
const (
	defaultAttempts = 3
	defaultBase     = 5 * time.Second
)

func runCLI(args []string) int {
	runner.BecomeSubreaper() // without it, orphans nobody saw stay out of reach (runner/tree.go)
	ctx, stop := interrupt.Context(context.Background())
	defer stop()
	return cli(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// cli runs the command line; stdin, stdout and stderr are handed to the
// child directly when they are files, so it sees the terminal.
func cli(ctx context.Context, args []string, stdin *os.File, stdout, stderr io.Writer) int {
	job, cf, err := parseCLI(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil {
		err = observe.CheckName("--name", cf.name)
	}
	if err != nil {
		fmt.Fprintf(stderr, "retry_command: %v\nrun 'retry_command -h' for usage\n", err)
		return exitUsage
	}
	obs, err := observe.Start(cf.observe.Config(moduleName, cf.name))
	if err != nil {
		fmt.Fprintf(stderr, "retry_command: %v\nrun 'retry_command -h' for usage\n", err)
		return exitUsage
	}
	defer obs.FinishCLI(stderr) // publishing failures are warnings, the exit code stays
	job.Command.Stdout, job.Command.Stderr = stdout, stderr
	// When nothing reads the output (retry_on_output, policies, hints): the child writes to
	// our stdout and stderr itself, as under retry_backoff.sh.
	job.Command.Passthrough = !job.NeedsOutput()
	job.Command.StdinFile = childStdin(stdin)
	prefix := "retry_command: "
	if cf.name != "" {
		prefix = "retry_command[" + cf.name + "]: "
	}
	job.OnAttempt = func(a runner.Attempt) {
		if note := leftoversNote(a); note != "" {
			fmt.Fprintln(stderr, prefix+note)
		}
		if line := attemptLine(a, job.Attempts); line != "" {
			fmt.Fprintln(stderr, prefix+line)
		}
	}
	logAttempts(&job, obs.Log)

	rep, err := job.Run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "retry_command: %v\n", err)
		return exitUsage
	}
	observeRun(obs, job, rep, cf.rollback)
	// An interrupted run reports the signal even when the command exited 0
	// on it: whoever sent the signal asked the whole run to stop.
	if ctx.Err() != nil {
		return interrupt.ExitCode(ctx, 128+int(syscall.SIGTERM)) // what was forwarded
	}
	if rep.Succeeded() {
		return exitOK
	}
	return exitFailed
}

// attemptLine is the stderr log line for one attempt, e.g.
// "attempt 2/3 failed (rc=1); retrying in 10s". A first-time success is quiet.
func attemptLine(a runner.Attempt, max int) string {
	head := fmt.Sprintf("attempt %d/%d", a.Number, max)
	switch {
	case a.Err != nil:
		return fmt.Sprintf("%s could not start: %v", head, a.Err)
	case a.Interrupted || a.Stop == backoff.StopCanceled:
		return fmt.Sprintf("%s interrupted (%s); no further attempts", head, runner.Describe(a))
	case a.Stop == backoff.StopSucceeded:
		if a.Number == 1 {
			return ""
		}
		return head + " succeeded"
	case a.Retry:
		return fmt.Sprintf("%s failed (%s); retrying in %s%s", head, runner.Describe(a), runner.Seconds(a.NextDelay), decidedBy(a))
	case a.Stop == backoff.StopNotRetryable:
		return fmt.Sprintf("%s failed (%s); not retrying: %s", head, runner.Describe(a), a.Why)
	case a.Stop == backoff.StopDeadline:
		return fmt.Sprintf("%s failed (%s); giving up: the next delay of %s%s would pass the deadline", head, runner.Describe(a), runner.Seconds(a.NextDelay), decidedBy(a))
	}
	if name, ok := a.Stop.Rule(); ok {
		return fmt.Sprintf("%s failed (%s); not retrying: retry policy %s says stop", head, runner.Describe(a), name)
	}
	return fmt.Sprintf("%s failed (%s); giving up%s", head, runner.Describe(a), decidedBy(a))
}

// decidedBy names the policy and the retry-after hint behind a delay:
// " (policy rate-limited, Retry-After 30s)".
func decidedBy(a runner.Attempt) string {
	var parts []string
	if a.Policy != "" {
		parts = append(parts, "policy "+a.Policy)
	}
	if a.HasHint {
		parts = append(parts, "Retry-After "+runner.Seconds(a.Hint))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// leftoversNote says that an attempt left processes running, which were
// stopped: someone who started a daemon with "cmd &" learns why it is gone.
func leftoversNote(a runner.Attempt) string {
	if a.Leftovers == 0 {
		return ""
	}
	return fmt.Sprintf("attempt %d left %d %s running when it exited; %s stopped (nothing the command starts outlives retry_command)",
		a.Number, a.Leftovers, plural(a.Leftovers, "process", "processes"), plural(a.Leftovers, "it was", "they were"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// childStdin passes our stdin through to the command, as the old script did,
// except a terminal: the command runs in its own process group, and reading
// the terminal from there would stop it (SIGTTIN).
func childStdin(f *os.File) *os.File {
	if f == nil {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice != 0 {
		return nil // a terminal, or /dev/null, which is what nil means anyway
	}
	return f
}

// cliFlags are the values flags set before the job is built.
type cliFlags struct {
	factor                                 float64
	maxDelay, timeout, killGrace, deadline seconds.Flag
	jitter, retryOnOutput, name            string
	rollback, honorRetryAfter              bool
	retryOnRC                              rcList
	policies                               policyFlags
	policiesFile                           string
	observe                                observe.Flags
}

func parseCLI(args []string, stderr io.Writer) (runner.Retry, cliFlags, error) {
	f := cliFlags{factor: backoff.DefaultFactor, killGrace: seconds.Flag(runner.DefaultKillGrace), jitter: "none"}
	fs := flag.NewFlagSet("retry_command", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.Float64Var(&f.factor, "factor", f.factor, "growth of the delay after each failure (>= 1)")
	fs.Var(&f.maxDelay, "max-delay", "cap on every delay, jitter included (default none)")
	fs.StringVar(&f.jitter, "jitter", f.jitter, "none, full or equal (AWS formulas)")
	fs.Var(&f.timeout, "timeout", "per-attempt timeout: SIGTERM to the command's process group, then SIGKILL (default none)")
	fs.Var(&f.killGrace, "kill-grace", "time between SIGTERM and SIGKILL")
	fs.Var(&f.deadline, "deadline", "budget for the whole run: no attempt or delay starts that would pass it (default none)")
	fs.Var(&f.retryOnRC, "retry-on-rc", "retry only these exit codes (repeat the flag or give a comma list)")
	fs.StringVar(&f.retryOnOutput, "retry-on-output", "", "retry only when stdout or stderr matches this regular expression (Go RE2)")
	fs.StringVar(&f.name, "name", "", "name of this step in log lines and metrics (default retry_command)")
	fs.BoolVar(&f.rollback, "rollback", false, "the command is a rollback: also publish its outcome as rollback metrics and log a rollback line")
	fs.BoolVar(&f.honorRetryAfter, "honor-retry-after", false, "a 'Retry-After: N' or 'retry after N seconds' hint in a failed attempt's output sets the next delay (capped by --max-delay; never past --deadline)")
	fs.Var(&f.policies, "policy", "retry policy NAME:REGEX:ACTION[:attempts[:base[:factor]]] (repeatable; the first that matches a failure's output decides; ACTION retry or stop)")
	fs.StringVar(&f.policiesFile, "policies-file", "", "YAML list of retry policies, with the keys of the module's retry_policies (checked after the --policy flags)")
	f.observe.Register(fs)

	positional, command, err := splitArgs(fs, args)
	if err != nil {
		return runner.Retry{}, f, err
	}
	if len(command) == 0 {
		fs.Usage()
		return runner.Retry{}, f, errors.New("no command given (put it after --)")
	}
	attempts, base, err := attemptsAndBase(positional)
	if err != nil {
		return runner.Retry{}, f, err
	}
	jitter, err := backoff.ParseJitter(f.jitter)
	if err != nil {
		return runner.Retry{}, f, fmt.Errorf("--jitter: %v", err)
	}
	job := runner.Retry{
		Command: runner.Command{
			Argv:      command,
			Timeout:   time.Duration(f.timeout),
			KillGrace: time.Duration(f.killGrace),
		},
		Attempts:  attempts,
		Schedule:  backoff.Schedule{Base: base, Factor: f.factor, MaxDelay: time.Duration(f.maxDelay), Jitter: jitter},
		Deadline:  time.Duration(f.deadline),
		RetryOnRC: f.retryOnRC,
	}
	if !(f.factor >= 1) {
		return runner.Retry{}, f, fmt.Errorf("--factor must be 1 or greater, got %v", f.factor)
	}
	if f.retryOnOutput != "" {
		re, err := regexp.Compile(f.retryOnOutput)
		if err != nil {
			return runner.Retry{}, f, fmt.Errorf("--retry-on-output: %v", err)
		}
		job.RetryOnOutput = re
	}
	job.HonorRetryAfter = f.honorRetryAfter
	if job.Policies, err = cliPolicies(f, job); err != nil {
		return runner.Retry{}, f, err
	}
	return job, f, job.Validate()
}

// cliPolicies builds the --policy flags' policies, then the policies file's.
func cliPolicies(f cliFlags, job runner.Retry) ([]backoff.Rule, error) {
	specs := []policySpec(f.policies)
	if f.policiesFile != "" {
		fromFile, err := readPoliciesFile(f.policiesFile)
		if err != nil {
			return nil, fmt.Errorf("--policies-file %s: %v", f.policiesFile, err)
		}
		specs = append(specs, fromFile...)
	}
	rules, err := buildPolicies(specs, job)
	var re *backoff.RuleError
	if errors.As(err, &re) && re.Index >= len(f.policies) {
		re.Index -= len(f.policies)
		return nil, policyError("--policies-file "+f.policiesFile, re)
	}
	return rules, policyError("--policy", err)
}

// policyFlags collects --policy values.
type policyFlags []policySpec

func (l *policyFlags) String() string { return fmt.Sprintf("%d policies", len(*l)) }

func (l *policyFlags) Set(v string) error {
	s, err := policyFlag(v)
	if err != nil {
		return err
	}
	*l = append(*l, s)
	return nil
}

// splitArgs parses flags anywhere before the command and returns the
// positionals (at most two numbers) and the command. The command starts after
// "--", or, without one, at the first argument that is neither a flag nor one
// of the two leading numbers.
func splitArgs(fs *flag.FlagSet, args []string) (positional, command []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return positional, rest, nil
		}
		if len(rest) == 0 {
			return positional, nil, nil
		}
		if _, err := strconv.ParseFloat(rest[0], 64); err != nil || len(positional) == 2 {
			return positional, rest, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// attemptsAndBase reads the positionals, falling back to the environment
// variables of retry_backoff.sh, then to its defaults.
func attemptsAndBase(positional []string) (int, time.Duration, error) {
	attemptsText, attemptsFrom := "", "max_attempts"
	baseText, baseFrom := "", "base_seconds"
	if len(positional) > 0 {
		attemptsText = positional[0]
	} else if env := os.Getenv("MAX_RETRY_ATTEMPTS"); env != "" {
		attemptsText, attemptsFrom = env, "MAX_RETRY_ATTEMPTS"
	}
	if len(positional) > 1 {
		baseText = positional[1]
	} else if env := os.Getenv("BASE_RETRY_DELAY"); env != "" {
		baseText, baseFrom = env, "BASE_RETRY_DELAY"
	}
	attempts, base := defaultAttempts, defaultBase
	if attemptsText != "" {
		n, err := strconv.Atoi(strings.TrimSpace(attemptsText))
		if err != nil || n < 1 {
			return 0, 0, fmt.Errorf("%s must be a whole number, 1 or greater, got %q", attemptsFrom, attemptsText)
		}
		attempts = n
	}
	if baseText != "" {
		d, err := seconds.Parse(baseFrom, baseText)
		if err != nil {
			return 0, 0, err
		}
		base = d
	}
	return attempts, base, nil
}

// rcList collects --retry-on-rc values: repeated flags and comma lists.
type rcList []int

func (l *rcList) String() string {
	parts := make([]string, len(*l))
	for i, rc := range *l {
		parts[i] = strconv.Itoa(rc)
	}
	return strings.Join(parts, ",")
}

func (l *rcList) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		rc, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return fmt.Errorf("want exit codes such as 1,75, got %q", part)
		}
		*l = append(*l, rc)
	}
	return nil
}
