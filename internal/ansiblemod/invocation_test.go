package ansiblemod

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsModuleInvocation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := write("args", `{"state": "locked"}`)
	spaced := write("spaced", "\n  \t{\"a\": 1}")
	big := write("big", `{"pad": "`+strings.Repeat("x", 1<<20)+`"}`)
	text := write("status", "not json")
	write("-args", `{}`)
	t.Chdir(dir) // so that "-args" names that file
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"AnsiballZ_qos_guard", args}, true},
		{[]string{"/home/u/.ansible/tmp/ansible-tmp-1/AnsiballZ_qos_guard", args}, true},
		{[]string{"AnsiballZ_qos_guard"}, true}, // then Run reports the missing args file
		{[]string{"AnsiballZ_qos_guard", "--help"}, true},
		{[]string{"qos_guard", args}, true},
		{[]string{"qos_guard", spaced}, true},
		{[]string{"qos_guard", big}, true},
		{[]string{"qos_guard"}, false},
		{[]string{}, false},
		{nil, false},
		{[]string{"qos_guard", "--help"}, false},
		{[]string{"qos_guard", "-h"}, false},
		{[]string{"qos_guard", "status"}, false},          // no such file here
		{[]string{"qos_guard", text}, false},              // a file, but not JSON
		{[]string{"qos_guard", dir}, false},               // a directory
		{[]string{"qos_guard", "/dev/null"}, false},       // not a regular file
		{[]string{"qos_guard", args, "--verbose"}, false}, // CLI-shaped
		{[]string{"qos_guard", "lock", "--minutes=5"}, false},
		{[]string{"qos_guard", "-args"}, false}, // looks like a flag, even if such a file exists
		{[]string{"my_AnsiballZ_thing", args, "x"}, false},
	} {
		if got := IsModuleInvocation(c.args); got != c.want {
			t.Errorf("IsModuleInvocation(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
