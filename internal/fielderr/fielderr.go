// Package fielderr is the one typed error for "this option has a value we
// refuse". Domain packages (the guard, the backoff rules, the canary judge,
// the web source) know their options by the names the front ends use, and
// return an *Error naming the field; the top layer (module or CLI) renames
// the field once, with Rename, into its own spelling ("--max-delay" on the
// command line, "retry_policies[1].max_delay_seconds" in a module), and
// never rewrites error text by matching strings.
package fielderr

import (
	"errors"
	"fmt"
)

// Error is a field with a value that is refused. Problem reads after the
// field's name: "must be between 0 and 100, got 120".
//
// When the problem names a second field ("password is required with
// username"), Other is that field and Problem holds one %s where its name
// goes, so Rename spells both fields the caller's way; a caller that needs
// the field and the problem apart reads them from Renamed, not from
// Problem. Without Other, Problem is plain text (a % in it is just a %).
type Error struct {
	Field   string
	Problem string
	Other   string
}

func (e *Error) Error() string {
	return e.Renamed(func(field string) string { return field }).describe()
}

func (e *Error) describe() string { return e.Field + " " + e.Problem }

// Renamed is e with its fields renamed by name and Other, if any, written
// into Problem: an *Error without Other.
func (e *Error) Renamed(name func(field string) string) *Error {
	problem := e.Problem
	if e.Other != "" {
		problem = fmt.Sprintf(problem, name(e.Other))
	}
	return &Error{Field: name(e.Field), Problem: problem}
}

// New returns an *Error for field.
func New(field, problem string) *Error { return &Error{Field: field, Problem: problem} }

// Errorf returns an *Error for field with a formatted problem.
func Errorf(field, format string, args ...any) *Error {
	return &Error{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// WithOther returns an *Error whose problem names other where format has
// its one %s ("is required with %s").
func WithOther(field, format, other string) *Error {
	return &Error{Field: field, Problem: format, Other: other}
}

// As returns the *Error in err's chain, if there is one.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// Rename describes err with its fields renamed by name (which returns the
// field unchanged when it has no other spelling). Text that wraps the *Error
// is dropped, so a position belongs in Field ("metrics[1].direction"), not in
// a wrapper. Errors that are not an *Error come back as their own text.
func Rename(err error, name func(field string) string) string {
	if fe, ok := As(err); ok {
		return fe.Renamed(name).describe()
	}
	return err.Error()
}

// Names is a name function for Rename from a map: the field's spelling in
// names, or the field itself when names has none.
func Names(names map[string]string) func(field string) string {
	return func(field string) string {
		if name, ok := names[field]; ok {
			return name
		}
		return field
	}
}
