package retrycommand

import (
	"errors"
	"fmt"
	"time"

	"github.com/threader/guard/internal/backoff"
	"github.com/threader/guard/internal/logging"
	"github.com/threader/guard/internal/metrics"
	"github.com/threader/guard/internal/metrics/observe"
	"github.com/threader/guard/internal/runner"
)

// moduleName is the module's short name: the Pushgateway job, the syslog
// identifier (ansible-retry_command) and module= in log lines, and the
// default `name` label (docs/metrics.md).
const moduleName = "retry_command"

// logAttempts makes job log each attempt as it finishes, after calling the
// OnAttempt it already has (the CLI's stderr lines).
func logAttempts(job *runner.Retry, log *logging.Logger) {
	before := job.OnAttempt
	max := job.Attempts
	job.OnAttempt = func(a runner.Attempt) {
		if before != nil {
			before(a)
		}
		log.RetryAttempt(logging.RetryAttempt{
			Attempt: a.Number, MaxAttempts: max, ExitCode: exitCode(a), Took: a.Duration,
			Succeeded: a.Stop == backoff.StopSucceeded, Retry: a.Retry, NextDelay: a.NextDelay,
			Stop: string(a.Stop), Err: attemptError(a),
		})
	}
}

// observeRun records the finished run and logs its outcome. A rollback
// (the rollback option) is also recorded and logged as one, with the run's
// outcome and its whole time, attempts and delays included.
func observeRun(obs *observe.Run, job runner.Retry, rep runner.Report, rollback bool) {
	run := metrics.RetryRun{
		Attempts: len(rep.History), MaxAttempts: job.Attempts, Outcome: outcome(rep.Stop),
		ExitCode: -1, Delay: totalDelay(rep.History), Duration: rep.Total,
	}
	if n := len(rep.History); n > 0 {
		run.ExitCode = exitCode(rep.History[n-1])
	}
	obs.Metrics.RecordRetry(run)
	obs.Log.RetryFinished(logging.RetryFinished{
		Outcome: string(run.Outcome), Attempts: run.Attempts, ExitCode: run.ExitCode,
		Delay: run.Delay, Took: run.Duration, Stop: string(rep.Stop),
	})
	if !rollback {
		return
	}
	obs.Metrics.RecordRollback(run.Outcome, run.Duration)
	var why error
	if n := len(rep.History); n > 0 && run.Outcome != metrics.OutcomeSuccess {
		why = attemptError(rep.History[n-1]) // outcome=timeout already says the deadline ended it
	}
	obs.Log.Rollback(logging.Rollback{Outcome: string(run.Outcome), ExitCode: run.ExitCode, Took: run.Duration, Err: why})
}

// outcome maps why the loop stopped to the metrics' closed set: the overall
// deadline is a timeout; everything but success is otherwise a failure
// (per-attempt timeouts included: the run itself ended by giving up).
func outcome(stop backoff.StopReason) metrics.Outcome {
	switch stop {
	case backoff.StopSucceeded:
		return metrics.OutcomeSuccess
	case backoff.StopDeadline:
		return metrics.OutcomeTimeout
	}
	return metrics.OutcomeFailure
}

// exitCode is the attempt's exit code as the metrics and logs report it:
// -1 when it did not exit normally. The runner reports a signal as -N, a
// timed-out attempt with whatever it exited with after SIGTERM, and a
// command that could not start as 127 or 126, none of which the command
// itself returned.
func exitCode(a runner.Attempt) int {
	if a.Err != nil || a.Signal != "" || a.TimedOut {
		return -1
	}
	return a.RC
}

func totalDelay(history []runner.Attempt) time.Duration {
	var d time.Duration
	for _, a := range history {
		d += a.Delay
	}
	return d
}

// attemptError says what went wrong with an attempt, for the log line's
// error= field: never the command's output, which may hold anything.
func attemptError(a runner.Attempt) error {
	var what string
	switch {
	case a.Err != nil:
		return a.Err
	case a.TimedOut:
		what = "timed out after " + runner.Seconds(a.Duration)
	case a.Signal != "":
		what = "killed by " + a.Signal
	case a.RC != 0:
		what = fmt.Sprintf("exit status %d", a.RC)
	default:
		return nil
	}
	if a.Interrupted {
		what += " (interrupted)"
	}
	if a.Why != "" {
		what += "; not retried: " + a.Why
	}
	return errors.New(what)
}
