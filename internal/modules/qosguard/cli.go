package qosguard

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/metrics/observe"
)

const usage = `usage: qos_guard [flags] lock [minutes] | unlock | status

Guard-window lock for deployments (drop-in for qos_guard.sh).
  lock [minutes]  lock for at least this many minutes (default $QOS_GUARD_WINDOW or 15)
  unlock          remove the lock
  status          exit 0 when unlocked, 1 when locked
Exit codes: 0 ok/unlocked, 1 locked or failed, 2 usage error.
With --metrics-textfile or --pushgateway-url the guard's state is published
as metrics; lock changes are logged to the system log (see docs/metrics.md).

flags:
`

// Exit codes of the old qos_guard.sh.
const (
	exitOK     = 0
	exitLocked = 1
	exitUsage  = 2
)

type cliOptions struct {
	path, reason, owner, name string
	json, force               bool
	wait                      time.Duration
	observe                   observe.Flags
}

func runCLI(args []string) int { return cli(args, os.Stdout, os.Stderr) }

func cli(args []string, stdout, stderr io.Writer) int {
	opts, cmd, rest, err := parseCLI(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", err)
		return exitUsage
	}
	minutes, err := checkCommand(cmd, rest)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	obs, err := startCLIObserving(opts)
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", err)
		return exitUsage
	}
	defer obs.FinishCLI(stderr) // publishing failures are warnings, the exit code stays
	g := &guard.Guard{Path: opts.path}
	switch cmd {
	case "lock":
		ch, err := g.Lock(guard.LockOptions{
			Duration: time.Duration(minutes) * time.Minute,
			Reason:   opts.reason, Owner: opts.owner, Force: opts.force,
		})
		if err == nil {
			observeChange(obs, ch, false, false)
		}
		return report(stdout, stderr, opts, ch.After, ch.Changed, err, exitOK)
	case "unlock":
		ch, err := g.Unlock(false)
		if err == nil {
			observeChange(obs, ch, true, false)
		}
		return report(stdout, stderr, opts, ch.After, ch.Changed, err, exitOK)
	}
	st, err := g.WaitUnlocked(context.Background(), opts.wait, pollEvery)
	code := exitOK
	if err == nil {
		observeStatus(obs, st)
	}
	if st.Locked {
		code = exitLocked
	}
	return report(stdout, stderr, opts, st, false, err, code)
}

// checkCommand checks the command and its arguments before anything runs;
// for lock it returns the minutes.
func checkCommand(cmd string, rest []string) (int, error) {
	switch cmd {
	case "lock":
		return lockMinutes(rest)
	case "unlock", "status":
		if len(rest) > 0 {
			return 0, fmt.Errorf("%s takes no arguments", cmd)
		}
		return 0, nil
	}
	return 0, fmt.Errorf("unknown command %q (want lock, unlock or status)", cmd)
}

// startCLIObserving starts the run's metrics (--metrics-textfile,
// --pushgateway-url) and its system log (unless --no-syslog), named --name.
func startCLIObserving(opts cliOptions) (*observe.Run, error) {
	if err := observe.CheckName("--name", opts.name); err != nil {
		return nil, err
	}
	return observe.Start(opts.observe.Config(moduleName, opts.name))
}

func lockMinutes(rest []string) (int, error) {
	text, from := "15", "default"
	if env, ok := os.LookupEnv("QOS_GUARD_WINDOW"); ok && env != "" {
		text, from = env, "QOS_GUARD_WINDOW"
	}
	switch len(rest) {
	case 0:
	case 1:
		text, from = rest[0], "minutes"
	default:
		return 0, errors.New("lock takes at most one argument: minutes")
	}
	n, err := strconv.Atoi(text)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s must be a whole number of minutes greater than 0, got %q", from, text)
	}
	return n, nil
}

// parseCLI accepts flags before and after the command, as people type them.
func parseCLI(args []string, stderr io.Writer) (cliOptions, string, []string, error) {
	opts := cliOptions{path: guard.DefaultPath, owner: currentUser()}
	if env := os.Getenv("QOS_GUARD_PATH"); env != "" {
		opts.path = env
	}
	fs := flag.NewFlagSet("qos_guard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&opts.path, "path", opts.path, "lock file (absolute; env QOS_GUARD_PATH)")
	fs.StringVar(&opts.reason, "reason", "", "why the guard is locked (lock)")
	fs.StringVar(&opts.owner, "owner", opts.owner, "who locks it (lock)")
	fs.BoolVar(&opts.force, "force", false, "set the expiry exactly, even earlier than the current one (lock)")
	fs.DurationVar(&opts.wait, "wait", 0, "wait up to this long for the guard to unlock, e.g. 5m (status)")
	fs.BoolVar(&opts.json, "json", false, "print the result as JSON")
	fs.StringVar(&opts.name, "name", "", "name of the guard in metrics and log lines (default qos_guard)")
	opts.observe.Register(fs)
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return opts, "", nil, err
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	if len(positional) == 0 {
		fs.Usage()
		return opts, "", nil, errors.New("missing command")
	}
	if opts.wait < 0 {
		return opts, "", nil, fmt.Errorf("--wait must not be negative, got %s", opts.wait)
	}
	return opts, positional[0], positional[1:], nil
}

// currentUser is the remote user: the one who logged in, even under sudo/become.
func currentUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "qos_guard: %s\n%s", msg, "run 'qos_guard -h' for usage\n")
	return exitUsage
}

func report(stdout, stderr io.Writer, opts cliOptions, st guard.Status, changed bool, err error, code int) int {
	if err != nil {
		fmt.Fprintf(stderr, "qos_guard: %v\n", err)
		return exitLocked // fail closed: a guard that cannot be read or written does not let a deployment through
	}
	if st.Warning != "" {
		fmt.Fprintf(stderr, "qos_guard: warning: %s\n", st.Warning)
	}
	if opts.json {
		fields := st.Fields()
		fields["changed"] = changed
		fields["msg"] = st.Message()
		enc := json.NewEncoder(stdout)
		enc.Encode(fields)
	} else {
		fmt.Fprintln(stdout, st.Message())
	}
	return code
}
