package freeze

import "time"

// resolve turns a wall-clock minute in loc into the one instant a cron
// time stands for:
//   - a wall time that occurs once is that instant;
//   - in a fall-back overlap (it occurs twice) it is the first occurrence;
//   - in a spring-forward gap (it never occurs) it is the first instant
//     after the gap, the transition itself.
//
// time.Date alone does not do this: for a gap or an overlap it returns a
// time "correct in one of the two zones involved", without saying which.
// The result is non-decreasing in the wall time, so walking wall times in
// order walks instants in order.
func resolve(year int, month time.Month, day, hour, minute int, loc *time.Location) time.Time {
	wall := time.Date(year, month, day, hour, minute, 0, 0, time.UTC)
	var first time.Time
	var candidates []time.Time
	for _, offset := range offsetsAround(wall, loc) {
		t := wall.Add(-time.Duration(offset) * time.Second)
		candidates = append(candidates, t)
		if sameWall(t.In(loc), wall) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		return first
	}
	return gapEnd(wall, candidates, loc)
}

// offsetsAround lists the zone's UTC offsets (seconds east) in effect
// within a day and a half of the wall time: every offset the wall time can
// have, as no zone changes its offset twice in a few hours.
func offsetsAround(wall time.Time, loc *time.Location) []int {
	var offsets []int
	for _, shift := range []time.Duration{-36 * time.Hour, -12 * time.Hour, 0, 12 * time.Hour, 36 * time.Hour} {
		_, off := wall.Add(shift).In(loc).Zone()
		if !contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	return offsets
}

// gapEnd finds the transition that skipped the wall time: the start of
// the zone period of a candidate instant such that the wall clock jumps
// from before the wall time to after it there.
func gapEnd(wall time.Time, candidates []time.Time, loc *time.Location) time.Time {
	var best time.Time
	for _, c := range candidates {
		start, _ := c.In(loc).ZoneBounds()
		if start.IsZero() {
			continue
		}
		before, after := wallOf(start.Add(-time.Nanosecond).In(loc)), wallOf(start.In(loc))
		if before.Before(wall) && after.After(wall) && (best.IsZero() || start.Before(best)) {
			best = start
		}
	}
	if best.IsZero() {
		// Unreachable for tzdata zones; fall back to Go's choice rather
		// than drop the time.
		return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), 0, 0, loc)
	}
	return best.UTC()
}

// wallOf is t's wall clock as a UTC time with the same fields.
func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func sameWall(t, wall time.Time) bool { return wallOf(t).Equal(wall) }

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
