package freeze

import (
	"strings"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// calendar compiles windows given as key=value maps, failing the test on
// error.
func calendar(t *testing.T, windows ...map[string]any) *Calendar {
	t.Helper()
	list := make([]any, len(windows))
	for i, w := range windows {
		list[i] = w
	}
	cal, err := Compile(list)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return cal
}

// want is what State should say at an instant; zero times mean "zero".
type want struct {
	at       string
	frozen   bool
	by       string
	endsAt   string
	nextAt   string
	nextName string
}

func checkStates(t *testing.T, cal *Calendar, wants ...want) {
	t.Helper()
	for _, w := range wants {
		st := cal.At(utc(w.at))
		if st.Frozen != w.frozen || st.FrozenBy != w.by {
			t.Errorf("at %s: frozen=%v by %q, want frozen=%v by %q", w.at, st.Frozen, st.FrozenBy, w.frozen, w.by)
		}
		if got := fmtTime(st.EndsAt); got != w.endsAt {
			t.Errorf("at %s: EndsAt = %s, want %s", w.at, got, w.endsAt)
		}
		if got := fmtTime(st.NextStartsAt); got != w.nextAt {
			t.Errorf("at %s: NextStartsAt = %s, want %s", w.at, got, w.nextAt)
		}
		if w.nextName != "" && st.NextBy != w.nextName {
			t.Errorf("at %s: NextBy = %q, want %q", w.at, st.NextBy, w.nextName)
		}
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// The wall clock of the zone, not its current offset: 22:00 in Berlin is
// 21:00 UTC in winter and 20:00 UTC in summer (Argo CD's fixed-shift
// evaluation gets one of them an hour wrong).
func TestBerlinNightsFollowTheWallClock(t *testing.T) {
	cal := calendar(t, map[string]any{"name": "nights", "start": "0 22 * * *", "duration": "8h", "time_zone": "Europe/Berlin"})
	checkStates(t, cal,
		want{at: "2026-01-15T20:59:59Z", nextAt: "2026-01-15T21:00:00Z"},
		want{at: "2026-01-15T21:00:00Z", frozen: true, by: "nights", endsAt: "2026-01-16T05:00:00Z", nextAt: "2026-01-16T21:00:00Z"},
		want{at: "2026-01-16T04:59:59Z", frozen: true, by: "nights", endsAt: "2026-01-16T05:00:00Z", nextAt: "2026-01-16T21:00:00Z"},
		want{at: "2026-01-16T05:00:00Z", nextAt: "2026-01-16T21:00:00Z"}, // half-open: open at the end
		want{at: "2026-07-15T20:00:00Z", frozen: true, by: "nights", endsAt: "2026-07-16T04:00:00Z", nextAt: "2026-07-16T20:00:00Z"},
		want{at: "2026-07-15T19:59:00Z", nextAt: "2026-07-15T20:00:00Z"},
	)
}

func TestBerlinSpringForwardGapOpensAfterTheGap(t *testing.T) {
	// 02:30 does not exist on 2026-03-29 in Berlin (02:00 CET -> 03:00 CEST at 01:00Z).
	cal := calendar(t, map[string]any{"name": "gap", "start": "30 2 * * *", "duration": "1h", "time_zone": "Europe/Berlin"})
	checkStates(t, cal,
		want{at: "2026-03-28T01:30:00Z", frozen: true, by: "gap", endsAt: "2026-03-28T02:30:00Z", nextAt: "2026-03-29T01:00:00Z"},
		want{at: "2026-03-29T00:59:59Z", nextAt: "2026-03-29T01:00:00Z"},
		want{at: "2026-03-29T01:00:00Z", frozen: true, by: "gap", endsAt: "2026-03-29T02:00:00Z", nextAt: "2026-03-30T00:30:00Z"},
		want{at: "2026-03-29T02:00:00Z", nextAt: "2026-03-30T00:30:00Z"},
	)
}

func TestBerlinFallBackOverlapOpensOnce(t *testing.T) {
	// 02:30 happens twice on 2026-10-25 in Berlin: 00:30Z (CEST) and 01:30Z (CET).
	cal := calendar(t, map[string]any{"name": "overlap", "start": "30 2 * * *", "duration": "30m", "time_zone": "Europe/Berlin"})
	checkStates(t, cal,
		want{at: "2026-10-25T00:30:00Z", frozen: true, by: "overlap", endsAt: "2026-10-25T01:00:00Z", nextAt: "2026-10-26T01:30:00Z"},
		want{at: "2026-10-25T01:30:00Z", nextAt: "2026-10-26T01:30:00Z"}, // the second 02:30 opens nothing
	)
}

func TestDurationIsElapsedTimeAcrossDST(t *testing.T) {
	// Saturday 22:00 CEST + 8 elapsed hours = Sunday 05:00 CET (7 wall hours).
	cal := calendar(t, map[string]any{"name": "sat", "start": "0 22 * * SAT", "duration": "8h", "time_zone": "Europe/Berlin"})
	checkStates(t, cal, want{at: "2026-10-24T20:00:00Z", frozen: true, by: "sat", endsAt: "2026-10-25T04:00:00Z", nextAt: "2026-10-31T21:00:00Z"})
	// With an end, the end is the wall clock: 06:00 CET, 9 elapsed hours.
	cal = calendar(t, map[string]any{"name": "sat", "start": "0 22 * * SAT", "end": "0 6 * * *", "time_zone": "Europe/Berlin"})
	checkStates(t, cal, want{at: "2026-10-25T04:30:00Z", frozen: true, by: "sat", endsAt: "2026-10-25T05:00:00Z", nextAt: "2026-10-31T21:00:00Z"})
}

func TestNewYorkGapAndOverlap(t *testing.T) {
	gap := calendar(t, map[string]any{"name": "gap", "start": "30 2 * * *", "duration": "1h", "time_zone": "America/New_York"})
	checkStates(t, gap,
		want{at: "2026-03-08T06:59:00Z", nextAt: "2026-03-08T07:00:00Z"},
		want{at: "2026-03-08T07:00:00Z", frozen: true, by: "gap", endsAt: "2026-03-08T08:00:00Z", nextAt: "2026-03-09T06:30:00Z"},
	)
	// 01:30 happens twice on 2026-11-01: 05:30Z (EDT) and 06:30Z (EST).
	overlap := calendar(t, map[string]any{"name": "overlap", "start": "30 1 * * *", "duration": "20m", "time_zone": "America/New_York"})
	checkStates(t, overlap,
		want{at: "2026-11-01T05:30:00Z", frozen: true, by: "overlap", endsAt: "2026-11-01T05:50:00Z", nextAt: "2026-11-02T06:30:00Z"},
		want{at: "2026-11-01T06:35:00Z", nextAt: "2026-11-02T06:30:00Z"},
	)
}

func TestSydneySouthernHemisphere(t *testing.T) {
	// Sydney leaves DST in April (03:00 AEDT -> 02:00 AEST at 2026-04-04T16:00Z)
	// and enters it in October (02:00 AEST -> 03:00 AEDT at 2026-10-03T16:00Z).
	cal := calendar(t, map[string]any{"name": "night", "start": "30 2 * * *", "duration": "30m", "time_zone": "Australia/Sydney"})
	checkStates(t, cal,
		// April overlap: the first 02:30 (AEDT, 15:30Z) opens, the second (AEST, 16:30Z) does not.
		want{at: "2026-04-04T15:30:00Z", frozen: true, by: "night", endsAt: "2026-04-04T16:00:00Z", nextAt: "2026-04-05T16:30:00Z"},
		want{at: "2026-04-04T16:30:00Z", nextAt: "2026-04-05T16:30:00Z"},
		// October gap: 02:30 does not exist; the window opens at 03:00 AEDT.
		want{at: "2026-10-03T15:59:00Z", nextAt: "2026-10-03T16:00:00Z"},
		want{at: "2026-10-03T16:00:00Z", frozen: true, by: "night", endsAt: "2026-10-03T16:30:00Z", nextAt: "2026-10-04T15:30:00Z"},
	)
	// Office hours follow the offset: 09:00 is 22:00Z in January (AEDT), 23:00Z in July (AEST).
	office := calendar(t, map[string]any{"name": "office", "start": "0 9 * * MON-FRI", "end": "0 17 * * *", "time_zone": "Australia/Sydney"})
	checkStates(t, office,
		want{at: "2026-01-11T22:00:00Z", frozen: true, by: "office", endsAt: "2026-01-12T06:00:00Z", nextAt: "2026-01-12T22:00:00Z"}, // Monday 12 January
		want{at: "2026-07-12T22:30:00Z", nextAt: "2026-07-12T23:00:00Z"},
	)
}

func TestWindowAcrossMidnight(t *testing.T) {
	cal := calendar(t, map[string]any{"name": "night", "start": "0 22 * * *", "end": "0 6 * * *"})
	checkStates(t, cal,
		want{at: "2026-05-01T23:00:00Z", frozen: true, by: "night", endsAt: "2026-05-02T06:00:00Z", nextAt: "2026-05-02T22:00:00Z"},
		want{at: "2026-05-02T05:59:59Z", frozen: true, by: "night", endsAt: "2026-05-02T06:00:00Z", nextAt: "2026-05-02T22:00:00Z"},
		want{at: "2026-05-02T06:00:00Z", nextAt: "2026-05-02T22:00:00Z"},
	)
}

func TestWeekdayRanges(t *testing.T) {
	weekend := calendar(t, map[string]any{"name": "weekend", "start": "0 18 * * FRI", "end": "0 8 * * MON", "time_zone": "Europe/Berlin"})
	checkStates(t, weekend,
		// Friday 2026-05-08 18:00 CEST is 16:00Z; Monday 08:00 CEST is 06:00Z.
		want{at: "2026-05-08T15:59:00Z", nextAt: "2026-05-08T16:00:00Z"},
		want{at: "2026-05-09T12:00:00Z", frozen: true, by: "weekend", endsAt: "2026-05-11T06:00:00Z", nextAt: "2026-05-15T16:00:00Z"},
		want{at: "2026-05-10T23:00:00Z", frozen: true, by: "weekend", endsAt: "2026-05-11T06:00:00Z", nextAt: "2026-05-15T16:00:00Z"},
		want{at: "2026-05-11T06:00:00Z", nextAt: "2026-05-15T16:00:00Z"},
	)
	// FRI-SUN ends on Sunday (7), not a backwards range; each day 24 hours, merged.
	days := calendar(t, map[string]any{"name": "fri-sun", "start": "0 0 * * FRI-SUN", "duration": "24h"})
	checkStates(t, days,
		want{at: "2026-05-07T23:59:00Z", nextAt: "2026-05-08T00:00:00Z"},
		want{at: "2026-05-08T00:00:00Z", frozen: true, by: "fri-sun", endsAt: "2026-05-11T00:00:00Z", nextAt: "2026-05-15T00:00:00Z"},
	)
	weekdays := calendar(t, map[string]any{"name": "late", "start": "0 17 * * 1-5", "duration": "1h"})
	checkStates(t, weekdays,
		want{at: "2026-05-09T17:30:00Z", nextAt: "2026-05-11T17:00:00Z"}, // Saturday: none
		want{at: "2026-05-11T17:30:00Z", frozen: true, by: "late", endsAt: "2026-05-11T18:00:00Z", nextAt: "2026-05-12T17:00:00Z"},
	)
}

func TestOneOffWindow(t *testing.T) {
	cal := calendar(t, map[string]any{"name": "launch", "from": "2026-12-24T00:00:00+01:00", "until": "2026-12-27T00:00:00+01:00"})
	checkStates(t, cal,
		want{at: "2026-12-23T22:59:59Z", nextAt: "2026-12-23T23:00:00Z", nextName: "launch"},
		want{at: "2026-12-23T23:00:00Z", frozen: true, by: "launch", endsAt: "2026-12-26T23:00:00Z"},
		want{at: "2026-12-26T23:00:00Z"}, // half-open; nothing after it
	)
}

func TestOverlappingAndAdjacentWindowsMerge(t *testing.T) {
	cal := calendar(t,
		map[string]any{"name": "a", "start": "0 22 * * *", "duration": "2h"},
		map[string]any{"name": "b", "start": "0 0 * * *", "duration": "3h"}, // adjacent to a
		map[string]any{"name": "c", "start": "0 2 * * *", "duration": "2h"}, // overlaps b
		map[string]any{"name": "once", "from": "2026-05-02T12:00:00Z", "until": "2026-05-02T13:00:00Z"},
	)
	checkStates(t, cal,
		want{at: "2026-05-01T22:30:00Z", frozen: true, by: "a", endsAt: "2026-05-02T04:00:00Z", nextAt: "2026-05-02T12:00:00Z", nextName: "once"},
		want{at: "2026-05-02T02:30:00Z", frozen: true, by: "b", endsAt: "2026-05-02T04:00:00Z", nextAt: "2026-05-02T12:00:00Z"},
	)
	st := cal.At(utc("2026-05-02T02:30:00Z"))
	if len(st.Active) != 2 || st.Active[1].Window != "c" {
		t.Errorf("Active = %+v, want b and c", st.Active)
	}
}

// Vixie cron: both day fields restricted means either; a day field
// beginning with * leaves the other one alone in charge.
func TestDayOfMonthOrDayOfWeek(t *testing.T) {
	either := calendar(t, map[string]any{"name": "x", "start": "0 12 13 * FRI", "duration": "1m"})
	checkStates(t, either,
		want{at: "2026-05-08T12:00:00Z", frozen: true, by: "x", endsAt: "2026-05-08T12:01:00Z", nextAt: "2026-05-13T12:00:00Z"}, // Fri 8th, then Wed 13th
	)
	both := calendar(t, map[string]any{"name": "x", "start": "0 12 */2 * FRI", "duration": "1m"})
	checkStates(t, both,
		want{at: "2026-05-01T12:00:00Z", frozen: true, by: "x", endsAt: "2026-05-01T12:01:00Z", nextAt: "2026-05-15T12:00:00Z"}, // odd-day Fridays only
	)
}

func TestUpcomingListsEachWindow(t *testing.T) {
	cal := calendar(t,
		map[string]any{"name": "night", "start": "0 22 * * *", "duration": "8h"},
		map[string]any{"name": "past", "from": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"},
		map[string]any{"name": "launch", "from": "2026-12-24T00:00:00Z", "until": "2026-12-25T00:00:00Z"},
	)
	got := cal.Upcoming(utc("2026-05-01T23:00:00Z"))
	var lines []string
	for _, o := range got {
		lines = append(lines, o.Window+" "+fmtTime(o.Start)+" "+fmtTime(o.End))
	}
	wantLines := "night 2026-05-01T22:00:00Z 2026-05-02T06:00:00Z|launch 2026-12-24T00:00:00Z 2026-12-25T00:00:00Z"
	if strings.Join(lines, "|") != wantLines {
		t.Errorf("Upcoming = %q, want %q", strings.Join(lines, "|"), wantLines)
	}
}

func TestEmptyCalendarNeverFreezes(t *testing.T) {
	cal, err := Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := cal.At(utc("2026-05-01T00:00:00Z")); st.Frozen || !st.NextStartsAt.IsZero() {
		t.Errorf("empty calendar: %+v", st)
	}
}

func TestFebruary29IsFoundYearsAhead(t *testing.T) {
	cal := calendar(t, map[string]any{"name": "leap", "start": "0 0 29 2 *", "end": "0 0 1 3 *"})
	checkStates(t, cal,
		want{at: "2026-05-01T00:00:00Z", nextAt: "2028-02-29T00:00:00Z"},
		want{at: "2028-02-29T10:00:00Z", frozen: true, by: "leap", endsAt: "2028-03-01T00:00:00Z", nextAt: "2032-02-29T00:00:00Z"},
	)
}

// A window longer than its period overlaps its own next occurrence: the
// freeze never ends, and says so instead of naming an end.
func TestSelfOverlappingWindowIsEndless(t *testing.T) {
	cal := calendar(t, map[string]any{"name": "always", "start": "0 * * * *", "duration": "2h"})
	st := cal.At(utc("2026-05-01T10:30:00Z"))
	if !st.Frozen || !st.Endless || st.FrozenBy != "always" || !st.NextStartsAt.IsZero() {
		t.Errorf("state %+v, want frozen and endless", st)
	}
	bounded := calendar(t, map[string]any{"name": "b", "start": "0 * * * *", "duration": "1h"}) // adjacent, hourly
	if st := bounded.At(utc("2026-05-01T10:30:00Z")); !st.Endless {
		t.Errorf("hourly adjacent windows: %+v, want endless (they merge forever)", st)
	}
	once := calendar(t, map[string]any{"name": "n", "start": "0 22 * * *", "duration": "8h"})
	if st := once.At(utc("2026-05-01T23:00:00Z")); st.Endless {
		t.Errorf("a nightly window is not endless: %+v", st)
	}
}
