package freeze

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // zones from the binary: a host without tzdata evaluates the same calendar
	"unicode"
	"unicode/utf8"

	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/strictyaml"
	"github.com/threader/guard/internal/trustedfile"
)

// ListKey is the name of the windows list, in a freeze file and as the
// module option; the fields of the *fielderr.Error values Compile returns
// start with it (freeze_windows[2].start).
const ListKey = "freeze_windows"

// Keys of a window.
const (
	KeyName     = "name"
	KeyStart    = "start"
	KeyDuration = "duration"
	KeyEnd      = "end"
	KeyTimeZone = "time_zone"
	KeyFrom     = "from"
	KeyUntil    = "until"
)

var windowKeys = []string{KeyName, KeyStart, KeyDuration, KeyEnd, KeyTimeZone, KeyFrom, KeyUntil}

// Bounds of the input.
const (
	MaxNameBytes = 128
	// MaxFileBytes bounds a freeze file.
	MaxFileBytes = 1 << 20
)

// windowField is the path of a window's value: freeze_windows[2].start
// (index -1: the list itself; key "": the window as a whole).
func windowField(index int, key string) string {
	switch {
	case index < 0:
		return ListKey
	case key == "":
		return fmt.Sprintf("%s[%d]", ListKey, index)
	}
	return fmt.Sprintf("%s[%d].%s", ListKey, index, key)
}

// fieldErrorf is a window value the calendar refuses.
func fieldErrorf(index int, key, format string, args ...any) error {
	return fielderr.Errorf(windowField(index, key), format, args...)
}

// Compile checks a list of windows as YAML or JSON decodes it (a list of
// mappings of strings) and returns the calendar. nil is an empty calendar.
func Compile(list any) (*Calendar, error) {
	if list == nil {
		return &Calendar{}, nil
	}
	items, ok := list.([]any)
	if !ok {
		return nil, fieldErrorf(-1, "", "must be a list of windows, got %s", typeName(list))
	}
	if len(items) > MaxWindows {
		return nil, fieldErrorf(-1, "", "must have at most %d windows, got %d", MaxWindows, len(items))
	}
	cal := &Calendar{}
	seen := map[string]int{}
	for i, item := range items {
		w, err := compileWindow(i, item)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[w.Name]; dup {
			return nil, fieldErrorf(i, KeyName, "%q is already the name of %s[%d]; names must be unique", w.Name, ListKey, first)
		}
		seen[w.Name] = i
		cal.Windows = append(cal.Windows, w)
	}
	return cal, nil
}

// ParseFile reads a freeze file: YAML with one key, freeze_windows.
// Unknown keys are refused, so a misspelt key never silently drops a
// freeze.
func ParseFile(data []byte) (*Calendar, error) {
	var doc map[string]any
	root, err := strictyaml.Document(data)
	switch {
	case errors.Is(err, strictyaml.ErrManyDocuments):
		return nil, err // the second would be ignored: its freezes lifted
	case err != nil:
		return nil, fmt.Errorf("is not valid YAML: %v", err)
	case root != nil:
		if err := root.Decode(&doc); err != nil {
			return nil, fmt.Errorf("is not valid YAML: %v", err)
		}
	}
	if doc == nil {
		return nil, fmt.Errorf("must be a mapping with the key %s, got an empty document", ListKey)
	}
	for key := range doc {
		if key != ListKey {
			return nil, fmt.Errorf("has the unknown key %q; the only key is %s", key, ListKey)
		}
	}
	list, ok := doc[ListKey]
	if !ok {
		return nil, fmt.Errorf("must have the key %s", ListKey)
	}
	if list == nil {
		return &Calendar{}, nil
	}
	return Compile(list)
}

// FileError is a freeze file that could not be read or is refused.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Describe("freeze file") }

// Describe names the file as the front end's option or flag does:
// "freeze_file /etc/freezes.yml cannot be read: ...".
func (e *FileError) Describe(option string) string {
	if _, ok := fielderr.As(e.Err); ok {
		return fmt.Sprintf("%s %s: %v", option, e.Path, e.Err)
	}
	return fmt.Sprintf("%s %s %v", option, e.Path, e.Err)
}
func (e *FileError) Unwrap() error { return e.Err }

// ReadFile reads and parses the freeze file at path. A file every user
// may write, or one in a directory every user may write without the sticky
// bit, is refused: whoever can replace it can lift every freeze; so is
// anything but a regular file of at most MaxFileBytes (internal/trustedfile).
func ReadFile(path string) (*Calendar, error) {
	data, err := trustedfile.Read(path, trustedfile.Options{Limit: MaxFileBytes, Consequence: "anyone could lift a freeze"})
	if err != nil {
		return nil, &FileError{path, err}
	}
	cal, err := ParseFile(data)
	if err != nil {
		return nil, &FileError{path, err}
	}
	return cal, nil
}

func compileWindow(i int, item any) (Window, error) {
	m, ok := item.(map[string]any)
	if !ok {
		return Window{}, fieldErrorf(i, "", "must be a mapping with name and start or from, got %s", typeName(item))
	}
	for _, key := range sortedKeys(m) {
		if !containsString(windowKeys, key) {
			return Window{}, fieldErrorf(i, key, "is not a window key (%s)", strings.Join(windowKeys, ", "))
		}
	}
	text := map[string]string{}
	for _, key := range windowKeys {
		v, err := stringValue(i, key, m)
		if err != nil {
			return Window{}, err
		}
		text[key] = v
	}
	name, err := checkName(i, text[KeyName])
	if err != nil {
		return Window{}, err
	}
	w := Window{Name: name}
	switch {
	case text[KeyStart] != "" && (text[KeyFrom] != "" || text[KeyUntil] != ""):
		key := KeyFrom
		if text[KeyFrom] == "" {
			key = KeyUntil
		}
		return Window{}, fieldErrorf(i, key, "cannot be given with start: a window is either recurring (start) or one-off (from and until)")
	case text[KeyStart] != "":
		err = compileRecurring(i, text, &w)
	case text[KeyFrom] != "" || text[KeyUntil] != "":
		err = compileOneOff(i, text, &w)
	default:
		err = fieldErrorf(i, KeyStart, "is required (a cron expression), or from and until for a one-off window")
	}
	return w, err
}

func compileRecurring(i int, text map[string]string, w *Window) error {
	start, err := ParseCron(text[KeyStart])
	if err != nil {
		return fieldErrorf(i, KeyStart, "%v", err)
	}
	w.Start = &start
	switch {
	case text[KeyDuration] != "" && text[KeyEnd] != "":
		return fieldErrorf(i, KeyEnd, "cannot be given with duration; give one of them")
	case text[KeyDuration] != "":
		d, err := time.ParseDuration(text[KeyDuration])
		if err != nil || d < time.Minute || d > MaxDuration {
			return fieldErrorf(i, KeyDuration, "must be a duration from 1m to %s such as 90m or 8h, got %q", MaxDuration, text[KeyDuration])
		}
		w.Duration = d
	case text[KeyEnd] != "":
		end, err := ParseCron(text[KeyEnd])
		if err != nil {
			return fieldErrorf(i, KeyEnd, "%v", err)
		}
		w.End = &end
	default:
		return fieldErrorf(i, KeyDuration, "is required with start (or give end, a cron expression)")
	}
	zone := text[KeyTimeZone]
	if zone == "" {
		zone = "UTC"
	}
	loc, err := loadZone(zone)
	if err != nil {
		return fieldErrorf(i, KeyTimeZone, "%v", err)
	}
	w.Location = loc
	return nil
}

// loadZone loads an IANA zone. "Local" is refused: the calendar must mean
// the same on every host.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, fmt.Errorf("must be an IANA time zone name such as Europe/Berlin, got %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known IANA time zone (such as Europe/Berlin or UTC)", name)
	}
	return loc, nil
}

func compileOneOff(i int, text map[string]string, w *Window) error {
	for _, key := range []string{KeyDuration, KeyEnd, KeyTimeZone} {
		if text[key] != "" {
			return fieldErrorf(i, key, "applies to recurring windows (start) only; a one-off window has from and until, each with its UTC offset")
		}
	}
	var err error
	if w.From, err = parseInstant(i, KeyFrom, text[KeyFrom]); err != nil {
		return err
	}
	if w.Until, err = parseInstant(i, KeyUntil, text[KeyUntil]); err != nil {
		return err
	}
	if !w.Until.After(w.From) {
		return fieldErrorf(i, KeyUntil, "must be after from (%s), got %s", text[KeyFrom], text[KeyUntil])
	}
	return nil
}

func parseInstant(i int, key, text string) (time.Time, error) {
	if text == "" {
		return time.Time{}, fieldErrorf(i, key, "is required for a one-off window (an RFC 3339 time such as 2026-12-24T00:00:00+01:00)")
	}
	t, err := time.Parse(time.RFC3339, text)
	if err != nil {
		return time.Time{}, fieldErrorf(i, key, "must be an RFC 3339 time such as 2026-12-24T00:00:00+01:00, got %q", text)
	}
	return t.UTC(), nil
}

func checkName(i int, name string) (string, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return "", fieldErrorf(i, KeyName, "is required: every window has a name")
	case len(name) > MaxNameBytes:
		return "", fieldErrorf(i, KeyName, "must be at most %d bytes, got %d", MaxNameBytes, len(name))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", fieldErrorf(i, KeyName, "must not contain control characters, got %q", name)
	}
	return name, nil
}

// stringValue reads an optional string key. YAML decodes an unquoted
// timestamp as time.Time; it is taken back as RFC 3339.
func stringValue(i int, key string, m map[string]any) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return "", fieldErrorf(i, key, "must be valid UTF-8")
		}
		return strings.TrimSpace(x), nil
	case time.Time:
		if key == KeyFrom || key == KeyUntil {
			return x.Format(time.RFC3339Nano), nil
		}
	}
	return "", fieldErrorf(i, key, "must be a string, got %s", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func containsString(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}
