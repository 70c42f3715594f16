package ansiblemod

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Values in a decoded args file are nil, bool, json.Number, string, []any and
// map[string]any. Conversion produces string, int, float64, bool, []any and
// map[string]any, following the rules of Ansible's check_type_* functions.

var (
	booleansTrue  = []string{"y", "yes", "on", "1", "true", "t"}
	booleansFalse = []string{"n", "no", "off", "0", "false", "f"}
)

const validBooleans = "'y', 'yes', 'on', '1', 'true', 't', 1, 1.0, True, 'n', 'no', 'off', '0', 'false', 'f', 0, 0.0, False"

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

func isIntLiteral(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// pyStr renders a value as Python's str() would, which is what Ansible does
// when a non-string is given for a str option.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	default:
		return pyRepr(v)
	}
}

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
		return "'" + strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), "'", `\'`) + "'"
	case json.Number:
		if isIntLiteral(string(x)) {
			return string(x)
		}
		f, err := x.Float64()
		if err != nil {
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

func toInt(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case int:
		return x, nil
	case json.Number:
		return intFromText(string(x), v)
	case float64:
		return intFromText(strconv.FormatFloat(x, 'g', -1, 64), v)
	case string:
		return intFromText(strings.TrimSpace(x), v)
	}
	return nil, fmt.Errorf("%s cannot be converted to an int", pyType(v))
}

// intFromText accepts what Python's Decimal accepts when the value is whole:
// "42", "42.0", "1e3"; but not "42.5" or "0x10".
func intFromText(s string, orig any) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return int(i), nil
	}
	r, ok := new(big.Rat).SetString(s)
	if ok && !strings.ContainsAny(s, "xX/") && r.IsInt() && r.Num().IsInt64() {
		return int(r.Num().Int64()), nil
	}
	return nil, fmt.Errorf("%s cannot be converted to an int", pyType(orig))
}

func toFloat(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err == nil {
			return f, nil
		}
	case string:
		if f, ok := pyParseFloat(x); ok {
			return f, nil
		}
	}
	return nil, fmt.Errorf("%s cannot be converted to a float", pyType(v))
}

// pyParseFloat accepts what Python's float() does: surrounding spaces,
// "inf", "nan", "1e3", "1_000" is not covered on purpose (rare in YAML).
func pyParseFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "inf", "infinity":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		return math.NaN(), true
	}
	if strings.ContainsAny(s, "xXpP_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case json.Number:
		f, err := x.Float64()
		if err == nil && (f == 1 || f == 0) {
			return f == 1, nil
		}
		return nil, invalidBool(string(x))
	case int:
		if x == 1 || x == 0 {
			return x == 1, nil
		}
		return nil, invalidBool(strconv.Itoa(x))
	case float64:
		if x == 1 || x == 0 {
			return x == 1, nil
		}
		return nil, invalidBool(pyFloat(x))
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
		return x, nil
	case string:
		// Ansible splits on commas without stripping: "a, b" is ["a", " b"].
		parts := strings.Split(x, ",")
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case json.Number, int, float64, bool:
		return []any{pyStr(x)}, nil
	}
	return nil, fmt.Errorf("%s cannot be converted to a list", pyType(v))
}

func toDict(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case string:
		if strings.HasPrefix(x, "{") {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(x))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("unable to evaluate string as dictionary")
			}
			return m, nil
		}
		if strings.Contains(x, "=") {
			return parseKeyValues(x)
		}
		return nil, fmt.Errorf("dictionary requested, could not parse JSON or key=value")
	}
	return nil, fmt.Errorf("%s cannot be converted to a dict", pyType(v))
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

// normalize turns json.Number into int or float64, recursively, so raw
// values and results are plain Go values.
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
	p = os.Expand(p, func(name string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return "${" + name + "}"
	})
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	} else if strings.HasPrefix(p, "~") {
		name, rest, _ := strings.Cut(p[1:], "/")
		if u, err := user.Lookup(name); err == nil {
			return filepath.Join(u.HomeDir, rest)
		}
	}
	return p
}
