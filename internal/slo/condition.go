package slo

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Condition is a compiled success or failure condition: an expression in
// the expr-lang/expr language (the one Argo Rollouts uses) over result, the
// list of every sample value of the answer in the order the server sent
// them (so result[0] <= 0.01 works as written, and all(result, {# <= 0.01})
// checks every series). result holds NaN and ±Inf as they came; the helpers
// isNaN(x), isInf(x) and default(x, fallback) (fallback when x is nil or
// NaN) deal with them. A NaN or ±Inf in result never passes a check (nor
// leaves it inconclusive) through conditions that do not call one of these
// helpers: "NaN > 0.01" is false, so Argo's lone failure condition passes
// a NaN; here that check is PhaseError, since it measured nothing.
//
// An expression is compiled once, when the check is built, and must be
// boolean: a syntax error, an unknown name or a non-boolean expression is a
// configuration error. An expression that fails while it runs (result[0] on
// an empty answer) makes the check's phase PhaseError: a gate that cannot
// measure does not pass.
type Condition struct {
	text    string
	program *vm.Program
	// asksNonFinite: the expression calls isNaN, isInf or default, so it
	// says what NaN or ±Inf means (see judgeConditions).
	asksNonFinite bool
}

// conditionEnv is the expressions' environment: its shape is checked at
// compile time, so a misspelt name (reslt) is a configuration error.
type conditionEnv struct {
	Result []float64 `expr:"result"`
}

var conditionOptions = []expr.Option{
	expr.Env(conditionEnv{}),
	expr.AsBool(),
	expr.Function("isNaN", func(args ...any) (any, error) {
		v, err := oneFloat("isNaN", args)
		return math.IsNaN(v), err
	}, new(func(float64) bool)),
	expr.Function("isInf", func(args ...any) (any, error) {
		v, err := oneFloat("isInf", args)
		return math.IsInf(v, 0), err
	}, new(func(float64) bool)),
	expr.Function("default", func(args ...any) (any, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("default takes 2 arguments, got %d", len(args))
		}
		if f, ok := args[0].(float64); args[0] == nil || (ok && math.IsNaN(f)) {
			return args[1], nil
		}
		return args[0], nil
	}),
}

func oneFloat(name string, args []any) (float64, error) {
	if len(args) != 1 {
		return 0, fmt.Errorf("%s takes 1 argument, got %d", name, len(args))
	}
	switch v := args[0].(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	}
	return 0, fmt.Errorf("%s wants a number, got %T", name, args[0])
}

// CompileCondition compiles text. The error says what is wrong with the
// expression, on one line; the caller names the option.
func CompileCondition(text string) (*Condition, error) {
	if strings.TrimSpace(text) == "" {
		return nil, errors.New("is empty")
	}
	program, err := expr.Compile(text, conditionOptions...)
	if err != nil {
		return nil, fmt.Errorf("is not a valid boolean expression over result: %s", oneLineText(err.Error()))
	}
	return &Condition{text: text, program: program, asksNonFinite: callsAny(program.Node(), "isNaN", "isInf", "default")}, nil
}

// callsAny reports whether the expression calls one of the functions.
func callsAny(root ast.Node, names ...string) bool {
	v := &callFinder{names: names}
	ast.Walk(&root, v)
	return v.found
}

type callFinder struct {
	names []string
	found bool
}

func (f *callFinder) Visit(node *ast.Node) {
	if call, ok := (*node).(*ast.CallNode); ok {
		if id, ok := call.Callee.(*ast.IdentifierNode); ok && slices.Contains(f.names, id.Value) {
			f.found = true
		}
	}
}

// MustCondition is CompileCondition for expressions known to be valid
// (tests, built-in checks); it panics on an invalid one.
func MustCondition(text string) *Condition {
	c, err := CompileCondition(text)
	if err != nil {
		panic(fmt.Sprintf("condition %q %v", text, err))
	}
	return c
}

// String returns the expression as written.
func (c *Condition) String() string { return c.text }

// holds evaluates the condition over values. An error means it could not be
// evaluated (an index out of range, a type error at run time).
func (c *Condition) holds(values []float64) (ok bool, err error) {
	defer func() { // expr recovers its own panics; this is a last line
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("%v", r)
		}
	}()
	if values == nil {
		values = []float64{}
	}
	out, err := expr.Run(c.program, conditionEnv{Result: values})
	if err != nil {
		return false, errors.New(oneLineText(err.Error()))
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("returned %T, not a boolean", out)
	}
	return b, nil
}

func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }
