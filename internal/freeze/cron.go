package freeze

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 5-field cron expression: minute hour day-of-month month
// day-of-week, each a set of allowed values. It matches wall-clock times;
// which instants those are is the zone's business (see resolve).
type Cron struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i allowed
	// domStar and dowStar record a field that began with '*' (Vixie
	// cron's rule: only then is the field "unrestricted").
	domStar, dowStar bool
	text             string
}

// String is the expression as written.
func (c Cron) String() string { return c.text }

// cronField describes one of the five fields.
type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	dayNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	cronFields = [5]cronField{
		{name: "minute", min: 0, max: 59},
		{name: "hour", min: 0, max: 23},
		{name: "day of month", min: 1, max: 31},
		{name: "month", min: 1, max: 12, names: monthNames},
		{name: "day of week", min: 0, max: 7, names: dayNames},
	}
)

// maxCronBytes bounds an expression; the longest useful one is far shorter.
const maxCronBytes = 512

// ParseCron parses a 5-field cron expression (see the package comment for
// the syntax). It refuses an expression that can never match, such as
// "0 0 30 2 *".
func ParseCron(text string) (Cron, error) {
	if len(text) > maxCronBytes {
		return Cron{}, fmt.Errorf("must be at most %d bytes, got %d", maxCronBytes, len(text))
	}
	parts := strings.Fields(text)
	if len(parts) != 5 {
		return Cron{}, fmt.Errorf("must have 5 fields (minute hour day-of-month month day-of-week), got %d in %q", len(parts), text)
	}
	c := Cron{text: strings.Join(parts, " ")}
	sets := [5]*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, part := range parts {
		set, err := parseCronField(part, cronFields[i])
		if err != nil {
			return Cron{}, fmt.Errorf("%s field %q: %v", cronFields[i].name, part, err)
		}
		*sets[i] = set
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday too
		c.dow = c.dow&^(1<<7) | 1
	}
	c.domStar, c.dowStar = parts[2][0] == '*', parts[4][0] == '*'
	if !c.canMatch() {
		return Cron{}, fmt.Errorf("%q never matches a date (no month has those days)", text)
	}
	return c, nil
}

func parseCronField(text string, f cronField) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(text, ",") {
		bits, err := parseCronItem(item, f)
		if err != nil {
			return 0, err
		}
		set |= bits
	}
	return set, nil
}

// parseCronItem reads one list item: *, */step, value, low-high or
// low-high/step.
func parseCronItem(item string, f cronField) (uint64, error) {
	rangeText, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 || n > f.max {
			return 0, fmt.Errorf("step %q must be a number from 1 to %d", stepText, f.max)
		}
		step = n
	}
	low, high := f.min, f.max
	switch {
	case rangeText == "*":
		if f.max == 7 {
			high = 6 // */2 over days of week must not count Sunday twice
		}
	case strings.Contains(rangeText, "-"):
		lowText, highText, _ := strings.Cut(rangeText, "-")
		var err error
		if low, err = cronValue(lowText, f); err != nil {
			return 0, err
		}
		if high, err = cronValue(highText, f); err != nil {
			return 0, err
		}
		if f.names != nil && f.max == 7 && high == 0 && low > 0 {
			high = 7 // FRI-SUN: Sunday as the end of a range is 7
		}
		if low > high {
			return 0, fmt.Errorf("range %q runs backwards; write it as two ranges", rangeText)
		}
	default:
		if hasStep {
			return 0, fmt.Errorf("a step needs * or a range before it, like */%d or %s-%d/%d", step, rangeText, f.max, step)
		}
		v, err := cronValue(rangeText, f)
		if err != nil {
			return 0, err
		}
		low, high = v, v
	}
	var bits uint64
	for v := low; v <= high; v += step {
		bits |= 1 << v
	}
	return bits, nil
}

func cronValue(text string, f cronField) (int, error) {
	if v, ok := f.names[strings.ToLower(text)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil || strings.HasPrefix(text, "+") {
		if f.names != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d or a %s name", text, f.min, f.max, f.name)
		}
		return 0, fmt.Errorf("%q is not a number from %d to %d", text, f.min, f.max)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

// daysIn is the most days each month can have (February: 29).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// canMatch reports whether some date matches. With a restricted day of
// week every month has every weekday; otherwise some allowed month must
// have an allowed day of month.
func (c Cron) canMatch() bool {
	if !c.dowStar && !c.domStar {
		return true // either matches (Vixie's OR), and every weekday occurs
	}
	if !c.dowStar {
		return c.dow != 0
	}
	for m := 1; m <= 12; m++ {
		if c.month&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= daysIn[m]; d++ {
			if c.dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

// matchesDate applies the day rules to a calendar date: the month must
// match; then, Vixie cron's rule, when both day of month and day of week
// are restricted (neither begins with '*') either may match, otherwise
// both must.
func (c Cron) matchesDate(year int, month time.Month, day int) bool {
	if c.month&(1<<uint(month)) == 0 {
		return false
	}
	weekday := time.Date(year, month, day, 12, 0, 0, 0, time.UTC).Weekday()
	domOK, dowOK := c.dom&(1<<uint(day)) != 0, c.dow&(1<<uint(weekday)) != 0
	if !c.domStar && !c.dowStar {
		return domOK || dowOK
	}
	return domOK && dowOK
}

// clockTimes lists the allowed (hour, minute) pairs of a day in order.
func (c Cron) clockTimes() [][2]int {
	var out [][2]int
	for h := 0; h < 24; h++ {
		if c.hour&(1<<h) == 0 {
			continue
		}
		for m := 0; m < 60; m++ {
			if c.minute&(1<<m) != 0 {
				out = append(out, [2]int{h, m})
			}
		}
	}
	return out
}
