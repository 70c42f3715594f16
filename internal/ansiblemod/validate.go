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

// validation is the outcome of checking user parameters against a spec.
type validation struct {
	params      map[string]any
	provided    map[string]bool
	warnings    []string
	noLogValues []string
}

// validate runs Ansible's validation steps in Ansible's order and stops at
// the first error, which is the one Ansible reports.
func validate(moduleName string, spec Spec, raw map[string]any, context []string, ignoreUnknown bool) (*validation, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	v := &validation{params: map[string]any{}, provided: map[string]bool{}}
	for k, val := range raw {
		if val != nil {
			v.params[k] = val
		}
	}
	v.applyEnvFallbacks(spec)
	v.resolveAliases(spec, context)
	v.collectNoLog(spec)
	if err := unsupported(moduleName, spec, v.params, context); err != nil {
		if !ignoreUnknown {
			return nil, err
		}
		v.dropUnknown(spec)
	}
	for _, group := range spec.MutuallyExclusive {
		if err := checkMutuallyExclusive(group, v.params, context); err != nil {
			return nil, err
		}
	}
	for name := range v.params {
		v.provided[name] = true
	}
	for _, name := range optionNames(spec) {
		if _, ok := v.params[name]; !ok && spec.Options[name].Default != nil {
			v.params[name] = spec.Options[name].Default
		}
	}
	if err := checkRequired(spec, v.params, context); err != nil {
		return nil, err
	}
	for _, name := range optionNames(spec) {
		if err := v.convert(moduleName, name, spec.Options[name], context); err != nil {
			return nil, err
		}
	}
	for _, name := range optionNames(spec) {
		if err := checkChoices(name, spec.Options[name], v.params, context); err != nil {
			return nil, err
		}
	}
	if err := checkDependencies(spec, v.params, context); err != nil {
		return nil, err
	}
	v.collectNoLog(spec) // again: defaults and converted values may be secrets too
	for _, name := range optionNames(spec) {
		if _, ok := v.params[name]; !ok {
			v.params[name] = nil
		}
	}
	return v, nil
}

var passwordLike = regexp.MustCompile(`(?i)^(?:.+[-_\s])?pass(?:[-_\s]?(?:word|phrase|wrd|wd)?)(?:[-_\s].+)?$`)

// checkSpec catches programming errors in a module's spec.
func checkSpec(spec Spec) error {
	for name, o := range spec.Options {
		if o.Required && o.Default != nil {
			return fmt.Errorf("internal error: required and default are mutually exclusive for %s", name)
		}
		if o.Elements != "" && o.typ() != List {
			return fmt.Errorf("internal error: elements is only supported with type list, for option %s", name)
		}
		if passwordLike.MatchString(name) && !o.NoLog {
			return fmt.Errorf("internal error: option %s looks like a secret but does not set NoLog", name)
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

func (v *validation) applyEnvFallbacks(spec Spec) {
	for _, name := range optionNames(spec) {
		o := spec.Options[name]
		if _, ok := v.params[name]; ok || v.anyAliasSet(o) {
			continue
		}
		for _, env := range o.EnvFallback {
			if val, ok := os.LookupEnv(env); ok {
				v.params[name] = val
				break
			}
		}
	}
}

func (v *validation) anyAliasSet(o Option) bool {
	for _, a := range o.Aliases {
		if _, ok := v.params[a]; ok {
			return true
		}
	}
	return false
}

func (v *validation) resolveAliases(spec Spec, context []string) {
	for _, name := range optionNames(spec) {
		for _, alias := range spec.Options[name].Aliases {
			val, ok := v.params[alias]
			if !ok {
				continue
			}
			if _, both := v.params[name]; both {
				v.warnings = append(v.warnings, fmt.Sprintf("Both option %s and its alias %s are set.", withContext(name, context), alias))
			}
			v.params[name] = val
			delete(v.params, alias)
		}
	}
}

func withContext(name string, context []string) string {
	return strings.Join(append(append([]string{}, context...), name), ".")
}

func (v *validation) collectNoLog(spec Spec) {
	for name, o := range spec.Options {
		if val, ok := v.params[name]; ok && o.NoLog {
			v.noLogValues = append(v.noLogValues, leafStrings(val)...)
		}
	}
}

// leafStrings lists the string forms of every scalar inside a value.
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

func unsupported(moduleName string, spec Spec, params map[string]any, context []string) error {
	known := map[string]bool{}
	var names, aliases []string
	for name, o := range spec.Options {
		known[name] = true
		names = append(names, name)
		for _, a := range o.Aliases {
			known[a] = true
			aliases = append(aliases, a)
		}
	}
	var bad []string
	for k := range params {
		if !known[k] && !strings.HasPrefix(k, "_ansible_") {
			bad = append(bad, withContext(k, context))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	sort.Strings(names)
	sort.Strings(aliases)
	supported := strings.Join(names, ", ")
	if len(aliases) > 0 {
		supported += " (" + strings.Join(aliases, ", ") + ")"
	}
	return invalid("Unsupported parameters for (%s) module: %s. Supported parameters include: %s.",
		moduleName, strings.Join(bad, ", "), supported)
}

func contextSuffix(context []string) string {
	if len(context) == 0 {
		return ""
	}
	return " found in " + strings.Join(context, " -> ")
}

func checkMutuallyExclusive(group []string, params map[string]any, context []string) error {
	count := 0
	for _, k := range group {
		if _, ok := params[k]; ok {
			count++
		}
	}
	if count > 1 {
		return invalid("parameters are mutually exclusive: %s%s", strings.Join(group, "|"), contextSuffix(context))
	}
	return nil
}

func checkRequired(spec Spec, params map[string]any, context []string) error {
	var missing []string
	for name, o := range spec.Options {
		if _, ok := params[name]; o.Required && !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return invalid("missing required arguments: %s%s", strings.Join(missing, ", "), contextSuffix(context))
}

func (v *validation) convert(moduleName, name string, o Option, context []string) error {
	val, ok := v.params[name]
	if !ok {
		return nil
	}
	converted, err := Convert(o.typ(), val)
	if err != nil {
		return invalid("argument '%s' is of type %s%s and we were unable to convert to %s: %s",
			name, pyType(val), typeContext(context), o.typ(), err)
	}
	if o.Elements != "" {
		converted, err = v.convertElements(moduleName, name, o, converted.([]any), context)
		if err != nil {
			return err
		}
	} else if o.typ() == Dict && o.Options != nil {
		sub, err := v.validateSub(moduleName, name, o, converted, context)
		if err != nil {
			return err
		}
		converted = sub
	}
	v.params[name] = converted
	return nil
}

func typeContext(context []string) string {
	if len(context) == 0 {
		return ""
	}
	return " found in '" + strings.Join(context, " -> ") + "'."
}

func (v *validation) convertElements(moduleName, name string, o Option, list []any, context []string) ([]any, error) {
	out := make([]any, len(list))
	for i, e := range list {
		c, err := Convert(o.Elements, e)
		if err != nil {
			return nil, invalid("Elements value for option '%s'%s is of type %s and we were unable to convert to %s: %s",
				name, typeContext(context), pyType(e), o.Elements, err)
		}
		if o.Elements == Dict && o.Options != nil {
			if c, err = v.validateSub(moduleName, name, o, c, context); err != nil {
				return nil, err
			}
		}
		out[i] = c
	}
	return out, nil
}

func (v *validation) validateSub(moduleName, name string, o Option, val any, context []string) (map[string]any, error) {
	sub, err := validate(moduleName, o.subSpec(), val.(map[string]any), append(append([]string{}, context...), name), false)
	if err != nil {
		return nil, err
	}
	v.warnings = append(v.warnings, sub.warnings...)
	v.noLogValues = append(v.noLogValues, sub.noLogValues...)
	return sub.params, nil
}

func checkChoices(name string, o Option, params map[string]any, context []string) error {
	val, ok := params[name]
	if !ok || o.Choices == nil {
		return nil
	}
	choices := make([]string, len(o.Choices))
	for i, c := range o.Choices {
		choices[i] = pyStr(c)
	}
	if list, isList := val.([]any); isList {
		var miss []string
		for _, e := range list {
			if !inChoices(e, o.Choices) {
				miss = append(miss, pyStr(e))
			}
		}
		if len(miss) > 0 {
			return invalid("value of %s must be one or more of: %s. Got no match for: %s%s",
				name, strings.Join(choices, ", "), strings.Join(miss, ", "), contextSuffix(context))
		}
		return nil
	}
	if !inChoices(val, o.Choices) {
		return invalid("value of %s must be one of: %s, got: %s%s", name, strings.Join(choices, ", "), pyStr(val), contextSuffix(context))
	}
	return nil
}

func inChoices(val any, choices []any) bool {
	for _, c := range choices {
		if pyStr(normalize(c)) == pyStr(normalize(val)) {
			return true
		}
	}
	return false
}

func checkDependencies(spec Spec, params map[string]any, context []string) error {
	has := func(k string) bool { _, ok := params[k]; return ok }
	for _, group := range spec.RequiredTogether {
		n := 0
		for _, k := range group {
			if has(k) {
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
			found = found || has(k)
		}
		if !found {
			return invalid("one of the following is required: %s%s", strings.Join(group, ", "), contextSuffix(context))
		}
	}
	for _, r := range spec.RequiredIf {
		val, ok := params[r.Key]
		if !ok || pyStr(normalize(val)) != pyStr(normalize(r.Value)) {
			continue
		}
		var missing []string
		for _, k := range r.Requirements {
			if !has(k) {
				missing = append(missing, k)
			}
		}
		if (r.Any && len(missing) == len(r.Requirements)) || (!r.Any && len(missing) > 0) {
			word := "all"
			if r.Any {
				word = "any"
			}
			return invalid("%s is %s but %s of the following are missing: %s%s", r.Key, pyStr(val), word, strings.Join(missing, ", "), contextSuffix(context))
		}
	}
	return nil
}

func (v *validation) dropUnknown(spec Spec) {
	for k := range v.params {
		if _, ok := spec.Options[k]; !ok {
			delete(v.params, k)
		}
	}
}
