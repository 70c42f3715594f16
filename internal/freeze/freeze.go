// Package freeze is the guard's freeze calendar: named windows during which
// deployments are refused, on a schedule (nights, weekends, the holiday
// season) or once (a launch day). It knows nothing of Ansible or of the
// command line; qos_guard evaluates it beside the guard's store.
//
// A window is either
//   - recurring: Start, a 5-field cron expression, plus Duration or End (a
//     cron expression too), read on the wall clock of TimeZone (an IANA
//     name, default UTC); or
//   - one-off: From and Until, two instants (RFC 3339).
//
// Rules, each tested:
//   - Cron fields are wall-clock times in the window's zone, evaluated with
//     Go's time package and the tzdata embedded in the binary, never as a
//     fixed UTC offset: "0 22 * * *" in Europe/Berlin is 21:00 UTC in winter
//     and 20:00 UTC in summer (Argo CD applies the current offset to every
//     occurrence, so its windows across a DST change are an hour off).
//   - A start (or end) that falls in a spring-forward gap is the first
//     instant after the gap; in a fall-back overlap only the first
//     occurrence counts, so a window opens once.
//   - Duration is elapsed time: 8h across a DST change is 8 real hours, 7
//     or 9 on the wall clock. End is the first time the End expression
//     matches after the start, so "0 22 * * *" to "0 6 * * *" crosses
//     midnight and "0 18 * * FRI" to "0 8 * * MON" spans a weekend.
//   - A window is the half-open interval [start, end): frozen at its start,
//     open again at its end.
//   - Frozen, at an instant, when any window is active; FrozenBy is the
//     first active window in list order. EndsAt is when no window is active
//     any more: overlapping and adjacent windows are merged (at most 1000
//     occurrences; beyond that the freeze is Endless, as a window that
//     overlaps its own next occurrence is). NextStartsAt is
//     the next start of a window after that (or after the instant, when not
//     frozen).
//   - Everything is evaluated at an instant the caller gives: a freeze is
//     checked when the deployment runs, not when it was planned.
//
// Cron syntax: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or
// JAN-DEC) day-of-week (0-7, 0 and 7 are Sunday, or SUN-SAT); each field is
// *, a value, a range low-high, a step */n or low-high/n, or a comma list of
// those; names are case-insensitive; FRI-SUN is Friday to Sunday. As in
// Vixie cron, when both day fields are restricted (neither begins with *)
// a date matches when either matches; otherwise both must. An expression
// that matches no date (0 0 30 2 *) is refused.
package freeze

import (
	"sort"
	"time"
)

// Bounds of a calendar.
const (
	// MaxWindows bounds the number of windows.
	MaxWindows = 256
	// MaxDuration bounds a recurring window's duration.
	MaxDuration = 366 * 24 * time.Hour
	// horizonDays bounds every search for a cron time: nine years covers
	// the longest gap between two February 29ths (2096 to 2104).
	horizonDays = 9 * 366
	// maxMerge bounds how many overlapping windows EndsAt follows.
	maxMerge = 1000
)

// Window is one freeze window, checked (see Compile).
type Window struct {
	Name string
	// Recurring: Start plus Duration (non-zero) or End, in Location.
	Start, End *Cron
	Duration   time.Duration
	Location   *time.Location
	// One-off: [From, Until).
	From, Until time.Time
}

// Recurring reports whether the window has a cron start.
func (w *Window) Recurring() bool { return w.Start != nil }

// Occurrence is one period of a window: [Start, End).
type Occurrence struct {
	Window     string
	Start, End time.Time
}

// Calendar is a checked list of windows.
type Calendar struct {
	Windows []Window
}

// State is the calendar at one instant.
type State struct {
	At     time.Time
	Frozen bool
	// FrozenBy names the first active window in list order; empty when
	// not frozen.
	FrozenBy string
	// Active lists the active windows' occurrences, in list order.
	Active []Occurrence
	// EndsAt is when the freeze ends (overlapping and adjacent windows
	// merged); zero when not frozen. When Endless, the merged windows run
	// on past maxMerge occurrences and EndsAt is only how far they were
	// followed.
	EndsAt  time.Time
	Endless bool
	// NextStartsAt is the next window start after the freeze (after At
	// when not frozen), NextBy its window; zero when none is in reach or
	// the freeze is Endless.
	NextStartsAt time.Time
	NextBy       string
}

// At evaluates the calendar at t.
func (c *Calendar) At(t time.Time) State {
	t = t.UTC()
	st := State{At: t, Active: c.activeAt(t)}
	after := t
	if len(st.Active) > 0 {
		st.Frozen, st.FrozenBy = true, st.Active[0].Window
		st.EndsAt, st.Endless = c.mergedEnd(st.Active)
		if st.Endless {
			return st // no next start after a freeze that does not end
		}
		after = st.EndsAt
	}
	st.NextStartsAt, st.NextBy = c.nextStart(after)
	return st
}

// Upcoming lists, for each window in order, the occurrence active at t or
// else the next one; a window with none in reach is left out.
func (c *Calendar) Upcoming(t time.Time) []Occurrence {
	var out []Occurrence
	for i := range c.Windows {
		w := &c.Windows[i]
		if occ, ok := w.activeAt(t); ok {
			out = append(out, occ)
			continue
		}
		if start, ok := w.nextStart(t); ok {
			out = append(out, Occurrence{Window: w.Name, Start: start, End: w.endOf(start)})
		}
	}
	return out
}

func (c *Calendar) activeAt(t time.Time) []Occurrence {
	var active []Occurrence
	for i := range c.Windows {
		if occ, ok := c.Windows[i].activeAt(t); ok {
			active = append(active, occ)
		}
	}
	return active
}

// mergedEnd follows the freeze from the active occurrences to the first
// instant no window is active; endless when that takes more than maxMerge
// steps (a window that overlaps its own next occurrence never ends).
func (c *Calendar) mergedEnd(active []Occurrence) (end time.Time, endless bool) {
	end = latestEnd(active)
	for range maxMerge {
		next := c.activeAt(end)
		if len(next) == 0 {
			return end, false
		}
		end = latestEnd(next)
	}
	return end, true
}

func latestEnd(occs []Occurrence) time.Time {
	var end time.Time
	for _, o := range occs {
		if o.End.After(end) {
			end = o.End
		}
	}
	return end
}

func (c *Calendar) nextStart(after time.Time) (time.Time, string) {
	var best time.Time
	var by string
	for i := range c.Windows {
		w := &c.Windows[i]
		if s, ok := w.nextStart(after); ok && (best.IsZero() || s.Before(best)) {
			best, by = s, w.Name
		}
	}
	return best, by
}

// activeAt returns the window's occurrence containing t. For a recurring
// window that is the one of its latest start at or before t: with a
// duration all occurrences are equally long, and with an end the latest
// start's end is the first end after every earlier start too.
func (w *Window) activeAt(t time.Time) (Occurrence, bool) {
	if !w.Recurring() {
		if !t.Before(w.From) && t.Before(w.Until) {
			return Occurrence{Window: w.Name, Start: w.From, End: w.Until}, true
		}
		return Occurrence{}, false
	}
	lookback := horizonDays
	if w.End == nil {
		lookback = int(w.Duration/(24*time.Hour)) + 2
	}
	start, ok := cronPrev(w.Start, w.Location, t, lookback)
	if !ok {
		return Occurrence{}, false
	}
	end := w.endOf(start)
	if !t.Before(end) {
		return Occurrence{}, false
	}
	return Occurrence{Window: w.Name, Start: start, End: end}, true
}

// endOf is the end of the occurrence that starts at start. An End that
// never comes within the horizon keeps the window open (fail closed).
func (w *Window) endOf(start time.Time) time.Time {
	if !w.Recurring() {
		return w.Until
	}
	if w.End == nil {
		return start.Add(w.Duration)
	}
	if end, ok := cronNext(w.End, w.Location, start); ok {
		return end
	}
	return start.AddDate(horizonDays/366, 0, 0)
}

// nextStart is the window's first start strictly after after.
func (w *Window) nextStart(after time.Time) (time.Time, bool) {
	if !w.Recurring() {
		return w.From, w.From.After(after)
	}
	return cronNext(w.Start, w.Location, after)
}

// cronNext is the first instant strictly after after that c stands for in
// loc, searching horizonDays ahead.
func cronNext(c *Cron, loc *time.Location, after time.Time) (time.Time, bool) {
	times := c.clockTimes()
	day := dateOf(after.In(loc)).AddDate(0, 0, -1) // a gap can move a time past midnight
	for range horizonDays + 2 {
		y, m, d := day.Date()
		if c.matchesDate(y, m, d) {
			// resolve is non-decreasing in the wall time: binary search.
			at := func(i int) time.Time { return resolve(y, m, d, times[i][0], times[i][1], loc) }
			if i := sort.Search(len(times), func(i int) bool { return at(i).After(after) }); i < len(times) {
				return at(i), true
			}
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}, false
}

// cronPrev is the last instant at or before t that c stands for in loc,
// searching lookbackDays back.
func cronPrev(c *Cron, loc *time.Location, t time.Time, lookbackDays int) (time.Time, bool) {
	times := c.clockTimes()
	day := dateOf(t.In(loc)).AddDate(0, 0, 1)
	for range lookbackDays + 2 {
		y, m, d := day.Date()
		if c.matchesDate(y, m, d) {
			at := func(i int) time.Time { return resolve(y, m, d, times[i][0], times[i][1], loc) }
			if i := sort.Search(len(times), func(i int) bool { return at(i).After(t) }); i > 0 {
				return at(i - 1), true
			}
		}
		day = day.AddDate(0, 0, -1)
	}
	return time.Time{}, false
}

// dateOf is t's calendar date at noon UTC, safe to step by days.
func dateOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC)
}
