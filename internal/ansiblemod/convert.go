package ansiblemod

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/user"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Values in a decoded args file are nil, bool, json.Number, string, []any and
// map[string]any. Conversion produces string, int, float64, bool, []any and
// map[string]any, following the rules of Ansible's check_type_* functions.

var (
	booleansTrue  = []string{"y", "yes", "on", "1", "true", "t"}
	booleansFalse = []string{"n", "no", "off", "0", "false", "f"}
)

// validBooleans lists Python's BOOLEANS set as its message shows it: 1, 1.0
// and True are one member of a Python set, so only 1 (and 0) appear. Python's
// order is hash order, which changes between runs; ours is fixed.
const validBooleans = "'y', 'yes', 'on', '1', 'true', 't', 1, 'n', 'no', 'off', '0', 'false', 'f', 0"

// pyType names a value's Python class, as Ansible's messages show it.
func pyType(v any) string {
	switch x := v.(type) {
	case nil:
		return "<class 'NoneType'>"
	case bool:
		return "<class 'bool'>"
	case json.Number:
		if isIntLiteral(string(x)) {
			return "<class 'int'>"
		}
		return "<class 'float'>"
	case int, int64:
		return "<class 'int'>"
	case float64:
		return "<class 'float'>"
	case string:
		return "<class 'str'>"
	case []any:
		return "<class 'list'>"
	case map[string]any:
		return "<class 'dict'>"
	}
	return fmt.Sprintf("<class '%T'>", v)
}

// isIntLiteral tells a JSON integer ("-12", any size) from a JSON float.
func isIntLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// pyStr renders a value as Python's str() would, which is what Ansible does
// when a non-string is given for a str option.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

// pyRepr renders a value as Python's repr() would. Dict keys are sorted:
// Go maps do not keep the order of the JSON input as Python's dicts do.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyQuote(x)
	case json.Number:
		if isIntLiteral(string(x)) {
			return strings.TrimLeft(string(x), "+")
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return string(x)
		}
		return pyFloat(f)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return pyFloat(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// pyQuote quotes a string as Python's repr does: single quotes unless the
// text holds a single quote and no double quote; control characters escaped.
func pyQuote(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, c := range s {
		switch {
		case c == quote || c == '\\':
			b.WriteRune('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c == ' ' || unicode.IsPrint(c):
			b.WriteRune(c)
		case c <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			fmt.Fprintf(&b, `\U%08x`, c)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// pyFloat renders a float as Python's repr: shortest round-trip digits,
// always a decimal point, exponent form below 1e-4 and from 1e16.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Convert coerces v to type t with Ansible's rules. The error text is the
// detail Ansible puts after "we were unable to convert to TYPE: ".
func Convert(t Type, v any) (any, error) {
	switch t {
	case Str, "":
		return toStr(v)
	case Path:
		s, err := toStr(v)
		if err != nil {
			return nil, err
		}
		if strings.ContainsRune(s.(string), 0) {
			// Python's open() says "embedded null byte"; no system call
			// takes such a path, so it is refused before any is made.
			return nil, fmt.Errorf("the path contains a NUL byte")
		}
		return expandPath(s.(string)), nil
	case Int:
		return toInt(v)
	case Float:
		return toFloat(v)
	case Bool:
		return toBool(v)
	case List:
		return toList(v)
	case Dict:
		return toDict(v)
	case Raw:
		return normalize(v), nil
	}
	return nil, fmt.Errorf("internal error: unknown option type %q", t)
}

func toStr(v any) (any, error) {
	if v == nil {
		return nil, fmt.Errorf("'None' is not a string and conversion is not allowed")
	}
	return pyStr(v), nil
}

// The int message is ansible-core 2.14's; what is accepted is 2.18's, which
// goes through Decimal: "42.0" and "1e3" are whole numbers, "42.5" is not.
func toInt(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case json.Number:
		if i, ok := wholeNumber(string(x)); ok {
			return i, nil
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int(x), nil
		}
	case string:
		if i, ok := wholeNumber(x); ok {
			return i, nil
		}
	}
	return nil, fmt.Errorf("%s cannot be converted to an int", pyType(v))
}

// decimalText is the syntax Python's Decimal accepts for finite numbers
// (after it strips spaces and removes every underscore).
var decimalText = regexp.MustCompile(`^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$`)

// wholeNumber parses decimal text that denotes an integer that fits in an
// int: "42", " 42 ", "42.0", "1e3", "1_000". Hex, fractions and inf do not.
// It works on the digits as text, so a number of a million digits or a huge
// exponent is refused at once instead of being computed.
func wholeNumber(s string) (int, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	m := decimalText.FindStringSubmatch(s)
	if m == nil || m[2]+m[3] == "" {
		return 0, false
	}
	digits := strings.TrimLeft(m[2]+m[3], "0")
	if digits == "" {
		return 0, true // 0, 0.000, 0e999999
	}
	exp := 0
	if m[4] != "" {
		e, err := strconv.Atoi(m[4])
		if err != nil || e > 1000 || e < -1000 {
			return 0, false // far beyond int range, or a tiny fraction
		}
		exp = e
	}
	// The value is digits × 10^scale.
	scale := exp - len(m[3])
	if scale < 0 {
		cut := len(digits) + scale
		if cut < 0 || strings.Trim(digits[max(cut, 0):], "0") != "" {
			return 0, false // a fraction is left
		}
		digits = digits[:cut]
	} else {
		if len(digits)+scale > 19 {
			return 0, false // at least 10^19, beyond int64
		}
		digits += strings.Repeat("0", scale)
	}
	i, err := strconv.ParseInt(m[1]+digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return int(i), true
}

// toFloat converts as Python's float() does, except that NaN and the
// infinities are refused: no option of this collection means anything by
// them, and a NaN compares false with every bound, so it would slip past
// range checks. 1e400 is infinite too.
func toFloat(v any) (any, error) {
	f, err := pyToFloat(v)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s is not a finite number", pyRepr(v))
	}
	return f, nil
}

// pyToFloat is Python's float(): non-finite values included.
func pyToFloat(v any) (float64, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case json.Number:
		// Python's json gives inf for 1e400, so a range error is a value.
		f, err := strconv.ParseFloat(string(x), 64)
		if err == nil || errors.Is(err, strconv.ErrRange) {
			return f, nil
		}
	case string:
		if f, ok := pyParseFloat(x); ok {
			return f, nil
		}
	}
	return 0, fmt.Errorf("%s cannot be converted to a float", pyType(v))
}

// floatText is Python's float() syntax for finite numbers: decimal only,
// single underscores between digits.
var floatText = regexp.MustCompile(`^[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?$`)

// pyParseFloat accepts what Python's float() does: surrounding spaces,
// "inf", "infinity", "nan" in any case, "1e3", "1_000.5"; not hex.
func pyParseFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	sign := 1.0
	unsigned := strings.TrimLeft(s, "+-")
	if len(s)-len(unsigned) > 1 {
		return 0, false
	}
	if strings.HasPrefix(s, "-") {
		sign = -1
	}
	switch strings.ToLower(unsigned) {
	case "inf", "infinity":
		return math.Inf(int(sign)), true
	case "nan":
		return math.NaN(), true
	}
	if !floatText.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange)
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case json.Number, int, int64, float64:
		f, _ := pyToFloat(x)
		if f == 1.0 || f == 0.0 {
			return f == 1.0, nil
		}
		return nil, invalidBool(pyStr(x))
	case string:
		n := strings.ToLower(strings.TrimSpace(x))
		for _, t := range booleansTrue {
			if n == t {
				return true, nil
			}
		}
		for _, f := range booleansFalse {
			if n == f {
				return false, nil
			}
		}
		return nil, invalidBool(x)
	}
	return nil, fmt.Errorf("%s cannot be converted to a bool", pyType(v))
}

func invalidBool(text string) error {
	return fmt.Errorf("The value '%s' is not a valid boolean.  Valid booleans include: %s", text, validBooleans)
}

func toList(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		return normalize(x), nil
	case string:
		// Ansible splits on commas without stripping: "a, b" is ["a", " b"].
		parts := strings.Split(x, ",")
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case json.Number, int, int64, float64, bool:
		return []any{pyStr(x)}, nil
	}
	return nil, fmt.Errorf("%s cannot be converted to a list", pyType(v))
}

func toDict(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return normalize(x), nil
	case string:
		if strings.HasPrefix(x, "{") {
			if m, err := decodeJSONObject([]byte(x)); err == nil {
				return normalize(m), nil
			}
			if m, ok := parsePythonDict(x); ok {
				return m, nil
			}
			return nil, fmt.Errorf("unable to evaluate string as dictionary")
		}
		if strings.Contains(x, "=") {
			return parseKeyValues(x)
		}
		return nil, fmt.Errorf("dictionary requested, could not parse JSON or key=value")
	}
	return nil, fmt.Errorf("%s cannot be converted to a dict", pyType(v))
}

// decodeJSONObject decodes exactly one JSON object (numbers as json.Number)
// and rejects anything after it, as Python's json.loads does. Like
// json.loads, it reads the bare NaN, Infinity and -Infinity that Python's
// json.dumps writes for non-finite floats: Ansible sends them when a task
// says .nan or .inf, and the option's conversion then refuses them with a
// message naming it, instead of the whole args file being unreadable.
func decodeJSONObject(data []byte) (map[string]any, error) {
	data, marked := markNonFinite(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("it is empty")
		}
		return nil, err
	}
	if m == nil {
		return nil, errors.New("it is null, not an object")
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("unexpected text after the JSON object at offset %d", len(data)-len(rest))
	}
	if marked {
		v, err := unmarkNonFinite(m)
		if err != nil {
			return nil, err
		}
		return v.(map[string]any), nil
	}
	return m, nil
}

// isJSONObject reports whether data is the one JSON object an args file
// holds, read as decodeJSONObject reads it.
func isJSONObject(data []byte) bool {
	_, err := decodeJSONObject(data)
	return err == nil
}

// nonFiniteMark prefixes the JSON string that stands for a non-finite
// token while encoding/json, which has no such numbers, decodes the text.
// It starts with a NUL byte, which no option value of a real task holds.
const nonFiniteMark = "\x00threader.guard non-finite:"

// markNonFinite replaces the tokens NaN, Infinity and -Infinity outside
// strings by marked strings. Outside strings JSON has no other words that
// start with N, I or -I, so nothing valid is changed. It returns data as is
// when there is no such token.
func markNonFinite(data []byte) ([]byte, bool) {
	var out []byte
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		default:
			if token := nonFiniteToken(data[i:]); token != "" {
				if out == nil {
					out = append(make([]byte, 0, len(data)+64), data[:i]...)
				}
				out = append(out, `"\u0000`+nonFiniteMark[1:]+token+`"`...)
				i += len(token) - 1
				continue
			}
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return data, false
	}
	return out, true
}

func nonFiniteToken(data []byte) string {
	for _, token := range []string{"NaN", "Infinity", "-Infinity"} {
		if bytes.HasPrefix(data, []byte(token)) {
			return token
		}
	}
	return ""
}

// unmarkNonFinite turns marked strings back into the floats they stand for
// (float64, as a json.Number could not be encoded back, in invocation). A
// marked key was a bare word where a key belongs, which is no JSON at all.
func unmarkNonFinite(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if token, ok := strings.CutPrefix(x, nonFiniteMark); ok {
			return map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}[token], nil
		}
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = unmarkNonFinite(e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.HasPrefix(k, nonFiniteMark) {
				return nil, fmt.Errorf("invalid character %q looking for beginning of object key string", k[len(nonFiniteMark)])
			}
			var err error
			if x[k], err = unmarkNonFinite(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// parseKeyValues follows check_type_dict: fields split on commas or spaces
// outside quotes, backslash escapes the next character.
func parseKeyValues(s string) (any, error) {
	var fields []string
	var buf strings.Builder
	var quote rune
	escaped := false
	flush := func() {
		if buf.Len() > 0 {
			fields = append(fields, buf.String())
		}
		buf.Reset()
	}
	for _, c := range strings.TrimSpace(s) {
		switch {
		case escaped:
			buf.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped = true
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == ',' || c == ' '):
			flush()
		default:
			buf.WriteRune(c)
		}
	}
	flush()
	out := map[string]any{}
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("unable to evaluate string in the \"key=value\" format as dictionary")
		}
		out[k] = val
	}
	return out, nil
}

// normalize turns json.Number into int (float64 when it is not a whole
// number or too large), recursively, so values are plain Go values.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return int(i)
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	}
	return v
}

// expandPath does what Python's os.path.expanduser(os.path.expandvars(p)) does.
func expandPath(p string) string {
	return expandUser(expandVars(p))
}

// shellVar is posixpath.expandvars' pattern: $name or ${anything}.
var shellVar = regexp.MustCompile(`\$([A-Za-z0-9_]+|\{[^}]*\})`)

// expandVars replaces $NAME and ${NAME} with the variable's value and, as
// Python does, leaves references to unset variables exactly as written.
func expandVars(p string) string {
	return shellVar.ReplaceAllStringFunc(p, func(ref string) string {
		name := ref[1:]
		if strings.HasPrefix(ref, "${") {
			name = ref[2 : len(ref)-1]
		}
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return ref
	})
}

// expandUser replaces a leading ~ or ~user as Python does: $HOME first, then
// the password database; the rest of the path is kept as written (no Clean).
func expandUser(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	name, rest, found := strings.Cut(p[1:], "/")
	if found {
		rest = "/" + rest
	}
	var home string
	if name == "" {
		if h, ok := os.LookupEnv("HOME"); ok {
			home = h
		} else if u, err := user.Current(); err == nil {
			home = u.HomeDir
		} else {
			return p
		}
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return p
		}
		home = u.HomeDir
	}
	if out := strings.TrimRight(home, "/") + rest; out != "" {
		return out
	}
	return "/"
}
