package ansiblemod

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsModuleInvocation(t *testing.T) {
	dir := t.TempDir()
	args := filepath.Join(dir, "args")
	// Files named like CLI words, holding JSON, in the working directory:
	// before, `qos_guard status` here ran as a module (issue 10, item 2).
	for _, name := range []string{"args", "status", "lock", "-args"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"state": "locked"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"AnsiballZ_qos_guard", args}, true},
		{[]string{"/home/u/.ansible/tmp/ansible-tmp-1/AnsiballZ_qos_guard", args}, true},
		{[]string{"AnsiballZ_qos_guard"}, true}, // then Run reports the missing args file
		{[]string{"AnsiballZ_qos_guard", "--help"}, true},
		{[]string{"qos_guard", "status"}, false}, // ./status holds JSON: still the CLI
		{[]string{"qos_guard", "lock"}, false},
		{[]string{"qos_guard", "lock", "5"}, false},
		{[]string{"qos_guard", args}, false}, // an args file by path: not how Ansible runs it
		{[]string{"qos_guard", "-args"}, false},
		{[]string{"qos_guard"}, false},
		{[]string{}, false},
		{nil, false},
		{[]string{"qos_guard", "--help"}, false},
		{[]string{"my_AnsiballZ_thing", args}, false},
		{[]string{"/tmp/AnsiballZ_dir/qos_guard", args}, false}, // only the file name counts
	} {
		if got := IsModuleInvocation(c.args); got != c.want {
			t.Errorf("IsModuleInvocation(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
