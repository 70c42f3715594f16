// Package ansiblemod is the runtime every module of this collection is built
// on. It mirrors Ansible's own AnsibleModule for compiled modules: it reads the
// JSON args file Ansible passes as argv[1], validates and coerces the options
// against a declarative spec with Ansible's rules and wording, and prints
// exactly one JSON result with no_log values masked — whatever else the module
// code prints, and even when it panics.
//
// A module declares its options once:
//
//	var spec = ansiblemod.Spec{
//		Options: map[string]ansiblemod.Option{
//			"state":   {Type: ansiblemod.Str, Default: "status", Choices: []any{"locked", "unlocked", "status"}},
//			"minutes": {Type: ansiblemod.Int, Default: 15},
//			"token":   {Type: ansiblemod.Str, NoLog: true},
//		},
//		SupportsCheckMode: true,
//	}
//
// and hands a function to Run, which receives the validated options through
// the Module and returns the result fields:
//
//	ansiblemod.Run("qos_guard", spec, func(m *ansiblemod.Module) (ansiblemod.Result, error) { ... })
//
// Messages are ansible-core 2.14's, word for word. Deliberate differences:
//   - int accepts what 2.18 accepts ("42.0", 42.0, "1e3"), with 2.14's message;
//     a JSON true given for an int is 1, not True.
//   - null is absent: the default applies, required fails, fallbacks apply.
//   - options are checked in name order (Ansible: declaration order), which
//     decides which error is reported first when several options are wrong.
//   - a spec whose option looks like a password (PASSWORD_MATCH) must set
//     NoLog or LogSafe; Ansible only warns at run time.
//   - env fallbacks do not fire when an alias was given (no spurious "Both
//     option ... and its alias" warning); alias keys do not reach the handler,
//     and unknown options are dropped under _ansible_ignore_unknown_opts.
//   - a bad string for an option with sub-options fails with the usual
//     "argument 'x' is of type ..." message; 2.14 fails earlier, in its
//     no_log scan, with a message that does not name the option.
//   - every _ansible_* key is ignored, not only the ones 2.14 knows.
//   - non-finite floats in results are sent as "NaN", "Infinity", "-Infinity"
//     (JSON has no such numbers; Python prints them as bare tokens).
//   - float refuses NaN and ±inf ("nan", "inf", .nan, 1e400): no option here
//     means anything by them, and NaN passes every range check. The bare
//     NaN and Infinity words Python's json.dumps writes for them are read,
//     so the refusal names the option.
//   - path refuses text with a NUL byte (Python fails later, in open()).
//   - int refuses numbers of 20 or more digits at once, whatever their
//     length, instead of computing them.
package ansiblemod

import "maps"

// Type names an option type, with Ansible's coercion rules (see Convert).
type Type string

// The option types of Ansible's argument_spec.
const (
	Str   Type = "str"
	Int   Type = "int"
	Float Type = "float"
	Bool  Type = "bool"
	List  Type = "list"
	Dict  Type = "dict"
	Path  Type = "path"
	Raw   Type = "raw"
)

// MergeOptions returns one option map holding every part's options, for a
// spec assembled from shared groups (a backend's connection options beside
// the module's own). A later part's option replaces an earlier one of the
// same name.
func MergeOptions(parts ...map[string]Option) map[string]Option {
	out := map[string]Option{}
	for _, p := range parts {
		maps.Copy(out, p)
	}
	return out
}

// Option declares one module option, as an entry of Ansible's argument_spec.
type Option struct {
	// Type defaults to Str, as in Ansible.
	Type Type
	// Default applies when the option is absent or null. It must not be set
	// together with Required.
	Default any
	// Required fails validation when the option is absent or null.
	Required bool
	// Choices restricts the converted value (each element, for lists).
	Choices []any
	// Aliases are other names accepted for the option; an alias wins over the
	// canonical name when both are given, with a warning, as in Ansible.
	Aliases []string
	// NoLog masks the value everywhere the module reports it: results,
	// errors, warnings and logs.
	NoLog bool
	// NoLogValues, for a Dict option such as an environment, makes its
	// values secrets while its keys stay visible: invocation shows each key
	// with its value masked, and every value of at least MinSecretLen bytes
	// is masked everywhere else, as NoLog values are. Shorter values ("0",
	// "yes", "C") are hidden in invocation only: they hide nothing, and
	// starring them out would garble every number and word of a result.
	NoLogValues bool
	// Elements is the type of each element of a List option.
	Elements Type
	// Options is the sub-spec of a Dict option, or of each element of a List
	// option whose Elements is Dict.
	Options map[string]Option
	// EnvFallback names environment variables consulted, in order, when the
	// option is absent (Ansible's env_fallback). A variable that is set but
	// empty gives "", as in Ansible.
	EnvFallback []string
	// LogSafe declares that an option whose name looks like a secret (such as
	// password_file) holds no secret. Without it, such an option must set
	// NoLog: Ansible only warns (no_log=False silences it); we refuse the spec.
	LogSafe bool

	// ApplyDefaults, for a Dict option with Options, validates an absent
	// option as {} so that its sub-options' defaults apply.
	ApplyDefaults bool
	// MutuallyExclusive, RequiredTogether, RequiredOneOf, RequiredIf and
	// RequiredBy check the sub-options (Options) of this option, as the
	// fields of the same name in Spec do for the module's options.
	MutuallyExclusive [][]string
	RequiredTogether  [][]string
	RequiredOneOf     [][]string
	RequiredIf        []RequiredIf
	RequiredBy        map[string][]string
}

// RequiredIf is one entry of Ansible's required_if: when option Key equals
// Value, the Requirements must be set (all of them, or one of them with Any).
type RequiredIf struct {
	Key          string
	Value        any
	Requirements []string
	Any          bool
}

// Spec is a module's (or a sub-option's) argument spec.
type Spec struct {
	Options           map[string]Option
	MutuallyExclusive [][]string
	RequiredTogether  [][]string
	RequiredOneOf     [][]string
	RequiredIf        []RequiredIf
	// RequiredBy: when the key option is set, each listed option must be too
	// (Ansible's required_by).
	RequiredBy map[string][]string
	// SupportsCheckMode: without it a module is skipped under --check, as
	// Ansible does, instead of making real changes.
	SupportsCheckMode bool
}

// subSpec is the spec of an option's sub-options.
func (o Option) subSpec() Spec {
	return Spec{
		Options:           o.Options,
		MutuallyExclusive: o.MutuallyExclusive,
		RequiredTogether:  o.RequiredTogether,
		RequiredOneOf:     o.RequiredOneOf,
		RequiredIf:        o.RequiredIf,
		RequiredBy:        o.RequiredBy,
	}
}

// hasSubOptions: the option's value (or each element) is validated against
// o.Options, as Ansible does for type dict, and type list with elements dict.
func (o Option) hasSubOptions() bool {
	return o.Options != nil && (o.typ() == Dict || (o.typ() == List && o.Elements == Dict))
}

func (o Option) typ() Type {
	if o.Type == "" {
		return Str
	}
	return o.Type
}
