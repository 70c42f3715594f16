package ansiblemod

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// StdinArgsFlag, given after the program name to a multi-call binary
// (`threader-guard qos_guard --ansible-args-stdin`), runs the program as an
// Ansible module whose arguments arrive on stdin. The collection's action
// plugins use it: the arguments, secrets included, then never touch the
// target's disk, and a task costs one remote command.
const StdinArgsFlag = "--ansible-args-stdin"

// maxStdinArgs bounds what RunStdin reads: module arguments are small, and a
// runaway writer must not exhaust the target's memory.
const maxStdinArgs = 64 << 20

// IsStdinInvocation reports whether args (os.Args of a multi-call binary)
// ask for a module run with the arguments on stdin: NAME StdinArgsFlag.
func IsStdinInvocation(args []string) bool {
	return len(args) == 3 && args[2] == StdinArgsFlag
}

// RunStdin runs p as an Ansible module with its arguments read from r: the
// same JSON object Ansible writes to a binary module's args file. It returns
// the exit code, like Run.
//
// The arguments are handed to Run as an anonymous in-memory file
// (memfd_create), so Run's one code path reads them and nothing is written
// to a file system. The descriptor is close-on-exec: commands a module runs
// cannot read it.
func RunStdin(p Program, r io.Reader) int {
	data, err := io.ReadAll(io.LimitReader(r, maxStdinArgs+1))
	switch {
	case err != nil:
		return failNow(fmt.Sprintf("cannot read the module arguments from stdin: %v", err))
	case len(data) > maxStdinArgs:
		return failNow(fmt.Sprintf("the module arguments on stdin exceed %d bytes", maxStdinArgs))
	case !isJSONObject(data):
		return failNow("the module arguments on stdin are not a JSON object")
	}
	path, closeArgs, err := memArgsFile(data)
	if err != nil {
		return failNow(fmt.Sprintf("cannot hold the module arguments in memory: %v", err))
	}
	defer closeArgs()
	return Run(p.Name, p.Spec, p.Handler, []string{p.Name, path})
}

// failNow prints a failed module result when the arguments cannot be read,
// before the runtime (and its masking) can take over. It never echoes input.
func failNow(msg string) int {
	data, _ := json.Marshal(map[string]any{"changed": false, "failed": true, "msg": msg})
	os.Stdout.Write(append(data, '\n'))
	return 1
}
