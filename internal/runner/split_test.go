package runner

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var splitCases = []struct {
	in   string
	want []string
}{
	{"ls", []string{"ls"}},
	{"  ls   -l\t/tmp \n", []string{"ls", "-l", "/tmp"}},
	{`echo 'a b' "c d"`, []string{"echo", "a b", "c d"}},
	{`echo a'b c'd`, []string{"echo", "ab cd"}},
	{`echo '' ""`, []string{"echo", "", ""}},
	{`echo ''`, []string{"echo", ""}},
	{`echo a\ b`, []string{"echo", "a b"}},
	{`echo \'x\'`, []string{"echo", "'x'"}},
	{`echo \"`, []string{"echo", `"`}},
	{`echo 'it''s'`, []string{"echo", "its"}},
	{`echo "it's"`, []string{"echo", "it's"}},
	{`echo '\n \\ "x"'`, []string{"echo", `\n \\ "x"`}},
	{`echo "a \"b\" \\ \$x \` + "`" + `"`, []string{"echo", "a \"b\" \\ $x `"}},
	{`echo "keep \n and \a"`, []string{"echo", `keep \n and \a`}},
	{"echo a\\\nb", []string{"echo", "ab"}},
	{"echo \"a\\\nb\"", []string{"echo", "ab"}},
	{`echo $HOME ~ * # ; | && > x`, []string{"echo", "$HOME", "~", "*", "#", ";", "|", "&&", ">", "x"}},
	{`ansible-playbook -i inv "site.yml" -e 'version=1.2 env="prod"'`, []string{"ansible-playbook", "-i", "inv", "site.yml", "-e", `version=1.2 env="prod"`}},
	{"héllo 'wörld'", []string{"héllo", "wörld"}},
}

func TestSplitCommand(t *testing.T) {
	for _, c := range splitCases {
		got, err := SplitCommand(c.in)
		if err != nil {
			t.Fatalf("SplitCommand(%q): %v", c.in, err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Fatalf("SplitCommand(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}

// The splitter must agree with a real POSIX shell on every case above.
func TestSplitCommandAgreesWithSh(t *testing.T) {
	for _, c := range splitCases {
		// printf prints each word followed by NUL; $HOME etc. would be
		// expanded by sh, so only compare lines without expansion syntax.
		if strings.ContainsAny(c.in, "$~*#;|&>`") && !strings.Contains(c.in, `\$`) {
			continue
		}
		script := "set -- " + strings.TrimPrefix(strings.TrimLeft(c.in, " \t\n"), "") + "\nprintf '%s\\0' \"$@\""
		out, err := exec.Command("/bin/sh", "-c", script).Output()
		if err != nil {
			t.Fatalf("sh on %q: %v", c.in, err)
		}
		shWords := strings.Split(string(out), "\x00")
		shWords = shWords[:len(shWords)-1]
		got, _ := SplitCommand(c.in)
		if diff := cmp.Diff(shWords, got); diff != "" {
			t.Fatalf("SplitCommand(%q) differs from sh (-sh +ours):\n%s", c.in, diff)
		}
	}
}

func TestSplitCommandErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":             "no command",
		"  \t\n":       "no command",
		`echo 'abc`:    "unterminated single quote starting at offset 5",
		`echo "abc`:    "unterminated double quote starting at offset 5",
		`echo "a\"`:    "unterminated double quote",
		`echo abc\`:    "trailing backslash at offset 8",
		`echo 'a' "b'`: "unterminated double quote starting at offset 9",
	} {
		_, err := SplitCommand(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("SplitCommand(%q): error %v, want %q", in, err, want)
		}
	}
}
