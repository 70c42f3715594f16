package slocheck

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/threader/guard/internal/slo"
	"github.com/threader/guard/internal/trustedfile"
)

// EmbeddedGate is slo_check's gate inside another command that evaluates it
// on its own schedule (qos_guard watch): the same flags, defaults, checks
// and fail-closed evaluation, one evaluation per call. slo_check's polling
// flags (registerPollingFlags) are not registered: the embedding command
// has its own schedule, and its help lists only what it uses.
// --consecutive is kept, with the embedding command's default, for it to
// read.
type EmbeddedGate struct {
	c      config
	finish func()
}

// EmbedGateFlags registers slo_check's gate flags on fs, with consecutive
// as the default of --consecutive.
func EmbedGateFlags(fs *flag.FlagSet, consecutive int) *EmbeddedGate {
	e := &EmbeddedGate{c: defaultConfig()}
	e.c.consecutive = consecutive
	e.finish = registerGateFlags(fs, &e.c)
	return e
}

// Finish completes the config after fs.Parse.
func (e *EmbeddedGate) Finish() error {
	e.finish()
	if e.c.consecutive < 1 {
		return fmt.Errorf("--consecutive must be 1 or greater, got %d", e.c.consecutive)
	}
	return nil
}

// Consecutive is --consecutive.
func (e *EmbeddedGate) Consecutive() int { return e.c.consecutive }

// Evaluator builds the gate, with the checks of checksFile (a JSON or YAML
// check or list of checks, as --checks @FILE reads it) added when it is not
// empty; call it again to re-read the file. It returns the gate as a
// function evaluating it once, and the warnings to show. passed is true only
// when every check passed; err is set when a check could not measure
// (unreachable backend, no data, NaN): the gate then fails closed too.
func (e *EmbeddedGate) Evaluator(checksFile string) (func(context.Context) (passed bool, summary string, err error), []string, error) {
	c := e.c
	c.checks = append([]slo.Check(nil), e.c.checks...)
	if checksFile != "" {
		text, err := readChecksFile(checksFile, false)
		var extra checkList
		if err == nil {
			// The newline keeps Set from taking a leading "@" for a file name.
			err = extra.Set("\n" + string(text))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--checks-file %s: %v", checksFile, err)
		}
		c.checks = append(c.checks, extra...)
	}
	c.interval, c.consecutive = 0, 1 // one evaluation per call
	p, err := c.plan(flagName)
	if err != nil {
		return nil, nil, err
	}
	gate := p.gate
	return func(ctx context.Context) (bool, string, error) {
		rep, err := gate.Run(ctx)
		if err != nil {
			return false, "", err
		}
		if rep.Passed {
			return true, rep.Msg, nil
		}
		if rep.Last.Phase == slo.PhaseError {
			return false, rep.Msg, errors.New(rep.Msg) // nothing measured: unreachable, no data, NaN
		}
		return false, rep.Msg, nil
	}, p.warnings, nil
}

// maxChecksFileBytes bounds --checks-file.
const maxChecksFileBytes = 1 << 20

// readChecksFile reads a checks file (--checks @FILE, a watcher's
// --checks-file). Whoever can write it decides when the gate passes and the
// guard is released (a check that always passes), so a file or a directory
// (not sticky) that every user may write is refused, as the freeze calendar
// and the lock directory are; so is anything but a regular file of at most
// maxChecksFileBytes (internal/trustedfile), or a pipe with pipes (a
// one-shot --checks @<(...); a watcher re-reads its file).
func readChecksFile(path string, pipes bool) ([]byte, error) {
	return trustedfile.Read(path, trustedfile.Options{Limit: maxChecksFileBytes, Consequence: "anyone could make the gate pass", Pipes: pipes})
}
