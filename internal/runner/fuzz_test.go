package runner

import (
	"slices"
	"strings"
	"testing"
)

// FuzzSplitCommand: SplitCommand never panics; it either fails or returns
// at least one word; and what it returns survives a round trip through
// single quotes (the way a caller would quote the words back).
func FuzzSplitCommand(f *testing.F) {
	for _, c := range splitCases {
		f.Add(c.in)
	}
	for _, s := range []string{"", `'`, `"`, `\`, `"\`, `a "b\"`, "a\x00b", "\xff\xfe", `'a'"b"\c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := SplitCommand(line)
		if err != nil {
			return
		}
		if len(words) == 0 {
			t.Fatalf("SplitCommand(%q) returned no words and no error", line)
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := SplitCommand(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("round trip of %q: %q -> %q, %v", line, words, again, err)
		}
	})
}

// FuzzParseStat: a /proc/PID/stat line of any shape never panics, and an
// accepted one names a real-looking process (the comm field may hold
// anything, parentheses and spaces included).
func FuzzParseStat(f *testing.F) {
	f.Add("4242 (a) (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 200 1\n")
	f.Add("1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 3 100 10 1")
	f.Add("7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0 0")
	f.Add("")
	f.Fuzz(func(t *testing.T, stat string) {
		p, ok := parseStat([]byte(stat))
		if ok && (p.state == 0 || p.state == ' ') {
			t.Fatalf("parseStat(%q) = %+v", stat, p)
		}
	})
}
