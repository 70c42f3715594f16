package ansiblemod

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
)

// Result holds the fields a module returns. The runtime adds changed,
// failed, msg, invocation, warnings, deprecations and diff.
type Result map[string]any

// Module is what a module's handler sees: the validated options and the
// task's context (check mode, diff mode).
type Module struct {
	// Name is the module name used in messages: _ansible_module_name as
	// the task wrote it (short or FQCN), else the name given to Run.
	Name string
	// CheckMode is true under --check: the handler must not change anything,
	// and reports what it would have changed.
	CheckMode bool
	// DiffMode is true under --diff.
	DiffMode bool
	// NoLog is the task's no_log: nothing of this task may reach a log.
	NoLog bool
	// RemoteUser is the user the module runs as, for defaults such as owner.
	RemoteUser string

	params       map[string]any
	provided     map[string]bool
	warnings     []string
	deprecations []map[string]any
	diff         map[string]any
	masker       *Masker
	spec         Spec
	failedArgs   map[string]any // the user's options, when validation failed
}

// Str returns a str or path option ("" when unset).
func (m *Module) Str(name string) string { s, _ := m.get(name).(string); return s }

// Int returns an int option (0 when unset).
func (m *Module) Int(name string) int { i, _ := m.get(name).(int); return i }

// Float returns a float option (0 when unset).
func (m *Module) Float(name string) float64 { f, _ := m.get(name).(float64); return f }

// Bool returns a bool option (false when unset).
func (m *Module) Bool(name string) bool { b, _ := m.get(name).(bool); return b }

// List returns a list option's elements (nil when unset).
func (m *Module) List(name string) []any { l, _ := m.get(name).([]any); return l }

// Strings returns a list option whose elements are strings.
func (m *Module) Strings(name string) []string {
	var out []string
	for _, e := range m.List(name) {
		out = append(out, pyStr(e))
	}
	return out
}

// Ints returns a list option whose elements are ints.
func (m *Module) Ints(name string) []int {
	var out []int
	for _, e := range m.List(name) {
		if i, ok := e.(int); ok {
			out = append(out, i)
		}
	}
	return out
}

// Dict returns a dict option (nil when unset).
func (m *Module) Dict(name string) map[string]any { d, _ := m.get(name).(map[string]any); return d }

// Raw returns the converted value of an option, nil when unset.
func (m *Module) Raw(name string) any { return m.get(name) }

// IsSet reports whether the option has a value, given or defaulted.
func (m *Module) IsSet(name string) bool { return m.get(name) != nil }

// Provided reports whether the user gave the option (not a default).
func (m *Module) Provided(name string) bool { return m.provided[name] }

func (m *Module) get(name string) any {
	if _, ok := m.spec.Options[name]; !ok {
		panic(fmt.Sprintf("option %q is not in the module's spec", name))
	}
	return m.params[name]
}

// Warn adds a warning that Ansible shows after the task.
func (m *Module) Warn(format string, args ...any) {
	m.warnings = append(m.warnings, fmt.Sprintf(format, args...))
}

// Deprecate adds a deprecation notice for a collection version.
func (m *Module) Deprecate(msg, version string) {
	m.deprecations = append(m.deprecations, map[string]any{
		"msg": msg, "version": version, "collection_name": "threader.guard",
	})
}

// SetDiff records the before and after state; it is returned only when
// Ansible runs with --diff, as core modules do.
func (m *Module) SetDiff(before, after any) {
	m.diff = map[string]any{"before": before, "after": after}
}

// Mask hides no_log values in a string, for logs and messages.
func (m *Module) Mask(s string) string { return m.masker.String(s) }

// Masker returns the module's no_log masker, for logs and metrics.
func (m *Module) Masker() *Masker { return m.masker }

// Handler is a module's logic: it reads options from m and returns the
// result fields, or an error that fails the task (the result fields are kept).
type Handler func(m *Module) (Result, error)

// IsModuleInvocation tells an Ansible run from a command-line run by how
// Ansible invokes a binary module, and by nothing else: it copies the binary
// to <remote tmp>/AnsiballZ_<name> (for async too, where async_wrapper runs
// that copy) and passes the args file as the one argument. The working
// directory is never looked at: `qos_guard status` is the CLI even where a
// file named "status" holds JSON. (The collection's action plugins use
// StdinArgsFlag instead; see IsStdinInvocation.)
func IsModuleInvocation(args []string) bool {
	return len(args) > 0 && strings.HasPrefix(filepath.Base(args[0]), "AnsiballZ_")
}

// Run executes a module invocation and returns its exit code: 1 when the
// result says failed, else 0. Exactly one JSON object is written to the
// original stdout; anything else the handler (or a child process) writes to
// stdout is sent to stderr instead. Run is meant to be called once per
// process: it points fd 1 at stderr for good.
func Run(name string, spec Spec, handler Handler, args []string) int {
	out := guardStdout()
	res, failed := execute(name, spec, handler, args)
	data, err := json.Marshal(res)
	if err != nil { // cannot happen: execute returns JSON-shaped values
		data = []byte(`{"changed": false, "failed": true, "msg": "internal error: the result cannot be encoded as JSON"}`)
		failed = true
	}
	out.Write(append(data, '\n'))
	if failed {
		return 1
	}
	return 0
}

// panicLog receives a handler's panic and stack (tests silence it).
var panicLog io.Writer = os.Stderr

// execute returns the finished result and whether the task failed.
func execute(name string, spec Spec, handler Handler, args []string) (res map[string]any, failed bool) {
	m := &Module{Name: name, spec: spec, masker: NewMasker()}
	defer func() {
		if r := recover(); r != nil {
			// The stack helps whoever runs the module by hand; Ansible
			// drops stderr when stdout parses, and stdout stays one object.
			fmt.Fprintf(panicLog, "panic in module %s: %s\n\n%s", m.Name, m.masker.String(fmt.Sprint(r)), debug.Stack())
			res, failed = m.finish(nil, fmt.Errorf("internal error in module %s: %v (this is a bug; please report it)", m.Name, r))
		}
	}()
	raw, err := readArgs(args)
	if err == nil {
		err = takeEnvironment(raw) // before anything reads the environment
	}
	if err != nil {
		return m.finish(nil, err)
	}
	m.readInternal(raw)
	ignoreUnknown, _ := toBool(raw["_ansible_ignore_unknown_opts"])
	user := userParams(raw)
	v, err := validate(m.Name, spec, user, ignoreUnknown == true)
	m.masker.Add(v.noLogValues...)
	m.warnings = append(m.warnings, v.warnings...)
	if err != nil {
		m.failedArgs = user
		return m.finish(nil, err)
	}
	m.params, m.provided = v.params, v.provided
	if m.CheckMode && !spec.SupportsCheckMode {
		return m.finish(Result{"skipped": true, "changed": false, "msg": fmt.Sprintf("remote module (%s) does not support check mode", m.Name)}, nil)
	}
	result, err := handler(m)
	return m.finish(result, err)
}

func readArgs(args []string) (map[string]any, error) {
	if len(args) < 2 {
		return nil, errors.New("No argument file provided")
	}
	data, err := os.ReadFile(args[1])
	if err != nil {
		return nil, fmt.Errorf("cannot read the module arguments: %v", err)
	}
	raw, err := decodeJSONObject(data)
	if err != nil {
		return nil, fmt.Errorf("the module arguments in %s are not a JSON object: %v", args[1], err)
	}
	// Python modules get their args wrapped; accept that form too.
	if wrapped, ok := raw["ANSIBLE_MODULE_ARGS"].(map[string]any); ok && len(raw) == 1 {
		raw = wrapped
	}
	return raw, nil
}

// readInternal reads the _ansible_* keys this runtime uses, leniently.
func (m *Module) readInternal(raw map[string]any) {
	flag := func(k string) bool { b, _ := toBool(raw[k]); return b == true }
	m.CheckMode = flag("_ansible_check_mode")
	m.DiffMode = flag("_ansible_diff")
	m.NoLog = flag("_ansible_no_log")
	// Verbatim, as Ansible does: the name the task used, FQCN or short.
	if n, ok := raw["_ansible_module_name"].(string); ok && n != "" {
		m.Name = n
	}
	if u := os.Getenv("USER"); u != "" {
		m.RemoteUser = u
	} else if u := os.Getenv("LOGNAME"); u != "" {
		m.RemoteUser = u
	}
}

// userParams drops every _ansible_* key: Ansible adds new ones between
// releases, and they are never the user's options.
func userParams(raw map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range raw {
		if !strings.HasPrefix(k, "_ansible_") {
			out[k] = v
		}
	}
	return out
}

// finish assembles the result: handler fields, then the runtime's fields,
// then masking of every no_log value anywhere in it. It returns whether the
// task failed: an error, or the handler's own failed field.
func (m *Module) finish(result Result, err error) (map[string]any, bool) {
	res := map[string]any{}
	for k, v := range result {
		res[k] = v
	}
	if _, ok := res["changed"]; !ok {
		res["changed"] = false
	}
	handlerFailed, _ := toBool(canonical(res["failed"]))
	res["failed"] = err != nil || handlerFailed == true
	if err != nil {
		res["msg"] = err.Error()
	}
	if m.params != nil {
		res["invocation"] = map[string]any{"module_args": m.invocationArgs(m.params)}
	} else if m.failedArgs != nil {
		res["invocation"] = map[string]any{"module_args": m.invocationArgs(m.failedArgs)}
	}
	if len(m.warnings) > 0 {
		res["warnings"] = m.warnings
	}
	if len(m.deprecations) > 0 {
		res["deprecations"] = m.deprecations
	}
	switch {
	case !m.DiffMode:
		delete(res, "diff") // core modules report a diff only under --diff
	case m.diff != nil:
		res["diff"] = m.diff
	}
	shaped, perr := plain(res)
	if perr != nil {
		shaped = map[string]any{"changed": false, "failed": true,
			"msg": fmt.Sprintf("internal error in module %s: the result cannot be encoded as JSON: %v", m.Name, perr)}
	}
	final := m.masker.Value(shaped).(map[string]any)
	return final, final["failed"] == true
}

// invocationArgs is Ansible's invocation.module_args: the options with the
// value of every no_log option (or alias of one) replaced, sub-options
// included.
func (m *Module) invocationArgs(params map[string]any) map[string]any {
	return maskArgs(m.spec.Options, params)
}

// maskArgs masks the NoLog and NoLogValues options of one level of options
// and descends into sub-options (a dict, or a list of dicts).
func maskArgs(options map[string]Option, params map[string]any) map[string]any {
	byKey := map[string]Option{}
	for name, o := range options {
		for _, key := range append([]string{name}, o.Aliases...) {
			byKey[key] = o
		}
	}
	args := map[string]any{}
	for k, v := range params {
		o := byKey[k]
		switch {
		case v == nil:
		case o.NoLog:
			v = noLogPlaceholder
		case o.NoLogValues:
			v = maskDictValues(v)
		case o.hasSubOptions() && hasSecrets(o.Options):
			v = maskSubOptions(o.Options, v)
		}
		args[k] = v
	}
	return args
}

// maskSubOptions masks a sub-option value: a dict, or each dict of a list.
// Anything else (a key=value string that failed validation) is masked
// whole: it cannot be looked into reliably.
func maskSubOptions(options map[string]Option, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return maskArgs(options, x)
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = maskSubOptions(options, item)
		}
		return out
	}
	return noLogPlaceholder
}

// hasSecrets reports whether options hold a NoLog or NoLogValues option at
// any depth.
func hasSecrets(options map[string]Option) bool {
	for _, o := range options {
		if o.NoLog || o.NoLogValues || o.hasSubOptions() && hasSecrets(o.Options) {
			return true
		}
	}
	return false
}

// maskDictValues keeps the keys of a NoLogValues option and masks each value;
// anything but a dict (a raw value that failed validation) is masked whole.
func maskDictValues(v any) any {
	d, ok := v.(map[string]any)
	if !ok {
		return noLogPlaceholder
	}
	out := make(map[string]any, len(d))
	for k := range d {
		out[k] = noLogPlaceholder
	}
	return out
}

// plain turns any result value (structs, typed slices) into JSON-shaped
// maps and slices so masking reaches every string in it. Non-finite floats,
// which JSON cannot carry, become the strings "NaN", "Infinity" and
// "-Infinity" (the tokens Python's json module would print), except inside
// structs and custom marshalers, which then fail to encode.
func plain(v any) (any, error) {
	data, err := json.Marshal(v)
	var unsupported *json.UnsupportedValueError
	if errors.As(err, &unsupported) {
		data, err = json.Marshal(finite(reflect.ValueOf(v)))
	}
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	// A JSON number beyond float64 (a 400-digit integer) normalizes to ±Inf.
	return finite(reflect.ValueOf(normalize(out))), nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// finite copies maps, slices and pointers, replacing non-finite floats.
func finite(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	if v.Type().Implements(jsonMarshaler) || v.Type().Implements(textMarshaler) {
		return v.Interface()
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		switch f := v.Float(); {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return finite(v.Elem())
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = finite(it.Value())
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte is base64 text in JSON
		}
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = finite(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
