package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// CleanBinaryCache runs a test binary's tests and then removes the entries
// they added to the action plugins' default binary cache in this user's home
// (~/.cache/threader.guard/<sha256>), leaving entries that were there before.
// HOME itself cannot be swapped for the tests: ansible-core resolves remote
// paths such as ~/.ansible_async with the user's real home.
func CleanBinaryCache(m *testing.M) int {
	home, err := os.UserHomeDir()
	if err != nil {
		return m.Run()
	}
	cache := filepath.Join(home, ".cache", "threader.guard")
	before := map[string]bool{}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		before[e.Name()] = true
	}
	code := m.Run()
	entries, _ = os.ReadDir(cache)
	for _, e := range entries {
		if !before[e.Name()] {
			os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
	if len(before) == 0 {
		os.Remove(cache) // only if empty
	}
	return code
}
