// Package fielderr is the one typed error for "this option has a value we
// refuse". Domain packages (the guard, the backoff rules, the canary judge,
// the web source) know their options by the names the front ends use, and
// return an *Error naming the field; the top layer (module or CLI) renames
// the field once, with Rename, into its own spelling ("--max-delay" on the
// command line, "retry_policies[1].max_delay_seconds" in a module), and
// never rewrites error text by matching strings.
package fielderr

import "errors"

// Error is a field with a value that is refused. Problem reads after the
// field's name: "must be between 0 and 100, got 120".
type Error struct {
	Field   string
	Problem string
}

func (e *Error) Error() string { return e.Field + " " + e.Problem }

// New returns an *Error for field.
func New(field, problem string) *Error { return &Error{Field: field, Problem: problem} }

// As returns the *Error in err's chain, if there is one.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// Rename describes err with its field renamed by name (which returns the
// field unchanged when it has no other spelling). Text that wraps the *Error
// is dropped, so a position belongs in Field ("metrics[1].direction"), not in
// a wrapper. Errors that are not an *Error come back as their own text.
func Rename(err error, name func(field string) string) string {
	if fe, ok := As(err); ok {
		return name(fe.Field) + " " + fe.Problem
	}
	return err.Error()
}
