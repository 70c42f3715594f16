package ansiblemod

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Program is one module of the collection: its Ansible side (Spec and
// Handler) and its command-line side (CLI), which share the domain logic.
type Program struct {
	Name string
	// LegacyNames are the old scripts' names the CLI also answers to by
	// argv[0] (qos_guard.sh), so a pipeline that calls the old path runs it
	// unchanged once cli_tools has linked that name to the program.
	LegacyNames []string
	Spec        Spec
	Handler     Handler
	// CLI runs the command-line tool with the arguments after the program
	// name and returns the exit code.
	CLI func(args []string) int
}

// Main runs p as an Ansible module or as a command-line tool, whichever way
// it was invoked, and exits.
func Main(p Program) {
	if IsModuleInvocation(os.Args) {
		os.Exit(Run(p.Name, p.Spec, p.Handler, os.Args))
	}
	os.Exit(p.CLI(os.Args[1:]))
}

// MultiMain runs one of several programs linked into one binary, chosen by
// the name it was invoked as (argv[0], without an AnsiballZ_ prefix, or one
// of a program's LegacyNames), or by its first argument: `threader-guard
// qos_guard status`.
func MultiMain(programs ...Program) {
	os.Exit(multi(programs, os.Args))
}

func multi(programs []Program, args []string) int {
	byName := map[string]Program{}
	var names []string
	for _, p := range programs {
		byName[p.Name] = p
		names = append(names, p.Name)
	}
	invokedAs := strings.TrimPrefix(filepath.Base(args[0]), "AnsiballZ_")
	if p, ok := byName[invokedAs]; ok {
		return runProgram(p, args)
	}
	if p, ok := byLegacyName(programs, filepath.Base(args[0])); ok {
		return p.CLI(args[1:]) // the old scripts were never Ansible modules
	}
	if len(args) > 1 {
		if p, ok := byName[args[1]]; ok {
			return runProgram(p, append([]string{args[1]}, args[2:]...))
		}
	}
	fmt.Fprintf(os.Stderr, "usage: %s PROGRAM [args...]\nprograms: %s\n", filepath.Base(args[0]), strings.Join(names, ", "))
	return 2
}

func runProgram(p Program, args []string) int {
	if IsModuleInvocation(args) {
		return Run(p.Name, p.Spec, p.Handler, args)
	}
	return p.CLI(args[1:])
}

// byLegacyName finds the program that replaces the old script called name.
func byLegacyName(programs []Program, name string) (Program, bool) {
	for _, p := range programs {
		for _, legacy := range p.LegacyNames {
			if legacy == name {
				return p, true
			}
		}
	}
	return Program{}, false
}
