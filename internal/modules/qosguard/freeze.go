package qosguard

import (
	"fmt"
	"time"

	"github.com/threader/guard/internal/freeze"
	"github.com/threader/guard/internal/guard"
)

// loadCalendar compiles the windows given inline (the module's
// freeze_windows, a list as Ansible decodes it; nil for none) and those of
// the freeze file (empty path: none) into one calendar. A window's name is
// unique across both.
func loadCalendar(windows any, file string) (*freeze.Calendar, error) {
	cal, err := freeze.Compile(windows)
	if err != nil {
		return nil, err
	}
	if file == "" {
		return cal, nil
	}
	fromFile, err := freeze.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for _, w := range fromFile.Windows {
		for _, inline := range cal.Windows {
			if w.Name == inline.Name {
				return nil, &freeze.FileError{Path: file, Err: fmt.Errorf("has a window named %q, and so has freeze_windows; names must be unique", w.Name)}
			}
		}
	}
	cal.Windows = append(cal.Windows, fromFile.Windows...)
	return cal, nil
}

// parseAt reads the instant of a what-if evaluation; name is the option
// or flag.
func parseAt(name, text string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, text)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 time such as 2026-12-24T22:00:00+01:00, got %q", name, text)
	}
	return t.UTC(), nil
}

// freezeFields are the freeze's result fields.
func freezeFields(st freeze.State) map[string]any {
	ends := timeOrNil(st.EndsAt)
	if st.Endless {
		ends = nil // no end in reach: never a made-up one
	}
	return map[string]any{
		"frozen":                st.Frozen,
		"frozen_by":             nilIfEmpty(st.FrozenBy),
		"freeze_ends_at":        ends,
		"next_freeze_starts_at": timeOrNil(st.NextStartsAt),
	}
}

// freezeMessage says which window freezes deployments and until when.
func freezeMessage(st freeze.State) string {
	if st.Endless {
		return fmt.Sprintf("deployments are frozen by window %q with no end in sight (its windows overlap on past %s)",
			st.FrozenBy, st.EndsAt.Format(time.RFC3339))
	}
	return fmt.Sprintf("deployments are frozen by window %q until %s (%s left)",
		st.FrozenBy, st.EndsAt.Format(time.RFC3339), guard.HumanDuration(st.EndsAt.Sub(st.At)))
}

// gateMessage is the status message: the freeze first, then the lock.
func gateMessage(lock guard.Status, fr freeze.State) string {
	if !fr.Frozen {
		return lock.Message()
	}
	if lock.Locked {
		return freezeMessage(fr) + "; " + lock.Message()
	}
	return freezeMessage(fr)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
