package freeze

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/fielderr"
)

func TestParseCronAccepts(t *testing.T) {
	for text, wantTimes := range map[string]int{
		"0 22 * * *":             1,
		"*/15 9-17 * * MON-FRI":  36,
		"0,30 0 1 jan,Jul *":     2,
		"0 0 * * 7":              1,
		"5-55/10 */6 1-31/2 * *": 24,
	} {
		c, err := ParseCron(text)
		if err != nil {
			t.Errorf("ParseCron(%q): %v", text, err)
			continue
		}
		if n := len(c.clockTimes()); n != wantTimes {
			t.Errorf("ParseCron(%q): %d times a day, want %d", text, n, wantTimes)
		}
	}
	c, _ := ParseCron("0 0 * * 7")
	if c.dow != 1 {
		t.Errorf("day of week 7 = %b, want Sunday (bit 0)", c.dow)
	}
	c, _ = ParseCron("0 0 * * */2")
	if c.dow != 1|1<<2|1<<4|1<<6 {
		t.Errorf("*/2 days of week = %b, want Sun, Tue, Thu, Sat", c.dow)
	}
}

func TestParseCronRefuses(t *testing.T) {
	for text, want := range map[string]string{
		"":                "must have 5 fields",
		"0 22 * *":        "must have 5 fields",
		"0 22 * * * *":    "must have 5 fields",
		"60 22 * * *":     "minute field \"60\": 60 is out of range 0-59",
		"0 24 * * *":      "hour field",
		"0 0 0 * *":       "day of month field",
		"0 0 * 13 *":      "month field",
		"0 0 * * 8":       "day of week field",
		"0 0 * * FRY":     "not a number from 0 to 7 or a day of week name",
		"0 0 * * SAT-MON": "runs backwards",
		"0 0 * * */0":     "step \"0\"",
		"5/10 * * * *":    "a step needs * or a range",
		"0 0 30 2 *":      "never matches",
		"-1 * * * *":      "minute field",
		"+1 * * * *":      "minute field",
		"0 0 ,1 * *":      "day of month field",
		"@daily x y z w":  "minute field",
		"1-2-3 * * * *":   "minute field",
	} {
		_, err := ParseCron(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCron(%q) = %v, want an error containing %q", text, err, want)
		}
	}
}

func TestCompileRefusesBadWindows(t *testing.T) {
	ok := map[string]any{"name": "ok", "start": "0 22 * * *", "duration": "8h"}
	with := func(m map[string]any) []any { return []any{ok, m} }
	for _, tc := range []struct {
		list  any
		field string
		text  string
	}{
		{with(map[string]any{"name": "x", "start": "0 25 * * *", "duration": "1h"}), "freeze_windows[1].start", "hour field"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "end": "99 1 * * *"}), "freeze_windows[1].end", "minute field"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "1h", "time_zone": "Mars/Olympus"}), "freeze_windows[1].time_zone", "not a known IANA time zone"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "1h", "time_zone": "Local"}), "freeze_windows[1].time_zone", "IANA"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "1h", "time_zone": "../../etc/passwd"}), "freeze_windows[1].time_zone", "IANA"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "1h", "end": "0 3 * * *"}), "freeze_windows[1].end", "cannot be given with duration"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *"}), "freeze_windows[1].duration", "is required with start"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "soon"}), "freeze_windows[1].duration", "must be a duration"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "30s"}), "freeze_windows[1].duration", "must be a duration"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "9000h"}), "freeze_windows[1].duration", "must be a duration"},
		{with(map[string]any{"name": "x", "from": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}), "freeze_windows[1].until", "must be after from"},
		{with(map[string]any{"name": "x", "from": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}), "freeze_windows[1].until", "must be after from"},
		{with(map[string]any{"name": "x", "from": "2026-01-01T00:00:00Z"}), "freeze_windows[1].until", "is required"},
		{with(map[string]any{"name": "x", "until": "2026-01-01T00:00:00Z"}), "freeze_windows[1].from", "is required"},
		{with(map[string]any{"name": "x", "from": "tomorrow", "until": "2026-01-01T00:00:00Z"}), "freeze_windows[1].from", "RFC 3339"},
		{with(map[string]any{"name": "x", "from": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z", "time_zone": "UTC"}), "freeze_windows[1].time_zone", "recurring windows"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "1h", "from": "2026-01-01T00:00:00Z"}), "freeze_windows[1].from", "cannot be given with start"},
		{with(map[string]any{"name": "x"}), "freeze_windows[1].start", "is required"},
		{with(map[string]any{"start": "0 2 * * *", "duration": "1h"}), "freeze_windows[1].name", "is required"},
		{with(map[string]any{"name": "  ", "start": "0 2 * * *", "duration": "1h"}), "freeze_windows[1].name", "is required"},
		{with(map[string]any{"name": "a\nb", "start": "0 2 * * *", "duration": "1h"}), "freeze_windows[1].name", "control characters"},
		{with(map[string]any{"name": strings.Repeat("n", 129), "start": "0 2 * * *", "duration": "1h"}), "freeze_windows[1].name", "at most 128 bytes"},
		{with(map[string]any{"name": "ok", "start": "0 2 * * *", "duration": "1h"}), "freeze_windows[1].name", "already the name of freeze_windows[0]"},
		{with(map[string]any{"name": "x", "start": "0 2 * * *", "duration": "1h", "kind": "deny"}), "freeze_windows[1].kind", "is not a window key"},
		{with(map[string]any{"name": "x", "start": 5, "duration": "1h"}), "freeze_windows[1].start", "must be a string, got a number"},
		{[]any{ok, "nights"}, "freeze_windows[1]", "must be a mapping"},
		{"nights", "freeze_windows", "must be a list"},
		{make([]any, MaxWindows+1), "freeze_windows", "at most 256 windows"},
	} {
		_, err := Compile(tc.list)
		fe, ok := fielderr.As(err)
		if !ok || fe.Field != tc.field || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Compile(%v) = %v, want a *fielderr.Error on %s containing %q", tc.list, err, tc.field, tc.text)
		}
	}
}

func TestParseFile(t *testing.T) {
	cal, err := ParseFile([]byte(`
freeze_windows:
  - name: nights
    start: "0 22 * * *"
    duration: 8h
    time_zone: Europe/Berlin
  - name: launch
    from: 2026-12-24T00:00:00+01:00
    until: 2026-12-27T00:00:00+01:00
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cal.Windows) != 2 || cal.Windows[1].From != utc("2026-12-23T23:00:00Z") {
		t.Errorf("ParseFile = %+v", cal.Windows)
	}
	for text, want := range map[string]string{
		"freeze_window: []\n":           `unknown key "freeze_window"`,
		"":                              "empty document",
		"- a\n":                         "not valid YAML",
		"freeze_windows: [{name: x}]\n": "freeze_windows[0].start is required",
		"freeze_windows: {}\n":          "must be a list",
		"freeze_windows: []\nfreeze_windows: []\n": "not valid YAML",
		// Two files put together: the second's freezes were silently lifted.
		"freeze_windows: []\n---\nfreeze_windows: [{name: xmas, from: '2026-12-20T00:00:00Z', until: '2027-01-02T00:00:00Z'}]\n": "holds more than one YAML document",
	} {
		if _, err := ParseFile([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFile(%q) = %v, want an error containing %q", text, err, want)
		}
	}
	if cal, err := ParseFile([]byte("freeze_windows:\n")); err != nil || len(cal.Windows) != 0 {
		t.Errorf("an empty list: %v, %v", cal, err)
	}
}

func TestReadFileRefusesWorldWritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "freezes.yml")
	if err := os.WriteFile(path, []byte("freeze_windows: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	os.Chmod(path, 0o666)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "writable by every user") {
		t.Errorf("ReadFile of a 0666 file = %v, want a refusal", err)
	}
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	inOpen := filepath.Join(open, "freezes.yml")
	os.WriteFile(inOpen, []byte("freeze_windows: []\n"), 0o644)
	if _, err := ReadFile(inOpen); err == nil || !strings.Contains(err.Error(), "every user may write (not sticky)") {
		t.Errorf("ReadFile in a world-writable directory = %v, want a refusal", err)
	}
	if _, err := ReadFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("ReadFile of a missing file = %v", err)
	}
}
