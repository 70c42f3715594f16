package ansiblemod

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// EnvironmentKey is the argument under which the collection's action plugins
// pass a task's `environment:` to the module, beside its arguments (on stdin,
// or in the args file). Ansible itself prefixes the remote command with
// NAME=value, which puts every value (tokens included) in the argv of the
// remote shell, readable by any local user in ps for the whole run.
// SetEnvironment sets them in the module's process instead, before anything
// reads the environment, so the module and the commands it runs see them as
// before. The key is not a module option and never appears in a result.
const EnvironmentKey = "_threader_guard_environment"

// takeEnvironment removes EnvironmentKey from raw and sets the variables it
// holds: an object of names to string values. A malformed one fails the
// task with a message naming `environment`; nothing is set then.
func takeEnvironment(raw map[string]any) error {
	value, ok := raw[EnvironmentKey]
	if !ok {
		return nil
	}
	delete(raw, EnvironmentKey)
	if value == nil {
		return nil
	}
	vars, ok := value.(map[string]any)
	if !ok {
		return fmt.Errorf("the task's environment must be a mapping of names to strings, got %s", jsonTypeName(value))
	}
	names := make([]string, 0, len(vars))
	for name, v := range vars {
		s, ok := v.(string)
		switch {
		case name == "" || strings.ContainsAny(name, "=\x00"):
			return fmt.Errorf("the task's environment has an invalid variable name %q (empty, or holding = or NUL)", name)
		case !ok:
			return fmt.Errorf("the task's environment variable %s must be a string, got %s", name, jsonTypeName(v))
		case strings.ContainsRune(s, 0):
			return fmt.Errorf("the task's environment variable %s holds a NUL byte", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.Setenv(name, vars[name].(string)); err != nil {
			return fmt.Errorf("cannot set the task's environment variable %s: %v", name, err)
		}
	}
	return nil
}

// jsonTypeName names the JSON type of a decoded value, for messages that
// must not echo the value itself (it may be a secret).
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	default:
		return "a number"
	}
}
