package freeze

import (
	"testing"
	"time"
)

// FuzzParseCron: any text either parses or is refused, never a panic; an
// expression that parses re-parses from its String to the same sets, has
// at least one time a day, and finds a next time in a zone with DST.
func FuzzParseCron(f *testing.F) {
	for _, seed := range []string{"0 22 * * *", "*/15 9-17 * * MON-FRI", "0 0 29 2 *", "0 0 * * FRI-SUN",
		"0,30 0 1 jan,Jul *", "5-55/10 */6 1-31/2 * 0-7", "0 0 30 2 *", "60 * * * *", "a b c d e", "", "* * * * * *"} {
		f.Add(seed)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCron(text)
		if err != nil {
			return
		}
		again, err := ParseCron(c.String())
		if err != nil || again != c {
			t.Fatalf("%q re-parsed from %q as %+v, %v; want %+v", text, c.String(), again, err, c)
		}
		if len(c.clockTimes()) == 0 {
			t.Fatalf("%q parsed with no time of day", text)
		}
		from := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC)
		next, ok := cronNext(&c, berlin, from)
		if !ok || !next.After(from) {
			t.Fatalf("%q: no next time after %s (got %s, %v)", text, from, next, ok)
		}
		if prev, ok := cronPrev(&c, berlin, next, horizonDays); !ok || !prev.Equal(next) {
			t.Fatalf("%q: cronPrev(%s) = %s, %v; want the same instant", text, next, prev, ok)
		}
	})
}

// FuzzParseFile: any freeze file is a calendar or an error, never a panic,
// and a calendar evaluates at any instant.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("freeze_windows:\n  - name: n\n    start: \"0 22 * * *\"\n    duration: 8h\n    time_zone: Europe/Berlin\n"), int64(0))
	f.Add([]byte("freeze_windows:\n  - {name: l, from: 2026-12-24T00:00:00Z, until: 2026-12-25T00:00:00Z}\n"), int64(1798070400))
	f.Add([]byte("freeze_windows: [{name: w, start: '0 18 * * FRI', end: '0 8 * * MON'}]\nx: 1\n"), int64(-1))
	f.Fuzz(func(t *testing.T, data []byte, unix int64) {
		cal, err := ParseFile(data)
		if err != nil {
			return
		}
		at := time.Unix(unix%(1<<33), 0)
		st := cal.At(at)
		if st.Frozen && (st.FrozenBy == "" || !st.EndsAt.After(at)) {
			t.Fatalf("frozen at %s with by=%q ends=%s", at, st.FrozenBy, st.EndsAt)
		}
		if !st.NextStartsAt.IsZero() && !st.NextStartsAt.After(at) {
			t.Fatalf("next start %s is not after %s", st.NextStartsAt, at)
		}
	})
}
