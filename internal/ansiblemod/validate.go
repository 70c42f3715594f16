package ansiblemod

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// ValidationError is a bad input: its message uses Ansible's wording and
// names the option and what was wrong.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// validation is the outcome of checking user parameters against a spec. On
// error it still holds what was learnt so far, notably the no_log values, so
// that the error can be reported without echoing a secret.
type validation struct {
	params      map[string]any
	provided    map[string]bool
	warnings    []string
	noLogValues []string
}

// validator carries what Ansible accumulates across the levels of a spec.
type validator struct {
	moduleName  string
	warnings    []string
	noLogValues []string
	unsupported []unknownOption
}

type unknownOption struct {
	name string // dotted: parent.child
	spec Spec   // the spec it was checked against, for the supported list
}

// validate runs the steps of Ansible's ArgumentSpecValidator in its order
// and reports the first error, as Ansible does. Unsupported parameters are
// collected over every level and reported only when nothing else failed,
// because Ansible appends that error last; with ignoreUnknown they are
// dropped instead (_ansible_ignore_unknown_opts).
func validate(moduleName string, spec Spec, raw map[string]any, ignoreUnknown bool) (*validation, error) {
	vr := &validator{moduleName: moduleName}
	if err := checkSpec(spec, nil); err != nil {
		return &validation{noLogValues: noLogValues(spec, raw)}, err
	}
	params, provided, err := vr.level(spec, raw, nil, "")
	out := &validation{params: params, provided: provided, warnings: vr.warnings, noLogValues: vr.noLogValues}
	if err == nil && !ignoreUnknown {
		err = vr.unsupportedError()
	}
	return out, err
}

// level validates one level of options: the module's, or one sub-option
// dict. context names the parent options, prefix is the same path in the
// form of alias warnings ("parent[0].").
func (vr *validator) level(spec Spec, in map[string]any, context []string, prefix string) (map[string]any, map[string]bool, error) {
	params := map[string]any{}
	for k, v := range in {
		if v != nil { // null is treated as absent: defaults apply, required fails
			params[k] = v
		}
	}
	names := optionNames(spec)
	vr.applyFallbacks(spec, names, params)
	vr.resolveAliases(spec, names, params, prefix)
	vr.noLogValues = append(vr.noLogValues, noLogValues(spec, params)...)
	vr.collectUnsupported(spec, params, context)
	if err := checkMutuallyExclusive(spec.MutuallyExclusive, params, context); err != nil {
		return params, nil, err
	}
	provided := map[string]bool{}
	for k := range params {
		provided[k] = true
	}
	vr.applyDefaults(spec, names, params)
	if err := checkRequired(spec, names, params, context); err != nil {
		return params, provided, err
	}
	for _, name := range names {
		if err := convertOption(name, spec.Options[name], params, context); err != nil {
			return params, provided, err
		}
	}
	// Converted values can differ from the given text ("0042" becomes 42).
	vr.noLogValues = append(vr.noLogValues, noLogValues(spec, params)...)
	for _, name := range names {
		if err := checkChoices(name, spec.Options[name], params, context); err != nil {
			return params, provided, err
		}
	}
	if err := checkDependencies(spec, params, context); err != nil {
		return params, provided, err
	}
	for _, name := range names {
		if _, ok := params[name]; !ok {
			params[name] = nil
		}
	}
	for _, name := range names {
		if err := vr.subOptions(name, spec.Options[name], params, context, prefix); err != nil {
			return params, provided, err
		}
	}
	return params, provided, nil
}

var passwordLike = regexp.MustCompile(`(?i)^(?:.+[-_\s])?pass(?:[-_\s]?(?:word|phrase|wrd|wd)?)(?:[-_\s].+)?$`)

// checkSpec catches programming errors in a module's spec before any input
// is looked at, so they fail every run (and so every test) of the module.
func checkSpec(spec Spec, context []string) error {
	for _, name := range optionNames(spec) {
		o := spec.Options[name]
		path := withContext(name, context)
		switch {
		case o.Required && o.Default != nil:
			return fmt.Errorf("internal error: required and default are mutually exclusive for %s", path)
		case !knownType(o.typ()):
			return fmt.Errorf("internal error: option %s has unknown type %q", path, o.Type)
		case o.Elements != "" && o.typ() != List:
			return fmt.Errorf("internal error: option %s sets elements, which is only supported with type list", path)
		case o.Elements != "" && !knownType(o.Elements):
			return fmt.Errorf("internal error: option %s has unknown elements type %q", path, o.Elements)
		case o.Options != nil && !o.hasSubOptions():
			return fmt.Errorf("internal error: option %s has sub-options but is not of type dict or list with elements dict", path)
		case o.NoLogValues && o.typ() != Dict:
			return fmt.Errorf("internal error: option %s sets NoLogValues, which is only supported with type dict", path)
		case passwordLike.MatchString(name) && !o.NoLog && !o.LogSafe:
			return fmt.Errorf("internal error: option %s looks like a secret but does not set NoLog (set LogSafe if it holds none)", path)
		}
		if o.hasSubOptions() {
			if err := checkSpec(o.subSpec(), append(context[:len(context):len(context)], name)); err != nil {
				return err
			}
		}
	}
	return checkSpecReferences(spec, context)
}

func knownType(t Type) bool {
	switch t {
	case Str, Int, Float, Bool, List, Dict, Path, Raw:
		return true
	}
	return false
}

// checkSpecReferences makes sure the dependency rules name real options: a
// typo there would silently disable the rule.
func checkSpecReferences(spec Spec, context []string) error {
	groups := map[string][][]string{
		"mutually_exclusive": spec.MutuallyExclusive,
		"required_together":  spec.RequiredTogether,
		"required_one_of":    spec.RequiredOneOf,
	}
	for _, r := range spec.RequiredIf {
		groups["required_if"] = append(groups["required_if"], append([]string{r.Key}, r.Requirements...))
	}
	for key, names := range spec.RequiredBy {
		groups["required_by"] = append(groups["required_by"], append([]string{key}, names...))
	}
	for _, rule := range []string{"mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by"} {
		for _, group := range groups[rule] {
			for _, name := range group {
				if _, ok := spec.Options[name]; !ok {
					return fmt.Errorf("internal error: %s refers to %s, which is not an option", rule, withContext(name, context))
				}
			}
		}
	}
	return nil
}

func optionNames(spec Spec) []string {
	names := make([]string, 0, len(spec.Options))
	for n := range spec.Options {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func withContext(name string, context []string) string {
	return strings.Join(append(context[:len(context):len(context)], name), ".")
}

// applyFallbacks fills absent options from the environment. Unlike Ansible,
// an option given through an alias is not absent, so no spurious "Both
// option and its alias" warning follows.
func (vr *validator) applyFallbacks(spec Spec, names []string, params map[string]any) {
	for _, name := range names {
		o := spec.Options[name]
		if _, ok := params[name]; ok || anyAliasSet(o, params) {
			continue
		}
		for _, env := range o.EnvFallback {
			if val, ok := os.LookupEnv(env); ok {
				params[name] = val
				break
			}
		}
	}
}

func anyAliasSet(o Option, params map[string]any) bool {
	for _, a := range o.Aliases {
		if _, ok := params[a]; ok {
			return true
		}
	}
	return false
}

// resolveAliases moves alias values to the option's name; the alias wins.
func (vr *validator) resolveAliases(spec Spec, names []string, params map[string]any, prefix string) {
	for _, name := range names {
		for _, alias := range spec.Options[name].Aliases {
			val, ok := params[alias]
			if !ok {
				continue
			}
			if _, both := params[name]; both {
				vr.warnings = append(vr.warnings, fmt.Sprintf("Both option %s%s and its alias %s%s are set.", prefix, name, prefix, alias))
			}
			params[name] = val
			delete(params, alias)
		}
	}
}

// MinSecretLen is the shortest value of a NoLogValues option that is masked
// outside invocation (see Option.NoLogValues).
const MinSecretLen = 4

// noLogValues lists the secrets among params: the values of NoLog options,
// also inside sub-options (given under their name or an alias, and whether
// the sub-options are still a JSON or key=value string or already a dict).
func noLogValues(spec Spec, params map[string]any) []string {
	var out []string
	for name, o := range spec.Options {
		for _, key := range append([]string{name}, o.Aliases...) {
			val, ok := params[key]
			if !ok || val == nil {
				continue
			}
			if o.NoLog {
				out = append(out, leafStrings(val)...)
			}
			if o.NoLogValues {
				for _, v := range leafStrings(val) {
					if len(v) >= MinSecretLen {
						out = append(out, v)
					}
				}
			}
			if o.hasSubOptions() {
				for _, sub := range subDicts(val) {
					out = append(out, noLogValues(o.subSpec(), sub)...)
				}
			}
		}
	}
	return out
}

// subDicts returns the dicts a sub-option value holds, before or after
// conversion: a dict, a list of dicts, or strings that convert to dicts.
func subDicts(val any) []map[string]any {
	items, isList := val.([]any)
	if !isList {
		items = []any{val}
	}
	var out []map[string]any
	for _, item := range items {
		if s, ok := item.(string); ok {
			if d, err := toDict(s); err == nil {
				item = d
			}
		}
		if d, ok := item.(map[string]any); ok {
			out = append(out, d)
		}
	}
	return out
}

// leafStrings lists the string forms of every scalar inside a value, as
// Ansible's _return_datastructure_name does.
func leafStrings(val any) []string {
	switch x := val.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, leafStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, leafStrings(e)...)
		}
		return out
	case bool:
		return nil // Ansible keeps booleans: masking "True" would be noise
	}
	if s := pyStr(val); s != "" {
		return []string{s}
	}
	return nil
}

// collectUnsupported records and removes parameters the spec does not know.
func (vr *validator) collectUnsupported(spec Spec, params map[string]any, context []string) {
	known := map[string]bool{}
	for name, o := range spec.Options {
		known[name] = true
		for _, a := range o.Aliases {
			known[a] = true
		}
	}
	for k := range params {
		if !known[k] {
			vr.unsupported = append(vr.unsupported, unknownOption{name: withContext(k, context), spec: spec})
			delete(params, k)
		}
	}
}

// unsupportedError words the error as ansible-core 2.14 does: every unknown
// name (sorted, nested ones dotted), then the supported names and, in one
// parenthesis, the aliases of the level where the last unknown name was.
func (vr *validator) unsupportedError() error {
	if len(vr.unsupported) == 0 {
		return nil
	}
	sort.Slice(vr.unsupported, func(i, j int) bool { return vr.unsupported[i].name < vr.unsupported[j].name })
	bad := make([]string, len(vr.unsupported))
	for i, u := range vr.unsupported {
		bad[i] = u.name
	}
	spec := vr.unsupported[len(vr.unsupported)-1].spec
	names := optionNames(spec)
	var aliases []string
	for _, o := range spec.Options {
		aliases = append(aliases, o.Aliases...)
	}
	sort.Strings(aliases)
	supported := strings.Join(names, ", ")
	if len(aliases) > 0 {
		supported += " (" + strings.Join(aliases, ", ") + ")"
	}
	return invalid("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
		vr.moduleName, strings.Join(bad, ", "), supported)
}

// applyDefaults sets non-null defaults of absent options; defaults of NoLog
// options are secrets too.
func (vr *validator) applyDefaults(spec Spec, names []string, params map[string]any) {
	for _, name := range names {
		o := spec.Options[name]
		if _, ok := params[name]; ok || o.Default == nil {
			continue
		}
		params[name] = canonical(o.Default)
		if o.NoLog {
			vr.noLogValues = append(vr.noLogValues, leafStrings(params[name])...)
		}
	}
}

func contextSuffix(context []string) string {
	if len(context) == 0 {
		return ""
	}
	return " found in " + strings.Join(context, " -> ")
}

func has(params map[string]any, k string) bool {
	_, ok := params[k]
	return ok
}

func checkMutuallyExclusive(groups [][]string, params map[string]any, context []string) error {
	var bad []string
	for _, group := range groups {
		count := 0
		for _, k := range group {
			if has(params, k) {
				count++
			}
		}
		if count > 1 {
			bad = append(bad, strings.Join(group, "|"))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return invalid("parameters are mutually exclusive: %s%s", strings.Join(bad, ", "), contextSuffix(context))
}

func checkRequired(spec Spec, names []string, params map[string]any, context []string) error {
	var missing []string
	for _, name := range names {
		if spec.Options[name].Required && !has(params, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return invalid("missing required arguments: %s%s", strings.Join(missing, ", "), contextSuffix(context))
}

func convertOption(name string, o Option, params map[string]any, context []string) error {
	val, ok := params[name]
	if !ok {
		return nil
	}
	converted, err := Convert(o.typ(), val)
	if err != nil {
		return invalid("argument '%s' is of type %s%s and we were unable to convert to %s: %s",
			name, pyType(val), typeContext(context), o.typ(), err)
	}
	if o.Elements != "" {
		list := converted.([]any)
		out := make([]any, len(list))
		for i, e := range list {
			if out[i], err = Convert(o.Elements, e); err != nil {
				return invalid("Elements value for option '%s'%s is of type %s and we were unable to convert to %s: %s",
					name, elementsContext(context), pyType(e), o.Elements, err)
			}
		}
		converted = out
	}
	params[name] = converted
	return nil
}

// typeContext and elementsContext differ by a period, as in Ansible.
func typeContext(context []string) string {
	if len(context) == 0 {
		return ""
	}
	return " found in '" + strings.Join(context, " -> ") + "'."
}

func elementsContext(context []string) string {
	if len(context) == 0 {
		return ""
	}
	return " found in '" + strings.Join(context, " -> ") + "'"
}

func checkChoices(name string, o Option, params map[string]any, context []string) error {
	val, ok := params[name]
	if !ok || o.Choices == nil {
		return nil
	}
	choices := make([]any, len(o.Choices))
	texts := make([]string, len(o.Choices))
	for i, c := range o.Choices {
		choices[i] = canonical(c)
		texts[i] = pyStr(choices[i])
	}
	if list, isList := val.([]any); isList {
		var miss []string
		for _, e := range list {
			if !inChoices(e, choices) {
				miss = append(miss, pyStr(e))
			}
		}
		if len(miss) > 0 {
			return invalid("value of %s must be one or more of: %s. Got no match for: %s%s",
				name, strings.Join(texts, ", "), strings.Join(miss, ", "), contextSuffix(context))
		}
		return nil
	}
	if !inChoices(val, choices) {
		// YAML turns yes/no into booleans, which a str option receives as
		// "True"/"False"; Ansible maps them back when the choices allow
		// exactly one reading.
		if s, ok := val.(string); ok && (s == "True" || s == "False") {
			if c, ok := uniqueBooleanChoice(s == "True", choices); ok {
				val = c
				params[name] = c
			}
		}
	}
	if !inChoices(val, choices) {
		return invalid("value of %s must be one of: %s, got: %s%s", name, strings.Join(texts, ", "), pyStr(val), contextSuffix(context))
	}
	return nil
}

func inChoices(val any, choices []any) bool {
	for _, c := range choices {
		if pyEqual(val, c) {
			return true
		}
	}
	return false
}

// uniqueBooleanChoice finds the one choice in Python's BOOLEANS_TRUE (or
// BOOLEANS_FALSE) set, if there is exactly one.
func uniqueBooleanChoice(truth bool, choices []any) (any, bool) {
	set := append([]string{}, booleansFalse...)
	number := 0
	if truth {
		set, number = booleansTrue, 1
	}
	var found []any
	for _, c := range choices {
		in := pyEqual(c, number)
		for _, s := range set {
			in = in || pyEqual(c, s)
		}
		if in && !inChoices(c, found) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		return nil, false
	}
	return found[0], true
}

func checkDependencies(spec Spec, params map[string]any, context []string) error {
	for _, group := range spec.RequiredTogether {
		n := 0
		for _, k := range group {
			if has(params, k) {
				n++
			}
		}
		if n > 0 && n < len(group) {
			return invalid("parameters are required together: %s%s", strings.Join(group, ", "), contextSuffix(context))
		}
	}
	for _, group := range spec.RequiredOneOf {
		found := false
		for _, k := range group {
			found = found || has(params, k)
		}
		if !found {
			return invalid("one of the following is required: %s%s", strings.Join(group, ", "), contextSuffix(context))
		}
	}
	for _, r := range spec.RequiredIf {
		val, ok := params[r.Key]
		if !ok || !pyEqual(val, r.Value) {
			continue
		}
		var missing []string
		for _, k := range r.Requirements {
			if !has(params, k) {
				missing = append(missing, k)
			}
		}
		if (r.Any && len(missing) == len(r.Requirements) && len(missing) > 0) || (!r.Any && len(missing) > 0) {
			word := "all"
			if r.Any {
				word = "any"
			}
			return invalid("%s is %s but %s of the following are missing: %s%s",
				r.Key, pyStr(canonical(r.Value)), word, strings.Join(missing, ", "), contextSuffix(context))
		}
	}
	keys := make([]string, 0, len(spec.RequiredBy))
	for k := range spec.RequiredBy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if !has(params, key) {
			continue
		}
		var missing []string
		for _, k := range spec.RequiredBy[key] {
			if !has(params, k) {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return invalid("missing parameter(s) required by '%s': %s%s", key, strings.Join(missing, ", "), contextSuffix(context))
		}
	}
	return nil
}

// subOptions validates the sub-options of a dict option, or of each dict of
// a list option, after every check of the parent level, as Ansible does.
func (vr *validator) subOptions(name string, o Option, params map[string]any, context []string, prefix string) error {
	if !o.hasSubOptions() {
		return nil
	}
	val := params[name]
	if val == nil {
		if !o.ApplyDefaults || o.typ() != Dict {
			return nil
		}
		val = map[string]any{}
	}
	subContext := append(context[:len(context):len(context)], name)
	if d, ok := val.(map[string]any); ok {
		sub, _, err := vr.level(o.subSpec(), d, subContext, prefix+name+".")
		params[name] = sub
		return err
	}
	list, _ := val.([]any)
	out := make([]any, len(list))
	for i, e := range list {
		d, ok := e.(map[string]any)
		if !ok {
			return invalid("value of '%s' must be of type dict or list of dicts", name)
		}
		sub, _, err := vr.level(o.subSpec(), d, subContext, fmt.Sprintf("%s%s[%d].", prefix, name, i))
		if err != nil {
			return err
		}
		out[i] = sub
	}
	params[name] = out
	return nil
}

// canonical turns a Go value from a spec (an int64 default, a []string of
// choices) into the shape decoded JSON has, so it compares and converts like
// user input.
func canonical(v any) any {
	switch v.(type) {
	case nil, bool, string, int, float64:
		return v
	}
	if p, err := plain(v); err == nil {
		return p
	}
	return v
}

// pyEqual compares as Python's == does for JSON-shaped values: numbers by
// value (True == 1 == 1.0), strings exactly, lists and dicts deeply.
func pyEqual(a, b any) bool {
	a, b = canonical(a), canonical(b)
	if x, ok := pyNumber(a); ok {
		y, ok := pyNumber(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !pyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !pyEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

func pyNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}
