package httpclient

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// The rule that every request goes through this package is only worth
// something if nothing else makes requests: this test fails when a
// non-test source outside internal/httpclient (and the test environment)
// builds its own HTTP client or uses the net/http conveniences that do.
func TestNoOtherHTTPClientInTheCollection(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(self), "..", ".."))
	forbidden := regexp.MustCompile(`\bhttp\.(Client\s*\{|DefaultClient|DefaultTransport|Transport\s*\{|Get\(|Head\(|Post\(|PostForm\()|\bcleanhttp\.|\bretryablehttp\.`)
	var offenders []string
	for _, dir := range []string{"internal", "cmd", "modules"} {
		filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if d.IsDir() {
				if rel == filepath.Join("internal", "httpclient") || rel == filepath.Join("internal", "testenv") || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for i, line := range strings.Split(string(src), "\n") {
				if forbidden.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
					offenders = append(offenders, rel+":"+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
				}
			}
			return nil
		})
	}
	if len(offenders) > 0 {
		t.Fatalf("HTTP requests must go through internal/httpclient (origin-bound, bounded, retried):\n%s", strings.Join(offenders, "\n"))
	}
}
